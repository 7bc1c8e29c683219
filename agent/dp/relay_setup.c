// SPDX-License-Identifier: GPL-2.0
/*
 * Connection setup, both roles: the client connects to the peer agent,
 * handshakes and sends the route header; the server reads the header,
 * checks it against the allowlist, connects to the target and replies.
 * Control bytes are read exactly (never a payload byte), so the pump
 * starts on a clean stream.
 * See relay_internal.h for the map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "dp/relay_internal.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

/* ---- small I/O on the peer socket during setup ---- */

/* Setup-time I/O on the peer socket: >0 bytes, -EAGAIN (*wait set), <0. */
static ssize_t peer_io(struct conn *c, bool wr, void *buf, size_t len, short *wait)
{
	ssize_t n;

	/* tlsio reads kernel TLS a record at a time, 2 bytes at least. */
	if (c->tc && !(!wr && c->ktls_rx && len < 2)) {
		n = wr ? tlsio_write(c->tc, buf, len) : tlsio_read(c->tc, buf, len);
		if (n == -EAGAIN)
			*wait = relay_tls_want(c->tc, wr ? EV_WRITE : EV_READ);
		return n == 0 ? -ECONNRESET : n;
	}
	n = wr ? send(c->pfd, buf, len, MSG_NOSIGNAL) : recv(c->pfd, buf, len, 0);
	if (n > 0)
		return n;
	if (n == 0)
		return -ECONNRESET;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		*wait = wr ? EV_WRITE : EV_READ;
		return -EAGAIN;
	}
	return -errno;
}

/* Read exactly the bytes `need` asks for, never more (no payload). */
static int ctl_read(struct conn *c, size_t (*need)(const uint8_t *, size_t))
{
	for (;;) {
		size_t want = need(c->ctl, c->ctl_len);
		short wait = EV_READ;
		ssize_t n;

		if (c->ctl_len >= want)
			return 0;
		n = peer_io(c, false, c->ctl + c->ctl_len, want - c->ctl_len, &wait);
		if (n == -EAGAIN) {
			relay_conn_want(c, 1, wait);
			return -EAGAIN;
		}
		if (n < 0)
			return n;
		c->ctl_len += n;
	}
}

static int ctl_write(struct conn *c)
{
	while (c->ctl_off < c->ctl_len) {
		short wait = EV_WRITE;
		ssize_t n = peer_io(c, true, c->ctl + c->ctl_off,
				    c->ctl_len - c->ctl_off, &wait);

		if (n == -EAGAIN) {
			relay_conn_want(c, 1, wait);
			return -EAGAIN;
		}
		if (n < 0)
			return n;
		c->ctl_off += n;
	}
	relay_conn_want(c, 1, 0);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int ret;

	(void)fd;
	(void)what;
	if (c->st != CS_CONNECT)
		return;
	ret = relay_conn_connect(c);
	if (ret) {
		char why[96];

		snprintf(why, sizeof(why), "to node %u: %s", c->peer, strerror(-ret));
		relay_conn_abort(c, why);
	}
}

int relay_conn_connect(struct conn *c)
{
	struct timeval tv = { RELAY_CONNECT_RETRY_MS / 1000,
			      (RELAY_CONNECT_RETRY_MS % 1000) * 1000 };
	int i, fd;

	/* A SYN lost to a link that was down is resent by TCP only after 1,
	 * then 3, then 7 s: a fresh socket every retry tick is sooner. */
	if (c->pfd >= 0) {
		for (i = 0; i < 2; i++)
			if (c->ev[1][i]) {
				event_free(c->ev[1][i]);
				c->ev[1][i] = NULL;
			}
		close(c->pfd);
		c->pfd = -1;
	}
	fd = socket(c->paddr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->pfd = fd;
	relay_sock_peer_opts(fd);
	if (relay_conn_events_init(c, 1))
		return -ENOMEM;
	if (!c->retry)
		c->retry = evtimer_new(c->r->base, on_retry, c);
	if (!c->retry || evtimer_add(c->retry, &tv))
		return -ENOMEM;
	c->st = CS_CONNECT;
	if (connect(fd, (struct sockaddr *)&c->paddr, c->paddr_len) && errno != EINPROGRESS) {
		c->connect_err = errno;
		return 0;	/* the retry timer tries again */
	}
	relay_conn_want(c, 1, EV_WRITE);
	return 0;
}

static int client_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->pfd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err) {
		/* Refused, unreachable, a link down: the retry timer tries
		 * again until the setup timeout, which names this error. */
		c->connect_err = err;
		return -EAGAIN;
	}
	evtimer_del(c->retry);
	if (c->plaintext) {
		c->st = CS_SEND_HDR;
		relay_conn_register(c);
		return 0;
	}
	c->tc = tls_conn_new(c->r->cctx, c->pfd, false, TLS_ALPN_DP);
	if (!c->tc)
		return -ENOMEM;
	if (c->r->hooks.connecting)
		c->r->hooks.connecting(c->r->hooks.arg, c->pfd, c->db, c->peer);
	c->st = CS_HANDSHAKE;
	return 0;
}

