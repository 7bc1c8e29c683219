// SPDX-License-Identifier: GPL-2.0
/* fuzz_pem.c — libFuzzer target for the customer certificate upload
 * parser/validator, the CA loader (replicated PEM) and the CA's CSR
 * signing (CSRs arrive from joining nodes).
 *
 * Input: 2 bytes little-endian certificate length, the certificate field,
 * then the key field.  Seeds in fuzz/seeds/fuzz_pem come from the unit
 * corpus: INE_PKI_SEED_DIR=fuzz/seeds/fuzz_pem tests/unit/unit-tests
 * --filter 'pki_customer/...'. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "pki/pki_internal.h"

#define NOW ((time_t)1800000000)

static struct pki_ca *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (pki_ca_create("fuzz-cluster", NOW, &signer, NULL))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_customer_cert *cc = NULL;
	struct pki_customer *c = NULL;
	struct pki_ca *ca = NULL;
	struct pki_customer_item it;
	struct pki_err err;
	size_t clen;
	char *cert, *key;

	if (size < 2)
		return 0;
	clen = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (clen > size)
		clen = size;
	/* separate heap copies so ASan sees any overread of either field */
	cert = malloc(clen ? clen : 1);
	key = malloc(size - clen ? size - clen : 1);
	if (!cert || !key)
		goto out;
	memcpy(cert, data, clen);
	memcpy(key, data + clen, size - clen);

	if (pki_customer_cert_parse(cert, clen, key, size - clen, NOW, &cc, &err) == 0) {
		/* accepted: must be self-consistent */
		if (!cc->leaf || !cc->key || !cc->chain)
			abort();
		pki_customer_cert_free(cc);
	} else if (!err.msg[0]) {
		abort();	/* every refusal names its reason */
	}
	it = (struct pki_customer_item){ PKI_NAME_DP, cert, clen, key, size - clen };
	if (pki_customer_validate(&it, 1, NOW, &c, &err) == 0)
		pki_customer_free(c);
	/* the certificate field as a CSR: a signed certificate must name the
	 * node we asked for */
	{
		char *crt = NULL;
		size_t crt_len;

		if (pki_ca_sign_csr(signer, cert, clen, 7, "fuzz-node", PKI_PLANE_CP,
				    NOW, &crt, &crt_len, &err) == 0) {
			X509 *x = pki_x509_from_pem(crt, crt_len);
			char cid[PKI_CLUSTER_ID_MAX + 1];
			enum pki_plane p;
			uint32_t id;

			if (!x || pki_node_identity(x, cid, &id, &p) || id != 7 ||
			    p != PKI_PLANE_CP || strcmp(cid, "fuzz-cluster"))
				abort();
			X509_free(x);
			free(crt);
		}
	}
	if (clen < PKI_UPLOAD_MAX &&
	    pki_ca_load_pem(cert, clen, size - clen ? key : NULL, size - clen, &ca, &err) == 0)
		pki_ca_free(ca);
out:
	free(cert);
	free(key);
	ERR_clear_error();
	return 0;
}
