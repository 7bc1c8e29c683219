/* daemon.c — live configuration, the commit/apply path, and the API ops
 * backed by them.  See daemon.h. */
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
#include <arpa/inet.h>

#include "core/clock.h"
#include "daemon/daemon.h"
#include "daemon/daemon_relay.h"
#include "tls/tls.h"
#include "inenl/inenl.h"
#include "dp/keylimit.h"
#include "tls/listener.h"
#include "core/log.h"
#include "api/metrics.h"
#include "pki/pki.h"
#include "pki/rotalert.h"

#define PKI_TICK_MAX 3600  /* re-plan at least hourly */
#define PKI_RETRY_MIN 5    /* a failed rotation is retried after 5 s, 10 s, ... */

static int path_join(char **out, const char *dir, const char *name)
{
	return asprintf(out, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

static void probe_kernel(struct daemon *d)
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

int daemon_init(struct daemon *d, struct event_base *base, const char *state_dir,
		char *err, size_t errlen)
{
	int rc;

	memset(d, 0, sizeof(*d));
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
	probe_kernel(d);
	return 0;
err:
	daemon_fini(d);
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
	if (inenl_totals_get(d->nl, &t) == 0 && d->relay)
		daemon_relay_key_limit(d->relay, t.key_warn_records);
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
	rc = keylimit_start(d, &d->keylimit);
	if (rc)
		log_msg(LOG_LVL_WARN, "ine.ko events: %s; sessions nearing the AES-GCM key "
			"limit will not be replaced", strerror(-rc));
	return 0;
}

void daemon_fini(struct daemon *d)
{
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
	d->cfg = NULL;
	d->config_path = d->state_dir = d->pki_dir = NULL;
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

	probe_kernel(d);
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

/* ---- API ops --------------------------------------------------------- */

static const struct config *op_config_get(void *ctx)
{
	return ((struct daemon *)ctx)->cfg;
}

static int op_commit(void *ctx, struct api_req *req, struct config *next, char *err,
		     size_t errlen)
{
	return daemon_config_commit(ctx, req, next, err, errlen);
}

static const char *const plane_key[CONFIG_PLANE_N] = {
	"ccs_internode_encryption", "data_internode_encryption"
};

/* config plane index (0 cp, 1 dp) == PKI_PIDX(pki plane). */
static json_t *plane_status_json(const struct pki_plane_status *ps, time_t now)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
			 "source", pki_source_str(ps->source), "subject", ps->subject,
			 "serial", ps->serial, "san", ps->san,
			 "not_before", (json_int_t)ps->not_before,
			 "not_after", (json_int_t)ps->not_after,
			 "seconds_left", (json_int_t)(ps->not_after - now),
			 "alert", pki_alert_str(ps->alert), "message", ps->message);
}

/* This node's certificates: per plane what is served, never keys. */
static json_t *op_certs_get(void *ctx)
{
	struct daemon *d = ctx;
	json_t *o = json_pack("{s:s, s:I}", "mode", config_cert_mode_name(d->cfg->certs.mode),
			      "generation", (json_int_t)d->cfg->certs.generation);
	struct pki_status st;
	time_t now = clock_now();

	if (!o || !d->pki)
		return o;
	pki_state_status(d->pki, &st);
	json_object_set_new(o, "ca_not_after", json_integer(st.ca_not_after));
	json_object_set_new(o, "ca_key_present", json_boolean(st.ca_key_present));
	for (int p = 0; p < CONFIG_PLANE_N; p++)
		json_object_set_new(o, plane_key[p], plane_status_json(&st.plane[p], now));
	return o;
}

/* Customer metadata replicated in the configuration (same on every node). */
static void certs_meta_from_pki(struct config *c, const struct pki_state *pki)
{
	struct pki_status st;

	pki_state_status(pki, &st);
	for (int p = 0; p < CONFIG_PLANE_N; p++) {
		struct config_cert_meta *m = &c->certs.plane[p];

		snprintf(m->subject, sizeof(m->subject), "%s", st.plane[p].subject);
		snprintf(m->serial, sizeof(m->serial), "%s", st.plane[p].serial);
		m->not_after = st.plane[p].not_after;
	}
}

static int op_certs_set(void *ctx, struct api_req *req, const struct api_cert_upload *up,
			char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct pki_customer_item items[CONFIG_PLANE_N];
	struct pki_customer *cust = NULL;
	struct pki_err perr = { "" };
	struct config *next = NULL;
	size_t n = 0;
	int rc;

	if (!d->pki) {
		snprintf(err, errlen, "this node has no PKI state (create or join a cluster)");
		return -EBUSY;
	}
	for (int p = 0; p < CONFIG_PLANE_N; p++) {
		if (!up->certificate[p])
			continue;
		items[n].name = plane_key[p];
		items[n].cert_pem = up->certificate[p];
		items[n].cert_len = strlen(up->certificate[p]);
		items[n].key_pem = up->key[p];
		items[n].key_len = strlen(up->key[p]);
		n++;
	}
	rc = pki_customer_validate(items, n, clock_now(), &cust, &perr);
	if (rc) {
		snprintf(err, errlen, "%s", perr.msg[0] ? perr.msg : strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if ((rc = config_dup(d->cfg, &next)))
		goto out;
	rc = pki_state_apply_customer(d->pki, cust, &perr);
	if (rc) {
		snprintf(err, errlen, "applying the certificates: %s", perr.msg);
		config_free(next);
		goto out;
	}
	next->certs.mode = CONFIG_CERT_CUSTOMER;
	next->certs.generation++;
	certs_meta_from_pki(next, d->pki);
	api_req_set_reply(req, op_certs_get(d));
	rc = daemon_config_commit(d, req, next, err, errlen);
out:
	pki_customer_free(cust);
	return rc;
}

static int op_certs_rotate(void *ctx, struct api_req *req, char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct pki_err perr = { "" };
	struct config *next;
	int rc;

	if (d->cfg->certs.mode == CONFIG_CERT_CUSTOMER) {
		snprintf(err, errlen, "customer-provided certificates are not rotated; "
			 "upload new ones with PUT /v1/cluster/certificates");
		return -EBUSY;
	}
	/* Where this node holds the CA key it re-issues its own now; every
	 * node re-issues when it sees the generation move.  With a control
	 * plane (commit hook) that includes this node, the CA holder: it
	 * re-issues when the committed generation arrives, so rotating here
	 * too would re-issue its certificates twice. */
	if (!d->commit_hook && d->pki && pki_ca_can_sign(pki_state_ca(d->pki)) &&
	    (rc = pki_state_rotate_local(d->pki, PKI_MASK_ALL, clock_now(), &perr))) {
		snprintf(err, errlen, "rotation failed: %s", perr.msg);
		return rc;
	}
	if (config_dup(d->cfg, &next))
		return -ENOMEM;
	next->certs.generation++;
	{
		json_t *reply = op_certs_get(d);

		json_object_set_new(reply, "generation", json_integer(next->certs.generation));
		api_req_set_reply(req, reply);
	}
	return daemon_config_commit(d, req, next, err, errlen);
}

static void addr_str(uint16_t family, const uint8_t *a, uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

static int session_json(const struct inenl_session *s, void *arg)
{
	char local[64], remote[64];
	json_t *o;

	addr_str(s->family, s->saddr, s->sport, local, sizeof(local));
	addr_str(s->family, s->daddr, s->dport, remote, sizeof(remote));
	o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		      "s:I, s:I, s:I, s:s, s:I, s:b}",
		      "id", (json_int_t)s->id, "plane", inenl_plane_name(s->plane),
		      "state", inenl_state_name(s->state), "bdb", (json_int_t)s->db_id,
		      "peer_node", (json_int_t)s->peer_node_id, "peer_name", s->peer_name,
		      "local", local, "remote", remote,
		      "tls_version", inenl_version_name(s->tls_version),
		      "cipher", inenl_cipher_name(s->cipher),
		      "tx_offload", inenl_conf_name(s->tx_conf),
		      "rx_offload", inenl_conf_name(s->rx_conf),
		      "bytes_sent", (json_int_t)s->bytes_sent,
		      "bytes_received", (json_int_t)s->bytes_received,
		      "age_s", (json_int_t)(s->age_ms / 1000), "cert_serial", s->cert_serial,
		      "cert_expiry", (json_int_t)s->cert_expiry, "key_warn", s->key_warn);
	return o && !json_array_append_new(arg, o) ? 0 : -ENOMEM;
}

/* ine.ko's registry; a dump interrupted by a change is retried. */
static json_t *kmod_sessions(struct daemon *d)
{
	for (int tries = 0; tries < 3; tries++) {
		json_t *a = json_array();
		int rc = a ? inenl_session_dump(d->nl, session_json, a) : -ENOMEM;

		if (rc == 0)
			return a;
		json_decref(a);
		if (rc != -EINTR) {
			log_msg(LOG_LVL_WARN, "reading sessions from ine.ko: %s", strerror(-rc));
			break;
		}
	}
	return json_array();
}

static json_t *sessions_get(struct daemon *d, const char **source)
{
	json_t *a;

	if (d->nl) {
		*source = "ine.ko";
		return kmod_sessions(d);
	}
	*source = "agent";
	a = d->sessions_local ? d->sessions_local(d->sessions_arg) : NULL;
	return a ? a : json_array();
}

/* Port 3342's handshake counters, or null while nothing listens. */
static json_t *listener_json(struct daemon *d)
{
	struct listener_stats ls;

	if (!d->listener_stats || d->listener_stats(d->listener_stats_arg, &ls))
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "handshaking", (json_int_t)ls.handshaking,
			 "accepted", (json_int_t)ls.accepted,
			 "handed_off", (json_int_t)ls.handed_off,
			 "failed", (json_int_t)ls.failed,
			 "timed_out", (json_int_t)ls.timed_out,
			 "hello_timed_out", (json_int_t)ls.hello_timed_out,
			 "evicted", (json_int_t)ls.evicted,
			 "refused_full", (json_int_t)ls.refused_full,
			 "paused", (json_int_t)ls.paused,
			 "rate_limited", (json_int_t)ls.rate_limited,
			 "refused_per_address", (json_int_t)ls.refused_per_addr,
			 "accept_errors", (json_int_t)ls.accept_errors);
}

static json_t *op_status_local(void *ctx)
{
	struct daemon *d = ctx;
	const struct config_node *n = config_node_find(d->cfg, d->self_node);
	const char *source;
	json_t *sessions;

	probe_kernel(d);
	sessions = sessions_get(d, &source);
	return json_pack("{s:I, s:s, s:b, s:b, s:s, s:s, s:o, s:o, s:I, s:o}",
			 "uid", (json_int_t)d->self_node, "name", n ? n->name : "local",
			 "kernel_module_loaded", d->nl != NULL,
			 "kernel_tls_available", d->ktls_available,
			 "offload", d->ktls_available ? "kernel" : "software",
			 "sessions_source", source,
			 "sessions", sessions, "certificates", op_certs_get(d),
			 "config_version", (json_int_t)d->cfg->version,
			 "listener", listener_json(d));
}

static json_t *op_status_peers(void *ctx)
{
	struct daemon *d = ctx;

	return d->status_peers ? d->status_peers(d->status_peers_arg) : NULL;
}

static json_t *op_alerts_get(void *ctx)
{
	struct daemon *d = ctx;
	json_t *a = json_array();

	if (a && d->pki) {
		struct pki_status st;

		pki_state_status(d->pki, &st);
		for (int p = 0; p < CONFIG_PLANE_N; p++) {
			const struct pki_plane_status *ps = &st.plane[p];
			char name[48];

			if (ps->alert == PKI_ALERT_NONE)
				continue;
			snprintf(name, sizeof(name), "certificate_%s", pki_alert_str(ps->alert));
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:s, s:s, s:I}", "name", name, "severity",
				ps->alert == PKI_ALERT_EXPIRED ? "critical" : "warning",
				"plane", plane_key[p], "description",
				ps->message[0] ? ps->message : pki_alert_str(ps->alert),
				"seconds_left", (json_int_t)(ps->not_after - clock_now())));
		}
		for (int p = 0; p < CONFIG_PLANE_N; p++) {
			char msg[PKI_ERR_MAX + 64];

			if (rotalert_get(d->pki, (enum pki_plane)(p + 1), msg, sizeof(msg)))
				json_array_append_new(a, json_pack(
					"{s:s, s:s, s:s, s:s}", "name", "cert_rotation_failed",
					"severity", "warning", "plane", plane_key[p],
					"description", msg));
		}
	}
	if (a && d->alerts_extra) {
		json_t *x = d->alerts_extra(d->alerts_extra_arg);

		if (x)
			json_array_extend(a, x);
		json_decref(x);
	}
	if (a && d->store_fault[0])
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s}", "name", "state_write_failed", "severity",
			"critical", "description", d->store_fault));
	if (a && !d->ktls_available)
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s}", "name", "kernel_tls_unavailable", "severity",
			"warning", "description",
			"the kernel has no TLS (modprobe tls failed): sessions use "
			"userspace TLS"));
	return a;
}

