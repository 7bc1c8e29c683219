// SPDX-License-Identifier: GPL-2.0
/*
 * What the policy refuses: other suites, other versions, missing or bad
 * certificates, wrong ALPN; and what it allows: a join without a client
 * certificate, a pinned customer certificate.  Each refusal must also say
 * why (the reason string is what an operator reads in the log).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <openssl/ssl.h>

#include "test_tls_common.h"

TestSuite(tls_policy, .init = pki_init, .fini = pki_fini);

/* Expect the server to refuse, with a reason containing want. */
static void expect_refused(SSL_CTX *cctx, SSL_CTX *sctx, enum tls_alpn alpn, const char *want)
{
	struct hs h;

	hs_run(&h, cctx, sctx, alpn);
	cr_expect_neq(h.src, 0, "server accepted; wanted '%s'", want);
	cr_expect_neq(h.src, -EAGAIN, "server hung; wanted '%s'", want);
	cr_expect(strstr(h.s->reason, want), "server reason '%s', wanted '%s'", h.s->reason, want);
	/* The client never ends up with a usable session either. */
	if (h.crc == 0) {
		char b[8];

		tn_set_nonblock(h.cfd, false);
		cr_expect_lt(tlsio_read(h.c, b, sizeof(b)), 0, "client got a live session");
	}
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, cbc_only_client_fails)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);

	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	cr_assert(SSL_CTX_set_cipher_list(cctx, "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:"
					  "AES128-SHA:AES256-GCM-SHA384"));
	expect_refused(cctx, server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP, "no shared cipher");
}

Test(tls_policy, chacha_only_client_fails_tls12)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);

	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	cr_assert(SSL_CTX_set_cipher_list(cctx, "ECDHE-RSA-CHACHA20-POLY1305"));
	expect_refused(cctx, server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP, "no shared cipher");
}

Test(tls_policy, chacha_only_client_fails_tls13)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);

	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	cr_assert(SSL_CTX_set_ciphersuites(cctx, "TLS_CHACHA20_POLY1305_SHA256"));
	expect_refused(cctx, server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP, "no shared cipher");
}

Test(tls_policy, tls11_client_fails)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);

	/* OpenSSL 3 needs security level 0 to even offer TLS 1.1. */
	cr_assert(SSL_CTX_set_cipher_list(cctx, "DEFAULT:@SECLEVEL=0"));
	SSL_CTX_clear_options(cctx, SSL_OP_NO_TLSv1_1);
	cr_assert(SSL_CTX_set_min_proto_version(cctx, TLS1_1_VERSION));
	cr_assert(SSL_CTX_set_max_proto_version(cctx, TLS1_1_VERSION));
	expect_refused(cctx, server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP,
		       "protocol version not allowed");
}

