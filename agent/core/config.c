/* config.c — cluster configuration: strict JSON in/out, validation, atomic
 * persistence.  See config.h for the model. */
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

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Refuse any key of `obj` not in `allowed` (NULL-terminated). */
static int check_keys(const json_t *obj, const char *where,
		      const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(err, errlen, "%s: expected a JSON object", where);
	json_object_foreach((json_t *)obj, key, v) {
		const char *const *a;

		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a)
			return fail(err, errlen, "%s.%s: unknown field", where, key);
	}
	return 0;
}

/* Names: 1..63 chars of [A-Za-z0-9._-], so they are safe in logs, metric
 * labels and file names. */
static int get_name(const json_t *obj, const char *key, char *out, size_t outlen,
		    bool required, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t i, n;

	if (!v)
		return required ? fail(err, errlen, "%s.%s: missing", where, key) : 1;
	if (!json_is_string(v))
		return fail(err, errlen, "%s.%s: expected a string", where, key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= outlen)
		return fail(err, errlen, "%s.%s: length must be 1..%zu", where, key,
			    outlen - 1);
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return fail(err, errlen,
				    "%s.%s: only letters, digits, '.', '-' and '_' allowed",
				    where, key);
	}
	memcpy(out, s, n + 1);
	return 0;
}

static int get_uint(const json_t *obj, const char *key, uint64_t min, uint64_t max,
		    uint64_t *out, bool required, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!v)
		return required ? fail(err, errlen, "%s.%s: missing", where, key) : 1;
	if (!json_is_integer(v))
		return fail(err, errlen, "%s.%s: expected an integer", where, key);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
		return fail(err, errlen, "%s.%s: must be %llu..%llu", where, key,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)x;
	return 0;
}

static int get_bool(const json_t *obj, const char *key, bool *out, bool required,
		    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return required ? fail(err, errlen, "%s.%s: missing", where, key) : 1;
	if (!json_is_boolean(v))
		return fail(err, errlen, "%s.%s: expected true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

static int get_str(const json_t *obj, const char *key, char *out, size_t outlen,
		   bool required, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (!v)
		return required ? fail(err, errlen, "%s.%s: missing", where, key) : 1;
	if (!json_is_string(v))
		return fail(err, errlen, "%s.%s: expected a string", where, key);
	n = json_string_length(v);
	if (n >= outlen || strlen(json_string_value(v)) != n)
		return fail(err, errlen, "%s.%s: too long or contains NUL", where, key);
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

int config_hostport_parse(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long p;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;  /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (h[i] <= ' ' || h[i] == '/' || h[i] >= 0x7f)
			return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || colon[1] == '+' || colon[1] == '-' ||
	    p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int get_address(const json_t *obj, const char *key, char *out, size_t outlen,
		       const char *where, char *err, size_t errlen)
{
	int rc = get_str(obj, key, out, outlen, true, where, err, errlen);

	if (rc)
		return rc;
	if (!*out)
		return fail(err, errlen, "%s.%s: empty", where, key);
	for (char *p = out; *p; p++)
		if (*p <= ' ' || *p == '/' || *p >= 0x7f)
			return fail(err, errlen, "%s.%s: not a host name or IP address",
				    where, key);
	return 0;
}

/* ---- objects --------------------------------------------------------- */

int config_node_from_json(const json_t *j, struct config_node *n,
			  const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "uid", "name", "address", NULL };
	uint64_t id;
	int rc;

	memset(n, 0, sizeof(*n));
	if ((rc = check_keys(j, where, keys, err, errlen)) ||
	    (rc = get_uint(j, "uid", 1, UINT32_MAX, &id, true, where, err, errlen)) ||
	    (rc = get_name(j, "name", n->name, sizeof(n->name), true, where, err, errlen)) ||
	    (rc = get_address(j, "address", n->address, sizeof(n->address), where, err, errlen)))
		return rc;
	n->id = (uint32_t)id;
	return 0;
}

static int target_from_json(const json_t *j, struct config_target *t,
			    const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "node", "address", NULL };
	char addr[CONFIG_ADDR_MAX + 8];
	uint64_t node;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = check_keys(j, where, keys, err, errlen)) ||
	    (rc = get_name(j, "name", t->name, sizeof(t->name), true, where, err, errlen)) ||
	    (rc = get_uint(j, "node", 1, UINT32_MAX, &node, true, where, err, errlen)) ||
	    (rc = get_str(j, "address", addr, sizeof(addr), true, where, err, errlen)))
		return rc;
	if (config_hostport_parse(addr, t->host, sizeof(t->host), &t->port))
		return fail(err, errlen, "%s.address: expected \"ip:port\" with port 1..65535",
			    where);
	{
		/* The relay connects without blocking on DNS: numeric only. */
		unsigned char buf[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, t->host, buf) != 1 && inet_pton(AF_INET6, t->host, buf) != 1)
			return fail(err, errlen, "%s.address: \"%s\" is not a numeric IPv4 or "
				    "IPv6 address", where, t->host);
	}
	t->node = (uint32_t)node;
	return 0;
}

