// SPDX-License-Identifier: GPL-2.0
/* rotalert.c — failed certificate rotations, as an alert (see rotalert.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "pki/rotalert.h"

struct rot_fail {
	bool set;
	/* The internal certificate the failure left in place: the alert
	 * stands while it is still the one in `st`. */
	const struct pki_state *st;
	bool internal;
	time_t not_before, not_after;
	char msg[PKI_ERR_MAX + 64];
};

static struct rot_fail fails[PKI_NPLANES];

static bool same_cert(const struct rot_fail *f, const struct pki_state *st, int i)
{
	struct pki_plane_dates d[PKI_NPLANES];

	if (f->st != st)
		return false;
	pki_state_dates(st, d);
	return d[i].internal == f->internal && d[i].int_not_before == f->not_before &&
	       d[i].int_not_after == f->not_after;
}

void rotalert_set(const struct pki_state *st, enum pki_plane plane,
		  const char *fmt, ...)
{
	struct pki_plane_dates d[PKI_NPLANES];
	struct rot_fail *f;
	char why[PKI_ERR_MAX];
	va_list ap;
	int i = PKI_PIDX(plane);

	if (!st || i < 0 || i >= PKI_NPLANES)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	f = &fails[i];
	pki_state_dates(st, d);
	f->set = true;
	f->st = st;
	f->internal = d[i].internal;
	f->not_before = d[i].int_not_before;
	f->not_after = d[i].int_not_after;
	snprintf(f->msg, sizeof(f->msg), "%s: certificate rotation failed: %s; retrying",
		 pki_plane_str(plane), why);
}

void rotalert_tick_failed(const struct pki_state *st, time_t now, const char *msg)
{
	struct pki_plane_dates d[PKI_NPLANES];
	struct pki_plan plan;

	if (!st)
		return;
	pki_state_dates(st, d);
	pki_plan(d, now, &plan);
	for (int i = 0; i < PKI_NPLANES; i++)
		if (plan.plane[i].action != PKI_ACT_NONE)
			rotalert_set(st, (enum pki_plane)(i + 1), "%s", msg);
}

bool rotalert_get(const struct pki_state *st, enum pki_plane plane, char *msg,
		  size_t len)
{
	int i = PKI_PIDX(plane);
	struct rot_fail *f;

	if (!st || i < 0 || i >= PKI_NPLANES || !fails[i].set)
		return false;
	f = &fails[i];
	if (!same_cert(f, st, i)) {
		if (f->st == st)
			log_info("%s: certificate rotated: rotation alert cleared",
				 pki_plane_str(plane));
		f->set = false;
		return false;
	}
	if (msg)
		snprintf(msg, len, "%s", f->msg);
	return true;
}

void rotalert_reset(void)
{
	memset(fails, 0, sizeof(fails));
}
