/* SPDX-License-Identifier: GPL-2.0 */
/* daemon_internal.h — the daemon's fields and the map of its files, for
 * daemon.c, daemon_status.c and daemon_ops.c only.  Everyone else,
 * daemon_relay.c included, goes through daemon.h. */
#ifndef INE_DAEMON_INTERNAL_H
#define INE_DAEMON_INTERNAL_H

#include <stdio.h>
#include <time.h>

#include "daemon/daemon.h"

struct clock_watch;
struct keylimit;

struct daemon {
	struct event_base *base;
	char *state_dir;
	char *config_path;        /* <state_dir>/config.json */
	char *pki_dir;            /* <state_dir>/pki (pki.h's store) */
	struct config *cfg;       /* live; never NULL after daemon_new */
	uint32_t self_node;       /* this node's uid, 0 before create/join */
	struct pki_state *pki;    /* NULL before create/join */
	struct event *pki_timer;  /* pki_state_tick: rotation, fallback, alerts */
	unsigned pki_retry_s;     /* after a failed tick: next retry (backs off) */
	struct clock_watch *clock_watch;  /* wall-clock jumps re-plan at once */
	bool kmod_loaded;         /* ine.ko present */
	struct inenl *nl;         /* ine.ko client; NULL without the module */
	struct event *kmod_timer; /* notices an ine.ko reload (inenl_check) */
	unsigned long kmod_replays;	/* inenl_replays() when last looked */
	bool ktls_available;      /* kernel has the tls ULP */
	struct keylimit *keylimit;	/* NULL without ine.ko */

	/* Hooks other parts install (all optional; daemon.h's setters). */
	daemon_commit_fn commit_hook;   /* control plane: route writes */
	void *commit_arg;
	daemon_json_fn status_peers;    /* control plane: other nodes' status */
	void *status_peers_arg;
	int (*listener_stats)(void *arg, struct listener_stats *st);
	void *listener_stats_arg;
	const struct daemon_dp_ops *dp;	/* data plane; NULL: none */
	void *dp_arg;
	struct {
		daemon_watch_fn fn;
		daemon_check_fn check;  /* optional */
		void *arg;
	} watch[DAEMON_MAX_WATCH];
	int n_watch;
	/* The last configuration write that failed (empty: the last one
	 * worked): an alert until a write succeeds. */
	char store_fault[256];
};

/* daemon.c */
/* Look again for ine.ko and the kernel's TLS (status asks each time). */
void daemon_probe_kernel(struct daemon *d);

/* daemon_status.c */
/* JSON names of the two planes, in config plane order (0 cp, 1 dp). */
extern const char *const daemon_plane_key[CONFIG_PLANE_N];
/* This node's certificates: per plane what is served, never keys. */
json_t *daemon_status_certs(struct daemon *d);
json_t *daemon_status_local(struct daemon *d);	/* GET /v1/status's own node */
json_t *daemon_status_alerts(struct daemon *d);	/* array */
int daemon_status_metrics(struct daemon *d, FILE *out);	/* Prometheus text */

#endif /* INE_DAEMON_INTERNAL_H */
