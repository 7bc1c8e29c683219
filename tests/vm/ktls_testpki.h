/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls_testpki.h - throw-away test certificates made with OpenSSL APIs, for
 * the TLS unit tests, the VM kTLS programs and the handshake bench.  Header
 * only (static functions) so every test binary can include it without
 * another object in the shared library.  Not the product's PKI (agent/pki/).
 *
 * Identity as in DESIGN.md: CN=<node>, O=ine, OU=<cluster id>, one SAN URI
 * ine://<cluster>/node/<id>/<cp|dp>, EKU serverAuth+clientAuth.
 */
#ifndef INE_KTLS_TESTPKI_H
#define INE_KTLS_TESTPKI_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TP_CLUSTER "6f1c1a52-4a4e-4d35-9d0c-2f2b6b1e0a11"
#define TP_OTHER_CLUSTER "0b3e5b7c-9a53-4c55-8e2e-7a9c2c0d6b22"

static EVP_PKEY *tp_rsa(int bits)
{
	return EVP_RSA_gen((unsigned int)bits);
}

static int tp_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A certificate for key, signed by (issuer, issuer_key), or self-signed when
 * issuer is NULL (a CA).  Valid from now+from_s to now+to_s seconds.
 * uri: the SAN URI, or NULL.
 */
static X509 *tp_cert(const char *cn, const char *ou, EVP_PKEY *key, X509 *issuer,
		     EVP_PKEY *issuer_key, long from_s, long to_s, const char *uri)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[12];
	BIGNUM *bn = NULL;
	char san[512];
	bool ca = !issuer;

	if (!x)
		return NULL;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto err;
	name = X509_get_subject_name(x);
	X509_set_version(x, 2);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"ine", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
		goto err;
	X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer));
	if (!X509_gmtime_adj(X509_getm_notBefore(x), from_s) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), to_s) || !X509_set_pubkey(x, key))
		goto err;
	if (!tp_ext(x, ca ? x : issuer, NID_subject_key_identifier, "hash"))
		goto err;
	if (ca) {
		if (!tp_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
		    !tp_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto err;
	} else {
		if (!tp_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !tp_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
		    !tp_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth") ||
		    !tp_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
			goto err;
		if (uri) {
			snprintf(san, sizeof(san), "URI:%s", uri);
			if (!tp_ext(x, issuer, NID_subject_alt_name, san))
				goto err;
		}
	}
	if (!X509_sign(x, ca ? key : issuer_key, EVP_sha256()))
		goto err;
	BN_free(bn);
	return x;
err:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

static X509_STORE *tp_store(X509 *ca)
{
	X509_STORE *st = X509_STORE_new();

	if (st && !X509_STORE_add_cert(st, ca)) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

/* The SAN URI of a leaf, or 0 chars. */
static int tp_leaf_uri(X509 *leaf, char *out, size_t n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	out[0] = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_URI) {
			const ASN1_STRING *s = g->d.uniformResourceIdentifier;
			int len = ASN1_STRING_length(s);

			if ((size_t)len >= n)
				break;
			memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
			out[len] = 0;
			found = 1;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/*
 * A stand-in for the PKI layer's verify_peer: arg is the cluster id; the
 * URI must be ine://<cluster>/node/<id>/<plane>.
 */
static int tp_verify_peer(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
			  long *peer_node_id)
{
	const char *cluster = arg;
	char uri[256], want[128], pl[8];
	long id;
	int used = 0;

	(void)chain;
	if (!tp_leaf_uri(leaf, uri, sizeof(uri)))
		return -EACCES;
	snprintf(want, sizeof(want), "ine://%s/node/", cluster);
	if (strncmp(uri, want, strlen(want)))
		return -EACCES;
	if (sscanf(uri + strlen(want), "%ld/%3[a-z]%n", &id, pl, &used) != 2 || id <= 0 ||
	    uri[strlen(want) + (size_t)used] != 0)
		return -EACCES;
	if (strcmp(pl, plane == 2 ? "dp" : "cp"))
		return -EPROTO;
	*peer_node_id = id;
	return 0;
}

/* Pinned mode stand-in: arg is an X509 * whose public key is the one pin. */
static __attribute__((unused)) int tp_verify_pinned(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
			    long *peer_node_id)
{
	(void)chain; (void)plane;
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), X509_get0_pubkey(arg)) != 1)
		return -EKEYREJECTED;
	*peer_node_id = 99;
	return 0;
}

/* Everything the tests need, made in one go (3 RSA keys). */
struct tp_set {
	EVP_PKEY *ca_key, *other_ca_key, *key;
	X509 *ca, *other_ca;
	X509 *srv;		/* node 1, dp */
	X509 *srv_cp;		/* node 1, cp */
	X509 *cli;		/* node 2, dp */
	X509 *cli_cp;		/* node 2, cp */
	X509 *cli_expired;	/* node 2, dp, expired yesterday */
	X509 *cli_foreign;	/* node 2, dp, signed by another CA */
	X509 *cli_other_cluster;/* right CA, URI of another cluster */
	X509 *cli_nouri;	/* right CA, no SAN URI */
	X509_STORE *store, *other_store;
};

static void tp_set_free(struct tp_set *s)
{
	X509 **xs[] = { &s->ca, &s->other_ca, &s->srv, &s->srv_cp, &s->cli, &s->cli_cp, &s->cli_expired,
			&s->cli_foreign, &s->cli_other_cluster, &s->cli_nouri };

	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		X509_free(*xs[i]);
		*xs[i] = NULL;
	}
	EVP_PKEY_free(s->ca_key);
	EVP_PKEY_free(s->other_ca_key);
	EVP_PKEY_free(s->key);
	X509_STORE_free(s->store);
	X509_STORE_free(s->other_store);
	memset(s, 0, sizeof(*s));
}

