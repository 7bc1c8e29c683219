// SPDX-License-Identifier: GPL-2.0
/* api_routes.c — the REST endpoints.  Every write copies the live
 * configuration, edits the copy, validates it whole and commits it through
 * api_req_commit; any refusal replies 4xx before anything is committed.
 * Each handler's `arg` is the struct api_routes it was registered with: the
 * ops and context it reads through (api.c knows nothing of this file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_routes.h"

static const struct config *cur(void *arg, const struct api_ops **ops, void **ctx)
{
	const struct api_routes *rt = arg;

	*ops = rt->ops;
	*ctx = rt->ctx;
	return rt->ops->config_get(rt->ctx);
}

/* A private copy of the live configuration to edit; NULL after replying. */
static struct config *edit_begin(struct api_req *req, void *arg, bool need_cluster)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	struct config *next = NULL;

	if (need_cluster && !c->cluster_id[0]) {
		api_req_error(req, 409, "no_cluster",
			      "this node is not in a cluster yet (POST /v1/cluster or join first)");
		return NULL;
	}
	if (config_dup(c, &next)) {
		api_req_error(req, 500, "internal_error", "could not copy the configuration");
		return NULL;
	}
	return next;
}

/* Validate the edited copy and commit it, or refuse with 400. */
static void edit_commit(struct api_req *req, struct config *next, json_t *ok_body)
{
	char err[CONFIG_ERR_MAX];

	if (config_validate(next, err, sizeof(err))) {
		config_free(next);
		json_decref(ok_body);
		api_req_error(req, 400, "invalid_config", "%s", err);
		return;
	}
	api_req_commit(req, next, ok_body);
}

static int only_keys(struct api_req *req, json_t *body, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) {
		const char *const *a;

		for (a = keys; *a && strcmp(*a, k); a++)
			;
		if (!*a) {
			api_req_error(req, 400, "unknown_field", "body.%s: unknown field", k);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- bdbs ------------------------------------------------------------ */

static void bdbs_create(struct api_req *req, void *arg)
{
	json_t *body = api_req_body(req);
	struct config_bdb b = { 0 };
	struct config *next;
	char err[CONFIG_ERR_MAX];
	uint32_t id;

	if (!body || !(next = edit_begin(req, arg, true)))
		return;
	b.encrypt = next->policy_encrypt;  /* new databases follow the policy */
	if (config_bdb_from_json(body, &b, false, "body", err, sizeof(err))) {
		api_req_error(req, 400, "invalid_parameter", "%s", err);
		goto out;
	}
	if (b.id && config_bdb_find(next, b.id)) {
		api_req_error(req, 409, "bdb_exists", "database %u already exists", b.id);
		goto out;
	}
	if (config_bdb_add(next, &b, &id)) {
		api_req_error(req, 500, "internal_error", "out of memory");
		goto out;
	}
	config_bdb_clear(&b);
	edit_commit(req, next, config_bdb_to_json(config_bdb_find(next, id)));
	return;
out:
	config_bdb_clear(&b);
	config_free(next);
}

static void bdbs_list(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	json_t *a;

	if (api_req_method(req) == API_POST) {
		bdbs_create(req, arg);
		return;
	}
	a = json_array();
	for (size_t i = 0; a && i < c->n_bdbs; i++)
		json_array_append_new(a, config_bdb_to_json(&c->bdbs[i]));
	api_req_reply(req, 200, a);
}

static void bdb_one(struct api_req *req, void *arg)
{
	uint32_t id = api_req_id(req, 0);
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	struct config_bdb *b = config_bdb_find(c, id);
	struct config *next;
	char err[CONFIG_ERR_MAX];
	json_t *body;

	if (!b) {
		api_req_error(req, 404, "bdb_not_found", "database %u does not exist", id);
		return;
	}
	if (api_req_method(req) == API_GET) {
		api_req_reply(req, 200, config_bdb_to_json(b));
		return;
	}
	if (api_req_method(req) == API_DELETE) {
		for (size_t i = 0; i < c->n_routes; i++)
			if (c->routes[i].bdb == id) {
				api_req_error(req, 409, "bdb_in_use",
					      "database %u is used by route %u; delete it first",
					      id, c->routes[i].id);
				return;
			}
		if (!(next = edit_begin(req, arg, true)))
			return;
		b = config_bdb_find(next, id);
		config_bdb_clear(b);
		memmove(b, b + 1, (size_t)(next->bdbs + next->n_bdbs - (b + 1)) * sizeof(*b));
		next->n_bdbs--;
		edit_commit(req, next, NULL);
		return;
	}
	/* PUT: any subset of name, data_internode_encryption, targets. */
	if (!(body = api_req_body(req)) || !(next = edit_begin(req, arg, true)))
		return;
	b = config_bdb_find(next, id);
	if (config_bdb_from_json(body, b, true, "body", err, sizeof(err))) {
		config_free(next);
		api_req_error(req, 400, "invalid_parameter", "%s", err);
		return;
	}
	edit_commit(req, next, config_bdb_to_json(b));
}

/* ---- cluster, policy, nodes ----------------------------------------- */

static void policy(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "data_internode_encryption", NULL };
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	struct config *next;
	json_t *body, *v;

	if (api_req_method(req) == API_GET) {
		api_req_reply(req, 200, config_policy_to_json(c));
		return;
	}
	if (!(body = api_req_body(req)) || only_keys(req, body, keys))
		return;
	v = json_object_get(body, "data_internode_encryption");
	if (!v) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.data_internode_encryption: missing");
		return;
	}
	if (!json_is_boolean(v)) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.data_internode_encryption: expected true or false");
		return;
	}
	if (!(next = edit_begin(req, arg, true)))
		return;
	next->policy_encrypt = json_is_true(v);
	edit_commit(req, next, config_policy_to_json(next));
}

