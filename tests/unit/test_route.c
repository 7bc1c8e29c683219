// SPDX-License-Identifier: GPL-2.0
/* Route header codec and configuration tables. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dp/route.h"

static int enc(uint32_t db, const char *name, uint8_t *b)
{
	struct route_header h = { .db = db };

	snprintf(h.name, sizeof(h.name), "%s", name);
	return route_header_encode(&h, b, ROUTE_HDR_MAX);
}

Test(route, header_roundtrip)
{
	uint8_t b[ROUTE_HDR_MAX];
	struct route_header h;
	int n = enc(0xdeadbeef, "redis-1:shard.2_x", b), i;

	cr_assert_eq(n, ROUTE_HDR_FIXED + 17);
	cr_assert_eq(route_header_need(b, 0), ROUTE_HDR_FIXED);
	cr_assert_eq(route_header_need(b, ROUTE_HDR_FIXED), (size_t)n);
	/* every prefix is "need more", never an error or success */
	for (i = 0; i < n; i++)
		cr_assert_eq(route_header_parse(b, i, &h), 0, "prefix %d", i);
	cr_assert_eq(route_header_parse(b, n, &h), n);
	cr_assert_eq(h.db, 0xdeadbeef);
	cr_assert_str_eq(h.name, "redis-1:shard.2_x");
}

Test(route, header_rejects_malformed)
{
	uint8_t b[ROUTE_HDR_MAX + 8], c[sizeof(b)];
	struct route_header h;
	int n = enc(1, "t1", b);

	memcpy(c, b, n);
	c[0] = 'X';
	cr_assert_eq(route_header_parse(c, 1, &h), -EBADMSG, "bad magic caught early");
	memcpy(c, b, n);
	c[4] = 2;
	cr_assert_eq(route_header_parse(c, n, &h), -EBADMSG, "version");
	memcpy(c, b, n);
	c[5] = 1;
	cr_assert_eq(route_header_parse(c, n, &h), -EBADMSG, "flags");
	memcpy(c, b, n);
	c[10] = 0;
	cr_assert_eq(route_header_parse(c, ROUTE_HDR_FIXED, &h), -EBADMSG, "empty name");
	cr_assert_eq(route_header_need(c, ROUTE_HDR_FIXED), ROUTE_HDR_FIXED);
	memcpy(c, b, n);
	c[10] = ROUTE_NAME_MAX + 1;
	cr_assert_eq(route_header_parse(c, ROUTE_HDR_FIXED, &h), -EBADMSG, "long name");
	cr_assert_eq(route_header_need(c, ROUTE_HDR_FIXED), ROUTE_HDR_FIXED,
		     "a bad length must never make the reader wait for more");
	memcpy(c, b, n);
	c[ROUTE_HDR_FIXED] = '/';
	cr_assert_eq(route_header_parse(c, n, &h), -EBADMSG, "bad byte");
	memcpy(c, b, n);
	c[ROUTE_HDR_FIXED + 1] = '\0';
	cr_assert_eq(route_header_parse(c, n, &h), -EBADMSG, "NUL in name");
	memcpy(c, b, n);
	c[n] = 'x';
	cr_assert_eq(route_header_parse(c, n + 1, &h), -EBADMSG, "trailing byte");
	cr_assert_eq(enc(1, "", b), -EINVAL);
	cr_assert_eq(enc(1, "a b", b), -EINVAL);
}

Test(route, reply_roundtrip_and_sanitised)
{
	uint8_t b[ROUTE_REPLY_MAX], st;
	char msg[256];
	int n = route_reply_encode(ROUTE_ERR_NOT_ALLOWED, "target 'x'\n", b, sizeof(b));

	cr_assert_gt(n, 0);
	cr_assert_eq(route_reply_need(b, ROUTE_REPLY_FIXED), (size_t)n);
	cr_assert_eq(route_reply_parse(b, n - 1, &st, msg), 0);
	cr_assert_eq(route_reply_parse(b, n, &st, msg), n);
	cr_assert_eq(st, ROUTE_ERR_NOT_ALLOWED);
	cr_assert_str_eq(msg, "target 'x'?", "control bytes from a peer are not logged raw");
	b[5] = __ROUTE_STATUS_MAX;
	cr_assert_eq(route_reply_parse(b, n, &st, msg), -EBADMSG);
}

static const struct relay_config_node nodes[] = {
	{ .id = 1, .name = "n1", .addr = "10.0.0.1" },
	{ .id = 2, .name = "n2", .addr = "fd00::2", .dp_port = 4000 },
};
static const struct relay_config_db dbs[] = { { 1, true }, { 2, false } };

Test(route, table_build_and_lookup)
{
	struct relay_config_route rt[] = {
		{ .db = 1, .listen_port = 7000, .peer_node = 2, .target = "t1" },
	};
	struct relay_config_target tg[] = {
		{ .db = 2, .name = "t1", .addr = "127.0.0.1", .port = 6379 },
	};
	struct relay_config c = { 1, nodes, 2, dbs, 2, rt, 1, tg, 1 };
	struct route_table *t;
	char err[128];

	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert(route_table_db(t, 1)->data_internode_encryption);
	cr_assert_null(route_table_db(t, 3));
	cr_assert_eq(route_table_node(t, 2)->dp_port, 4000);
	cr_assert_not_null(route_table_target(t, 2, "t1"));
	cr_assert_null(route_table_target(t, 1, "t1"), "allowlist is per db");
	cr_assert_null(route_table_target(t, 2, "t2"));
	cr_assert_eq(route_table_n_routes(t), 1);
	route_table_free(t);
}

Test(route, table_rejects_bad_config)
{
	struct relay_config_route rt[2] = {
		{ .db = 1, .listen_port = 7000, .peer_node = 2, .target = "t1" },
		{ .db = 1, .listen_port = 7000, .peer_node = 2, .target = "t2" },
	};
	struct relay_config_target tg[2] = {
		{ .db = 2, .name = "t1", .addr = "127.0.0.1", .port = 6379 },
		{ .db = 2, .name = "t1", .addr = "127.0.0.1", .port = 6380 },
	};
	struct relay_config c = { 1, nodes, 2, dbs, 2, rt, 2, NULL, 0 };
	struct route_table *t = NULL;
	char err[128];

	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "7000"), "%s", err);
	c.n_routes = 1;
	rt[0].peer_node = 1;
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL, "route to self");
	rt[0].peer_node = 3;
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL, "unknown node");
	rt[0].peer_node = 2;
	rt[0].db = 5;
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "db 5"), "%s", err);
	c.n_routes = 0;
	c.targets = tg;
	c.n_targets = 2;
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "twice"), "%s", err);
	tg[1].name[0] = '\0';
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL, "empty name");
	strcpy(tg[1].name, "t2");
	strcpy(tg[1].addr, "localhost");
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), -EINVAL, "non-numeric");
	strcpy(tg[1].addr, "::1");
	cr_assert_eq(route_table_build(&c, &t, err, sizeof(err)), 0, "%s", err);
	route_table_free(t);
}