void config_bdb_clear(struct config_bdb *b)
{
	free(b->targets);
	b->targets = NULL;
	b->n_targets = 0;
}

int config_bdb_from_json(const json_t *j, struct config_bdb *b, bool partial,
			 const char *where, char *err, size_t errlen)
{
	static const char *const keys_full[] = { "uid", "name", "data_internode_encryption",
						 "targets", NULL };
	static const char *const keys_part[] = { "name", "data_internode_encryption",
						 "targets", NULL };
	char sub[96];
	json_t *tj;
	uint64_t id;
	int rc;

	if ((rc = check_keys(j, where, partial ? keys_part : keys_full, err, errlen)))
		return rc;
	if (partial && json_object_size(j) == 0)
		return fail(err, errlen, "%s: nothing to change", where);
	if (!partial) {
		rc = get_uint(j, "uid", 1, UINT32_MAX, &id, false, where, err, errlen);
		if (rc < 0)
			return rc;
		b->id = rc ? 0 : (uint32_t)id;
	}
	rc = get_name(j, "name", b->name, sizeof(b->name), !partial, where, err, errlen);
	if (rc < 0)
		return rc;
	rc = get_bool(j, "data_internode_encryption", &b->encrypt, false, where, err, errlen);
	if (rc < 0)
		return rc;
	tj = json_object_get(j, "targets");
	if (tj) {
		struct config_target *ts = NULL;
		size_t i, n;

		if (!json_is_array(tj))
			return fail(err, errlen, "%s.targets: expected an array", where);
		n = json_array_size(tj);
		if (n > 1024)
			return fail(err, errlen, "%s.targets: too many (max 1024)", where);
		if (n && !(ts = calloc(n, sizeof(*ts))))
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s.targets[%zu]", where, i);
			rc = target_from_json(json_array_get(tj, i), &ts[i], sub, err, errlen);
			if (rc) {
				free(ts);
				return rc;
			}
		}
		free(b->targets);
		b->targets = ts;
		b->n_targets = n;
	}
	return 0;
}

int config_route_from_json(const json_t *j, struct config_route *r,
			   const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "uid", "bdb", "node", "listen_port",
					    "peer_node", "target", NULL };
	uint64_t v;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = check_keys(j, where, keys, err, errlen)))
		return rc;
	rc = get_uint(j, "uid", 1, UINT32_MAX, &v, false, where, err, errlen);
	if (rc < 0)
		return rc;
	r->id = rc ? 0 : (uint32_t)v;
	if ((rc = get_uint(j, "bdb", 1, UINT32_MAX, &v, true, where, err, errlen)))
		return rc;
	r->bdb = (uint32_t)v;
	rc = get_uint(j, "node", 0, UINT32_MAX, &v, false, where, err, errlen);
	if (rc < 0)
		return rc;
	r->node = rc ? 0 : (uint32_t)v;
	if ((rc = get_uint(j, "listen_port", 1, 65535, &v, true, where, err, errlen)))
		return rc;
	r->listen_port = (uint16_t)v;
	if ((rc = get_uint(j, "peer_node", 1, UINT32_MAX, &v, true, where, err, errlen)))
		return rc;
	r->peer_node = (uint32_t)v;
	return get_name(j, "target", r->target, sizeof(r->target), true, where, err, errlen);
}

static int meta_from_json(const json_t *j, struct config_cert_meta *m,
			  const char *where, char *err, size_t errlen)
{
	static const char *const keys[] = { "subject", "serial", "not_after", NULL };
	json_t *na;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = check_keys(j, where, keys, err, errlen)))
		return rc;
	if ((rc = get_str(j, "subject", m->subject, sizeof(m->subject), false, where, err,
			  errlen)) < 0 ||
	    (rc = get_str(j, "serial", m->serial, sizeof(m->serial), false, where, err,
			  errlen)) < 0)
		return rc;
	na = json_object_get(j, "not_after");
	if (na) {
		if (!json_is_integer(na) || json_integer_value(na) < 0)
			return fail(err, errlen, "%s.not_after: expected unix seconds", where);
		m->not_after = json_integer_value(na);
	}
	return 0;
}

static const char *const plane_key[CONFIG_PLANE_N] = {
	"ccs_internode_encryption", "data_internode_encryption"
};