static int client_handshake(struct conn *c)
{
	int ret = tls_conn_handshake(c->tc);

	if (ret == -EAGAIN) {
		relay_conn_want(c, 1, relay_tls_want(c->tc, EV_READ));
		return ret;
	}
	if (ret) {
		log_warn("relay: handshake with node %u failed: %s", c->peer,
		         c->tc->reason);
		return ret;
	}
	relay_conn_want(c, 1, 0);
	if (c->tc->alpn != TLS_ALPN_DP) {
		log_warn("relay: node %u did not select ALPN %s", c->peer,
		         RELAY_ALPN);
		return -EPROTO;
	}
	/* The certificate proves which node answered (when a verifier is set). */
	if (c->tc->peer_node_id >= 0 && (uint32_t)c->tc->peer_node_id != c->peer) {
		log_warn("relay: node %u's address answered as node %ld",
		         c->peer, c->tc->peer_node_id);
		return -EACCES;
	}
	ret = relay_conn_offload(c);
	if (ret)
		return ret;
	relay_conn_register(c);
	c->st = CS_SEND_HDR;
	return 0;
}

/* The pump waits on the local side too: the client has no events there
 * yet (the server made them for its target connect). */
static int pump_start(struct conn *c)
{
	if (!c->ev[0][0] && relay_conn_events_init(c, 0))
		return -ENOMEM;
	return relay_pump_start(c);
}

static void client_step(struct conn *c)
{
	char msg[256];
	uint8_t status;
	int ret = 0;

	switch (c->st) {
	case CS_CONNECT:
		relay_conn_want(c, 1, 0);
		ret = client_connected(c);
		if (ret)
			break;
		/* fall through */
	case CS_HANDSHAKE:
		if (c->st == CS_HANDSHAKE) {
			ret = client_handshake(c);
			if (ret)
				break;
		}
		/* fall through */
	case CS_SEND_HDR:
		ret = ctl_write(c);
		if (ret)
			break;
		c->st = CS_WAIT_REPLY;
		c->ctl_len = 0;
		/* fall through */
	case CS_WAIT_REPLY:
		ret = ctl_read(c, route_reply_need);
		if (ret)
			break;
		ret = route_reply_parse(c->ctl, c->ctl_len, &status, msg);
		if (ret <= 0) {
			ret = -EBADMSG;
			break;
		}
		if (status != ROUTE_OK) {
			char why[400];

			snprintf(why, sizeof(why), "refused by node %u: %s: %s", c->peer,
				 route_status_str(status), msg);
			relay_conn_abort(c, why);
			return;
		}
		ret = pump_start(c);
		if (ret)
			break;
		relay_pump(c);
		return;
	default:
		relay_pump(c);
		return;
	}
	if (ret && ret != -EAGAIN) {
		char why[96];

		snprintf(why, sizeof(why), "to node %u: %s", c->peer, strerror(-ret));
		relay_conn_abort(c, why);
	}
}

static void server_reply(struct conn *c, enum route_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void server_reply(struct conn *c, enum route_status st, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st != ROUTE_OK) {
		log_warn("relay: refusing connection from node %u: %s", c->peer,
		         msg);
		c->r->st.refused++;
	}
	n = route_reply_encode(st, msg, c->ctl, sizeof(c->ctl));
	c->ctl_len = n > 0 ? (size_t)n : 0;
	c->ctl_off = 0;
	c->st = st == ROUTE_OK ? CS_SEND_REPLY : CS_SEND_ERR;
}

