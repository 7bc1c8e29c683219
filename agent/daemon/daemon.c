// SPDX-License-Identifier: GPL-2.0
/* daemon.c — the daemon's lifecycle and its one change path: loading the
 * state directory, ine.ko and PKI timers, watches, commit/apply/reload, and
 * the getters and setters other parts use.  See daemon.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "daemon/daemon_internal.h"
#include "tls/tls.h"
#include "inenl/inenl.h"
#include "dp/keylimit.h"
#include "core/log.h"
#include "pki/pki.h"
#include "pki/rotalert.h"

#define PKI_TICK_MAX 3600  /* re-plan at least hourly */
#define PKI_RETRY_MIN 5    /* a failed rotation is retried after 5 s, 10 s, ... */

static int path_join(char **out, const char *dir, const char *name)
{
	return asprintf(out, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

void daemon_probe_kernel(struct daemon *d)
{
	d->kmod_loaded = access("/sys/module/ine", F_OK) == 0;
	d->ktls_available = !tls_kernel_tls_is_off() &&
			    (access("/sys/module/tls", F_OK) == 0 ||
			     access("/proc/net/tls_stat", F_OK) == 0);
}

/* Rotation, customer fallback and alert logging run on PKI's own plan;
 * re-armed for when the plan next changes (at most an hour away).  A
 * failure (full or read-only state directory) raises cert_rotation_failed
 * and is retried soon, backing off to hourly. */
static void pki_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct pki_plan plan;
	struct pki_err perr = { "" };
	struct timeval tv = { PKI_TICK_MAX, 0 };
	time_t now = clock_now();

	(void)fd;
	(void)what;
	if (!d->pki)
		return;
	if (pki_state_tick(d->pki, now, &plan, &perr)) {
		log_msg(LOG_LVL_ERR, "certificate maintenance failed: %s", perr.msg);
		rotalert_tick_failed(d->pki, now, perr.msg);
		d->pki_retry_s = d->pki_retry_s ? d->pki_retry_s * 2 : PKI_RETRY_MIN;
		if (d->pki_retry_s > PKI_TICK_MAX)
			d->pki_retry_s = PKI_TICK_MAX;
		tv.tv_sec = d->pki_retry_s;
	} else {
		d->pki_retry_s = 0;
		if (plan.next > now && plan.next - now < PKI_TICK_MAX)
			tv.tv_sec = plan.next - now;
	}
	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP; p++)
		rotalert_get(d->pki, (enum pki_plane)p, NULL, 0);  /* clears, logs */
	if (tv.tv_sec < 1)
		tv.tv_sec = 1;
	evtimer_add(d->pki_timer, &tv);
}

/* The wall clock jumped: rotation and expiry points moved; re-plan now
 * rather than at the next tick (up to an hour away). */
static void clock_jumped(void *arg, time_t jump)
{
	struct daemon *d = arg;
	struct timeval now = { 0, 0 };

	(void)jump;
	d->pki_retry_s = 0;
	if (d->pki && d->pki_timer)
		evtimer_add(d->pki_timer, &now);
}

void daemon_pki_set(struct daemon *d, struct pki_state *pki)
{
	struct timeval now = { 0, 0 };

	if (d->pki != pki)
		pki_state_free(d->pki);
	d->pki = pki;
	d->self_node = pki ? pki_state_node_id(pki) : 0;
	if (pki && d->pki_timer)
		evtimer_add(d->pki_timer, &now);
}

