/* SPDX-License-Identifier: GPL-2.0 */
/*
 * broker.h - the agent side of libine: applications ask, over a local Unix
 * socket (SOCK_SEQPACKET, default BROKER_SOCKET), for a data-plane
 * connection to a peer node; the agent connects, handshakes with this
 * node's DP certificate, installs kernel TLS both ways, registers the
 * session with ine.ko, sends the route header (route.h) and passes the
 * connected socket back with SCM_RIGHTS.  Keys never leave the agent.
 *
 * Who may ask: the socket is mode 0660, group INE_BROKER_GROUP (default:
 * the group "ine" if it exists; without a group 0600, root only), so only
 * root and that group can connect at all.  Of those, root always may;
 * other callers only when their SO_PEERCRED uid or gid is on the allowlist
 * given to broker_new (ined reads it from INE_BROKER_ALLOW, e.g.
 * "uid:1000,gid:ine"; see docs/libine.md).  The allowlist is checked at
 * accept: everybody else gets -EACCES at once.  A caller has
 * BROKER_REQUEST_TIMEOUT_S to send its request, and at most
 * BROKER_MAX_PENDING callers wait to send one (more get -EBUSY).
 * broker_new refuses (-EADDRINUSE) a path another live ined answers on.
 *
 * Wire format (one datagram each way), integers big endian:
 *
 *   request:  "INEB" | u8 version (1) | u8 op | u16 0 | u32 node | u32 db |
 *             u8 name_len | name (1..ROUTE_NAME_MAX of route_name_valid)
 *   reply:    "INEB" | u8 version (1) | u8 mode | i32 err (0 or -errno) |
 *             u8 msg_len | msg ; with err == 0 one fd in SCM_RIGHTS
 *
 * op CONNECT (node, db, name): a connected socket to target `name` of db
 * on node.  op LISTEN (node ignored, db, name): a listening TCP socket on
 * this node's configured address of target `name` (the peer's relay
 * splices incoming data-plane connections to it; docs/libine.md).
 *
 * Brokered sockets stay the agent's business after the hand-off: the
 * agent keeps its own reference (a dup of the same socket) so that the
 * ine.ko registration lives as long as the connection, and so that a
 * change of the db's data_internode_encryption can shutdown(SHUT_RDWR)
 * it under the application.  The agent drops its reference when both
 * directions are done (the peer's FIN and the app's ine_shutdown or
 * ine_close; a half-close alone is not the end).  A connection still being
 * set up when its db's policy changes fails with -ECONNABORTED: nothing
 * goes live in a mode the live policy does not say.
 * Without kernel TLS the app gets one end of a loopback TCP connection
 * that the agent pumps through OpenSSL (mode software; broker_pump.c):
 * the peer's close_notify arrives as a FIN, anything else (truncation, TLS
 * error, key limit, policy teardown) as a reset.  Never plaintext for an
 * encrypted db.
 */
#ifndef INE_BROKER_H
#define INE_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#define BROKER_SOCKET		"/run/ine/broker.sock"
#define BROKER_MAGIC		"INEB"
#define BROKER_VERSION		1
#define BROKER_REQ_FIXED	17
#define BROKER_REQ_MAX		(BROKER_REQ_FIXED + 64)
#define BROKER_REPLY_FIXED	11
#define BROKER_REPLY_MAX	(BROKER_REPLY_FIXED + 255)
#define BROKER_MAX_ALLOW	32
/* Software pump: TLS records sent under one key before the session ends
 * (90 % of AES-GCM's 2^24.5, as ine.ko's threshold; keylimit.h). */
#define BROKER_RECORD_LIMIT	21345000ULL

enum broker_op { BROKER_OP_CONNECT = 1, BROKER_OP_LISTEN = 2 };
/* Same numbers as enum ine_mode in <ine/ine.h>. */
enum broker_mode {
	BROKER_MODE_NONE = 0,
	BROKER_MODE_OFFLOADED = 1,
	BROKER_MODE_SOFTWARE = 2,
	BROKER_MODE_PLAINTEXT = 3,
};

struct broker_req {
	uint8_t op;
	uint32_t node, db;
	char name[64 + 1];
};

/* Parse one request datagram: 0, or -EBADMSG (malformed: wrong magic,
 * version, op, reserved bits, length or name byte). */
int broker_req_parse(const uint8_t *buf, size_t len, struct broker_req *r);
/* Encode; returns the length or -EINVAL. */
int broker_req_encode(const struct broker_req *r, uint8_t *buf, size_t size);
int broker_reply_encode(int err, uint8_t mode, const char *msg, uint8_t *buf,
			size_t size);

struct broker_allow {
	bool gid;		/* false: uid */
	uint32_t id;
};

/* "uid:1000,gid:ine,0" (names resolved with getpwnam/getgrnam; a bare
 * number is a uid).  Returns how many entries, or -EINVAL with err set. */
int broker_allow_parse(const char *s, struct broker_allow *out, size_t max,
		       char *err, size_t errlen);
/* May uid/gid (SO_PEERCRED) use the broker?  Root always may. */
bool broker_allowed(const struct broker_allow *a, size_t n, uid_t uid, gid_t gid);

struct daemon;
struct broker;

struct broker_opts {
	const char *path;			/* NULL: BROKER_SOCKET */
	const struct broker_allow *allow;
	size_t n_allow;
	SSL_CTX *(*ctx_new)(void *arg);		/* this node's DP client context */
	void *ctx_arg;
	uint16_t dp_port;			/* peers' port when their address has none; 0: 3342 */
	uint16_t plain_port;			/* peers' plaintext data plane; 0: 3343 */
	gid_t sock_gid;				/* socket's group (0660); 0 or -1: none (0600) */
	uint64_t record_limit;			/* 0: BROKER_RECORD_LIMIT */
};

/* Listen on opts->path and follow the daemon's configuration.  -errno on
 * failure (-EADDRINUSE: another ined serves that path). */
int broker_new(struct daemon *d, const struct broker_opts *o, struct broker **out);
void broker_free(struct broker *b);

/* ined's one registration call: options from INE_BROKER_SOCKET and
 * INE_BROKER_ALLOW; failure is logged and the daemon runs without it. */
struct broker *broker_start(struct daemon *d, SSL_CTX *(*ctx_new)(void *arg), void *arg,
			    uint16_t dp_port);

#endif
