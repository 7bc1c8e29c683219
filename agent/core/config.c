// SPDX-License-Identifier: GPL-2.0
/* config.c — the cluster configuration model: building and looking up
 * nodes, databases and routes, cross-checks (config_validate), JSON out and
 * atomic saving.  config_parse.c, above this file, has the strict JSON
 * parsers and what goes through them (config_dup, config_load).  See
 * config.h for the model. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/atomicfile.h"
#include "core/config.h"
#include "core/errmsg.h"

/* ---- JSON out -------------------------------------------------------- */

json_t *config_node_to_json(const struct config_node *n)
{
	return json_pack("{s:I, s:s, s:s}", "uid", (json_int_t)n->id, "name", n->name,
			 "address", n->address);
}

static void target_addr(const struct config_target *t, char *buf, size_t len)
{
	if (strchr(t->host, ':'))
		snprintf(buf, len, "[%s]:%u", t->host, t->port);
	else
		snprintf(buf, len, "%s:%u", t->host, t->port);
}

json_t *config_bdb_to_json(const struct config_bdb *b)
{
	json_t *ts = json_array(), *o;
	char addr[CONFIG_ADDR_MAX + 16];

	if (!ts)
		return NULL;
	for (size_t i = 0; i < b->n_targets; i++) {
		target_addr(&b->targets[i], addr, sizeof(addr));
		json_array_append_new(ts, json_pack("{s:s, s:I, s:s}", "name",
						    b->targets[i].name, "node",
						    (json_int_t)b->targets[i].node,
						    "address", addr));
	}
	o = json_pack("{s:I, s:s, s:b, s:o}", "uid", (json_int_t)b->id, "name", b->name,
		      "data_internode_encryption", b->encrypt, "targets", ts);
	return o;
}

json_t *config_route_to_json(const struct config_route *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "uid", (json_int_t)r->id,
			 "bdb", (json_int_t)r->bdb, "node", (json_int_t)r->node,
			 "listen_port", (json_int_t)r->listen_port,
			 "peer_node", (json_int_t)r->peer_node, "target", r->target);
}

json_t *config_policy_to_json(const struct config *cfg)
{
	return json_pack("{s:b}", "data_internode_encryption", cfg->policy_encrypt);
}

const char *config_plane_key(enum config_plane p)
{
	static const char *const key[CONFIG_PLANE_N] = {
		"ccs_internode_encryption", "data_internode_encryption"
	};

	return p < CONFIG_PLANE_N ? key[p] : "?";
}

const char *config_cert_mode_name(enum config_cert_mode m)
{
	return m == CONFIG_CERT_CUSTOMER ? "customer" : "internal";
}

json_t *config_certs_to_json(const struct config_certs *c)
{
	json_t *o = json_pack("{s:s, s:I}", "mode", config_cert_mode_name(c->mode),
			      "generation", (json_int_t)c->generation);

	for (int p = 0; o && p < CONFIG_PLANE_N; p++) {
		const struct config_cert_meta *m = &c->plane[p];

		if (!m->subject[0] && !m->serial[0] && !m->not_after)
			continue;
		json_object_set_new(o, config_plane_key(p),
				    json_pack("{s:s, s:s, s:I}", "subject", m->subject,
					      "serial", m->serial, "not_after",
					      (json_int_t)m->not_after));
	}
	return o;
}

json_t *config_to_json(const struct config *cfg)
{
	json_t *nodes = json_array(), *bdbs = json_array(), *routes = json_array();
	size_t i;

	if (!nodes || !bdbs || !routes)
		goto fail;
	for (i = 0; i < cfg->n_nodes; i++)
		json_array_append_new(nodes, config_node_to_json(&cfg->nodes[i]));
	for (i = 0; i < cfg->n_bdbs; i++)
		json_array_append_new(bdbs, config_bdb_to_json(&cfg->bdbs[i]));
	for (i = 0; i < cfg->n_routes; i++)
		json_array_append_new(routes, config_route_to_json(&cfg->routes[i]));
	return json_pack("{s:I, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:o}",
			 "version", (json_int_t)cfg->version,
			 "cluster", "id", cfg->cluster_id, "name", cfg->cluster_name,
			 "policy", config_policy_to_json(cfg),
			 "nodes", nodes, "bdbs", bdbs, "routes", routes,
			 "certificates", config_certs_to_json(&cfg->certs));
fail:
	json_decref(nodes);
	json_decref(bdbs);
	json_decref(routes);
	return NULL;
}

