// SPDX-License-Identifier: GPL-2.0
/* test_clock_jump.c — wall-clock jumps: the watch that notices them, the
 * plan's answer to a certificate that starts in the future, random jumps
 * over a year of ticks (no rotation loop, never a certificate invalid at
 * the current time), and the cert_rotation_failed record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/log.h"
#include "pki/pki.h"
#include "pki/rotalert.h"
#include "testpki.h"

static char *dir;

struct logcap {
	int jumps;
	char last[512];
};

static void sink(int level, const char *line, void *arg)
{
	struct logcap *lc = arg;

	(void)level;
	if (strstr(line, "wall clock jumped")) {
		lc->jumps++;
		snprintf(lc->last, sizeof(lc->last), "%s", line);
	}
}

static void setup(void)
{
	dir = tp_tmpdir();
	clock_set_offset(0);
	log_set_level(LOG_LVL_WARN);
	tp_fast_keygen();
	rotalert_reset();
}

static void teardown(void)
{
	atomicfile_fault_arm(0);
	clock_reset();
	log_set_sink(NULL, NULL);
	pki_set_keygen(NULL, NULL);
	rotalert_reset();
	tp_rmrf(dir);
	free(dir);
}

TestSuite(clock_jump, .init = setup, .fini = teardown);

struct seen {
	int calls;
	time_t jump;
};

static void on_jump(void *arg, time_t jump)
{
	struct seen *s = arg;

	s->calls++;
	s->jump = jump;
}

Test(clock_jump, watch_sees_forward_and_backward_jumps_not_small_steps)
{
	struct seen s = {0};
	struct logcap lc = {0};
	struct clock_watch *w = clock_watch_new(NULL, on_jump, &s);

	cr_assert_not_null(w);
	log_set_sink(sink, &lc);
	cr_expect_eq(clock_watch_poll(w), 0);
	clock_advance(CLOCK_JUMP_MIN - 2);		/* NTP-sized: not a jump */
	cr_expect_eq(clock_watch_poll(w), 0);
	cr_expect_eq(s.calls, 0);

	clock_advance(31 * DAY);
	time_t j = clock_watch_poll(w);
	cr_expect(j >= 31 * DAY - 2 && j <= 31 * DAY + 2, "jump %lld", (long long)j);
	cr_expect_eq(s.calls, 1);
	cr_expect_eq(s.jump, j);
	cr_expect_eq(lc.jumps, 1);
	cr_expect(strstr(lc.last, "wall clock jumped +31 d; re-planning certificate rotation"),
		  "%s", lc.last);
	cr_expect_eq(clock_watch_poll(w), 0, "seen once");

	clock_advance(-40 * DAY);
	j = clock_watch_poll(w);
	cr_expect(j <= -40 * DAY + 2 && j >= -40 * DAY - 2, "jump %lld", (long long)j);
	cr_expect_eq(s.calls, 2);
	cr_expect(strstr(lc.last, "jumped -40 d"), "%s", lc.last);
	clock_watch_free(w);
}

Test(clock_jump, two_watches_log_one_jump_once_and_both_hear_it)
{
	struct seen a = {0}, b = {0};
	struct logcap lc = {0};
	struct clock_watch *wa = clock_watch_new(NULL, on_jump, &a);
	struct clock_watch *wb = clock_watch_new(NULL, on_jump, &b);

	log_set_sink(sink, &lc);
	clock_advance(2 * DAY);
	cr_expect_neq(clock_watch_poll(wa), 0);
	cr_expect_neq(clock_watch_poll(wb), 0);
	cr_expect_eq(a.calls, 1);
	cr_expect_eq(b.calls, 1);
	cr_expect_eq(lc.jumps, 1, "logged %d times", lc.jumps);
	clock_advance(-2 * DAY);	/* and back: a new jump, logged again */
	cr_expect_neq(clock_watch_poll(wb), 0);
	cr_expect_neq(clock_watch_poll(wa), 0);
	cr_expect_eq(lc.jumps, 2);
	clock_watch_free(wa);
	clock_watch_free(wb);
}

