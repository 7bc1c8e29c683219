/* SPDX-License-Identifier: GPL-2.0 */
/* cp_internal.h — shared by the files of agent/cp/ only; the rest of the
 * agent uses cp.h.  The map of the control plane: its structures, then one
 * heading per file with what that file gives the others.
 *
 * Top to bottom; each file calls only files below it:
 *
 *   cp_daemon.c  the glue into ined: daemon hooks and REST routes
 *   cp.c         lifecycle (cp_new/cp_free), timers, which protocol
 *                serves which ALPN, what a live configuration sets off
 *   join_client.c  the joining node's side of ine-join/1
 *   join_server.c  the primary's side
 *   join.c       cluster create, join tokens, what both join ends share
 *   cp_member.c  the ine-cp/1 member protocol, dialling, peer status,
 *                becoming a member
 *   cp_rotate.c  certificate rotation (manual generation, the PKI plan)
 *   cp_repl.c    configuration and customer certificate replication
 *   cp_sess.c    framed message sessions over TLS; pending requests
 *   cp_tls.c     TLS contexts for our credentials, port 3342's listener
 *   cp_state.c   state getters, the primary, status <-> errno, worker
 *                jobs, cp.json/certs.json
 *
 * The files below cp.c reach the ones above only through the two things
 * cp_new fills in: the protocols (cp->protos) and config_live.
 */
#ifndef INE_CP_INTERNAL_H
#define INE_CP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/config.h"
#include "core/errmsg.h"
#include "cp/cp.h"
#include "pki/pki.h"
#include "cp/token.h"
#include "tls/tls.h"

/* ---- sessions (cp_sess.c), jobs and state (cp_state.c), for every file here ---- */
struct cp_sess;
enum tls_alpn;

struct cp_sess_ops {
	void (*up)(struct cp_sess *s, void *arg);	/* handshake done */
	/* one validated message (borrowed) */
	void (*msg)(struct cp_sess *s, int type, json_t *msg, void *arg);
	/* closed (not called for cp_sess_close from cp_free) */
	void (*closed)(struct cp_sess *s, const char *why, void *arg);
	/* incoming: refuse a certificate that names no node of this
	 * cluster (the listener's verify hook gave no node id) */
	bool members_only;
};

struct tls_conn;

/* A protocol on port 3342: the listener hands it connections whose ALPN
 * is alpn (arg: struct cp *). */
struct cp_proto {
	const char *alpn;
	void (*accept)(void *arg, struct tls_conn *c);
};

/* Outgoing: connect to "host:port", handshake with ctx offering alpn. */
struct cp_sess *cp_sess_dial(struct cp *cp, const char *hostport,
			     SSL_CTX *ctx, enum tls_alpn alpn,
			     const struct cp_sess_ops *ops, void *arg,
			     char *err, size_t errlen);
/* Incoming from the listener (takes c and c->fd). */
struct tls_conn;
struct cp_sess *cp_sess_accept(struct cp *cp, struct tls_conn *c,
			       const struct cp_sess_ops *ops, void *arg);
/* Queue one message (stolen; NULL → -ENOMEM). */
int cp_sess_send(struct cp_sess *s, json_t *msg);
void cp_sess_close(struct cp_sess *s, const char *why);
void cp_sess_close_after_flush(struct cp_sess *s);
SSL *cp_sess_ssl(struct cp_sess *s);

/* Run work(arg) on a thread, then done(arg) on the loop. */
int cp_job_run(struct cp *cp, void (*work)(void *), void (*done)(void *),
	       void *arg);
struct event_base *cp_base(struct cp *cp);
const char *cp_state_dir(const struct cp *cp);
const char *cp_pki_dir(const struct cp *cp);
int64_t cp_certs_version(const struct cp *cp);
struct token_store *cp_tokens(struct cp *cp);
void cp_hostport(const char *host, uint16_t port, char *out, size_t outlen);
/* cp_member.c: become a member with the given state (join / create):
 * takes both. */
int cp_install_membership(struct cp *cp, struct pki_state *st,
			  struct config *cfg, char *err, size_t errlen);
/* Commit a configuration built by the primary (join adds a node). */
int cp_commit_local(struct cp *cp, struct config *next, char *err,
		    size_t errlen);
/* Customer bundle for a joining node (borrowed, may be NULL) and version. */
const json_t *cp_certs_bundle(const struct cp *cp);
int cp_certs_install(struct cp *cp, const json_t *bundle, int64_t version,
		     char *err, size_t errlen);
