// SPDX-License-Identifier: GPL-2.0
/* pki_verify.c — the trust store and the peer check the TLS layer calls:
 * "is this node N of our cluster, on this plane?" or "is this one of the
 * pinned customer certificates?". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"

#define MAX_PINS 4

struct pki_trust {
	int refs;
	X509 *ca;
	char cluster_id[PKI_CLUSTER_ID_MAX + 1];
	uint8_t pins[PKI_NPLANES][MAX_PINS][32];
	int npins[PKI_NPLANES];
};

struct pki_trust *pki_trust_new(X509 *ca_cert, const char *cluster_id)
{
	struct pki_trust *t;

	if (!ca_cert || !pki_cluster_id_valid(cluster_id))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->refs = 1;
	X509_up_ref(ca_cert);
	t->ca = ca_cert;
	snprintf(t->cluster_id, sizeof(t->cluster_id), "%s", cluster_id);
	return t;
}

struct pki_trust *pki_trust_get(struct pki_trust *t)
{
	if (t)
		t->refs++;
	return t;
}

void pki_trust_put(struct pki_trust *t)
{
	if (!t || --t->refs > 0)
		return;
	X509_free(t->ca);
	free(t);
}

int pki_trust_add_pin(struct pki_trust *t, enum pki_plane plane,
		      const uint8_t sha256[32])
{
	int i = PKI_PIDX(plane);

	if (!pki_plane_str(plane))
		return -EINVAL;
	for (int j = 0; j < t->npins[i]; j++)
		if (!memcmp(t->pins[i][j], sha256, 32))
			return 0;
	if (t->npins[i] >= MAX_PINS)
		return -ENOSPC;
	memcpy(t->pins[i][t->npins[i]++], sha256, 32);
	return 0;
}

static bool pinned(const struct pki_trust *t, int i, X509 *leaf)
{
	uint8_t h[32];

	if (t->npins[i] == 0 || pki_spki_sha256(leaf, h))
		return false;
	for (int j = 0; j < t->npins[i]; j++)
		if (CRYPTO_memcmp(t->pins[i][j], h, 32) == 0)
			return true;
	return false;
}

static int chain_to_ca(const struct pki_trust *t, X509 *leaf,
		       STACK_OF(X509) *chain, time_t now, struct pki_err *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ret = -EACCES;

	if (!store || !ctx || !X509_STORE_add_cert(store, t->ca) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, chain)) {
		pki_err_set(err, "out of memory verifying the peer");
		ret = -ENOMEM;
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) == 1) {
		ret = 0;
	} else {
		int e = X509_STORE_CTX_get_error(ctx);

		pki_err_set(err, "peer certificate is not from this cluster's CA: %s",
			    X509_verify_cert_error_string(e));
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ret;
}

int pki_verify_peer(const struct pki_trust *t, X509 *leaf,
		    STACK_OF(X509) *chain, enum pki_plane plane, time_t now,
		    uint32_t *node_id, struct pki_err *err)
{
	char cluster[PKI_CLUSTER_ID_MAX + 1];
	enum pki_plane cert_plane;
	uint32_t id;
	time_t nb, na;
	uint32_t xku;
	int i, ret;

	if (!t || !leaf || !pki_plane_str(plane)) {
		pki_err_set(err, "no peer certificate");
		return -EACCES;
	}
	i = PKI_PIDX(plane);
	if (pki_asn1_time(X509_get0_notBefore(leaf), &nb) ||
	    pki_asn1_time(X509_get0_notAfter(leaf), &na)) {
		pki_err_set(err, "peer certificate has unreadable validity dates");
		return -EACCES;
	}
	if (now < nb || now > na) {
		pki_err_set(err, "peer certificate is %s",
			    now < nb ? "not valid yet" : "expired");
		return -EACCES;
	}
	if (pinned(t, i, leaf)) {
		*node_id = 0;
		return 0;
	}
	ret = chain_to_ca(t, leaf, chain, now, err);
	if (ret)
		return ret;
	if (X509_check_ca(leaf) != 0) {
		pki_err_set(err, "peer certificate is a CA certificate, not a node certificate");
		return -EACCES;
	}
	xku = X509_get_extended_key_usage(leaf);
	if ((xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) != (XKU_SSL_SERVER | XKU_SSL_CLIENT)) {
		pki_err_set(err, "peer certificate lacks serverAuth+clientAuth key usage");
		return -EACCES;
	}
	ret = pki_node_identity(leaf, cluster, &id, &cert_plane);
	if (ret) {
		pki_err_set(err, "peer certificate has no valid ine:// node identity");
		return -EACCES;
	}
	if (strcmp(cluster, t->cluster_id)) {
		pki_err_set(err, "peer certificate is for cluster %s, not ours (%s)",
			    cluster, t->cluster_id);
		return -EACCES;
	}
	if (cert_plane != plane) {
		pki_err_set(err, "peer certificate is for the %s plane, expected %s",
			    pki_plane_str(cert_plane), pki_plane_str(plane));
		return -EACCES;
	}
	*node_id = id;
	return 0;
}
