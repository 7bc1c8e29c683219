// SPDX-License-Identifier: GPL-2.0
/*
 * The four allowed suites: handshake, kTLS install (software on a kernel
 * without TLS, which is what this host has), data both ways, close_notify.
 * TLS 1.3 RX key derivation is checked against a real record on the wire.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "test_tls_common.h"

struct suite {
	int version;
	char name[40];		/* OpenSSL name (an array: params cross exec) */
};

static struct suite suites[] = {
	{ TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ TLS1_2_VERSION, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256" },
	{ TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384" },
};

/* Make the client offer exactly one suite. */
static void client_only(SSL_CTX *cctx, const struct suite *su)
{
	cr_assert(SSL_CTX_set_min_proto_version(cctx, su->version));
	cr_assert(SSL_CTX_set_max_proto_version(cctx, su->version));
	if (su->version == TLS1_3_VERSION)
		cr_assert(SSL_CTX_set_ciphersuites(cctx, su->name));
	else
		cr_assert(SSL_CTX_set_cipher_list(cctx, su->name));
}

/* Does this kernel have TLS?  (The host running the unit tests does not.) */
static bool kernel_has_tls(void)
{
	int a, b, rc;

	cr_assert_eq(tn_pair(&a, &b), 0);
	rc = setsockopt(a, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
	close(a);
	close(b);
	return rc == 0;
}

ParameterizedTestParameters(tls, suite)
{
	return cr_make_param_array(struct suite, suites, sizeof(suites) / sizeof(suites[0]));
}

ParameterizedTest(struct suite *su, tls, suite, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	struct hs h;
	char buf[256];
	const char *msg = "replication stream bytes", *back = "ack";
	bool ktls = kernel_has_tls();
	ssize_t n;

	client_only(cctx, su);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.crc, 0, "client: %s", h.c->reason);
	cr_assert_eq(h.src, 0, "server: %s", h.s->reason);
	cr_expect_eq(h.c->version, su->version);
	cr_expect_eq(h.s->version, su->version);
	cr_expect_str_eq(h.s->cipher, su->name);
	cr_expect_eq(h.s->alpn, TLS_ALPN_DP);
	cr_expect_eq(h.s->plane, TLS_PLANE_DATA);
	cr_expect_eq(h.s->peer_node_id, 2, "server sees client node 2");
	cr_expect_eq(h.c->peer_node_id, 1, "client sees server node 1");

	cr_assert_eq(ktls_conn_install(h.c), 0, "%s", h.c->reason);
	cr_assert_eq(ktls_conn_install(h.s), 0, "%s", h.s->reason);
	cr_expect_str_eq(ktls_conn_mode(h.c), ktls ? "kernel" : "software");
	cr_expect_str_eq(ktls_conn_mode(h.s), ktls ? "kernel" : "software");
	cr_expect_eq(h.s->priv->rx_secret_len, 0, "traffic secret wiped after install");

	/* Data both ways through whichever path each direction has. */
	tn_set_nonblock(h.cfd, false);
	tn_set_nonblock(h.sfd, false);
	cr_assert_eq(tlsio_write(h.c, msg, strlen(msg)), (ssize_t)strlen(msg));
	n = tlsio_read(h.s, buf, sizeof(buf));
	cr_assert_eq(n, (ssize_t)strlen(msg), "%s", h.s->reason);
	cr_expect_eq(memcmp(buf, msg, (size_t)n), 0);
	cr_assert_eq(tlsio_write(h.s, back, 3), 3);
	cr_assert_eq(tlsio_read(h.c, buf, sizeof(buf)), 3, "%s", h.c->reason);
	cr_expect_eq(memcmp(buf, back, 3), 0);

	/* close_notify is a clean EOF, and stays one. */
	cr_assert_eq(tlsio_shutdown(h.c), 0, "%s", h.c->reason);
	cr_expect_eq(tlsio_read(h.s, buf, sizeof(buf)), 0, "%s", h.s->reason);
	cr_expect_eq(tlsio_read(h.s, buf, sizeof(buf)), 0);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* A TCP close without close_notify is truncation, not EOF. */
Test(tls, truncation_is_not_eof, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	struct hs h;
	char buf[64];

	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.src, 0, "%s", h.s->reason);
	cr_assert_eq(ktls_conn_install(h.s), 0);
	tn_set_nonblock(h.sfd, false);
	shutdown(h.cfd, SHUT_WR);
	cr_expect_eq(tlsio_read(h.s, buf, sizeof(buf)), -ECONNABORTED);
	cr_expect(strstr(h.s->reason, "without close_notify"), "reason: %s", h.s->reason);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* A non-blocking read with nothing to read asks to wait for POLLIN. */
Test(tls, read_would_block, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	struct hs h;
	char buf[64];

	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.src, 0, "%s", h.s->reason);
	cr_assert_eq(ktls_conn_install(h.s), 0);
	cr_expect_eq(tlsio_read(h.s, buf, sizeof(buf)), -EAGAIN);
	cr_expect_eq(h.s->want, TLS_WANT_READ);
	cr_expect_not(tlsio_pending(h.s));
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/*
 * TLS 1.3 RX keys: derive key/iv from the captured client traffic secret
 * exactly as ktls_conn_install() hands them to the kernel, then decrypt the
 * client's first application record straight off the socket with them
 * (nonce = iv ^ rec_seq 0).  If the label, the hash, the secret capture or
 * the sequence number were wrong, the GCM tag would not verify.
 */
static struct suite suites13[] = {
	{ TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256" },
	{ TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384" },
};

ParameterizedTestParameters(ktls, tls13_rx_keys)
{
	return cr_make_param_array(struct suite, suites13, 2);
}

ParameterizedTest(struct suite *su, ktls, tls13_rx_keys, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	bool is256 = strstr(su->name, "AES_256") != NULL;
	const EVP_MD *md = is256 ? EVP_sha384() : EVP_sha256();
	size_t klen = is256 ? 32 : 16;
	const char *msg = "first application record";
	uint8_t key[32], iv[12], rec[512], plain[512];
	EVP_CIPHER_CTX *e;
	struct hs h;
	ssize_t n;
	int len = 0, fin = 0;

	client_only(cctx, su);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.src, 0, "%s", h.s->reason);
	cr_assert_eq(h.s->priv->rx_secret_len, EVP_MD_get_size(md), "secret captured");
	cr_assert_eq(ktls_tls13_derive(md, h.s->priv->rx_secret, h.s->priv->rx_secret_len,
				       key, klen, iv), 0);

	tn_set_nonblock(h.sfd, false);
	cr_assert_eq(tlsio_write(h.c, msg, strlen(msg)), (ssize_t)strlen(msg));
	n = recv(h.sfd, rec, sizeof(rec), MSG_WAITALL | MSG_DONTWAIT);
	for (int tries = 0; n < (ssize_t)(5 + strlen(msg) + 1 + 16) && tries < 100; tries++) {
		usleep(10000);
		n = recv(h.sfd, rec, sizeof(rec), MSG_PEEK | MSG_DONTWAIT);
	}
	cr_assert_geq(n, (ssize_t)(5 + strlen(msg) + 1 + 16));
	cr_assert_eq(rec[0], 23, "outer type application_data");
	cr_assert_eq((size_t)(rec[3] << 8 | rec[4]), strlen(msg) + 1 + 16);

	e = EVP_CIPHER_CTX_new();
	cr_assert(EVP_DecryptInit_ex(e, is256 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(),
				     NULL, key, iv));	/* seq 0: nonce == iv */
	cr_assert(EVP_DecryptUpdate(e, NULL, &len, rec, 5));
	cr_assert(EVP_DecryptUpdate(e, plain, &len, rec + 5, (int)(strlen(msg) + 1)));
	cr_assert(EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG, 16, rec + 5 + strlen(msg) + 1));
	fin = EVP_DecryptFinal_ex(e, plain + len, &len);
	EVP_CIPHER_CTX_free(e);
	cr_expect_eq(fin, 1, "GCM tag verifies with the derived key");
	cr_expect_eq(memcmp(plain, msg, strlen(msg)), 0);
	cr_expect_eq(plain[strlen(msg)], 23, "inner content type application_data");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

/* RFC 8448 3 (simple 1-RTT), server application traffic key/iv. */
Test(ktls, rfc8448_vector)
{
	static const uint8_t secret[32] = {
		0xa1, 0x1a, 0xf9, 0xf0, 0x55, 0x31, 0xf8, 0x56, 0xad, 0x47, 0x11, 0x6b,
		0x45, 0xa9, 0x50, 0x32, 0x82, 0x04, 0xb4, 0xf4, 0x4b, 0xfb, 0x6b, 0x3a,
		0x4b, 0x4f, 0x1f, 0x3f, 0xcb, 0x63, 0x16, 0x43 };
	static const uint8_t want_key[16] = {
		0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef, 0xc2, 0x6b, 0xb9, 0xf2,
		0xac, 0x92, 0xe3, 0x56 };
	static const uint8_t want_iv[12] = {
		0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84 };
	uint8_t key[16], iv[12];

	cr_assert_eq(ktls_tls13_derive(EVP_sha256(), secret, sizeof(secret), key, 16, iv), 0);
	cr_expect_eq(memcmp(key, want_key, 16), 0, "key");
	cr_expect_eq(memcmp(iv, want_iv, 12), 0, "iv");
}

/*
 * If OpenSSL already pulled a TLS 1.3 record off the socket, handing RX to
 * the kernel would lose it and shift rec_seq: the install must refuse, keep
 * RX in OpenSSL, and the data must still arrive.
 */
Test(ktls, tls13_rx_refused_with_buffered_record, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	struct hs h;
	char buf[16];
	int n = -1;

	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.src, 0, "%s", h.s->reason);
	cr_assert_eq(tlsio_write(h.c, "early", 5), 5);
	for (int i = 0; i < 100 && n <= 0; i++) {
		n = SSL_peek(h.s->ssl, buf, sizeof(buf));	/* record now in OpenSSL */
		if (n <= 0)
			usleep(10000);
	}
	cr_assert_eq(n, 5);
	cr_assert_eq(ktls_conn_install(h.s), 0);
	cr_expect_not(h.s->ktls_rx);
	cr_expect(strstr(h.s->reason, "OpenSSL holds unread"), "reason: %s", h.s->reason);
	cr_expect(tlsio_pending(h.s));
	cr_expect_eq(tlsio_read(h.s, buf, sizeof(buf)), 5);
	cr_expect_eq(memcmp(buf, "early", 5), 0);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
