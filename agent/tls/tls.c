// SPDX-License-Identifier: GPL-2.0
/*
 * tls.c - SSL_CTX policy, ALPN, peer verification hook, non-blocking
 * handshake.  See tls.h for the policy and the calling sequence.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tls/tls.h"

#define TLS12_CIPHERS	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
#define TLS13_SUITES	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
/*
 * Key exchange and signatures are pinned too, not left to openssl.cnf:
 * without this TLS 1.3 may negotiate a finite-field group (ffdhe2048 and up,
 * slow and weaker per bit) and either version any signature scheme the
 * build has.  Our keys are RSA: PSS for TLS 1.3 (it allows nothing else
 * for RSA), PKCS#1 v1.5 also for TLS 1.2 peers and certificate chains.
 * Security level 2: no RSA key or group under 112-bit strength.
 */
#define TLS_GROUPS	"X25519:P-256"
#define TLS_SIGALGS	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:" \
			"rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512"
#define TLS_SECLEVEL	2

/* ined --no-modules: no session of this process uses kernel TLS. */
static bool kernel_off;

void tls_kernel_tls_off(void)
{
	kernel_off = true;
}

bool tls_kernel_tls_is_off(void)
{
	return kernel_off;
}

static const char *const alpn_names[] = {
	[TLS_ALPN_CP] = "ine-cp/1",
	[TLS_ALPN_DP] = "ine-dp/1",
	[TLS_ALPN_JOIN] = "ine-join/1",
};
#define ALPN_MAX TLS_ALPN_JOIN

static int ctx_cfg_idx = -1, ssl_conn_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

static void ctx_cfg_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			 long argl, void *argp)
{
	struct tls_config *cfg = ptr;

	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (!cfg)
		return;
	X509_STORE_free(cfg->trust);
	X509_free(cfg->dp_cert);
	EVP_PKEY_free(cfg->dp_key);
	sk_X509_pop_free(cfg->dp_chain, X509_free);
	free(cfg);
}

static void idx_init(void)
{
	ctx_cfg_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_cfg_free);
	ssl_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

const char *tls_alpn_name(enum tls_alpn a)
{
	return (a > TLS_ALPN_NONE && a <= ALPN_MAX) ? alpn_names[a] : NULL;
}

int tls_alpn_plane(enum tls_alpn a)
{
	return a == TLS_ALPN_DP ? TLS_PLANE_DATA :
	       a == TLS_ALPN_NONE ? 0 : TLS_PLANE_CONTROL;
}

const char *tls_version_name(int version)
{
	return version == TLS1_3_VERSION ? "TLSv1.3" :
	       version == TLS1_2_VERSION ? "TLSv1.2" : "other";
}

static enum tls_alpn alpn_lookup(const unsigned char *p, size_t len)
{
	for (int a = 1; a <= ALPN_MAX; a++)
		if (strlen(alpn_names[a]) == len && !memcmp(alpn_names[a], p, len))
			return a;
	return TLS_ALPN_NONE;
}

static struct tls_conn *conn_of(const SSL *ssl)
{
	return SSL_get_ex_data(ssl, ssl_conn_idx);
}

static void conn_fail(struct tls_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void conn_fail(struct tls_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->priv->verify_failed)
		return;		/* keep the first, most specific reason */
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	c->priv->verify_failed = true;
}

/* ---- callbacks run inside the handshake -------------------------------- */

static unsigned accepted_alpns(const struct tls_config *cfg)
{
	return cfg->accept_alpn ? cfg->accept_alpn :
	       TLS_ALPN_BIT(TLS_ALPN_CP) | TLS_ALPN_BIT(TLS_ALPN_DP);
}

/* Present the data plane's own certificate when there is one. */
static int use_plane_identity(SSL *ssl, const struct tls_config *cfg, enum tls_alpn a)
{
	if (a != TLS_ALPN_DP || !cfg->dp_cert)
		return 1;
	return SSL_use_certificate(ssl, cfg->dp_cert) == 1 &&
	       SSL_use_PrivateKey(ssl, cfg->dp_key) == 1 &&
	       (!cfg->dp_chain || SSL_set1_chain(ssl, cfg->dp_chain) == 1);
}

