// SPDX-License-Identifier: GPL-2.0
/* pki_wrap.c — the CA private key wrapped for the store.
 *
 * The CA key lives in etcd only as this blob: AES-256-GCM under a
 * key-encryption key (KEK) that every control-plane member holds in its
 * state directory (ca.kek, 0600) and that never enters etcd.  The
 * additional authenticated data binds the blob to its cluster and its key
 * id, so a blob copied from another cluster, or swapped for an older key
 * id, does not unwrap.  Unwrapped key material only ever sits in OpenSSL's
 * secure heap and is wiped before it is freed.
 *
 * Blob: "INEKW1" | id_len (1 byte) | key id | IV (12) | ciphertext | tag (16)
 * AAD:  "INEKW1" | cluster id | NUL | key id */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/atomicfile.h"
#include "pki/pki_internal.h"

#define WRAP_MAGIC	"INEKW1"
#define WRAP_MAGIC_LEN	6
#define WRAP_IV		12
#define WRAP_TAG	16
#define WRAP_PEM_MAX	(64 * 1024)

int pki_kek_create(const char *state_dir, struct pki_err *err)
{
	char path[4096];
	uint8_t *kek;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, PKI_KEK_FILE) >= sizeof(path)) {
		pki_err_set(err, "state directory path too long");
		return -ENAMETOOLONG;
	}
	if (access(path, F_OK) == 0) {
		pki_err_set(err, "%s exists: a key-encryption key is never replaced in place", path);
		return -EEXIST;
	}
	kek = OPENSSL_secure_malloc(PKI_KEK_LEN);
	if (!kek)
		return -ENOMEM;
	if (RAND_priv_bytes(kek, PKI_KEK_LEN) != 1) {
		OPENSSL_secure_clear_free(kek, PKI_KEK_LEN);
		pki_err_set(err, "no randomness for the key-encryption key");
		return -EIO;
	}
	ret = atomicfile_write(state_dir, PKI_KEK_FILE, kek, PKI_KEK_LEN, 0600);
	OPENSSL_secure_clear_free(kek, PKI_KEK_LEN);
	if (ret)
		pki_err_set(err, "cannot write %s: %s", path, strerror(-ret));
	return ret;
}

int pki_kek_load(const char *state_dir, uint8_t **kek, struct pki_err *err)
{
	char path[4096], why[256] = "";
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, PKI_KEK_FILE) >= sizeof(path)) {
		pki_err_set(err, "state directory path too long");
		return -ENAMETOOLONG;
	}
	/* secret=true: refused unless ours and 0600 (or stricter) */
	ret = atomicfile_read(path, PKI_KEK_LEN + 1, true, &buf, &len, why, sizeof(why));
	if (ret) {
		pki_err_set(err, "key-encryption key %s: %s", path, why[0] ? why : strerror(-ret));
		return ret;
	}
	if (len != PKI_KEK_LEN) {
		atomicfile_free(buf, len);
		pki_err_set(err, "key-encryption key %s is %zu bytes, want %d", path, len,
			    PKI_KEK_LEN);
		return -EINVAL;
	}
	*kek = OPENSSL_secure_malloc(PKI_KEK_LEN);
	if (*kek)
		memcpy(*kek, buf, PKI_KEK_LEN);
	atomicfile_free(buf, len);
	return *kek ? 0 : -ENOMEM;
}

void pki_kek_free(uint8_t *kek)
{
	if (kek)
		OPENSSL_secure_clear_free(kek, PKI_KEK_LEN);
}

static bool ids_ok(const char *cluster_id, const char *key_id, struct pki_err *err)
{
	if (!pki_cluster_id_valid(cluster_id)) {
		pki_err_set(err, "invalid cluster id");
		return false;
	}
	if (!key_id || !*key_id || strlen(key_id) > 64) {
		pki_err_set(err, "key id must be 1 to 64 characters");
		return false;
	}
	return true;
}

/* AES-256-GCM one shot; enc=1 seals, enc=0 opens (tag checked). */
static int gcm(int enc, const uint8_t *kek, const uint8_t *iv,
	       const char *cluster_id, const char *key_id,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ret = -EBADMSG;

	if (!c)
		return -ENOMEM;
	if (len > INT32_MAX ||
	    EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, WRAP_IV, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, kek, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)WRAP_MAGIC, WRAP_MAGIC_LEN) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)cluster_id,
			     (int)strlen(cluster_id) + 1) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)key_id, (int)strlen(key_id)) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WRAP_TAG, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1)
		goto out;	/* open: authentication failed */
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WRAP_TAG, tag) != 1)
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(c);
	ERR_clear_error();
	return ret;
}

