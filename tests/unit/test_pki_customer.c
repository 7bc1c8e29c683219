// SPDX-License-Identifier: GPL-2.0
/* test_pki_customer.c — customer certificate upload: every rule, every
 * refusal with its message, and a corpus of malformed/hostile inputs.
 * With INE_PKI_SEED_DIR set, each corpus case is also written there in the
 * fuzz_pem input format (u16 cert length, cert, key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/pem.h>

#include "pki/pki_internal.h"
#include "testpki.h"

#define GOOD_NB (T0 - 10 * DAY)
#define GOOD_NA (T0 + 365 * DAY)

static void good_chain(struct tp_buf *cert, struct tp_buf *key)
{
	struct tp_chain c;

	tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
	tp_chain_pem(&c, cert);
	tp_buf_key(key, c.leaf_key);
	tp_chain_free(&c);
}

static void leaf_with(const char *leafkey, time_t nb, time_t na, int flags,
		      struct tp_buf *cert, struct tp_buf *key)
{
	struct tp_chain c;

	tp_chain_make(&c, leafkey, nb, na, flags);
	tp_chain_pem(&c, cert);
	tp_buf_key(key, c.leaf_key);
	tp_chain_free(&c);
}

static void add_str(struct tp_buf *b, const char *s)
{
	tp_buf_add(b, s, strlen(s));
}

static void add_file(struct tp_buf *b, const char *stem)
{
	size_t n;
	char *t = tp_file(stem, &n);

	tp_buf_add(b, t, n);
	free(t);
}

static void junk(struct tp_buf *b, size_t n, unsigned seed)
{
	char *p = malloc(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
	tp_buf_add(b, p, n);
	free(p);
}

static void x509_der_pem_mangled(struct tp_buf *b, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	const unsigned char *p = der;
	X509 *y;

	der[n - 5] ^= 0x5a;	/* inside the signature */
	y = d2i_X509(NULL, &p, n);
	cr_assert_not_null(y);
	tp_buf_x509(b, y);
	X509_free(y);
	OPENSSL_free(der);
}

enum {
	C_EMPTY_CERT, C_BLANK_CERT, C_EMPTY_KEY, C_HUGE_CERT, C_HUGE_KEY,
	C_BINARY_CERT, C_DER_CERT, C_NUL_CERT, C_NUL_KEY, C_NO_BEGIN,
	C_TRUNC_CERT, C_BAD_BASE64, C_GARBAGE_DER, C_KEY_IN_CERT, C_CSR_IN_CERT,
	C_TRUSTED_CERT, C_CERT_IN_KEY, C_PUBKEY_IN_KEY, C_NO_PEM_KEY, C_TRUNC_KEY,
	C_ENC_PKCS8, C_ENC_TRAD, C_EC_LEAF, C_EC_TRAD_KEY, C_ED25519, C_ED448,
	C_RSAPSS, C_RSA1024, C_RSA8200, C_MISMATCH, C_KEY_OF_ROOT, C_ORDER_LEAF_2ND,
	C_ORDER_ROOT_MID, C_LEAF_ONLY, C_SELF_SIGNED_ONLY, C_OTHER_CA, C_EXPIRED,
	C_NOT_YET, C_EXPIRES_SOON, C_EKU_SERVER, C_INTER_EXPIRED, C_INTER_NOT_CA,
	C_BAD_SIG, C_TWO_KEYS, C_TOO_LONG, C_LONG_LINE, C_BEGIN_NO_END,
	C_BINARY_KEY, C_ONE_MIB_JUNK, C_NCASES
};

/* Criterion may run a test in a re-executed process: params hold no
 * pointers. */
struct ccase {
	int id;
	char name[40];
	char expect[160];
};