/*
 * Server, first thing on a ClientHello: choose the ALPN (client preference
 * order, among those this listener accepts), and with it the certificate we
 * present and whether we require one from the client.  Nothing acceptable
 * (or no ALPN at all) ends the handshake with no_application_protocol.
 */
static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
	const struct tls_config *cfg = arg;
	struct tls_conn *c = conn_of(ssl);
	const unsigned char *p;
	size_t len, i = 2;
	enum tls_alpn a = TLS_ALPN_NONE;

	if (!c)
		return SSL_CLIENT_HELLO_ERROR;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation,
				       &p, &len)) {
		conn_fail(c, "client offered no ALPN (need ine-cp/1, ine-dp/1 or ine-join/1)");
		*al = TLS1_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (len >= 2 && (size_t)(p[0] << 8 | p[1]) == len - 2) {
		while (i < len) {
			size_t n = p[i];

			if (n == 0 || i + 1 + n > len)
				break;
			a = alpn_lookup(p + i + 1, n);
			if (a != TLS_ALPN_NONE && (accepted_alpns(cfg) & TLS_ALPN_BIT(a)))
				break;
			a = TLS_ALPN_NONE;
			i += 1 + n;
		}
	}
	if (a == TLS_ALPN_NONE) {
		conn_fail(c, "ALPN mismatch: client offered no protocol this server accepts");
		*al = TLS1_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	c->alpn = a;
	c->plane = tls_alpn_plane(a);
	/* A join is authenticated by token: ask for a certificate, don't require one. */
	SSL_set_verify(ssl, a == TLS_ALPN_JOIN ? SSL_VERIFY_PEER :
		       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (!use_plane_identity(ssl, cfg, a)) {
		conn_fail(c, "cannot load the data plane certificate");
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Select what client_hello_cb chose. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			  const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_conn *c = conn_of(ssl);
	const char *want = c ? tls_alpn_name(c->alpn) : NULL;
	unsigned int i = 0;

	(void)arg;
	while (want && i < inlen) {
		unsigned int n = in[i];

		if (n == 0 || i + 1 + n > inlen)
			break;
		if (n == strlen(want) && !memcmp(in + i + 1, want, n)) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	if (c)
		conn_fail(c, "ALPN mismatch: client offered no protocol this server accepts");
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static const char *verify_err_reason(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "peer certificate expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "peer certificate not yet valid";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return "peer certificate not from this cluster (unknown CA)";
	case X509_V_ERR_INVALID_PURPOSE:
		return "peer certificate not usable for TLS (extended key usage)";
	default:
		return NULL;
	}
}

static const char *verify_peer_reason(int rc)
{
	switch (rc) {
	case -EACCES:
		return "peer is not a member node of this cluster";
	case -EKEYREJECTED:
		return "peer certificate is not one of the pinned certificates";
	case -EPROTO:
		return "peer certificate is for the other plane";
	default:
		return "peer certificate rejected by the cluster's verifier";
	}
}

/* Replaces OpenSSL's chain check: chain (or validity only), then membership. */
static int cert_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	const struct tls_config *cfg = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = ssl ? conn_of(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	long node = -1;
	int rc;

	if (!c || !leaf)
		return 0;
	if (cfg->trust) {
		if (X509_verify_cert(xs) <= 0) {
			int err = X509_STORE_CTX_get_error(xs);
			const char *why = verify_err_reason(err);

			if (why)
				conn_fail(c, "%s", why);
			else
				conn_fail(c, "peer certificate invalid: %s",
					  X509_verify_cert_error_string(err));
			return 0;
		}
	} else {
		/* Pinned mode: the pin is the trust; the dates still count. */
		if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
			X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_HAS_EXPIRED);
			conn_fail(c, "peer certificate expired");
			return 0;
		}
		if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
			X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_NOT_YET_VALID);
			conn_fail(c, "peer certificate not yet valid");
			return 0;
		}
	}
	if (cfg->verify_peer) {
		rc = cfg->verify_peer(cfg->verify_arg, leaf, X509_STORE_CTX_get0_untrusted(xs),
				      c->plane, &node);
		if (rc < 0) {
			X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
			conn_fail(c, "%s", verify_peer_reason(rc));
			return 0;
		}
	}
	c->peer_node_id = node;
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

/*
 * TLS 1.3 key capture for kernel RX (OpenSSL 3.0 does not offload it).  We
 * keep only the peer's application traffic secret; OpenSSL wipes the line.
 */
static void keylog_cb(const SSL *ssl, const char *line)
{
	struct tls_conn *c = conn_of(ssl);
	const char *want, *p;
	size_t n = 0;

	if (!c)
		return;
	want = c->server ? "CLIENT_TRAFFIC_SECRET_0 " : "SERVER_TRAFFIC_SECRET_0 ";
	if (strncmp(line, want, strlen(want)))
		return;
	p = strchr(line + strlen(want), ' ');	/* skip the client random */
	if (!p)
		return;
	for (p++; p[0] && p[1] && n < sizeof(c->priv->rx_secret); p += 2) {
		int hi = OPENSSL_hexchar2int((unsigned char)p[0]),
		    lo = OPENSSL_hexchar2int((unsigned char)p[1]);

		if (hi < 0 || lo < 0)
			break;
		c->priv->rx_secret[n++] = (uint8_t)(hi << 4 | lo);
	}
	c->priv->rx_secret_len = (n == 32 || n == 48) ? n : 0;
	if (!c->priv->rx_secret_len)
		OPENSSL_cleanse(c->priv->rx_secret, sizeof(c->priv->rx_secret));
}

/* ---- context ---------------------------------------------------------- */

static void log_ssl_errors(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_err("tls: %s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

SSL_CTX *tls_ctx_new(const struct tls_config *cfg, bool server)
{
	struct tls_config *copy = NULL;
	SSL_CTX *ctx;
	const char *what;

	pthread_once(&idx_once, idx_init);
	if (ctx_cfg_idx < 0 || ssl_conn_idx < 0)
		return NULL;
	if (server && (!cfg->cert || !cfg->key)) {
		log_err("tls: a server needs a certificate and key");
		return NULL;
	}
	if (cfg->key && !EVP_PKEY_is_a(cfg->key, "RSA")) {
		log_err("tls: key is not RSA (the ECDHE-RSA suites need RSA keys)");
		return NULL;
	}
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		log_ssl_errors("SSL_CTX_new");
		return NULL;
	}
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		goto err_ctx;
	*copy = *cfg;
	copy->cert = NULL;	/* held by ctx itself; not needed afterwards */
	copy->key = NULL;
	copy->chain = NULL;
	copy->dp_cert = NULL;
	copy->dp_key = NULL;
	copy->dp_chain = NULL;
	copy->trust = NULL;
	if (!SSL_CTX_set_ex_data(ctx, ctx_cfg_idx, copy))
		goto err_copy;
	/* From here on ctx owns copy and what it references (ctx_cfg_free). */
	if (cfg->trust && X509_STORE_up_ref(cfg->trust))
		copy->trust = cfg->trust;
	if (cfg->dp_cert && cfg->dp_key && X509_up_ref(cfg->dp_cert) &&
	    EVP_PKEY_up_ref(cfg->dp_key)) {
		copy->dp_cert = cfg->dp_cert;
		copy->dp_key = cfg->dp_key;
		copy->dp_chain = cfg->dp_chain ? X509_chain_up_ref(cfg->dp_chain) : NULL;
	}
	if ((cfg->trust && !copy->trust) || (cfg->dp_cert && !copy->dp_cert)) {
		log_err("tls: out of memory");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cfg->dp_key && !EVP_PKEY_is_a(cfg->dp_key, "RSA")) {
		log_err("tls: data plane key is not RSA (the ECDHE-RSA suites need RSA keys)");
		SSL_CTX_free(ctx);
		return NULL;
	}

	what = "protocol versions";
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto err_ssl;
	what = "cipher suites";
	if (!SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES))
		goto err_ssl;
	what = "key exchange groups and signature algorithms";
	SSL_CTX_set_security_level(ctx, TLS_SECLEVEL);
	if (!SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) ||
	    !SSL_CTX_set1_sigalgs_list(ctx, TLS_SIGALGS) ||
	    !SSL_CTX_set1_client_sigalgs_list(ctx, TLS_SIGALGS))
		goto err_ssl;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_KTLS |
			    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_SSLv3 |
			    SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	if (cfg->no_ktls || kernel_off)
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * NO_AUTO_CHAIN: send our leaf and the chain we were given, nothing
	 * more.  Otherwise OpenSSL rebuilds our chain from the trust store
	 * on every handshake (an X509_verify_cert of our own certificate) and
	 * sends the CA itself, which the peer already has and must then parse.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);

	if (cfg->cert) {
		what = "own certificate and key";
		if (SSL_CTX_use_certificate(ctx, cfg->cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, cfg->key) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto err_ssl;
		what = "certificate chain";
		if (cfg->chain && SSL_CTX_set1_chain(ctx, cfg->chain) != 1)
			goto err_ssl;
	}
	if (cfg->trust)
		SSL_CTX_set1_cert_store(ctx, cfg->trust);

	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_cert_verify_callback(ctx, cert_verify_cb, copy);
	if (server) {
		SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, copy);
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, copy);
	}
	return ctx;

