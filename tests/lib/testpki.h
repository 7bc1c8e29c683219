/* SPDX-License-Identifier: GPL-2.0 */
/*
 * testpki.h — throw-away certificates for every test that needs some: the
 * unit suites (PKI, TLS, clock), the VM drivers (ktls_srv, ktls_xfer) and
 * the handshake bench.  Not the product's PKI (agent/pki/); these are the
 * certificates a test hands to it.
 *
 * Two kinds of key: generated ones (tp_rsa, slow) and fixed ones read from
 * tests/unit/data/pki/keys (tp_key, see gen-keys.sh there; fast).  One
 * certificate builder, tp_cert.  The ine identity (DESIGN.md) is CN=<node>,
 * O=ine, OU=<cluster id>, one SAN URI ine://<cluster>/node/<id>/<cp|dp>,
 * EKU serverAuth+clientAuth: tp_set_make builds a whole cluster's worth.
 *
 * A fixture that cannot be built is a broken test, not a case to handle:
 * the helpers that return no status print why and abort().
 */
#ifndef INE_TESTPKI_H
#define INE_TESTPKI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TP_CLUSTER "6f1c1a52-4a4e-4d35-9d0c-2f2b6b1e0a11"
#define TP_OTHER_CLUSTER "0b3e5b7c-9a53-4c55-8e2e-7a9c2c0d6b22"

#define T0 ((time_t)1800000000)	/* 2027-01-15: a fixed "now" for the PKI suites */
#define DAY ((time_t)86400)

/* ---- keys ---- */
/* A fresh RSA key (caller frees), NULL on failure. */
EVP_PKEY *tp_rsa(int bits);
/* A fixed key by file stem ("rsa2048-a", "ec-p256", ...): borrowed, cached. */
EVP_PKEY *tp_key(const char *stem);
/* Raw file text of a fixed key (malloc'd, NUL-terminated). */
char *tp_file(const char *stem, size_t *len);
/* Make pki_*_keygen hand out fixed keys (a pool of four 2048-bit keys,
 * never the same twice in a row, and rsa3072) instead of generating. */
void tp_fast_keygen(void);

/* ---- certificates ---- */
/* TP_KU: a leaf with key usage digitalSignature+keyEncipherment, as the
 * agent's own node certificates have it (without: no key usage at all, as
 * some customer certificates come, and an intermediate built as a leaf must
 * fail on its missing CA flag, not on a missing keyCertSign). */
enum { TP_CA = 1, TP_NO_EKU = 2, TP_EKU_SERVER_ONLY = 4, TP_KU = 8 };
/*
 * A certificate for pub, signed by issuer/issuer_key (self-signed when
 * issuer is NULL), valid [nb, na].  Subject CN=cn, and O=ine, OU=ou when ou
 * is not NULL.  san: "URI:...", "DNS:..." (comma-separated list) or NULL.
 * A random serial; flags as above (no flag: a leaf with both EKUs).
 */
X509 *tp_cert(const char *cn, const char *ou, EVP_PKEY *pub, X509 *issuer,
	      EVP_PKEY *issuer_key, time_t nb, time_t na, int flags, const char *san);
/* A store that trusts ca alone, NULL on failure. */
X509_STORE *tp_store(X509 *ca);
/* Write a certificate (x) or else a key (k) as PEM: 0 or -errno. */
int tp_write_pem(const char *path, X509 *x, EVP_PKEY *k);

/* Stand-ins for the PKI layer's verify_peer (struct tls_config):
 * tp_verify_peer: arg is the cluster id, the URI must be
 * ine://<cluster>/node/<id>/<plane>; tp_verify_pinned: arg is an X509 *
 * whose public key is the one pin. */
int tp_verify_peer(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
		   long *peer_node_id);
int tp_verify_pinned(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
		     long *peer_node_id);

/* A cluster's certificates, made in one go (3 generated RSA keys); the
 * leaves with TP_KU. */
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
int tp_set_make(struct tp_set *s, int ca_bits);	/* 0 or -ENOMEM */
void tp_set_free(struct tp_set *s);

/* ---- PEM text ---- */
struct tp_buf {	/* a growing text buffer */
	char *p;
	size_t len;
};
void tp_buf_add(struct tp_buf *b, const void *data, size_t len);
void tp_buf_x509(struct tp_buf *b, X509 *x);
void tp_buf_key(struct tp_buf *b, EVP_PKEY *k);
void tp_buf_free(struct tp_buf *b);

/* A customer chain: root (rsa2048-a) -> intermediate (rsa2048-b) -> leaf
 * (leaf_key), leaf valid [nb, na], the CAs for 20 years around T0. */
struct tp_chain {
	X509 *root, *inter, *leaf;
	EVP_PKEY *leaf_key;
};
void tp_chain_make(struct tp_chain *c, const char *leaf_key, time_t nb,
		   time_t na, int leaf_flags);
void tp_chain_free(struct tp_chain *c);
void tp_chain_pem(const struct tp_chain *c, struct tp_buf *b);	/* leaf, inter, root */

/* ---- scratch ---- */
char *tp_tmpdir(void);		/* fresh empty directory (malloc'd path) */
void tp_rmrf(const char *path);

#endif
