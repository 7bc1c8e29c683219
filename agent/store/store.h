/* SPDX-License-Identifier: GPL-2.0 */
/* store.h — ine's client of etcd v3 (the control plane's store).
 *
 * The whole interface the rest of the agent uses; docs/store.md has the
 * design, the key layout and what each failure does.  etcd is reached
 * through its v3 JSON gateway (POST /v3/...) with libcurl, keys and values
 * base64 on the wire and plain bytes here.
 *
 * Conventions:
 *  - Every int-returning function returns 0 or a negative errno; on failure
 *    err->msg (when err is not NULL) is a sentence naming the problem.
 *    The errors callers branch on:
 *      -STORE_EQUORUM  the cluster has no quorum (no leader, or the request
 *                      timed out inside etcd): nothing may be written now
 *      -ECONNREFUSED   no endpoint answered at all
 *      -ETIMEDOUT      a write got no answer: it MAY have been committed
 *      -ECANCELED      a compare-and-swap lost (someone else wrote first)
 *      -ESTALE         a fenced write from a leader that is no longer one
 *      -ENOENT         no such key / lease
 *      -ERANGE         a watch's revision was compacted (see store_watch)
 *  - Revisions are etcd's (int64, cluster-wide, monotonic).
 *  - The key/value calls block (one HTTP request, bounded by the timeout);
 *    watches and member supervision run on the caller's libevent base.
 *  - Single-threaded, like the rest of the agent.
 */
#ifndef INE_STORE_H
#define INE_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* "Link has been severed": the one errno that means "quorum lost". */
#define STORE_EQUORUM	ENOLINK
#define STORE_ERR_MAX	256
#define STORE_MAX_EP	9

struct store_err {
	char msg[STORE_ERR_MAX];
};

/* ------------------------------------------------------------ client */

struct store_opts {
	/* Client URLs of the members, "https://127.81.0.1:2379"; tried in
	 * order, starting from the last one that answered. */
	const char *endpoints[STORE_MAX_EP];
	size_t n_endpoints;
	/* Mutual TLS: all three or none (then http:// endpoints only). */
	const char *ca_file, *cert_file, *key_file;
	long timeout_ms;	/* per request; 0: 10,000 (> etcd's own 7 s) */
};

struct store;
int store_open(const struct store_opts *o, struct store **out,
	       struct store_err *err);
void store_close(struct store *s);	/* NULL: no-op */
/* The endpoint the last request was answered by. */
const char *store_endpoint(const struct store *s);

/* ------------------------------------------------------------ kv */

struct store_kv {
	uint8_t *key, *value;	/* NUL-terminated for convenience */
	size_t key_len, value_len;
	int64_t create_rev, mod_rev, version, lease;
};

void store_kvs_free(struct store_kv *kvs, size_t n);

/* *rev: the store's revision at the read (may be NULL). -ENOENT if absent. */
int store_get(struct store *s, const char *key, struct store_kv **out,
	      int64_t *rev, struct store_err *err);
/* Every key starting with prefix, in key order. */
int store_range(struct store *s, const char *prefix, struct store_kv **out,
		size_t *n, int64_t *rev, struct store_err *err);
/* lease 0: none.  *rev: the revision of the write. */
int store_put(struct store *s, const char *key, const void *val, size_t len,
	      int64_t lease, int64_t *rev, struct store_err *err);
int store_delete(struct store *s, const char *key, int64_t *rev,
		 struct store_err *err);
/* Write only if key's mod_revision is still expect_mod_rev (0: the key must
 * not exist).  -ECANCELED when it moved on; *rev is then the store's. */
int store_cas(struct store *s, const char *key, int64_t expect_mod_rev,
	      const void *val, size_t len, int64_t *rev, struct store_err *err);

/* ------------------------------------------------------------ lease, election */

int store_lease_grant(struct store *s, int ttl, int64_t *id,
		      struct store_err *err);
/* One keepalive; *ttl the seconds left.  -ENOENT if the lease expired. */
int store_lease_keepalive(struct store *s, int64_t id, int *ttl,
			  struct store_err *err);
int store_lease_revoke(struct store *s, int64_t id, struct store_err *err);

