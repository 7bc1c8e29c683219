// SPDX-License-Identifier: GPL-2.0
/* daemon_relay.c — relay ↔ daemon glue (see daemon_relay.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dp/config_relay.h"
#include "daemon/daemon_relay.h"
#include "inenl/inenl.h"
#include "pki/pki.h"
#include "tls/listener.h"
#include "core/log.h"
#include "api/metrics.h"
#include "tls/tls.h"

struct dr_session {
	struct dr_session *next;
	int fd;
	uint32_t db, peer;
	enum relay_mode mode;
	char version[16];
	char cipher[48];
	time_t since;
};

struct daemon_relay {
	struct daemon *d;
	struct relay *r;
	bool own_relay;            /* created here (daemon_relay_listener) */
	SSL_CTX *ctx;              /* the relay's client context */
	SSL_CTX *(*ctx_new)(void *arg);
	void *ctx_arg;
	struct dr_session *sessions;
	struct listener *l;        /* port 3342's, once announced */
	char error[CONFIG_ERR_MAX];
};

static uint8_t state_of(enum relay_mode m)
{
	switch (m) {
	case RELAY_MODE_OFFLOADED: return INE_STATE_OFFLOADED;
	case RELAY_MODE_SOFTWARE: return INE_STATE_SOFTWARE;
	case RELAY_MODE_PLAINTEXT: return INE_STATE_PLAINTEXT;
	default: return INE_STATE_HANDSHAKING;
	}
}

/* The peer certificate's serial (hex) and notAfter, for ine.ko. */
static void peer_cert(const struct tls_conn *tc, char *serial, size_t len, uint64_t *expiry)
{
	X509 *x = tc && tc->ssl ? SSL_get0_peer_certificate(tc->ssl) : NULL;
	time_t na;

	serial[0] = '\0';
	*expiry = 0;
	if (!x)
		return;
	pki_cert_serial(x, serial, len);
	if (pki_asn1_time(X509_get0_notAfter(x), &na) == 0)
		*expiry = (uint64_t)na;
}

/* The listener registered the accepted socket before ALPN told the plane
 * (as control, HANDSHAKING; see listener.h). SESSION_SET changes plane and
 * state in place: no moment where the socket is unregistered, so the guard
 * never drops a retransmitted final handshake flight. */
static int reregister(struct inenl *nl, const struct inenl_session_add *a)
{
	struct inenl_session cur;
	int rc;

	rc = inenl_session_get(nl, 0, a->fd, &cur);
	if (rc)
		return rc;
	return inenl_session_update(nl, cur.id, a);
}

static void on_session(void *arg, const struct tls_conn *tc, int fd, uint32_t db,
		       uint32_t peer, enum relay_mode mode, bool up)
{
	struct daemon_relay *dr = arg;
	struct daemon *d = dr->d;
	struct dr_session **pp, *s;

	if (!up) {
		for (pp = &dr->sessions; *pp; pp = &(*pp)->next)
			if ((*pp)->fd == fd) {
				s = *pp;
				*pp = s->next;
				free(s);
				break;
			}
		/* No SESSION_DEL: the relay closes fd (ine.ko ends the session
		 * and lets the guard pass its last queued bytes) or, on the
		 * receiving end, says up again with the db: that updates. */
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s) {
		s->fd = fd;
		s->db = db;
		s->peer = peer;
		s->mode = mode;
		s->since = time(NULL);
		if (tc && tc->done) {
			snprintf(s->version, sizeof(s->version), "%s",
				 tls_version_name(tc->version));
			snprintf(s->cipher, sizeof(s->cipher), "%s", tc->cipher ? tc->cipher : "");
		}
		s->next = dr->sessions;
		dr->sessions = s;
	}
	if (daemon_nl(d)) {
		struct inenl *nl = daemon_nl(d);
		const struct config_node *n = config_node_find(daemon_config(d), peer);
		char serial[INE_SERIAL_LEN];
		struct inenl_session_add a = {
			.fd = fd, .plane = INE_PLANE_DATA, .state = state_of(mode),
			.db_id = db, .peer_node_id = peer, .peer_name = n ? n->name : NULL,
		};
		int rc;

		peer_cert(tc, serial, sizeof(serial), &a.cert_expiry);
		a.cert_serial = serial[0] ? serial : NULL;
		rc = inenl_session_add(nl, &a, NULL);
		if (rc == -EEXIST)
			rc = reregister(nl, &a);
		if (rc)
			log_msg(LOG_LVL_WARN, "registering a data-plane session (db %u, node %u) "
				"with ine.ko: %s %s", db, peer, strerror(-rc),
				inenl_last_error(nl));
	}
}

