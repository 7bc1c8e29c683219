// SPDX-License-Identifier: GPL-2.0
/* test_pki_wrap.c — the CA key wrapped for the store (agent/pki/pki_wrap.c):
 * round trip, every kind of wrong input refused, no key bytes in the blob,
 * the KEK file's permissions enforced. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/harden.h"
#include "pki/pki_internal.h"
#include "testpki.h"

static uint8_t kek[PKI_KEK_LEN], kek2[PKI_KEK_LEN];

static void setup(void)
{
	if (!CRYPTO_secure_malloc_initialized())
		cr_assert_eq(CRYPTO_secure_malloc_init(HARDEN_SECURE_HEAP, 16), 1);
	cr_assert_eq(RAND_bytes(kek, sizeof(kek)), 1);
	cr_assert_eq(RAND_bytes(kek2, sizeof(kek2)), 1);
}

TestSuite(pki_wrap, .init = setup);

static void wrap(EVP_PKEY *k, uint8_t **blob, size_t *len)
{
	struct pki_err err = { "" };

	cr_assert_eq(pki_ca_key_wrap(k, kek, TP_CLUSTER, "ca-1", blob, len, &err), 0,
		     "%s", err.msg);
}

Test(pki_wrap, round_trip)
{
	EVP_PKEY *k = tp_key("rsa2048-a"), *back = NULL;
	struct pki_err err = { "" };
	size_t used0 = CRYPTO_secure_used(), len;
	uint8_t *blob;

	wrap(k, &blob, &len);
	cr_assert_eq(pki_ca_key_unwrap(blob, len, kek, TP_CLUSTER, "ca-1", &back, &err), 0,
		     "%s", err.msg);
	cr_expect_eq(EVP_PKEY_eq(k, back), 1, "unwrapped key differs");
	EVP_PKEY_free(back);
	/* the clear text went through the secure heap and was given back */
	cr_expect_eq(CRYPTO_secure_used(), used0, "secure heap not released");
	OPENSSL_free(blob);
}

Test(pki_wrap, two_wraps_differ)
{
	uint8_t *a, *b;
	size_t la, lb;

	wrap(tp_key("rsa2048-a"), &a, &la);
	wrap(tp_key("rsa2048-a"), &b, &lb);
	cr_assert_eq(la, lb);
	cr_expect_neq(memcmp(a, b, la), 0, "same IV twice");
	OPENSSL_free(a);
	OPENSSL_free(b);
}

/* Every byte of the blob is covered: flipping any one is refused. */
Test(pki_wrap, tampered_refused)
{
	struct pki_err err;
	EVP_PKEY *back;
	uint8_t *blob;
	size_t len, i;
	int ret;

	wrap(tp_key("rsa2048-a"), &blob, &len);
	for (i = 0; i < len; i += (i < 64 || i > len - 32) ? 1 : 97) {
		blob[i] ^= 0x01;
		back = NULL;
		ret = pki_ca_key_unwrap(blob, len, kek, TP_CLUSTER, "ca-1", &back, &err);
		cr_expect(ret == -EKEYREJECTED || ret == -EINVAL,
			  "byte %zu flipped: got %d", i, ret);
		cr_expect_null(back);
		EVP_PKEY_free(back);
		blob[i] ^= 0x01;
	}
	back = NULL;
	cr_expect_eq(pki_ca_key_unwrap(blob, len - 1, kek, TP_CLUSTER, "ca-1", &back, &err),
		     -EKEYREJECTED, "truncated blob");
	EVP_PKEY_free(back);
	OPENSSL_free(blob);
}