int pki_ca_key_wrap(EVP_PKEY *key, const uint8_t *kek, const char *cluster_id,
		    const char *key_id, uint8_t **blob, size_t *blob_len,
		    struct pki_err *err)
{
	char *pem = NULL;
	size_t pem_len = 0, id_len, hdr, total;
	uint8_t *b;
	int ret;

	if (!key || !kek || !ids_ok(cluster_id, key_id, err))
		return -EINVAL;
	ret = pki_key_to_pem(key, &pem, &pem_len);	/* secure heap */
	if (ret) {
		pki_err_set(err, "cannot serialise the CA key");
		return ret;
	}
	id_len = strlen(key_id);
	hdr = WRAP_MAGIC_LEN + 1 + id_len;
	total = hdr + WRAP_IV + pem_len + WRAP_TAG;
	b = OPENSSL_malloc(total);
	if (!b) {
		pki_pem_free(pem, pem_len);
		return -ENOMEM;
	}
	memcpy(b, WRAP_MAGIC, WRAP_MAGIC_LEN);
	b[WRAP_MAGIC_LEN] = (uint8_t)id_len;
	memcpy(b + WRAP_MAGIC_LEN + 1, key_id, id_len);
	/* a fresh random IV per wrap: a KEK wraps few keys in its life */
	if (RAND_bytes(b + hdr, WRAP_IV) != 1) {
		ret = -EIO;
		pki_err_set(err, "no randomness for the wrap IV");
		goto fail;
	}
	ret = gcm(1, kek, b + hdr, cluster_id, key_id, (uint8_t *)pem, pem_len,
		  b + hdr + WRAP_IV, b + hdr + WRAP_IV + pem_len);
	if (ret) {
		pki_err_set(err, "AES-256-GCM wrap failed");
		goto fail;
	}
	pki_pem_free(pem, pem_len);
	*blob = b;
	*blob_len = total;
	return 0;
fail:
	OPENSSL_clear_free(b, total);
	pki_pem_free(pem, pem_len);
	return ret;
}

int pki_ca_key_unwrap(const uint8_t *blob, size_t len, const uint8_t *kek,
		      const char *cluster_id, const char *key_id,
		      EVP_PKEY **key, struct pki_err *err)
{
	size_t id_len, hdr, ct_len;
	uint8_t *pt;
	int ret;

	if (!blob || !kek || !ids_ok(cluster_id, key_id, err))
		return -EINVAL;
	if (len < WRAP_MAGIC_LEN + 1 || memcmp(blob, WRAP_MAGIC, WRAP_MAGIC_LEN)) {
		pki_err_set(err, "not a wrapped CA key (bad magic)");
		return -EINVAL;
	}
	id_len = blob[WRAP_MAGIC_LEN];
	hdr = WRAP_MAGIC_LEN + 1 + id_len;
	if (len < hdr + WRAP_IV + WRAP_TAG + 1 || len - hdr - WRAP_IV - WRAP_TAG > WRAP_PEM_MAX) {
		pki_err_set(err, "wrapped CA key of %zu bytes is truncated or too large", len);
		return -EINVAL;
	}
	if (id_len != strlen(key_id) || memcmp(blob + WRAP_MAGIC_LEN + 1, key_id, id_len)) {
		pki_err_set(err, "wrapped CA key is for another key id than '%s'", key_id);
		return -EKEYREJECTED;
	}
	ct_len = len - hdr - WRAP_IV - WRAP_TAG;
	pt = OPENSSL_secure_malloc(ct_len);
	if (!pt)
		return -ENOMEM;
	ret = gcm(0, kek, blob + hdr, cluster_id, key_id, blob + hdr + WRAP_IV, ct_len,
		  pt, (uint8_t *)(blob + hdr + WRAP_IV + ct_len));
	if (ret) {
		pki_err_set(err, "wrapped CA key does not authenticate (wrong key-encryption "
			    "key, wrong cluster, or tampered)");
		ret = -EKEYREJECTED;
		goto out;
	}
	*key = pki_key_from_pem((char *)pt, ct_len);
	if (!*key) {
		pki_err_set(err, "unwrapped CA key does not parse");
		ret = -EINVAL;
	}
out:
	OPENSSL_secure_clear_free(pt, ct_len);
	return ret;
}
