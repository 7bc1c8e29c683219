/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Route tables of the relay and the route header protocol.
 *
 * A route is (db, peer node, target name): a local plaintext endpoint that
 * an unmodified client connects to; the relay carries each connection to
 * the peer node's agent, which connects it to the target named in the
 * route header, but only if its own configuration lists that target for
 * that database (the receiving-side allowlist: never an open proxy).
 *
 * Route header (client agent -> receiving agent, first bytes after the
 * handshake, before any payload), all integers big endian:
 *
 *   "INER" | u8 version (1) | u8 flags (0) | u32 db id | u8 name_len | name
 *
 * name is 1..ROUTE_NAME_MAX bytes of [A-Za-z0-9._:-]. Nothing else is
 * accepted: a wrong magic, version, flag, length or byte is an error.
 *
 * Reply (receiving agent -> client agent):
 *
 *   "INER" | u8 version (1) | u8 status | u8 msg_len | msg (0..255 bytes)
 *
 * status ROUTE_OK means "connected to the target; payload follows". Any
 * other status is followed by the receiver closing the connection; msg is
 * a human-readable reason that names the problem.
 */
#ifndef INE_ROUTE_H
#define INE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ROUTE_MAGIC		"INER"
#define ROUTE_VERSION		1
#define ROUTE_NAME_MAX		64
#define ROUTE_ADDR_MAX		64
#define ROUTE_HDR_FIXED		11	/* magic, version, flags, db, name_len */
#define ROUTE_HDR_MAX		(ROUTE_HDR_FIXED + ROUTE_NAME_MAX)
#define ROUTE_REPLY_FIXED	7	/* magic, version, status, msg_len */
#define ROUTE_REPLY_MAX		(ROUTE_REPLY_FIXED + 255)

#define ROUTE_DP_PORT		3342	/* TLS only: ALPN ine-dp/1 */
#define ROUTE_PLAIN_PORT	3343	/* plaintext data plane, "ine-plain" */

enum route_status {
	ROUTE_OK = 0,
	ROUTE_ERR_UNKNOWN_DB = 1,	/* db not in this node's configuration */
	ROUTE_ERR_NOT_ALLOWED = 2,	/* target not on the db's allowlist */
	ROUTE_ERR_MODE = 3,		/* plaintext for an encrypted db or v.v. */
	ROUTE_ERR_CONNECT = 4,		/* target refused / unreachable */
	ROUTE_ERR_BAD_HEADER = 5,	/* malformed route header */
	ROUTE_ERR_BUSY = 6,		/* out of resources */
	__ROUTE_STATUS_MAX
};

/* ---- configuration (what the control plane hands to relay_apply_config) */

struct relay_config_node {
	uint32_t id;
	char name[ROUTE_NAME_MAX + 1];
	char addr[ROUTE_ADDR_MAX];	/* numeric IPv4/IPv6 address */
	uint16_t dp_port;		/* 0: ROUTE_DP_PORT */
	uint16_t plain_port;		/* 0: ROUTE_PLAIN_PORT */
};

struct relay_config_db {
	uint32_t id;
	bool data_internode_encryption;
};

/* A local endpoint on this node that carries to (peer_node, target). */
struct relay_config_route {
	uint32_t db;
	char listen_addr[ROUTE_ADDR_MAX];	/* "" : 127.0.0.1 */
	uint16_t listen_port;
	uint32_t peer_node;
	char target[ROUTE_NAME_MAX + 1];
};

/* An endpoint on this node that peers may reach for db under name. */
struct relay_config_target {
	uint32_t db;
	char name[ROUTE_NAME_MAX + 1];
	char addr[ROUTE_ADDR_MAX];
	uint16_t port;
};

struct relay_config {
	uint32_t self_node;
	const struct relay_config_node *nodes;
	size_t n_nodes;
	const struct relay_config_db *dbs;
	size_t n_dbs;
	const struct relay_config_route *routes;	/* outgoing, this node */
	size_t n_routes;
	const struct relay_config_target *targets;	/* incoming, this node */
	size_t n_targets;
};

/* ---- route header ---- */

struct route_header {
	uint32_t db;
	char name[ROUTE_NAME_MAX + 1];
};

/* Valid target name: 1..ROUTE_NAME_MAX bytes of [A-Za-z0-9._:-]. */
bool route_name_valid(const char *name, size_t len);

/* Encode into buf (>= ROUTE_HDR_MAX); returns length or -EINVAL. */
int route_header_encode(const struct route_header *h, uint8_t *buf, size_t size);

/*
 * Parse the header at the start of buf. Returns the header's length when
 * complete, 0 when more bytes are needed (never more than ROUTE_HDR_MAX in
 * total), -EBADMSG when it is malformed. Callers read exactly the bytes
 * route_header_need() asks for, so no payload is ever consumed with it.
 */
int route_header_parse(const uint8_t *buf, size_t len, struct route_header *h);
/* How many bytes the header needs in total, given the first len bytes. */
size_t route_header_need(const uint8_t *buf, size_t len);

int route_reply_encode(enum route_status st, const char *msg, uint8_t *buf,
		       size_t size);
/* Like route_header_parse; msg (>= 256 bytes) receives the NUL-ended text. */
int route_reply_parse(const uint8_t *buf, size_t len, uint8_t *status,
		      char *msg);
size_t route_reply_need(const uint8_t *buf, size_t len);
const char *route_status_str(unsigned int st);

/* ---- tables built from a relay_config (build-then-swap) ---- */

struct route_table;

/* Validates cfg (every name, address, reference); -EINVAL with err set. */
int route_table_build(const struct relay_config *cfg, struct route_table **out,
		      char *err, size_t errlen);
void route_table_free(struct route_table *t);

const struct relay_config_db *route_table_db(const struct route_table *t,
					     uint32_t db);
const struct relay_config_node *route_table_node(const struct route_table *t,
						 uint32_t id);
/* The allowlist: the target for (db, name) or NULL. */
const struct relay_config_target *route_table_target(const struct route_table *t,
						     uint32_t db,
						     const char *name);
size_t route_table_n_routes(const struct route_table *t);
const struct relay_config_route *route_table_route(const struct route_table *t,
						   size_t i);
uint32_t route_table_self(const struct route_table *t);

/* Numeric address + port to a sockaddr; -EINVAL if not numeric. */
int route_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
		   socklen_t *len);

#endif
