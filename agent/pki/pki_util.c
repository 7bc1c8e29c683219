// SPDX-License-Identifier: GPL-2.0
/* pki_util.c — small OpenSSL helpers shared by the pki*.c files. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"

void pki_err_set(struct pki_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void pki_err_prefix(struct pki_err *err, const char *prefix)
{
	size_t pl, ml, cap = sizeof(err->msg) - 1;

	if (!err)
		return;
	pl = strlen(prefix) + 2;
	if (pl > cap)
		pl = cap;
	ml = strnlen(err->msg, cap);
	if (ml > cap - pl)
		ml = cap - pl;
	memmove(err->msg + pl, err->msg, ml);
	memcpy(err->msg, prefix, pl - 2);
	memcpy(err->msg + pl - 2, ": ", 2);
	err->msg[pl + ml] = '\0';
}

const char *pki_plane_str(enum pki_plane plane)
{
	switch (plane) {
	case PKI_PLANE_CP: return "cp";
	case PKI_PLANE_DP: return "dp";
	}
	return NULL;
}

void pki_pem_free(char *pem, size_t len)
{
	if (!pem)
		return;
	OPENSSL_cleanse(pem, len);
	free(pem);
}

static int bio_to_buf(BIO *b, char **pem, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out;

	if (n <= 0)
		return -EINVAL;
	out = malloc((size_t)n + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*pem = out;
	*len = (size_t)n;
	return 0;
}

int pki_x509_to_pem(X509 *x, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	if (PEM_write_bio_X509(b, x) == 1)
		ret = bio_to_buf(b, pem, len);
	BIO_free(b);
	return ret;
}

int pki_key_to_pem(EVP_PKEY *k, char **pem, size_t *len)
{
	/* secure-heap memory BIO: wiped when freed */
	BIO *b = BIO_new(BIO_s_secmem());
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		ret = bio_to_buf(b, pem, len);
	BIO_free(b);
	return ret;
}

X509 *pki_x509_from_pem(const char *pem, size_t len)
{
	BIO *b;
	X509 *x;

	if (len > INT32_MAX)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return x;
}

/* Refuses encrypted keys: the passphrase callback fails. */
static int no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf; (void)size; (void)rw; (void)u;
	return -1;
}

EVP_PKEY *pki_key_from_pem(const char *pem, size_t len)
{
	BIO *b;
	EVP_PKEY *k;

	if (len > INT32_MAX)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, no_pass, NULL);
	BIO_free(b);
	ERR_clear_error();
	return k;
}

static pki_keygen_fn keygen_fn;
static void *keygen_arg;

void pki_set_keygen(pki_keygen_fn fn, void *arg)
{
	keygen_fn = fn;
	keygen_arg = arg;
}

EVP_PKEY *pki_rsa_keygen(int bits)
{
	if (keygen_fn)
		return keygen_fn(bits, keygen_arg);
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

int pki_serial_random(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn;
	int ret = -ENOMEM;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -EIO;
	r[0] &= 0x7f;	/* positive */
	r[0] |= 0x40;	/* full 16 bytes, never zero */
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ret = 0;
	BN_free(bn);
	return ret;
}

int pki_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -EINVAL;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -ENOMEM;
}

int pki_name_set(X509_NAME *n, const char *cn, const char *ou)
{
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					(const unsigned char *)"ine", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
					(const unsigned char *)ou, -1, -1, 0))
		return -EINVAL;
	return 0;
}

bool pki_cluster_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > PKI_CLUSTER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return true;
}

bool pki_node_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > PKI_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x21 || c > 0x7e || c == '/' || c == '\\')
			return false;
	}
	return true;
}

int pki_cluster_id_new(char out[37])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -EIO;
	r[6] = (r[6] & 0x0f) | 0x40;	/* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80;	/* variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

int pki_spki_sha256(X509 *cert, uint8_t out[32])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int n, ret = -EINVAL;

	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (n <= 0)
		return -EINVAL;
	if (EVP_Digest(der, (size_t)n, out, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32)
		ret = 0;
	OPENSSL_free(der);
	return ret;
}

int pki_asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

int pki_cert_serial(const X509 *x, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	if (len)
		snprintf(out, len, "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	return hex ? 0 : -ENOMEM;
}

void pki_time_str(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}

int pki_key_check_rsa(EVP_PKEY *k, const char *what, struct pki_err *err)
{
	int bits;

	if (!k) {
		pki_err_set(err, "%s has no public key", what);
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(k, "EC")) {
		pki_err_set(err, "%s: ECDSA keys are not supported: internode encryption requires RSA keys", what);
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448")) {
		pki_err_set(err, "%s: EdDSA (%s) keys are not supported: internode encryption requires RSA keys",
			    what, EVP_PKEY_is_a(k, "ED25519") ? "Ed25519" : "Ed448");
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(k, "RSA-PSS")) {
		pki_err_set(err, "%s: RSA-PSS keys are not supported: use a plain RSA (rsaEncryption) key", what);
		return -EINVAL;
	}
	if (!EVP_PKEY_is_a(k, "RSA")) {
		pki_err_set(err, "%s: %s keys are not supported: internode encryption requires RSA keys",
			    what, EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "non-RSA");
		return -EINVAL;
	}
	bits = EVP_PKEY_get_bits(k);
	if (bits < PKI_RSA_MIN_BITS) {
		pki_err_set(err, "%s: RSA key is %d bits: at least %d bits are required",
			    what, bits, PKI_RSA_MIN_BITS);
		return -EINVAL;
	}
	if (bits > PKI_RSA_MAX_BITS) {
		pki_err_set(err, "%s: RSA key is %d bits: at most %d bits are supported",
			    what, bits, PKI_RSA_MAX_BITS);
		return -EINVAL;
	}
	return 0;
}
