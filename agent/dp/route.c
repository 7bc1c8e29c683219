// SPDX-License-Identifier: GPL-2.0
/* Route header codec and the relay's configuration tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "dp/route.h"

struct route_table {
	uint32_t self;
	struct relay_config_node *nodes;
	size_t n_nodes;
	struct relay_config_db *dbs;
	size_t n_dbs;
	struct relay_config_route *routes;
	size_t n_routes;
	struct relay_config_target *targets;
	size_t n_targets;
};

static const char *const status_str[__ROUTE_STATUS_MAX] = {
	[ROUTE_OK] = "ok",
	[ROUTE_ERR_UNKNOWN_DB] = "unknown database",
	[ROUTE_ERR_NOT_ALLOWED] = "target not allowed",
	[ROUTE_ERR_MODE] = "encryption mode mismatch",
	[ROUTE_ERR_CONNECT] = "target unreachable",
	[ROUTE_ERR_BAD_HEADER] = "malformed route header",
	[ROUTE_ERR_BUSY] = "receiver busy",
};

const char *route_status_str(unsigned int st)
{
	return st < __ROUTE_STATUS_MAX ? status_str[st] : "unknown status";
}

bool route_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > ROUTE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return false;
	}
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int route_header_encode(const struct route_header *h, uint8_t *buf, size_t size)
{
	size_t n = strnlen(h->name, ROUTE_NAME_MAX + 1);

	if (!route_name_valid(h->name, n) || size < ROUTE_HDR_FIXED + n)
		return -EINVAL;
	memcpy(buf, ROUTE_MAGIC, 4);
	buf[4] = ROUTE_VERSION;
	buf[5] = 0;
	put32(buf + 6, h->db);
	buf[10] = n;
	memcpy(buf + ROUTE_HDR_FIXED, h->name, n);
	return ROUTE_HDR_FIXED + n;
}

size_t route_header_need(const uint8_t *buf, size_t len)
{
	/* A bad length is reported by route_header_parse, never read. */
	if (len < ROUTE_HDR_FIXED || !buf[10] || buf[10] > ROUTE_NAME_MAX)
		return ROUTE_HDR_FIXED;
	return ROUTE_HDR_FIXED + buf[10];
}

int route_header_parse(const uint8_t *buf, size_t len, struct route_header *h)
{
	size_t n;

	/* Check each field as soon as it is there: fail early, not late. */
	if (memcmp(buf, ROUTE_MAGIC, len < 4 ? len : 4))
		return -EBADMSG;
	if ((len > 4 && buf[4] != ROUTE_VERSION) || (len > 5 && buf[5] != 0))
		return -EBADMSG;
	if (len < ROUTE_HDR_FIXED)
		return 0;
	n = buf[10];
	if (n == 0 || n > ROUTE_NAME_MAX)
		return -EBADMSG;
	if (len < ROUTE_HDR_FIXED + n)
		return 0;
	if (len > ROUTE_HDR_FIXED + n)
		return -EBADMSG;	/* callers never hand us more */
	if (!route_name_valid((const char *)buf + ROUTE_HDR_FIXED, n))
		return -EBADMSG;
	h->db = get32(buf + 6);
	memcpy(h->name, buf + ROUTE_HDR_FIXED, n);
	h->name[n] = '\0';
	return ROUTE_HDR_FIXED + n;
}

int route_reply_encode(enum route_status st, const char *msg, uint8_t *buf,
		       size_t size)
{
	size_t n = msg ? strnlen(msg, 255) : 0;

	if ((unsigned int)st >= __ROUTE_STATUS_MAX ||
	    size < ROUTE_REPLY_FIXED + n)
		return -EINVAL;
	memcpy(buf, ROUTE_MAGIC, 4);
	buf[4] = ROUTE_VERSION;
	buf[5] = st;
	buf[6] = n;
	if (n)
		memcpy(buf + ROUTE_REPLY_FIXED, msg, n);
	return ROUTE_REPLY_FIXED + n;
}

size_t route_reply_need(const uint8_t *buf, size_t len)
{
	if (len < ROUTE_REPLY_FIXED)
		return ROUTE_REPLY_FIXED;
	return ROUTE_REPLY_FIXED + buf[6];
}