static struct ccase cases[] = {
	{ C_EMPTY_CERT, "empty cert", "certificate is empty" },
	{ C_BLANK_CERT, "whitespace cert", "certificate is empty" },
	{ C_EMPTY_KEY, "empty key", "private key is empty" },
	{ C_HUGE_CERT, "1 MiB cert", "certificate is too large (1048576 bytes; the limit is 65536)" },
	{ C_HUGE_KEY, "1 MiB key", "private key is too large" },
	{ C_BINARY_CERT, "binary junk cert", "certificate is not PEM text" },
	{ C_DER_CERT, "DER cert", "certificate is not PEM text: binary byte" },
	{ C_NUL_CERT, "NUL in cert", "certificate is not PEM text: NUL byte at offset 100" },
	{ C_NUL_KEY, "NUL in key", "private key is not PEM text: NUL byte at offset 64" },
	{ C_NO_BEGIN, "text without PEM", "no \"-----BEGIN CERTIFICATE-----\" block found" },
	{ C_TRUNC_CERT, "truncated cert PEM", "certificate PEM block 1 is malformed" },
	{ C_BAD_BASE64, "bad base64", "certificate PEM block 1 is malformed" },
	{ C_GARBAGE_DER, "garbage DER", "certificate 1 is not valid X.509" },
	{ C_KEY_IN_CERT, "key in cert field", "certificate field contains a private key" },
	{ C_CSR_IN_CERT, "CSR in cert field", "\"CERTIFICATE REQUEST\": only CERTIFICATE blocks are allowed" },
	{ C_TRUSTED_CERT, "TRUSTED CERTIFICATE", "\"TRUSTED CERTIFICATE\": only CERTIFICATE blocks" },
	{ C_CERT_IN_KEY, "cert in key field", "key PEM block 1 is \"CERTIFICATE\", not a private key" },
	{ C_PUBKEY_IN_KEY, "public key in key field", "\"PUBLIC KEY\", not a private key" },
	{ C_NO_PEM_KEY, "key not PEM", "private key is not PEM: no" },
	{ C_TRUNC_KEY, "truncated key", "private key PEM block 1 is malformed" },
	{ C_ENC_PKCS8, "encrypted PKCS#8 key", "private key is encrypted (passphrase-protected): upload it unencrypted" },
	{ C_ENC_TRAD, "encrypted traditional key", "private key is encrypted" },
	{ C_EC_LEAF, "ECDSA leaf", "ECDSA keys are not supported: internode encryption requires RSA keys" },
	{ C_EC_TRAD_KEY, "EC PRIVATE KEY", "ECDSA keys are not supported" },
	{ C_ED25519, "Ed25519 leaf", "EdDSA (Ed25519) keys are not supported" },
	{ C_ED448, "Ed448 leaf", "EdDSA (Ed448) keys are not supported" },
	{ C_RSAPSS, "RSA-PSS leaf", "RSA-PSS keys are not supported" },
	{ C_RSA1024, "RSA-1024 leaf", "RSA key is 1024 bits: at least 2048 bits are required" },
	{ C_RSA8200, "RSA-8200 leaf", "RSA key is 8200 bits: at most 8192 bits are supported" },
	{ C_MISMATCH, "mismatched pair", "private key does not match the certificate" },
	{ C_KEY_OF_ROOT, "key of the root", "private key does not match the certificate (it belongs to CA certificate number 3" },
	{ C_ORDER_LEAF_2ND, "leaf second", "wrong order: the leaf certificate (the one matching the private key, now number 2) must come first" },
	{ C_ORDER_ROOT_MID, "root in the middle", "wrong order: certificate 1 is issued by certificate 3" },
	{ C_LEAF_ONLY, "leaf without chain", "certificate chain is missing" },
	{ C_SELF_SIGNED_ONLY, "self-signed leaf only", "certificate chain is missing" },
	{ C_OTHER_CA, "chain of another CA", "certificate chain is broken: certificate 1" },
	{ C_EXPIRED, "expired leaf", "certificate has expired (not valid after 2026-12-16" },
	{ C_NOT_YET, "not yet valid leaf", "certificate is not valid yet (not valid before 2027-01-25" },
	{ C_EXPIRES_SOON, "leaf expiring in 3 days", "certificate expires within 5 days" },
	{ C_EKU_SERVER, "EKU serverAuth only", "extended key usage must allow both TLS server and client authentication" },
	{ C_INTER_EXPIRED, "expired intermediate", "certificate chain does not verify: certificate has expired (certificate 2)" },
	{ C_INTER_NOT_CA, "intermediate not a CA", "certificate chain does not verify: invalid CA certificate" },
	{ C_BAD_SIG, "bad leaf signature", "certificate chain does not verify: certificate signature failure" },
	{ C_TWO_KEYS, "two keys", "key field holds more than one private key" },
	{ C_TOO_LONG, "11 certificates", "certificate chain is too long (more than 10 certificates)" },
	{ C_LONG_LINE, "60 KiB line", "no \"-----BEGIN CERTIFICATE-----\" block found" },
	{ C_BEGIN_NO_END, "BEGIN without END", "certificate PEM block 1 is malformed" },
	{ C_BINARY_KEY, "binary key", "private key is not PEM text" },
	{ C_ONE_MIB_JUNK, "1 MiB binary junk", "certificate is too large" },
};

