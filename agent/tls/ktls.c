// SPDX-License-Identifier: GPL-2.0
/*
 * ktls.c - kernel TLS install (TX and RX, TLS 1.2 and 1.3) and the record
 * primitives a kTLS socket needs for non-data records.  See ktls.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/tls.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>

#include "tls/ktls.h"
#include "tls/tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* HKDF-Expand-Label(secret, label, "", out_len) of RFC 8446 7.1. */
static int expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
			const char *label, uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t llen = 6 + strlen(label), ilen = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, rc = -EINVAL;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];

	if (llen > 255 || out_len > 0xffff)
		return -EINVAL;
	info[ilen++] = (uint8_t)(out_len >> 8);
	info[ilen++] = (uint8_t)out_len;
	info[ilen++] = (uint8_t)llen;
	memcpy(info + ilen, "tls13 ", 6);
	memcpy(info + ilen + 6, label, llen - 6);
	ilen += llen;
	info[ilen++] = 0;		/* empty context */

	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	if (!kdf)
		return -ENOSYS;
	kctx = EVP_KDF_CTX_new(kdf);
	if (!kctx)
		goto out;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(md), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret, secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ilen);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

int ktls_tls13_derive(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
		      uint8_t *key, size_t key_len, uint8_t iv[12])
{
	int rc = expand_label(md, secret, secret_len, "key", key, key_len);

	if (!rc)
		rc = expand_label(md, secret, secret_len, "iv", iv, 12);
	if (rc) {
		OPENSSL_cleanse(key, key_len);
		OPENSSL_cleanse(iv, 12);
	}
	return rc;
}

static int ulp_attach(int fd)
{
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) == 0)
		return 0;
	return errno == EEXIST ? 0 : -errno;
}

/*
 * Fill the kernel's crypto info for TLS 1.3 RX from the peer's application
 * traffic secret: salt = iv[0..3], iv = iv[4..11], rec_seq = 0 (no record
 * has been read under this key: no tickets, nothing buffered).
 */
