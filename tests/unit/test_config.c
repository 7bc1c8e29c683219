// SPDX-License-Identifier: GPL-2.0
/* test_config.c — the cluster configuration model: strict parsing with
 * errors naming the field, cross-validation, id allocation, atomic save and
 * load. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/config.h"

static const char good[] =
	"{\"version\": 7,"
	" \"cluster\": {\"id\": \"5b1c0b8e-8f53-4a52-9a3e-0d8f2f7c1a10\", \"name\": \"c1\"},"
	" \"policy\": {\"data_internode_encryption\": true},"
	" \"nodes\": [{\"uid\": 1, \"name\": \"n1\", \"address\": \"10.77.0.1\"},"
	"             {\"uid\": 2, \"name\": \"n2\", \"address\": \"10.77.0.2\"}],"
	" \"bdbs\": [{\"uid\": 1, \"name\": \"db1\", \"data_internode_encryption\": false,"
	"            \"targets\": [{\"name\": \"shard1\", \"node\": 2, \"address\": \"127.0.0.1:6379\"},"
	"                          {\"name\": \"v6\", \"node\": 1, \"address\": \"[::1]:6380\"}]}],"
	" \"routes\": [{\"uid\": 1, \"bdb\": 1, \"node\": 1, \"listen_port\": 16379,"
	"              \"peer_node\": 2, \"target\": \"shard1\"}],"
	" \"certificates\": {\"mode\": \"customer\", \"generation\": 3,"
	"   \"data_internode_encryption\": {\"subject\": \"CN=x\", \"serial\": \"0a\", \"not_after\": 1900000000}}}";

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	cr_assert(j, "test JSON does not parse: %s", e.text);
	return j;
}

/* Parse `good` with one edit applied by a jansson path-ish callback. */
static int parse_edit(void (*edit)(json_t *), char *err)
{
	json_t *j = load(good);
	struct config *c = NULL;
	int rc;

	edit(j);
	rc = config_from_json(j, &c, err, CONFIG_ERR_MAX);
	json_decref(j);
	config_free(c);
	return rc;
}

