// SPDX-License-Identifier: GPL-2.0
/* pki_customer.c — validating customer-provided certificates.
 *
 * Input is hostile (REST body, CLI file): sizes are bounded before any
 * parsing, binary input is refused before OpenSSL sees it, and every
 * refusal names its reason.  Nothing here changes state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"

#define MAX_CHAIN 10

void pki_customer_cert_free(struct pki_customer_cert *cc)
{
	if (!cc)
		return;
	X509_free(cc->leaf);
	sk_X509_pop_free(cc->chain, X509_free);
	EVP_PKEY_free(cc->key);
	free(cc);
}

struct pki_customer_cert *pki_customer_cert_dup(const struct pki_customer_cert *cc)
{
	struct pki_customer_cert *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = *cc;
	d->chain = X509_chain_up_ref(cc->chain);
	if (!d->chain) {
		free(d);
		return NULL;
	}
	X509_up_ref(d->leaf);
	EVP_PKEY_up_ref(d->key);
	return d;
}

void pki_customer_free(struct pki_customer *c)
{
	if (!c)
		return;
	for (int i = 0; i < PKI_NPLANES; i++)
		pki_customer_cert_free(c->plane[i]);
	free(c);
}

/* Text checks common to both fields. */
static int check_text(const char *what, const char *p, size_t len,
		      struct pki_err *err)
{
	size_t i, ws = 0;

	if (!p || len == 0) {
		pki_err_set(err, "%s is empty", what);
		return -EINVAL;
	}
	if (len > PKI_UPLOAD_MAX) {
		pki_err_set(err, "%s is too large (%zu bytes; the limit is %d)",
			    what, len, PKI_UPLOAD_MAX);
		return -EFBIG;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			ws++;
		if (c == 0) {
			pki_err_set(err, "%s is not PEM text: NUL byte at offset %zu",
				    what, i);
			return -EINVAL;
		}
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n' &&
		     c != '\f' && c != '\v') || c == 0x7f) {
			pki_err_set(err, "%s is not PEM text: binary byte 0x%02x at offset %zu (DER must be converted to PEM)",
				    what, c, i);
			return -EINVAL;
		}
	}
	if (ws == len) {
		pki_err_set(err, "%s is empty", what);
		return -EINVAL;
	}
	return 0;
}

/* One PEM block; 1 = got one, 0 = no more, <0 = malformed. */
static int next_block(BIO *b, char **name, char **header, unsigned char **data,
		      long *len)
{
	unsigned long e;

	if (PEM_read_bio(b, name, header, data, len) == 1)
		return 1;
	e = ERR_peek_last_error();
	ERR_clear_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		return 0;
	return -EINVAL;
}

static void block_free(char *name, char *header, unsigned char *data, long len)
{
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (data)
		OPENSSL_cleanse(data, (size_t)len);
	OPENSSL_free(data);
}

static bool is_key_block(const char *name)
{
	size_t n = strlen(name);

	return n >= 11 && !strcmp(name + n - 11, "PRIVATE KEY");
}

/* Certificates in upload order. */
static int parse_certs(const char *pem, size_t plen, STACK_OF(X509) **out,
		       struct pki_err *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, (int)plen);
	int n = 0, ret = -ENOMEM, r;

	if (!sk || !b)
		goto out;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		const unsigned char *p;
		long len = 0;
		X509 *x;

		r = next_block(b, &name, &header, &data, &len);
		if (r == 0)
			break;
		n++;
		if (r < 0) {
			pki_err_set(err, "certificate PEM block %d is malformed (truncated, missing END line or bad base64)", n);
			ret = -EINVAL;
			goto out;
		}
		if (is_key_block(name)) {
			pki_err_set(err, "certificate field contains a private key (PEM block %d, \"%s\"): put the key in the key field",
				    n, name);
			block_free(name, header, data, len);
			ret = -EINVAL;
			goto out;
		}
		if (strcmp(name, "CERTIFICATE")) {
			pki_err_set(err, "certificate PEM block %d is \"%.40s\": only CERTIFICATE blocks are allowed",
				    n, name);
			block_free(name, header, data, len);
			ret = -EINVAL;
			goto out;
		}
		if (n > MAX_CHAIN) {
			pki_err_set(err, "certificate chain is too long (more than %d certificates)",
				    MAX_CHAIN);
			block_free(name, header, data, len);
			ret = -EINVAL;
			goto out;
		}
		p = data;
		x = d2i_X509(NULL, &p, len);
		if (!x || p != data + len) {
			X509_free(x);
			ERR_clear_error();
			pki_err_set(err, "certificate %d is not valid X.509 (DER inside the PEM block does not parse)", n);
			block_free(name, header, data, len);
			ret = -EINVAL;
			goto out;
		}
		block_free(name, header, data, len);
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (n == 0) {
		pki_err_set(err, "certificate is not PEM: no \"-----BEGIN CERTIFICATE-----\" block found");
		ret = -EINVAL;
		goto out;
	}
	*out = sk;
	sk = NULL;
	ret = 0;