static json_t *cluster_json(const struct config *c)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:s}", "id", c->cluster_id,
			 "name", c->cluster_name, "version", (json_int_t)c->version,
			 "nodes", (json_int_t)c->n_nodes, "policy", config_policy_to_json(c),
			 "certificate_mode", config_cert_mode_name(c->certs.mode));
}

static void cluster(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "name", "node_name", "address", NULL };
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	char name[CONFIG_NAME_MAX], node[CONFIG_NAME_MAX] = "", addr[CONFIG_ADDR_MAX] = "";
	char err[CONFIG_ERR_MAX] = "";
	json_t *body, *v;
	int rc;

	if (api_req_method(req) == API_GET) {
		if (!c->cluster_id[0]) {
			api_req_error(req, 404, "no_cluster", "this node is not in a cluster");
			return;
		}
		api_req_reply(req, 200, cluster_json(c));
		return;
	}
	if (!(body = api_req_body(req)) || only_keys(req, body, keys))
		return;
	/* Reuse the config parsers' checks through a node-shaped object. */
	{
		struct config_node n;
		json_t *probe = json_pack("{s:I, s:O, s:s}", "uid", (json_int_t)1, "name",
					  json_object_get(body, "name") ?
					  json_object_get(body, "name") : json_null(),
					  "address", "x");

		if (!json_object_get(body, "name")) {
			json_decref(probe);
			api_req_error(req, 400, "invalid_parameter", "body.name: missing");
			return;
		}
		rc = config_node_from_json(probe, &n, "body", err, sizeof(err));
		json_decref(probe);
		if (rc) {
			api_req_error(req, 400, "invalid_parameter", "%s", err);
			return;
		}
		snprintf(name, sizeof(name), "%s", n.name);
	}
	v = json_object_get(body, "node_name");
	if (v && (!json_is_string(v) || !json_string_length(v) ||
		  json_string_length(v) >= sizeof(node))) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.node_name: expected a name of 1..%zu characters",
			      sizeof(node) - 1);
		return;
	}
	if (v)
		snprintf(node, sizeof(node), "%s", json_string_value(v));
	v = json_object_get(body, "address");
	if (v && (!json_is_string(v) || !json_string_length(v) ||
		  json_string_length(v) >= sizeof(addr))) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.address: expected a host name or IP address");
		return;
	}
	if (v)
		snprintf(addr, sizeof(addr), "%s", json_string_value(v));
	if (c->cluster_id[0]) {
		api_req_error(req, 409, "cluster_exists", "this node is already in cluster %s (%s)",
			      c->cluster_name, c->cluster_id);
		return;
	}
	if (!ops->cluster_create) {
		api_req_error(req, 501, "not_supported", "cluster creation is not available");
		return;
	}
	rc = ops->cluster_create(ctx, req, name, node, addr, err, sizeof(err));
	if (rc != API_PENDING)
		api_req_done(req, rc, err);
}