int daemon_new(struct event_base *base, const char *state_dir, struct daemon **out,
	       char *err, size_t errlen)
{
	struct daemon *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->base = base;
	if (!(d->state_dir = strdup(state_dir)) ||
	    path_join(&d->config_path, state_dir, "config.json") ||
	    path_join(&d->pki_dir, state_dir, "pki")) {
		rc = -ENOMEM;
		goto err;
	}
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state directory %s: %s", state_dir, strerror(errno));
		goto err;
	}
	rc = config_load(d->config_path, &d->cfg, err, errlen);
	if (rc == -ENOENT) {
		d->cfg = config_new();
		rc = d->cfg ? 0 : -ENOMEM;
	}
	if (rc)
		goto err;
	if (!(d->pki_timer = evtimer_new(base, pki_tick, d)) ||
	    !(d->clock_watch = clock_watch_new(base, clock_jumped, d))) {
		rc = -ENOMEM;
		goto err;
	}
	{
		struct pki_state *pki = NULL;
		struct pki_err perr = { "" };

		rc = pki_state_load(d->pki_dir, &pki, &perr);
		if (rc && rc != -ENOENT) {
			snprintf(err, errlen, "PKI state in %s: %s", d->pki_dir,
				 perr.msg[0] ? perr.msg : strerror(-rc));
			goto err;
		}
		if (!rc && d->cfg->cluster_id[0] &&
		    strcmp(pki_state_cluster_id(pki), d->cfg->cluster_id)) {
			snprintf(err, errlen, "PKI state is for cluster %s but config.json for %s",
				 pki_state_cluster_id(pki), d->cfg->cluster_id);
			pki_state_free(pki);
			rc = -EINVAL;
			goto err;
		}
		if (!rc)
			daemon_pki_set(d, pki);
		rc = 0;
	}
	daemon_probe_kernel(d);
	*out = d;
	return 0;
err:
	daemon_free(d);
	return rc;
}

/* An idle agent would notice an ine.ko reload only at its next request;
 * until then the reloaded module knows none of its sessions (status shows
 * none, the guard treats software-mode ones as plaintext).  Ask often. */
#define KMOD_CHECK_MS 2000

static void kmod_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct inenl_totals t;

	(void)fd;
	(void)what;
	/* The software relay keeps to the threshold an operator set in
	 * ine.ko (inectl guard key-limit) for kernel-TLS sessions; reading
	 * the totals also lets inenl remember the guard for its replay. */
	if (inenl_totals_get(d->nl, &t) == 0 && d->dp && d->dp->key_limit)
		d->dp->key_limit(d->dp_arg, t.key_warn_records);
	/* A request may have noticed the reload first (and replayed): what
	 * counts is whether a replay happened since the last look. */
	inenl_check(d->nl);
	if (inenl_replays() != d->kmod_replays) {
		d->kmod_replays = inenl_replays();
		log_msg(LOG_LVL_WARN, "ine.ko was reloaded: this agent's live sessions are "
			"registered again (replay %lu)", inenl_replays());
		if (d->keylimit && keylimit_resubscribe(d->keylimit))
			log_msg(LOG_LVL_WARN, "ine.ko events after the reload: not subscribed; "
				"sessions nearing the key limit are not replaced");
	}
}

/* The key limit asks the data plane, whichever is installed then, to
 * replace a session. */
static int session_retire(void *arg, int fd, const char *why)
{
	struct daemon *d = arg;

	return d->dp && d->dp->retire ? d->dp->retire(d->dp_arg, fd, why) : -ENOENT;
}

int daemon_kmod_open(struct daemon *d)
{
	struct timeval tv = { KMOD_CHECK_MS / 1000, (KMOD_CHECK_MS % 1000) * 1000 };
	int rc = inenl_open(&d->nl);

	if (rc) {
		d->nl = NULL;
		log_msg(LOG_LVL_WARN, "ine.ko not available (%s): status shows the agent's "
			"own sessions and no plaintext guard runs", strerror(-rc));
		return rc;
	}
	d->kmod_timer = event_new(d->base, -1, EV_PERSIST, kmod_check_cb, d);
	if (d->kmod_timer)
		evtimer_add(d->kmod_timer, &tv);
	rc = keylimit_start(d->base, d->nl, session_retire, d, &d->keylimit);
	if (rc)
		log_msg(LOG_LVL_WARN, "ine.ko events: %s; sessions nearing the AES-GCM key "
			"limit will not be replaced", strerror(-rc));
	return 0;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	if (d->kmod_timer)
		event_free(d->kmod_timer);
	d->kmod_timer = NULL;
	keylimit_free(d->keylimit);
	d->keylimit = NULL;
	inenl_close(d->nl);
	d->nl = NULL;
	if (d->pki_timer)
		event_free(d->pki_timer);
	d->pki_timer = NULL;
	clock_watch_free(d->clock_watch);
	d->clock_watch = NULL;
	pki_state_free(d->pki);
	d->pki = NULL;
	config_free(d->cfg);
	free(d->config_path);
	free(d->pki_dir);
	free(d->state_dir);
	free(d);
}