/* Before the ClientHello: the guard (enforce) drops an unregistered
 * socket's payload to 3342. on_session updates this entry later. */
static void on_connecting(void *arg, int fd, uint32_t db, uint32_t peer)
{
	struct daemon_relay *dr = arg;
	struct inenl *nl = daemon_nl(dr->d);
	const struct config_node *n = config_node_find(daemon_config(dr->d), peer);
	struct inenl_session_add a = {
		.fd = fd, .plane = INE_PLANE_DATA, .state = INE_STATE_HANDSHAKING,
		.db_id = db, .peer_node_id = peer, .peer_name = n ? n->name : NULL,
	};
	int rc;

	if (!nl)
		return;
	rc = inenl_session_add(nl, &a, NULL);
	if (rc)
		log_msg(LOG_LVL_WARN, "registering a data-plane connection (db %u, node %u) "
			"with ine.ko before its handshake: %s %s", db, peer,
			strerror(-rc), inenl_last_error(nl));
}

void daemon_relay_hooks(struct relay_hooks *h, struct daemon_relay *dr)
{
	memset(h, 0, sizeof(*h));
	h->session = on_session;
	h->connecting = on_connecting;
	h->arg = dr;
}

static json_t *sessions_json(void *arg)
{
	struct daemon_relay *dr = arg;
	json_t *a = json_array();
	time_t now = time(NULL);

	for (struct dr_session *s = dr->sessions; a && s; s = s->next) {
		const struct config_node *n = config_node_find(daemon_config(dr->d), s->peer);

		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I}", "plane", "data",
			"state", relay_mode_str(s->mode), "bdb", (json_int_t)s->db,
			"peer_node", (json_int_t)s->peer, "peer_name", n ? n->name : "",
			"tls_version", s->version, "cipher", s->cipher,
			"age_s", (json_int_t)(now - s->since)));
	}
	return a;
}

static void metrics_fill(void *arg, struct metrics_snapshot *m)
{
	struct daemon_relay *dr = arg;
	struct relay_stats st;

	if (!dr->r)
		return;
	relay_get_stats(dr->r, &st);
	m->sessions[CONFIG_PLANE_DP][METRICS_STATE_HANDSHAKING] = st.setup;
	m->sessions[CONFIG_PLANE_DP][METRICS_STATE_OFFLOADED] = st.offloaded;
	m->sessions[CONFIG_PLANE_DP][METRICS_STATE_SOFTWARE] = st.software;
	m->sessions[CONFIG_PLANE_DP][METRICS_STATE_PLAINTEXT] = st.plaintext;
	m->bytes_tx[CONFIG_PLANE_DP] = st.bytes_to_peer;
	m->bytes_rx[CONFIG_PLANE_DP] = st.bytes_from_peer;
}

static json_t *alerts(void *arg)
{
	struct daemon_relay *dr = arg;

	if (!dr->error[0])
		return NULL;
	return json_pack("[{s:s, s:s, s:s}]", "name", "relay_config_failed", "severity",
			 "critical", "description", dr->error);
}