static void build(int id, struct tp_buf *cert, struct tp_buf *key)
{
	struct tp_buf gc = {0}, gk = {0};
	struct tp_chain c = {0};
	EVP_PKEY *rk = tp_key("rsa2048-a"), *ik = tp_key("rsa2048-b");
	X509 *x, *y;

	good_chain(&gc, &gk);
	switch (id) {
	case C_EMPTY_CERT:
		tp_buf_add(key, gk.p, gk.len);
		tp_buf_add(cert, "", 0);
		break;
	case C_BLANK_CERT:
		add_str(cert, " \n\t\r\n  ");
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_EMPTY_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, "", 0);
		break;
	case C_HUGE_CERT:
		while (cert->len < 1048576)
			tp_buf_add(cert, gc.p, gc.len < 1048576 - cert->len ? gc.len : 1048576 - cert->len);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_HUGE_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		while (key->len < 1048576)
			tp_buf_add(key, gk.p, gk.len);
		break;
	case C_BINARY_CERT:
		junk(cert, 4096, 7);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_DER_CERT: {
		unsigned char *der = NULL;
		int n;

		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		n = i2d_X509(c.leaf, &der);
		tp_buf_add(cert, der, (size_t)n);
		OPENSSL_free(der);
		tp_buf_add(key, gk.p, gk.len);
		break;
	}
	case C_NUL_CERT:
		tp_buf_add(cert, gc.p, gc.len);
		cert->p[100] = '\0';
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_NUL_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gk.p, gk.len);
		key->p[64] = '\0';
		break;
	case C_NO_BEGIN:
		add_str(cert, "this is my certificate, trust me\n");
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_TRUNC_CERT:
		tp_buf_add(cert, gc.p, 700);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_BAD_BASE64:
		tp_buf_add(cert, gc.p, gc.len);
		memset(cert->p + 200, '!', 40);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_GARBAGE_DER:
		add_str(cert, "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IERFUgo=\n-----END CERTIFICATE-----\n");
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_KEY_IN_CERT:
		tp_buf_add(cert, gk.p, gk.len);
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_CSR_IN_CERT: {
		char *csr;
		size_t n;

		cr_assert_eq(pki_node_csr(tp_key("rsa2048-c"), "abc", 1, "n1",
					  PKI_PLANE_CP, &csr, &n, NULL), 0);
		tp_buf_add(cert, csr, n);
		free(csr);
		tp_buf_add(key, gk.p, gk.len);
		break;
	}
	case C_TRUSTED_CERT: {
		const char *b = strstr(gc.p, "\n") + 1;
		const char *e = strstr(gc.p, "-----END");

		add_str(cert, "-----BEGIN TRUSTED CERTIFICATE-----\n");
		tp_buf_add(cert, b, (size_t)(e - b));
		add_str(cert, "-----END TRUSTED CERTIFICATE-----\n");
		tp_buf_add(key, gk.p, gk.len);
		break;
	}
	case C_CERT_IN_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gc.p, gc.len);
		break;
	case C_PUBKEY_IN_KEY: {
		BIO *b = BIO_new(BIO_s_mem());
		char *d;
		long n;

		PEM_write_bio_PUBKEY(b, tp_key("rsa2048-c"));
		n = BIO_get_mem_data(b, &d);
		tp_buf_add(key, d, (size_t)n);
		BIO_free(b);
		tp_buf_add(cert, gc.p, gc.len);
		break;
	}
	case C_NO_PEM_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		add_str(key, "hunter2\n");
		break;
	case C_TRUNC_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gk.p, gk.len / 2);
		break;
	case C_ENC_PKCS8:
		tp_buf_add(cert, gc.p, gc.len);
		add_file(key, "rsa2048-c-enc-pkcs8");
		break;
	case C_ENC_TRAD:
		tp_buf_add(cert, gc.p, gc.len);
		add_file(key, "rsa2048-c-enc-trad");
		break;
	case C_EC_LEAF:
		leaf_with("ec-p256", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_EC_TRAD_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		add_file(key, "ec-p256-trad");
		break;
	case C_ED25519:
		leaf_with("ed25519", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_ED448:
		leaf_with("ed448", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_RSAPSS:
		leaf_with("rsapss2048", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_RSA1024:
		leaf_with("rsa1024", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_RSA8200:
		leaf_with("rsa8200", GOOD_NB, GOOD_NA, 0, cert, key);
		break;
	case C_MISMATCH:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_key(key, tp_key("rsa2048-d"));
		break;
	case C_KEY_OF_ROOT:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_key(key, rk);
		break;
	case C_ORDER_LEAF_2ND:
		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		tp_buf_x509(cert, c.inter);
		tp_buf_x509(cert, c.leaf);
		tp_buf_x509(cert, c.root);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_ORDER_ROOT_MID:
		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		tp_buf_x509(cert, c.leaf);
		tp_buf_x509(cert, c.root);
		tp_buf_x509(cert, c.inter);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_LEAF_ONLY:
		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		tp_buf_x509(cert, c.leaf);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_SELF_SIGNED_ONLY:
		x = tp_cert("self", NULL, tp_key("rsa2048-c"), NULL, NULL, GOOD_NB, GOOD_NA, 0, NULL);
		tp_buf_x509(cert, x);
		X509_free(x);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_OTHER_CA: {
		/* leaf from our chain, followed by another CA's chain */
		X509 *oroot = tp_cert("Other Root", NULL, tp_key("rsa2048-e"), NULL, NULL,
				      GOOD_NB, GOOD_NA, TP_CA, NULL);
		X509 *ointer = tp_cert("Other Inter", NULL, tp_key("rsa2048-f"), oroot,
				       tp_key("rsa2048-e"), GOOD_NB, GOOD_NA, TP_CA, NULL);

		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		tp_buf_x509(cert, c.leaf);
		tp_buf_x509(cert, ointer);
		tp_buf_x509(cert, oroot);
		tp_buf_add(key, gk.p, gk.len);
		X509_free(oroot);
		X509_free(ointer);
		break;
	}
	case C_EXPIRED:
		leaf_with("rsa2048-c", T0 - 100 * DAY, T0 - 30 * DAY, 0, cert, key);
		break;
	case C_NOT_YET:
		leaf_with("rsa2048-c", T0 + 10 * DAY, T0 + 300 * DAY, 0, cert, key);
		break;
	case C_EXPIRES_SOON:
		leaf_with("rsa2048-c", T0 - 100 * DAY, T0 + 3 * DAY, 0, cert, key);
		break;
	case C_EKU_SERVER:
		leaf_with("rsa2048-c", GOOD_NB, GOOD_NA, TP_EKU_SERVER_ONLY, cert, key);
		break;
	case C_INTER_EXPIRED:
		x = tp_cert("Customer Root", NULL, rk, NULL, NULL, T0 - 3650 * DAY,
			    T0 + 3650 * DAY, TP_CA, NULL);
		y = tp_cert("Old Intermediate", NULL, ik, x, rk, T0 - 3650 * DAY,
			    T0 - DAY, TP_CA, NULL);
		c.leaf = tp_cert("leaf", NULL, tp_key("rsa2048-c"), y, ik, GOOD_NB, GOOD_NA, 0, NULL);
		tp_buf_x509(cert, c.leaf);
		tp_buf_x509(cert, y);
		tp_buf_x509(cert, x);
		tp_buf_add(key, gk.p, gk.len);
		X509_free(x);
		X509_free(y);
		break;
	case C_INTER_NOT_CA:
		x = tp_cert("Customer Root", NULL, rk, NULL, NULL, T0 - 3650 * DAY,
			    T0 + 3650 * DAY, TP_CA, NULL);
		y = tp_cert("Not A CA", NULL, ik, x, rk, GOOD_NB, GOOD_NA, 0, NULL);
		c.leaf = tp_cert("leaf", NULL, tp_key("rsa2048-c"), y, ik, GOOD_NB, GOOD_NA, 0, NULL);
		tp_buf_x509(cert, c.leaf);
		tp_buf_x509(cert, y);
		tp_buf_x509(cert, x);
		tp_buf_add(key, gk.p, gk.len);
		X509_free(x);
		X509_free(y);
		break;
	case C_BAD_SIG:
		tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
		x509_der_pem_mangled(cert, c.leaf);
		tp_buf_x509(cert, c.inter);
		tp_buf_x509(cert, c.root);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_TWO_KEYS:
		tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gk.p, gk.len);
		tp_buf_key(key, tp_key("rsa2048-d"));
		break;
	case C_TOO_LONG:
		for (int i = 0; i < 4; i++)
			tp_buf_add(cert, gc.p, gc.len);
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_LONG_LINE:
		while (cert->len < 60 * 1024)
			add_str(cert, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_BEGIN_NO_END:
		add_str(cert, "-----BEGIN CERTIFICATE-----\n");
		for (int i = 0; i < 200; i++)
			add_str(cert, "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n");
		tp_buf_add(key, gk.p, gk.len);
		break;
	case C_BINARY_KEY:
		tp_buf_add(cert, gc.p, gc.len);
		junk(key, 2000, 99);
		break;
	case C_ONE_MIB_JUNK:
		junk(cert, 1048576, 3);
		junk(key, 1048576, 4);
		break;
	default:
		cr_assert_fail("no builder for case %d", id);
	}
	tp_chain_free(&c);
	tp_buf_free(&gc);
	tp_buf_free(&gk);
}

static void write_seed(const char *name, const struct tp_buf *cert,
		       const struct tp_buf *key)
{
	const char *dir = getenv("INE_PKI_SEED_DIR");
	char path[512];
	unsigned char hdr[2];
	size_t clen = cert->len > 8192 ? 8192 : cert->len;	/* small seeds fuzz faster */
	size_t klen = key->len > 8192 ? 8192 : key->len;
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == ' ' || *p == '/' || *p == '#')
			*p = '_';
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	hdr[0] = (unsigned char)(clen & 0xff);
	hdr[1] = (unsigned char)(clen >> 8);
	fwrite(hdr, 1, 2, f);
	fwrite(cert->p ? cert->p : "", 1, clen, f);
	fwrite(key->p ? key->p : "", 1, klen, f);
	fclose(f);
}

ParameterizedTestParameters(pki_customer, corpus)
{
	return cr_make_param_array(struct ccase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ccase *tc, pki_customer, corpus)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_cert *cc = NULL;
	struct pki_err err = {{0}};
	int ret;

	build(tc->id, &cert, &key);
	write_seed(tc->name, &cert, &key);
	ret = pki_customer_cert_parse(cert.p, cert.len, key.p, key.len, T0, &cc, &err);
	cr_expect_lt(ret, 0, "%s: accepted", tc->name);
	cr_expect_null(cc);
	cr_expect_not_null(strstr(err.msg, tc->expect),
			   "%s: message \"%s\" lacks \"%s\"", tc->name, err.msg, tc->expect);
	pki_customer_cert_free(cc);
	tp_buf_free(&cert);
	tp_buf_free(&key);
}

Test(pki_customer, corpus_is_large_enough)
{
	cr_assert_geq(C_NCASES, 30);
	cr_assert_eq(sizeof(cases) / sizeof(cases[0]), C_NCASES);
}

Test(pki_customer, good_chain_accepted_and_pinned)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_cert *cc = NULL;
	struct pki_err err = {{0}};
	struct tp_chain c;
	uint8_t pin[32];

	tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
	tp_chain_pem(&c, &cert);
	tp_buf_key(&key, c.leaf_key);
	write_seed("good chain", &cert, &key);
	cr_assert_eq(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len, T0, &cc, &err),
		     0, "%s", err.msg);
	cr_assert_eq(X509_cmp(cc->leaf, c.leaf), 0);
	cr_assert_eq(sk_X509_num(cc->chain), 2);
	cr_assert_eq(pki_spki_sha256(c.leaf, pin), 0);
	cr_assert_arr_eq(cc->pin, pin, 32);
	cr_assert_eq(cc->not_after, GOOD_NA);
	pki_customer_cert_free(cc);
	tp_chain_free(&c);
	tp_buf_free(&cert);
	tp_buf_free(&key);
}

