/* SPDX-License-Identifier: GPL-2.0 */
/* daemon_relay.h — the daemon's data plane: keeps the relay in step with
 * the configuration and registers its sessions with ine.ko.
 *
 * Before a configuration is swapped in, its relay view for this node must
 * build (config_relay_build + route_table_build): otherwise the change is
 * refused and nothing moves.  After the swap relay_apply_config installs
 * it (disconnecting the databases whose encryption changed); a failure
 * there (e.g. a route port already taken) is logged and raised as an
 * alert, and the relay keeps its previous tables.
 *
 * Data-plane sessions go to ine.ko's registry when it is loaded, else to a
 * small table of the agent's own for GET /v1/status. */
#ifndef INE_DAEMON_RELAY_H
#define INE_DAEMON_RELAY_H

#include <stdint.h>
#include "daemon/daemon.h"
#include <openssl/ssl.h>

#include "dp/relay.h"

struct daemon_relay;

/* Hooks to pass to relay_new(); arg must be the daemon_relay. */
void daemon_relay_hooks(struct relay_hooks *h, struct daemon_relay *dr);

/* Allocate the glue (before relay_new, for its hooks). */
int daemon_relay_new(struct daemon *d, struct daemon_relay **out);
/* Bind the relay: applies the live configuration now and every later one. */
int daemon_relay_attach(struct daemon_relay *dr, struct relay *r);
void daemon_relay_free(struct daemon_relay *dr);

/* The data plane comes up with membership: when the control plane opens
 * (or reopens) port 3342, create the relay on first use with a client
 * SSL_CTX from ctx_new(ctx_arg) (this node's credentials; owned by the
 * glue), listen for plaintext data-plane connections on this node's
 * address, and hand "ine-dp/1" connections on `l` to the relay. */
struct listener;
void daemon_relay_ctx_source(struct daemon_relay *dr, SSL_CTX *(*ctx_new)(void *arg),
			     void *arg);
int daemon_relay_listener(struct daemon_relay *dr, struct listener *l);
/* This node's certificates changed: makes a client context from them
 * (ctx_source) for new outgoing data-plane connections; those up keep the
 * old certificate until they close. */
void daemon_relay_pki_changed(struct daemon_relay *dr);
/* Records per key for software-TLS connections (relay_set_key_limit). */
void daemon_relay_key_limit(struct daemon_relay *dr, uint64_t records);
uint64_t daemon_relay_key_limit_resets(const struct daemon_relay *dr);

/* The last relay_apply_config error, "" when none (for alerts). */
const char *daemon_relay_error(const struct daemon_relay *dr);

#endif /* INE_DAEMON_RELAY_H */
