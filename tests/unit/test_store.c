// SPDX-License-Identifier: GPL-2.0
/* test_store.c — the parts of agent/store/ that need no etcd: option
 * checks, the wire encoding (base64, range ends, int64-as-string), parsing
 * a key/value, and what an unreachable cluster answers.  Everything that
 * talks to etcd is in tests/host/t-store-etcd.sh, against real members. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "store/store_internal.h"

Test(store, open_refuses_bad_options)
{
	struct store_opts o = { .n_endpoints = 0 };
	struct store_err err = { "" };
	struct store *s = NULL;

	cr_expect_eq(store_open(&o, &s, &err), -EINVAL);
	cr_expect(strstr(err.msg, "endpoints"), "%s", err.msg);
	o.n_endpoints = 1;
	o.endpoints[0] = "127.0.0.1:2379";
	cr_expect_eq(store_open(&o, &s, &err), -EINVAL);
	cr_expect(strstr(err.msg, "http"), "%s", err.msg);
	o.endpoints[0] = "https://127.0.0.1:2379";
	cr_expect_eq(store_open(&o, &s, &err), -EINVAL, "https without certificates");
	o.ca_file = "/ca";
	cr_expect_eq(store_open(&o, &s, &err), -EINVAL, "only a CA");
	cr_expect(strstr(err.msg, "all three"), "%s", err.msg);
	o.cert_file = "/c";
	o.key_file = "/k";
	o.endpoints[0] = "http://127.0.0.1:2379";
	cr_expect_eq(store_open(&o, &s, &err), -EINVAL, "certificates on plain http");
	cr_expect_null(s);
	o.endpoints[0] = "https://127.0.0.1:2379/";
	cr_assert_eq(store_open(&o, &s, &err), 0, "%s", err.msg);
	cr_expect_str_eq(store_endpoint(s), "https://127.0.0.1:2379", "trailing / kept");
	store_close(s);
	store_close(NULL);
}

Test(store, base64_round_trip)
{
	static const uint8_t in[] = { 0, 0xff, 'a', 0x80, 1 };
	size_t n, len;
	uint8_t *out;
	char *b;

	for (n = 0; n <= sizeof(in); n++) {
		b = store_b64(in, n);
		cr_assert_not_null(b);
		cr_assert_eq(store_unb64(b, &out, &len), 0, "%zu bytes", n);
		cr_expect_eq(len, n);
		cr_expect_eq(memcmp(out, in, n), 0);
		cr_expect_eq(out[len], 0, "not NUL-terminated");
		free(out);
		free(b);
	}
	cr_expect_eq(store_unb64("abc", &out, &len), -EPROTO, "length not a multiple of 4");
	cr_expect_eq(store_unb64("ab!d", &out, &len), -EPROTO, "not base64");
}

Test(store, prefix_end)
{
	char *e = store_prefix_end("/ine/cfg/");

	cr_expect_str_eq(e, "/ine/cfg0");
	free(e);
	e = store_prefix_end("a\xff");
	cr_expect_str_eq(e, "b");
	free(e);
}

Test(store, json_int64_as_string)
{
	json_t *j = json_pack("{s:s,s:I,s:s}", "revision", "9007199254740993",
			      "n", (json_int_t)7, "bad", "x");

	cr_expect_eq(store_json_i64(j, "revision"), 9007199254740993LL, "beyond a double");
	cr_expect_eq(store_json_i64(j, "n"), 7);
	cr_expect_eq(store_json_i64(j, "missing"), 0, "omitted means 0");
	json_decref(j);
}

Test(store, kv_from_json)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "key", "L2E=", "value", "AP8=",
			      "mod_revision", "12", "create_revision", "3");
	struct store_kv kv;

	cr_assert_eq(store_kv_from_json(j, &kv), 0);
	cr_expect_str_eq((char *)kv.key, "/a");
	cr_expect_eq(kv.value_len, 2);
	cr_expect_eq(kv.value[1], 0xff);
	cr_expect_eq(kv.mod_rev, 12);
	cr_expect_eq(kv.create_rev, 3);
	store_kv_clear(&kv);
	json_decref(j);
	/* an empty value is omitted by etcd */
	j = json_pack("{s:s}", "key", "L2E=");
	cr_assert_eq(store_kv_from_json(j, &kv), 0);
	cr_expect_eq(kv.value_len, 0);
	store_kv_clear(&kv);
	json_decref(j);
	j = json_pack("{s:s}", "value", "AP8=");
	cr_expect_eq(store_kv_from_json(j, &kv), -EPROTO, "no key");
	json_decref(j);
	j = json_pack("{s:s}", "key", "L2E");
	cr_expect_eq(store_kv_from_json(j, &kv), -EPROTO, "bad base64");
	json_decref(j);
}

/* Nothing listens on these ports: every member is down, not "quorum lost". */
Test(store, unreachable_cluster)
{
	struct store_opts o = { .endpoints = { "http://127.0.0.1:1", "http://127.0.0.1:9" },
				.n_endpoints = 2, .timeout_ms = 2000 };
	struct store_err err = { "" };
	struct store_kv *kv = NULL;
	struct store *s;
	int64_t rev = 0;

	cr_assert_eq(store_open(&o, &s, &err), 0);
	cr_expect_eq(store_get(s, "/k", &kv, NULL, &err), -ECONNREFUSED);
	cr_expect(strstr(err.msg, "no etcd member reachable"), "%s", err.msg);
	cr_expect_eq(store_put(s, "/k", "v", 1, 0, &rev, &err), -ECONNREFUSED);
	cr_expect_eq(store_put(s, "", "v", 1, 0, &rev, &err), -EINVAL, "empty key");
	cr_expect(strstr(err.msg, "empty key"), "%s", err.msg);
	cr_expect_eq(store_lease_grant(s, 0, &rev, &err), -EINVAL, "TTL 0");
	cr_expect_eq(store_put_fenced(s, "/l", 0, "/k", "v", 1, NULL, &err), -EINVAL,
		     "fence 0");
	store_close(s);
}

Test(store, member_refuses_missing_options)
{
	struct event_base *base = event_base_new();
	struct store_member_opts o = { .state_dir = "/tmp", .name = "n1" };
	struct store_err err = { "" };

	cr_expect_null(store_member_start(base, &o, &err));
	cr_expect(strstr(err.msg, "peer and client URLs"), "%s", err.msg);
	o.peer_url = "http://127.0.0.1:1";
	o.client_url = "http://127.0.0.1:2";
	o.initial_cluster = "n1=http://127.0.0.1:1";
	o.ca_file = "/ca";
	cr_expect_null(store_member_start(base, &o, &err));
	cr_expect(strstr(err.msg, "TLS"), "%s", err.msg);
	event_base_free(base);
}
