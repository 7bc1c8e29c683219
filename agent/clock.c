/* clock.c — a wall clock tests can move (see clock.h). */
#include <stdbool.h>

#include "clock.h"

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
