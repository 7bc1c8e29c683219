// SPDX-License-Identifier: GPL-2.0
/* test_pki_ca.c — cluster CA, node CSR signing, node identity and the peer
 * verification the TLS layer calls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki_internal.h"
#include "testpki.h"

#define CID "0b3c8a9e-1111-4222-8333-444455556666"

/* One CA per test process (RSA-3072 generation: a few hundred ms). */
static struct pki_ca *ca_make(const char *cid)
{
	struct pki_ca *ca = NULL;
	struct pki_err err;

	cr_assert_eq(pki_ca_create(cid, T0, &ca, &err), 0, "%s", err.msg);
	return ca;
}

static X509 *pem_x509(const char *pem, size_t len)
{
	X509 *x = pki_x509_from_pem(pem, len);

	cr_assert_not_null(x);
	return x;
}

/* Sign a CSR for `key` and return the certificate. */
static X509 *node_cert(struct pki_ca *ca, EVP_PKEY *key, uint32_t id,
		       enum pki_plane p, time_t now)
{
	char *csr, *crt;
	size_t csr_len, crt_len;
	struct pki_err err;
	X509 *x;

	cr_assert_eq(pki_node_csr(key, pki_ca_cluster_id(ca), id, "node-1", p,
				  &csr, &csr_len, &err), 0, "%s", err.msg);
	cr_assert_eq(pki_ca_sign_csr(ca, csr, csr_len, id, "node-1", p, now,
				     &crt, &crt_len, &err), 0, "%s", err.msg);
	x = pem_x509(crt, crt_len);
	free(csr);
	free(crt);
	return x;
}

static char *name_field(X509_NAME *n, int nid)
{
	static char buf[3][128];
	static int k;

	k = (k + 1) % 3;
	buf[k][0] = '\0';
	X509_NAME_get_text_by_NID(n, nid, buf[k], sizeof(buf[k]));
	return buf[k];
}

Test(pki_ca, ca_certificate_properties)
{
	struct pki_ca *ca = ca_make(CID);
	X509 *x = pki_ca_cert(ca);
	BASIC_CONSTRAINTS *bc;
	time_t nb, na;

	cr_expect_eq(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 3072);
	cr_expect(EVP_PKEY_is_a(X509_get0_pubkey(x), "RSA"));
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_commonName), "ine cluster CA");
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_organizationName), "ine");
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_organizationalUnitName), CID);
	cr_expect_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	cr_expect_eq(X509_verify(x, X509_get0_pubkey(x)), 1, "self-signature");
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	cr_assert_not_null(bc);
	cr_expect(bc->ca);
	cr_expect_eq(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	cr_expect_eq(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	cr_expect_not_null(X509_get0_subject_key_id(x));
	cr_expect_not_null(X509_get0_authority_key_id(x));
	pki_asn1_time(X509_get0_notBefore(x), &nb);
	pki_asn1_time(X509_get0_notAfter(x), &na);
	cr_expect_eq(nb, T0 - PKI_BACKDATE_SECS);
	cr_expect_eq(na, T0 + 3650 * DAY);
	cr_expect_str_eq(pki_ca_cluster_id(ca), CID);
	cr_expect(pki_ca_can_sign(ca));
	pki_ca_free(ca);
}

Test(pki_ca, each_cluster_gets_its_own_ca)
{
	struct pki_ca *a = ca_make(CID), *b = ca_make(CID);
	char id1[37], id2[37];

	cr_expect_neq(EVP_PKEY_eq(X509_get0_pubkey(pki_ca_cert(a)),
				  X509_get0_pubkey(pki_ca_cert(b))), 1);
	cr_expect_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(pki_ca_cert(a)),
				       X509_get0_serialNumber(pki_ca_cert(b))), 0);
	cr_assert_eq(pki_cluster_id_new(id1), 0);
	cr_assert_eq(pki_cluster_id_new(id2), 0);
	cr_expect_str_neq(id1, id2);
	cr_expect_eq(strlen(id1), 36);
	cr_expect_eq(id1[14], '4');
	pki_ca_free(a);
	pki_ca_free(b);
}