/* Build the joiner's ine-join/1 client context (no certificate). */
SSL_CTX *cp_tls_join_ctx_new(void);

struct inenl;
struct cp_job;

enum sess_state { S_CONNECTING = 1, S_HANDSHAKE, S_OPEN, S_DEAD };

struct cp_sess {
	struct cp *cp;
	struct cp_sess *next;
	enum sess_state state;
	bool outgoing;
	int fd;
	SSL *ssl;			/* owned (via tc when outgoing) */
	struct tls_conn *tc;		/* outgoing only */
	SSL_CTX *ctx;			/* outgoing: ref held during handshake */
	enum tls_alpn alpn;
	struct event *rev, *wev, *idle;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct evbuffer *out;
	bool close_after_flush;
	char why[CP_ERR_MAX];
	const struct cp_sess_ops *ops;
	void *arg;
	uint32_t peer_id;		/* member sessions: the node */
	long cert_node_id;		/* from its certificate (0: pinned) */
	uint32_t nl_id;			/* ine.ko session id, 0: not registered */
};

enum req_kind { REQ_PROPOSE = 1, REQ_CSR };

struct cp_req {
	struct cp_req *next;
	struct cp *cp;
	int64_t id;
	enum req_kind kind;
	uint32_t peer;
	cp_done_fn done;
	void *arg;
	struct event *timer;
	EVP_PKEY *key;			/* REQ_CSR: the pending key */
	enum pki_plane plane;
};

struct cp_peer {
	struct cp *cp;
	uint32_t id;
	struct cp_sess *sess;		/* live session (outgoing or incoming) */
	bool up;			/* hello received */
	struct event *redial;
	int backoff_ms;
	json_t *status;			/* last status object it sent */
	time_t status_at;
	int64_t version;		/* its config version (from hello) */
	char last_error[CP_ERR_MAX];
};

#define CP_MAX_PEERS 1024

struct cp {
	struct event_base *base;
	struct cp_hooks hooks;
	char dir[PATH_MAX];
	char pki_dir[PATH_MAX + 8];
	uint16_t port;
	char bind_addr[CONFIG_ADDR_MAX];

	struct pki_state *pki_mine;	/* without pki hooks: ours */
	bool pki_owned;
	struct token_store *tokens;
	json_t *certs;			/* customer bundle, or NULL */
	int64_t certs_version;
	uint32_t rotated_gen;

	SSL_CTX *client_ctx;
	uint64_t client_ctx_gen;
	SSL_CTX *server_ctx;
	uint64_t server_ctx_gen;
	char listen_addr[CONFIG_ADDR_MAX];	/* what cp->listener is bound to */
	struct listener *listener;
	struct inenl *nl;		/* ine.ko, NULL when absent */

	struct cp_sess *sessions;
	struct cp_peer *peers[CP_MAX_PEERS + 1];
	struct cp_req *reqs;
	int64_t next_req_id;
	bool csr_inflight[PKI_NPLANES];
	/* clock_mono() of the last scheduled CSR per plane (0: none or it
	 * failed): see CP_RENEW_MIN_S. */
	time_t csr_sent[PKI_NPLANES];

	struct event *tick;
	struct event *cert_tick;
	struct clock_watch *clock_watch;	/* jumps: rotation_check now */
	uint64_t published_gen;		/* PKI generation port 3342 and the
					 * relay were last told about */
	struct event *reaper;
	struct cp_sess *dead;

	int job_pipe[2];		/* workers post finished jobs here */
	struct event *job_ev;
	struct cp_job *jobs;		/* running */
	bool rotating_local;
	bool join_busy;			/* a create or join is under way */

	/* Set by cp_new, so that the layers below cp.c need not call up:
	 * the protocols port 3342 serves ({NULL} ends it), and what a
	 * configuration going live sets off above cp_repl.c (dialling new
	 * members, a rotation it asks for). */
	const struct cp_proto *protos;
	void (*config_live)(struct cp *cp);
};

/* The PKI state: the daemon's when it owns it (read through the hook every
 * time, it may replace it), else ours.  NULL until member. */
static inline struct pki_state *cp_pki_cur(const struct cp *cp)
{
	return cp->hooks.pki_get ? cp->hooks.pki_get(cp->hooks.arg) :
				   cp->pki_mine;
}

/* The live configuration is the daemon's; we read it through the hook. */
static inline const struct config *cp_live(const struct cp *cp)
{
	return cp->hooks.config_get(cp->hooks.arg);
}