static int certs_from_json(const json_t *j, struct config_certs *c, char *err, size_t errlen)
{
	static const char *const keys[] = { "mode", "generation", "ccs_internode_encryption",
					    "data_internode_encryption", NULL };
	char mode[16];
	uint64_t g;
	int rc, p;

	memset(c, 0, sizeof(*c));
	if ((rc = check_keys(j, "certificates", keys, err, errlen)) ||
	    (rc = get_str(j, "mode", mode, sizeof(mode), true, "certificates", err, errlen)))
		return rc;
	if (!strcmp(mode, "internal"))
		c->mode = CONFIG_CERT_INTERNAL;
	else if (!strcmp(mode, "customer"))
		c->mode = CONFIG_CERT_CUSTOMER;
	else
		return fail(err, errlen, "certificates.mode: must be \"internal\" or \"customer\"");
	rc = get_uint(j, "generation", 0, UINT32_MAX, &g, false, "certificates", err, errlen);
	if (rc < 0)
		return rc;
	c->generation = rc ? 0 : (uint32_t)g;
	for (p = 0; p < CONFIG_PLANE_N; p++) {
		json_t *m = json_object_get(j, plane_key[p]);
		char where[64];

		if (!m)
			continue;
		snprintf(where, sizeof(where), "certificates.%s", plane_key[p]);
		if ((rc = meta_from_json(m, &c->plane[p], where, err, errlen)))
			return rc;
	}
	return 0;
}

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
		json_object_set_new(o, plane_key[p],
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
			return fail(err, errlen, "cluster.id: missing");
		if (!cfg->cluster_name[0])
			return fail(err, errlen, "cluster.name: missing");
	}
	for (i = 0; i < cfg->n_nodes; i++)
		for (k = 0; k < i; k++) {
			if (cfg->nodes[i].id == cfg->nodes[k].id)
				return fail(err, errlen, "nodes[%zu].uid: %u used twice", i,
					    cfg->nodes[i].id);
			if (!strcmp(cfg->nodes[i].name, cfg->nodes[k].name))
				return fail(err, errlen, "nodes[%zu].name: \"%s\" used twice", i,
					    cfg->nodes[i].name);
		}
	for (i = 0; i < cfg->n_bdbs; i++) {
		const struct config_bdb *b = &cfg->bdbs[i];

		if (!b->id)
			return fail(err, errlen, "bdbs[%zu].uid: missing", i);
		for (k = 0; k < i; k++) {
			if (b->id == cfg->bdbs[k].id)
				return fail(err, errlen, "bdbs[%zu].uid: %u used twice", i, b->id);
			if (!strcmp(b->name, cfg->bdbs[k].name))
				return fail(err, errlen, "bdbs[%zu].name: \"%s\" used twice", i,
					    b->name);
		}
		for (size_t t = 0; t < b->n_targets; t++) {
			if (!config_node_find(cfg, b->targets[t].node))
				return fail(err, errlen, "bdbs[%zu].targets[%zu].node: no node %u",
					    i, t, b->targets[t].node);
			for (k = 0; k < t; k++)
				if (!strcmp(b->targets[t].name, b->targets[k].name))
					return fail(err, errlen,
						    "bdbs[%zu].targets[%zu].name: \"%s\" used twice",
						    i, t, b->targets[t].name);
		}
	}
	for (i = 0; i < cfg->n_routes; i++) {
		const struct config_route *r = &cfg->routes[i];
		const struct config_bdb *b = config_bdb_find(cfg, r->bdb);
		const struct config_target *t;

		if (!r->id)
			return fail(err, errlen, "routes[%zu].uid: missing", i);
		if (!b)
			return fail(err, errlen, "routes[%zu].bdb: no database %u", i, r->bdb);
		if (!config_node_find(cfg, r->peer_node))
			return fail(err, errlen, "routes[%zu].peer_node: no node %u", i,
				    r->peer_node);
		if (r->node && !config_node_find(cfg, r->node))
			return fail(err, errlen, "routes[%zu].node: no node %u", i, r->node);
		if (r->node && r->node == r->peer_node)
			return fail(err, errlen, "routes[%zu].node: same as peer_node", i);
		t = config_bdb_target_find(b, r->target);
		if (!t)
			return fail(err, errlen, "routes[%zu].target: database %u has no target \"%s\"",
				    i, r->bdb, r->target);
		if (t->node != r->peer_node)
			return fail(err, errlen,
				    "routes[%zu].target: \"%s\" is on node %u, not peer_node %u",
				    i, r->target, t->node, r->peer_node);
		if (r->listen_port == CONFIG_INE_PORT)
			return fail(err, errlen, "routes[%zu].listen_port: %u is the internode port",
				    i, CONFIG_INE_PORT);
		for (k = 0; k < i; k++) {
			const struct config_route *o = &cfg->routes[k];

			if (r->id == o->id)
				return fail(err, errlen, "routes[%zu].uid: %u used twice", i, r->id);
			/* Two routes listening on the same port on one node. */
			if (r->listen_port == o->listen_port &&
			    (!r->node || !o->node || r->node == o->node))
				return fail(err, errlen,
					    "routes[%zu].listen_port: %u already used by route %u",
					    i, r->listen_port, o->id);
		}
	}
	return 0;
}