Test(config, parses_and_round_trips)
{
	json_t *j = load(good), *back;
	struct config *c = NULL, *d = NULL;
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(config_from_json(j, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c->version, 7);
	cr_expect_str_eq(c->cluster_name, "c1");
	cr_expect(c->policy_encrypt);
	cr_assert_eq(c->n_nodes, 2);
	cr_assert_eq(c->n_bdbs, 1);
	cr_expect_not(c->bdbs[0].encrypt);
	cr_assert_eq(c->bdbs[0].n_targets, 2);
	cr_expect_str_eq(c->bdbs[0].targets[0].host, "127.0.0.1");
	cr_expect_eq(c->bdbs[0].targets[0].port, 6379);
	cr_expect_str_eq(c->bdbs[0].targets[1].host, "::1");
	cr_expect_eq(c->bdbs[0].targets[1].port, 6380);
	cr_expect_eq(c->routes[0].listen_port, 16379);
	cr_expect_eq(c->certs.mode, CONFIG_CERT_CUSTOMER);
	cr_expect_eq(c->certs.generation, 3);
	cr_expect_eq(c->certs.plane[CONFIG_PLANE_DP].not_after, 1900000000);

	back = config_to_json(c);
	cr_assert(back);
	cr_expect(json_equal(back, j), "to_json(from_json(x)) != x");
	cr_assert_eq(config_dup(c, &d), 0);
	d->bdbs[0].targets[0].port = 1;  /* a deep copy */
	cr_expect_eq(c->bdbs[0].targets[0].port, 6379);
	json_decref(back);
	json_decref(j);
	config_free(c);
	config_free(d);
}

static void e_top_unknown(json_t *j) { json_object_set_new(j, "bogus", json_true()); }
static void e_bdb_unknown(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "bdbs"), 0), "shards", json_integer(2));
}
static void e_policy_type(json_t *j)
{
	json_object_set_new(json_object_get(j, "policy"), "data_internode_encryption",
			    json_string("yes"));
}
static void e_dup_node(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "nodes"), 1), "uid", json_integer(1));
}
static void e_target_node(json_t *j)
{
	json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(j, "bdbs"), 0),
						   "targets"), 0);
	json_object_set_new(t, "node", json_integer(9));
}
static void e_target_addr(json_t *j)
{
	json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(j, "bdbs"), 0),
						   "targets"), 1);
	json_object_set_new(t, "address", json_string("::1:6380"));
}
static void e_target_dns(json_t *j)
{
	json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(j, "bdbs"), 0),
						   "targets"), 0);
	json_object_set_new(t, "address", json_string("redis.local:6379"));
}
static void e_route_target(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "routes"), 0), "target",
			    json_string("nope"));
}
static void e_route_peer_mismatch(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "routes"), 0), "target",
			    json_string("v6"));  /* v6 lives on node 1, peer is 2 */
}
static void e_route_port(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "routes"), 0), "listen_port",
			    json_integer(CONFIG_INE_PORT));
}
static void e_route_port_range(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "routes"), 0), "listen_port",
			    json_integer(70000));
}
static void e_name_chars(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "bdbs"), 0), "name",
			    json_string("db 1;rm"));
}
static void e_cert_mode(json_t *j)
{
	json_object_set_new(json_object_get(j, "certificates"), "mode", json_string("letsencrypt"));
}
static void e_version_neg(json_t *j) { json_object_set_new(j, "version", json_integer(-1)); }
static void e_no_cluster_id(json_t *j)
{
	json_object_set_new(json_object_get(j, "cluster"), "id", json_string(""));
}
static void e_dup_route_port(json_t *j)
{
	json_t *r = json_deep_copy(json_array_get(json_object_get(j, "routes"), 0));

	json_object_set_new(r, "uid", json_integer(2));
	json_object_set_new(r, "node", json_integer(0));  /* every node: clashes */
	json_array_append_new(json_object_get(j, "routes"), r);
}

struct bad_case {
	void (*edit)(json_t *);
	const char *expect;   /* substring the error must contain */
};

/* Criterion runs each parameter in a fresh process (PIE, ASLR): pass the
 * index, not pointers. */
static const struct bad_case bad_cases[] = {
	{ e_top_unknown, "config.bogus: unknown field" },
		{ e_bdb_unknown, "bdbs[0].shards: unknown field" },
		{ e_policy_type, "policy.data_internode_encryption: expected true or false" },
		{ e_dup_node, "nodes[1].uid: 1 used twice" },
		{ e_target_node, "bdbs[0].targets[0].node: no node 9" },
		{ e_target_addr, "bdbs[0].targets[1].address" },
		{ e_target_dns, "bdbs[0].targets[0].address: \"redis.local\" is not a numeric" },
	{ e_route_target, "routes[0].target: database 1 has no target \"nope\"" },
		{ e_route_peer_mismatch, "is on node 1, not peer_node 2" },
		{ e_route_port, "routes[0].listen_port: 3342 is the internode port" },
		{ e_route_port_range, "routes[0].listen_port: must be 1..65535" },
		{ e_name_chars, "bdbs[0].name: only letters" },
		{ e_cert_mode, "certificates.mode" },
		{ e_version_neg, "config.version" },
		{ e_no_cluster_id, "cluster.id: missing" },
		{ e_dup_route_port, "routes[1].listen_port: 16379 already used by route 1" },
};

