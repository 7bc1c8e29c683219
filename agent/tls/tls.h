/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tls.h - the one TLS policy of ine, and a non-blocking handshake.
 *
 * Policy (DESIGN.md "TLS"): TLS 1.2 ECDHE-RSA-AES{128,256}-GCM and TLS 1.3
 * TLS_AES_{128,256}_GCM; nothing else; key exchange over X25519 or P-256
 * only, RSA signatures (PSS; PKCS#1 v1.5 for TLS 1.2), security level 2.
 * Mutual authentication, no session
 * tickets, no renegotiation, no compression, SSL_OP_ENABLE_KTLS.  Both
 * planes share port 3342 and are told apart by ALPN:
 *
 *   "ine-cp/1"   control plane   client certificate required
 *   "ine-dp/1"   data plane      client certificate required
 *   "ine-join/1" control plane   no client certificate asked for; the
 *                                caller authenticates the join by token
 *
 * The server selects; a client offering nothing we know fails the handshake.
 *
 * Peer verification is two steps.  With cfg->trust set, OpenSSL verifies
 * the chain against it (so a foreign CA or an expired certificate fails);
 * with trust == NULL (customer certificates, pinned) only the leaf's
 * validity period is checked.  Then cfg->verify_peer (the PKI layer)
 * decides membership: cluster id, plane, node id, or the pin list.
 *
 * Usage (libevent):
 *   ctx = tls_ctx_new(&cfg, server);
 *   c = tls_conn_new(ctx, fd, server, TLS_ALPN_DP);   // fd non-blocking
 *   on readiness: r = tls_conn_handshake(c);
 *       r == -EAGAIN: wait for c->want (TLS_WANT_READ / TLS_WANT_WRITE)
 *       r < 0: fail; c->reason names the problem; tls_conn_free(c)
 *       r == 0: done; c->alpn, c->plane, c->peer_node_id, c->version,
 *               c->cipher are set; then ktls_conn_install(c) (ktls.h).
 */
#ifndef INE_TLS_H
#define INE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Same values as INE_PLANE_CONTROL / INE_PLANE_DATA in <linux/ine.h>. */
#define TLS_PLANE_CONTROL 1
#define TLS_PLANE_DATA    2

enum tls_alpn {
	TLS_ALPN_NONE = 0,
	TLS_ALPN_CP   = 1,	/* "ine-cp/1"   -> TLS_PLANE_CONTROL */
	TLS_ALPN_DP   = 2,	/* "ine-dp/1"   -> TLS_PLANE_DATA */
	TLS_ALPN_JOIN = 3,	/* "ine-join/1" -> TLS_PLANE_CONTROL, no client cert */
};

/* Bit for an ALPN in tls_config.accept_alpn (server side). */
#define TLS_ALPN_BIT(a) (1u << (a))

/*
 * Verify a peer that passed the chain check.  leaf is the peer's
 * certificate, chain what it sent (may be NULL), plane the plane of the
 * negotiated ALPN.  Return 0 and set *peer_node_id to accept; a negative
 * errno to refuse: -EACCES "not a member node of this cluster",
 * -EKEYREJECTED "certificate not pinned", -EPROTO "wrong plane",
 * anything else "rejected by the cluster's verifier".
 * Called from inside the handshake: must not block.
 */
typedef int (*tls_verify_peer_fn)(void *arg, X509 *leaf, STACK_OF(X509) *chain,
				  int plane, long *peer_node_id);

struct tls_config {
	X509 *cert;			/* own leaf; NULL only for a joining client */
	EVP_PKEY *key;			/* its RSA key */
	STACK_OF(X509) *chain;		/* intermediates sent after the leaf, or NULL */
	/*
	 * A node has one certificate per plane (CPINE, DPINE): when dp_cert is
	 * set it is presented on the data plane ("ine-dp/1") and cert on the
	 * control plane and joins; when NULL, cert serves both planes.  A
	 * server picks by the client's ALPN offer.
	 */
	X509 *dp_cert;
	EVP_PKEY *dp_key;
	STACK_OF(X509) *dp_chain;
	X509_STORE *trust;		/* cluster CA(s); NULL = pinned mode (see top) */
	tls_verify_peer_fn verify_peer;	/* NULL = chain check only (tests, join) */
	void *verify_arg;
	unsigned accept_alpn;		/* server: TLS_ALPN_BIT()s accepted; 0 = CP|DP */
	/*
	 * Userspace TLS only (tests, benchmarks, a "software" mode): without
	 * it OpenSSL offloads TX (and TLS 1.2 RX) by itself during the
	 * handshake, whether or not ktls_conn_install() is called.
	 */
	bool no_ktls;
};

enum tls_want { TLS_WANT_NONE = 0, TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };

/* Private to tls.c, ktls.c and tlsio.c. */
struct tls_conn_priv {
	uint8_t rx_secret[64];		/* TLS 1.3 peer application traffic secret */
	size_t rx_secret_len;		/* 0 = not captured (or wiped) */
	const struct tls_config *cfg;	/* the SSL_CTX's copy */
	bool verify_failed;		/* reason[] was set by a callback */
	bool close_rcvd, close_sent;
};

struct tls_conn {
	int fd;				/* not owned: tls_conn_free does not close it */
	SSL *ssl;
	bool server;
	enum tls_want want;		/* after -EAGAIN from handshake/io */
	enum tls_alpn alpn;		/* negotiated (client: the one offered) */
	int plane;			/* TLS_PLANE_* of alpn */
	long peer_node_id;		/* from verify_peer; -1 if none */
	int version;			/* TLS1_2_VERSION / TLS1_3_VERSION when done */
	const char *cipher;		/* OpenSSL name, e.g. "TLS_AES_128_GCM_SHA256" */
	bool done;
	bool ktls_tx, ktls_rx;		/* set by ktls_conn_install() */
	char reason[160];		/* why the last step failed, for logs */
	struct tls_conn_priv *priv;	/* captured traffic secret etc. (tls.c/ktls.c) */
};

/*
 * Process-wide: from now on no context offloads to the kernel and
 * ktls_conn_install() leaves every session in software (ined --no-modules
 * promises not to use the tls module even when it is loaded).  Call before
 * any context is made.
 */
void tls_kernel_tls_off(void);
bool tls_kernel_tls_is_off(void);

/* Build an SSL_CTX with the policy above.  NULL on error (logged). */
SSL_CTX *tls_ctx_new(const struct tls_config *cfg, bool server);
void tls_ctx_free(SSL_CTX *ctx);

/*
 * Wrap a connected, non-blocking socket (TCP_NODELAY is set on it: see tls.c).  Client: alpn is the one ALPN
 * offered.  Server: pass TLS_ALPN_NONE (the client's offer is matched
 * against cfg->accept_alpn).  NULL on allocation failure.
 */
struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd, bool server, enum tls_alpn alpn);

/* One handshake step: 0 done, -EAGAIN (see c->want), or -errno + c->reason. */
int tls_conn_handshake(struct tls_conn *c);

/* Frees SSL and wipes captured secrets; NULL-safe; leaves c->fd open. */
void tls_conn_free(struct tls_conn *c);

/* "ine-cp/1" etc.; NULL for TLS_ALPN_NONE. */
const char *tls_alpn_name(enum tls_alpn a);
int tls_alpn_plane(enum tls_alpn a);
/* "TLSv1.2"/"TLSv1.3" */
const char *tls_version_name(int version);

#endif
