/* SPDX-License-Identifier: GPL-2.0 */
/*
 * relay_internal.h — the relay's private map: its objects and which file
 * does what. Only agent/dp/relay*.c include it; everyone else uses relay.h.
 *
 *   relay.c        the object, route listeners, configuration swaps,
 *                  accepting connections in both roles, statistics
 *   relay_conn.c   one connection's lifecycle: new/free/abort, waits,
 *                  mode, registration with the agent, kernel TLS install
 *   relay_setup.c  connect/handshake/route header (client), route header,
 *                  allowlist, target connect and reply (server)
 *   relay_pump.c   the byte pump once set up: splice or OpenSSL, per
 *                  direction, with backpressure
 *
 * Calls go one way: relay.c -> setup -> pump -> conn.  The sockets' event
 * callback is setup's (it runs the state machine, which hands over to the
 * pump); the pump's own wake-up (kick) runs only the pump.
 */
#ifndef INE_RELAY_INTERNAL_H
#define INE_RELAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/util.h>

#include "dp/relay.h"
#include "dp/route.h"

struct evconnlistener;

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
enum conn_state {
	CS_CONNECT,		/* client: TCP connect to the peer agent */
	CS_HANDSHAKE,		/* client: TLS handshake */
	CS_SEND_HDR,		/* client: route header out */
	CS_WAIT_REPLY,		/* client: route reply in */
	CS_READ_HDR,		/* server: route header in */
	CS_TARGET_CONNECT,	/* server: TCP connect to the target */
	CS_SEND_REPLY,		/* server: OK reply out */
	CS_SEND_ERR,		/* server: error reply out, then close */
	CS_PUMP,
};

struct dir {
	int src, dst;
	bool src_ssl, dst_ssl;	/* go through OpenSSL on that end */
	int pipe[2];		/* splice mode */
	size_t pipe_cap, in_pipe;
	uint8_t *spill;		/* kTLS record bytes the pipe had no room for */
	size_t spill_off, spill_len;
	bool pipe_grown;	/* tried F_SETPIPE_SZ already */
	uint8_t *buf;		/* buffer mode, NULL while empty */
	size_t off, len, retry;	/* retry: SSL_write length to repeat */
	bool eof;		/* source ended cleanly (FIN / close_notify) */
	bool shut;		/* end-of-stream passed on to dst */
	bool dst_blocked;
	short src_ev, dst_ev;	/* what the last attempt waits for */
	uint64_t *count;
	uint64_t records;	/* TLS records written through OpenSSL */
};

struct conn {
	struct relay *r;
	struct conn *next, *prev;
	bool client;
	bool plaintext;		/* middle leg without TLS */
	bool enc;		/* db's encryption setting at setup */
	enum conn_state st;
	enum relay_mode mode;
	uint32_t db, peer;
	struct relay_config_route route;	/* client: what it serves */
	struct relay_config_target target;	/* server: where it goes */
	int lfd, pfd;
	struct tls_conn *tc;	/* NULL: plaintext */
	bool ktls_tx, ktls_rx, registered;
	struct event *ev[2][2];	/* [local, peer][read, write] */
	short fired[2];		/* [local, peer]: what poll reported this wakeup */
	struct event *timer;
	struct event *retry;	/* client: a fresh connect while CS_CONNECT */
	struct sockaddr_storage paddr;	/* client: the peer agent */
	socklen_t paddr_len;
	int connect_err;	/* client: why the last attempt failed */
	struct event *kick;	/* run again next loop iteration */
	bool again;
	struct dir d[2];
	uint8_t ctl[ROUTE_REPLY_MAX];
	size_t ctl_len, ctl_off;
	uint8_t err_status;
};

struct route_listener {
	struct relay *r;
	struct evconnlistener *l;
	struct relay_config_route route;
	bool keep;
};

struct relay {
	struct event_base *base;
	SSL_CTX *cctx;
	struct relay_hooks hooks;
	struct route_table *table;
	struct route_listener **rls;
	size_t n_rls;
	struct evconnlistener *plain;
	struct conn *conns;
	struct relay_stats st;
	uint64_t key_limit;	/* records per key before a software session is reset */
};

/* relay_conn.c */
/* Wait on exactly `want` (EV_READ|EV_WRITE) for one side's socket. */
void relay_conn_want(struct conn *c, int side, short want);
void relay_sock_linger0(int fd);
/* A data-plane (peer) socket's TCP settings: see RELAY_USER_TIMEOUT_MS. */
void relay_sock_peer_opts(int fd);
struct conn *relay_conn_new(struct relay *r, bool client, int lfd, int pfd);
/* reset: RST both ends (SO_LINGER 0); else queued bytes and FIN go out. */
void relay_conn_free(struct conn *c, bool reset);
/* Resets propagate as resets: RST to both ends, logged with why. */
void relay_conn_abort(struct conn *c, const char *why);
void relay_conn_register(struct conn *c);
int relay_conn_offload(struct conn *c);
/* What OpenSSL waits for (EV_READ/EV_WRITE), dflt if nothing. */
short relay_tls_want(const struct tls_conn *tc, short dflt);

/* relay_setup.c */
void relay_conn_step(struct conn *c);
/* One side's read and write events, both running relay_conn_step. */
int relay_conn_events_init(struct conn *c, int side);
/* Client: (re)connect to c->paddr on a fresh socket, retried every
 * RELAY_CONNECT_RETRY_MS until the setup timeout. */
int relay_conn_connect(struct conn *c);

/* relay_pump.c */
/* Bytes a kernel-TLS read gave (a data record read with tlsio) into d's
 * pipe; n == 0 only moves what is held back. 0 or -errno. */
int relay_dir_pipe_put(struct dir *d, const uint8_t *data, size_t n);
int relay_pump_start(struct conn *c);
void relay_pump(struct conn *c);

#endif