static int op_metrics_write(void *ctx, FILE *out)
{
	struct daemon *d = ctx;
	struct metrics_snapshot m;
	json_t *a = op_alerts_get(d);

	memset(&m, 0, sizeof(m));
	if (d->pki) {
		struct pki_status st;
		time_t now = clock_now();

		pki_state_status(d->pki, &st);
		for (int p = 0; p < CONFIG_PLANE_N; p++) {
			if (!st.plane[p].not_after)
				continue;
			m.cert_known[p] = true;
			m.cert_seconds_left[p] = st.plane[p].not_after - now;
		}
	}
	if (d->nl) {
		struct inenl_totals t;
		json_t *ss = kmod_sessions(d), *e;
		size_t i;

		json_array_foreach(ss, i, e) {
			const char *pl = json_string_value(json_object_get(e, "plane"));
			const char *stn = json_string_value(json_object_get(e, "state"));
			int p = pl && !strcmp(pl, "control") ? CONFIG_PLANE_CP : CONFIG_PLANE_DP;

			for (int k = 0; k < METRICS_STATE_N; k++)
				if (stn && !strcmp(stn, metrics_state_name(k)))
					m.sessions[p][k]++;
			m.bytes_tx[p] += (uint64_t)json_integer_value(json_object_get(e, "bytes_sent"));
			m.bytes_rx[p] += (uint64_t)json_integer_value(
				json_object_get(e, "bytes_received"));
		}
		json_decref(ss);
		if (inenl_totals_get(d->nl, &t) == 0) {
			m.guard_dropped = t.guard.dropped;
			m.guard_audited = t.guard.unregistered;
		}
	} else if (d->metrics_fill) {
		d->metrics_fill(d->sessions_arg, &m);
	}
	m.listener_known = d->listener_stats &&
			   d->listener_stats(d->listener_stats_arg, &m.listener) == 0;
	if (d->keylimit) {
		struct keylimit_stats ks;

		keylimit_get_stats(d->keylimit, &ks);
		m.key_limit_replaced = ks.replaced;
		m.key_limit_kept = ks.kept;
	}
	if (d->relay)	/* software sessions the relay reset by its own count */
		m.key_limit_replaced += daemon_relay_key_limit_resets(d->relay);
	m.alerts = json_array_size(a);
	m.config_version = d->cfg->version;
	m.kmod_loaded = d->nl != NULL;
	json_decref(a);
	return metrics_write(&m, out);
}

