/* SPDX-License-Identifier: GPL-2.0 */
/* cp.h — the control plane: membership, replicated configuration, and
 * certificate issuance between the agents of one cluster.
 *
 * Model (docs/cluster.md has the operator's view):
 *  - One writer.  The primary (node 1 unless the configuration says
 *    otherwise; it is the node holding the CA key) is the only node that
 *    commits configuration versions.  Every commit is version+1, saved, then
 *    pushed to every connected member.  A write made on another node is
 *    forwarded to the primary over the control plane; with the primary
 *    unreachable it fails (-EHOSTUNREACH, "primary node N unreachable",
 *    HTTP 503) and every node keeps serving its last configuration.
 *  - Full mesh: node i dials every node j < i on port 3342 with ALPN
 *    "ine-cp/1" and mutual TLS (reconnecting with backoff, 1 s doubling to
 *    10 s); both ends send hello {version}; whoever has the newer
 *    configuration (or customer certificate bundle) sends it.  A node that
 *    was down catches up on reconnect, from the primary or any peer (only
 *    the primary makes versions, so a newer one is always the primary's).
 *  - Each node pushes its status object to its peers every few seconds;
 *    cp_status_peers() returns what was last heard from each, with age.
 *  - Certificates: the primary's CA signs CSRs sent over the control plane;
 *    private keys never leave their node.  Customer certificates (cert+key
 *    per plane, cluster-wide) are replicated over the control plane.
 *
 * Single-threaded (the agent's libevent loop).  Functions return 0 or a
 * negative errno; `err` receives a sentence naming the problem.
 * Asynchronous operations return CP_PENDING and later call done(arg, rc,
 * err) exactly once (also on cp_free, with -ECANCELED).
 */
#ifndef INE_CP_H
#define INE_CP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct listener;
struct pki_state;

#define CP_PENDING		1
#define CP_ERR_MAX		256
#define CP_RECONNECT_MIN_MS	500
#define CP_RECONNECT_MAX_MS	10000
#define CP_PING_MS		3000
#define CP_IDLE_TIMEOUT_MS	10000	/* nothing heard: close, redial */
#define CP_REQUEST_TIMEOUT_MS	10000	/* forwarded write / CSR answer */
#define CP_STATUS_MS		3000
#define CP_CERT_CHECK_MS	60000	/* rotation schedule tick */

typedef void (*cp_done_fn)(void *arg, int rc, const char *err);

struct cp_hooks {
	/* The live configuration (the daemon owns it; never NULL). */
	const struct config *(*config_get)(void *arg);
	/* Make next live: validate, save atomically, swap, tell watchers.
	 * Takes next (freed on failure).  Required. */
	int (*config_apply)(void *arg, struct config *next, char *err,
			    size_t errlen);
	/* The PKI state, when the daemon owns it (both NULL: the control
	 * plane loads and owns it in opts.pki_dir).  pki_set hands over a
	 * new state made by create/join (ownership passes). */
	struct pki_state *(*pki_get)(void *arg);
	void (*pki_set)(void *arg, struct pki_state *st);
	/* This node became node `node_id` (create / join). */
	void (*member_changed)(void *arg, uint32_t node_id);
	/* Port 3342 was (re)opened (first membership, new certificate):
	 * register the data plane's "ine-dp/1" handler on it.  l NULL: the
	 * port is about to close (forget the old listener). */
	void (*listener_changed)(void *arg, struct listener *l);
	/* Our certificates or trust changed (rotation, join, upload). */
	void (*pki_changed)(void *arg);
	/* This node's status object for the other nodes (new reference). */
	json_t *(*status_local)(void *arg);
	void *arg;
};

struct cp_opts {
	const char *state_dir;		/* tokens.json, certs.json, cp.json */
	const char *pki_dir;		/* PKI state; NULL = <state_dir>/pki */
	uint16_t port;			/* every node's port; 0 = 3342 */
	const char *bind_addr;		/* NULL: this node's configured address */
	struct cp_hooks hooks;
};

struct cp;

/* Load what the state directory holds (nothing yet is fine: a standalone
 * node with an empty configuration) and, when a member, start dialling. */
int cp_new(struct event_base *base, const struct cp_opts *opts,
	   struct cp **out, char *err, size_t errlen);
void cp_free(struct cp *cp);

/* Port 3342 once a member (NULL before): the control plane opens it with
 * the node's certificates and handles "ine-cp/1" and "ine-join/1" on it. */
