// SPDX-License-Identifier: GPL-2.0
/* cp_member.c — the ine-cp/1 member protocol (hello, configuration and
 * certificate pushes, forwarded writes, CSRs, status, ping), dialling the
 * lower-id nodes with backoff, what is known of each peer, and becoming a
 * member (cp_install_membership, where cluster create and join end). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"
#include "cp/token.h"
#include "inenl/inenl.h"

/* ------------------------------------------------------------ peers */

static struct cp_peer *peer_get(struct cp *cp, uint32_t id)
{
	struct cp_peer *p;

	if (id == 0 || id > CP_MAX_PEERS)
		return NULL;
	if (cp->peers[id])
		return cp->peers[id];
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cp = cp;
	p->id = id;
	p->backoff_ms = CP_RECONNECT_MIN_MS;
	cp->peers[id] = p;
	return p;
}

/* ------------------------------------------------------------ member protocol */

static void member_up(struct cp_sess *s, void *arg);
static void member_msg(struct cp_sess *s, int type, json_t *msg, void *arg);
static void member_closed(struct cp_sess *s, const char *why, void *arg);

const struct cp_sess_ops cp_member_ops = {
	.up = member_up,
	.msg = member_msg,
	.closed = member_closed,
	.members_only = true,
};

static json_t *hello_msg(const struct cp *cp)
{
	return cpmsg_pack(CPMSG_HELLO, "{s:s, s:i, s:I, s:I}", "cluster_id",
			  pki_state_cluster_id(cp_pki_cur(cp)), "node_id",
			  (int)cp_node_id(cp), "version",
			  (json_int_t)cp_live(cp)->version, "certs_version",
			  (json_int_t)cp->certs_version);
}

static json_t *status_msg(const struct cp *cp, int64_t id)
{
	json_t *st = cp->hooks.status_local ?
		     cp->hooks.status_local(cp->hooks.arg) : NULL;

	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	return cpmsg_pack(CPMSG_STATUS, "{s:I, s:o}", "id", (json_int_t)id,
			  "status", st);
}

static void member_up(struct cp_sess *s, void *arg)
{
	(void)arg;
	cp_sess_send(s, hello_msg(s->cp));
}

static void reply_result(struct cp_sess *s, json_int_t id, int rc,
			 const char *code, const char *desc, int64_t version)
{
	json_t *m;

	if (rc == 0)
		m = cpmsg_pack(CPMSG_RESULT, "{s:I, s:b, s:I}", "id", id, "ok",
			       1, "version", (json_int_t)version);
	else
		m = cpmsg_pack(CPMSG_RESULT, "{s:I, s:b, s:i, s:s, s:s}", "id",
			       id, "ok", 0, "status", cp_http_status(rc),
			       "error_code", code, "description", desc);
	cp_sess_send(s, m);
}

static void on_hello(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	const char *cid = json_string_value(json_object_get(msg, "cluster_id"));
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "node_id"));
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	int64_t cver = json_integer_value(json_object_get(msg, "certs_version"));
	struct cp_peer *p;
	char why[CP_ERR_MAX];

	if (strcmp(cid, pki_state_cluster_id(cp_pki_cur(cp))) != 0) {
		snprintf(why, sizeof(why), "peer is in another cluster (%s)", cid);
		cp_sess_close(s, why);
		return;
	}
	if (id == cp_node_id(cp) ||
	    (s->cert_node_id > 0 && (uint32_t)s->cert_node_id != id) ||
	    (s->outgoing && s->peer_id != id)) {
		snprintf(why, sizeof(why),
			 "peer says it is node %u but its certificate/address is node %ld",
			 id, s->outgoing ? (long)s->peer_id : s->cert_node_id);
		cp_sess_close(s, why);
		return;
	}
	p = peer_get(cp, id);
	if (!p) {
		cp_sess_close(s, "node id out of range");
		return;
	}
	if (p->sess && p->sess != s) {
		/* a newer session replaces the old one (peer restarted) */
		struct cp_sess *old = p->sess;

		p->sess = NULL;
		p->up = false;
		old->arg = NULL;
		cp_sess_close(old, "replaced by a newer session");
	}
	s->peer_id = id;
	s->arg = p;
	p->sess = s;
	p->up = true;
	p->version = ver;
	p->backoff_ms = CP_RECONNECT_MIN_MS;
	if (s->nl_id && cp->nl) {
		const struct config_node *n = config_node_find(cp_live(cp), id);
		struct inenl_session_add a = { .fd = s->fd, .peer_node_id = id,
					       .peer_name = n ? n->name : NULL };

		inenl_session_update(cp->nl, 0, &a);
	}
	p->last_error[0] = '\0';
	if (p->redial)
		evtimer_del(p->redial);
	log_info("control plane: session with node %u up (%s, peer config v%lld, ours v%llu)",
		 id, s->outgoing ? "dialled" : "accepted", (long long)ver,
		 (unsigned long long)cp_live(cp)->version);
	if ((uint64_t)ver < cp_live(cp)->version)
		cp_sess_send(s, cp_config_msg(cp));
	if (cver < cp->certs_version)
		cp_sess_send(s, cp_certs_msg(cp));
	cp_sess_send(s, status_msg(cp, 0));
	/* pending rotations may have been waiting for the primary */
	if (id == cp_primary_id(cp))
		cp_rotation_check(cp);
}

