// SPDX-License-Identifier: GPL-2.0
/* daemon_status.c — this node as the API shows it: its status object
 * (sessions from ine.ko or the data plane, offload, certificates, the
 * listener's counters), its alerts and its Prometheus metrics.  Reads the
 * daemon, changes nothing.  See daemon_internal.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "core/clock.h"
#include "daemon/daemon_internal.h"
#include "inenl/inenl.h"
#include "dp/keylimit.h"
#include "tls/listener.h"
#include "core/log.h"
#include "api/metrics.h"
#include "pki/pki.h"
#include "pki/rotalert.h"

const char *const daemon_plane_key[CONFIG_PLANE_N] = {
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

json_t *daemon_status_certs(struct daemon *d)
{
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
		json_object_set_new(o, daemon_plane_key[p], plane_status_json(&st.plane[p], now));
	return o;
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
	a = d->dp && d->dp->sessions ? d->dp->sessions(d->dp_arg) : NULL;
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

json_t *daemon_status_local(struct daemon *d)
{
	const struct config_node *n = config_node_find(d->cfg, d->self_node);
	const char *source;
	json_t *sessions;

	daemon_probe_kernel(d);
	sessions = sessions_get(d, &source);
	return json_pack("{s:I, s:s, s:b, s:b, s:s, s:s, s:o, s:o, s:I, s:o}",
			 "uid", (json_int_t)d->self_node, "name", n ? n->name : "local",
			 "kernel_module_loaded", d->nl != NULL,
			 "kernel_tls_available", d->ktls_available,
			 "offload", d->ktls_available ? "kernel" : "software",
			 "sessions_source", source,
			 "sessions", sessions, "certificates", daemon_status_certs(d),
			 "config_version", (json_int_t)d->cfg->version,
			 "listener", listener_json(d));
}

json_t *daemon_status_alerts(struct daemon *d)
{
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
				"plane", daemon_plane_key[p], "description",
				ps->message[0] ? ps->message : pki_alert_str(ps->alert),
				"seconds_left", (json_int_t)(ps->not_after - clock_now())));
		}
		for (int p = 0; p < CONFIG_PLANE_N; p++) {
			char msg[PKI_ERR_MAX + 64];

			if (rotalert_get(d->pki, (enum pki_plane)(p + 1), msg, sizeof(msg)))
				json_array_append_new(a, json_pack(
					"{s:s, s:s, s:s, s:s}", "name", "cert_rotation_failed",
					"severity", "warning", "plane", daemon_plane_key[p],
					"description", msg));
		}
	}
	if (a && d->dp && d->dp->alerts) {
		json_t *x = d->dp->alerts(d->dp_arg);

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

int daemon_status_metrics(struct daemon *d, FILE *out)
{
	struct metrics_snapshot m;
	json_t *a = daemon_status_alerts(d);

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
	} else if (d->dp && d->dp->metrics_fill) {
		d->dp->metrics_fill(d->dp_arg, &m);
	}
	m.listener_known = d->listener_stats &&
			   d->listener_stats(d->listener_stats_arg, &m.listener) == 0;
	if (d->keylimit) {
		struct keylimit_stats ks;

		keylimit_get_stats(d->keylimit, &ks);
		m.key_limit_replaced = ks.replaced;
		m.key_limit_kept = ks.kept;
	}
	/* Software sessions the relay reset by its own count. */
	if (d->dp && d->dp->key_limit_resets)
		m.key_limit_replaced += d->dp->key_limit_resets(d->dp_arg);
	m.alerts = json_array_size(a);
	m.config_version = d->cfg->version;
	m.kmod_loaded = d->nl != NULL;
	json_decref(a);
	return metrics_write(&m, out);
}
