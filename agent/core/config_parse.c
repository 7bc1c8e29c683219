// SPDX-License-Identifier: GPL-2.0
/* config_parse.c — the configuration's strict JSON parsers: the whole
 * file or REST body (config_from_json) and one object at a time (nodes,
 * databases, routes, certificate metadata).  Unknown fields, wrong types
 * and out-of-range values are refused with the path of the offending
 * field.  config_dup and config_load, which go through the parser, live
 * here too; config.c (the model, validation, JSON out, saving) is below
 * this file and never calls into it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/config.h"
#include "core/errmsg.h"

/* Refuse any key of `obj` not in `allowed` (NULL-terminated). */
static int check_keys(const json_t *obj, const char *where,
		      const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return errmsg_fail(err, errlen, -EINVAL, "%s: expected a JSON object", where);
	json_object_foreach((json_t *)obj, key, v) {
		const char *const *a;

		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a)
			return errmsg_fail(err, errlen, -EINVAL, "%s.%s: unknown field", where, key);
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
		return required ? errmsg_fail(err, errlen, -EINVAL, "%s.%s: missing", where, key) : 1;
	if (!json_is_string(v))
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: expected a string", where, key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= outlen)
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: length must be 1..%zu", where, key,
			    outlen - 1);
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return errmsg_fail(err, errlen, -EINVAL,
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
		return required ? errmsg_fail(err, errlen, -EINVAL, "%s.%s: missing", where, key) : 1;
	if (!json_is_integer(v))
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: expected an integer", where, key);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max)
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: must be %llu..%llu", where, key,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)x;
	return 0;
}

static int get_bool(const json_t *obj, const char *key, bool *out, bool required,
		    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return required ? errmsg_fail(err, errlen, -EINVAL, "%s.%s: missing", where, key) : 1;
	if (!json_is_boolean(v))
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: expected true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

static int get_str(const json_t *obj, const char *key, char *out, size_t outlen,
		   bool required, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (!v)
		return required ? errmsg_fail(err, errlen, -EINVAL, "%s.%s: missing", where, key) : 1;
	if (!json_is_string(v))
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: expected a string", where, key);
	n = json_string_length(v);
	if (n >= outlen || strlen(json_string_value(v)) != n)
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: too long or contains NUL", where, key);
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
		return errmsg_fail(err, errlen, -EINVAL, "%s.%s: empty", where, key);
	for (char *p = out; *p; p++)
		if (*p <= ' ' || *p == '/' || *p >= 0x7f)
			return errmsg_fail(err, errlen, -EINVAL, "%s.%s: not a host name or IP address",
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
		return errmsg_fail(err, errlen, -EINVAL, "%s.address: expected \"ip:port\" with port 1..65535",
			    where);
	{
		/* The relay connects without blocking on DNS: numeric only. */
		unsigned char buf[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, t->host, buf) != 1 && inet_pton(AF_INET6, t->host, buf) != 1)
			return errmsg_fail(err, errlen, -EINVAL, "%s.address: \"%s\" is not a numeric IPv4 or "
				    "IPv6 address", where, t->host);
	}
	t->node = (uint32_t)node;
	return 0;
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
		return errmsg_fail(err, errlen, -EINVAL, "%s: nothing to change", where);
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
			return errmsg_fail(err, errlen, -EINVAL, "%s.targets: expected an array", where);
		n = json_array_size(tj);
		if (n > 1024)
			return errmsg_fail(err, errlen, -EINVAL, "%s.targets: too many (max 1024)", where);
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
			return errmsg_fail(err, errlen, -EINVAL, "%s.not_after: expected unix seconds", where);
		m->not_after = json_integer_value(na);
	}
	return 0;
}

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
		return errmsg_fail(err, errlen, -EINVAL, "certificates.mode: must be \"internal\" or \"customer\"");
	rc = get_uint(j, "generation", 0, UINT32_MAX, &g, false, "certificates", err, errlen);
	if (rc < 0)
		return rc;
	c->generation = rc ? 0 : (uint32_t)g;
	for (p = 0; p < CONFIG_PLANE_N; p++) {
		json_t *m = json_object_get(j, config_plane_key(p));
		char where[64];

		if (!m)
			continue;
		snprintf(where, sizeof(where), "certificates.%s", config_plane_key(p));
		if ((rc = meta_from_json(m, &c->plane[p], where, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- the whole configuration ------------------------------------- */

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
			rc = errmsg_fail(err, errlen, -EINVAL, "nodes: expected an array");
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
			rc = errmsg_fail(err, errlen, -EINVAL, "bdbs: expected an array");
			goto out;
		}
		json_array_foreach(a, i, v) {
			struct config_bdb b = { 0 };

			snprintf(where, sizeof(where), "bdbs[%zu]", i);
			rc = config_bdb_from_json(v, &b, false, where, err, errlen);
			if (!rc && !b.id)
				rc = errmsg_fail(err, errlen, -EINVAL, "%s.uid: missing", where);
			if (!rc)
				rc = config_bdb_add(cfg, &b, NULL);
			config_bdb_clear(&b);
			if (rc)
				goto out;
		}
	}
	if ((a = json_object_get(j, "routes"))) {
		if (!json_is_array(a)) {
			rc = errmsg_fail(err, errlen, -EINVAL, "routes: expected an array");
			goto out;
		}
		json_array_foreach(a, i, v) {
			struct config_route r;

			snprintf(where, sizeof(where), "routes[%zu]", i);
			rc = config_route_from_json(v, &r, where, err, errlen);
			if (!rc && !r.id)
				rc = errmsg_fail(err, errlen, -EINVAL, "%s.uid: missing", where);
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

/* ---- through JSON ---------------------------------------------------- */

/* A copy and a load both go through the strict parser, so what they hand
 * back has been validated like any body or file; that puts them here, above
 * the model, and keeps config.c from calling up into its parsers. */

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
