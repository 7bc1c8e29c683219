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
struct daemon_relay;
struct metrics_snapshot;
struct clock_watch;

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

struct daemon {
	struct event_base *base;
	char *state_dir;
	char *config_path;        /* <state_dir>/config.json */
	char *pki_dir;            /* <state_dir>/pki (pki.h's store) */
	struct config *cfg;       /* live; never NULL after daemon_init */
	uint32_t self_node;       /* this node's uid, 0 before create/join */
	struct api *api;
	struct pki_state *pki;    /* NULL before create/join */
	struct event *pki_timer;  /* pki_state_tick: rotation, fallback, alerts */
	unsigned pki_retry_s;     /* after a failed tick: next retry (backs off) */
	struct clock_watch *clock_watch;  /* wall-clock jumps re-plan at once */
	bool kmod_loaded;         /* ine.ko present */
	struct inenl *nl;         /* ine.ko client; NULL without the module */
	struct event *kmod_timer; /* notices an ine.ko reload (inenl_check) */
	unsigned long kmod_replays;	/* inenl_replays() when last looked */
	bool ktls_available;      /* kernel has the tls ULP */

	/* Hooks other parts install (all optional). */
	daemon_commit_fn commit_hook;   /* control plane: route writes */
	void *commit_arg;
	daemon_json_fn status_peers;    /* control plane: other nodes' status */
	void *status_peers_arg;
	/* Without ine.ko: the agent's own sessions (array) and counters
	 * (relay glue); with it, ine.ko's registry is the one source. */
	daemon_json_fn sessions_local;
	void (*metrics_fill)(void *arg, struct metrics_snapshot *m);
	void *sessions_arg;
	struct {
		daemon_watch_fn fn;
		daemon_check_fn check;  /* optional */
		void *arg;
	} watch[DAEMON_MAX_WATCH];
	struct daemon_relay *relay;          /* data-plane glue (daemon_relay.c) */
	json_t *(*alerts_extra)(void *arg);  /* more alerts (array), optional */
	void *alerts_extra_arg;
	/* Data plane: reset the relayed connection whose TLS socket is fd
	 * (keylimit.c); -ENOENT if fd is not one of its connections. */
	int (*session_retire)(void *arg, int fd, const char *why);
	void *session_retire_arg;
	struct keylimit *keylimit;	/* NULL without ine.ko */
	/* Control plane: port 3342's handshake counters; -ENOENT while
	 * nothing listens (no cluster yet). */
	int (*listener_stats)(void *arg, struct listener_stats *st);
	void *listener_stats_arg;
	int n_watch;
	/* The last configuration write that failed (empty: the last one
	 * worked): an alert until a write succeeds. */
	char store_fault[256];
};

/* Loads <state_dir>/config.json (or starts empty) and the PKI state in
 * <state_dir>/pki (current -> gen-N, see pki.h; the control plane's
 * default pki_dir too); starts the PKI timer. */
int daemon_init(struct daemon *d, struct event_base *base, const char *state_dir,
		char *err, size_t errlen);
void daemon_fini(struct daemon *d);

/* Open ine.ko's netlink family; without the module the agent carries on
 * (returns the negative errno, d->nl stays NULL) and says so. */
int daemon_kmod_open(struct daemon *d);

/* Re-read the configuration from disk (SIGHUP): swapped in only if whole
 * and valid; otherwise -errno, err says why, and the old one stays. */
int daemon_reload(struct daemon *d, char *err, size_t errlen);

int daemon_watch_add(struct daemon *d, daemon_watch_fn fn, daemon_check_fn check,
		     void *arg);

/* Apply `next` as is (ownership passes, freed on failure).  -ESTALE if its
 * version is older than the live one. */
int daemon_config_apply(struct daemon *d, struct config *next, char *err, size_t errlen);

/* The API's write path: version = live + 1, then commit_hook or apply. */
int daemon_config_commit(struct daemon *d, struct api_req *req, struct config *next,
			 char *err, size_t errlen);

/* Adopt a PKI state made by cluster create/join (ownership passes): sets
 * self_node and (re)starts the rotation timer. */
void daemon_pki_set(struct daemon *d, struct pki_state *pki);

/* The ops table api_create gets, with `d` as context. */
extern const struct api_ops daemon_api_ops;

#endif /* INE_DAEMON_H */