static void on_config(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	char err[CONFIG_ERR_MAX];
	struct config *next;
	int ret;

	if ((uint64_t)ver <= cp_live(cp)->version)
		return;
	ret = config_from_json(json_object_get(msg, "config"), &next, err,
			       sizeof(err));
	if (ret < 0) {
		log_warn("control plane: node %u sent an invalid configuration v%lld: %s",
			 s->peer_id, (long long)ver, err);
		return;
	}
	if (next->version != (uint64_t)ver ||
	    strcmp(next->cluster_id, cp_live(cp)->cluster_id) != 0 ||
	    !config_node_find(next, cp_node_id(cp))) {
		log_warn("control plane: node %u sent a configuration that is not for this cluster/node; ignored",
			 s->peer_id);
		config_free(next);
		return;
	}
	if (cp_config_install(cp, next, false, err, sizeof(err)) < 0)
		log_err("control plane: %s", err);
}

static void on_certs(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	char err[CP_ERR_MAX];

	if (ver <= cp->certs_version)
		return;
	if (cp_certs_install(cp, json_object_get(msg, "certs"), ver, err,
			     sizeof(err)) < 0)
		log_err("control plane: customer certificates v%lld from node %u refused: %s",
			(long long)ver, s->peer_id, err);
}

static void on_propose(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	int64_t base = json_integer_value(json_object_get(msg, "base_version"));
	char err[CP_ERR_MAX];
	struct config *next;
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node is not the primary", 0);
		return;
	}
	if ((uint64_t)base != cp_live(cp)->version) {
		snprintf(err, sizeof(err),
			 "the configuration changed meanwhile (now version %llu): retry",
			 (unsigned long long)cp_live(cp)->version);
		reply_result(s, id, -EBUSY, "conflict", err, 0);
		return;
	}
	ret = config_from_json(json_object_get(msg, "config"), &next, err,
			       sizeof(err));
	if (ret == 0 && strcmp(next->cluster_id, cp_live(cp)->cluster_id) != 0) {
		config_free(next);
		ret = -EINVAL;
		snprintf(err, sizeof(err), "cluster.id cannot change");
	}
	if (ret == 0)
		ret = cp_commit_local(cp, next, err, sizeof(err));
	if (ret < 0) {
		reply_result(s, id, ret < 0 ? ret : -EINVAL, "invalid", err, 0);
		return;
	}
	log_info("control plane: committed version %llu proposed by node %u",
		 (unsigned long long)cp_live(cp)->version, s->peer_id);
	reply_result(s, id, 0, NULL, NULL, (int64_t)cp_live(cp)->version);
}

static void on_certs_propose(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	char err[CP_ERR_MAX];
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node is not the primary", 0);
		return;
	}
	ret = cp_certs_commit(cp, json_object_get(msg, "certs"), err, sizeof(err));
	if (ret < 0)
		reply_result(s, id, ret, "invalid_certificate", err, 0);
	else
		reply_result(s, id, 0, NULL, NULL, (int64_t)cp_live(cp)->version);
}

