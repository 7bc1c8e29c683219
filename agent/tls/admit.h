/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who may start a handshake on the internode port, before any RSA work is
 * done for them (listener.c asks at accept time).
 *
 * The threat: anyone who reaches port 3342 can make the agent sign a
 * ServerKeyExchange/CertificateVerify (RSA-2048, ~1 ms of a core on real
 * hardware, ~10 ms in an emulator) and hold a handshake place, without
 * owning any certificate.  Members must keep getting in regardless.
 *
 * So addresses are told apart:
 *  - known: a configured member's address (admit_member_add, from the
 *    cluster configuration, so a restarted agent or a new node's first
 *    burst of routed connections is not throttled), or an address from
 *    which a peer has completed a mutually authenticated handshake.  Never
 *    rate limited here.  Being known grants nothing else: every handshake
 *    is still authenticated in full.
 *  - unknown: everyone else.  Each address (an IPv4 /32, an IPv6 /64) may
 *    hold at most per_addr_max handshakes at once and start at most
 *    addr_rate per second (burst addr_burst); all unknown addresses
 *    together start at most unknown_rate per second (burst unknown_burst).
 *    A new node's first connections come from an unknown address and fit
 *    easily in these limits; an attacker's flood does not.
 *
 * State is a fixed-size table (a probe window per hash slot), so memory
 * does not grow with the number of addresses an attacker uses: when every
 * slot in a window is busy with in-progress handshakes, a new unknown
 * address is refused (ADMIT_TABLE) until one ends.  The hash is keyed per
 * process so an attacker cannot aim many addresses at one window.
 */
#ifndef INE_TLS_ADMIT_H
#define INE_TLS_ADMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADMIT_PER_ADDR_MAX	4
#define ADMIT_ADDR_RATE		5	/* per second */
#define ADMIT_ADDR_BURST	10
#define ADMIT_UNKNOWN_RATE	100	/* per second, all unknown addresses */
#define ADMIT_UNKNOWN_BURST	100
#define ADMIT_TABLE_SIZE	4096	/* entries; a power of two */

struct admit_opts {
	unsigned int per_addr_max;	/* 0: ADMIT_PER_ADDR_MAX */
	unsigned int addr_rate, addr_burst;
	unsigned int unknown_rate, unknown_burst;
	unsigned int table_size;	/* rounded up to a power of two */
};

enum admit_verdict {
	ADMIT_OK = 0,
	ADMIT_RATE,		/* this address's or all unknowns' rate spent */
	ADMIT_PER_ADDR,		/* this address holds per_addr_max already */
	ADMIT_TABLE,		/* no room to track another address */
};

struct admit;
struct admit_addr;

struct admit *admit_new(const struct admit_opts *opts);
void admit_free(struct admit *a);

/*
 * May the connection from sa (accepted at now_ms, CLOCK_MONOTONIC) start a
 * handshake?  On ADMIT_OK *e is its address's entry, counted as holding one
 * more handshake until admit_release(a, *e).
 */
enum admit_verdict admit_check(struct admit *a, const struct sockaddr *sa,
			       uint64_t now_ms, struct admit_addr **e);
void admit_release(struct admit *a, struct admit_addr *e);

/* The handshake from e's address authenticated a member: from now on its
 * address is known. */
void admit_set_known(struct admit_addr *e);
bool admit_is_known(const struct admit_addr *e);

/* Replace the configured members' addresses: clear, then add each.
 * -ENOSPC if the address's window is full of busy entries (it is then only
 * learned when its handshake completes). */
void admit_members_clear(struct admit *a);
int admit_member_add(struct admit *a, const struct sockaddr *sa);

const char *admit_verdict_str(enum admit_verdict v);

#endif
