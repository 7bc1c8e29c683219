/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The relay: carries an unmodified client's plaintext TCP connection to a
 * target on a peer node, over one data-plane connection per client
 * connection (1:1, so the bytes can be spliced, never read into userspace
 * when kernel TLS is on in both directions).
 *
 *   client --plain--> [route listener, this node] ==TLS 3342 (ine-dp/1)==>
 *   [peer agent: route header, allowlist] --plain--> target
 *
 * For a database with data_internode_encryption off the middle leg is
 * plaintext on ROUTE_PLAIN_PORT (3343, never 3342). See docs/relay.md.
 * Everything runs in the caller's event_base; nothing blocks.
 */
#ifndef INE_RELAY_H
#define INE_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "dp/route.h"

struct event_base;
struct relay;

#define RELAY_ALPN		"ine-dp/1"
#define RELAY_PIPE_SIZE		(1 << 20)	/* per direction, splice mode */
#define RELAY_BUF_SIZE		(64 << 10)	/* per direction, software TLS */
#define RELAY_SETUP_TIMEOUT_MS	10000		/* connect+handshake+header */
/*
 * A link that goes away and comes back (issue 20: <= 2 s to recover).
 * TCP alone keeps a connection through an outage and resends with
 * exponential back-off: after 30 s down the next retransmission was up to
 * 25 s away. So a data-plane socket with data unacknowledged for
 * RELAY_USER_TIMEOUT_MS (TCP_USER_TIMEOUT), or idle and unanswered to
 * keepalive probes, is dropped; both legs are reset, so the database sees
 * a cut stream, never a clean end, and reconnects (Redis: PSYNC). Shorter
 * outages ride on TCP: the back-off stays under the 2 s goal until then.
 * A connect gets a fresh SYN every RELAY_CONNECT_RETRY_MS rather than
 * SYN back-off (1, 3, 7 s...), so a route is up right after the link.
 */
#define RELAY_USER_TIMEOUT_MS	4000
#define RELAY_KEEPALIVE_IDLE_S	2
#define RELAY_KEEPALIVE_INTVL_S	1
#define RELAY_KEEPALIVE_CNT	2
#define RELAY_CONNECT_RETRY_MS	500

enum relay_mode {
	RELAY_MODE_SETUP,	/* handshaking / route header */
	RELAY_MODE_OFFLOADED,	/* kernel TLS both ways: splice */
	RELAY_MODE_SOFTWARE,	/* OpenSSL in userspace (at least one way) */
	RELAY_MODE_PLAINTEXT,	/* db encryption off: splice, no TLS */
};

const char *relay_mode_str(enum relay_mode m);

struct tls_conn;

/*
 * What the agent plugs in (may be NULL): a data-plane socket is up, with
 * its mode, or going away (before close): register it with ine.ko. tc is
 * the session (peer certificate, version, cipher), NULL for plaintext.
 * Kernel TLS is installed by ktls_conn_install() (ktls.h); the peer's
 * node id comes from the SSL_CTX's verify_peer (tls.h) and an outgoing
 * connection answered by a node other than the route's is refused.
 */
struct relay_hooks {
	bool software_only;	/* benchmarks: never install kernel TLS */
	unsigned int setup_timeout_ms;	/* 0: RELAY_SETUP_TIMEOUT_MS */
	void (*session)(void *arg, const struct tls_conn *tc, int fd, uint32_t db,
			uint32_t peer_node, enum relay_mode mode, bool up);
	/* Optional: an outgoing TLS connection is about to send its
	 * ClientHello on fd (register it with ine.ko now, HANDSHAKING, so an
	 * enforcing guard lets it out). session(up) follows once it is set up;
	 * a failed handshake just closes fd. */
	void (*connecting)(void *arg, int fd, uint32_t db, uint32_t peer_node);
	void *arg;
};

struct relay_stats {
	unsigned int conns;		/* all, any state, both roles */
	unsigned int setup;
	unsigned int offloaded;
	unsigned int software;
	unsigned int plaintext;
	unsigned int ktls_tx, ktls_rx;	/* connections with that direction on */
	uint64_t bytes_to_peer;		/* payload leaving via a data-plane socket */
	uint64_t bytes_from_peer;
	uint64_t sessions_offloaded;	/* cumulative, per mode at setup */
	uint64_t sessions_software;
	uint64_t sessions_plaintext;
	uint64_t refused;		/* route headers answered with an error */
	uint64_t resets;		/* connections aborted (RST both ends) */
	uint64_t disconnected;		/* closed by relay_apply_config */
	uint64_t key_limit_resets;	/* software sessions reset at the key limit */
};

/* client_ctx: tls_ctx_new(cfg, false) (tls.h policy); not owned. */
struct relay *relay_new(struct event_base *base, SSL_CTX *client_ctx,
			const struct relay_hooks *hooks);
void relay_free(struct relay *r);

/*
 * Outgoing connections made from now on use client_ctx (not owned), e.g.
 * after a certificate rotation or a customer upload.  Connections already
 * made keep theirs: each SSL holds a reference to the context it was made
 * from, so the caller may free the previous context right after this.
 */
void relay_set_client_ctx(struct relay *r, SSL_CTX *client_ctx);

/*
 * Install a new configuration. Builds the new tables and route listeners
 * completely first; on any error (named in the log and in err) nothing
 * changes. Then swaps them in and disconnects, at both ends, every active
 * connection of a db whose encryption setting changed and of a route or
 * target that was removed or changed; clients reconnect in the new mode.
 */
int relay_apply_config(struct relay *r, const struct relay_config *cfg,
		       char *err, size_t errlen);

/* Listen for plaintext data-plane connections (ine-plain; default 3343). */
int relay_listen_plain(struct relay *r, const char *addr, uint16_t port);

/*
 * Take over a data-plane connection whose server handshake finished
 * (ALPN ine-dp/1): owns tc and tc->fd from here. Matches
 * listener_handler_fn, with arg = the relay.
 */
void relay_accept_tls(void *relay, struct tls_conn *tc);

void relay_get_stats(const struct relay *r, struct relay_stats *st);

/* Reset the connection whose TLS leg is fd, both legs (the key-usage limit:
 * keylimit.h); -ENOENT if no connection has that fd. */
int relay_retire_fd(struct relay *r, int fd, const char *why);

/* Records per key after which a software-TLS connection is reset (ine.ko
 * does this for kernel TLS; it cannot count records OpenSSL writes).
 * 0: the default, INE_KEY_WARN_RECORDS_DEFAULT. */
void relay_set_key_limit(struct relay *r, uint64_t records);

#endif
