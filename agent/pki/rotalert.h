/* SPDX-License-Identifier: GPL-2.0 */
/* rotalert.h — failed certificate rotations, as an alert.
 *
 * Rotations are started from several places (the daemon's PKI timer, the
 * control plane's certificate check, a manual rotation, a CSR answered by
 * the primary) and fail in all of them for the same reasons: a full or
 * read-only state directory, an unreachable primary, the CA refusing.  Each
 * failure is recorded here per plane with its error text; the alert
 * (cert_rotation_failed, warning) lasts until the plane's internal
 * certificate is replaced, whoever replaces it, so no success path has to
 * remember to clear it.  One agent per process: the record is process-wide.
 */
#ifndef INE_ROTALERT_H
#define INE_ROTALERT_H

#include <stdbool.h>
#include <stddef.h>

#include "pki/pki.h"

/* Rotation of `plane`'s certificate in `st` failed: why (printf). */
void rotalert_set(const struct pki_state *st, enum pki_plane plane,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A failed pki_state_tick: every plane the plan still wants to rotate,
 * issue or fall back at `now` gets the alert. */
void rotalert_tick_failed(const struct pki_state *st, time_t now, const char *msg);
/* Whether `plane` has a rotation failure still standing in `st` (its
 * certificate unchanged since); the description into msg. */
bool rotalert_get(const struct pki_state *st, enum pki_plane plane, char *msg,
		  size_t len);
/* Tests: forget everything. */
void rotalert_reset(void);

#endif