err_ssl:
	log_ssl_errors(what);
	SSL_CTX_free(ctx);
	return NULL;
err_copy:
	free(copy);
err_ctx:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* ---- connection ------------------------------------------------------- */

struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd, bool server, enum tls_alpn alpn)
{
	struct tls_conn *c;
	unsigned char wire[32];
	const char *name;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->priv = calloc(1, sizeof(*c->priv));
	if (!c->priv)
		goto err_c;
	c->fd = fd;
	c->server = server;
	/*
	 * OpenSSL writes each handshake message as its own record: with Nagle
	 * and delayed ACKs a TLS 1.2 handshake then stalls ~40 ms per flight
	 * (measured: 21 vs ~700 handshakes/s).  Internode traffic wants low
	 * latency anyway, and kTLS sends full records.  Not TCP: ignored.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->peer_node_id = -1;
	c->priv->cfg = SSL_CTX_get_ex_data(ctx, ctx_cfg_idx);
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		goto err_priv;
	if (!SSL_set_ex_data(c->ssl, ssl_conn_idx, c) || SSL_set_fd(c->ssl, fd) != 1)
		goto err_ssl;
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		name = tls_alpn_name(alpn);
		if (!name)
			goto err_ssl;
		wire[0] = (unsigned char)strlen(name);
		memcpy(wire + 1, name, wire[0]);
		if (SSL_set_alpn_protos(c->ssl, wire, wire[0] + 1u) != 0)
			goto err_ssl;
		c->alpn = alpn;
		c->plane = tls_alpn_plane(alpn);
		if (c->priv->cfg && !use_plane_identity(c->ssl, c->priv->cfg, alpn))
			goto err_ssl;
		SSL_set_connect_state(c->ssl);
	}
	return c;

err_ssl:
	SSL_free(c->ssl);
err_priv:
	free(c->priv);
err_c:
	free(c);
	return NULL;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	if (c->priv)
		OPENSSL_cleanse(c->priv, sizeof(*c->priv));
	free(c->priv);
	free(c);
}

/* Map OpenSSL's handshake failure to errno + a sentence. */
static int handshake_error(struct tls_conn *c, int ret)
{
	int err = SSL_get_error(c->ssl, ret);
	unsigned long e;
	int lib, reason;
	const char *why = NULL;
	int rc = -EPROTO;

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		c->want = err == SSL_ERROR_WANT_READ ? TLS_WANT_READ : TLS_WANT_WRITE;
		return -EAGAIN;
	}
	c->want = TLS_WANT_NONE;
	e = ERR_peek_last_error();
	lib = ERR_GET_LIB(e);
	reason = ERR_GET_REASON(e);
	if (c->priv->verify_failed) {
		rc = strstr(c->reason, "ALPN") ? -EPROTO : -EACCES;
		goto out;
	}
	if (err == SSL_ERROR_SYSCALL && !e) {
		rc = errno ? -errno : -ECONNRESET;
		snprintf(c->reason, sizeof(c->reason),
			 "connection closed during handshake (%s)", errno ? strerror(errno) : "EOF");
		goto out;
	}
	if (lib == ERR_LIB_SSL) {
		switch (reason) {
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_NO_PROTOCOLS_AVAILABLE:
		case SSL_R_VERSION_TOO_LOW:
			why = "protocol version not allowed (TLS 1.2 and 1.3 only)";
			break;
		case SSL_R_NO_SHARED_CIPHER:
		case SSL_R_NO_CIPHERS_AVAILABLE:
		case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		case SSL_R_WRONG_CIPHER_RETURNED:
			why = "no shared cipher suite (only the four AES-GCM suites are allowed)";
			break;
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
			why = "no client certificate";
			rc = -EACCES;
			break;
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
			why = "peer requires a client certificate and we have none";
			rc = -EACCES;
			break;
		case SSL_R_NO_APPLICATION_PROTOCOL:
		case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
			why = "ALPN mismatch: peer accepts none of the protocols offered";
			break;
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
			why = "peer refused our certificate (not from its cluster, or not a member)";
			rc = -EACCES;
			break;
		case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
			why = "peer says our certificate expired";
			rc = -EACCES;
			break;
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
			why = "peer certificate verification failed";
			rc = -EACCES;
			break;
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			why = "connection closed during handshake";
			rc = -ECONNRESET;
			break;
		default:
			break;
		}
	}
	if (why)
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	else
		snprintf(c->reason, sizeof(c->reason), "handshake failed: %s",
			 e ? ERR_reason_error_string(e) : "unknown error");
out:
	ERR_clear_error();
	return rc;
}

