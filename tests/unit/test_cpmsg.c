// SPDX-License-Identifier: GPL-2.0
/* Control-plane message codec: framing, size cap, strict schema. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cp/cpmsg.h"

/* Frame raw JSON text (no validation) for the decoder. */
static uint8_t *frame(const char *json, size_t *len)
{
	size_t n = strlen(json);
	uint8_t *b = malloc(n + 4);

	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, json, n);
	*len = n + 4;
	return b;
}

static int decode_text(const char *json, char *err)
{
	size_t len, used = 0;
	uint8_t *b = frame(json, &len);
	json_t *m = NULL;
	int type = 0, ret;

	ret = cpmsg_decode(b, len, &used, &m, &type, err, CPMSG_ERR_MAX);
	if (ret == 1) {
		cr_expect_eq(used, len);
		json_decref(m);
		ret = type;
	}
	free(b);
	return ret;
}

Test(cpmsg, roundtrip_hello)
{
	json_t *m = cpmsg_pack(CPMSG_HELLO, "{s:s, s:i, s:I, s:I}",
		"cluster_id", "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
		"node_id", 3, "version", (json_int_t)42, "certs_version",
		(json_int_t)0);
	uint8_t *buf;
	size_t len, used;
	json_t *out;
	int type;
	char err[CPMSG_ERR_MAX];

	cr_assert_not_null(m);
	cr_assert_eq(cpmsg_encode(m, &buf, &len), 0);
	/* every strict prefix needs more bytes */
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(cpmsg_decode(buf, i, &used, &out, &type, err,
					  sizeof(err)), 0, "prefix %zu", i);
	cr_assert_eq(cpmsg_decode(buf, len, &used, &out, &type, err,
				  sizeof(err)), 1, "%s", err);
	cr_expect_eq(type, CPMSG_HELLO);
	cr_expect_eq(used, len);
	cr_expect(json_equal(m, out));
	json_decref(out);
	free(buf);
	json_decref(m);
}

Test(cpmsg, two_frames_in_one_buffer)
{
	json_t *a = cpmsg_pack(CPMSG_PING, "{}");
	json_t *b = cpmsg_pack(CPMSG_STATUS_REQ, "{s:i}", "id", 7);
	uint8_t *ba, *bb, *both;
	size_t la, lb, used;
	json_t *out;
	int type;

	cr_assert_eq(cpmsg_encode(a, &ba, &la), 0);
	cr_assert_eq(cpmsg_encode(b, &bb, &lb), 0);
	both = malloc(la + lb);
	memcpy(both, ba, la);
	memcpy(both + la, bb, lb);
	cr_assert_eq(cpmsg_decode(both, la + lb, &used, &out, &type, NULL, 0), 1);
	cr_expect_eq(type, CPMSG_PING);
	cr_expect_eq(used, la);
	json_decref(out);
	cr_assert_eq(cpmsg_decode(both + used, la + lb - used, &used, &out,
				  &type, NULL, 0), 1);
	cr_expect_eq(type, CPMSG_STATUS_REQ);
	cr_expect_eq(json_integer_value(json_object_get(out, "id")), 7);
	json_decref(out);
	free(both); free(ba); free(bb);
	json_decref(a); json_decref(b);
}

Test(cpmsg, length_cap)
{
	uint8_t hdr[4] = { 0x00, 0x10, 0x00, 0x01 };	/* CPMSG_MAX + 1 */
	uint8_t zero[4] = { 0, 0, 0, 0 };
	uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
	size_t used;
	json_t *out;
	int type;
	char err[CPMSG_ERR_MAX] = "";

	cr_expect_eq(cpmsg_decode(hdr, 4, &used, &out, &type, err,
				  sizeof(err)), -EMSGSIZE);
	cr_expect_not_null(strstr(err, "out of range"));
	cr_expect_eq(cpmsg_decode(zero, 4, &used, &out, &type, NULL, 0),
		     -EMSGSIZE);
	cr_expect_eq(cpmsg_decode(huge, 4, &used, &out, &type, NULL, 0),
		     -EMSGSIZE);
}

Test(cpmsg, encode_refuses_oversize)
{
	size_t n = CPMSG_MAX;
	char *big = malloc(n + 1);
	json_t *cfg, *m;
	uint8_t *buf;
	size_t len;

	memset(big, 'x', n);
	big[n] = '\0';
	cfg = json_pack("{s:s}", "blob", big);
	m = cpmsg_pack(CPMSG_CONFIG, "{s:i, s:o}", "version", 2, "config", cfg);
	cr_assert_not_null(m);
	cr_expect_eq(cpmsg_encode(m, &buf, &len), -EMSGSIZE);
	json_decref(m);
	free(big);
}

Test(cpmsg, pack_refuses_invalid)
{
	cr_expect_null(cpmsg_pack(CPMSG_HELLO, "{s:s}", "cluster_id", "x"));
	cr_expect_null(cpmsg_pack(CPMSG_PING, "{s:i}", "extra", 1));
	cr_expect_null(cpmsg_pack((enum cpmsg_type)99, "{}"));
}

struct bad { const char *json; const char *why; };

