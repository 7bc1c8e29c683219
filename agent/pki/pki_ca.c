// SPDX-License-Identifier: GPL-2.0
/* pki_ca.c — the cluster CA: create, load/export, sign node CSRs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"

struct pki_ca {
	X509 *cert;
	EVP_PKEY *key;		/* NULL on nodes without the CA key */
	char cluster_id[PKI_CLUSTER_ID_MAX + 1];
};

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

X509 *pki_ca_cert(const struct pki_ca *ca)
{
	return ca->cert;
}

EVP_PKEY *pki_ca_key(const struct pki_ca *ca)
{
	return ca->key;
}

const char *pki_ca_cluster_id(const struct pki_ca *ca)
{
	return ca->cluster_id;
}

bool pki_ca_can_sign(const struct pki_ca *ca)
{
	return ca && ca->key;
}

/* Set validity [now - backdate, now + days]. */
static int set_validity(X509 *x, time_t now, int days)
{
	if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -PKI_BACKDATE_SECS, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now))
		return -EINVAL;
	return 0;
}

int pki_ca_create(const char *cluster_id, time_t now, struct pki_ca **out,
		  struct pki_err *err)
{
	struct pki_ca *ca;
	X509 *x = NULL;
	EVP_PKEY *key;

	if (!pki_cluster_id_valid(cluster_id)) {
		pki_err_set(err, "invalid cluster id (letters, digits and '-', at most %d)",
			    PKI_CLUSTER_ID_MAX);
		return -EINVAL;
	}
	key = pki_rsa_keygen(PKI_CA_BITS);
	if (!key) {
		pki_err_set(err, "cannot generate the CA's RSA-%d key", PKI_CA_BITS);
		return -ENOMEM;
	}
	x = X509_new();
	if (!x || !X509_set_version(x, X509_VERSION_3) || pki_serial_random(x) ||
	    set_validity(x, now, PKI_CA_DAYS) ||
	    pki_name_set(X509_get_subject_name(x), "ine cluster CA", cluster_id) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !X509_set_pubkey(x, key) ||
	    pki_x509_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    pki_x509_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    pki_x509_add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    pki_x509_add_ext(x, x, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, key, EVP_sha256())) {
		pki_err_set(err, "cannot build the cluster CA certificate");
		goto err;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		goto err;
	ca->cert = x;
	ca->key = key;
	snprintf(ca->cluster_id, sizeof(ca->cluster_id), "%s", cluster_id);
	*out = ca;
	return 0;
err:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	return -ENOMEM;
}

/* The cluster id is the CA's OU. */
static int ca_cluster_id(X509 *x, char *out, size_t len)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
	ASN1_STRING *s;

	if (i < 0)
		return -ENOENT;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	if (!s || ASN1_STRING_length(s) <= 0 || (size_t)ASN1_STRING_length(s) >= len)
		return -EINVAL;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	out[ASN1_STRING_length(s)] = '\0';
	return pki_cluster_id_valid(out) ? 0 : -EINVAL;
}

int pki_ca_load_pem(const char *cert_pem, size_t cert_len,
		    const char *key_pem, size_t key_len,
		    struct pki_ca **out, struct pki_err *err)
{
	struct pki_ca *ca = calloc(1, sizeof(*ca));

	if (!ca)
		return -ENOMEM;
	ca->cert = pki_x509_from_pem(cert_pem, cert_len);
	if (!ca->cert) {
		pki_err_set(err, "CA certificate is not a PEM certificate");
		goto err;
	}
	if (X509_check_ca(ca->cert) != 1 ||
	    X509_check_issued(ca->cert, ca->cert) != X509_V_OK) {
		pki_err_set(err, "CA certificate is not a self-signed CA");
		goto err;
	}
	if (ca_cluster_id(ca->cert, ca->cluster_id, sizeof(ca->cluster_id))) {
		pki_err_set(err, "CA certificate has no valid cluster id in its OU");
		goto err;
	}
	if (key_pem) {
		ca->key = pki_key_from_pem(key_pem, key_len);
		if (!ca->key) {
			pki_err_set(err, "CA key is not an unencrypted PEM private key");
			goto err;
		}
		if (X509_check_private_key(ca->cert, ca->key) != 1) {
			ERR_clear_error();
			pki_err_set(err, "CA key does not match the CA certificate");
			goto err;
		}
	}
	*out = ca;
	return 0;
err:
	pki_ca_free(ca);
	return -EINVAL;
}

