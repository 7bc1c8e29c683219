// SPDX-License-Identifier: GPL-2.0
/* test_pki_plan.c — the pure rotation/alert/fallback policy, including
 * schedules over simulated months. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pki/pki.h"
#include "testpki.h"

static void internal_at(struct pki_plane_dates *d, time_t issued)
{
	d->internal = true;
	d->int_not_before = issued - PKI_BACKDATE_SECS;
	d->int_not_after = issued + 90 * DAY;
	if (d->source == PKI_SRC_NONE)
		d->source = PKI_SRC_INTERNAL;
}

static void both_internal(struct pki_plane_dates d[2], time_t issued)
{
	memset(d, 0, 2 * sizeof(*d));
	internal_at(&d[0], issued);
	internal_at(&d[1], issued);
}

Test(pki_plan, fresh_certificates_need_nothing)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;

	both_internal(d, T0);
	pki_plan(d, T0, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_NONE);
	cr_expect_eq(p.plane[1].action, PKI_ACT_NONE);
	cr_expect_eq(p.alert, PKI_ALERT_NONE);
	cr_expect_str_empty(p.plane[0].message);
	cr_expect_eq(p.next, T0 + DAY, "re-plan at least daily");
	pki_plan(d, T0 + 29 * DAY + 12 * 3600, &p);
	cr_expect_eq(p.next, T0 - PKI_BACKDATE_SECS + 30 * DAY, "next = rotation time");
}

Test(pki_plan, rotate_at_thirty_days)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;
	time_t due = T0 - PKI_BACKDATE_SECS + 30 * DAY;

	both_internal(d, T0);
	pki_plan(d, due - 1, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_NONE);
	pki_plan(d, due, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_ROTATE);
	cr_expect_eq(p.plane[1].action, PKI_ACT_ROTATE);
	cr_expect_eq(p.alert, PKI_ALERT_NONE, "60 days left is no alert");
	cr_expect_str_eq(pki_action_str(p.plane[0].action), "rotate");
}

Test(pki_plan, alert_under_45_days_then_expired)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;
	time_t na = T0 + 90 * DAY;

	both_internal(d, T0);
	pki_plan(d, na - 45 * DAY, &p);
	cr_expect_eq(p.alert, PKI_ALERT_NONE, "exactly 45 days left");
	pki_plan(d, na - 45 * DAY + 1, &p);
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_EXPIRING);
	cr_expect_eq(p.alert, PKI_ALERT_EXPIRING);
	cr_expect_not_null(strstr(p.plane[0].message,
				  "cp: internal certificate expires in 44 days (2027-04-15 08:00:00 UTC) and has not been rotated"),
			   "%s", p.plane[0].message);
	cr_expect_str_eq(pki_alert_str(p.alert), "expiring");
	pki_plan(d, na, &p);
	cr_expect_eq(p.alert, PKI_ALERT_EXPIRED);
	cr_expect_not_null(strstr(p.plane[1].message, "dp: internal certificate expired on"));
}

Test(pki_plan, missing_certificate_is_issued)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;

	both_internal(d, T0);
	memset(&d[1], 0, sizeof(d[1]));
	pki_plan(d, T0, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_NONE);
	cr_expect_eq(p.plane[1].action, PKI_ACT_ISSUE);
	cr_expect_eq(p.plane[1].alert, PKI_ALERT_EXPIRED);
	cr_expect_str_eq(p.plane[1].message, "dp: no certificate");
}

static void customer(struct pki_plane_dates *d, time_t nb, time_t na)
{
	d->customer = true;
	d->cust_not_before = nb;
	d->cust_not_after = na;
	d->source = PKI_SRC_CUSTOMER;
	d->customer_replaced = false;
}

Test(pki_plan, customer_alert_and_fallback_five_days_before)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;
	time_t na = T0 + 200 * DAY;

	both_internal(d, T0);
	customer(&d[1], T0 - DAY, na);
	pki_plan(d, T0 + DAY, &p);
	cr_expect_eq(p.plane[1].action, PKI_ACT_NONE);
	cr_expect_eq(p.alert, PKI_ALERT_NONE);
	pki_plan(d, na - 44 * DAY, &p);
	cr_expect_eq(p.plane[1].alert, PKI_ALERT_EXPIRING);
	cr_expect_not_null(strstr(p.plane[1].message, "dp: customer certificate expires in 44 days"),
			   "%s", p.plane[1].message);
	cr_expect_not_null(strstr(p.plane[1].message, "upload a new one"));
	/* internal rotation continues underneath (age is > 30 days) */
	cr_expect_eq(p.plane[1].action, PKI_ACT_ROTATE);
	pki_plan(d, na - 5 * DAY - 1, &p);
	cr_expect_neq(p.plane[1].action, PKI_ACT_FALLBACK);
	pki_plan(d, na - 5 * DAY, &p);
	cr_expect_eq(p.plane[1].action, PKI_ACT_FALLBACK);
	cr_expect_eq(p.plane[1].alert, PKI_ALERT_CUSTOMER_REPLACED);
	cr_expect_not_null(strstr(p.plane[1].message, "replacing it with internal certificates"));
	/* after the fallback */
	d[1].source = PKI_SRC_INTERNAL;
	d[1].customer_replaced = true;
	internal_at(&d[1], na - 5 * DAY);
	pki_plan(d, na - 4 * DAY, &p);
	cr_expect_eq(p.plane[1].action, PKI_ACT_NONE);
	cr_expect_eq(p.plane[1].alert, PKI_ALERT_CUSTOMER_REPLACED);
	cr_expect_not_null(strstr(p.plane[1].message, "was replaced by internal certificates"));
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_EXPIRED, "cp internal never rotated in this test");
	cr_expect_eq(p.alert, PKI_ALERT_EXPIRED, "worst of both");
	internal_at(&d[0], na - 10 * DAY);
	pki_plan(d, na - 4 * DAY, &p);
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_NONE);
	cr_expect_eq(p.alert, PKI_ALERT_CUSTOMER_REPLACED);
}

