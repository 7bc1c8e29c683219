// SPDX-License-Identifier: GPL-2.0
/* pki_plan.c — the certificate policy as a pure function of dates and
 * `now`, so months of rotations and fallbacks are tested by moving time. */
#include <stdio.h>
#include <string.h>

#include "pki/pki_internal.h"

#define DAYS(n) ((time_t)(n) * PKI_DAY)

const char *pki_alert_str(enum pki_alert a)
{
	switch (a) {
	case PKI_ALERT_NONE:			return "none";
	case PKI_ALERT_EXPIRING:		return "expiring";
	case PKI_ALERT_CUSTOMER_REPLACED:	return "customer-replaced";
	case PKI_ALERT_EXPIRED:			return "expired";
	}
	return "?";
}

const char *pki_action_str(enum pki_action a)
{
	switch (a) {
	case PKI_ACT_NONE:	return "none";
	case PKI_ACT_ISSUE:	return "issue";
	case PKI_ACT_ROTATE:	return "rotate";
	case PKI_ACT_FALLBACK:	return "fallback";
	}
	return "?";
}

const char *pki_source_str(enum pki_source s)
{
	switch (s) {
	case PKI_SRC_NONE:	return "none";
	case PKI_SRC_INTERNAL:	return "internal";
	case PKI_SRC_CUSTOMER:	return "customer";
	}
	return "?";
}

static void consider(time_t *next, time_t now, time_t t)
{
	if (t > now && t < *next)
		*next = t;
}

static void plan_plane(const struct pki_plane_dates *d, const char *pl,
		       time_t now, struct pki_plane_plan *pp, time_t *next)
{
	bool customer = d->source == PKI_SRC_CUSTOMER && d->customer;
	char when[40];
	time_t left;

	pp->action = PKI_ACT_NONE;
	pp->alert = PKI_ALERT_NONE;
	pp->message[0] = '\0';

	/* Internal certificates are kept fresh even while customer ones are
	 * served, so a fallback always has a valid certificate to switch to.
	 * One whose notBefore is still ahead (issued under a clock that has
	 * since been stepped back by more than the 5-minute back-dating) is
	 * refused by every verifier on this clock, ours included: re-issue it
	 * now.  The new one starts before `now`, so this happens once per
	 * backwards jump, not in a loop. */
	if (!d->internal)
		pp->action = PKI_ACT_ISSUE;
	else if (now - d->int_not_before >= DAYS(PKI_ROTATE_AGE_DAYS) ||
		 d->int_not_before > now)
		pp->action = PKI_ACT_ROTATE;
	if (d->internal) {
		consider(next, now, d->int_not_before + DAYS(PKI_ROTATE_AGE_DAYS));
		consider(next, now, d->int_not_after - DAYS(PKI_ALERT_DAYS));
		consider(next, now, d->int_not_after);
	}

	if (customer) {
		left = d->cust_not_after - now;
		pki_time_str(d->cust_not_after, when, sizeof(when));
		consider(next, now, d->cust_not_after - DAYS(PKI_ALERT_DAYS));
		consider(next, now, d->cust_not_after - DAYS(PKI_FALLBACK_DAYS));
		if (left <= DAYS(PKI_FALLBACK_DAYS)) {
			if (d->internal)
				pp->action = PKI_ACT_FALLBACK;
			if (left <= 0) {
				pp->alert = PKI_ALERT_EXPIRED;
				snprintf(pp->message, sizeof(pp->message),
					 "%s: customer certificate expired on %s", pl, when);
			} else {
				pp->alert = PKI_ALERT_CUSTOMER_REPLACED;
				snprintf(pp->message, sizeof(pp->message),
					 "%s: customer certificate expires on %s: replacing it with internal certificates; upload a new one",
					 pl, when);
			}
		} else if (left < DAYS(PKI_ALERT_DAYS)) {
			pp->alert = PKI_ALERT_EXPIRING;
			snprintf(pp->message, sizeof(pp->message),
				 "%s: customer certificate expires in %lld days (%s): upload a new one",
				 pl, (long long)(left / PKI_DAY), when);
		}
		return;
	}

	if (!d->internal) {
		pp->alert = PKI_ALERT_EXPIRED;
		snprintf(pp->message, sizeof(pp->message),
			 "%s: no certificate", pl);
		return;
	}
	left = d->int_not_after - now;
	pki_time_str(d->int_not_after, when, sizeof(when));
	if (left <= 0) {
		pp->alert = PKI_ALERT_EXPIRED;
		snprintf(pp->message, sizeof(pp->message),
			 "%s: internal certificate expired on %s", pl, when);
	} else if (left < DAYS(PKI_ALERT_DAYS)) {
		pp->alert = PKI_ALERT_EXPIRING;
		snprintf(pp->message, sizeof(pp->message),
			 "%s: internal certificate expires in %lld days (%s) and has not been rotated",
			 pl, (long long)(left / PKI_DAY), when);
	} else if (d->customer_replaced) {
		pp->alert = PKI_ALERT_CUSTOMER_REPLACED;
		snprintf(pp->message, sizeof(pp->message),
			 "%s: customer certificate was replaced by internal certificates before it expired: upload a new one",
			 pl);
	}
}

void pki_plan(const struct pki_plane_dates dates[PKI_NPLANES], time_t now,
	      struct pki_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->next = now + PKI_DAY;
	for (int i = 0; i < PKI_NPLANES; i++) {
		plan_plane(&dates[i], pki_plane_str((enum pki_plane)(i + 1)), now,
			   &plan->plane[i], &plan->next);
		if (plan->plane[i].alert > plan->alert)
			plan->alert = plan->plane[i].alert;
	}
}