/* Refuse a configuration whose relay view for this node cannot be built. */
static int check(void *arg, const struct config *next, uint32_t self, char *err,
		 size_t errlen)
{
	struct config_relay cr;
	struct route_table *t = NULL;
	int rc;

	(void)arg;
	if (!self || !config_node_find(next, self))
		return 0;  /* not a member (yet): nothing to relay */
	if ((rc = config_relay_build(next, self, &cr, err, errlen)))
		return rc;
	rc = route_table_build(&cr.rc, &t, err, errlen);
	route_table_free(t);
	config_relay_free(&cr);
	return rc ? -EINVAL : 0;
}

/* Members' addresses are let through the listener's stranger limits: a
 * restarted peer's burst of routed connections must not be throttled. */
static void members_to_listener(struct daemon_relay *dr, const struct config *cfg)
{
	struct sockaddr_storage *ss;
	char host[CONFIG_ADDR_MAX];
	socklen_t sl;
	uint16_t port;
	size_t i, n = 0;

	if (!dr->l)
		return;
	ss = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*ss));
	if (!ss)
		return;
	for (i = 0; i < cfg->n_nodes; i++) {
		const char *a = cfg->nodes[i].address;

		if (config_hostport_parse(a, host, sizeof(host), &port))
			snprintf(host, sizeof(host), "%s", a);
		if (route_sockaddr(host, 0, &ss[n], &sl) == 0)
			n++;
	}
	listener_set_members(dr->l, ss, n);
	free(ss);
}

static void apply(struct daemon_relay *dr, const struct config *cfg)
{
	struct config_relay cr;
	char err[CONFIG_ERR_MAX] = "";
	uint32_t self = daemon_self(dr->d);

	members_to_listener(dr, cfg);
	if (!dr->r || !self || !config_node_find(cfg, self))
		return;
	if (config_relay_build(cfg, self, &cr, err, sizeof(err)) ||
	    relay_apply_config(dr->r, &cr.rc, err, sizeof(err))) {
		snprintf(dr->error, sizeof(dr->error), "relay kept its previous routes: %s", err);
		log_msg(LOG_LVL_ERR, "%s", dr->error);
	} else {
		dr->error[0] = '\0';
	}
	config_relay_free(&cr);
}

static void on_config(void *arg, const struct config *old, const struct config *cur)
{
	(void)old;
	apply(arg, cur);
}

static int retire(void *arg, int fd, const char *why)
{
	struct daemon_relay *dr = arg;

	return dr->r ? relay_retire_fd(dr->r, fd, why) : -ENOENT;
}

static void key_limit(void *arg, uint64_t records)
{
	daemon_relay_key_limit(arg, records);
}

static uint64_t key_limit_resets(void *arg)
{
	return daemon_relay_key_limit_resets(arg);
}

static const struct daemon_dp_ops dp_ops = {
	.sessions = sessions_json,
	.metrics_fill = metrics_fill,
	.alerts = alerts,
	.retire = retire,
	.key_limit = key_limit,
	.key_limit_resets = key_limit_resets,
};

int daemon_relay_new(struct daemon *d, struct daemon_relay **out)
{
	struct daemon_relay *dr = calloc(1, sizeof(*dr));
	int rc;

	if (!dr)
		return -ENOMEM;
	dr->d = d;
	if ((rc = daemon_watch_add(d, on_config, check, dr))) {
		free(dr);
		return rc;
	}
	daemon_set_dataplane(d, &dp_ops, dr);
	*out = dr;
	return 0;
}

int daemon_relay_attach(struct daemon_relay *dr, struct relay *r)
{
	dr->r = r;
	apply(dr, daemon_config(dr->d));
	return dr->error[0] ? -EINVAL : 0;
}

void daemon_relay_free(struct daemon_relay *dr)
{
	struct dr_session *s, *n;

	if (!dr)
		return;
	daemon_set_dataplane(dr->d, NULL, NULL);
	daemon_watch_remove(dr->d, dr);
	if (dr->own_relay)
		relay_free(dr->r);
	tls_ctx_free(dr->ctx);
	for (s = dr->sessions; s; s = n) {
		n = s->next;
		free(s);
	}
	free(dr);
}

