// SPDX-License-Identifier: GPL-2.0
/*
 * A TLS 1.3 session's captured RX traffic secret (tls.c's keylog hook
 * keeps it so ktls.c can install kernel RX) is wiped as soon as it is
 * known not to be needed, also where kernel TLS is never installed:
 * ined --no-modules, and the relay's software-only mode (issue 20).
 */
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/ssl.h>

#include "test_tls_common.h"
#include "test_relay_util.h"

static struct tr_env env;

static void fini(void)
{
	tr_teardown(&env);
}

/* Criterion runs every test in its own process: "off" stays in this one. */
Test(relay_secrets, no_modules_wipes_rx_secret, .init = pki_init, .fini = pki_fini)
{
	SSL_CTX *cctx, *sctx;
	struct hs h;

	tls_kernel_tls_off();
	cctx = client_ctx(pki.cli, pki.store);
	sctx = server_ctx(pki.srv, pki.store, 0);
	cr_assert(SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION));
	hs_run(&h, cctx, sctx, TLS_ALPN_DP);
	cr_assert_eq(h.crc, 0, "client: %s", h.c->reason);
	cr_assert_eq(h.src, 0, "server: %s", h.s->reason);
	cr_assert_eq(h.s->version, TLS1_3_VERSION);
	cr_assert_eq(ktls_conn_install(h.c), 0, "%s", h.c->reason);
	cr_assert_eq(ktls_conn_install(h.s), 0, "%s", h.s->reason);
	cr_expect_str_eq(ktls_conn_mode(h.s), "software");
	cr_expect_eq(h.c->priv->rx_secret_len, 0, "client: RX secret kept under --no-modules");
	cr_expect_eq(h.s->priv->rx_secret_len, 0, "server: RX secret kept under --no-modules");
	for (size_t i = 0; i < sizeof(h.s->priv->rx_secret); i++)
		cr_assert_eq(h.s->priv->rx_secret[i], 0, "secret byte %zu not wiped", i);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

Test(relay_secrets, software_only_relay_wipes_rx_secret, .fini = fini, .timeout = 60)
{
	char buf[4];
	int fd, i;

	tr_software_only = true;
	tr_setup(&env, TR_TLS13_AES128, true, false);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	cr_assert_eq(tr_send_op(fd, 'E', 0, 0), 0);
	cr_assert_eq(tr_write_all(fd, "ping", 4), 0);
	cr_assert_eq(tr_read_full(fd, buf, 4), 4);
	for (i = 0; i < 100 && !(tr_sessions[0].ups && tr_sessions[1].ups); i++)
		usleep(20000);
	cr_assert(tr_sessions[0].ups && tr_sessions[1].ups, "sessions did not come up");
	cr_assert_eq(tr_sessions[0].mode, RELAY_MODE_SOFTWARE);
	cr_expect_eq(tr_sessions[0].rx_secret_len, 0, "node 1 (client) keeps its RX secret");
	cr_expect_eq(tr_sessions[1].rx_secret_len, 0, "node 2 (server) keeps its RX secret");
	close(fd);
}
