// SPDX-License-Identifier: GPL-2.0
/* cp_daemon.c — the control plane wired into ined: the daemon's hooks for
 * cp_new, the commit/status hooks, and the REST routes POST /v1/cluster,
 * POST /v1/cluster/join-token, POST /v1/cluster/join and
 * PUT /v1/cluster/certificates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "cp/cp.h"
#include "cp/token.h"
#include "daemon/daemon.h"
#include "tls/listener.h"

/* ------------------------------------------------------------ ined glue */

static const struct config *hk_config_get(void *arg)
{
	return daemon_config(arg);
}

static int hk_config_apply(void *arg, struct config *next, char *err,
			   size_t errlen)
{
	return daemon_config_apply(arg, next, err, errlen);
}

static struct pki_state *hk_pki_get(void *arg)
{
	return daemon_pki(arg);
}

static void hk_pki_set(void *arg, struct pki_state *st)
{
	daemon_pki_set(arg, st);
}

static json_t *hk_status_local(void *arg)
{
	return daemon_api_ops.status_local ? daemon_api_ops.status_local(arg) :
	       NULL;
}

void cp_hooks_daemon(struct cp_hooks *h, struct daemon *d)
{
	memset(h, 0, sizeof(*h));
	h->config_get = hk_config_get;
	h->config_apply = hk_config_apply;
	h->pki_get = hk_pki_get;
	h->pki_set = hk_pki_set;
	h->status_local = hk_status_local;
	h->arg = d;
}

/* The API's conventions: 503 is -EAGAIN, 409 is -EBUSY/-EEXIST. */
static int api_rc(int rc)
{
	switch (cp_http_status(rc)) {
	case 503: return -EAGAIN;
	case 409: return -EBUSY;
	case 400: return -EINVAL;
	default: return rc;
	}
}

static void api_done(void *arg, int rc, const char *msg)
{
	api_req_done(arg, rc < 0 ? api_rc(rc) : 0, msg);
}

static int commit_hook(void *arg, struct api_req *req, struct config *next,
		       char *err, size_t errlen)
{
	int rc = cp_config_propose(arg, next, api_done, req, err, errlen);

	return rc < 0 ? api_rc(rc) : rc;
}

static json_t *peers_hook(void *arg)
{
	return cp_status_peers(arg);
}

static void reply_err(struct api_req *req, int rc, const char *code,
		      const char *msg)
{
	api_req_error(req, cp_http_status(rc), code, "%s", msg);
}

/* Body fields: strings, except the listed integer ones; nothing else. */
static bool body_fields(struct api_req *req, json_t *body,
			const char *const *strs, const char *intf)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		bool known = false;

		for (const char *const *k = strs; *k; k++)
			if (!strcmp(key, *k)) {
				known = true;
				if (!json_is_string(v)) {
					api_req_error(req, 400, "invalid_parameter",
						      "body.%s: expected a string", key);
					return false;
				}
			}
		if (intf && !strcmp(key, intf)) {
			known = true;
			if (!json_is_integer(v)) {
				api_req_error(req, 400, "invalid_parameter",
					      "body.%s: expected an integer", key);
				return false;
			}
		}
		if (!known) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.%.64s: unknown field", key);
			return false;
		}
	}
	return true;
}

static const char *body_str(json_t *body, const char *k)
{
	return json_string_value(json_object_get(body, k));
}

struct join_wait {
	struct api_req *req;
	struct cp *cp;
};

/* create / join finished: reply to the waiting request */
static void member_done(void *arg, int rc, const char *msg)
{
	struct join_wait *w = arg;

	if (rc < 0)
		reply_err(w->req, rc,
			  rc == -EKEYEXPIRED ? "token_expired" :
			  rc == -EALREADY ? "token_used" :
			  rc == -EACCES ? "join_refused" :
			  rc == -EHOSTUNREACH ? "primary_unreachable" : "join_failed",
			  msg);
	else
		api_req_reply(w->req, 200, json_pack("{s:s, s:s, s:i}", "id",
			      cp_config(w->cp)->cluster_id, "name",
			      cp_config(w->cp)->cluster_name, "node_uid",
			      (int)cp_node_id(w->cp)));
	free(w);
}

/* The body's node_name, else this host's name (else fallback). */
static const char *node_name(json_t *body, char *host, size_t len,
			     const char *fallback)
{
	const char *node = body_str(body, "node_name");

	if (node)
		return node;
	if (gethostname(host, len) < 0)
		snprintf(host, len, "%s", fallback);
	host[len - 1] = '\0';
	return host;
}

/* What member_done answers; NULL once 500 is the answer. */
static struct join_wait *join_wait_new(struct api_req *req, struct cp *cp)
{
	struct join_wait *w = calloc(1, sizeof(*w));