/* ---- whole config ---------------------------------------------------- */

struct config *config_new(void)
{
	return calloc(1, sizeof(struct config));
}

void config_bdb_clear(struct config_bdb *b)
{
	free(b->targets);
	b->targets = NULL;
	b->n_targets = 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_bdbs; i++)
		config_bdb_clear(&cfg->bdbs[i]);
	free(cfg->bdbs);
	free(cfg->nodes);
	free(cfg->routes);
	free(cfg);
}

static int grow(void **arr, size_t n, size_t elem)
{
	void *p = realloc(*arr, (n + 1) * elem);

	if (!p)
		return -ENOMEM;
	*arr = p;
	memset((char *)p + n * elem, 0, elem);
	return 0;
}

int config_node_add(struct config *cfg, const struct config_node *n)
{
	int rc = grow((void **)&cfg->nodes, cfg->n_nodes, sizeof(*n));

	if (rc)
		return rc;
	cfg->nodes[cfg->n_nodes++] = *n;
	return 0;
}

int config_bdb_add(struct config *cfg, const struct config_bdb *b, uint32_t *id)
{
	struct config_bdb *d;
	uint32_t next = 1;
	int rc;

	for (size_t i = 0; i < cfg->n_bdbs; i++)
		if (cfg->bdbs[i].id >= next)
			next = cfg->bdbs[i].id + 1;
	if ((rc = grow((void **)&cfg->bdbs, cfg->n_bdbs, sizeof(*b))))
		return rc;
	d = &cfg->bdbs[cfg->n_bdbs];
	*d = *b;
	d->targets = NULL;
	if (b->n_targets) {
		d->targets = calloc(b->n_targets, sizeof(*d->targets));
		if (!d->targets)
			return -ENOMEM;
		memcpy(d->targets, b->targets, b->n_targets * sizeof(*d->targets));
	}
	if (!d->id) {
		if (next == 0)
			return -ENOSPC;
		d->id = next;
	}
	cfg->n_bdbs++;
	if (id)
		*id = d->id;
	return 0;
}

int config_route_add(struct config *cfg, const struct config_route *r, uint32_t *id)
{
	uint32_t next = 1;
	int rc;

	for (size_t i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].id >= next)
			next = cfg->routes[i].id + 1;
	if ((rc = grow((void **)&cfg->routes, cfg->n_routes, sizeof(*r))))
		return rc;
	cfg->routes[cfg->n_routes] = *r;
	if (!r->id)
		cfg->routes[cfg->n_routes].id = next;
	if (id)
		*id = cfg->routes[cfg->n_routes].id;
	cfg->n_routes++;
	return 0;
}

int config_route_del(struct config *cfg, uint32_t id)
{
	for (size_t i = 0; i < cfg->n_routes; i++) {
		if (cfg->routes[i].id != id)
			continue;
		memmove(&cfg->routes[i], &cfg->routes[i + 1],
			(cfg->n_routes - i - 1) * sizeof(cfg->routes[0]));
		cfg->n_routes--;
		return 0;
	}
	return -ENOENT;
}

struct config_node *config_node_find(const struct config *cfg, uint32_t id)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == id)
			return &cfg->nodes[i];
	return NULL;
}

struct config_bdb *config_bdb_find(const struct config *cfg, uint32_t id)
{
	for (size_t i = 0; i < cfg->n_bdbs; i++)
		if (cfg->bdbs[i].id == id)
			return &cfg->bdbs[i];
	return NULL;
}

struct config_route *config_route_find(const struct config *cfg, uint32_t id)
{
	for (size_t i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].id == id)
			return &cfg->routes[i];
	return NULL;
}

struct config_target *config_bdb_target_find(const struct config_bdb *bdb, const char *name)
{
	for (size_t i = 0; i < bdb->n_targets; i++)
		if (!strcmp(bdb->targets[i].name, name))
			return &bdb->targets[i];
	return NULL;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
	size_t i, k;