Test(cpmsg, malformed_refused_with_reason)
{
	static const struct bad bad[] = {
		{ "[]", "not a JSON object" },
		{ "\"ping\"", "invalid JSON" },
		{ "{}", "no type" },
		{ "{\"t\":1}", "no type" },
		{ "{\"t\":\"nope\"}", "unknown message type" },
		{ "{\"t\":\"ping\",\"x\":1}", "unknown field \"x\"" },
		{ "{\"t\":\"ping\"", "invalid JSON" },
		{ "{\"t\":\"ping\"} {}", "invalid JSON" },
		{ "{\"t\":\"ping\",\"t\":\"pong\"}", "invalid JSON" },
		{ "{\"t\":\"status_req\"}", "missing field \"id\"" },
		{ "{\"t\":\"status_req\",\"id\":\"1\"}", "must be an integer" },
		{ "{\"t\":\"status_req\",\"id\":1.0}", "must be an integer" },
		{ "{\"t\":\"status_req\",\"id\":-1}", "allowed" },
		{ "{\"t\":\"status_req\",\"id\":99999999999999999999}", "invalid JSON" },
		{ "{\"t\":\"hello\",\"cluster_id\":\"x\",\"node_id\":1,\"version\":1,\"certs_version\":0}",
		  "length 1" },
		{ "{\"t\":\"hello\",\"cluster_id\":\"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\",\"node_id\":0,\"version\":1,\"certs_version\":0}",
		  "\"node_id\" is 0" },
		{ "{\"t\":\"hello\",\"cluster_id\":\"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\",\"node_id\":70000,\"version\":1,\"certs_version\":0}",
		  "\"node_id\" is 70000" },
		{ "{\"t\":\"config\",\"version\":2,\"config\":[]}", "must be an object" },
		{ "{\"t\":\"config\",\"version\":0,\"config\":{}}", "\"version\" is 0" },
		{ "{\"t\":\"result\",\"id\":1,\"ok\":1}", "true or false" },
		{ "{\"t\":\"join_req\",\"secret\":\"00\",\"node_name\":\"n\",\"address\":\"a:1\",\"cp_csr\":\"x\",\"dp_csr\":\"x\"}",
		  "\"secret\" has length 2" },
		{ "{\"t\":\"join_req\",\"secret\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"node_name\":\"\",\"address\":\"a:1\",\"cp_csr\":\"x\",\"dp_csr\":\"x\"}",
		  "\"node_name\" has length 0" },
		{ "{\"t\":\"csr\",\"id\":1,\"plane\":\"cpx\",\"csr\":\"x\"}", "\"plane\" has length 3" },
		{ "{\"t\":\"ping\",\"\\u0000\":1}", "invalid JSON" },
		{ "{\"t\":\"result\",\"id\":1,\"ok\":false,\"description\":\"a\\u0000b\"}", "invalid JSON" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[CPMSG_ERR_MAX] = "";
		int ret = decode_text(bad[i].json, err);

		cr_expect_lt(ret, 0, "accepted %s", bad[i].json);
		cr_expect_not_null(strstr(err, bad[i].why),
				   "%s: error \"%s\" lacks \"%s\"",
				   bad[i].json, err, bad[i].why);
	}
}

Test(cpmsg, every_type_has_a_valid_example)
{
	static const char *good[] = {
		"{\"t\":\"join_hello\",\"cluster_id\":\"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\"}",
		"{\"t\":\"join_ca\",\"cluster_id\":\"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\",\"ca\":\"PEM\",\"node_id\":4}",
		"{\"t\":\"join_req\",\"secret\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"node_name\":\"n2\",\"address\":\"a:1\",\"cp_csr\":\"x\",\"dp_csr\":\"x\"}",
		"{\"t\":\"join_resp\",\"node_id\":2,\"primary_id\":1,\"cp_cert\":\"x\",\"dp_cert\":\"x\",\"ca\":\"x\",\"config\":{}}",
		"{\"t\":\"hello\",\"cluster_id\":\"0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\",\"node_id\":1,\"version\":1,\"certs_version\":0}",
		"{\"t\":\"config\",\"version\":2,\"config\":{\"a\":1}}",
		"{\"t\":\"certs\",\"version\":1,\"certs\":{}}",
		"{\"t\":\"propose\",\"id\":1,\"base_version\":1,\"config\":{}}",
		"{\"t\":\"certs_propose\",\"id\":1,\"base_version\":0,\"certs\":{}}",
		"{\"t\":\"status_req\",\"id\":0}",
		"{\"t\":\"status\",\"id\":0,\"status\":{}}",
		"{\"t\":\"csr\",\"id\":1,\"plane\":\"dp\",\"csr\":\"x\"}",
		"{\"t\":\"cert\",\"id\":1,\"plane\":\"cp\",\"cert\":\"x\"}",
		"{\"t\":\"result\",\"id\":1,\"ok\":false,\"status\":503,\"error_code\":\"primary_unreachable\",\"description\":\"d\"}",
		"{\"t\":\"ping\"}",
		"{\"t\":\"pong\"}",
	};
	int seen[__CPMSG_MAX] = { 0 };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char err[CPMSG_ERR_MAX] = "";
		int t = decode_text(good[i], err);

		cr_expect_gt(t, 0, "%s refused: %s", good[i], err);
		if (t > 0)
			seen[t]++;
	}
	for (int t = 1; t < __CPMSG_MAX; t++)
		cr_expect_eq(seen[t], 1, "type %s", cpmsg_type_str(t));
}
