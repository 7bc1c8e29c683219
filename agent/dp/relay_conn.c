// SPDX-License-Identifier: GPL-2.0
/*
 * One relayed connection's lifecycle: what its events wait for,
 * allocation, the two ways it ends (graceful: queued bytes and FIN go out;
 * a reset: RST to both ends), its mode and what it tells the agent
 * (registration, kernel TLS).  Its event callback is relay_setup.c's.
 * See relay_internal.h for the map.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "dp/relay_internal.h"
#include "tls/ktls.h"
#include "tls/tls.h"

/* ---- events ---- */

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	char why[96];

	(void)fd;
	(void)what;
	if (c->st == CS_CONNECT && c->connect_err) {
		snprintf(why, sizeof(why), "setup timed out (connecting: %s)",
			 strerror(c->connect_err));
		relay_conn_abort(c, why);
		return;
	}
	relay_conn_abort(c, "setup timed out");
}

/* Wait on exactly `want` (EV_READ|EV_WRITE) for one side's socket. */
void relay_conn_want(struct conn *c, int side, short want)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct event *e = c->ev[side][i];
		short bit = i ? EV_WRITE : EV_READ;

		if (!e)
			continue;
		if ((want & bit) && !event_pending(e, bit, NULL))
			event_add(e, NULL);
		else if (!(want & bit) && event_pending(e, bit, NULL))
			event_del(e);
	}
}

short relay_tls_want(const struct tls_conn *tc, short dflt)
{
	if (tc->want == TLS_WANT_READ)
		return EV_READ;
	if (tc->want == TLS_WANT_WRITE)
		return EV_WRITE;
	return dflt;
}

/* ---- lifecycle ---- */

void relay_sock_peer_opts(int fd)
{
	int one = 1, ut = RELAY_USER_TIMEOUT_MS, idle = RELAY_KEEPALIVE_IDLE_S,
	    intvl = RELAY_KEEPALIVE_INTVL_S, cnt = RELAY_KEEPALIVE_CNT;

	/* Best effort, like TCP_NODELAY: without them a link flap only
	 * recovers slower, the stream stays correct. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void relay_sock_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void set_linger_off(int fd)
{
	struct linger lg = { .l_onoff = 0, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void relay_conn_free(struct conn *c, bool reset)
{
	struct relay *r = c->r;
	int i, j;

	if (c->registered && r->hooks.session)
		r->hooks.session(r->hooks.arg, c->tc, c->pfd, c->db, c->peer, c->mode, false);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if (c->ev[i][j])
				event_free(c->ev[i][j]);
	if (c->timer)
		event_free(c->timer);
	if (c->retry)
		event_free(c->retry);
	if (c->kick)
		event_free(c->kick);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++)
			if (c->d[i].pipe[j] >= 0)
				close(c->d[i].pipe[j]);
		free(c->d[i].buf);
		free(c->d[i].spill);
	}
	if (reset) {
		relay_sock_linger0(c->lfd);
		relay_sock_linger0(c->pfd);
		r->st.resets++;
	} else {
		/* graceful end: queued bytes and FIN go out (see relay_pump_start) */
		set_linger_off(c->lfd);
		set_linger_off(c->pfd);
	}
	tls_conn_free(c->tc);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->pfd >= 0)
		close(c->pfd);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->st.conns--;
	OPENSSL_cleanse(c->ctl, sizeof(c->ctl));
	free(c);
}

/* Resets propagate as resets: RST to both ends. */
void relay_conn_abort(struct conn *c, const char *why)
{
	log_info("relay: %s connection db %u %s node %u target '%s': %s, resetting",
	         c->client ? "route" : "incoming", c->db, c->client ? "to" : "from",
	         c->peer, c->client ? c->route.target : c->target.name, why);
	relay_conn_free(c, true);
}

struct conn *relay_conn_new(struct relay *r, bool client, int lfd, int pfd)
{
	struct conn *c = calloc(1, sizeof(*c));
	unsigned int ms = r->hooks.setup_timeout_ms ? r->hooks.setup_timeout_ms :
						     RELAY_SETUP_TIMEOUT_MS;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int i;

	if (!c)
		return NULL;
	c->r = r;
	c->client = client;
	c->lfd = lfd;
	c->pfd = pfd;
	for (i = 0; i < 2; i++)
		c->d[i].pipe[0] = c->d[i].pipe[1] = -1;
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->st.conns++;
	c->timer = evtimer_new(r->base, on_timeout, c);
	if (!c->timer || evtimer_add(c->timer, &tv)) {
		relay_conn_free(c, false);
		return NULL;
	}
	return c;
}

/* ---- setup ---- */

static enum relay_mode conn_mode(const struct conn *c)
{
	if (!c->tc)
		return RELAY_MODE_PLAINTEXT;
	return c->ktls_tx && c->ktls_rx ? RELAY_MODE_OFFLOADED : RELAY_MODE_SOFTWARE;
}

void relay_conn_register(struct conn *c)
{
	struct relay *r = c->r;

	c->mode = conn_mode(c);
	if (c->mode == RELAY_MODE_OFFLOADED)
		r->st.sessions_offloaded++;
	else if (c->mode == RELAY_MODE_SOFTWARE)
		r->st.sessions_software++;
	else
		r->st.sessions_plaintext++;
	if (r->hooks.session) {
		r->hooks.session(r->hooks.arg, c->tc, c->pfd, c->db, c->peer, c->mode, true);
		c->registered = true;
	}
}

/* kTLS after the handshake; directions left off run through OpenSSL. */
int relay_conn_offload(struct conn *c)
{
	int ret;

	if (c->r->hooks.software_only) {
		/* OpenSSL does both directions for good: the RX secret
		 * captured for a kernel install is not needed. */
		ktls_conn_wipe_secret(c->tc);
		ret = 0;
	} else {
		ret = ktls_conn_install(c->tc);
	}

	if (ret) {
		log_warn("relay: kernel TLS install with node %u failed: %s",
		         c->peer, c->tc->reason);
		return ret;
	}
	c->ktls_tx = c->tc->ktls_tx;
	c->ktls_rx = c->tc->ktls_rx;
	SSL_set_mode(c->tc->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}