int daemon_watch_add(struct daemon *d, daemon_watch_fn fn, daemon_check_fn check,
		     void *arg)
{
	if (d->n_watch >= DAEMON_MAX_WATCH)
		return -ENOSPC;
	d->watch[d->n_watch].fn = fn;
	d->watch[d->n_watch].check = check;
	d->watch[d->n_watch].arg = arg;
	d->n_watch++;
	return 0;
}

/* The slot stays (fn NULL, skipped): watchers are few and long-lived. */
void daemon_watch_remove(struct daemon *d, void *arg)
{
	for (int i = 0; i < d->n_watch; i++)
		if (d->watch[i].arg == arg) {
			d->watch[i].fn = NULL;
			d->watch[i].check = NULL;
		}
}

/* One journal line per change an operator cares about. */
static void log_changes(const struct config *o, const struct config *n)
{
	size_t i;

	if (strcmp(o->cluster_id, n->cluster_id))
		log_msg(LOG_LVL_INFO, "cluster %s (%s) configured", n->cluster_name,
			   n->cluster_id);
	if (o->policy_encrypt != n->policy_encrypt)
		log_msg(LOG_LVL_INFO, "policy data_internode_encryption %s",
			   n->policy_encrypt ? "enabled" : "disabled");
	for (i = 0; i < n->n_nodes; i++)
		if (!config_node_find(o, n->nodes[i].id))
			log_msg(LOG_LVL_INFO, "node %u (%s) added", n->nodes[i].id,
				   n->nodes[i].name);
	for (i = 0; i < o->n_nodes; i++)
		if (!config_node_find(n, o->nodes[i].id))
			log_msg(LOG_LVL_INFO, "node %u (%s) removed", o->nodes[i].id,
				   o->nodes[i].name);
	for (i = 0; i < n->n_bdbs; i++) {
		const struct config_bdb *nb = &n->bdbs[i], *ob = config_bdb_find(o, nb->id);

		if (!ob)
			log_msg(LOG_LVL_INFO, "bdb %u (%s) created, data_internode_encryption %s",
				   nb->id, nb->name, nb->encrypt ? "enabled" : "disabled");
		else if (ob->encrypt != nb->encrypt)
			log_msg(LOG_LVL_INFO, "bdb %u (%s) data_internode_encryption %s",
				   nb->id, nb->name, nb->encrypt ? "enabled" : "disabled");
	}
	for (i = 0; i < o->n_bdbs; i++)
		if (!config_bdb_find(n, o->bdbs[i].id))
			log_msg(LOG_LVL_INFO, "bdb %u (%s) deleted", o->bdbs[i].id,
				   o->bdbs[i].name);
	for (i = 0; i < n->n_routes; i++)
		if (!config_route_find(o, n->routes[i].id))
			log_msg(LOG_LVL_INFO, "route %u added: port %u -> node %u target %s",
				   n->routes[i].id, n->routes[i].listen_port,
				   n->routes[i].peer_node, n->routes[i].target);
	for (i = 0; i < o->n_routes; i++)
		if (!config_route_find(n, o->routes[i].id))
			log_msg(LOG_LVL_INFO, "route %u removed", o->routes[i].id);
	if (o->certs.mode != n->certs.mode)
		log_msg(LOG_LVL_INFO, "certificates now %s", config_cert_mode_name(n->certs.mode));
	else if (o->certs.generation != n->certs.generation)
		log_msg(LOG_LVL_INFO, "certificates rotated (generation %u)",
			   n->certs.generation);
}

static int watch_check(struct daemon *d, const struct config *next, char *err,
		       size_t errlen)
{
	int rc;

	for (int i = 0; i < d->n_watch; i++)
		if (d->watch[i].fn && d->watch[i].check &&
		    (rc = d->watch[i].check(d->watch[i].arg, next, d->self_node, err, errlen)))
			return rc;
	return 0;
}