static void nodes_list(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	json_t *a = json_array();

	for (size_t i = 0; a && i < c->n_nodes; i++)
		json_array_append_new(a, config_node_to_json(&c->nodes[i]));
	api_req_reply(req, 200, a);
}

static void node_one(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	struct config_node *n = config_node_find(c, api_req_id(req, 0));

	if (!n) {
		api_req_error(req, 404, "node_not_found", "node %u does not exist",
			      api_req_id(req, 0));
		return;
	}
	api_req_reply(req, 200, config_node_to_json(n));
}

static void config_whole(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;

	api_req_reply(req, 200, config_to_json(cur(arg, &ops, &ctx)));
}

/* ---- certificates ---------------------------------------------------- */

static const char *const cert_names[CONFIG_PLANE_N] = {
	"ccs_internode_encryption", "data_internode_encryption"
};

static void certs(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "certificates", NULL };
	static const char *const ekeys[] = { "name", "key", "certificate", NULL };
	struct api_cert_upload up;
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	char err[CONFIG_ERR_MAX] = "";
	json_t *body, *list, *e;
	size_t i;
	int rc;

	memset(&up, 0, sizeof(up));
	if (api_req_method(req) == API_GET) {
		api_req_reply(req, 200, ops->certs_get ? ops->certs_get(ctx) :
			      config_certs_to_json(&c->certs));
		return;
	}
	if (!(body = api_req_body(req)) || only_keys(req, body, keys))
		return;
	list = json_object_get(body, "certificates");
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 2) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.certificates: expected an array of 1 or 2 entries");
		return;
	}
	json_array_foreach(list, i, e) {
		const char *k, *name, *key, *crt;
		json_t *v;
		int p;

		if (!json_is_object(e)) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.certificates[%zu]: expected an object", i);
			return;
		}
		json_object_foreach(e, k, v) {
			const char *const *a;

			for (a = ekeys; *a && strcmp(*a, k); a++)
				;
			if (!*a) {
				api_req_error(req, 400, "unknown_field",
					      "body.certificates[%zu].%s: unknown field", i, k);
				return;
			}
			if (!json_is_string(v)) {
				api_req_error(req, 400, "invalid_parameter",
					      "body.certificates[%zu].%s: expected a string", i, k);
				return;
			}
		}
		name = json_string_value(json_object_get(e, "name"));
		key = json_string_value(json_object_get(e, "key"));
		crt = json_string_value(json_object_get(e, "certificate"));
		if (!name || !key || !crt) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.certificates[%zu]: needs name, key and certificate", i);
			return;
		}
		for (p = 0; p < CONFIG_PLANE_N && strcmp(name, cert_names[p]); p++)
			;
		if (p == CONFIG_PLANE_N) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.certificates[%zu].name: \"%s\" is not "
				      "ccs_internode_encryption or data_internode_encryption",
				      i, name);
			return;
		}
		if (up.certificate[p]) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.certificates[%zu].name: %s given twice", i, name);
			return;
		}
		if (!strstr(crt, "-----BEGIN CERTIFICATE-----")) {
			api_req_error(req, 400, "invalid_certificate",
				      "body.certificates[%zu].certificate: not a PEM certificate", i);
			return;
		}
		if (!strstr(key, "-----BEGIN ") || !strstr(key, "PRIVATE KEY-----")) {
			api_req_error(req, 400, "invalid_certificate",
				      "body.certificates[%zu].key: not a PEM private key", i);
			return;
		}
		up.certificate[p] = crt;
		up.key[p] = key;
	}
	if (!c->cluster_id[0]) {
		api_req_error(req, 409, "no_cluster", "this node is not in a cluster yet");
		return;
	}
	if (!ops->certs_set) {
		api_req_error(req, 501, "not_supported", "certificate upload is not available");
		return;
	}
	rc = ops->certs_set(ctx, req, &up, err, sizeof(err));
	if (rc == -EINVAL) {
		api_req_error(req, 400, "invalid_certificate", "%s", err);
		return;
	}
	if (rc != API_PENDING)
		api_req_done(req, rc, err);
}