int route_reply_parse(const uint8_t *buf, size_t len, uint8_t *status,
		      char *msg)
{
	size_t n, i;

	if (memcmp(buf, ROUTE_MAGIC, len < 4 ? len : 4))
		return -EBADMSG;
	if (len > 4 && buf[4] != ROUTE_VERSION)
		return -EBADMSG;
	if (len > 5 && buf[5] >= __ROUTE_STATUS_MAX)
		return -EBADMSG;
	if (len < ROUTE_REPLY_FIXED)
		return 0;
	n = buf[6];
	if (len < ROUTE_REPLY_FIXED + n)
		return 0;
	if (len > ROUTE_REPLY_FIXED + n)
		return -EBADMSG;
	*status = buf[5];
	/* The peer's text goes to our logs: printable ASCII only. */
	for (i = 0; i < n; i++) {
		uint8_t c = buf[ROUTE_REPLY_FIXED + i];

		msg[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	msg[n] = '\0';
	return ROUTE_REPLY_FIXED + n;
}

/* ---- tables ---- */

int route_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!addr[0])
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static bool addr_ok(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return strnlen(addr, ROUTE_ADDR_MAX) < ROUTE_ADDR_MAX &&
	       route_sockaddr(addr, 0, &ss, &len) == 0;
}

static bool str_ok(const char *s)
{
	size_t n = strnlen(s, ROUTE_NAME_MAX + 1);

	return route_name_valid(s, n);
}

static int validate(const struct relay_config *c, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < c->n_nodes; i++) {
		const struct relay_config_node *n = &c->nodes[i];

		if (!n->id || !str_ok(n->name) || !addr_ok(n->addr))
			return errmsg_fail(err, errlen, -EINVAL, "node %zu (id %u): bad id, name or address",
				    i, n->id);
		for (j = 0; j < i; j++)
			if (c->nodes[j].id == n->id)
				return errmsg_fail(err, errlen, -EINVAL, "node id %u listed twice", n->id);
	}
	for (i = 0; i < c->n_dbs; i++)
		for (j = 0; j < i; j++)
			if (c->dbs[j].id == c->dbs[i].id)
				return errmsg_fail(err, errlen, -EINVAL, "db %u listed twice", c->dbs[i].id);
	for (i = 0; i < c->n_routes; i++) {
		const struct relay_config_route *r = &c->routes[i];
		bool db = false, node = false;

		for (j = 0; j < c->n_dbs; j++)
			db |= c->dbs[j].id == r->db;
		for (j = 0; j < c->n_nodes; j++)
			node |= c->nodes[j].id == r->peer_node;
		if (!db)
			return errmsg_fail(err, errlen, -EINVAL, "route %zu: unknown db %u", i, r->db);
		if (!node || r->peer_node == c->self_node)
			return errmsg_fail(err, errlen, -EINVAL, "route %zu: bad peer node %u", i,
				    r->peer_node);
		if (!str_ok(r->target))
			return errmsg_fail(err, errlen, -EINVAL, "route %zu: bad target name", i);
		if ((r->listen_addr[0] && !addr_ok(r->listen_addr)) || !r->listen_port)
			return errmsg_fail(err, errlen, -EINVAL, "route %zu: bad listen address '%.*s' port %u",
				    i, ROUTE_ADDR_MAX, r->listen_addr, r->listen_port);
		for (j = 0; j < i; j++)
			if (c->routes[j].listen_port == r->listen_port &&
			    !strcmp(c->routes[j].listen_addr, r->listen_addr))
				return errmsg_fail(err, errlen, -EINVAL, "route %zu: listen port %u used twice",
					    i, r->listen_port);
	}
	for (i = 0; i < c->n_targets; i++) {
		const struct relay_config_target *t = &c->targets[i];
		bool db = false;

		for (j = 0; j < c->n_dbs; j++)
			db |= c->dbs[j].id == t->db;
		if (!db)
			return errmsg_fail(err, errlen, -EINVAL, "target %zu: unknown db %u", i, t->db);
		if (!str_ok(t->name) || !addr_ok(t->addr) || !t->port)
			return errmsg_fail(err, errlen, -EINVAL, "target %zu (db %u): bad name, address or port",
				    i, t->db);
		for (j = 0; j < i; j++)
			if (c->targets[j].db == t->db &&
			    !strcmp(c->targets[j].name, t->name))
				return errmsg_fail(err, errlen, -EINVAL, "target '%s' of db %u listed twice",
					    t->name, t->db);
	}
	return 0;
}

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p;

	if (!n)
		return NULL;
	p = calloc(n, size);
	if (p)
		memcpy(p, src, n * size);
	return p;
}

int route_table_build(const struct relay_config *cfg, struct route_table **out,
		      char *err, size_t errlen)
{
	struct route_table *t;
	int ret;

	ret = validate(cfg, err, errlen);
	if (ret)
		return ret;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto err_nomem;
	t->self = cfg->self_node;
	t->n_nodes = cfg->n_nodes;
	t->n_dbs = cfg->n_dbs;
	t->n_routes = cfg->n_routes;
	t->n_targets = cfg->n_targets;
	t->nodes = dup_array(cfg->nodes, cfg->n_nodes, sizeof(*t->nodes));
	t->dbs = dup_array(cfg->dbs, cfg->n_dbs, sizeof(*t->dbs));
	t->routes = dup_array(cfg->routes, cfg->n_routes, sizeof(*t->routes));
	t->targets = dup_array(cfg->targets, cfg->n_targets, sizeof(*t->targets));
	if ((cfg->n_nodes && !t->nodes) || (cfg->n_dbs && !t->dbs) ||
	    (cfg->n_routes && !t->routes) || (cfg->n_targets && !t->targets))
		goto err_free;
	*out = t;
	return 0;

err_free:
	route_table_free(t);
err_nomem:
	snprintf(err, errlen, "out of memory building route table");
	return -ENOMEM;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->dbs);
	free(t->routes);
	free(t->targets);
	free(t);
}

const struct relay_config_db *route_table_db(const struct route_table *t,
					     uint32_t db)
{
	size_t i;

	for (i = 0; t && i < t->n_dbs; i++)
		if (t->dbs[i].id == db)
			return &t->dbs[i];
	return NULL;
}

const struct relay_config_node *route_table_node(const struct route_table *t,
						 uint32_t id)
{
	size_t i;

	for (i = 0; t && i < t->n_nodes; i++)
		if (t->nodes[i].id == id)
			return &t->nodes[i];
	return NULL;
}

const struct relay_config_target *route_table_target(const struct route_table *t,
						     uint32_t db, const char *name)
{
	size_t i;

	for (i = 0; t && i < t->n_targets; i++)
		if (t->targets[i].db == db && !strcmp(t->targets[i].name, name))
			return &t->targets[i];
	return NULL;
}

size_t route_table_n_routes(const struct route_table *t)
{
	return t ? t->n_routes : 0;
}

const struct relay_config_route *route_table_route(const struct route_table *t,
						   size_t i)
{
	return t && i < t->n_routes ? &t->routes[i] : NULL;
}

uint32_t route_table_self(const struct route_table *t)
{
	return t ? t->self : 0;
}