Test(pki_ca, bad_cluster_ids_refused)
{
	struct pki_ca *ca = NULL;
	struct pki_err err;

	cr_expect_eq(pki_ca_create("a/b", T0, &ca, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "invalid cluster id"));
	cr_expect_eq(pki_ca_create("", T0, &ca, &err), -EINVAL);
	cr_expect_null(ca);
}

Test(pki_ca, node_certificate_properties)
{
	struct pki_ca *ca = ca_make(CID);
	EVP_PKEY *key = tp_key("rsa2048-c");
	X509 *x = node_cert(ca, key, 7, PKI_PLANE_DP, T0);
	char cid[PKI_CLUSTER_ID_MAX + 1];
	const ASN1_INTEGER *serial;
	enum pki_plane p;
	uint32_t id;
	time_t nb, na;
	BIGNUM *bn;

	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_commonName), "node-1");
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_organizationName), "ine");
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_organizationalUnitName), CID);
	cr_expect_eq(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	cr_expect_eq(X509_check_issued(pki_ca_cert(ca), x), X509_V_OK);
	cr_expect_eq(X509_check_ca(x), 0);
	cr_expect_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	cr_expect_not_null(X509_get0_subject_key_id(x));
	cr_expect_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
					   X509_get0_subject_key_id(pki_ca_cert(ca))), 0);
	cr_assert_eq(pki_node_identity(x, cid, &id, &p), 0);
	cr_expect_str_eq(cid, CID);
	cr_expect_eq(id, 7);
	cr_expect_eq(p, PKI_PLANE_DP);
	pki_asn1_time(X509_get0_notBefore(x), &nb);
	pki_asn1_time(X509_get0_notAfter(x), &na);
	cr_expect_eq(nb, T0 - PKI_BACKDATE_SECS);
	cr_expect_eq(na, T0 + 90 * DAY);
	serial = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	cr_expect_eq(BN_num_bytes(bn), 16, "128-bit serial");
	cr_expect(!BN_is_negative(bn));
	BN_free(bn);
	X509_free(x);
	pki_ca_free(ca);
}

Test(pki_ca, serials_are_random)
{
	struct pki_ca *ca = ca_make(CID);
	X509 *a = node_cert(ca, tp_key("rsa2048-c"), 1, PKI_PLANE_CP, T0);
	X509 *b = node_cert(ca, tp_key("rsa2048-c"), 1, PKI_PLANE_CP, T0);

	cr_expect_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
				       X509_get0_serialNumber(b)), 0);
	X509_free(a);
	X509_free(b);
	pki_ca_free(ca);
}

Test(pki_ca, csr_checks)
{
	struct pki_ca *ca = ca_make(CID);
	struct pki_err err;
	char *csr, *crt = NULL;
	size_t len, crt_len;

	/* EC key in the CSR */
	cr_assert_eq(pki_node_csr(tp_key("ec-p256"), CID, 1, "n", PKI_PLANE_CP,
				  &csr, &len, &err), 0);
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 1, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "ECDSA keys are not supported"), "%s", err.msg);
	free(csr);
	/* small RSA */
	cr_assert_eq(pki_node_csr(tp_key("rsa1024"), CID, 1, "n", PKI_PLANE_CP,
				  &csr, &len, &err), 0);
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 1, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "RSA key is 1024 bits"), "%s", err.msg);
	free(csr);
	/* tampered CSR: signature no longer matches */
	cr_assert_eq(pki_node_csr(tp_key("rsa2048-c"), CID, 1, "n", PKI_PLANE_CP,
				  &csr, &len, &err), 0);
	{
		X509_REQ *req;
		BIO *b = BIO_new_mem_buf(csr, (int)len);
		unsigned char *der = NULL;
		const unsigned char *p;
		int n;

		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		BIO_free(b);
		n = i2d_X509_REQ(req, &der);
		der[n - 3] ^= 1;
		p = der;
		X509_REQ_free(req);
		req = d2i_X509_REQ(NULL, &p, n);
		OPENSSL_free(der);
		b = BIO_new(BIO_s_mem());
		PEM_write_bio_X509_REQ(b, req);
		X509_REQ_free(req);
		free(csr);
		{
			char *d;
			long m = BIO_get_mem_data(b, &d);

			csr = strndup(d, (size_t)m);
			len = (size_t)m;
		}
		BIO_free(b);
	}
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 1, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "CSR signature does not verify");
	cr_expect_eq(pki_ca_sign_csr(ca, "junk", 4, 1, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "CSR is not a PEM certificate request");
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 0, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -EINVAL);
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 1, "bad/name", PKI_PLANE_CP, T0,
				     &crt, &crt_len, &err), -EINVAL);
	cr_expect_eq(pki_ca_sign_csr(ca, csr, len, 1, "n", 3, T0, &crt, &crt_len, &err),
		     -EINVAL);
	cr_expect_null(crt);
	free(csr);
	pki_ca_free(ca);
}