static void on_csr(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	const char *plane_s = json_string_value(json_object_get(msg, "plane"));
	const char *csr = json_string_value(json_object_get(msg, "csr"));
	enum pki_plane plane = strcmp(plane_s, "cp") == 0 ? PKI_PLANE_CP :
			       strcmp(plane_s, "dp") == 0 ? PKI_PLANE_DP : 0;
	struct pki_err perr = { "" };
	struct config_node *n;
	char *cert = NULL;
	size_t cert_len = 0;
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node does not hold the cluster CA", 0);
		return;
	}
	n = config_node_find(cp_live(cp), s->peer_id);
	if (!plane || !n) {
		reply_result(s, id, -EINVAL, "invalid",
			     !plane ? "plane must be cp or dp" :
				      "requesting node is not in the configuration", 0);
		return;
	}
	ret = pki_ca_sign_csr(pki_state_ca(cp_pki_cur(cp)), csr, strlen(csr),
			      s->peer_id, n->name, plane, clock_now(), &cert,
			      &cert_len, &perr);
	if (ret < 0) {
		reply_result(s, id, -EINVAL, "bad_csr", perr.msg, 0);
		return;
	}
	log_info("control plane: signed a new %s certificate for node %u",
		 plane_s, s->peer_id);
	cp_sess_send(s, cpmsg_pack(CPMSG_CERT, "{s:I, s:s, s:s}", "id", id,
				   "plane", plane_s, "cert", cert));
	pki_pem_free(cert, cert_len);
}

static void on_cert(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	struct cp_req *r = cp_req_find(cp, json_integer_value(json_object_get(msg, "id")));
	const char *cert = json_string_value(json_object_get(msg, "cert"));
	struct pki_err perr = { "" };
	char done[CP_ERR_MAX];
	int ret;

	if (!r || r->kind != REQ_CSR || r->peer != s->peer_id)
		return;
	ret = pki_state_install_cert(cp_pki_cur(cp), r->plane, r->key, cert,
				     strlen(cert), &perr);
	if (ret < 0) {
		cp_req_finish(r, ret, perr.msg);
		return;
	}
	snprintf(done, sizeof(done), "new %s certificate installed",
		 pki_plane_str(r->plane));
	cp_req_finish(r, 0, done);
	cp_notify_pki(cp);
}

static void on_result(struct cp_sess *s, json_t *msg)
{
	struct cp_req *r = cp_req_find(s->cp,
				    json_integer_value(json_object_get(msg, "id")));
	json_t *status = json_object_get(msg, "status");
	const char *desc = json_string_value(json_object_get(msg, "description"));

	if (!r || r->peer != s->peer_id)
		return;
	if (json_is_true(json_object_get(msg, "ok")))
		cp_req_finish(r, 0, "ok");
	else
		cp_req_finish(r, cp_rc_from_http(status ? json_integer_value(status) : 500),
			   desc ? desc : "refused by the primary");
}

static void member_msg(struct cp_sess *s, int type, json_t *msg, void *arg)
{
	struct cp_peer *p = arg;

	if (type != CPMSG_HELLO && (!p || !p->up || p->sess != s)) {
		cp_sess_close(s, "protocol error: message before hello");
		return;
	}
	switch (type) {
	case CPMSG_HELLO:
		if (p && p->up && p->sess == s) {
			cp_sess_close(s, "protocol error: second hello");
			return;
		}
		on_hello(s, msg);
		break;
	case CPMSG_CONFIG:
		on_config(s, msg);
		break;
	case CPMSG_CERTS:
		on_certs(s, msg);
		break;
	case CPMSG_PROPOSE:
		on_propose(s, msg);
		break;
	case CPMSG_CERTS_PROPOSE:
		on_certs_propose(s, msg);
		break;
	case CPMSG_STATUS_REQ:
		cp_sess_send(s, status_msg(s->cp,
			json_integer_value(json_object_get(msg, "id"))));
		break;
	case CPMSG_STATUS:
		json_decref(p->status);
		p->status = json_incref(json_object_get(msg, "status"));
		p->status_at = clock_now();
		break;
	case CPMSG_CSR:
		on_csr(s, msg);
		break;
	case CPMSG_CERT:
		on_cert(s, msg);
		break;
	case CPMSG_RESULT:
		on_result(s, msg);
		break;
	case CPMSG_PING:
		cp_sess_send(s, cpmsg_pack(CPMSG_PONG, "{}"));
		break;
	case CPMSG_PONG:
		break;
	default:
		cp_sess_close(s, "protocol error: unexpected message on ine-cp/1");
	}
}