out:
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return ret;
}

static int parse_key(const char *pem, size_t plen, EVP_PKEY **out,
		     struct pki_err *err)
{
	BIO *b = BIO_new_mem_buf(pem, (int)plen);
	EVP_PKEY *key = NULL;
	int n = 0, ret = -ENOMEM, r;

	if (!b)
		return -ENOMEM;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		const unsigned char *p;
		long len = 0;

		r = next_block(b, &name, &header, &data, &len);
		if (r == 0)
			break;
		n++;
		if (r < 0) {
			pki_err_set(err, "private key PEM block %d is malformed (truncated, missing END line or bad base64)", n);
			ret = -EINVAL;
			goto out;
		}
		ret = -EINVAL;
		if (!strcmp(name, "ENCRYPTED PRIVATE KEY") ||
		    (header && strstr(header, "ENCRYPTED"))) {
			pki_err_set(err, "private key is encrypted (passphrase-protected): upload it unencrypted");
		} else if (!strcmp(name, "EC PRIVATE KEY")) {
			pki_err_set(err, "private key: ECDSA keys are not supported: internode encryption requires RSA keys");
		} else if (!is_key_block(name)) {
			pki_err_set(err, "key PEM block %d is \"%.40s\", not a private key", n, name);
		} else if (key) {
			pki_err_set(err, "key field holds more than one private key");
		} else if (strcmp(name, "PRIVATE KEY") && strcmp(name, "RSA PRIVATE KEY")) {
			pki_err_set(err, "private key type \"%.40s\" is not supported: internode encryption requires RSA keys", name);
		} else {
			p = data;
			if (!strcmp(name, "RSA PRIVATE KEY"))
				key = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
			else
				key = d2i_AutoPrivateKey(NULL, &p, len);
			ERR_clear_error();
			if (!key || p != data + len)
				pki_err_set(err, "private key does not parse (corrupt PEM block %d)", n);
			else
				ret = 0;
		}
		block_free(name, header, data, len);
		if (ret)
			goto out;
	}
	if (!key) {
		pki_err_set(err, "private key is not PEM: no \"-----BEGIN PRIVATE KEY-----\" block found");
		ret = -EINVAL;
		goto out;
	}
	*out = key;
	key = NULL;
	ret = 0;
out:
	EVP_PKEY_free(key);
	BIO_free(b);
	return ret;
}

static int subject_str(X509 *x, char *buf, size_t len)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
	return 0;
}

/* Leaf first, then each issuer: link i+1 must have signed link i. */
static int check_chain(STACK_OF(X509) *sk, time_t now, bool check_time,
		       struct pki_err *err)
{
	int n = sk_X509_num(sk);
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	char subj[128];
	int ret = -EINVAL;

