// SPDX-License-Identifier: GPL-2.0
/* The helpers that used to be copied between files, now one each: the
 * failure formatter, hex, the peer status to errno mapping (one mapping,
 * the inverse of cp_http_status), the certificate serial, and the token's
 * cluster id (UUID through sd_id128). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>

#include "core/errmsg.h"
#include "core/hex.h"
#include "cp/cp_internal.h"
#include "cp/token.h"
#include "pki/pki.h"
#include "testpki.h"

Test(helpers, errmsg_fail_formats_and_returns_rc)
{
	char err[16] = "unchanged";

	cr_expect_eq(errmsg_fail(err, sizeof(err), -EBUSY, "node %u: %s", 7u,
				 "a long sentence"), -EBUSY);
	cr_expect_str_eq(err, "node 7: a long ");	/* truncated, terminated */
	cr_expect_eq(errmsg_fail(NULL, 0, -EIO, "x"), -EIO);	/* no buffer: fine */
}

Test(helpers, hex_round_trip_lower_case)
{
	const uint8_t in[4] = { 0x00, 0xab, 0x7f, 0xff };
	uint8_t out[4];
	char s[9];

	hex_encode(in, sizeof(in), s);
	cr_expect_str_eq(s, "00ab7fff");
	cr_assert_eq(hex_decode(s, out, sizeof(out)), 0);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
	cr_expect_eq(hex_decode("00AB7FFF", out, sizeof(out)), 0);
	cr_expect_eq(memcmp(in, out, sizeof(in)), 0);
}

Test(helpers, hex_decode_refuses_bad_input)
{
	uint8_t out[4];

	cr_expect_eq(hex_decode("00ab7f", out, sizeof(out)), -EINVAL);	/* short */
	cr_expect_eq(hex_decode("00ab7fff00", out, sizeof(out)), -EINVAL);	/* long */
	cr_expect_eq(hex_decode("00ab7fgf", out, sizeof(out)), -EINVAL);	/* not hex */
	cr_expect_eq(hex_decode("00:b7fff", out, sizeof(out)), -EINVAL);	/* separator */
}

/* A refusal a peer reports by HTTP status maps back to an errno that
 * cp_http_status turns into the same status: one mapping, both ways. */
Test(helpers, peer_status_round_trips)
{
	static const long st[] = { 400, 403, 404, 409, 503 };

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		cr_expect_eq(cp_http_status(cp_rc_from_http(st[i])), st[i],
			     "status %ld", st[i]);
	cr_expect_eq(cp_rc_from_http(409), -EBUSY);
	cr_expect_eq(cp_rc_from_http(500), -EIO);
	cr_expect_eq(cp_rc_from_http(418), -EIO);
}

Test(helpers, cert_serial_is_openssl_hex)
{
	struct tp_set s;
	BIGNUM *bn;
	char *want, got[64];

	cr_assert_eq(tp_set_make(&s, 2048), 0);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(s.srv), NULL);
	want = BN_bn2hex(bn);
	cr_assert_eq(pki_cert_serial(s.srv, got, sizeof(got)), 0);
	cr_expect_str_eq(got, want);
	cr_expect_gt(strlen(got), 0);
	OPENSSL_free(want);
	BN_free(bn);
	tp_set_free(&s);
}

Test(helpers, token_cluster_id_canonical_uuid_only)
{
	struct token t, u;
	char s[TOKEN_STR_MAX];

	memset(&t, 0, sizeof(t));
	strcpy(t.primary, "10.77.0.1:3342");
	t.expires = 1790000000;
	/* upper case in, the canonical lower case out */
	strcpy(t.cluster_id, "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0");
	cr_assert_gt(token_encode(&t, s, sizeof(s)), 0);
	cr_assert_eq(token_decode(s, &u), 0);
	cr_expect_str_eq(u.cluster_id, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
	/* 32 digits without dashes (sd_id128 takes it) or misplaced dashes */
	strcpy(t.cluster_id, "0f1e2d3c4b5a49688776a5b4c3d2e1f0");
	cr_expect_lt(token_encode(&t, s, sizeof(s)), 0);
	strcpy(t.cluster_id, "0f1e2d3c4-b5a-4968-8776-a5b4c3d2e1f0");
	cr_expect_lt(token_encode(&t, s, sizeof(s)), 0);
	strcpy(t.cluster_id, "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1fg");
	cr_expect_lt(token_encode(&t, s, sizeof(s)), 0);
}