static bool cipher_allowed(const SSL_CIPHER *ciph, int version)
{
	uint32_t id = ciph ? SSL_CIPHER_get_id(ciph) : 0;

	if (version == TLS1_3_VERSION)
		return id == TLS1_3_CK_AES_128_GCM_SHA256 || id == TLS1_3_CK_AES_256_GCM_SHA384;
	return id == TLS1_CK_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ||
	       id == TLS1_CK_ECDHE_RSA_WITH_AES_256_GCM_SHA384;
}

/* The checks that must hold whatever OpenSSL's configuration says. */
static int handshake_check(struct tls_conn *c)
{
	const unsigned char *sel = NULL;
	unsigned int sel_len = 0;
	enum tls_alpn a;

	c->version = SSL_version(c->ssl);
	c->cipher = SSL_get_cipher_name(c->ssl);
	if (c->version != TLS1_2_VERSION && c->version != TLS1_3_VERSION) {
		snprintf(c->reason, sizeof(c->reason), "protocol version not allowed (%s)",
			 SSL_get_version(c->ssl));
		return -EPROTO;
	}
	if (!cipher_allowed(SSL_get_current_cipher(c->ssl), c->version)) {
		snprintf(c->reason, sizeof(c->reason), "cipher suite not allowed (%s)",
			 c->cipher ? c->cipher : "none");
		return -EPROTO;
	}
	SSL_get0_alpn_selected(c->ssl, &sel, &sel_len);
	a = sel ? alpn_lookup(sel, sel_len) : TLS_ALPN_NONE;
	if (a == TLS_ALPN_NONE || (!c->server && a != c->alpn)) {
		snprintf(c->reason, sizeof(c->reason),
			 "ALPN mismatch: peer selected %s", sel ? "another protocol" : "none");
		return -EPROTO;
	}
	c->alpn = a;
	c->plane = tls_alpn_plane(a);
	/* Central rule: only a join may go without a client certificate. */
	if (c->server && a != TLS_ALPN_JOIN && !SSL_get0_peer_certificate(c->ssl)) {
		snprintf(c->reason, sizeof(c->reason), "no client certificate");
		return -EACCES;
	}
	if (SSL_get0_peer_certificate(c->ssl) && SSL_get_verify_result(c->ssl) != X509_V_OK) {
		snprintf(c->reason, sizeof(c->reason), "peer certificate verification failed");
		return -EACCES;
	}
	if (!c->server && !SSL_get0_peer_certificate(c->ssl)) {
		snprintf(c->reason, sizeof(c->reason), "server sent no certificate");
		return -EACCES;
	}
	return 0;
}

int tls_conn_handshake(struct tls_conn *c)
{
	int ret, rc;

	if (c->done)
		return 0;
	ERR_clear_error();
	ret = SSL_do_handshake(c->ssl);
	if (ret != 1)
		return handshake_error(c, ret);
	c->want = TLS_WANT_NONE;
	rc = handshake_check(c);
	if (rc < 0) {
		OPENSSL_cleanse(c->priv->rx_secret, sizeof(c->priv->rx_secret));
		c->priv->rx_secret_len = 0;
		return rc;
	}
	c->done = true;
	return 0;
}
