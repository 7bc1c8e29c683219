// SPDX-License-Identifier: GPL-2.0
/* cp_tls.c — the control plane's TLS: contexts for this node's current
 * credentials (member client, port 3342's server, the joiner's), and port
 * 3342's listener, which follows the PKI generation and hands connections
 * to the protocols cp.c names in cp->protos. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "tls/listener.h"

/* ------------------------------------------------------------ TLS contexts */

static int verify_peer_cb(void *arg, X509 *leaf, STACK_OF(X509) *chain,
			  int plane, long *peer_node_id)
{
	struct cp *cp = arg;
	struct pki_err perr = { "" };
	struct pki_trust *t;
	uint32_t id = 0;
	int ret;

	if (!cp_pki_cur(cp))
		return -EACCES;
	t = pki_state_trust(cp_pki_cur(cp));
	if (!t)
		return -EACCES;
	ret = pki_verify_peer(t, leaf, chain, (enum pki_plane)plane,
			      clock_now(), &id, &perr);
	pki_trust_put(t);
	if (ret < 0) {
		log_warn("control plane: peer refused: %s", perr.msg);
		return ret;
	}
	*peer_node_id = id;
	return 0;
}

SSL_CTX *cp_tls_ctx_new(struct cp *cp, bool server)
{
	STACK_OF(X509) *chain = NULL, *dp_chain = NULL;
	EVP_PKEY *key = NULL, *dp_key = NULL;
	X509 *cert = NULL, *dp_cert = NULL;
	struct tls_config cfg = { 0 };
	SSL_CTX *ctx = NULL;

	if (!cp_pki_cur(cp) ||
	    pki_state_credentials(cp_pki_cur(cp), PKI_PLANE_CP, &cert, &key, &chain) < 0 ||
	    pki_state_credentials(cp_pki_cur(cp), PKI_PLANE_DP, &dp_cert, &dp_key,
				  &dp_chain) < 0)
		goto out;
	cfg.cert = cert;
	cfg.key = key;
	cfg.chain = chain && sk_X509_num(chain) ? chain : NULL;
	cfg.dp_cert = dp_cert;
	cfg.dp_key = dp_key;
	cfg.dp_chain = dp_chain && sk_X509_num(dp_chain) ? dp_chain : NULL;
	cfg.trust = NULL;	/* pki_verify_peer checks CA or pins itself */
	cfg.verify_peer = verify_peer_cb;
	cfg.verify_arg = cp;
	cfg.accept_alpn = TLS_ALPN_BIT(TLS_ALPN_CP) | TLS_ALPN_BIT(TLS_ALPN_DP) |
			  TLS_ALPN_BIT(TLS_ALPN_JOIN);
	ctx = tls_ctx_new(&cfg, server);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	X509_free(dp_cert);
	EVP_PKEY_free(dp_key);
	sk_X509_pop_free(dp_chain, X509_free);
	return ctx;
}

SSL_CTX *cp_tls_join_ctx_new(void)
{
	struct tls_config cfg = { 0 };

	return tls_ctx_new(&cfg, false);
}

/* The member client context follows the PKI generation. */
SSL_CTX *cp_client_ctx(struct cp *cp)
{
	uint64_t gen;

	if (!cp_pki_cur(cp))
		return NULL;
	gen = pki_state_generation(cp_pki_cur(cp));
	if (!cp->client_ctx || cp->client_ctx_gen != gen) {
		SSL_CTX *ctx = cp_tls_ctx_new(cp, false);

		if (!ctx)
			return cp->client_ctx;	/* keep the previous one */
		tls_ctx_free(cp->client_ctx);
		cp->client_ctx = ctx;
		cp->client_ctx_gen = gen;
	}
	return cp->client_ctx;
}

void cp_notify_pki(struct cp *cp)
{
	cp->published_gen = pki_state_generation(cp_pki_cur(cp));
	cp_listener_sync(cp);
	if (cp->hooks.pki_changed)
		cp->hooks.pki_changed(cp->hooks.arg);
}

/* ------------------------------------------------------------ port 3342 */

struct listener *cp_listener(struct cp *cp) { return cp->listener; }

/* Port 3342 with a context for our current certificates.  A rotation only
 * swaps the context new handshakes use: the listening socket stays open, so
 * a member connecting at that moment is never refused, and handshakes in
 * progress finish with the context they started with (each SSL holds a
 * reference to its own).  Only a change of address re-opens the port. */
/* Whoever was told of the listener forgets it before it goes. */
void cp_listener_drop(struct cp *cp)
{
	if (!cp->listener)
		return;
	if (cp->hooks.listener_changed)
		cp->hooks.listener_changed(cp->hooks.arg, NULL);
	listener_free(cp->listener);
	cp->listener = NULL;
}

void cp_listener_sync(struct cp *cp)
{
	const struct cp_proto *proto;
	const struct config_node *me;
	const char *addr;
	struct listener *l;
	SSL_CTX *ctx;
	uint64_t gen;

	if (!cp_pki_cur(cp))
		return;
	gen = pki_state_generation(cp_pki_cur(cp));
	if (cp->listener && cp->server_ctx_gen == gen)
		return;
	me = config_node_find(cp_live(cp), cp_node_id(cp));
	ctx = cp_tls_ctx_new(cp, true);
	if (!ctx || !me) {
		log_err("control plane: no TLS context for port %u", cp->port);
		tls_ctx_free(ctx);
		return;
	}
	addr = cp->bind_addr[0] ? cp->bind_addr : me->address;
	if (cp->listener && !strcmp(cp->listen_addr, addr)) {
		listener_set_ctx(cp->listener, ctx);
		tls_ctx_free(cp->server_ctx);
		cp->server_ctx = ctx;
		cp->server_ctx_gen = gen;
		log_info("control plane: port %u serves the new certificates", cp->port);
		return;
	}
	cp_listener_drop(cp);
	l = listener_new(cp->base, ctx, addr, cp->port, NULL);
	if (!l) {
		log_err("control plane: cannot listen on %s port %u", addr, cp->port);
		tls_ctx_free(ctx);
		return;
	}
	listener_set_inenl(l, cp->nl);
	for (proto = cp->protos; proto && proto->alpn; proto++)
		if (listener_set_handler(l, proto->alpn, proto->accept, cp) < 0)
			break;
	if (proto && proto->alpn) {
		listener_free(l);
		tls_ctx_free(ctx);
		return;
	}
	tls_ctx_free(cp->server_ctx);
	cp->server_ctx = ctx;
	cp->server_ctx_gen = gen;
	cp->listener = l;
	snprintf(cp->listen_addr, sizeof(cp->listen_addr), "%s", addr);
	log_info("control plane: listening on %s port %u", addr, cp->port);
	if (cp->hooks.listener_changed)
		cp->hooks.listener_changed(cp->hooks.arg, l);
}

