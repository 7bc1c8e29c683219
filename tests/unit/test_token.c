// SPDX-License-Identifier: GPL-2.0
/* Join tokens: encoding round trip, strict decoding, and the primary's
 * single-use, expiring store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cp/token.h"

static struct token sample(void)
{
	struct token t;

	memset(&t, 0, sizeof(t));
	strcpy(t.cluster_id, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
	strcpy(t.primary, "10.77.0.1:3342");
	for (int i = 0; i < 32; i++) {
		t.ca_pin[i] = (uint8_t)i;
		t.secret[i] = (uint8_t)(0xa0 + i);
	}
	t.expires = 1790000000;
	return t;
}

Test(token, roundtrip)
{
	struct token t = sample(), u;
	char s[TOKEN_STR_MAX];
	int n = token_encode(&t, s, sizeof(s));

	cr_assert_gt(n, 0);
	cr_expect_eq((size_t)n, strlen(s));
	cr_expect_eq(strncmp(s, "ine1.", 5), 0);
	cr_expect_null(strpbrk(s + 5, "+/="), "not base64url: %s", s);
	cr_assert_eq(token_decode(s, &u), 0);
	cr_expect_str_eq(u.cluster_id, t.cluster_id);
	cr_expect_str_eq(u.primary, t.primary);
	cr_expect_eq(memcmp(u.ca_pin, t.ca_pin, 32), 0);
	cr_expect_eq(memcmp(u.secret, t.secret, 32), 0);
	cr_expect_eq(u.expires, t.expires);
}

Test(token, roundtrip_every_addr_length)
{
	/* every length mod 3 exercises each base64 padding case */
	for (int len = 1; len <= 40; len++) {
		struct token t = sample(), u;
		char s[TOKEN_STR_MAX];

		snprintf(t.primary, sizeof(t.primary), "%.*s:1",
			 len, "hostaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		cr_assert_gt(token_encode(&t, s, sizeof(s)), 0);
		cr_assert_eq(token_decode(s, &u), 0, "len %d: %s", len, s);
		cr_expect_str_eq(u.primary, t.primary);
	}
}