Test(pki_customer, chain_without_root_and_traditional_key_accepted)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_cert *cc = NULL;
	struct pki_err err = {{0}};
	struct tp_chain c;
	size_t n;
	char *k;

	tp_chain_make(&c, "rsa2048-c", GOOD_NB, GOOD_NA, 0);
	tp_buf_x509(&cert, c.leaf);
	tp_buf_x509(&cert, c.inter);
	k = tp_file("rsa2048-c-trad", &n);
	cr_assert_not_null(strstr(k, "BEGIN RSA PRIVATE KEY"));
	cr_assert_eq(pki_customer_cert_parse(cert.p, cert.len, k, n, T0, &cc, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(sk_X509_num(cc->chain), 1);
	pki_customer_cert_free(cc);
	free(k);
	tp_chain_free(&c);
	tp_buf_free(&cert);
	tp_buf_free(&key);
}

Test(pki_customer, time_limits_are_exact)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_cert *cc = NULL;
	struct pki_err err;

	leaf_with("rsa2048-c", GOOD_NB, GOOD_NA, 0, &cert, &key);
	/* not before GOOD_NB */
	cr_expect_lt(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len,
					     GOOD_NB - 1, &cc, &err), 0);
	cr_expect_not_null(strstr(err.msg, "not valid yet"));
	cr_expect_eq(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len,
					     GOOD_NB, &cc, &err), 0, "%s", err.msg);
	pki_customer_cert_free(cc);
	cc = NULL;
	/* 5 days + 1 s left: fine; exactly 5 days left: refused */
	cr_expect_eq(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len,
					     GOOD_NA - 5 * DAY - 1, &cc, &err), 0, "%s", err.msg);
	pki_customer_cert_free(cc);
	cr_expect_lt(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len,
					     GOOD_NA - 5 * DAY, &cc, &err), 0);
	cr_expect_not_null(strstr(err.msg, "expires within 5 days"));
	cr_expect_lt(pki_customer_cert_parse(cert.p, cert.len, key.p, key.len,
					     GOOD_NA + 1, &cc, &err), 0);
	cr_expect_not_null(strstr(err.msg, "has expired"));
	tp_buf_free(&cert);
	tp_buf_free(&key);
}