Test(pki_wrap, wrong_aad_or_kek_refused)
{
	struct pki_err err = { "" };
	EVP_PKEY *back = NULL;
	uint8_t *blob;
	size_t len;

	wrap(tp_key("rsa2048-a"), &blob, &len);
	cr_expect_eq(pki_ca_key_unwrap(blob, len, kek, TP_OTHER_CLUSTER, "ca-1", &back, &err),
		     -EKEYREJECTED, "other cluster");
	cr_expect(strstr(err.msg, "does not authenticate"), "%s", err.msg);
	cr_expect_eq(pki_ca_key_unwrap(blob, len, kek, TP_CLUSTER, "ca-2", &back, &err),
		     -EKEYREJECTED, "other key id");
	cr_expect(strstr(err.msg, "key id"), "%s", err.msg);
	cr_expect_eq(pki_ca_key_unwrap(blob, len, kek2, TP_CLUSTER, "ca-1", &back, &err),
		     -EKEYREJECTED, "other KEK");
	cr_expect_null(back);
	/* the key id in the blob is authenticated too, not only compared:
	 * rewrite it to "ca-2" and ask for "ca-2" */
	blob[6 + 1 + 3] = '2';
	cr_expect_eq(pki_ca_key_unwrap(blob, len, kek, TP_CLUSTER, "ca-2", &back, &err),
		     -EKEYREJECTED, "rewritten key id");
	cr_expect_null(back);
	OPENSSL_free(blob);
}

static bool contains(const uint8_t *hay, size_t hl, const uint8_t *needle, size_t nl)
{
	size_t i;

	for (i = 0; nl && i + nl <= hl; i++)
		if (!memcmp(hay + i, needle, nl))
			return true;
	return false;
}

Test(pki_wrap, no_key_bytes_in_blob)
{
	EVP_PKEY *k = tp_key("rsa2048-a");
	BIGNUM *d = NULL;
	uint8_t *blob, *der = NULL, dbytes[512];
	size_t len, i;
	int dl, derl;

	wrap(k, &blob, &len);
	cr_assert_eq(EVP_PKEY_get_bn_param(k, "d", &d), 1);
	dl = BN_bn2bin(d, dbytes);
	derl = i2d_PrivateKey(k, &der);
	cr_assert_gt(derl, 0);
	/* no 8-byte run of the private exponent, nor of the DER key */
	for (i = 0; i + 8 <= (size_t)dl; i++)
		cr_expect_not(contains(blob, len, dbytes + i, 8), "d bytes at %zu in the blob", i);
	for (i = 0; i + 8 <= (size_t)derl; i += 4)
		cr_expect_not(contains(blob, len, der + i, 8), "DER bytes at %zu in the blob", i);
	cr_expect_not(contains(blob, len, (const uint8_t *)"PRIVATE KEY", 11));
	cr_expect_not(contains(blob, len, (const uint8_t *)"MII", 3), "PEM text in the blob");
	OPENSSL_free(der);
	BN_clear_free(d);
	OPENSSL_free(blob);
}

Test(pki_wrap, bad_input_refused)
{
	struct pki_err err = { "" };
	EVP_PKEY *back = NULL;
	uint8_t *blob = NULL;
	size_t len = 0;

	cr_expect_eq(pki_ca_key_wrap(tp_key("rsa2048-a"), kek, "not a uuid", "ca-1", &blob,
				     &len, &err), -EINVAL);
	cr_expect_eq(pki_ca_key_wrap(tp_key("rsa2048-a"), kek, TP_CLUSTER, "", &blob, &len,
				     &err), -EINVAL);
	cr_expect_null(blob);
	cr_expect_eq(pki_ca_key_unwrap((const uint8_t *)"INEKW0xxxxxxxxxxxxxxxxxxxxxxxxxxxx", 34,
				       kek, TP_CLUSTER, "ca-1", &back, &err), -EINVAL);
	cr_expect(strstr(err.msg, "magic"), "%s", err.msg);
}

Test(pki_wrap, kek_file)
{
	char dir[] = "/tmp/ine-kek.XXXXXX", path[64];
	struct pki_err err = { "" };
	uint8_t *k = NULL;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, PKI_KEK_FILE);
	cr_assert_eq(pki_kek_create(dir, &err), 0, "%s", err.msg);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(st.st_size, PKI_KEK_LEN);
	cr_expect_eq(pki_kek_create(dir, &err), -EEXIST, "KEK replaced");
	cr_assert_eq(pki_kek_load(dir, &k, &err), 0, "%s", err.msg);
	cr_expect(CRYPTO_secure_allocated(k), "KEK outside the secure heap");
	pki_kek_free(k);
	k = NULL;
	cr_assert_eq(chmod(path, 0644), 0);
	cr_expect_eq(pki_kek_load(dir, &k, &err), -EACCES, "world-readable KEK accepted");
	cr_expect_null(k);
	unlink(path);
	rmdir(dir);
}