static void peer_schedule_redial(struct cp_peer *p);

static void member_closed(struct cp_sess *s, const char *why, void *arg)
{
	struct cp_peer *p = arg;
	struct cp *cp = s->cp;

	if (!p || p->sess != s) {
		/* never said hello, or replaced by a newer session */
		log_debug("control plane: session closed: %s", why);
		return;
	}
	if (p->up)
		log_warn("control plane: session with node %u down: %s", p->id,
			 why);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	p->sess = NULL;
	p->up = false;
	cp_reqs_fail_peer(cp, p->id);
	peer_schedule_redial(p);
}

/* ------------------------------------------------------------ dialling */

static void redial_cb(evutil_socket_t fd, short what, void *arg);

static void peer_schedule_redial(struct cp_peer *p)
{
	struct cp *cp = p->cp;
	struct timeval tv;

	/* only the higher id dials, and only members that still exist */
	if (!cp_pki_cur(cp) || p->id >= cp_node_id(cp) ||
	    !config_node_find(cp_live(cp), p->id))
		return;
	if (!p->redial) {
		p->redial = evtimer_new(cp->base, redial_cb, p);
		if (!p->redial)
			return;
	}
	if (evtimer_pending(p->redial, NULL))
		return;
	tv.tv_sec = p->backoff_ms / 1000;
	tv.tv_usec = (p->backoff_ms % 1000) * 1000;
	evtimer_add(p->redial, &tv);
	p->backoff_ms = p->backoff_ms * 2 > CP_RECONNECT_MAX_MS ?
			CP_RECONNECT_MAX_MS : p->backoff_ms * 2;
}

static void peer_dial(struct cp_peer *p)
{
	struct cp *cp = p->cp;
	struct config_node *n = config_node_find(cp_live(cp), p->id);
	char addr[TOKEN_ADDR_MAX + 1], err[CP_ERR_MAX];
	SSL_CTX *ctx = cp_client_ctx(cp);
	struct cp_sess *s;

	if (p->sess || !n || !ctx)
		return;
	cp_hostport(n->address, cp->port, addr, sizeof(addr));
	s = cp_sess_dial(cp, addr, ctx, TLS_ALPN_CP, &cp_member_ops, NULL, err,
			 sizeof(err));
	if (!s) {
		snprintf(p->last_error, sizeof(p->last_error), "%s", err);
		peer_schedule_redial(p);
		return;
	}
	s->peer_id = p->id;
	s->arg = p;
	p->sess = s;
}

static void redial_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	peer_dial(arg);
}

/* Dial every lower-id node we have no session with. */
void cp_peers_sync(struct cp *cp)
{
	uint32_t me = cp_node_id(cp);

	if (!cp_pki_cur(cp))
		return;
	for (size_t i = 0; i < cp_live(cp)->n_nodes; i++) {
		uint32_t id = cp_live(cp)->nodes[i].id;
		struct cp_peer *p;

		if (id >= me || id > CP_MAX_PEERS)
			continue;
		p = peer_get(cp, id);
		if (p && !p->sess && !(p->redial && evtimer_pending(p->redial, NULL)))
			peer_dial(p);
	}
}

/* ------------------------------------------------------------ becoming a member */

/* Cluster create and join end here: the state in, port 3342 opened for
 * it, the members dialled. */
int cp_install_membership(struct cp *cp, struct pki_state *st,
			  struct config *cfg, char *err, size_t errlen)
{
	uint32_t gen = cfg->certs.generation;
	int ret;

