// SPDX-License-Identifier: GPL-2.0
/* pki_node.c — what a node does for itself: its key, its CSR, and reading
 * the ine:// identity out of a node certificate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"

int pki_node_keygen(EVP_PKEY **key, struct pki_err *err)
{
	*key = pki_rsa_keygen(PKI_NODE_BITS);
	if (!*key) {
		ERR_clear_error();
		pki_err_set(err, "cannot generate an RSA-%d key", PKI_NODE_BITS);
		return -ENOMEM;
	}
	return 0;
}

/* Ask for the SAN we expect, so the CSR describes itself; the CA sets the
 * identity from its own arguments regardless. */
static int csr_request_san(X509_REQ *req, const char *cluster_id,
			   uint32_t node_id, enum pki_plane plane)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ex;
	char san[PKI_CLUSTER_ID_MAX + 64];
	int ret = -ENOMEM;

	snprintf(san, sizeof(san), "URI:ine://%s/node/%u/%s", cluster_id,
		 node_id, pki_plane_str(plane));
	ex = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	if (exts && ex && sk_X509_EXTENSION_push(exts, ex)) {
		ex = NULL;
		if (X509_REQ_add_extensions(req, exts))
			ret = 0;
	}
	X509_EXTENSION_free(ex);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ret;
}

int pki_node_csr(EVP_PKEY *key, const char *cluster_id, uint32_t node_id,
		 const char *node_name, enum pki_plane plane, char **csr_pem,
		 size_t *csr_len, struct pki_err *err)
{
	X509_REQ *req;
	BIO *b = NULL;
	char *data;
	long n;
	int ret = -ENOMEM;

	if (!pki_cluster_id_valid(cluster_id) || !pki_node_name_valid(node_name) ||
	    !pki_plane_str(plane) || node_id > INT32_MAX) {
		pki_err_set(err, "invalid cluster id, node name or plane for a CSR");
		return -EINVAL;
	}
	req = X509_REQ_new();
	if (!req || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    pki_name_set(X509_REQ_get_subject_name(req), node_name, cluster_id) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    (node_id && csr_request_san(req, cluster_id, node_id, plane)) ||
	    !X509_REQ_sign(req, key, EVP_sha256()))
		goto out;
	b = BIO_new(BIO_s_mem());
	if (!b || PEM_write_bio_X509_REQ(b, req) != 1)
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0 || !(*csr_pem = malloc((size_t)n + 1)))
		goto out;
	memcpy(*csr_pem, data, (size_t)n);
	(*csr_pem)[n] = '\0';
	*csr_len = (size_t)n;
	ret = 0;
out:
	if (ret) {
		ERR_clear_error();
		pki_err_set(err, "cannot build the certificate request");
	}
	BIO_free(b);
	X509_REQ_free(req);
	return ret;
}

/* "ine://<cluster>/node/<id>/<cp|dp>" */
static int parse_uri(const char *u, size_t len, char *cluster,
		     uint32_t *node_id, enum pki_plane *plane)
{
	static const char pfx[] = "ine://";
	const char *p, *slash, *end = u + len;
	unsigned long long id = 0;
	size_t clen;

	if (len < sizeof(pfx) || memcmp(u, pfx, sizeof(pfx) - 1))
		return -EINVAL;
	p = u + sizeof(pfx) - 1;
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash)
		return -EINVAL;
	clen = (size_t)(slash - p);
	if (clen == 0 || clen > PKI_CLUSTER_ID_MAX)
		return -EINVAL;
	memcpy(cluster, p, clen);
	cluster[clen] = '\0';
	if (!pki_cluster_id_valid(cluster))
		return -EINVAL;
	p = slash + 1;
	if ((size_t)(end - p) < 5 || memcmp(p, "node/", 5))
		return -EINVAL;
	p += 5;
	if (p >= end || *p < '1' || *p > '9')	/* no leading zero, no sign */
		return -EINVAL;
	while (p < end && *p >= '0' && *p <= '9') {
		id = id * 10 + (unsigned)(*p - '0');
		if (id > INT32_MAX)
			return -EINVAL;
		p++;
	}
	if (end - p != 3 || *p != '/')
		return -EINVAL;
	if (!memcmp(p + 1, "cp", 2))
		*plane = PKI_PLANE_CP;
	else if (!memcmp(p + 1, "dp", 2))
		*plane = PKI_PLANE_DP;
	else
		return -EINVAL;
	*node_id = (uint32_t)id;
	return 0;
}

int pki_node_identity(X509 *cert, char cluster_id[PKI_CLUSTER_ID_MAX + 1],
		      uint32_t *node_id, enum pki_plane *plane)
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *uri = NULL;
	int i, crit = 0, ret, nuri = 0;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (!names) {
		ERR_clear_error();
		return crit == -2 ? -EINVAL : -ENOENT;	/* -2: several SAN exts */
	}
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_URI) {
			uri = gn->d.uniformResourceIdentifier;
			nuri++;
		}
	}
	if (nuri == 0)
		ret = -ENOENT;
	else if (nuri > 1)
		ret = -EINVAL;
	else
		ret = parse_uri((const char *)ASN1_STRING_get0_data(uri),
				(size_t)ASN1_STRING_length(uri), cluster_id,
				node_id, plane);
	GENERAL_NAMES_free(names);
	return ret;
}