int daemon_config_apply(struct daemon *d, struct config *next, char *err, size_t errlen)
{
	struct config *old = d->cfg;
	int rc;

	if ((rc = config_validate(next, err, errlen)) ||
	    (rc = watch_check(d, next, err, errlen)))
		goto refuse;
	if (next->version < old->version) {
		snprintf(err, errlen, "configuration version %llu is older than %llu in force",
			 (unsigned long long)next->version, (unsigned long long)old->version);
		rc = -ESTALE;
		goto refuse;
	}
	if ((rc = config_save(next, d->config_path))) {
		snprintf(err, errlen, "writing %s: %s", d->config_path, strerror(-rc));
		snprintf(d->store_fault, sizeof(d->store_fault),
			 "state directory: %s; the configuration in force is unchanged", err);
		log_msg(LOG_LVL_ERR, "%s", d->store_fault);
		goto refuse;
	}
	if (d->store_fault[0])
		log_msg(LOG_LVL_INFO, "state directory writable again: alert cleared");
	d->store_fault[0] = '\0';
	d->cfg = next;
	log_changes(old, next);
	log_msg(LOG_LVL_INFO, "configuration version %llu in force",
		   (unsigned long long)next->version);
	for (int i = 0; i < d->n_watch; i++)
		if (d->watch[i].fn)
			d->watch[i].fn(d->watch[i].arg, old, next);
	config_free(old);
	return 0;
refuse:
	config_free(next);
	return rc;
}

int daemon_config_commit(struct daemon *d, struct api_req *req, struct config *next,
			 char *err, size_t errlen)
{
	next->version = d->cfg->version + 1;
	if (d->commit_hook)
		return d->commit_hook(d->commit_arg, req, next, err, errlen);
	return daemon_config_apply(d, next, err, errlen);
}

int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config *next = NULL;
	int rc;

	daemon_probe_kernel(d);
	rc = config_load(d->config_path, &next, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "%s: missing", d->config_path);
		return rc;
	}
	if (rc)
		return rc;
	/* Same path as any change, minus the version check: an operator
	 * restoring an older file on purpose is obeyed. */
	if ((rc = config_validate(next, err, errlen)) ||
	    (rc = watch_check(d, next, err, errlen))) {
		config_free(next);
		return rc;
	}
	{
		struct config *old = d->cfg;

		d->cfg = next;
		log_changes(old, next);
		for (int i = 0; i < d->n_watch; i++)
			if (d->watch[i].fn)
				d->watch[i].fn(d->watch[i].arg, old, next);
		config_free(old);
	}
	return 0;
}

/* ---- getters and setters ---------------------------------------------- */

const struct config *daemon_config(const struct daemon *d)
{
	return d->cfg;
}

uint32_t daemon_self(const struct daemon *d)
{
	return d->self_node;
}

struct event_base *daemon_base(const struct daemon *d)
{
	return d->base;
}

struct inenl *daemon_nl(const struct daemon *d)
{
	return d->nl;
}

struct pki_state *daemon_pki(const struct daemon *d)
{
	return d->pki;
}

const char *daemon_pki_dir(const struct daemon *d)
{
	return d->pki_dir;
}

bool daemon_ktls_available(const struct daemon *d)
{
	return d->ktls_available;
}

const char *daemon_store_fault(const struct daemon *d)
{
	return d->store_fault;
}

void daemon_set_commit_hook(struct daemon *d, daemon_commit_fn fn, void *arg)
{
	d->commit_hook = fn;
	d->commit_arg = arg;
}

void daemon_set_status_peers(struct daemon *d, daemon_json_fn fn, void *arg)
{
	d->status_peers = fn;
	d->status_peers_arg = arg;
}

void daemon_set_listener_stats(struct daemon *d,
			       int (*fn)(void *arg, struct listener_stats *st), void *arg)
{
	d->listener_stats = fn;
	d->listener_stats_arg = arg;
}

void daemon_set_dataplane(struct daemon *d, const struct daemon_dp_ops *ops, void *arg)
{
	if (!ops && d->dp_arg != arg)
		return;		/* someone else's: theirs to remove */
	d->dp = ops;
	d->dp_arg = ops ? arg : NULL;
}

void daemon_set_self(struct daemon *d, uint32_t node_id)
{
	d->self_node = node_id;
}
