/* clock.h — the agent's one wall clock.  Everything that reasons about
 * certificate lifetimes reads clock_now(), so tests can move time (days,
 * months) instead of waiting.  Not for measuring intervals: use
 * CLOCK_MONOTONIC for timeouts. */
#ifndef INE_CLOCK_H
#define INE_CLOCK_H

#include <time.h>

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

#endif
