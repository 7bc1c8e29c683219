/* SPDX-License-Identifier: GPL-2.0 */
/* pki_internal.h — shared between agent/pki*.c only.  Other parts of the
 * agent use pki.h.  One heading per file, ktls-utils style. */
#ifndef INE_PKI_INTERNAL_H
#define INE_PKI_INTERNAL_H

#include "pki/pki.h"

/* pki_util.c */
void pki_err_set(struct pki_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix err->msg with "prefix: ". */
void pki_err_prefix(struct pki_err *err, const char *prefix);
int pki_x509_to_pem(X509 *x, char **pem, size_t *len);
/* Key PEM (PKCS#8, unencrypted) built in a secure-heap BIO. */
int pki_key_to_pem(EVP_PKEY *k, char **pem, size_t *len);
X509 *pki_x509_from_pem(const char *pem, size_t len);
EVP_PKEY *pki_key_from_pem(const char *pem, size_t len);
int pki_serial_random(X509 *x);
EVP_PKEY *pki_rsa_keygen(int bits);	/* honours pki_set_keygen() */
int pki_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);
int pki_name_set(X509_NAME *n, const char *cn, const char *ou);
bool pki_cluster_id_valid(const char *id);
bool pki_node_name_valid(const char *name);
/* "2026-11-28 04:33:29 UTC" */
void pki_time_str(time_t t, char *buf, size_t len);
/* RSA (not RSA-PSS) public key of bits in [min,max]? Message on failure. */
int pki_key_check_rsa(EVP_PKEY *k, const char *what, struct pki_err *err);

/* pki_customer.c */
struct pki_customer_cert {
	X509 *leaf;
	STACK_OF(X509) *chain;	/* after the leaf, as uploaded */
	EVP_PKEY *key;
	uint8_t pin[32];
	time_t not_before, not_after;
};

struct pki_customer {
	struct pki_customer_cert *plane[PKI_NPLANES];
};

/* check_time=false when reloading a stored cert (expiry is then policy's
 * business, not a parse error). */
int pki_customer_cert_parse_ex(const char *cert_pem, size_t cert_len,
			       const char *key_pem, size_t key_len, time_t now,
			       bool check_time, struct pki_customer_cert **out,
			       struct pki_err *err);
struct pki_customer_cert *pki_customer_cert_dup(const struct pki_customer_cert *cc);
/* Leaf + chain as one PEM string. */
int pki_customer_cert_chain_pem(const struct pki_customer_cert *cc,
				char **pem, size_t *len);

/* pki_state.c / pki_store.c */
struct pki_slot {
	X509 *cert;			/* internal, signed by the CA */
	EVP_PKEY *key;
	struct pki_customer_cert *cust;	/* uploaded, may be NULL */
	enum pki_source source;
	bool customer_replaced;
	bool has_prev_pin;		/* previous upload, still trusted */
	uint8_t prev_pin[32];
	enum pki_alert logged_alert;	/* memory only: log once per change */
};

struct pki_state {
	char *dir;
	char cluster_id[PKI_CLUSTER_ID_MAX + 1];
	uint32_t node_id;
	char node_name[PKI_NODE_NAME_MAX + 1];
	struct pki_ca *ca;
	struct pki_slot slot[PKI_NPLANES];
	uint64_t generation;
	struct pki_trust *trust;
};

/* pki_store.c */
/* Write st as generation st->generation + 1 and switch to it. */
int pki_store_save(const struct pki_state *st, struct pki_err *err);
/* Fill a zeroed st (dir set) from its current generation. */
int pki_store_load(struct pki_state *st, struct pki_err *err);
/* Does dir hold a state (a "current" link)? */
bool pki_store_exists(const char *dir);

/* pki_ca.c */
EVP_PKEY *pki_ca_key(const struct pki_ca *ca);	/* borrowed, may be NULL */
struct pki_ca *pki_ca_dup(const struct pki_ca *ca);	/* shares refs */

#endif
