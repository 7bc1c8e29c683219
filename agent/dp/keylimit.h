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

struct daemon;
struct keylimit;

struct keylimit_stats {
	uint64_t replaced;	/* sessions the agent replaced */
	uint64_t kept;		/* flagged, but not this agent's to replace */
	uint64_t lost;		/* event overflows (recovered by a dump) */
};

/* Subscribes to ine.ko's events; -errno without the module. */
int keylimit_start(struct daemon *d, struct keylimit **out);
void keylimit_get_stats(const struct keylimit *k, struct keylimit_stats *st);
/* After an ine.ko reload: the events group came back under a new id. */
int keylimit_resubscribe(struct keylimit *k);
void keylimit_free(struct keylimit *k);

#endif
