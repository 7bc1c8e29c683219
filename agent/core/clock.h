/* SPDX-License-Identifier: GPL-2.0 */
/* clock.h — the agent's one wall clock.  Everything that reasons about
 * certificate lifetimes reads clock_now(), so tests can move time (days,
 * months) instead of waiting.  Not for measuring intervals: use
 * CLOCK_MONOTONIC for timeouts. */
#ifndef INE_CLOCK_H
#define INE_CLOCK_H

#include <time.h>

struct event_base;

/* Wall-clock seconds: time(NULL) + offset, or the fixed time if set. */
time_t clock_now(void);
/* Tests: pin the clock to t (until clock_reset). */
void clock_set_fixed(time_t t);
/* Tests: run the real clock shifted by `offset` seconds. */
void clock_set_offset(time_t offset);
/* Tests: move the clock forward (or back) by `secs`, fixed or not. */
void clock_advance(time_t secs);
/* Back to the real clock. */
void clock_reset(void);

/* CLOCK_MONOTONIC seconds (stands still while the clock is fixed). */
time_t clock_mono(void);

/* Wall-clock jumps.  An NTP step, a VM or laptop resuming, an operator's
 * `date -s` move the rotation and expiry points, but the agent's timers
 * run on CLOCK_MONOTONIC and would notice only at their next tick (up to
 * an hour away).  A clock_watch compares, every CLOCK_WATCH_MS, how far
 * clock_now() moved with how far CLOCK_MONOTONIC moved; when the two
 * differ by more than CLOCK_JUMP_MIN seconds it logs the jump (once per
 * jump, however many watches see it) and calls fn(arg, jump) so its owner
 * re-plans now.
 *
 * Polling, not timerfd(TFD_TIMER_CANCEL_ON_SET): the kernel reports only
 * clock_settime()-style steps of the real clock, while polling also sees a
 * resume from suspend (monotonic stood still, the wall clock did not) and
 * anything clock_now() sees — the tests' offsets, libfaketime — for one
 * cheap wakeup every two seconds and no extra file descriptor. */
#define CLOCK_WATCH_MS	2000
#define CLOCK_JUMP_MIN	30	/* seconds; NTP slews far less than this */

struct clock_watch;
typedef void (*clock_jump_fn)(void *arg, time_t jump);

/* NULL on allocation failure. */
struct clock_watch *clock_watch_new(struct event_base *base, clock_jump_fn fn,
				    void *arg);
void clock_watch_free(struct clock_watch *w);
/* Look now, as the timer does (tests drive it): the jump seen since the
 * last look (wall minus monotonic, seconds), 0 when under CLOCK_JUMP_MIN;
 * fn has been called when non-zero. */
time_t clock_watch_poll(struct clock_watch *w);
/* "+31 d", "-2 d 3 h", "+5 min 10 s", "-45 s". */
void clock_jump_str(time_t jump, char *buf, size_t len);

#endif