/* Check the route header against the allowlist; start the target connect. */
static int server_route(struct conn *c)
{
	struct relay *r = c->r;
	const struct relay_config_target *t;
	const struct relay_config_db *db;
	struct route_header h;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint32_t self = route_table_self(r->table);
	int fd;

	if (route_header_parse(c->ctl, c->ctl_len, &h) <= 0) {
		server_reply(c, ROUTE_ERR_BAD_HEADER, "malformed route header");
		return 0;
	}
	c->db = h.db;
	snprintf(c->target.name, sizeof(c->target.name), "%s", h.name);
	db = route_table_db(r->table, h.db);
	if (!db) {
		server_reply(c, ROUTE_ERR_UNKNOWN_DB, "db %u is not configured on node %u",
			     h.db, self);
		return 0;
	}
	c->enc = db->data_internode_encryption;
	/* Never a downgrade: an encrypted db's targets are TLS-only. */
	if (c->plaintext && c->enc) {
		server_reply(c, ROUTE_ERR_MODE,
			     "db %u requires encryption; plaintext connection refused", h.db);
		return 0;
	}
	t = route_table_target(r->table, h.db, h.name);
	if (!t) {
		server_reply(c, ROUTE_ERR_NOT_ALLOWED,
			     "target '%s' is not allowed for db %u on node %u", h.name,
			     h.db, self);
		return 0;
	}
	c->target = *t;
	if (route_sockaddr(t->addr, t->port, &ss, &sl))
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		server_reply(c, ROUTE_ERR_BUSY, "socket: %s", strerror(errno));
		return 0;
	}
	c->lfd = fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		server_reply(c, ROUTE_ERR_CONNECT, "target '%s' (%s:%u) of db %u: %s",
			     t->name, t->addr, t->port, h.db, strerror(errno));
		return 0;
	}
	c->st = CS_TARGET_CONNECT;
	return relay_conn_events_init(c, 0);
}

static void server_step(struct conn *c)
{
	int ret = 0, err = 0;
	socklen_t len = sizeof(err);

	switch (c->st) {
	case CS_READ_HDR:
		ret = ctl_read(c, route_header_need);
		if (ret == -EAGAIN)
			return;
		if (!ret) {
			relay_conn_want(c, 1, 0);
			ret = server_route(c);
		}
		if (ret || c->st != CS_TARGET_CONNECT)
			break;
		relay_conn_want(c, 0, EV_WRITE);
		return;
	case CS_TARGET_CONNECT:
		relay_conn_want(c, 0, 0);
		if (getsockopt(c->lfd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			server_reply(c, ROUTE_ERR_CONNECT, "target '%s' (%s:%u) of db %u: %s",
				     c->target.name, c->target.addr, c->target.port, c->db,
				     strerror(err ? err : errno));
		} else {
			server_reply(c, ROUTE_OK, NULL);
		}
		break;
	case CS_PUMP:
		relay_pump(c);
		return;
	default:
		break;
	}
	if (!ret && (c->st == CS_SEND_REPLY || c->st == CS_SEND_ERR)) {
		ret = ctl_write(c);
		if (!ret && c->st == CS_SEND_REPLY) {
			ret = pump_start(c);
			if (!ret) {
				relay_pump(c);
				return;
			}
		} else if (!ret) {
			/* Error told; end cleanly so the reason arrives. */
			if (c->tc)
				tlsio_shutdown(c->tc);
			relay_conn_free(c, false);
			return;
		}
	}
	if (ret && ret != -EAGAIN) {
		char why[96];

		snprintf(why, sizeof(why), "%s", strerror(-ret));
		relay_conn_abort(c, why);
	}
}

void relay_conn_step(struct conn *c)
{
	if (c->client)
		client_step(c);
	else
		server_step(c);
}

/* ---- the connection's events ---- */

/* Socket events run the setup state machine, which hands over to the
 * pump once set up: the callback lives here, above the pump and the
 * lifecycle (relay_conn.c), so neither calls up into setup. */
static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (fd >= 0 && fd == c->lfd)
		c->fired[0] |= what;
	else if (fd >= 0 && fd == c->pfd)
		c->fired[1] |= what;
	relay_conn_step(c);
}

int relay_conn_events_init(struct conn *c, int side)
{
	int fd = side ? c->pfd : c->lfd;

	c->ev[side][0] = event_new(c->r->base, fd, EV_READ | EV_PERSIST, on_event, c);
	c->ev[side][1] = event_new(c->r->base, fd, EV_WRITE | EV_PERSIST, on_event, c);
	return c->ev[side][0] && c->ev[side][1] ? 0 : -ENOMEM;
}