Test(clock_jump, jump_strings)
{
	char b[48];

	clock_jump_str(31 * DAY, b, sizeof(b));
	cr_expect_str_eq(b, "+31 d");
	clock_jump_str(-(2 * DAY + 3 * 3600 + 59), b, sizeof(b));
	cr_expect_str_eq(b, "-2 d 3 h");
	clock_jump_str(-180, b, sizeof(b));
	cr_expect_str_eq(b, "-3 min 0 s");
	clock_jump_str(45, b, sizeof(b));
	cr_expect_str_eq(b, "+45 s");
	clock_jump_str(5 * 3600 + 60, b, sizeof(b));
	cr_expect_str_eq(b, "+5 h 1 min");
	clock_jump_str(31 * DAY - 1, b, sizeof(b));	/* clocks read apart */
	cr_expect_str_eq(b, "+31 d");
	clock_jump_str(-(31 * DAY + 1), b, sizeof(b));
	cr_expect_str_eq(b, "-31 d");
	clock_jump_str(-(2 * DAY - 180), b, sizeof(b));
	cr_expect_str_eq(b, "-2 d");
	clock_jump_str(DAY - 1, b, sizeof(b));
	cr_expect_str_eq(b, "+1 d");
	clock_jump_str(3600 - 1, b, sizeof(b));
	cr_expect_str_eq(b, "+1 h 0 min");
}

static void dates_issued(struct pki_plane_dates d[PKI_NPLANES], time_t issued)
{
	memset(d, 0, PKI_NPLANES * sizeof(*d));
	for (int i = 0; i < PKI_NPLANES; i++) {
		d[i].internal = true;
		d[i].source = PKI_SRC_INTERNAL;
		d[i].int_not_before = issued - PKI_BACKDATE_SECS;
		d[i].int_not_after = issued + PKI_NODE_DAYS * DAY;
	}
}

Test(clock_jump, plan_reissues_a_certificate_that_starts_in_the_future_once)
{
	struct pki_plane_dates d[PKI_NPLANES];
	struct pki_plan p;

	dates_issued(d, T0);
	/* Back by less than the back-dating: still valid, nothing to do. */
	pki_plan(d, T0 - PKI_BACKDATE_SECS + 1, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_NONE);
	pki_plan(d, T0 - 180, &p);
	cr_expect_eq(p.plane[1].action, PKI_ACT_NONE);
	/* Back by 2 days: notBefore is ahead, every verifier on this clock
	 * would refuse it -> re-issue. */
	pki_plan(d, T0 - 2 * DAY, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_ROTATE);
	cr_expect_eq(p.plane[1].action, PKI_ACT_ROTATE);
	cr_expect_eq(p.alert, PKI_ALERT_NONE, "not expired, not expiring");
	/* The re-issued one starts before now: settled. */
	dates_issued(d, T0 - 2 * DAY);
	pki_plan(d, T0 - 2 * DAY, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_NONE);
	/* Alerts follow the current clock: the same certificate seen 50
	 * days later is expiring, 91 days later expired. */
	pki_plan(d, T0 + 48 * DAY, &p);
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_EXPIRING);
	pki_plan(d, T0 + 89 * DAY, &p);
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_EXPIRED);
}

/* A year of 6-hourly ticks on a clock that also jumps at random (forward
 * up to 100 days, back up to 60): after every tick the served certificates
 * are valid at the current time, there is at most one rotation per tick
 * (no loop), and a quiet stretch after a jump never rotates. */