	if (!w) {
		api_req_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	w->req = req;
	w->cp = cp;
	return w;
}

/* POST /v1/cluster {name, node_name?, address?} */
static void route_create(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "name", "node_name", "address", NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", host[256];
	const char *name, *node, *addr;
	json_t *body = api_req_body(req);
	struct join_wait *w;
	int rc;

	if (!body || !body_fields(req, body, keys, NULL))
		return;
	name = body_str(body, "name");
	if (!name) {
		api_req_error(req, 400, "invalid_parameter", "body.name: missing");
		return;
	}
	node = node_name(body, host, sizeof(host), "node1");
	addr = body_str(body, "address");
	if (!addr) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.address: missing (where the other nodes reach this one)");
		return;
	}
	w = join_wait_new(req, cp);
	if (!w)
		return;
	rc = cp_cluster_create(cp, name, node, addr, member_done, w, err,
			       sizeof(err));
	if (rc == CP_PENDING)
		return;
	free(w);
	reply_err(req, rc, rc == -EEXIST ? "already_member" : "invalid_parameter",
		  err);
}

/* POST /v1/cluster/join-token {ttl?} */
static void route_token(struct api_req *req, void *arg)
{
	static const char *const keys[] = { NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", tok[TOKEN_STR_MAX];
	json_t *body = api_req_body(req);
	long ttl = 0;
	int rc;

	if (!body || !body_fields(req, body, keys, "ttl"))
		return;
	if (json_object_get(body, "ttl"))
		ttl = (long)json_integer_value(json_object_get(body, "ttl"));
	if (ttl <= 0 && json_object_get(body, "ttl")) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.ttl: seconds, 1..%d", TOKEN_TTL_MAX);
		return;
	}
	rc = cp_join_token_new(cp, ttl, tok, sizeof(tok), err, sizeof(err));
	if (rc < 0) {
		reply_err(req, rc, rc == -EPERM ? "not_primary" :
			  rc == -ENOTCONN ? "no_cluster" : "invalid_parameter", err);
		return;
	}
	api_req_reply(req, 200, json_pack("{s:s, s:I}", "token", tok, "ttl",
		      (json_int_t)(ttl ? ttl : TOKEN_TTL_DEFAULT)));
	OPENSSL_cleanse(tok, sizeof(tok));
}

/* POST /v1/cluster/join {token, node_name?, address} */
static void route_join(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "token", "node_name", "address", NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", host[256];
	const char *tok, *node, *addr;
	json_t *body = api_req_body(req);
	struct join_wait *w;
	int rc;

	if (!body || !body_fields(req, body, keys, NULL))
		return;
	tok = body_str(body, "token");
	addr = body_str(body, "address");
	if (!tok || !addr) {
		api_req_error(req, 400, "invalid_parameter", "body.%s: missing",
			      tok ? "address" : "token");
		return;
	}
	node = node_name(body, host, sizeof(host), "node");
	w = join_wait_new(req, cp);
	if (!w)
		return;
	rc = cp_cluster_join(cp, tok, node, addr, member_done, w, err, sizeof(err));
	if (rc == CP_PENDING)
		return;
	free(w);
	reply_err(req, rc, rc == -EKEYEXPIRED ? "token_expired" :
		  rc == -EISCONN ? "already_member" : "invalid_parameter", err);
}

/* PUT /v1/cluster/certificates: replicated through the primary. */
static void route_certs(struct api_req *req, void *arg)
{
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "";
	json_t *body = api_req_body(req);
	int rc;

	if (!body)
		return;
	if (!cp_is_member(cp)) {
		/* single node: the daemon's own handler */
		rc = -ENOTCONN;
		reply_err(req, rc, "no_cluster",
			  "create or join a cluster before uploading certificates");
		return;
	}
	rc = cp_certs_propose(cp, body, api_done, req, err, sizeof(err));
	if (rc == CP_PENDING)
		return;
	if (rc < 0) {
		reply_err(req, rc, rc == -EINVAL ? "invalid_certificate" :
			  "primary_unreachable", err);
		return;
	}
	api_req_reply(req, 200, json_pack("{s:b}", "ok", 1));
}

static int listener_stats_hook(void *arg, struct listener_stats *st)
{
	struct listener *l = cp_listener(arg);

	if (!l)
		return -ENOENT;
	listener_get_stats(l, st);
	return 0;
}

int cp_attach(struct cp *cp, struct daemon *d, struct api *api)
{
	int rc;

	daemon_set_listener_stats(d, listener_stats_hook, cp);
	daemon_set_commit_hook(d, commit_hook, cp);
	daemon_set_status_peers(d, peers_hook, cp);
	if ((rc = api_route_add(api, API_POST, "/v1/cluster", route_create, cp)) ||
	    (rc = api_route_add(api, API_POST, "/v1/cluster/join-token",
				route_token, cp)) ||
	    (rc = api_route_add(api, API_POST, "/v1/cluster/join", route_join,
				cp)) ||
	    (rc = api_route_add(api, API_PUT, "/v1/cluster/certificates",
				route_certs, cp)))
		return rc;
	return 0;
}