	if (cfg->cluster_id[0] || cfg->cluster_name[0] || cfg->n_nodes || cfg->n_bdbs) {
		if (!cfg->cluster_id[0])
			return errmsg_fail(err, errlen, -EINVAL, "cluster.id: missing");
		if (!cfg->cluster_name[0])
			return errmsg_fail(err, errlen, -EINVAL, "cluster.name: missing");
	}
	for (i = 0; i < cfg->n_nodes; i++)
		for (k = 0; k < i; k++) {
			if (cfg->nodes[i].id == cfg->nodes[k].id)
				return errmsg_fail(err, errlen, -EINVAL, "nodes[%zu].uid: %u used twice", i,
					    cfg->nodes[i].id);
			if (!strcmp(cfg->nodes[i].name, cfg->nodes[k].name))
				return errmsg_fail(err, errlen, -EINVAL, "nodes[%zu].name: \"%s\" used twice", i,
					    cfg->nodes[i].name);
		}
	for (i = 0; i < cfg->n_bdbs; i++) {
		const struct config_bdb *b = &cfg->bdbs[i];

		if (!b->id)
			return errmsg_fail(err, errlen, -EINVAL, "bdbs[%zu].uid: missing", i);
		for (k = 0; k < i; k++) {
			if (b->id == cfg->bdbs[k].id)
				return errmsg_fail(err, errlen, -EINVAL, "bdbs[%zu].uid: %u used twice", i, b->id);
			if (!strcmp(b->name, cfg->bdbs[k].name))
				return errmsg_fail(err, errlen, -EINVAL, "bdbs[%zu].name: \"%s\" used twice", i,
					    b->name);
		}
		for (size_t t = 0; t < b->n_targets; t++) {
			if (!config_node_find(cfg, b->targets[t].node))
				return errmsg_fail(err, errlen, -EINVAL, "bdbs[%zu].targets[%zu].node: no node %u",
					    i, t, b->targets[t].node);
			for (k = 0; k < t; k++)
				if (!strcmp(b->targets[t].name, b->targets[k].name))
					return errmsg_fail(err, errlen, -EINVAL,
						    "bdbs[%zu].targets[%zu].name: \"%s\" used twice",
						    i, t, b->targets[t].name);
		}
	}
	for (i = 0; i < cfg->n_routes; i++) {
		const struct config_route *r = &cfg->routes[i];
		const struct config_bdb *b = config_bdb_find(cfg, r->bdb);
		const struct config_target *t;

		if (!r->id)
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].uid: missing", i);
		if (!b)
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].bdb: no database %u", i, r->bdb);
		if (!config_node_find(cfg, r->peer_node))
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].peer_node: no node %u", i,
				    r->peer_node);
		if (r->node && !config_node_find(cfg, r->node))
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].node: no node %u", i, r->node);
		if (r->node && r->node == r->peer_node)
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].node: same as peer_node", i);
		t = config_bdb_target_find(b, r->target);
		if (!t)
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].target: database %u has no target \"%s\"",
				    i, r->bdb, r->target);
		if (t->node != r->peer_node)
			return errmsg_fail(err, errlen, -EINVAL,
				    "routes[%zu].target: \"%s\" is on node %u, not peer_node %u",
				    i, r->target, t->node, r->peer_node);
		if (r->listen_port == CONFIG_INE_PORT)
			return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].listen_port: %u is the internode port",
				    i, CONFIG_INE_PORT);
		for (k = 0; k < i; k++) {
			const struct config_route *o = &cfg->routes[k];

			if (r->id == o->id)
				return errmsg_fail(err, errlen, -EINVAL, "routes[%zu].uid: %u used twice", i, r->id);
			/* Two routes listening on the same port on one node. */
			if (r->listen_port == o->listen_port &&
			    (!r->node || !o->node || r->node == o->node))
				return errmsg_fail(err, errlen, -EINVAL,
					    "routes[%zu].listen_port: %u already used by route %u",
					    i, r->listen_port, o->id);
		}
	}
	return 0;
}

/* ---- persistence ----------------------------------------------------- */

int config_save(const struct config *cfg, const char *path)
{
	json_t *j = config_to_json(cfg);
	char *s;
	int rc;

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	rc = atomicfile_write_path(path, s, strlen(s), 0600);
	free(s);
	return rc;
}