	/* the PKI first: the daemon learns its node id before the
	 * configuration naming it goes live */
	if (cp->hooks.pki_set) {
		cp->hooks.pki_set(cp->hooks.arg, st);
	} else {
		if (cp->pki_owned)
			pki_state_free(cp->pki_mine);
		cp->pki_mine = st;
		cp->pki_owned = true;
	}
	ret = cp->hooks.config_apply(cp->hooks.arg, cfg, err, errlen);
	if (ret < 0) {
		if (cp->hooks.pki_set) {
			cp->hooks.pki_set(cp->hooks.arg, NULL);	/* frees st */
		} else {
			pki_state_free(cp->pki_mine);
			cp->pki_mine = NULL;
			cp->pki_owned = false;
		}
		return ret;
	}
	cp->rotated_gen = gen;
	cp_save_cpstate(cp);
	log_info("control plane: node %u of cluster %s (%s)",
		 pki_state_node_id(st), cp_live(cp)->cluster_id,
		 cp_live(cp)->cluster_name);
	if (cp->hooks.member_changed)
		cp->hooks.member_changed(cp->hooks.arg, pki_state_node_id(st));
	cp_listener_sync(cp);
	cp_notify_pki(cp);
	cp_peers_sync(cp);
	return 0;
}

void cp_member_accept(void *arg, struct tls_conn *c)
{
	struct cp *cp = arg;

	if (!cp_pki_cur(cp)) {
		int fd = c->fd;

		tls_conn_free(c);
		close(fd);
		return;
	}
	cp_sess_accept(cp, c, &cp_member_ops, NULL);
}

void cp_member_tick(struct cp *cp)
{
	json_t *st = NULL;

	for (uint32_t id = 1; id <= CP_MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (p && p->up && p->sess) {
			cp_sess_send(p->sess, cpmsg_pack(CPMSG_PING, "{}"));
			/* One status for every peer: it lists every session
			 * (a netlink dump and a JSON object each), a large
			 * periodic cost with a thousand relayed connections. */
			if (!st)
				st = status_msg(cp, 0);
			if (p->sess && st)
				cp_sess_send(p->sess, json_incref(st));
		}
	}
	json_decref(st);
	cp_peers_sync(cp);
	/* The daemon's PKI timer rotates the same state (a scheduled
	 * rotation, a retry after a failure): serve it within a tick. */
	if (cp_pki_cur(cp) && pki_state_generation(cp_pki_cur(cp)) != cp->published_gen)
		cp_notify_pki(cp);
}

/* ------------------------------------------------------------ status */

json_t *cp_status_peers(struct cp *cp)
{
	json_t *arr = json_array();
	time_t now = clock_now();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < cp_live(cp)->n_nodes; i++) {
		const struct config_node *n = &cp_live(cp)->nodes[i];
		struct cp_peer *p = n->id <= CP_MAX_PEERS ? cp->peers[n->id] : NULL;
		json_t *o;

		if (n->id == cp_node_id(cp))
			continue;
		/* the node's own status object (same shape as ours), with what
		 * this node knows about it on top */
		o = p && json_is_object(p->status) ? json_deep_copy(p->status) :
						     json_object();
		if (!o)
			continue;
		json_object_set_new(o, "uid", json_integer(n->id));
		json_object_set_new(o, "node_id", json_integer(n->id));
		json_object_set_new(o, "name", json_string(n->name));
		json_object_set_new(o, "address", json_string(n->address));
		json_object_set_new(o, "primary", json_boolean(n->id == cp_primary_id(cp)));
		json_object_set_new(o, "connected", json_boolean(p && p->up));
		json_object_set_new(o, "reported", json_boolean(p && p->status));
		if (p && p->status)
			json_object_set_new(o, "status_age_s",
					    json_integer(now - p->status_at));
		if (p && !p->up && p->last_error[0])
			json_object_set_new(o, "error", json_string(p->last_error));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *cp_status_self(struct cp *cp)
{
	json_t *o = json_pack("{s:i, s:i, s:s, s:I, s:I, s:s}",
			      "node_id", (int)cp_node_id(cp),
			      "primary_id", (int)cp_primary_id(cp),
			      "role", !cp_pki_cur(cp) ? "standalone" :
				      cp_is_primary(cp) ? "primary" : "member",
			      "config_version", (json_int_t)cp_live(cp)->version,
			      "certs_version", (json_int_t)cp->certs_version,
			      "cluster_id", cp_live(cp)->cluster_id);

	if (o)
		json_object_set_new(o, "peers", cp_status_peers(cp));
	return o;
}