static int tp_set_make(struct tp_set *s, int ca_bits)
{
	const long day = 86400;
	const char *dp1 = "ine://" TP_CLUSTER "/node/1/dp";
	const char *dp2 = "ine://" TP_CLUSTER "/node/2/dp";

	memset(s, 0, sizeof(*s));
	s->ca_key = tp_rsa(ca_bits);
	s->other_ca_key = tp_rsa(ca_bits);
	s->key = tp_rsa(2048);	/* every leaf shares it: keygen is the slow part */
	if (!s->ca_key || !s->other_ca_key || !s->key)
		goto err;
	s->ca = tp_cert("ine cluster CA", TP_CLUSTER, s->ca_key, NULL, NULL, -day, 365 * day, NULL);
	s->other_ca = tp_cert("ine cluster CA", TP_OTHER_CLUSTER, s->other_ca_key, NULL, NULL,
			      -day, 365 * day, NULL);
	if (!s->ca || !s->other_ca)
		goto err;
	s->srv = tp_cert("node1", TP_CLUSTER, s->key, s->ca, s->ca_key, -day, 90 * day, dp1);
	s->srv_cp = tp_cert("node1", TP_CLUSTER, s->key, s->ca, s->ca_key, -day, 90 * day,
			    "ine://" TP_CLUSTER "/node/1/cp");
	s->cli = tp_cert("node2", TP_CLUSTER, s->key, s->ca, s->ca_key, -day, 90 * day, dp2);
	s->cli_cp = tp_cert("node2", TP_CLUSTER, s->key, s->ca, s->ca_key, -day, 90 * day,
			    "ine://" TP_CLUSTER "/node/2/cp");
	s->cli_expired = tp_cert("node2", TP_CLUSTER, s->key, s->ca, s->ca_key, -91 * day, -day, dp2);
	s->cli_foreign = tp_cert("node2", TP_OTHER_CLUSTER, s->key, s->other_ca, s->other_ca_key,
				 -day, 90 * day, "ine://" TP_OTHER_CLUSTER "/node/2/dp");
	s->cli_other_cluster = tp_cert("node2", TP_OTHER_CLUSTER, s->key, s->ca, s->ca_key,
				       -day, 90 * day, "ine://" TP_OTHER_CLUSTER "/node/2/dp");
	s->cli_nouri = tp_cert("node2", TP_CLUSTER, s->key, s->ca, s->ca_key, -day, 90 * day, NULL);
	s->store = tp_store(s->ca);
	s->other_store = tp_store(s->other_ca);
	if (!s->srv || !s->srv_cp || !s->cli || !s->cli_cp || !s->cli_expired || !s->cli_foreign ||
	    !s->cli_other_cluster || !s->cli_nouri || !s->store || !s->other_store)
		goto err;
	return 0;
err:
	tp_set_free(s);
	return -ENOMEM;
}

/* Write a certificate / key as PEM (for openssl s_client in scripts). */
static __attribute__((unused)) int tp_write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

#endif