/* cp_state.c */
/* The job pipe and its event (cp_new); cp_jobs_free waits for workers
 * still running (their results are dropped). */
int cp_jobs_init(struct cp *cp, char *err, size_t errlen);
void cp_jobs_free(struct cp *cp);
/* cp.json and certs.json into cp, when they exist. */
int cp_load_cpstate(struct cp *cp, char *err, size_t errlen);
/* Write <state_dir>/name (atomic, 0600; the text is wiped after). */
int cp_save_json(const struct cp *cp, const char *name, const json_t *j);
/* cp.json: the rotation generation done here and the bundle's version. */
int cp_save_cpstate(const struct cp *cp);
/* The inverse of cp_http_status for a status a peer sent (a refusal in a
 * result message): 400 -EINVAL, 403 -EACCES, 404 -ENOENT, 409 -EBUSY,
 * 503 -EHOSTUNREACH, anything else -EIO. */
int cp_rc_from_http(long status);

/* cp_tls.c */
/* The member client context; follows the PKI generation. */
SSL_CTX *cp_client_ctx(struct cp *cp);
/* Our credentials changed: serve them on port 3342, tell the daemon. */
void cp_notify_pki(struct cp *cp);
/* Open port 3342 (or give it the current certificates). */
void cp_listener_sync(struct cp *cp);
/* Close it; whoever was told of it forgets it first. */
void cp_listener_drop(struct cp *cp);

/* cp_sess.c */
/* Free the sessions cp_sess_close left for the loop. */
void cp_sess_reap(struct cp *cp);
long cp_sess_cert_node(const struct cp_sess *s);
/* A request to `peer` answered by a message carrying its id; done runs
 * once: on the answer, after CP_REQUEST_TIMEOUT_MS, or when the session
 * to peer is lost. */
struct cp_req *cp_req_new(struct cp *cp, enum req_kind kind, uint32_t peer,
			  cp_done_fn done, void *arg);
struct cp_req *cp_req_find(struct cp *cp, int64_t id);
void cp_req_finish(struct cp_req *r, int rc, const char *msg);
void cp_req_free(struct cp *cp, struct cp_req *r);	/* without done */
void cp_reqs_fail_peer(struct cp *cp, uint32_t peer);

/* cp_repl.c */
json_t *cp_config_msg(const struct cp *cp);
json_t *cp_certs_msg(const struct cp *cp);	/* NULL: no bundle */
/* Send make(cp) to every member whose session is up. */
void cp_broadcast(struct cp *cp, json_t *(*make)(const struct cp *));
/* Save, swap, optionally push: the one way a version becomes live. */
int cp_config_install(struct cp *cp, struct config *next, bool push,
		      char *err, size_t errlen);
/* Primary: commit a customer bundle (version + 1) and its metadata. */
int cp_certs_commit(struct cp *cp, const json_t *bundle, char *err,
		    size_t errlen);

/* cp_rotate.c */
/* Rotate what is due (manual generation moved, or the PKI plan says). */
void cp_rotation_check(struct cp *cp);

/* cp_member.c */
extern const struct cp_sess_ops cp_member_ops;
/* Listener handler for ALPN "ine-cp/1" (arg: struct cp *). */
void cp_member_accept(void *arg, struct tls_conn *c);
/* Dial every lower-id node we have no session with. */
void cp_peers_sync(struct cp *cp);
/* Every CP_PING_MS: ping and status to every peer, redial, publish. */
void cp_member_tick(struct cp *cp);

/* join.c */
/* 1-63 letters, digits, '.', '-', '_'. */
bool join_name_valid(const char *s);
/* The same, as an error naming `what` ("node name"): 0 or -EINVAL. */
int join_name_check(const char *what, const char *s, char *err, size_t errlen);
/* What cluster create and join both refuse first: a node that is a member
 * already (member_rc: create says -EEXIST, join -EISCONN), or one with a
 * create or join under way (-EALREADY). */
int join_start_check(const struct cp *cp, int member_rc, char *err,
		     size_t errlen);
/* "host", "host:port" or "[v6]:port" → host; a port, when given, must be
 * the cluster's CP port. */
int join_parse_address(const struct cp *cp, const char *in, char *host,
		       size_t hostlen, char *err, size_t errlen);
/* Undo a half-made PKI state in dir (its generations and links only). */
void join_rm_tree(const char *dir);
/* SHA-256 of the CA's public key, the token's pin. */
int join_ca_pin(const struct pki_ca *ca, uint8_t pin[TOKEN_PIN_LEN]);

#endif /* INE_CP_INTERNAL_H */