Test(pki_ca, export_load_roundtrip_and_key_match)
{
	struct pki_ca *ca = ca_make(CID), *b = NULL, *c = NULL;
	struct pki_err err;
	char *cp, *kp;
	size_t cl, kl;
	char *other;
	size_t ol;

	cr_assert_eq(pki_ca_export_pem(ca, &cp, &cl, &kp, &kl), 0);
	cr_assert_eq(pki_ca_load_pem(cp, cl, kp, kl, &b, &err), 0, "%s", err.msg);
	cr_expect(pki_ca_can_sign(b));
	cr_expect_str_eq(pki_ca_cluster_id(b), CID);
	cr_expect_eq(X509_cmp(pki_ca_cert(ca), pki_ca_cert(b)), 0);
	cr_assert_eq(pki_ca_load_pem(cp, cl, NULL, 0, &c, &err), 0);
	cr_expect_not(pki_ca_can_sign(c));
	pki_ca_free(c);
	c = NULL;
	other = tp_file("rsa3072", &ol);
	cr_expect_eq(pki_ca_load_pem(cp, cl, other, ol, &c, &err), -EINVAL);
	cr_expect_str_eq(err.msg, "CA key does not match the CA certificate");
	cr_expect_null(c);
	free(other);
	pki_pem_free(cp, cl);
	pki_pem_free(kp, kl);
	pki_ca_free(b);
	pki_ca_free(ca);
}

Test(pki_ca, ca_without_key_cannot_sign)
{
	struct pki_ca *ca = ca_make(CID), *pub = NULL;
	struct pki_err err;
	char *cp, *csr, *crt = NULL;
	size_t cl, len, crt_len;

	cr_assert_eq(pki_ca_export_pem(ca, &cp, &cl, NULL, NULL), 0);
	cr_assert_eq(pki_ca_load_pem(cp, cl, NULL, 0, &pub, &err), 0);
	cr_assert_eq(pki_node_csr(tp_key("rsa2048-c"), CID, 1, "n", PKI_PLANE_CP,
				  &csr, &len, &err), 0);
	cr_expect_eq(pki_ca_sign_csr(pub, csr, len, 1, "n", PKI_PLANE_CP, T0, &crt,
				     &crt_len, &err), -ENOKEY);
	cr_expect_str_eq(err.msg, "this node does not hold the cluster CA key");
	free(csr);
	free(cp);
	pki_ca_free(pub);
	pki_ca_free(ca);
}

/* ------------------------------------------------------------ verify */

static char san_buf[256];
static const char *san(const char *cid, const char *rest)
{
	snprintf(san_buf, sizeof(san_buf), "URI:ine://%s/%s", cid, rest);
	return san_buf;
}

Test(pki_verify, member_node_accepted_with_its_id)
{
	struct pki_ca *ca = ca_make(CID);
	struct pki_trust *t = pki_trust_new(pki_ca_cert(ca), CID);
	X509 *x = node_cert(ca, tp_key("rsa2048-c"), 3, PKI_PLANE_CP, T0);
	struct pki_err err;
	uint32_t id = 99;

	cr_assert_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), 0, "%s", err.msg);
	cr_expect_eq(id, 3);
	/* valid through its 90 days, then not */
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0 + 90 * DAY - 1, &id, &err), 0);
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0 + 90 * DAY + 1, &id, &err), -EACCES);
	cr_expect_str_eq(err.msg, "peer certificate is expired");
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0 - DAY, &id, &err), -EACCES);
	cr_expect_str_eq(err.msg, "peer certificate is not valid yet");
	/* wrong plane */
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_DP, T0, &id, &err), -EACCES);
	cr_expect_str_eq(err.msg, "peer certificate is for the cp plane, expected dp");
	X509_free(x);
	pki_trust_put(t);
	pki_ca_free(ca);
}