static void certs_rotate(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	char err[CONFIG_ERR_MAX] = "";
	int rc;

	if (!c->cluster_id[0]) {
		api_req_error(req, 409, "no_cluster", "this node is not in a cluster yet");
		return;
	}
	if (!ops->certs_rotate) {
		api_req_error(req, 501, "not_supported", "certificate rotation is not available");
		return;
	}
	rc = ops->certs_rotate(ctx, req, err, sizeof(err));
	if (rc != API_PENDING)
		api_req_done(req, rc, err);
}

/* ---- status, alerts, metrics ---------------------------------------- */

/* A peer as the control plane reports it ({node_id, name, connected,
 * status: that node's own status object or null, ...}) in the same shape
 * as this node's entry, plus the control plane's fields (node_id,
 * connected, primary, status_age_s, error) and reachable. */
static json_t *peer_node(const json_t *p)
{
	json_t *st = json_object_get(p, "status"), *o;
	const char *k;
	json_t *v;

	o = json_is_object(st) ? json_deep_copy(st) : json_object();
	if (!o)
		return NULL;
	if (!json_object_get(o, "uid"))
		json_object_set(o, "uid", json_object_get(p, "node_id"));
	if (!json_object_get(o, "name") && json_object_get(p, "name"))
		json_object_set(o, "name", json_object_get(p, "name"));
	json_object_set_new(o, "reachable", json_boolean(json_is_true(json_object_get(p,
									"connected"))));
	json_object_foreach((json_t *)p, k, v)
		if (strcmp(k, "status") && strcmp(k, "name"))
			json_object_set(o, k, v);
	return o;
}

static void status(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	json_t *nodes = json_array(), *peers, *o;

	if (ops->status_local && (o = ops->status_local(ctx)))
		json_array_append_new(nodes, o);
	if (ops->status_peers && (peers = ops->status_peers(ctx))) {
		json_t *p;
		size_t i;

		json_array_foreach(peers, i, p)
			json_array_append_new(nodes, peer_node(p));
		json_decref(peers);
	}
	api_req_reply(req, 200, json_pack("{s:s, s:s, s:I, s:o}", "cluster_id", c->cluster_id,
					  "cluster_name", c->cluster_name, "config_version",
					  (json_int_t)c->version, "nodes", nodes));
}

static void alerts(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;

	cur(arg, &ops, &ctx);
	api_req_reply(req, 200, ops->alerts_get ? ops->alerts_get(ctx) : json_array());
}

static void metrics(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -ENOSYS;

	cur(arg, &ops, &ctx);
	f = open_memstream(&text, &len);
	if (!f) {
		api_req_error(req, 500, "internal_error", "out of memory");
		return;
	}
	if (ops->metrics_write)
		rc = ops->metrics_write(ctx, f);
	if (fclose(f) || rc) {
		free(text);
		api_req_error(req, rc == -ENOSYS ? 501 : 500, "metrics_failed",
			      "could not collect metrics: %s", strerror(rc ? -rc : errno));
		return;
	}
	api_req_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* ---- routes ---------------------------------------------------------- */

/* A route without a fixed node listens on every node but its peer. */
static bool route_has_listener(const struct config *c, const struct config_route *r)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id != r->peer_node)
			return true;
	return false;
}