	for (int i = 0; i + 1 < n; i++) {
		X509 *c = sk_X509_value(sk, i), *iss = sk_X509_value(sk, i + 1);

		if (X509_check_issued(iss, c) == X509_V_OK)
			continue;
		for (int j = 0; j < n; j++) {
			if (j != i && j != i + 1 &&
			    X509_check_issued(sk_X509_value(sk, j), c) == X509_V_OK) {
				pki_err_set(err, "certificate chain is in the wrong order: certificate %d is issued by certificate %d, but each certificate must be followed by its issuer (leaf first)",
					    i + 1, j + 1);
				return -EINVAL;
			}
		}
		subject_str(c, subj, sizeof(subj));
		pki_err_set(err, "certificate chain is broken: certificate %d (%s) is not issued by the certificate after it",
			    i + 1, subj);
		return -EINVAL;
	}
	/* Signatures, CA flags, path length and dates, anchored at the
	 * bundle's last certificate (root or intermediate: peers are pinned
	 * by key, the chain proves the bundle is coherent). */
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	untrusted = sk_X509_new_null();
	if (!store || !ctx || !untrusted) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 1; i + 1 < n; i++)
		if (!sk_X509_push(untrusted, sk_X509_value(sk, i))) {
			ret = -ENOMEM;
			goto out;
		}
	if (!X509_STORE_add_cert(store, sk_X509_value(sk, n - 1)) ||
	    !X509_STORE_CTX_init(ctx, store, sk_X509_value(sk, 0), untrusted)) {
		ret = -ENOMEM;
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN |
				 (check_time ? 0 : X509_V_FLAG_NO_CHECK_TIME));
	if (check_time)
		X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);

		pki_err_set(err, "certificate chain does not verify: %s (certificate %d)",
			    X509_verify_cert_error_string(e),
			    X509_STORE_CTX_get_error_depth(ctx) + 1);
		goto out;
	}
	/* The anchor's own signature, when it is a self-signed root. */
	{
		X509 *top = sk_X509_value(sk, n - 1);

		if (X509_check_issued(top, top) == X509_V_OK &&
		    X509_verify(top, X509_get0_pubkey(top)) != 1) {
			pki_err_set(err, "certificate chain does not verify: the root certificate's self-signature is invalid");
			goto out;
		}
	}
	ret = 0;
out:
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ret;
}

int pki_customer_cert_parse_ex(const char *cert_pem, size_t cert_len,
			       const char *key_pem, size_t key_len, time_t now,
			       bool check_time, struct pki_customer_cert **out,
			       struct pki_err *err)
{
	struct pki_customer_cert *cc = NULL;
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *key = NULL;
	char when[40];
	int ret, n, match = -1;
	uint32_t xku;

	ret = check_text("certificate", cert_pem, cert_len, err);
	if (ret)
		return ret;
	ret = check_text("private key", key_pem, key_len, err);
	if (ret)
		return ret;
	ret = parse_certs(cert_pem, cert_len, &sk, err);
	if (ret)
		return ret;
	ret = parse_key(key_pem, key_len, &key, err);
	if (ret)
		goto err;
	ret = -EINVAL;
	n = sk_X509_num(sk);

	/* Which certificate does the key belong to? */
	for (int i = 0; i < n && match < 0; i++)
		if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(sk, i)), key) == 1)
			match = i;
	ERR_clear_error();
	if (pki_key_check_rsa(X509_get0_pubkey(sk_X509_value(sk, match > 0 ? match : 0)),
			      "certificate", err))
		goto err;
	if (pki_key_check_rsa(key, "private key", err))
		goto err;
	if (match < 0) {
		pki_err_set(err, "private key does not match the certificate");
		goto err;
	}
	if (match > 0 && X509_check_ca(sk_X509_value(sk, match))) {
		pki_err_set(err, "private key does not match the certificate (it belongs to CA certificate number %d of the chain)",
			    match + 1);
		goto err;
	}
	if (match > 0) {
		pki_err_set(err, "certificate chain is in the wrong order: the leaf certificate (the one matching the private key, now number %d) must come first",
			    match + 1);
		goto err;
	}
	if (n < 2) {
		pki_err_set(err, "certificate chain is missing: give the leaf certificate followed by its issuing CA certificate(s)");
		goto err;
	}

	cc = calloc(1, sizeof(*cc));
	if (!cc) {
		ret = -ENOMEM;
		goto err;
	}
	cc->leaf = sk_X509_shift(sk);
	if (pki_asn1_time(X509_get0_notBefore(cc->leaf), &cc->not_before) ||
	    pki_asn1_time(X509_get0_notAfter(cc->leaf), &cc->not_after)) {
		pki_err_set(err, "certificate has unreadable validity dates");
		goto err;
	}
	if (check_time && now > cc->not_after) {
		pki_time_str(cc->not_after, when, sizeof(when));
		pki_err_set(err, "certificate has expired (not valid after %s)", when);
		goto err;
	}
	if (check_time && now < cc->not_before) {
		pki_time_str(cc->not_before, when, sizeof(when));
		pki_err_set(err, "certificate is not valid yet (not valid before %s)", when);
		goto err;
	}
	if (check_time && cc->not_after - now <= (time_t)PKI_FALLBACK_DAYS * PKI_DAY) {
		pki_time_str(cc->not_after, when, sizeof(when));
		pki_err_set(err, "certificate expires within %d days (%s): it would be replaced by internal certificates at once",
			    PKI_FALLBACK_DAYS, when);
		goto err;
	}
	xku = X509_get_extended_key_usage(cc->leaf);
	if ((xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) != (XKU_SSL_SERVER | XKU_SSL_CLIENT)) {
		pki_err_set(err, "certificate's extended key usage must allow both TLS server and client authentication (serverAuth, clientAuth)");
		goto err;
	}
	if (!sk_X509_insert(sk, cc->leaf, 0)) {
		ret = -ENOMEM;
		goto err;
	}
	ret = check_chain(sk, now, check_time, err);
	(void)sk_X509_shift(sk);
	if (ret)
		goto err;
	if (pki_spki_sha256(cc->leaf, cc->pin)) {
		ret = -EINVAL;
		pki_err_set(err, "cannot hash the certificate's public key");
		goto err;
	}
	cc->chain = sk;
	cc->key = key;
	*out = cc;
	return 0;