Test(pki_verify, old_certificate_still_trusted_after_rotation)
{
	struct pki_ca *ca = ca_make(CID);
	struct pki_trust *t = pki_trust_new(pki_ca_cert(ca), CID);
	X509 *old = node_cert(ca, tp_key("rsa2048-c"), 2, PKI_PLANE_DP, T0);
	X509 *neu = node_cert(ca, tp_key("rsa2048-d"), 2, PKI_PLANE_DP, T0 + 30 * DAY);
	uint32_t id;

	cr_expect_eq(pki_verify_peer(t, neu, NULL, PKI_PLANE_DP, T0 + 31 * DAY, &id, NULL), 0);
	cr_expect_eq(pki_verify_peer(t, old, NULL, PKI_PLANE_DP, T0 + 31 * DAY, &id, NULL), 0);
	X509_free(old);
	X509_free(neu);
	pki_trust_put(t);
	pki_ca_free(ca);
}

Test(pki_verify, strangers_refused)
{
	struct pki_ca *ca = ca_make(CID), *other = ca_make(CID);
	struct pki_trust *t = pki_trust_new(pki_ca_cert(ca), CID);
	EVP_PKEY *cak;
	struct pki_err err;
	uint32_t id = 0;
	X509 *x;

	/* same cluster id, different CA (a rebuilt or forged cluster) */
	x = node_cert(other, tp_key("rsa2048-c"), 1, PKI_PLANE_CP, T0);
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	cr_expect_not_null(strstr(err.msg, "not from this cluster's CA"), "%s", err.msg);
	X509_free(x);

	/* our CA, but crafted identities */
	cak = pki_ca_key(ca);
	x = tp_cert("n", NULL, tp_key("rsa2048-c"), pki_ca_cert(ca), cak, T0 - DAY, T0 + DAY, 0,
		    san("ffffffff-0000-4000-8000-000000000000", "node/1/cp"));
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	cr_expect_not_null(strstr(err.msg, "is for cluster ffffffff-0000-4000-8000-000000000000, not ours"));
	X509_free(x);
	const char *bad[] = { "node/0/cp", "node/01/cp", "node/1/xp", "node/1/cp/", "nodes/1/cp",
			      "node/-1/cp", "node/99999999999/cp", "node//cp" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = tp_cert("n", NULL, tp_key("rsa2048-c"), pki_ca_cert(ca), cak, T0 - DAY,
			    T0 + DAY, 0, san(CID, bad[i]));
		cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES,
			     "%s accepted", bad[i]);
		cr_expect_str_eq(err.msg, "peer certificate has no valid ine:// node identity");
		X509_free(x);
	}
	/* two URIs */
	x = tp_cert("n", NULL, tp_key("rsa2048-c"), pki_ca_cert(ca), cak, T0 - DAY, T0 + DAY, 0,
		    "URI:ine://" CID "/node/1/cp,URI:ine://" CID "/node/2/cp");
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	X509_free(x);
	/* no SAN */
	x = tp_cert("n", NULL, tp_key("rsa2048-c"), pki_ca_cert(ca), cak, T0 - DAY, T0 + DAY, 0, NULL);
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	X509_free(x);
	/* EKU server only */
	x = tp_cert("n", NULL, tp_key("rsa2048-c"), pki_ca_cert(ca), cak, T0 - DAY, T0 + DAY,
		    TP_EKU_SERVER_ONLY, san(CID, "node/1/cp"));
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	cr_expect_str_eq(err.msg, "peer certificate lacks serverAuth+clientAuth key usage");
	X509_free(x);
	/* the CA certificate itself */
	cr_expect_eq(pki_verify_peer(t, pki_ca_cert(ca), NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	/* no certificate */
	cr_expect_eq(pki_verify_peer(t, NULL, NULL, PKI_PLANE_CP, T0, &id, &err), -EACCES);
	cr_expect_eq(id, 0);
	pki_trust_put(t);
	pki_ca_free(ca);
	pki_ca_free(other);
}

Test(pki_verify, customer_pins)
{
	struct pki_ca *ca = ca_make(CID);
	struct pki_trust *t = pki_trust_new(pki_ca_cert(ca), CID);
	struct tp_chain c, d;
	struct pki_err err;
	uint8_t pin[32];
	uint32_t id = 5;
	STACK_OF(X509) *chain = sk_X509_new_null();

	tp_chain_make(&c, "rsa2048-c", T0 - DAY, T0 + 100 * DAY, 0);
	/* same customer CA, different key: signed by the CA but not pinned */
	tp_chain_make(&d, "rsa2048-d", T0 - DAY, T0 + 100 * DAY, 0);
	sk_X509_push(chain, c.inter);
	sk_X509_push(chain, c.root);
	cr_expect_eq(pki_verify_peer(t, c.leaf, chain, PKI_PLANE_DP, T0, &id, &err), -EACCES);
	cr_assert_eq(pki_spki_sha256(c.leaf, pin), 0);
	cr_assert_eq(pki_trust_add_pin(t, PKI_PLANE_DP, pin), 0);
	cr_expect_eq(pki_verify_peer(t, c.leaf, chain, PKI_PLANE_DP, T0, &id, &err), 0, "%s", err.msg);
	cr_expect_eq(id, 0);
	cr_expect_eq(pki_verify_peer(t, c.leaf, chain, PKI_PLANE_CP, T0, &id, &err), -EACCES,
		     "pinned for dp only");
	cr_expect_eq(pki_verify_peer(t, d.leaf, chain, PKI_PLANE_DP, T0, &id, &err), -EACCES,
		     "anything else the customer CA signed is refused");
	cr_expect_eq(pki_verify_peer(t, c.leaf, chain, PKI_PLANE_DP, T0 + 101 * DAY, &id, &err),
		     -EACCES, "expired pinned cert");
	sk_X509_free(chain);
	tp_chain_free(&c);
	tp_chain_free(&d);
	pki_trust_put(t);
	pki_ca_free(ca);
}

Test(pki_verify, trust_refcount)
{
	struct pki_ca *ca = ca_make(CID);
	struct pki_trust *t = pki_trust_new(pki_ca_cert(ca), CID);

	cr_assert_eq(pki_trust_get(t), t);
	pki_trust_put(t);
	pki_ca_free(ca);	/* the trust keeps its own CA reference */
	X509 *x = tp_cert("n", NULL, tp_key("rsa2048-c"), NULL, NULL, T0, T0 + DAY, 0, NULL);
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_CP, T0 + 1, &(uint32_t){0}, NULL), -EACCES);
	X509_free(x);
	pki_trust_put(t);
	pki_trust_put(NULL);
	cr_expect_null(pki_trust_new(NULL, CID));
}