static void routes_list(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	json_t *a;
	struct config *next;
	struct config_route r;
	char err[CONFIG_ERR_MAX];
	json_t *body, *out;
	uint32_t id;

	if (api_req_method(req) == API_GET) {
		a = json_array();
		for (size_t i = 0; a && i < c->n_routes; i++)
			json_array_append_new(a, config_route_to_json(&c->routes[i]));
		api_req_reply(req, 200, a);
		return;
	}
	if (!(body = api_req_body(req)))
		return;
	if (config_route_from_json(body, &r, "body", err, sizeof(err))) {
		api_req_error(req, 400, "invalid_parameter", "%s", err);
		return;
	}
	if (r.id && config_route_find(c, r.id)) {
		api_req_error(req, 409, "route_exists", "route %u already exists", r.id);
		return;
	}
	if (!config_bdb_find(c, r.bdb)) {
		api_req_error(req, 404, "bdb_not_found", "body.bdb: database %u does not exist",
			      r.bdb);
		return;
	}
	if (!(next = edit_begin(req, arg, true)))
		return;
	if (config_route_add(next, &r, &id)) {
		config_free(next);
		api_req_error(req, 500, "internal_error", "out of memory");
		return;
	}
	out = config_route_to_json(config_route_find(next, id));
	if (!r.node && !route_has_listener(c, &r))
		/* Valid (nodes that join later will listen), but useless now:
		 * say so rather than let the operator hunt for the port. */
		json_object_set_new(out, "warning", json_sprintf(
			"no node listens on port %u yet: a route listens on every node "
			"except its peer (node %u), and the cluster has no other node",
			r.listen_port, r.peer_node));
	edit_commit(req, next, out);
}

static void route_one(struct api_req *req, void *arg)
{
	const struct api_ops *ops;
	void *ctx;
	const struct config *c = cur(arg, &ops, &ctx);
	uint32_t id = api_req_id(req, 0);
	struct config_route *r = config_route_find(c, id);
	struct config *next;

	if (!r) {
		api_req_error(req, 404, "route_not_found", "route %u does not exist", id);
		return;
	}
	if (api_req_method(req) == API_GET) {
		api_req_reply(req, 200, config_route_to_json(r));
		return;
	}
	if (!(next = edit_begin(req, arg, true)))
		return;
	config_route_del(next, id);
	edit_commit(req, next, NULL);
}

int api_routes_register(struct api *api, const struct api_routes *rt)
{
	static const struct {
		unsigned int methods;
		const char *pattern;
		api_handler_fn fn;
	} table[] = {
		{ API_GET | API_POST, "/v1/bdbs", bdbs_list },
		{ API_GET | API_PUT | API_DELETE, "/v1/bdbs/*", bdb_one },
		{ API_GET | API_PUT, "/v1/cluster/policy", policy },
		{ API_GET | API_POST, "/v1/cluster", cluster },
		{ API_GET | API_PUT, "/v1/cluster/certificates", certs },
		{ API_POST, "/v1/cluster/certificates/rotate", certs_rotate },
		{ API_GET, "/v1/cluster/alerts", alerts },
		{ API_GET, "/v1/config", config_whole },
		{ API_GET, "/v1/nodes", nodes_list },
		{ API_GET, "/v1/nodes/*", node_one },
		{ API_GET, "/v1/status", status },
		{ API_GET, "/metrics", metrics },
		{ API_GET | API_POST, "/v1/routes", routes_list },
		{ API_GET | API_DELETE, "/v1/routes/*", route_one },
	};
	int rc;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if ((rc = api_route_add(api, table[i].methods, table[i].pattern, table[i].fn,
					(void *)rt)))
			return rc;
	return 0;
}