Test(token, uuid_uppercase_canonicalised)
{
	struct token t = sample(), u;
	char s[TOKEN_STR_MAX];

	strcpy(t.cluster_id, "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0");
	cr_assert_gt(token_encode(&t, s, sizeof(s)), 0);
	cr_assert_eq(token_decode(s, &u), 0);
	cr_expect_str_eq(u.cluster_id, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
}

Test(token, encode_refuses_bad_fields)
{
	struct token t = sample();
	char s[TOKEN_STR_MAX];

	strcpy(t.cluster_id, "not-a-uuid");
	cr_expect_eq(token_encode(&t, s, sizeof(s)), -EINVAL);
	t = sample();
	strcpy(t.primary, "10.0.0.1");			/* no port */
	cr_expect_eq(token_encode(&t, s, sizeof(s)), -EINVAL);
	t = sample();
	cr_expect_eq(token_encode(&t, s, 10), -ENOSPC);
}

Test(token, addr_split)
{
	char h[64];
	uint16_t p;

	cr_assert_eq(token_addr_split("10.77.0.1:3342", h, sizeof(h), &p), 0);
	cr_expect_str_eq(h, "10.77.0.1");
	cr_expect_eq(p, 3342);
	cr_assert_eq(token_addr_split("[::1]:65535", h, sizeof(h), &p), 0);
	cr_expect_str_eq(h, "::1");
	cr_expect_eq(p, 65535);
	cr_assert_eq(token_addr_split("node-1.example:1", h, sizeof(h), &p), 0);
	const char *bad[] = { "", ":1", "h:", "h:0", "h:65536", "h:01",
			      "h:1x", "::1:3342", "[::1]3342", "[]:1",
			      "h :1", "h:-1", "h:+1", "h;1:2", "[::1]:1]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(token_addr_split(bad[i], h, sizeof(h), &p),
			     -EINVAL, "accepted \"%s\"", bad[i]);
}

Test(token, decode_refuses_malformed)
{
	struct token t = sample(), u;
	char s[TOKEN_STR_MAX], m[TOKEN_STR_MAX + 8];
	int n = token_encode(&t, s, sizeof(s));

	cr_assert_gt(n, 0);
	cr_expect_eq(token_decode("", &u), -EINVAL);
	cr_expect_eq(token_decode("ine1.", &u), -EINVAL);
	cr_expect_eq(token_decode(s + 5, &u), -EINVAL);	/* no prefix */
	/* truncated by one, two, three characters */
	for (int cut = 1; cut <= 3; cut++) {
		snprintf(m, sizeof(m), "%.*s", n - cut, s);
		cr_expect_lt(token_decode(m, &u), 0, "cut %d accepted", cut);
	}
	/* one extra character, padding, standard base64 characters */
	snprintf(m, sizeof(m), "%sA", s);
	cr_expect_lt(token_decode(m, &u), 0);
	snprintf(m, sizeof(m), "%s=", s);
	cr_expect_eq(token_decode(m, &u), -EINVAL);
	snprintf(m, sizeof(m), "%s", s);
	m[10] = '+';
	cr_expect_eq(token_decode(m, &u), -EINVAL);
	/* whitespace */
	snprintf(m, sizeof(m), "%s\n", s);
	cr_expect_eq(token_decode(m, &u), -EINVAL);
	/* wiped on failure */
	for (size_t i = 0; i < 32; i++)
		cr_expect_eq(u.secret[i], 0);
}

Test(token, decode_refuses_other_version)
{
	struct token t = sample(), u;
	char s[TOKEN_STR_MAX];

	cr_assert_gt(token_encode(&t, s, sizeof(s)), 0);
	/* first byte 0x01 → base64 "AQ.."; make it 0x02 → "Ag.." */
	cr_assert_eq(s[5], 'A');
	cr_assert_eq(s[6], 'Q');
	s[6] = 'g';
	cr_expect_eq(token_decode(s, &u), -EPROTONOSUPPORT);
}

Test(token, decode_refuses_noncanonical_tail)
{
	struct token t = sample(), u;
	char s[TOKEN_STR_MAX];
	int n;

	/* address length so that the binary is 1 mod 3: last char carries
	 * 4 unused bits, which must be zero */
	strcpy(t.primary, "h:1");	/* 90 + 3 = 93 = 0 mod 3 */
	strcpy(t.primary, "ho:1");	/* 94 = 1 mod 3 */
	n = token_encode(&t, s, sizeof(s));
	cr_assert_gt(n, 0);
	cr_assert_eq(token_decode(s, &u), 0);
	s[n - 1] = s[n - 1] == 'A' ? 'B' : (char)(s[n - 1] + 1);
	cr_expect_eq(token_decode(s, &u), -EINVAL);
}

static char *tmpfile_path(void)
{
	static char p[64];

	snprintf(p, sizeof(p), "/tmp/test-token-XXXXXX");
	int fd = mkstemp(p);

	cr_assert_geq(fd, 0);
	close(fd);
	unlink(p);
	return p;
}

Test(token_store, issue_check_consume_reuse)
{
	struct token_store *s;
	struct token t = sample();
	time_t now = 1000000;

	cr_assert_eq(token_store_open(NULL, &s), 0);
	cr_assert_eq(token_store_issue(s, &t, now, 0), 0);
	cr_expect_eq(t.expires, now + TOKEN_TTL_DEFAULT);
	cr_expect_eq(token_store_active(s, now), 1);
	cr_expect_eq(token_store_check(s, t.secret, now), 0);
	cr_expect_eq(token_store_check(s, t.secret, now), 0, "check consumed");
	cr_expect_eq(token_store_consume(s, t.secret, now + 10), 0);
	cr_expect_eq(token_store_consume(s, t.secret, now + 11), -EALREADY);
	cr_expect_eq(token_store_check(s, t.secret, now + 11), -EALREADY);
	cr_expect_eq(token_store_active(s, now), 0);
	token_store_free(s);
}

Test(token_store, wrong_secret)
{
	struct token_store *s;
	struct token t = sample();
	uint8_t other[32];

	cr_assert_eq(token_store_open(NULL, &s), 0);
	cr_assert_eq(token_store_issue(s, &t, 100, 60), 0);
	memcpy(other, t.secret, 32);
	other[31] ^= 1;
	cr_expect_eq(token_store_check(s, other, 100), -EACCES);
	cr_expect_eq(token_store_consume(s, other, 100), -EACCES);
	/* the real one is still good */
	cr_expect_eq(token_store_consume(s, t.secret, 100), 0);
	token_store_free(s);
}

Test(token_store, expiry_boundary)
{
	struct token_store *s;
	struct token t = sample();

	cr_assert_eq(token_store_open(NULL, &s), 0);
	cr_assert_eq(token_store_issue(s, &t, 100, 60), 0);
	cr_expect_eq(token_store_check(s, t.secret, 159), 0);
	cr_expect_eq(token_store_check(s, t.secret, 160), -EKEYEXPIRED);
	cr_expect_eq(token_store_consume(s, t.secret, 161), -EKEYEXPIRED);
	cr_expect_eq(token_store_active(s, 160), 0);
	token_store_free(s);
}

Test(token_store, ttl_limits)
{
	struct token_store *s;
	struct token t = sample();

	cr_assert_eq(token_store_open(NULL, &s), 0);
	cr_expect_eq(token_store_issue(s, &t, 100, -1), -ERANGE);
	cr_expect_eq(token_store_issue(s, &t, 100, TOKEN_TTL_MAX + 1), -ERANGE);
	cr_expect_eq(token_store_issue(s, &t, 100, TOKEN_TTL_MAX), 0);
	token_store_free(s);
}

Test(token_store, secrets_differ)
{
	struct token_store *s;
	struct token a = sample(), b = sample();

	cr_assert_eq(token_store_open(NULL, &s), 0);
	cr_assert_eq(token_store_issue(s, &a, 100, 0), 0);
	cr_assert_eq(token_store_issue(s, &b, 100, 0), 0);
	cr_expect_neq(memcmp(a.secret, b.secret, 32), 0);
	cr_expect_eq(token_store_consume(s, a.secret, 100), 0);
	cr_expect_eq(token_store_check(s, b.secret, 100), 0);
	token_store_free(s);
}

Test(token_store, persists_hash_only_and_use)
{
	struct token_store *s;
	struct token t = sample();
	char *path = tmpfile_path(), buf[8192], hex[65];
	FILE *f;
	size_t n;

	cr_assert_eq(token_store_open(path, &s), 0);
	cr_assert_eq(token_store_issue(s, &t, 100, 600), 0);
	token_store_free(s);

	/* the secret itself is not on disk */
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", t.secret[i]);
	cr_expect_null(strstr(buf, hex), "secret stored in clear");

	cr_assert_eq(token_store_open(path, &s), 0);
	cr_expect_eq(token_store_consume(s, t.secret, 200), 0);
	token_store_free(s);
	cr_assert_eq(token_store_open(path, &s), 0);
	cr_expect_eq(token_store_check(s, t.secret, 200), -EALREADY,
		     "use not persisted");
	token_store_free(s);
	unlink(path);
}

Test(token_store, malformed_file_refused)
{
	const char *bad[] = {
		"", "[]", "{}", "{\"tokens\":{}}",
		"{\"tokens\":[{\"hash\":\"00\",\"expires\":1,\"used\":false}]}",
		"{\"tokens\":[],\"x\":1}",
		"{\"tokens\":[{\"hash\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
		"\",\"expires\":1,\"used\":false,\"extra\":1}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = tmpfile_path();
		FILE *f = fopen(path, "w");
		struct token_store *s = NULL;

		fputs(bad[i], f);
		fclose(f);
		cr_expect_eq(token_store_open(path, &s), -EBADMSG,
			     "accepted %s", bad[i]);
		token_store_free(s);
		unlink(path);
	}
}

Test(token_store, strerror_names_the_problem)
{
	cr_expect_not_null(strstr(token_strerror(-EKEYEXPIRED), "expired"));
	cr_expect_not_null(strstr(token_strerror(-EALREADY), "already used"));
	cr_expect_not_null(strstr(token_strerror(-EACCES), "not recognised"));
}