/* Cluster creation on this node: CA and this node's certificates (PKI),
 * then the configuration naming it node 1.  The control plane may replace
 * this handler (join tokens, replication). */
static int op_cluster_create(void *ctx, struct api_req *req, const char *name,
			     const char *node_name, const char *address, char *err,
			     size_t errlen)
{
	struct daemon *d = ctx;
	struct config_node n = { .id = 1 };
	struct pki_state *pki = NULL;
	struct pki_err perr = { "" };
	struct config *next;
	int rc;

	if (d->pki) {
		snprintf(err, errlen, "%s already holds PKI state for cluster %s", d->pki_dir,
			 pki_state_cluster_id(d->pki));
		return -EEXIST;
	}
	if (*node_name)
		snprintf(n.name, sizeof(n.name), "%s", node_name);
	else if (gethostname(n.name, sizeof(n.name) - 1) || !n.name[0])
		snprintf(n.name, sizeof(n.name), "node1");
	snprintf(n.address, sizeof(n.address), "%s", *address ? address : "127.0.0.1");
	if ((rc = config_dup(d->cfg, &next)))
		return rc;
	if ((rc = config_node_add(next, &n)))
		goto err;
	snprintf(next->cluster_name, sizeof(next->cluster_name), "%s", name);
	rc = pki_state_create(d->pki_dir, n.id, n.name, clock_now(), &pki, &perr);
	if (rc) {
		snprintf(err, errlen, "creating the cluster CA and certificates: %s",
			 perr.msg[0] ? perr.msg : strerror(-rc));
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto err;
	}
	snprintf(next->cluster_id, sizeof(next->cluster_id), "%s", pki_state_cluster_id(pki));
	next->version = d->cfg->version + 1;
	api_req_set_reply(req, json_pack("{s:s, s:s, s:I}", "id", next->cluster_id,
					  "name", next->cluster_name, "node_uid",
					  (json_int_t)n.id));
	daemon_pki_set(d, pki);
	return daemon_config_apply(d, next, err, errlen);
err:
	config_free(next);
	return rc;
}

const struct api_ops daemon_api_ops = {
	.config_get = op_config_get,
	.config_commit = op_commit,
	.certs_set = op_certs_set,
	.certs_rotate = op_certs_rotate,
	.certs_get = op_certs_get,
	.status_local = op_status_local,
	.status_peers = op_status_peers,
	.alerts_get = op_alerts_get,
	.metrics_write = op_metrics_write,
	.cluster_create = op_cluster_create,
};
