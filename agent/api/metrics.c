// SPDX-License-Identifier: GPL-2.0
/* metrics.c — Prometheus text for GET /metrics. */
#include <errno.h>
#include <inttypes.h>

#include "api/metrics.h"

const char *metrics_state_name(enum metrics_state s)
{
	static const char *const names[METRICS_STATE_N] = {
		"handshaking", "offloaded", "software", "plaintext"
	};

	return s < METRICS_STATE_N ? names[s] : "unknown";
}

const char *metrics_plane_name(enum config_plane p)
{
	return p == CONFIG_PLANE_CP ? "control" : p == CONFIG_PLANE_DP ? "data" : "unknown";
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of a labelled family: name{key="value"} v */
static void labelled(FILE *f, const char *name, const char *key, const char *value,
		     uint64_t v)
{
	fprintf(f, "%s{%s=\"%s\"} %" PRIu64 "\n", name, key, value, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	head(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* Port 3342's handshakes: what an operator watches during a connection
 * flood or a slowloris attack (evictions and ClientHello timeouts rising
 * while members still get in). */
static void listener_write(const struct metrics_snapshot *m, FILE *f)
{
	head(f, "ine_listener_handshakes", "gauge",
	     "TLS handshakes in progress on the internode port.");
	fprintf(f, "ine_listener_handshakes %u\n", m->listener.handshaking);
	counter(f, "ine_listener_accepted_total",
		"Connections accepted on the internode port.", m->listener.accepted);
	counter(f, "ine_listener_handed_off_total",
		"Handshakes completed and handed to the control or data plane.",
		m->listener.handed_off);
	counter(f, "ine_listener_failed_total",
		"Handshakes refused (bad certificate, protocol, cipher or peer).",
		m->listener.failed);
	head(f, "ine_listener_timeouts_total", "counter",
	     "Handshakes closed for taking too long, by stage.");
	labelled(f, "ine_listener_timeouts_total", "stage", "client_hello",
		 m->listener.hello_timed_out);
	labelled(f, "ine_listener_timeouts_total", "stage", "handshake", m->listener.timed_out);
	counter(f, "ine_listener_evicted_total",
		"Silent connections dropped to make room for new handshakes.",
		m->listener.evicted);
	counter(f, "ine_listener_refused_full_total",
		"Connections closed because every handshake place was busy.",
		m->listener.refused_full);
	counter(f, "ine_listener_paused_total",
		"Times accepting paused: every place held by members' handshakes, or accept() failing.", m->listener.paused);
	counter(f, "ine_listener_rate_limited_total",
		"Connections from addresses not known as members' closed over the handshake rate limit.",
		m->listener.rate_limited);
	counter(f, "ine_listener_refused_per_address_total",
		"Connections closed because their address held its share of handshakes already.",
		m->listener.refused_per_addr);
	counter(f, "ine_listener_accept_errors_total",
		"accept() failures on the internode port (out of descriptors or memory).",
		m->listener.accept_errors);
}

int metrics_write(const struct metrics_snapshot *m, FILE *f)
{
	int p, s;

	head(f, "ine_sessions", "gauge", "Internode sessions by plane and state.");
	for (p = 0; p < CONFIG_PLANE_N; p++)
		for (s = 0; s < METRICS_STATE_N; s++)
			fprintf(f, "ine_sessions{plane=\"%s\",state=\"%s\"} %" PRIu64 "\n",
				metrics_plane_name(p), metrics_state_name(s), m->sessions[p][s]);
	head(f, "ine_bytes_sent_total", "counter", "Payload bytes sent to peers.");
	for (p = 0; p < CONFIG_PLANE_N; p++)
		fprintf(f, "ine_bytes_sent_total{plane=\"%s\"} %" PRIu64 "\n",
			metrics_plane_name(p), m->bytes_tx[p]);
	head(f, "ine_bytes_received_total", "counter", "Payload bytes received from peers.");
	for (p = 0; p < CONFIG_PLANE_N; p++)
		fprintf(f, "ine_bytes_received_total{plane=\"%s\"} %" PRIu64 "\n",
			metrics_plane_name(p), m->bytes_rx[p]);
	head(f, "ine_certificate_expiry_seconds", "gauge",
	     "Seconds until this node's certificate for the plane expires.");
	for (p = 0; p < CONFIG_PLANE_N; p++)
		if (m->cert_known[p])
			fprintf(f, "ine_certificate_expiry_seconds{plane=\"%s\"} %" PRId64 "\n",
				metrics_plane_name(p), m->cert_seconds_left[p]);
	head(f, "ine_alerts", "gauge", "Alerts currently raised.");
	fprintf(f, "ine_alerts %" PRIu64 "\n", m->alerts);
	head(f, "ine_guard_dropped_total", "counter",
	     "Plaintext packets on the internode port dropped by the guard.");
	fprintf(f, "ine_guard_dropped_total %" PRIu64 "\n", m->guard_dropped);
	head(f, "ine_guard_audited_total", "counter",
	     "Plaintext packets on the internode port seen by the guard in audit mode.");
	fprintf(f, "ine_guard_audited_total %" PRIu64 "\n", m->guard_audited);
	head(f, "ine_config_version", "gauge", "Version of the cluster configuration in force.");
	fprintf(f, "ine_config_version %" PRIu64 "\n", m->config_version);
	head(f, "ine_kernel_module_loaded", "gauge", "1 if ine.ko answers, else 0.");
	fprintf(f, "ine_kernel_module_loaded %d\n", m->kmod_loaded ? 1 : 0);
	head(f, "ine_key_limit_sessions_total", "counter",
	     "Sessions that reached the AES-GCM key usage threshold, by what the agent did.");
	labelled(f, "ine_key_limit_sessions_total", "action", "replaced", m->key_limit_replaced);
	labelled(f, "ine_key_limit_sessions_total", "action", "kept", m->key_limit_kept);
	if (m->listener_known)
		listener_write(m, f);
	return ferror(f) ? -EIO : 0;
}
