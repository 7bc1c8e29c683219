/* test_pki_lib.h — fixtures shared by the tests/unit/test_pki*.c suites:
 * fixed keys from tests/unit/data/pki/keys (see gen-keys.sh there), a
 * small certificate builder for customer-style chains with any dates, and
 * PEM helpers. */
#ifndef TEST_PKI_LIB_H
#define TEST_PKI_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

#define T0 ((time_t)1800000000)	/* 2027-01-15: a fixed "now" */
#define DAY ((time_t)86400)

/* Key by file stem ("rsa2048-a", "ec-p256", ...): borrowed, cached. */
EVP_PKEY *tk_key(const char *stem);
/* Make pki_*_keygen hand out fixed keys (a pool of four 2048-bit keys,
 * never the same twice in a row, and rsa3072) instead of generating. */
void tk_fast_keygen(void);

/* Raw file text of a key (malloc'd, NUL-terminated). */
char *tk_file(const char *stem, size_t *len);

enum { TK_CA = 1, TK_NO_EKU = 2, TK_EKU_SERVER_ONLY = 4 };
/* Certificate for `pub`, signed by issuer/issuer_key (self-signed when
 * issuer is NULL), valid [nb, na].  Extra: "URI:..." SAN or NULL. */
X509 *tk_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
	      time_t nb, time_t na, int flags, const char *san);

/* A growing text buffer. */
struct tk_buf {
	char *p;
	size_t len;
};
void tk_buf_add(struct tk_buf *b, const void *data, size_t len);
void tk_buf_x509(struct tk_buf *b, X509 *x);
void tk_buf_key(struct tk_buf *b, EVP_PKEY *k);
void tk_buf_free(struct tk_buf *b);

/* A customer chain: root (rsa2048-a) -> intermediate (rsa2048-b) -> leaf
 * (leaf_key), leaf valid [nb, na], the CAs for 20 years around T0. */
struct tk_chain {
	X509 *root, *inter, *leaf;
	EVP_PKEY *leaf_key;
};
void tk_chain_make(struct tk_chain *c, const char *leaf_key, time_t nb,
		   time_t na, int leaf_flags);
void tk_chain_free(struct tk_chain *c);
/* leaf, inter, root as PEM */
void tk_chain_pem(const struct tk_chain *c, struct tk_buf *b);

/* Fresh empty temp directory (removed by tk_rmrf). */
char *tk_tmpdir(void);
void tk_rmrf(const char *path);

#endif