Test(clock_jump, random_jumps_over_a_year_never_loop_or_leave_invalid_certs)
{
	struct pki_state *st = NULL;
	struct pki_err err;
	struct pki_plan plan;
	char path[512];
	time_t now = T0;
	uint64_t gen;
	int rotations = 0, jumps = 0;

	clock_set_fixed(T0);
	snprintf(path, sizeof(path), "%s/s", dir);
	cr_assert_eq(pki_state_create(path, 1, "node-1", T0, &st, &err), 0, "%s", err.msg);
	srandom(8);
	for (int tick = 0; tick < 4 * 365; tick++) {
		struct pki_plane_dates d[PKI_NPLANES];

		now += 6 * 3600;
		if (random() % 20 == 0) {
			now += (time_t)(random() % (160 * DAY)) - 60 * DAY;
			jumps++;
		}
		gen = pki_state_generation(st);
		cr_assert_eq(pki_state_tick(st, now, &plan, &err), 0, "%s", err.msg);
		if (pki_state_generation(st) != gen)
			rotations++;
		pki_state_dates(st, d);
		for (int i = 0; i < PKI_NPLANES; i++) {
			cr_assert_leq(d[i].int_not_before, now, "tick %d: starts in the future", tick);
			cr_assert_gt(d[i].int_not_after, now, "tick %d: expired", tick);
			cr_assert_lt(now - d[i].int_not_before, (time_t)PKI_ROTATE_AGE_DAYS * DAY,
				     "tick %d: older than the rotation age", tick);
		}
		cr_assert_eq(plan.plane[0].action, PKI_ACT_NONE, "tick %d left work", tick);
		cr_assert_eq(plan.alert, PKI_ALERT_NONE, "tick %d: alert", tick);
		/* the same instant again: nothing more to do */
		gen = pki_state_generation(st);
		cr_assert_eq(pki_state_tick(st, now, &plan, &err), 0);
		cr_assert_eq(pki_state_generation(st), gen, "tick %d: rotated twice", tick);
	}
	cr_expect_gt(jumps, 30);
	/* 365 days / 30 plus at most one per jump */
	cr_expect_leq(rotations, 13 + jumps, "%d rotations, %d jumps", rotations, jumps);
	cr_expect_geq(rotations, 12);
	pki_state_free(st);
}

Test(clock_jump, failed_rotation_alert_stands_until_the_certificate_changes)
{
	struct pki_state *st = NULL;
	struct pki_err err;
	struct pki_plan plan;
	char path[512], msg[512];
	time_t due = T0 + 31 * DAY;

	snprintf(path, sizeof(path), "%s/s", dir);
	cr_assert_eq(pki_state_create(path, 1, "node-1", T0, &st, &err), 0, "%s", err.msg);
	cr_expect_not(rotalert_get(st, PKI_PLANE_CP, msg, sizeof(msg)));

	atomicfile_fault_arm(1);	/* the state write fails */
	cr_assert_lt(pki_state_tick(st, due, &plan, &err), 0);
	rotalert_tick_failed(st, due, err.msg);
	cr_expect(rotalert_get(st, PKI_PLANE_CP, msg, sizeof(msg)));
	cr_expect(strstr(msg, "cp: certificate rotation failed: "), "%s", msg);
	cr_expect(strstr(msg, err.msg), "%s lacks %s", msg, err.msg);
	cr_expect(rotalert_get(st, PKI_PLANE_DP, msg, sizeof(msg)));
	/* Nothing changed: still standing at the next look. */
	cr_expect(rotalert_get(st, PKI_PLANE_DP, NULL, 0));

	atomicfile_fault_arm(0);
	cr_assert_eq(pki_state_tick(st, due, &plan, &err), 0, "%s", err.msg);
	cr_expect_not(rotalert_get(st, PKI_PLANE_CP, msg, sizeof(msg)), "cleared by the rotation");
	cr_expect_not(rotalert_get(st, PKI_PLANE_DP, msg, sizeof(msg)));

	/* A plane-specific failure marks only that plane. */
	rotalert_set(st, PKI_PLANE_DP, "primary node %u unreachable", 3u);
	cr_expect_not(rotalert_get(st, PKI_PLANE_CP, NULL, 0));
	cr_expect(rotalert_get(st, PKI_PLANE_DP, msg, sizeof(msg)));
	cr_expect_str_eq(msg, "dp: certificate rotation failed: primary node 3 unreachable; retrying");
	pki_state_free(st);
}
