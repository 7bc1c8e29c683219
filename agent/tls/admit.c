// SPDX-License-Identifier: GPL-2.0
/* admit.c — per-address admission to the internode port (see admit.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "tls/admit.h"

#define WINDOW 8		/* slots probed per address */

struct admit_addr {
	uint8_t key[17];	/* family byte + address (IPv6: the /64) */
	bool used, known;
	bool member;		/* a configured member's address (admit_members) */
	unsigned int inflight;
	uint64_t tokens_milli;	/* this address's bucket, thousandths */
	uint64_t refill_ms, seen_ms;
};

struct bucket {
	uint64_t milli, at_ms;
	unsigned int rate, burst;
};

struct admit {
	struct admit_addr *t;
	size_t mask;
	uint64_t hkey[2];
	unsigned int per_addr_max, addr_rate, addr_burst;
	struct bucket unknown;
};

static unsigned int or_default(unsigned int v, unsigned int def)
{
	return v ? v : def;
}

struct admit *admit_new(const struct admit_opts *o)
{
	struct admit *a = calloc(1, sizeof(*a));
	size_t n = 1;
	size_t want = or_default(o ? o->table_size : 0, ADMIT_TABLE_SIZE);

	if (!a)
		return NULL;
	while (n < want || n < WINDOW)
		n <<= 1;
	a->t = calloc(n, sizeof(*a->t));
	if (!a->t || RAND_bytes((unsigned char *)a->hkey, sizeof(a->hkey)) != 1) {
		free(a->t);
		free(a);
		return NULL;
	}
	a->mask = n - 1;
	a->per_addr_max = or_default(o ? o->per_addr_max : 0, ADMIT_PER_ADDR_MAX);
	a->addr_rate = or_default(o ? o->addr_rate : 0, ADMIT_ADDR_RATE);
	a->addr_burst = or_default(o ? o->addr_burst : 0, ADMIT_ADDR_BURST);
	a->unknown.rate = or_default(o ? o->unknown_rate : 0, ADMIT_UNKNOWN_RATE);
	a->unknown.burst = or_default(o ? o->unknown_burst : 0, ADMIT_UNKNOWN_BURST);
	a->unknown.milli = (uint64_t)a->unknown.burst * 1000;
	return a;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	free(a->t);
	free(a);
}

/* An IPv6 client controls its whole /64 (and IPv4-mapped is IPv4). */
static bool addr_key(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			key[0] = 4;
			memcpy(key + 1, a6->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a6->s6_addr, 8);
		}
		return true;
	}
	return false;
}

/* Keyed mix (splitmix64 finaliser over the key words): the slot of an
 * address cannot be predicted without the per-process key. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t slot_of(const struct admit *a, const uint8_t key[17])
{
	uint64_t w[3] = { 0 };

	memcpy(w, key, 17);
	return mix(mix(w[0] ^ a->hkey[0]) ^ w[1] ^ a->hkey[1]) ^ mix(w[2]);
}

static bool take(uint64_t *milli, uint64_t *at_ms, unsigned int rate,
		 unsigned int burst, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)burst * 1000;

	if (now_ms > *at_ms) {
		uint64_t add = (now_ms - *at_ms) * rate;

		*milli = add >= cap - *milli ? cap : *milli + add;
		*at_ms = now_ms;
	}
	if (*milli < 1000)
		return false;
	*milli -= 1000;
	return true;
}

/* How willing we are to give slot e to a new address: an empty slot first,
 * then an idle unknown address, then an idle known one; -1: busy. */
static int give_up_rank(const struct admit_addr *e)
{
	if (!e->used)
		return 0;
	if (e->inflight || e->member)
		return -1;
	return e->known ? 2 : 1;
}

/* The address's entry, or the slot to give it (*fresh), or NULL when every
 * slot in its window holds handshakes in progress. */
static struct admit_addr *lookup(struct admit *a, const uint8_t key[17], bool *fresh)
{
	size_t s = slot_of(a, key), i;
	struct admit_addr *e, *victim = NULL;
	int r, best = 3;

	for (i = 0; i < WINDOW; i++) {
		e = &a->t[(s + i) & a->mask];
		if (e->used && !memcmp(e->key, key, sizeof(e->key))) {
			*fresh = false;
			return e;
		}
		r = give_up_rank(e);
		if (r >= 0 && (r < best || (r == best && e->seen_ms < victim->seen_ms))) {
			best = r;
			victim = e;
		}
	}
	*fresh = true;
	return victim;
}

enum admit_verdict admit_check(struct admit *a, const struct sockaddr *sa,
			       uint64_t now_ms, struct admit_addr **out)
{
	struct admit_addr *e;
	uint8_t key[17];
	bool fresh;

	*out = NULL;
	if (!addr_key(sa, key))
		return ADMIT_TABLE;
	e = lookup(a, key, &fresh);
	if (!e)
		return ADMIT_TABLE;
	if (fresh) {
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, sizeof(e->key));
		e->used = true;
		e->tokens_milli = (uint64_t)a->addr_burst * 1000;
		e->refill_ms = now_ms;
	}
	e->seen_ms = now_ms;
	if (!admit_is_known(e)) {
		if (e->inflight >= a->per_addr_max)
			return ADMIT_PER_ADDR;
		/* The address's own bucket first: one noisy address must not
		 * spend what every other unknown address shares. */
		if (!take(&e->tokens_milli, &e->refill_ms, a->addr_rate, a->addr_burst, now_ms) ||
		    !take(&a->unknown.milli, &a->unknown.at_ms, a->unknown.rate,
			  a->unknown.burst, now_ms))
			return ADMIT_RATE;
	}
	e->inflight++;
	*out = e;
	return ADMIT_OK;
}

void admit_release(struct admit *a, struct admit_addr *e)
{
	(void)a;
	if (e && e->inflight)
		e->inflight--;
}

void admit_set_known(struct admit_addr *e)
{
	if (e)
		e->known = true;
}

bool admit_is_known(const struct admit_addr *e)
{
	return e && (e->known || e->member);
}

void admit_members_clear(struct admit *a)
{
	size_t i;

	for (i = 0; i <= a->mask; i++)
		a->t[i].member = false;
}

int admit_member_add(struct admit *a, const struct sockaddr *sa)
{
	struct admit_addr *e;
	uint8_t key[17];
	bool fresh;

	if (!addr_key(sa, key))
		return -EAFNOSUPPORT;
	e = lookup(a, key, &fresh);
	if (!e)
		return -ENOSPC;
	if (fresh) {
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, sizeof(e->key));
		e->used = true;
	}
	e->member = true;
	return 0;
}

const char *admit_verdict_str(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_OK:		return "admitted";
	case ADMIT_RATE:	return "handshake rate limit for unknown addresses";
	case ADMIT_PER_ADDR:	return "too many handshakes in progress from this address";
	case ADMIT_TABLE:	return "no room to track another address";
	}
	return "?";
}