struct listener *cp_listener(struct cp *cp);

/* ined glue (cp_daemon.c): daemon hooks for cp_new, then REST routes
 * POST /v1/cluster, POST /v1/cluster/join-token, POST /v1/cluster/join,
 * PUT /v1/cluster/certificates, and the daemon's commit/status hooks. */
struct daemon;
struct api;
void cp_hooks_daemon(struct cp_hooks *h, struct daemon *d);
int cp_attach(struct cp *cp, struct daemon *d, struct api *api);

/* SSL_CTX with the tls.h policy for this node's current credentials (the
 * server one accepts ine-cp/1, ine-dp/1 and ine-join/1).  NULL when not a
 * member yet or on error.  Peer check: pki_verify_peer on our trust. */
SSL_CTX *cp_tls_ctx_new(struct cp *cp, bool server);

/* ---- state ---- */
const struct config *cp_config(const struct cp *cp);	/* never NULL */
bool cp_is_member(const struct cp *cp);
uint32_t cp_node_id(const struct cp *cp);		/* 0 if standalone */
uint32_t cp_primary_id(const struct cp *cp);
bool cp_is_primary(const struct cp *cp);
struct pki_state *cp_pki(struct cp *cp);		/* NULL if standalone */
/* Other nodes (GET /v1/status, inectl status): per node the status object
 * it last pushed (the daemon's status_local shape: uid, offload,
 * certificates, sessions, ...) with, on top, node_id, name, address,
 * primary, connected, reported, status_age_s and the last connection error.
 * From the cache, never blocks.  New reference. */
json_t *cp_status_peers(struct cp *cp);
/* This node's control-plane view: {node_id, primary_id, role,
 * config_version, certs_version, peers:[{node_id, connected, ...}]}. */
json_t *cp_status_self(struct cp *cp);

/* ---- operations (REST / inectl) ---- */

/* POST /v1/cluster: make the cluster id, CA and this node's certificates
 * (node 1, the primary), and the first configuration (keeping databases
 * and policy already configured on this standalone node).  address is
 * where the other nodes reach this one ("host" or "host:3342").  The keys
 * are made on a worker thread: CP_PENDING, then done. */
int cp_cluster_create(struct cp *cp, const char *name, const char *node_name,
		      const char *address, cp_done_fn done, void *arg,
		      char *err, size_t errlen);

/* POST /v1/cluster/join_tokens (primary only): ttl seconds (0 = 15 min).
 * Writes the token string into out (TOKEN_STR_MAX is enough). */
int cp_join_token_new(struct cp *cp, long ttl, char *out, size_t outlen,
		      char *err, size_t errlen);

/* POST /v1/cluster/join: asynchronous (CP_PENDING, then done).  Refused
 * before touching anything if this node is already a member. */
int cp_cluster_join(struct cp *cp, const char *token, const char *node_name,
		    const char *address, cp_done_fn done, void *arg,
		    char *err, size_t errlen);

/* Every configuration write.  Takes ownership of next (a modified copy of
 * cp_config(); next->version is the live version or live + 1).
 * 0: committed here (primary or standalone).  CP_PENDING: forwarded to the
 * primary; done follows.  -EHOSTUNREACH: primary unreachable (503);
 * -EBUSY: the configuration changed meanwhile, retry (409); -EINVAL:
 * refused by validation (400). */
int cp_config_propose(struct cp *cp, struct config *next, cp_done_fn done,
		      void *arg, char *err, size_t errlen);

/* PUT /v1/cluster/certificates: a customer certificate bundle, JSON
 * {"certificates":[{name, certificate, key}, ...]} as the REST body.
 * Validated here first (-EINVAL + err), then committed by the primary like
 * a configuration write (0 / CP_PENDING / -EHOSTUNREACH) and replicated to
 * every node, each of which serves it. */
int cp_certs_propose(struct cp *cp, const json_t *body, cp_done_fn done,
		     void *arg, char *err, size_t errlen);

/* POST /v1/cluster/certificates/rotate: rotate the internal certificates
 * of every node (a replicated rotation generation; each node re-keys and
 * has the CA sign its CSRs).  Same return convention. */
int cp_certs_rotate(struct cp *cp, cp_done_fn done, void *arg, char *err,
		    size_t errlen);

/* Map an operation's error to an HTTP status (400/409/503/500). */
int cp_http_status(int rc);

/* Every node's control-plane port (3342 unless configured). */
uint16_t cp_port(const struct cp *cp);

#endif /* INE_CP_H */
