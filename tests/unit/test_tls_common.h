/* SPDX-License-Identifier: GPL-2.0 */
/* Shared fixture of the TLS unit tests (test_tls*.c). */
#ifndef INE_TEST_TLS_COMMON_H
#define INE_TEST_TLS_COMMON_H

#include <criterion/criterion.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "tls/tls.h"
#include "tls/ktls.h"
#include "tls/tlsio.h"
#include "testpki.h"
#include "testnet.h"

/* Certificates are made once per test process (Criterion forks per test). */
static struct tp_set pki;

static void pki_init(void)
{
	cr_assert_eq(tp_set_make(&pki, 2048), 0, "making test certificates");
}

static void pki_fini(void)
{
	tp_set_free(&pki);
}

static SSL_CTX *server_ctx(X509 *cert, X509_STORE *store, unsigned accept)
{
	struct tls_config cfg = {
		.cert = pki.srv_cp, .key = pki.key, .dp_cert = cert, .dp_key = pki.key,
		.trust = store,
		.verify_peer = tp_verify_peer, .verify_arg = (void *)TP_CLUSTER,
		.accept_alpn = accept,
	};
	SSL_CTX *ctx = tls_ctx_new(&cfg, true);

	cr_assert_not_null(ctx, "server SSL_CTX");
	return ctx;
}

static SSL_CTX *client_ctx(X509 *cert, X509_STORE *store)
{
	struct tls_config cfg = {
		.cert = cert, .key = cert ? pki.key : NULL, .trust = store,
		.verify_peer = tp_verify_peer, .verify_arg = (void *)TP_CLUSTER,
	};
	SSL_CTX *ctx = tls_ctx_new(&cfg, false);

	cr_assert_not_null(ctx, "client SSL_CTX");
	return ctx;
}

struct hs {
	int cfd, sfd;
	struct tls_conn *c, *s;
	int crc, src;
};

/* Handshake a fresh loopback pair: client offers alpn. */
static void hs_run(struct hs *h, SSL_CTX *cctx, SSL_CTX *sctx, enum tls_alpn alpn)
{
	cr_assert_eq(tn_pair(&h->cfd, &h->sfd), 0, "loopback pair");
	h->c = tls_conn_new(cctx, h->cfd, false, alpn);
	h->s = tls_conn_new(sctx, h->sfd, true, TLS_ALPN_NONE);
	cr_assert(h->c && h->s);
	tn_handshake_pair(h->c, h->s, &h->crc, &h->src);
}

static void hs_free(struct hs *h)
{
	tls_conn_free(h->c);
	tls_conn_free(h->s);
	close(h->cfd);
	close(h->sfd);
}

#endif
