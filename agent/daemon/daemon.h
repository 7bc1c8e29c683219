/* SPDX-License-Identifier: GPL-2.0 */
/* daemon.h — ined's live state and the one path a configuration change takes.
 *
 * The live configuration is replaced whole, never edited in place:
 * daemon_config_apply validates a complete new configuration, writes it
 * atomically to the state directory, swaps the pointer and then tells every
 * watcher (relay, control plane) about old → new.  If validation or the
 * write fails nothing changes and the old configuration keeps running.
 *
 * Writes from the REST API go through daemon_config_commit, which bumps the
 * version and either applies locally or — when the control plane installed
 * a commit hook — hands the change to it (e.g. to forward it to the
 * cluster's primary, which replicates it back via daemon_config_apply).
 *
 * Files: daemon.c (lifecycle, the change path, ine.ko and PKI timers, the
 * getters and setters), daemon_status.c (status, alerts and metrics as the
 * API shows them), daemon_ops.c (the API ops table: certificate uploads and
 * rotation, single-node cluster creation), daemon_relay.c (the data-plane
 * glue, a client of this header like any other part).
 */
#ifndef INE_DAEMON_H
#define INE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>

#include "api/api.h"
#include "core/config.h"

struct pki_state;
struct inenl;
struct metrics_snapshot;

#define DAEMON_STATE_DIR  "/var/lib/ine"
#define DAEMON_MAX_WATCH  8

typedef void (*daemon_watch_fn)(void *arg, const struct config *old,
				const struct config *cur);
typedef int (*daemon_commit_fn)(void *arg, struct api_req *req, struct config *next,
				char *err, size_t errlen);
typedef json_t *(*daemon_json_fn)(void *arg);
/* A candidate configuration may be refused (before the swap) by a part
 * that could not run it: -EINVAL and err. */
typedef int (*daemon_check_fn)(void *arg, const struct config *next, uint32_t self,
			       char *err, size_t errlen);

struct listener_stats;

/* What the data plane (daemon_relay.c) lends the daemon's status, alerts
 * and metrics, and the key limit's replacement of a session.  Every member
 * is optional. */
struct daemon_dp_ops {
	/* Without ine.ko: the agent's own sessions (array) and counters; with
	 * it, ine.ko's registry is the one source. */
	json_t *(*sessions)(void *arg);
	void (*metrics_fill)(void *arg, struct metrics_snapshot *m);
	json_t *(*alerts)(void *arg);		/* more alerts (array) */
	/* Reset the relayed connection whose TLS socket is fd (keylimit.c);
	 * -ENOENT if fd is not one of its connections. */
	int (*retire)(void *arg, int fd, const char *why);
	/* Records per key for software-TLS connections, as set in ine.ko. */
	void (*key_limit)(void *arg, uint64_t records);
	uint64_t (*key_limit_resets)(void *arg);
};

/* Opaque: other parts read it through the getters below and plug into it
 * with the setters and the watch pair, so the arrows point into the daemon
 * and never back (daemon_internal.h holds the fields). */
struct daemon;

/* Loads <state_dir>/config.json (or starts empty) and the PKI state in
 * <state_dir>/pki (current -> gen-N, see pki.h; the control plane's
 * default pki_dir too); starts the PKI timer. */
int daemon_new(struct event_base *base, const char *state_dir, struct daemon **out,
	       char *err, size_t errlen);
void daemon_free(struct daemon *d);	/* NULL: nothing */

/* Open ine.ko's netlink family; without the module the agent carries on
 * (returns the negative errno, daemon_nl stays NULL) and says so. */
int daemon_kmod_open(struct daemon *d);

/* Re-read the configuration from disk (SIGHUP): swapped in only if whole
 * and valid; otherwise -errno, err says why, and the old one stays. */
int daemon_reload(struct daemon *d, char *err, size_t errlen);

/* Be told of every configuration swapped in (fn) and, optionally, refuse
 * one before the swap (check).  -ENOSPC past DAEMON_MAX_WATCH. */
int daemon_watch_add(struct daemon *d, daemon_watch_fn fn, daemon_check_fn check,
		     void *arg);
/* Drop every watch added with arg. */
void daemon_watch_remove(struct daemon *d, void *arg);

/* Apply `next` as is (ownership passes, freed on failure).  -ESTALE if its
 * version is older than the live one. */
int daemon_config_apply(struct daemon *d, struct config *next, char *err, size_t errlen);

/* The API's write path: version = live + 1, then the commit hook or apply. */
int daemon_config_commit(struct daemon *d, struct api_req *req, struct config *next,
			 char *err, size_t errlen);

/* Adopt a PKI state made by cluster create/join (ownership passes): sets
 * the node id and (re)starts the rotation timer. */
void daemon_pki_set(struct daemon *d, struct pki_state *pki);

/* The live state, borrowed (valid until the next change on the loop). */
const struct config *daemon_config(const struct daemon *d);	/* never NULL */
uint32_t daemon_self(const struct daemon *d);	/* 0 before create/join */
struct event_base *daemon_base(const struct daemon *d);
struct inenl *daemon_nl(const struct daemon *d);	/* NULL without ine.ko */
struct pki_state *daemon_pki(const struct daemon *d);	/* NULL before create/join */
const char *daemon_pki_dir(const struct daemon *d);	/* <state_dir>/pki */
bool daemon_ktls_available(const struct daemon *d);
/* The last configuration write that failed, "" once one worked. */
const char *daemon_store_fault(const struct daemon *d);

/* Hooks other parts install; fn NULL removes. */
/* Control plane: route API writes (e.g. to the cluster's primary). */
void daemon_set_commit_hook(struct daemon *d, daemon_commit_fn fn, void *arg);
/* Control plane: other nodes' status objects (array). */
void daemon_set_status_peers(struct daemon *d, daemon_json_fn fn, void *arg);
/* Control plane: port 3342's handshake counters; -ENOENT while nothing
 * listens (no cluster yet). */
void daemon_set_listener_stats(struct daemon *d,
			       int (*fn)(void *arg, struct listener_stats *st), void *arg);
/* Data plane (ops must outlive its installation); ops NULL removes the
 * one installed with arg. */
void daemon_set_dataplane(struct daemon *d, const struct daemon_dp_ops *ops, void *arg);
/* The node id without PKI state, for tests; daemon_pki_set sets it. */
void daemon_set_self(struct daemon *d, uint32_t node_id);

/* The ops table api_create gets, with `d` as context (daemon_ops.c). */
extern const struct api_ops daemon_api_ops;

#endif /* INE_DAEMON_H */
