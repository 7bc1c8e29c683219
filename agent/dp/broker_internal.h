/* SPDX-License-Identifier: GPL-2.0 */
/*
 * broker_internal.h - the broker's private map (the contract is broker.h).
 *
 *   broker.c       the Unix socket: accept (peer credentials, caps,
 *                  request timeout), requests, following the configuration
 *   broker_conn.c  one brokered connection: setup (connect, handshake,
 *                  kernel TLS, route header and reply), hand-off, the
 *                  agent's reference afterwards, teardown
 *   broker_pump.c  the software pump (no kernel TLS): a loopback TCP pair's
 *                  agent end <-> OpenSSL
 *   broker_wire.c  request/reply datagrams, the allowlist
 *
 * Arrows point one way: broker.c -> broker_conn.c -> broker_pump.c.
 *
 * Lifetimes: a struct bconn is born at accept and lives until the request
 * is refused or answered (LISTEN), the setup fails, or the brokered
 * connection ends.  Each connection holds its own reference to the TLS
 * context it was set up with: a configuration change or a certificate
 * rotation never pulls a context from under a connection in progress.
 */
#ifndef INE_BROKER_INTERNAL_H
#define INE_BROKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "dp/broker.h"
#include "dp/route.h"

#define BROKER_SETUP_TIMEOUT_S		15	/* request to reply, peer included */
#define BROKER_REQUEST_TIMEOUT_S	5	/* accept to request datagram */
#define BROKER_MAX_PENDING		64	/* accepted, no request yet */
#define BROKER_PUMP_BUF			(64 << 10)
/* After the peer's FIN, how often to look whether the app is done too. */
#define BROKER_HUP_POLL_MS		500
/* Out of fds: stop accepting this long (the queue stays readable: no spin). */
#define BROKER_EMFILE_PAUSE_MS		200

enum bst { B_REQUEST, B_CONNECT, B_HANDSHAKE, B_SEND_HDR, B_WAIT_REPLY, B_LIVE };

struct tls_conn;

/* One request in progress, then one brokered connection. */
struct bconn {
	struct broker *b;
	struct bconn *next;
	int ufd;			/* the app's request socket; -1 after reply */
	struct broker_req req;
	uid_t uid;
	gid_t gid;
	enum bst st;
	enum broker_mode mode;
	bool encrypt;			/* the db's policy when the setup began */
	int pfd;			/* the data-plane socket (agent's reference) */
	int sfd;			/* software: agent's end of the loopback pair */
	SSL_CTX *ctx;			/* own reference, for this setup */
	struct tls_conn *tc;
	bool registered;
	struct event *ev, *timer;
	struct event *srev, *swev, *prev, *pwev;	/* software pump */
	uint8_t ctl[ROUTE_REPLY_MAX];
	size_t ctl_len, ctl_off;
	/* software pump: a = app -> peer, p = peer -> app */
	uint8_t *abuf, *pbuf;
	size_t aoff, alen, poff, plen;
	bool aeof, ashut, peof, pshut;
	uint64_t records;		/* TLS records sent (software pump) */
	bool limited;			/* reached b->record_limit: ends cut */
};

struct broker {
	struct daemon *d;
	struct event_base *base;
	int lfd;
	struct event *lev, *lretry;	/* lretry: re-arm lev after EMFILE */
	char path[108];
	struct broker_allow allow[BROKER_MAX_ALLOW];
	size_t n_allow;
	SSL_CTX *(*ctx_new)(void *arg);
	void *ctx_arg;
	uint16_t dp_port, plain_port;
	uint64_t record_limit;
	unsigned int n_pending;		/* bconns in B_REQUEST */
	struct bconn *conns;
};

/* broker_conn.c */
struct bconn *broker_conn_new(struct broker *b, int ufd, uid_t uid, gid_t gid);
void broker_conn_free(struct bconn *c);
/* A parsed, allowed request: set it up (CONNECT) or answer it (LISTEN). */
void broker_conn_start(struct bconn *c);
/* Answer the app with an error and free c. */
void broker_conn_fail(struct bconn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The db's policy changed under c: a setup fails with -ECONNABORTED, a
 * live connection is torn down so that the app cannot mistake it for a
 * clean end; frees c. */
void broker_conn_abort(struct bconn *c, const char *why);

/* broker_pump.c */
/* Software mode after the route reply: make the loopback pair, arm the
 * pump; *app_fd is the app's end.  0 or -errno. */
int broker_pump_start(struct bconn *c, int *app_fd);
void broker_pump_run(struct bconn *c);
/* Reset the app's end (SO_LINGER 0): its read() gets ECONNRESET. */
void broker_pump_reset_app(struct bconn *c);

#endif