int config_from_json(const json_t *j, struct config **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "version", "cluster", "policy", "nodes", "bdbs",
					    "routes", "certificates", NULL };
	static const char *const ckeys[] = { "id", "name", NULL };
	static const char *const pkeys[] = { "data_internode_encryption", NULL };
	struct config *cfg = config_new();
	json_t *a, *v;
	uint64_t ver;
	size_t i;
	char where[64];
	int rc;

	if (!cfg)
		return -ENOMEM;
	if ((rc = check_keys(j, "config", keys, err, errlen)) ||
	    (rc = get_uint(j, "version", 0, INT64_MAX, &ver, true, "config", err, errlen)))
		goto out;
	cfg->version = ver;
	v = json_object_get(j, "cluster");
	if (v) {
		if ((rc = check_keys(v, "cluster", ckeys, err, errlen)) ||
		    (rc = get_str(v, "id", cfg->cluster_id, sizeof(cfg->cluster_id), true,
				  "cluster", err, errlen)) ||
		    (rc = get_str(v, "name", cfg->cluster_name, sizeof(cfg->cluster_name),
				  true, "cluster", err, errlen)))
			goto out;
	}
	v = json_object_get(j, "policy");
	if (v && ((rc = check_keys(v, "policy", pkeys, err, errlen)) ||
		  (rc = get_bool(v, "data_internode_encryption", &cfg->policy_encrypt, true,
				 "policy", err, errlen))))
		goto out;
	if ((a = json_object_get(j, "nodes"))) {
		if (!json_is_array(a)) {
			rc = fail(err, errlen, "nodes: expected an array");
			goto out;
		}
		json_array_foreach(a, i, v) {
			struct config_node n;

			snprintf(where, sizeof(where), "nodes[%zu]", i);
			if ((rc = config_node_from_json(v, &n, where, err, errlen)) ||
			    (rc = config_node_add(cfg, &n)))
				goto out;
		}
	}
	if ((a = json_object_get(j, "bdbs"))) {
		if (!json_is_array(a)) {
			rc = fail(err, errlen, "bdbs: expected an array");
			goto out;
		}
		json_array_foreach(a, i, v) {
			struct config_bdb b = { 0 };

			snprintf(where, sizeof(where), "bdbs[%zu]", i);
			rc = config_bdb_from_json(v, &b, false, where, err, errlen);
			if (!rc && !b.id)
				rc = fail(err, errlen, "%s.uid: missing", where);
			if (!rc)
				rc = config_bdb_add(cfg, &b, NULL);
			config_bdb_clear(&b);
			if (rc)
				goto out;
		}
	}
	if ((a = json_object_get(j, "routes"))) {
		if (!json_is_array(a)) {
			rc = fail(err, errlen, "routes: expected an array");
			goto out;
		}
		json_array_foreach(a, i, v) {
			struct config_route r;

			snprintf(where, sizeof(where), "routes[%zu]", i);
			rc = config_route_from_json(v, &r, where, err, errlen);
			if (!rc && !r.id)
				rc = fail(err, errlen, "%s.uid: missing", where);
			if (rc || (rc = config_route_add(cfg, &r, NULL)))
				goto out;
		}
	}
	if ((v = json_object_get(j, "certificates")) &&
	    (rc = certs_from_json(v, &cfg->certs, err, errlen)))
		goto out;
	if ((rc = config_validate(cfg, err, errlen)))
		goto out;
	*out = cfg;
	return 0;
out:
	config_free(cfg);
	return rc;
}

int config_dup(const struct config *cfg, struct config **out)
{
	char err[CONFIG_ERR_MAX];
	json_t *j = config_to_json(cfg);
	int rc;

	if (!j)
		return -ENOMEM;
	rc = config_from_json(j, out, err, sizeof(err));
	json_decref(j);
	return rc;
}

/* ---- persistence ----------------------------------------------------- */

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	int rc;

	if (access(path, F_OK))
		return -errno;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	rc = config_from_json(j, out, err, errlen);
	json_decref(j);
	return rc;
}

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
	{
		/* atomicfile wants the directory and the name apart. */
		char *dup = strdup(path), *slash = dup ? strrchr(dup, '/') : NULL;

		if (!dup)
			rc = -ENOMEM;
		else if (!slash)
			rc = atomicfile_write(".", dup, s, strlen(s), 0600);
		else if (slash == dup)
			rc = atomicfile_write("/", slash + 1, s, strlen(s), 0600);
		else {
			*slash = '\0';
			rc = atomicfile_write(dup, slash + 1, s, strlen(s), 0600);
		}
		free(dup);
	}
	free(s);
	return rc;
}