/* Become leader: create `key` = id under `lease` if nobody holds it.
 * 0 and *fence = the key's create_revision on success; -EBUSY if someone
 * else leads (their id in err).  The fence is the leader's term. */
int store_elect_campaign(struct store *s, const char *key, const char *id,
			 int64_t lease, int64_t *fence, struct store_err *err);
/* Who leads now: *id (malloc'd) and *fence.  -ENOENT: nobody. */
int store_elect_leader(struct store *s, const char *key, char **id,
		       int64_t *fence, struct store_err *err);
/* Step down, only if still the leader of term `fence`. */
int store_elect_resign(struct store *s, const char *key, int64_t fence,
		       struct store_err *err);
/* A write that commits only while leader_key's create_revision is `fence`:
 * a deposed leader (its lease expired, someone else elected) gets -ESTALE
 * and nothing is written. */
int store_put_fenced(struct store *s, const char *leader_key, int64_t fence,
		     const char *key, const void *val, size_t len,
		     int64_t *rev, struct store_err *err);

/* Keeps a lease alive from a libevent timer (every ttl/3).  lost() is
 * called once if the lease expires or cannot be renewed before it would:
 * from then on the holder must act as deposed. */
typedef void (*store_lost_fn)(void *arg, int error, const char *why);
struct store_keeper;
struct store_keeper *store_keeper_new(struct store *s, struct event_base *base,
				      int64_t lease, int ttl,
				      store_lost_fn lost, void *arg);
void store_keeper_free(struct store_keeper *k);	/* NULL: no-op */

/* ------------------------------------------------------------ watch */

enum store_ev_type {
	STORE_EV_PUT,
	STORE_EV_DELETE,
};

struct store_event {
	enum store_ev_type type;
	struct store_kv kv;	/* for a delete: key and mod_rev only */
};

/* Events in revision order, each revision once, across reconnects. */
typedef void (*store_watch_fn)(void *arg, const struct store_event *ev);
/* The watch broke for good: -ERANGE when the revision it needed was
 * compacted (the caller re-reads with store_range and watches again from
 * that revision + 1), or another negative errno.  The watch is then idle. */
typedef void (*store_watch_err_fn)(void *arg, int error, const char *why);

struct store_watch;
/* Every change under prefix from start_rev (0: from now). */
struct store_watch *store_watch_new(struct store *s, struct event_base *base,
				    const char *prefix, int64_t start_rev,
				    store_watch_fn fn, store_watch_err_fn err_fn,
				    void *arg, struct store_err *err);
void store_watch_free(struct store_watch *w);	/* NULL: no-op */
/* The next revision the watch will deliver (resume point). */
int64_t store_watch_next_rev(const struct store_watch *w);
/* How many times the stream was re-established after a break. */
unsigned store_watch_reconnects(const struct store_watch *w);

/* ------------------------------------------------------------ member */

/* A local etcd member that ined starts and restarts. */
struct store_member_opts {
	const char *etcd_bin;		/* NULL: "etcd" on PATH */
	const char *state_dir;		/* data goes to <state_dir>/etcd */
	const char *name;		/* "n1" */
	const char *peer_url;		/* "https://127.81.0.1:2380" */
	const char *client_url;		/* "https://127.81.0.1:2379" */
	const char *initial_cluster;	/* "n1=https://...:2380,n2=..." */
	bool join_existing;		/* --initial-cluster-state existing */
	/* TLS for clients and peers (mutual); NULL: plain http */
	const char *ca_file, *cert_file, *key_file;
	int heartbeat_ms, election_ms;	/* 0: 100 / 1000 (etcd's defaults) */
	const char *log_path;		/* etcd's output; NULL: /dev/null */
};

struct store_member;
struct store_member *store_member_start(struct event_base *base,
					const struct store_member_opts *o,
					struct store_err *err);
/* Stop supervising and stop the member (SIGTERM, then SIGKILL). */
void store_member_stop(struct store_member *m);	/* NULL: no-op */
pid_t store_member_pid(const struct store_member *m);	/* 0 while down */
unsigned store_member_restarts(const struct store_member *m);

#endif
