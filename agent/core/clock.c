// SPDX-License-Identifier: GPL-2.0
/* clock.c — a wall clock tests can move, and a watch for jumps of the
 * real one (see clock.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"

static bool fixed;
static time_t fixed_time;
static time_t offset;

time_t clock_now(void)
{
	if (fixed)
		return fixed_time;
	return time(NULL) + offset;
}

void clock_set_fixed(time_t t)
{
	fixed = true;
	fixed_time = t;
}

void clock_set_offset(time_t off)
{
	fixed = false;
	offset = off;
}

void clock_advance(time_t secs)
{
	if (fixed)
		fixed_time += secs;
	else
		offset += secs;
}

void clock_reset(void)
{
	fixed = false;
	offset = 0;
}

time_t clock_mono(void)
{
	struct timespec ts;

	if (fixed || clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return ts.tv_sec;
}

struct clock_watch {
	struct event *ev;
	clock_jump_fn fn;
	void *arg;
	time_t skew;		/* wall - monotonic at the last look */
};

/* The skew last logged: several watches (daemon, control plane) see the
 * same jump; the log says it once. */
static time_t logged_skew;
static bool logged_valid;

static time_t skew_now(void)
{
	return clock_now() - clock_mono();
}

void clock_jump_str(time_t jump, char *buf, size_t len)
{
	char sign = jump < 0 ? '-' : '+';
	long long a = jump < 0 ? -(long long)jump : (long long)jump, r;

	/* Whole seconds of two clocks read apart: +-1 s is noise, so days
	 * are shown to the nearest hour and hours to the nearest minute. */
	if (a >= 86400 - 1800) {
		r = (a + 1800) / 3600;
		if (r % 24)
			snprintf(buf, len, "%c%lld d %lld h", sign, r / 24, r % 24);
		else
			snprintf(buf, len, "%c%lld d", sign, r / 24);
	} else if (a >= 3600 - 30) {
		r = (a + 30) / 60;
		snprintf(buf, len, "%c%lld h %lld min", sign, r / 60, r % 60);
	} else if (a >= 60)
		snprintf(buf, len, "%c%lld min %lld s", sign, a / 60, a % 60);
	else
		snprintf(buf, len, "%c%lld s", sign, a);
}

time_t clock_watch_poll(struct clock_watch *w)
{
	time_t skew = skew_now(), jump = skew - w->skew;
	char js[48];

	w->skew = skew;
	if (jump > -CLOCK_JUMP_MIN && jump < CLOCK_JUMP_MIN)
		return 0;
	if (!logged_valid || skew - logged_skew >= CLOCK_JUMP_MIN ||
	    logged_skew - skew >= CLOCK_JUMP_MIN) {
		clock_jump_str(jump, js, sizeof(js));
		log_warn("wall clock jumped %s; re-planning certificate rotation", js);
		logged_skew = skew;
		logged_valid = true;
	}
	if (w->fn)
		w->fn(w->arg, jump);
	return jump;
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	clock_watch_poll(arg);
}

struct clock_watch *clock_watch_new(struct event_base *base, clock_jump_fn fn,
				    void *arg)
{
	struct timeval tv = { CLOCK_WATCH_MS / 1000, (CLOCK_WATCH_MS % 1000) * 1000 };
	struct clock_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fn = fn;
	w->arg = arg;
	w->skew = skew_now();
	if (!logged_valid) {
		logged_skew = w->skew;
		logged_valid = true;
	}
	if (base) {
		w->ev = event_new(base, -1, EV_PERSIST, watch_cb, w);
		if (!w->ev || event_add(w->ev, &tv)) {
			clock_watch_free(w);
			return NULL;
		}
	}
	return w;
}

void clock_watch_free(struct clock_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	free(w);
}