int pki_ca_export_pem(const struct pki_ca *ca, char **cert_pem,
		      size_t *cert_len, char **key_pem, size_t *key_len)
{
	int ret = pki_x509_to_pem(ca->cert, cert_pem, cert_len);

	if (ret || !key_pem)
		return ret;
	if (!ca->key) {
		ret = -ENOENT;
	} else {
		ret = pki_key_to_pem(ca->key, key_pem, key_len);
	}
	if (ret) {
		pki_pem_free(*cert_pem, *cert_len);
		*cert_pem = NULL;
	}
	return ret;
}

static X509_REQ *csr_from_pem(const char *pem, size_t len)
{
	X509_REQ *req;
	BIO *b;

	if (!pem || len > PKI_UPLOAD_MAX)
		return NULL;
	b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return req;
}

int pki_ca_sign_csr(const struct pki_ca *ca, const char *csr_pem,
		    size_t csr_len, uint32_t node_id, const char *node_name,
		    enum pki_plane plane, time_t now, char **cert_pem,
		    size_t *cert_len, struct pki_err *err)
{
	char san[PKI_CLUSTER_ID_MAX + 64];
	X509_REQ *req;
	EVP_PKEY *pub;
	X509 *x = NULL;
	int ret = -EINVAL;

	if (!pki_ca_can_sign(ca)) {
		pki_err_set(err, "this node does not hold the cluster CA key");
		return -ENOKEY;
	}
	if (!pki_plane_str(plane) || node_id == 0 || node_id > INT32_MAX) {
		pki_err_set(err, "invalid plane or node id");
		return -EINVAL;
	}
	if (!pki_node_name_valid(node_name)) {
		pki_err_set(err, "invalid node name (1-%d printable characters, no '/')",
			    PKI_NODE_NAME_MAX);
		return -EINVAL;
	}
	req = csr_from_pem(csr_pem, csr_len);
	if (!req) {
		pki_err_set(err, "CSR is not a PEM certificate request");
		return -EINVAL;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (!pub || X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		pki_err_set(err, "CSR signature does not verify");
		goto out;
	}
	if (pki_key_check_rsa(pub, "CSR", err))
		goto out;

	snprintf(san, sizeof(san), "URI:ine://%s/node/%u/%s", ca->cluster_id,
		 node_id, pki_plane_str(plane));
	x = X509_new();
	if (!x || !X509_set_version(x, X509_VERSION_3) || pki_serial_random(x) ||
	    set_validity(x, now, PKI_NODE_DAYS) ||
	    pki_name_set(X509_get_subject_name(x), node_name, ca->cluster_id) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_pubkey(x, pub) ||
	    pki_x509_add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    pki_x509_add_ext(x, ca->cert, NID_key_usage,
			     "critical,digitalSignature,keyEncipherment") ||
	    pki_x509_add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    pki_x509_add_ext(x, ca->cert, NID_subject_key_identifier, "hash") ||
	    pki_x509_add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") ||
	    pki_x509_add_ext(x, ca->cert, NID_subject_alt_name, san) ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		ERR_clear_error();
		pki_err_set(err, "cannot build the node certificate");
		ret = -ENOMEM;
		goto out;
	}
	ret = pki_x509_to_pem(x, cert_pem, cert_len);
	if (ret)
		pki_err_set(err, "cannot encode the node certificate");
out:
	X509_free(x);
	X509_REQ_free(req);
	return ret;
}

struct pki_ca *pki_ca_dup(const struct pki_ca *ca)
{
	struct pki_ca *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = *ca;
	X509_up_ref(d->cert);
	if (d->key)
		EVP_PKEY_up_ref(d->key);
	return d;
}
