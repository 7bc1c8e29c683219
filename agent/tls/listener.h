/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The internode TLS port (3342): accepts, runs the server handshake
 * without blocking, then hands the connection to the handler registered
 * for the negotiated ALPN protocol ("ine-dp/1" -> relay, "ine-cp/1" /
 * "ine-join/1" -> control plane). Which protocols the server accepts at all
 * is the SSL_CTX's (tls.h: tls_config.accept_alpn); one that passes the
 * handshake but has no handler registered is closed.
 *
 * Slowloris and floods: at most max_handshakes handshakes are in progress,
 * and before any RSA work is spent on a connection admit.h decides whether
 * its address may start one (members' addresses always; strangers within
 * per-address and overall limits).  A quarter of the places are kept for
 * members' addresses.  A connection must deliver its whole ClientHello
 * within hello_timeout_ms and then finish within handshake_timeout_ms.
 * When the places a new connection may use are taken, the oldest
 * stranger's handshake that has had evict_after_ms gives up its place,
 * whatever stage it reached (a member's connection takes a stranger's
 * place at once); with none to give, a stranger's new connection is closed
 * (cheaper than to stop accepting, which would queue members behind
 * strangers in the kernel's backlog).  Only when members' handshakes hold
 * every place does accepting pause, their burst waiting in the backlog.
 * Out of descriptors, accept() failing does not spin: a stranger's place
 * is given up, or accepting pauses for 100 ms.
 */
#ifndef INE_LISTENER_H
#define INE_LISTENER_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "tls/admit.h"

struct event_base;
struct listener;

#define LISTENER_MAX_HANDSHAKES		64
#define LISTENER_HANDSHAKE_TIMEOUT_MS	10000
#define LISTENER_HELLO_TIMEOUT_MS	3000
#define LISTENER_EVICT_AFTER_MS		1000
#define LISTENER_MAX_HANDLERS		8

struct tls_conn;

/*
 * Called with a finished handshake (tls_conn_handshake() returned 0): the
 * handler owns c and c->fd from here (tls_conn_free, then close). The
 * socket is non-blocking; c->alpn, c->peer_node_id etc. are set.
 */
typedef void (*listener_handler_fn)(void *arg, struct tls_conn *c);

struct listener_opts {
	unsigned int max_handshakes;		/* 0: LISTENER_MAX_HANDSHAKES */
	unsigned int handshake_timeout_ms;	/* 0: LISTENER_HANDSHAKE_TIMEOUT_MS */
	unsigned int hello_timeout_ms;		/* 0: LISTENER_HELLO_TIMEOUT_MS */
	unsigned int evict_after_ms;		/* 0: LISTENER_EVICT_AFTER_MS */
	struct admit_opts admit;		/* zeroes: admit.h's defaults */
};

/*
 * Bind addr:port (addr "" or NULL: all addresses, IPv4) with server_ctx
 * (tls_ctx_new(cfg, true); not owned).
 */
struct listener *listener_new(struct event_base *base, SSL_CTX *server_ctx,
			      const char *addr, uint16_t port,
			      const struct listener_opts *opts);
void listener_free(struct listener *l);

/* New handshakes use ctx from now on (not owned); those in progress keep
 * the context they started with.  For certificate rotation. */
void listener_set_ctx(struct listener *l, SSL_CTX *ctx);

/*
 * Register every accepted socket with ine.ko (nl from inenl_open; not owned;
 * NULL: don't) right after accept(), in state HANDSHAKING, so that a guard
 * in enforce mode lets this node's ServerHello out.  The plane is not known
 * before ALPN and ine.ko cannot change a session's plane, so the entry says
 * INE_PLANE_CONTROL; the handler's own registration then finds it (-EEXIST)
 * and updates it, or, for the data plane, replaces it (see daemon_relay.c).
 */
struct inenl;
void listener_set_inenl(struct listener *l, struct inenl *nl);

/* The cluster members' addresses (admit.h: known, never rate limited);
 * replaces the previous set.  Called on every configuration change. */
struct sockaddr_storage;
void listener_set_members(struct listener *l, const struct sockaddr_storage *addrs, size_t n);

/* Register (or replace, with cb NULL remove) the handler for alpn. */
int listener_set_handler(struct listener *l, const char *alpn,
			 listener_handler_fn cb, void *arg);

struct listener_stats {
	unsigned int handshaking;
	uint64_t accepted, handed_off, failed;
	uint64_t paused;		/* accepting paused: places all members', or accept() failed */
	uint64_t timed_out;		/* past ClientHello, not done in time */
	uint64_t hello_timed_out;	/* no whole ClientHello in time */
	uint64_t evicted;		/* dropped to make room (or to free an fd) */
	uint64_t refused_full;		/* no place and none to give up: closed */
	uint64_t rate_limited;		/* a stranger over its handshake rate: closed */
	uint64_t refused_per_addr;	/* a stranger's address already at its cap */
	uint64_t accept_errors;		/* accept() failed (EMFILE, ENOMEM, ...) */
};
void listener_get_stats(const struct listener *l, struct listener_stats *st);

#endif
