/* SPDX-License-Identifier: GPL-2.0 */
/* config.h — the cluster configuration model.
 *
 * One `struct config` is the whole replicated cluster configuration: cluster
 * identity, member nodes, the policy default, databases (bdbs) with their
 * data_internode_encryption flag and allowed relay targets, relay routes and
 * the certificate mode.  It is immutable once published: a change builds a
 * new copy (config_dup + edit), validates it whole (config_validate) and is
 * swapped in by the owner; readers never see a half-applied change.
 *
 * JSON (jansson) is the on-disk and on-wire form.  Parsing is strict: unknown
 * fields, wrong types and dangling references are refused, and the error
 * string names the offending field ("bdbs[1].targets[0].address: ...").
 * Every function returns 0 or a negative errno.
 */
#ifndef INE_CONFIG_H
#define INE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define CONFIG_NAME_MAX   64   /* names incl. NUL */
#define CONFIG_ADDR_MAX   64   /* host part of an address incl. NUL */
#define CONFIG_ERR_MAX    256  /* size callers give for error strings */
#define CONFIG_INE_PORT   3342 /* both planes; never a route listen port */

enum config_plane { CONFIG_PLANE_CP = 0, CONFIG_PLANE_DP = 1, CONFIG_PLANE_N };

enum config_cert_mode { CONFIG_CERT_INTERNAL = 0, CONFIG_CERT_CUSTOMER };

struct config_node {
	uint32_t id;                    /* 1, 2, ... */
	char name[CONFIG_NAME_MAX];
	char address[CONFIG_ADDR_MAX];  /* IPv4/IPv6 literal or host name */
};

/* A database endpoint the relay may connect to on `node` (never anything
 * else: the agent is not an open proxy). */
struct config_target {
	char name[CONFIG_NAME_MAX];
	uint32_t node;
	char host[CONFIG_ADDR_MAX];
	uint16_t port;
};

struct config_bdb {
	uint32_t id;
	char name[CONFIG_NAME_MAX];
	bool encrypt;                   /* data_internode_encryption */
	size_t n_targets;
	struct config_target *targets;
};

/* Local plaintext endpoint on `node` (0: every node but peer_node) at
 * listen_port, carried over the data plane to `target` of `bdb` on
 * peer_node. */
struct config_route {
	uint32_t id;
	uint32_t bdb;
	uint32_t node;
	uint16_t listen_port;
	uint32_t peer_node;
	char target[CONFIG_NAME_MAX];
};

/* Certificate metadata that is the same on every node (customer certs are
 * shared; internal ones differ per node and live in PKI state, so only the
 * mode and the rotation generation are replicated for them). */
struct config_cert_meta {
	char subject[256];
	char serial[80];                /* hex */
	int64_t not_after;              /* unix seconds, 0 if unknown */
};

struct config_certs {
	enum config_cert_mode mode;
	uint32_t generation;            /* bumped by every rotation / upload */
	struct config_cert_meta plane[CONFIG_PLANE_N];
};

struct config {
	uint64_t version;               /* bumped on every committed change */
	char cluster_id[40];            /* UUID string; "" before cluster create */
	char cluster_name[CONFIG_NAME_MAX];
	bool policy_encrypt;            /* policy.data_internode_encryption */
	size_t n_nodes, n_bdbs, n_routes;
	struct config_node *nodes;
	struct config_bdb *bdbs;
	struct config_route *routes;
	struct config_certs certs;
};

struct config *config_new(void);
void config_free(struct config *cfg);
int config_dup(const struct config *cfg, struct config **out);

/* Whole-configuration JSON; from_json also runs config_validate. */
json_t *config_to_json(const struct config *cfg);
int config_from_json(const json_t *j, struct config **out, char *err, size_t errlen);

/* Cross-checks: unique ids/names/ports, references resolve. */
int config_validate(const struct config *cfg, char *err, size_t errlen);

/* Persistence: one file, replaced atomically through atomicfile_write
 * (temp, fsync, rename, fsync dir), mode 0600.  load returns -ENOENT when there is none yet. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
int config_save(const struct config *cfg, const char *path);

/* Lookups; NULL when absent. */
struct config_node *config_node_find(const struct config *cfg, uint32_t id);
struct config_bdb *config_bdb_find(const struct config *cfg, uint32_t id);
struct config_route *config_route_find(const struct config *cfg, uint32_t id);
struct config_target *config_bdb_target_find(const struct config_bdb *bdb, const char *name);

/* Appending; the item is copied (targets deep-copied).  id 0 means "pick the
 * next free id"; the chosen id is returned through the item's copy. */
int config_node_add(struct config *cfg, const struct config_node *n);
int config_bdb_add(struct config *cfg, const struct config_bdb *b, uint32_t *id);
int config_route_add(struct config *cfg, const struct config_route *r, uint32_t *id);
int config_route_del(struct config *cfg, uint32_t id);

/* Per-object JSON, the REST API's bodies. */
json_t *config_node_to_json(const struct config_node *n);
json_t *config_bdb_to_json(const struct config_bdb *b);
json_t *config_route_to_json(const struct config_route *r);
json_t *config_policy_to_json(const struct config *cfg);
json_t *config_certs_to_json(const struct config_certs *c);

/* Strict parsers for one object.  `partial` (PUT) allows any subset of the
 * writable fields and applies them onto *b; otherwise required fields must be
 * present.  `where` prefixes error messages ("bdbs[2]", "body"). */
int config_bdb_from_json(const json_t *j, struct config_bdb *b, bool partial,
			 const char *where, char *err, size_t errlen);
int config_route_from_json(const json_t *j, struct config_route *r,
			   const char *where, char *err, size_t errlen);
int config_node_from_json(const json_t *j, struct config_node *n,
			  const char *where, char *err, size_t errlen);
void config_bdb_clear(struct config_bdb *b);

/* "host:port" / "[v6]:port" → parts; -EINVAL on anything else. */
int config_hostport_parse(const char *s, char *host, size_t hostlen, uint16_t *port);

const char *config_cert_mode_name(enum config_cert_mode m);
/* The certificates object's key of a plane ("ccs_internode_encryption",
 * "data_internode_encryption"), the product page's names. */
const char *config_plane_key(enum config_plane p);

#endif /* INE_CONFIG_H */