Test(pki_plan, customer_without_internal_cannot_fall_back)
{
	struct pki_plane_dates d[2];
	struct pki_plan p;

	memset(d, 0, sizeof(d));
	customer(&d[0], T0 - DAY, T0 + 3 * DAY);
	customer(&d[1], T0 - DAY, T0 + 100 * DAY);
	pki_plan(d, T0, &p);
	cr_expect_eq(p.plane[0].action, PKI_ACT_ISSUE);
	pki_plan(d, T0 + 4 * DAY, &p);
	cr_expect_eq(p.plane[0].alert, PKI_ALERT_EXPIRED);
}

/* A node whose rotation works (when `works`) at each plan. */
struct sim {
	struct pki_plane_dates d[2];
	int rotations[2], fallbacks[2];
	time_t first_alert[4];
	time_t max_age;
};

static void sim_step(struct sim *s, time_t now, bool works)
{
	struct pki_plan p;

	pki_plan(s->d, now, &p);
	for (int i = 0; i < 2; i++) {
		if (p.plane[i].alert && !s->first_alert[p.plane[i].alert])
			s->first_alert[p.plane[i].alert] = now;
		switch (p.plane[i].action) {
		case PKI_ACT_ISSUE:
		case PKI_ACT_ROTATE:
			if (works) {
				internal_at(&s->d[i], now);
				s->rotations[i]++;
			}
			break;
		case PKI_ACT_FALLBACK:
			s->d[i].source = PKI_SRC_INTERNAL;
			s->d[i].customer_replaced = true;
			s->fallbacks[i]++;
			break;
		case PKI_ACT_NONE:
			break;
		}
	}
	for (int i = 0; i < 2; i++)
		if (now - s->d[i].int_not_before > s->max_age)
			s->max_age = now - s->d[i].int_not_before;
}

Test(pki_plan, one_year_hourly_rotates_every_30_days_without_alerts)
{
	struct sim s = {0};

	both_internal(s.d, T0);
	for (time_t t = T0; t <= T0 + 365 * DAY; t += 3600)
		sim_step(&s, t, true);
	cr_expect_eq(s.rotations[0], 12, "%d rotations", s.rotations[0]);
	cr_expect_eq(s.rotations[1], 12);
	for (int a = 1; a < 4; a++)
		cr_expect_eq(s.first_alert[a], 0, "alert %d raised", a);
	cr_expect_leq(s.max_age, 30 * DAY + 3600);
}

Test(pki_plan, event_driven_schedule_matches)
{
	/* Waking only at plan.next gives rotations at the exact instants. */
	struct pki_plane_dates d[2];
	struct pki_plan p;
	time_t t = T0, last = T0 - PKI_BACKDATE_SECS;
	int n = 0;

	both_internal(d, T0);
	while (t < T0 + 180 * DAY) {
		pki_plan(d, t, &p);
		if (p.plane[0].action == PKI_ACT_ROTATE) {
			cr_expect_eq(t - last, 30 * DAY, "rotation %d after %lld s", n,
				     (long long)(t - last));
			both_internal(d, t);
			last = t - PKI_BACKDATE_SECS;
			n++;
			continue;
		}
		cr_assert_gt(p.next, t);
		t = p.next;
	}
	cr_expect_eq(n, 6);
}

Test(pki_plan, broken_rotation_alerts_at_45_then_expires_at_90)
{
	struct sim s = {0};

	both_internal(s.d, T0);
	for (time_t t = T0; t <= T0 + 100 * DAY; t += 3600)
		sim_step(&s, t, false);
	cr_expect_eq(s.rotations[0], 0);
	/* first hour with < 45 days left: day 45 + 1 h; expired at day 90 */
	cr_expect_eq(s.first_alert[PKI_ALERT_EXPIRING], T0 + 45 * DAY + 3600);
	cr_expect_eq(s.first_alert[PKI_ALERT_EXPIRED], T0 + 90 * DAY);
}

Test(pki_plan, customer_certificates_over_eight_months)
{
	struct sim s = {0};
	time_t na = T0 + 200 * DAY;

	both_internal(s.d, T0);
	customer(&s.d[0], T0 - DAY, na);
	customer(&s.d[1], T0 - DAY, na);
	for (time_t t = T0; t <= T0 + 240 * DAY; t += 3600)
		sim_step(&s, t, true);
	/* never rotated, alerted from 45 days before, replaced 5 days before */
	cr_expect_eq(s.d[0].cust_not_after, na);
	cr_expect_eq(s.first_alert[PKI_ALERT_EXPIRING], na - 45 * DAY + 3600);
	cr_expect_eq(s.first_alert[PKI_ALERT_CUSTOMER_REPLACED], na - 5 * DAY);
	cr_expect_eq(s.first_alert[PKI_ALERT_EXPIRED], 0, "never served expired");
	cr_expect_eq(s.fallbacks[0], 1);
	cr_expect_eq(s.fallbacks[1], 1);
	cr_expect_eq(s.d[0].source, PKI_SRC_INTERNAL);
	/* internal certs kept fresh all along: 240 days / 30 */
	cr_expect_eq(s.rotations[0], 8);
	cr_expect_leq(s.max_age, 30 * DAY + 3600);
}