ParameterizedTestParameters(config, refuses_bad_input)
{
	static int idx[sizeof(bad_cases) / sizeof(bad_cases[0])];

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(int *i, config, refuses_bad_input)
{
	const struct bad_case *c = &bad_cases[*i];
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(parse_edit(c->edit, err), -EINVAL);
	cr_expect(strstr(err, c->expect), "error \"%s\" does not contain \"%s\"", err, c->expect);
}

Test(config, hostport)
{
	char h[64];
	uint16_t p;

	cr_expect_eq(config_hostport_parse("db.example:6379", h, sizeof(h), &p), 0);
	cr_expect_str_eq(h, "db.example");
	cr_expect_eq(p, 6379);
	cr_expect_eq(config_hostport_parse("[fe80::1]:1", h, sizeof(h), &p), 0);
	cr_expect_str_eq(h, "fe80::1");
	cr_expect_eq(p, 1);
	static const char *const bad[] = { "", "host", "host:", ":80", "h:0", "h:65536",
					   "h:+1", "h:-1", "h:1x", "::1:80", "[::1]80",
					   "a b:1", "[]:1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(config_hostport_parse(bad[i], h, sizeof(h), &p), -EINVAL,
			     "\"%s\" accepted", bad[i]);
}

Test(config, partial_bdb_update_is_strict)
{
	struct config_bdb b = { .id = 4, .name = "db4" };
	char err[CONFIG_ERR_MAX] = "";
	json_t *j;

	j = load("{\"data_internode_encryption\": true}");
	cr_assert_eq(config_bdb_from_json(j, &b, true, "body", err, sizeof(err)), 0, "%s", err);
	cr_expect(b.encrypt);
	cr_expect_str_eq(b.name, "db4");
	cr_expect_eq(b.id, 4);
	json_decref(j);

	j = load("{\"uid\": 5}");  /* ids are not writable */
	cr_expect_eq(config_bdb_from_json(j, &b, true, "body", err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "body.uid: unknown field"), "%s", err);
	json_decref(j);

	j = load("{}");
	cr_expect_eq(config_bdb_from_json(j, &b, true, "body", err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "nothing to change"), "%s", err);
	json_decref(j);

	j = load("{\"data_internode_encryption\": 1}");
	cr_expect_eq(config_bdb_from_json(j, &b, true, "body", err, sizeof(err)), -EINVAL);
	cr_expect(b.encrypt, "a refused update changed the object");
	json_decref(j);
	config_bdb_clear(&b);
}

Test(config, ids_are_allocated)
{
	struct config *c = config_new();
	struct config_bdb b = { .name = "a" };
	uint32_t id;

	cr_assert(c);
	cr_assert_eq(config_bdb_add(c, &b, &id), 0);
	cr_expect_eq(id, 1);
	b.id = 10;
	snprintf(b.name, sizeof(b.name), "b");
	cr_assert_eq(config_bdb_add(c, &b, &id), 0);
	cr_expect_eq(id, 10);
	b.id = 0;
	snprintf(b.name, sizeof(b.name), "c");
	cr_assert_eq(config_bdb_add(c, &b, &id), 0);
	cr_expect_eq(id, 11);
	config_free(c);
}

Test(config, save_and_load)
{
	char dir[] = "/tmp/ine-cfg-XXXXXX", path[128], err[CONFIG_ERR_MAX] = "";
	struct config *c = NULL, *back = NULL;
	json_t *j = load(good), *a, *b;
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int files = 0;

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	cr_expect_eq(config_load(path, &back, err, sizeof(err)), -ENOENT);
	cr_assert_eq(config_from_json(j, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_save(c, path), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(config_load(path, &back, err, sizeof(err)), 0, "%s", err);
	a = config_to_json(c);
	b = config_to_json(back);
	cr_expect(json_equal(a, b));
	/* No temp file left behind. */
	dp = opendir(dir);
	while ((de = readdir(dp)))
		if (de->d_name[0] != '.')
			files++;
	closedir(dp);
	cr_expect_eq(files, 1);
	/* A corrupt file is refused with its name in the message. */
	FILE *f = fopen(path, "w");
	fputs("{\"version\": 1,", f);
	fclose(f);
	config_free(back);
	back = NULL;
	cr_expect_eq(config_load(path, &back, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, path), "%s", err);
	cr_expect_null(back);
	unlink(path);
	rmdir(dir);
	json_decref(a);
	json_decref(b);
	json_decref(j);
	config_free(c);
}
