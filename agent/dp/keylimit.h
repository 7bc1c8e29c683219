/* SPDX-License-Identifier: GPL-2.0 */
/* keylimit.h — replace sessions before AES-GCM's key usage limit.
 *
 * AES-GCM is safe for about 2^24.5 full records under one key (RFC 8446
 * §5.5), and Linux 6.1 cannot re-key kernel TLS (KeyUpdate: 6.14).  ine.ko
 * counts every offloaded session's records and announces the ones that
 * pass its threshold (EVENT_KEY_USAGE, default 90% of the limit).  This
 * listens for that and has the owner of the socket replace the session: a
 * relayed connection is reset on both legs so the database reconnects
 * (a Redis replica resumes with PSYNC) on a fresh handshake and fresh keys.
 * A reset, not a FIN, because a FIN would make a cut stream look whole.
 */
#ifndef INE_KEYLIMIT_H
#define INE_KEYLIMIT_H

#include <stdint.h>

struct event_base;
struct inenl;
struct keylimit;

/* Reset the session whose socket is fd so it reconnects; -ENOENT if fd is
 * not the caller's to reset (it is then kept, and counted as kept). */
typedef int (*keylimit_retire_fn)(void *arg, int fd, const char *why);

struct keylimit_stats {
	uint64_t replaced;	/* sessions the agent replaced */
	uint64_t kept;		/* flagged, but not this agent's to replace */
	uint64_t lost;		/* event overflows (recovered by a dump) */
};

/* Subscribes to ine.ko's events; -errno without the module.  nl (the
 * owner's ine.ko client, for dumps) and base must outlive k. */
int keylimit_start(struct event_base *base, struct inenl *nl, keylimit_retire_fn retire,
		   void *arg, struct keylimit **out);
void keylimit_get_stats(const struct keylimit *k, struct keylimit_stats *st);
/* After an ine.ko reload: the events group came back under a new id. */
int keylimit_resubscribe(struct keylimit *k);
void keylimit_free(struct keylimit *k);

#endif