static void items_good(struct pki_customer_item *it, const char *name,
		       struct tp_buf *cert, struct tp_buf *key, const char *leafkey)
{
	leaf_with(leafkey, GOOD_NB, GOOD_NA, 0, cert, key);
	it->name = name;
	it->cert_pem = cert->p;
	it->cert_len = cert->len;
	it->key_pem = key->p;
	it->key_len = key->len;
}

Test(pki_customer, one_certificate_serves_both_planes)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_item it;
	struct pki_customer *c = NULL;
	struct pki_err err;

	items_good(&it, PKI_NAME_DP, &cert, &key, "rsa2048-c");
	cr_assert_eq(pki_customer_validate(&it, 1, T0, &c, &err), 0, "%s", err.msg);
	cr_assert_not_null(c->plane[0]);
	cr_assert_not_null(c->plane[1]);
	cr_assert_arr_eq(c->plane[0]->pin, c->plane[1]->pin, 32);
	pki_customer_free(c);
	tp_buf_free(&cert);
	tp_buf_free(&key);
}

Test(pki_customer, one_certificate_per_plane)
{
	struct tp_buf c1 = {0}, k1 = {0}, c2 = {0}, k2 = {0};
	struct pki_customer_item it[2];
	struct pki_customer *c = NULL;
	struct pki_err err;

	items_good(&it[0], PKI_NAME_CP, &c1, &k1, "rsa2048-c");
	items_good(&it[1], PKI_NAME_DP, &c2, &k2, "rsa2048-d");
	cr_assert_eq(pki_customer_validate(it, 2, T0, &c, &err), 0, "%s", err.msg);
	cr_assert(memcmp(c->plane[0]->pin, c->plane[1]->pin, 32) != 0);
	cr_assert_eq(EVP_PKEY_eq(c->plane[0]->key, tp_key("rsa2048-c")), 1);
	cr_assert_eq(EVP_PKEY_eq(c->plane[1]->key, tp_key("rsa2048-d")), 1);
	pki_customer_free(c);
	tp_buf_free(&c1); tp_buf_free(&k1); tp_buf_free(&c2); tp_buf_free(&k2);
}

