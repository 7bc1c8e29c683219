// SPDX-License-Identifier: GPL-2.0
/* The broker's request parser (local input) and its allowlist; the broker
 * live is test_broker_live.c. */
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>

#include "dp/broker.h"

static int enc(uint8_t op, uint32_t node, uint32_t db, const char *name, uint8_t *buf)
{
	struct broker_req r = { .op = op, .node = node, .db = db };

	snprintf(r.name, sizeof(r.name), "%s", name);
	return broker_req_encode(&r, buf, BROKER_REQ_MAX);
}

Test(broker, request_round_trip)
{
	uint8_t buf[BROKER_REQ_MAX];
	struct broker_req r;
	int n = enc(BROKER_OP_CONNECT, 2, 0x01020304, "shard-1.a:b_c", buf);

	cr_assert_eq(n, BROKER_REQ_FIXED + 13);
	cr_assert_eq(broker_req_parse(buf, (size_t)n, &r), 0);
	cr_expect_eq(r.op, BROKER_OP_CONNECT);
	cr_expect_eq(r.node, 2);
	cr_expect_eq(r.db, 0x01020304);
	cr_expect_str_eq(r.name, "shard-1.a:b_c");
	cr_expect_eq(buf[12], 1, "db is big endian");
}

Test(broker, request_rejects_malformed)
{
	uint8_t buf[BROKER_REQ_MAX + 1], bad[BROKER_REQ_MAX + 1];
	struct broker_req r;
	int n = enc(BROKER_OP_LISTEN, 0, 1, "snap", buf);

	cr_assert_gt(n, 0);
	cr_expect_eq(broker_req_parse(buf, (size_t)n - 1, &r), -EBADMSG, "short");
	cr_expect_eq(broker_req_parse(buf, (size_t)n + 1, &r), -EBADMSG, "trailing byte");
	for (int i = 0; i < 8; i++) {
		memcpy(bad, buf, (size_t)n);
		bad[i] ^= 0x40;
		cr_expect_eq(broker_req_parse(bad, (size_t)n, &r), -EBADMSG, "byte %d", i);
	}
	memcpy(bad, buf, (size_t)n);
	bad[5] = 3;
	cr_expect_eq(broker_req_parse(bad, (size_t)n, &r), -EBADMSG, "unknown op");
	memcpy(bad, buf, (size_t)n);
	bad[18] = '/';
	cr_expect_eq(broker_req_parse(bad, (size_t)n, &r), -EBADMSG, "bad name byte");
	memcpy(bad, buf, (size_t)n);
	bad[16] = 0;
	cr_expect_eq(broker_req_parse(bad, BROKER_REQ_FIXED, &r), -EBADMSG, "empty name");
	cr_expect_eq(enc(BROKER_OP_CONNECT, 1, 1, "a b", buf), -EINVAL);
	cr_expect_eq(enc(9, 1, 1, "ab", buf), -EINVAL);
}

Test(broker, reply_encode)
{
	uint8_t buf[BROKER_REPLY_MAX];
	int n = broker_reply_encode(-EACCES, 0, "no", buf, sizeof(buf));

	cr_assert_eq(n, BROKER_REPLY_FIXED + 2);
	cr_expect_eq(memcmp(buf, "INEB", 4), 0);
	cr_expect_eq(buf[9], (uint8_t)-EACCES);
	cr_expect_eq(buf[10], 2);
	cr_expect_eq(broker_reply_encode(5, 0, NULL, buf, sizeof(buf)), -EINVAL);
}

Test(broker, allowlist)
{
	struct broker_allow a[4];
	char err[128] = "";
	int n = broker_allow_parse("uid:1000, gid:50,7", a, 4, err, sizeof(err));

	cr_assert_eq(n, 3, "%s", err);
	cr_expect(broker_allowed(a, 3, 0, 12345), "root always");
	cr_expect(broker_allowed(a, 3, 1000, 1));
	cr_expect(broker_allowed(a, 3, 7, 1), "bare number is a uid");
	cr_expect(broker_allowed(a, 3, 4242, 50));
	cr_expect_not(broker_allowed(a, 3, 4242, 51));
	cr_expect_not(broker_allowed(a, 3, 50, 4242), "gid entry is not a uid");
	cr_expect_not(broker_allowed(NULL, 0, 1000, 1000), "empty list: root only");
	cr_expect_eq(broker_allow_parse("gid:no-such-group-ine", a, 4, err, sizeof(err)),
		     -EINVAL);
	cr_expect(strstr(err, "no-such-group-ine"));
	cr_expect_eq(broker_allow_parse("1,2,3,4,5", a, 4, err, sizeof(err)), -EINVAL);
	cr_expect_eq(broker_allow_parse("", a, 4, err, sizeof(err)), 0);
}