const char *daemon_relay_error(const struct daemon_relay *dr)
{
	return dr->error;
}

void daemon_relay_ctx_source(struct daemon_relay *dr, SSL_CTX *(*ctx_new)(void *arg), void *arg)
{
	dr->ctx_new = ctx_new;
	dr->ctx_arg = arg;
}

int daemon_relay_listener(struct daemon_relay *dr, struct listener *l)
{
	const struct config_node *self;
	struct relay_hooks h;
	char host[CONFIG_ADDR_MAX];
	uint16_t port;
	int rc;

	if (!l) {
		dr->l = NULL;
		return 0;
	}
	/* cp_new() announces its listener before main() has wired the TLS
	 * context source; main() announces it again once it has.  Not an
	 * error, so say nothing. */
	if (!dr->ctx_new)
		return -EAGAIN;
	if (!dr->r) {
		if (!(dr->ctx = dr->ctx_new(dr->ctx_arg))) {
			log_msg(LOG_LVL_ERR, "data plane: no TLS context for this node's "
				"certificates; the relay is not started");
			return -ENOKEY;
		}
		daemon_relay_hooks(&h, dr);
		dr->r = relay_new(daemon_base(dr->d), dr->ctx, &h);
		if (!dr->r)
			return -ENOMEM;
		dr->own_relay = true;
		self = config_node_find(daemon_config(dr->d), daemon_self(dr->d));
		/* The node's address is "ip" or "ip:port" (that port is 3342's). */
		if (!self || config_hostport_parse(self->address, host, sizeof(host), &port))
			snprintf(host, sizeof(host), "%s", self ? self->address : "");
		rc = relay_listen_plain(dr->r, host, ROUTE_PLAIN_PORT);
		if (rc)
			log_msg(LOG_LVL_WARN, "data plane: plaintext listener on %s:%u: %s "
				"(databases without encryption cannot reach this node)",
				host, ROUTE_PLAIN_PORT, strerror(-rc));
		if (daemon_relay_attach(dr, dr->r))
			log_msg(LOG_LVL_ERR, "data plane: %s", dr->error);
		log_msg(LOG_LVL_INFO, "data plane up: relay serving %s",
			self ? self->name : "this node");
	}
	dr->l = l;
	members_to_listener(dr, daemon_config(dr->d));
	rc = listener_set_handler(l, RELAY_ALPN, relay_accept_tls, dr->r);
	if (rc)
		log_msg(LOG_LVL_ERR, "data plane: cannot take %s connections: %s", RELAY_ALPN,
			strerror(-rc));
	return rc;
}

void daemon_relay_pki_changed(struct daemon_relay *dr)
{
	SSL_CTX *ctx;

	if (!dr->r || !dr->own_relay || !dr->ctx_new)
		return;
	ctx = dr->ctx_new(dr->ctx_arg);
	if (!ctx) {
		log_msg(LOG_LVL_WARN, "data plane: certificates changed but no TLS "
			"context can be made from them; outgoing relay connections "
			"keep the previous client certificate");
		return;
	}
	/* Connections already up keep the old context (their SSL holds a
	 * reference); new ones present the new certificate. */
	relay_set_client_ctx(dr->r, ctx);
	tls_ctx_free(dr->ctx);
	dr->ctx = ctx;
	log_msg(LOG_LVL_INFO, "data plane: certificates changed; new outgoing relay "
		"connections use the new client certificate");
}

void daemon_relay_key_limit(struct daemon_relay *dr, uint64_t records)
{
	if (dr->r)
		relay_set_key_limit(dr->r, records);
}

uint64_t daemon_relay_key_limit_resets(const struct daemon_relay *dr)
{
	struct relay_stats st;

	if (!dr->r)
		return 0;
	relay_get_stats(dr->r, &st);
	return st.key_limit_resets;
}