err:
	if (ret == 0)
		ret = -EINVAL;
	pki_customer_cert_free(cc);
	sk_X509_pop_free(sk, X509_free);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}

int pki_customer_cert_parse(const char *cert_pem, size_t cert_len,
			    const char *key_pem, size_t key_len, time_t now,
			    struct pki_customer_cert **out, struct pki_err *err)
{
	return pki_customer_cert_parse_ex(cert_pem, cert_len, key_pem, key_len,
					  now, true, out, err);
}

static int name_plane(const char *name)
{
	if (name && !strcmp(name, PKI_NAME_CP))
		return PKI_PLANE_CP;
	if (name && !strcmp(name, PKI_NAME_DP))
		return PKI_PLANE_DP;
	return 0;
}

int pki_customer_validate(const struct pki_customer_item *items, size_t n,
			  time_t now, struct pki_customer **out,
			  struct pki_err *err)
{
	struct pki_customer *c;
	int ret;

	if (!items || n == 0 || n > PKI_NPLANES) {
		pki_err_set(err, "give one certificate for both planes or one per plane (%s, %s)",
			    PKI_NAME_CP, PKI_NAME_DP);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int p = name_plane(items[i].name);

		if (!p) {
			pki_err_set(err, "unknown certificate name \"%.64s\": expected %s or %s",
				    items[i].name ? items[i].name : "", PKI_NAME_CP, PKI_NAME_DP);
			ret = -EINVAL;
			goto err;
		}
		if (c->plane[PKI_PIDX(p)]) {
			pki_err_set(err, "certificate %s given twice", items[i].name);
			ret = -EINVAL;
			goto err;
		}
		ret = pki_customer_cert_parse(items[i].cert_pem, items[i].cert_len,
					      items[i].key_pem, items[i].key_len,
					      now, &c->plane[PKI_PIDX(p)], err);
		if (ret) {
			pki_err_prefix(err, items[i].name);
			goto err;
		}
	}
	/* One certificate given: it serves both planes. */
	for (int i = 0; i < PKI_NPLANES; i++) {
		if (c->plane[i])
			continue;
		c->plane[i] = pki_customer_cert_dup(c->plane[!i]);
		if (!c->plane[i]) {
			ret = -ENOMEM;
			goto err;
		}
	}
	*out = c;
	return 0;
err:
	pki_customer_free(c);
	return ret;
}

int pki_customer_cert_chain_pem(const struct pki_customer_cert *cc,
				char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ret = -ENOMEM;

	if (!b)
		return -ENOMEM;
	if (PEM_write_bio_X509(b, cc->leaf) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(cc->chain); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(cc->chain, i)) != 1)
			goto out;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || !(*pem = malloc((size_t)n + 1)))
		goto out;
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	ret = 0;
out:
	BIO_free(b);
	return ret;
}