static int install_rx13(struct tls_conn *c)
{
	union {
		struct tls12_crypto_info_aes_gcm_128 g128;
		struct tls12_crypto_info_aes_gcm_256 g256;
	} ci;
	uint8_t key[32], iv[12];
	uint32_t id = SSL_CIPHER_get_id(SSL_get_current_cipher(c->ssl));
	const EVP_MD *md;
	size_t key_len, ci_len;
	int rc;

	if (id == TLS1_3_CK_AES_128_GCM_SHA256) {
		md = EVP_sha256();
		key_len = 16;
	} else if (id == TLS1_3_CK_AES_256_GCM_SHA384) {
		md = EVP_sha384();
		key_len = 32;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (c->priv->rx_secret_len != (size_t)EVP_MD_get_size(md))
		return -ENOKEY;
	rc = ktls_tls13_derive(md, c->priv->rx_secret, c->priv->rx_secret_len,
			       key, key_len, iv);
	if (rc)
		return rc;
	memset(&ci, 0, sizeof(ci));
	if (key_len == 16) {
		ci.g128.info.version = TLS_1_3_VERSION;
		ci.g128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(ci.g128.salt, iv, TLS_CIPHER_AES_GCM_128_SALT_SIZE);
		memcpy(ci.g128.iv, iv + 4, TLS_CIPHER_AES_GCM_128_IV_SIZE);
		memcpy(ci.g128.key, key, 16);
		ci_len = sizeof(ci.g128);
	} else {
		ci.g256.info.version = TLS_1_3_VERSION;
		ci.g256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(ci.g256.salt, iv, TLS_CIPHER_AES_GCM_256_SALT_SIZE);
		memcpy(ci.g256.iv, iv + 4, TLS_CIPHER_AES_GCM_256_IV_SIZE);
		memcpy(ci.g256.key, key, 32);
		ci_len = sizeof(ci.g256);
	}
	rc = setsockopt(c->fd, SOL_TLS, TLS_RX, &ci, ci_len) ? -errno : 0;
	OPENSSL_cleanse(&ci, sizeof(ci));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	return rc;
}

void ktls_conn_wipe_secret(struct tls_conn *c)
{
	if (!c || !c->priv)
		return;
	OPENSSL_cleanse(c->priv->rx_secret, sizeof(c->priv->rx_secret));
	c->priv->rx_secret_len = 0;
}

int ktls_conn_install(struct tls_conn *c)
{
	int rc = 0;

	if (!c->done)
		return -EINVAL;
	if (tls_kernel_tls_is_off()) {
		c->ktls_tx = c->ktls_rx = false;
		snprintf(c->reason, sizeof(c->reason), "kernel TLS off (--no-modules)");
		ktls_conn_wipe_secret(c);	/* never installed: not needed */
		return 0;
	}
	c->ktls_tx = BIO_get_ktls_send(SSL_get_wbio(c->ssl)) > 0;
	c->ktls_rx = BIO_get_ktls_recv(SSL_get_rbio(c->ssl)) > 0;
	c->reason[0] = 0;

	if (c->version == TLS1_3_VERSION && !c->ktls_rx) {
		/*
		 * Bytes OpenSSL already pulled off the socket would be lost
		 * to the kernel and shift rec_seq: keep RX in software then.
		 */
		if (SSL_has_pending(c->ssl) || SSL_pending(c->ssl)) {
			snprintf(c->reason, sizeof(c->reason),
				 "kernel RX not installed: OpenSSL holds unread records");
			goto out;
		}
		rc = c->ktls_tx ? 0 : ulp_attach(c->fd);
		if (rc == 0)
			rc = install_rx13(c);
		if (rc == 0) {
			c->ktls_rx = true;
		} else {
			snprintf(c->reason, sizeof(c->reason), "kernel RX not installed: %s%s",
				 rc == -ENOENT || rc == -ENOPROTOOPT || rc == -EOPNOTSUPP ?
				 "kernel has no TLS: " : "", strerror(-rc));
			rc = 0;
		}
	} else if (!c->ktls_tx || !c->ktls_rx) {
		snprintf(c->reason, sizeof(c->reason),
			 "OpenSSL did not offload %s (kernel TLS unavailable?)",
			 !c->ktls_tx && !c->ktls_rx ? "TX or RX" : !c->ktls_tx ? "TX" : "RX");
	}
out:
	ktls_conn_wipe_secret(c);
	if (c->reason[0])
		log_info("tls: fd %d %s %s: %s; session runs as %s", c->fd,
		       tls_version_name(c->version), c->cipher, c->reason,
		       ktls_conn_mode(c));
	return rc;
}

bool ktls_conn_release(struct tls_conn *c)
{
	if (!c || !c->ssl || !c->done || !c->ktls_tx || !c->ktls_rx)
		return false;
	if (SSL_has_pending(c->ssl) || SSL_pending(c->ssl))
		return false;
	/* The socket BIO was made with BIO_NOCLOSE (SSL_set_fd): fd stays open. */
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->priv->cfg = NULL;	/* the SSL_CTX may be gone with the SSL */
	ktls_conn_wipe_secret(c);
	return true;
}

const char *ktls_conn_mode(const struct tls_conn *c)
{
	if (c->ktls_tx && c->ktls_rx)
		return "kernel";
	if (c->ktls_tx)
		return "kernel-tx";
	if (c->ktls_rx)
		return "kernel-rx";
	return "software";
}

ssize_t ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*type = KTLS_REC_DATA;
	n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *(unsigned char *)CMSG_DATA(cm);
	return n;
}

int ktls_send_record(int fd, uint8_t type, const void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))] = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*(unsigned char *)CMSG_DATA(cm) = type;
	n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EAGAIN;
}

int ktls_send_close_notify(int fd)
{
	static const uint8_t alert[2] = { 1 /* warning */, 0 /* close_notify */ };

	return ktls_send_record(fd, KTLS_REC_ALERT, alert, sizeof(alert));
}