Test(pki_customer, upload_names_and_counts)
{
	struct tp_buf c1 = {0}, k1 = {0}, c2 = {0}, k2 = {0};
	struct pki_customer_item it[3];
	struct pki_customer *c = NULL;
	struct pki_err err;

	items_good(&it[0], PKI_NAME_CP, &c1, &k1, "rsa2048-c");
	items_good(&it[1], PKI_NAME_CP, &c2, &k2, "rsa2048-d");
	cr_expect_lt(pki_customer_validate(it, 2, T0, &c, &err), 0);
	cr_expect_str_eq(err.msg, "certificate ccs_internode_encryption given twice");
	it[1].name = "proxy_certificate";
	cr_expect_lt(pki_customer_validate(it, 2, T0, &c, &err), 0);
	cr_expect_not_null(strstr(err.msg, "unknown certificate name \"proxy_certificate\": expected ccs_internode_encryption or data_internode_encryption"));
	cr_expect_lt(pki_customer_validate(it, 0, T0, &c, &err), 0);
	cr_expect_not_null(strstr(err.msg, "give one certificate for both planes or one per plane"));
	it[2] = it[0];
	cr_expect_lt(pki_customer_validate(it, 3, T0, &c, &err), 0);
	/* a bad second item is named in the message, nothing returned */
	it[1].name = PKI_NAME_DP;
	it[1].key_pem = k1.p;
	it[1].key_len = k1.len;
	cr_expect_lt(pki_customer_validate(it, 2, T0, &c, &err), 0);
	cr_expect_str_eq(err.msg, "data_internode_encryption: private key does not match the certificate");
	cr_expect_null(c);
	tp_buf_free(&c1); tp_buf_free(&k1); tp_buf_free(&c2); tp_buf_free(&k2);
}