Test(tls_policy, no_client_cert_fails)
{
	expect_refused(client_ctx(NULL, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_DP, "no client certificate");
}

Test(tls_policy, no_client_cert_fails_tls12)
{
	SSL_CTX *cctx = client_ctx(NULL, pki.store);

	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	expect_refused(cctx, server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP,
		       "no client certificate");
}

Test(tls_policy, foreign_ca_fails)
{
	expect_refused(client_ctx(pki.cli_foreign, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_DP, "not from this cluster");
}

Test(tls_policy, client_refuses_foreign_server)
{
	struct hs h;
	SSL_CTX *cctx = client_ctx(pki.cli, pki.other_store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);

	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_expect_neq(h.crc, 0);
	cr_expect(strstr(h.c->reason, "not from this cluster"), "reason: %s", h.c->reason);
	cr_expect_neq(h.src, 0, "server must not finish either");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, expired_cert_fails)
{
	expect_refused(client_ctx(pki.cli_expired, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_DP, "expired");
}

Test(tls_policy, other_cluster_same_ca_fails)
{
	expect_refused(client_ctx(pki.cli_other_cluster, pki.store),
		       server_ctx(pki.srv, pki.store, 0), TLS_ALPN_DP, "not a member node");
}

Test(tls_policy, cert_without_identity_fails)
{
	expect_refused(client_ctx(pki.cli_nouri, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_DP, "not a member node");
}

Test(tls_policy, cp_cert_on_dp_plane_fails)
{
	expect_refused(client_ctx(pki.cli_cp, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_DP, "other plane");
}

Test(tls_policy, wrong_alpn_fails)
{
	/* A data-plane-only listener and a control-plane client. */
	expect_refused(client_ctx(pki.cli_cp, pki.store),
		       server_ctx(pki.srv, pki.store, TLS_ALPN_BIT(TLS_ALPN_DP)),
		       TLS_ALPN_CP, "ALPN");
}

Test(tls_policy, no_alpn_fails)
{
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	struct hs h;

	cr_assert_eq(tn_pair(&h.cfd, &h.sfd), 0);
	h.s = tls_conn_new(sctx, h.sfd, true, TLS_ALPN_NONE);
	h.c = tls_conn_new(cctx, h.cfd, false, TLS_ALPN_DP);
	cr_assert(h.c && h.s);
	SSL_set_alpn_protos(h.c->ssl, NULL, 0);	/* a client that offers none */
	tn_handshake_pair(h.c, h.s, &h.crc, &h.src);
	cr_expect_neq(h.src, 0);
	cr_expect(strstr(h.s->reason, "no ALPN"), "reason: %s", h.s->reason);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, join_allows_no_client_cert)
{
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store,
				   TLS_ALPN_BIT(TLS_ALPN_CP) | TLS_ALPN_BIT(TLS_ALPN_JOIN));
	SSL_CTX *cctx = client_ctx(NULL, pki.store);
	struct hs h;

	hs_run(&h, cctx, sctx, TLS_ALPN_JOIN);
	cr_expect_eq(h.src, 0, "server: %s", h.s->reason);
	cr_expect_eq(h.crc, 0, "client: %s", h.c->reason);
	cr_expect_eq(h.s->alpn, TLS_ALPN_JOIN);
	cr_expect_eq(h.s->plane, TLS_PLANE_CONTROL);
	cr_expect_eq(h.s->peer_node_id, -1);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, join_not_accepted_unless_enabled)
{
	expect_refused(client_ctx(NULL, pki.store), server_ctx(pki.srv, pki.store, 0),
		       TLS_ALPN_JOIN, "ALPN");
}

Test(tls_policy, join_with_bad_cert_still_fails)
{
	expect_refused(client_ctx(pki.cli_foreign, pki.store),
		       server_ctx(pki.srv, pki.store, TLS_ALPN_BIT(TLS_ALPN_JOIN)),
		       TLS_ALPN_JOIN, "not from this cluster");
}

/* Customer certificates: no trust store, the leaf key is pinned. */
static SSL_CTX *pinned_server(X509 *pin)
{
	struct tls_config cfg = {
		.cert = pki.srv, .key = pki.key, .trust = NULL,
		.verify_peer = tp_verify_pinned, .verify_arg = pin,
	};
	SSL_CTX *ctx = tls_ctx_new(&cfg, true);

	cr_assert_not_null(ctx);
	return ctx;
}

Test(tls_policy, pinned_accepts_pinned_key)
{
	struct tls_config ccfg = {
		.cert = pki.cli_foreign, .key = pki.key, .trust = NULL,
		.verify_peer = tp_verify_pinned, .verify_arg = pki.srv,
	};
	SSL_CTX *cctx = tls_ctx_new(&ccfg, false);
	SSL_CTX *sctx = pinned_server(pki.cli_foreign);
	struct hs h;

	cr_assert_not_null(cctx);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_expect_eq(h.src, 0, "server: %s", h.s->reason);
	cr_expect_eq(h.crc, 0, "client: %s", h.c->reason);
	cr_expect_eq(h.s->peer_node_id, 99);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, pinned_refuses_other_key)
{
	EVP_PKEY *k2 = tp_rsa(2048);
	X509 *other = tp_cert("x", TP_CLUSTER, k2, pki.ca, pki.ca_key, time(NULL) - 60,
			      time(NULL) + 86400, TP_KU, NULL);

	cr_assert(k2 && other);
	expect_refused(client_ctx(pki.cli, NULL), pinned_server(other), TLS_ALPN_DP,
		       "not one of the pinned");
	X509_free(other);
	EVP_PKEY_free(k2);
}

Test(tls_policy, pinned_refuses_expired)
{
	expect_refused(client_ctx(pki.cli_expired, NULL), pinned_server(pki.cli_expired),
		       TLS_ALPN_DP, "expired");
}

Test(tls_policy, ctx_refuses_non_rsa_key)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	struct tls_config cfg = { .cert = pki.srv, .key = ec, .trust = pki.store };

	cr_assert_not_null(ec);
	cr_expect_null(tls_ctx_new(&cfg, true));
	EVP_PKEY_free(ec);
}

Test(tls_policy, server_sends_no_tickets)
{
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	struct hs h;
	char b[8];

	cr_expect_eq(SSL_CTX_get_num_tickets(sctx), 0);
	cr_expect(SSL_CTX_get_options(sctx) & SSL_OP_NO_TICKET);
	cr_expect(SSL_CTX_get_options(sctx) & SSL_OP_NO_RENEGOTIATION);
	cr_expect(SSL_CTX_get_options(sctx) & SSL_OP_ENABLE_KTLS);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.crc, 0);
	cr_assert_eq(h.src, 0);
	/* Nothing (no NewSessionTicket) is waiting for the client. */
	usleep(20000);
	cr_expect_eq(recv(h.cfd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT), -1);
	cr_expect_eq(errno, EAGAIN);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, no_ktls_option)
{
	struct tls_config cfg = { .cert = pki.srv, .key = pki.key, .trust = pki.store,
				  .no_ktls = true };
	SSL_CTX *ctx = tls_ctx_new(&cfg, true);

	cr_assert_not_null(ctx);
	cr_expect_not(SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS);
	SSL_CTX_free(ctx);
}

/* Key exchange is pinned to X25519 and P-256, whatever openssl.cnf allows:
 * a client offering only a finite-field or another curve gets nothing. */
static void groups_case(const char *groups, int max_version, bool ok)
{
	SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
	SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
	struct hs h;

	SSL_CTX_set_max_proto_version(cctx, max_version);
	cr_assert(SSL_CTX_set1_groups_list(cctx, groups), "%s", groups);
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	if (ok) {
		cr_expect_eq(h.src, 0, "%s: server: %s", groups, h.s->reason);
		cr_expect_eq(h.crc, 0, "%s: client: %s", groups, h.c->reason);
	} else {
		cr_expect_neq(h.src, 0, "%s: the server accepted", groups);
		cr_expect(strstr(h.s->reason, "group") || strstr(h.s->reason, "shared") ||
			  strstr(h.s->reason, "key share"),
			  "%s: server reason '%s'", groups, h.s->reason);
	}
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(tls_policy, groups_pinned)
{
	groups_case("X25519", TLS1_3_VERSION, true);
	groups_case("P-256", TLS1_3_VERSION, true);
	groups_case("X25519", TLS1_2_VERSION, true);
	groups_case("ffdhe2048", TLS1_3_VERSION, false);
	groups_case("ffdhe3072:ffdhe4096", TLS1_3_VERSION, false);
	groups_case("P-384:P-521", TLS1_3_VERSION, false);
	groups_case("X448", TLS1_3_VERSION, false);
}

/* Signatures: RSA only (PSS in TLS 1.3); a client that accepts only
 * ECDSA or SHA-1 signatures is refused. */
Test(tls_policy, sigalgs_pinned)
{
	static const char *const bad[] = { "ecdsa_secp256r1_sha256", "rsa_pkcs1_sha1" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SSL_CTX *cctx = client_ctx(pki.cli, pki.store);
		SSL_CTX *sctx = server_ctx(pki.srv, pki.store, 0);
		struct hs h;

		SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
		SSL_CTX_set_security_level(cctx, 0);
		cr_assert(SSL_CTX_set1_sigalgs_list(cctx, bad[i]), "%s", bad[i]);
		hs_run(&h, cctx, sctx, TLS_ALPN_DP);
		cr_expect(h.src != 0 || h.crc != 0, "%s: a session was made", bad[i]);
		hs_free(&h);
		SSL_CTX_free(cctx);
		SSL_CTX_free(sctx);
	}
}