Test(pki_ca, csr_identity_is_ignored_the_ca_decides)
{
	struct pki_ca *ca = ca_make(CID);
	char cid[PKI_CLUSTER_ID_MAX + 1], *csr, *crt;
	size_t len, crt_len;
	struct pki_err err;
	enum pki_plane p;
	uint32_t id;
	X509_REQ *req;
	BIO *b;
	X509 *x;

	/* the node asks to be node 9 on cp of another cluster ... */
	cr_assert_eq(pki_node_csr(tp_key("rsa2048-c"), "evil-cluster", 9, "node-9",
				  PKI_PLANE_CP, &csr, &len, &err), 0);
	b = BIO_new_mem_buf(csr, (int)len);
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	cr_assert_not_null(req);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	cr_expect_eq(sk_X509_EXTENSION_num(exts), 1, "SAN requested");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	/* ... the CA signs what the control plane says: node 4, dp, our cluster */
	cr_assert_eq(pki_ca_sign_csr(ca, csr, len, 4, "node-4", PKI_PLANE_DP, T0, &crt,
				     &crt_len, &err), 0, "%s", err.msg);
	x = pem_x509(crt, crt_len);
	cr_assert_eq(pki_node_identity(x, cid, &id, &p), 0);
	cr_expect_str_eq(cid, CID);
	cr_expect_eq(id, 4);
	cr_expect_eq(p, PKI_PLANE_DP);
	cr_expect_str_eq(name_field(X509_get_subject_name(x), NID_commonName), "node-4");
	X509_free(x);
	free(csr);
	free(crt);
	pki_ca_free(ca);
}
