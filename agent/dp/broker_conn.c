// SPDX-License-Identifier: GPL-2.0
/* broker_conn.c - one brokered connection: setup, hand-off, the agent's
 * reference, teardown (see broker_internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/crypto.h>

#include "dp/broker_internal.h"
#include "core/config.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "inenl/inenl.h"
#include "tls/ktls.h"
#include "dp/tls_keyguard.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

static void set_state(struct bconn *c, enum bst st)
{
	if (c->st == B_REQUEST && st != B_REQUEST)
		c->b->n_pending--;
	c->st = st;
}

/* Answer the app (fd < 0: an error) and drop the request socket. */
static void reply(struct bconn *c, int err, int fd, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply(struct bconn *c, int err, int fd, const char *fmt, ...)
{
	uint8_t buf[BROKER_REPLY_MAX];
	char msg[256] = "";
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	va_list ap;
	int n;

	if (c->ufd < 0)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (err)
		log_msg(LOG_LVL_WARN, "broker: refusing db %u target '%s' on node %u "
			"(uid %u): %s", c->req.db, c->req.name, c->req.node,
			(unsigned int)c->uid, msg);
	n = broker_reply_encode(err, err ? 0 : c->mode, msg, buf, sizeof(buf));
	if (n < 0)
		goto out;
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	if (!err && fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	}
	if (sendmsg(c->ufd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg(LOG_LVL_WARN, "broker: replying to the application: %s",
			strerror(errno));
out:
	close(c->ufd);
	c->ufd = -1;
}

void broker_conn_fail(struct bconn *c, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(c, err, -1, "%s", msg);
	broker_conn_free(c);
}

#define fail broker_conn_fail

void broker_conn_abort(struct bconn *c, const char *why)
{
	if (c->st != B_LIVE) {
		fail(c, -ECONNABORTED, "%s while connecting; connect again", why);
		return;
	}
	log_msg(LOG_LVL_INFO, "broker: %s: closing db %u's brokered connection to node %u",
		why, c->req.db, c->req.node);
	if (c->mode == BROKER_MODE_SOFTWARE)
		broker_pump_reset_app(c);
	/* Offloaded/plaintext: the app's reads end without a close_notify
	 * (ine_read: -ECONNRESET), its writes fail with EPIPE. */
	shutdown(c->pfd, SHUT_RDWR);
	broker_conn_free(c);
}

static void on_peer(evutil_socket_t fd, short what, void *arg);

static int watch(struct bconn *c, short what)
{
	if (c->ev)
		event_free(c->ev);
	c->ev = event_new(c->b->base, c->pfd, what, on_peer, c);
	return c->ev && !event_add(c->ev, NULL) ? 0 : -ENOMEM;
}

static void do_register(struct bconn *c)
{
	struct daemon *d = c->b->d;
	const struct config_node *n = config_node_find(daemon_config(d), c->req.node);
	static const uint8_t state[] = {
		[BROKER_MODE_OFFLOADED] = INE_STATE_OFFLOADED,
		[BROKER_MODE_SOFTWARE] = INE_STATE_SOFTWARE,
		[BROKER_MODE_PLAINTEXT] = INE_STATE_PLAINTEXT,
	};
	struct inenl_session_add a = {
		.fd = c->pfd, .plane = INE_PLANE_DATA, .state = state[c->mode],
		.db_id = c->req.db, .peer_node_id = c->req.node,
		.peer_name = n ? n->name : NULL,
	};
	int rc;

	if (!daemon_nl(d))
		return;
	rc = inenl_session_add(daemon_nl(d), &a, NULL);
	if (rc)
		log_msg(LOG_LVL_WARN, "broker: registering db %u session to node %u with "
			"ine.ko: %s", c->req.db, c->req.node, strerror(-rc));
	else
		c->registered = true;
}

/* ---- live (offloaded, plaintext): the agent's reference ---- */

static bool app_done(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	/* HUP: both directions are shut (the peer's FIN and the app's
	 * ine_shutdown/ine_close), or the connection is gone. */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void on_hup_poll(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;
	struct timeval tv = { 0, BROKER_HUP_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (app_done(c->pfd))
		broker_conn_free(c);
	else
		evtimer_add(c->timer, &tv);
}

static void on_closed(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;

	(void)fd;
	(void)what;
	/* RDHUP: the peer half-closed, or the app shut the socket down.  The
	 * app may still be writing (a half-close is not the end): keep the
	 * reference (registration, policy teardown) until both directions
	 * are done.  RDHUP stays set, so look by timer from now on. */
	event_del(c->ev);
	on_hup_poll(-1, 0, c);
}

static void set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* Route reply OK: hand the socket over and keep our reference. */
static void go_live(struct bconn *c)
{
	struct broker *b = c->b;
	const struct config_bdb *db = config_bdb_find(daemon_config(b->d), c->req.db);
	int afd = -1, rc;

	/* on_config fails setups whose db changed; this is the last line:
	 * never hand over a socket in a mode the live policy does not say. */
	if (!db || db->encrypt != c->encrypt) {
		fail(c, -ECONNABORTED, "db %u's data_internode_encryption changed while "
		     "connecting; connect again", c->req.db);
		return;
	}
	set_state(c, B_LIVE);
	if (c->timer)
		event_del(c->timer);
	if (c->mode != BROKER_MODE_SOFTWARE) {
		/* The kernel holds the keys now; drop OpenSSL's copy. */
		tls_conn_free(c->tc);
		c->tc = NULL;
		/* The app gets a blocking socket; the agent does no I/O on it. */
		set_blocking(c->pfd);
		if (c->ev)
			event_free(c->ev);
		c->ev = event_new(b->base, c->pfd, EV_CLOSED | EV_PERSIST, on_closed, c);
		if (!c->timer)
			c->timer = evtimer_new(b->base, on_hup_poll, c);
		else
			event_assign(c->timer, b->base, -1, 0, on_hup_poll, c);
		if (!c->ev || !c->timer || event_add(c->ev, NULL)) {
			fail(c, -ENOMEM, "out of memory");
			return;
		}
		reply(c, 0, c->pfd, "%s", c->mode == BROKER_MODE_OFFLOADED ?
		      "kernel TLS both ways" : "plaintext (db encryption off)");
		return;
	}
	rc = broker_pump_start(c, &afd);
	if (rc) {
		fail(c, rc, "software TLS: %s", strerror(-rc));
		return;
	}
	reply(c, 0, afd, "software TLS in the agent (no kernel TLS)");
	close(afd);
	broker_pump_run(c);
}

static int io(struct bconn *c, bool wr, void *buf, size_t len)
{
	ssize_t n;

	if (c->tc)
		n = wr ? tlsio_write(c->tc, buf, len) : tlsio_read(c->tc, buf, len);
	else if ((n = wr ? send(c->pfd, buf, len, MSG_NOSIGNAL) : recv(c->pfd, buf, len, 0)) < 0)
		n = -errno;
	if (n == 0 && !wr)
		return -ECONNRESET;
	return (int)n;
}

static short want_of(struct bconn *c, short dflt)
{
	if (c->tc && c->tc->want == TLS_WANT_WRITE)
		return EV_WRITE;
	if (c->tc && c->tc->want == TLS_WANT_READ)
		return EV_READ;
	return dflt;
}

static void step(struct bconn *c)
{
	char msg[256];
	uint8_t status;
	int rc, err = 0;
	socklen_t sl = sizeof(err);

	switch (c->st) {
	case B_REQUEST:
		return;
	case B_CONNECT:
		if (getsockopt(c->pfd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
			fail(c, -EHOSTUNREACH, "connecting to node %u's agent: %s",
			     c->req.node, strerror(err ? err : errno));
			return;
		}
		if (c->mode == BROKER_MODE_PLAINTEXT) {
			c->st = B_SEND_HDR;
			goto hdr;
		}
		c->tc = tls_conn_new(c->ctx, c->pfd, false, TLS_ALPN_DP);
		if (!c->tc) {
			fail(c, -ENOMEM, "out of memory");
			return;
		}
		c->st = B_HANDSHAKE;
		/* fall through */
	case B_HANDSHAKE:
		rc = tls_conn_handshake(c->tc);
		if (rc == -EAGAIN)
			goto wait;
		if (rc) {
			fail(c, -ECONNREFUSED, "TLS handshake with node %u: %s", c->req.node,
			     c->tc->reason);
			return;
		}
		if (c->tc->peer_node_id >= 0 && (uint32_t)c->tc->peer_node_id != c->req.node) {
			fail(c, -EACCES, "node %u's address answered as node %ld",
			     c->req.node, c->tc->peer_node_id);
			return;
		}
		rc = keyguard_ktls_install(c->tc);
		if (rc) {
			fail(c, rc, "kernel TLS install: %s", c->tc->reason);
			return;
		}
		c->mode = c->tc->ktls_tx && c->tc->ktls_rx ? BROKER_MODE_OFFLOADED :
							   BROKER_MODE_SOFTWARE;
		SSL_set_mode(c->tc->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
			     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		c->st = B_SEND_HDR;
hdr:
		do_register(c);
		/* fall through */
	case B_SEND_HDR:
		while (c->ctl_off < c->ctl_len) {
			rc = io(c, true, c->ctl + c->ctl_off, c->ctl_len - c->ctl_off);
			if (rc == -EAGAIN)
				goto wait_w;
			if (rc < 0) {
				fail(c, rc, "sending the route header to node %u: %s",
				     c->req.node, strerror(-rc));
				return;
			}
			c->ctl_off += (size_t)rc;
		}
		c->st = B_WAIT_REPLY;
		c->ctl_len = 0;
		/* fall through */
	case B_WAIT_REPLY:
		for (;;) {
			size_t need = route_reply_need(c->ctl, c->ctl_len);

			if (need <= c->ctl_len)
				break;
			rc = io(c, false, c->ctl + c->ctl_len, need - c->ctl_len);
			if (rc == -EAGAIN)
				goto wait;
			if (rc < 0) {
				fail(c, -ECONNRESET, "node %u closed before answering: %s",
				     c->req.node, strerror(-rc));
				return;
			}
			c->ctl_len += (size_t)rc;
		}
		if (route_reply_parse(c->ctl, c->ctl_len, &status, msg) <= 0) {
			fail(c, -EBADMSG, "node %u sent a malformed route reply", c->req.node);
			return;
		}
		if (status != ROUTE_OK) {
			static const int err_of[] = {
				[ROUTE_ERR_UNKNOWN_DB] = -ENOENT,
				[ROUTE_ERR_NOT_ALLOWED] = -EACCES,
				[ROUTE_ERR_MODE] = -EPROTO,
				[ROUTE_ERR_CONNECT] = -ECONNREFUSED,
				[ROUTE_ERR_BAD_HEADER] = -EBADMSG,
				[ROUTE_ERR_BUSY] = -EBUSY,
			};
			/* msg is the peer's text: printable ASCII only before
			 * it reaches the log and the app. */
			for (char *p = msg; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
					*p = '?';
			fail(c, status < __ROUTE_STATUS_MAX ? err_of[status] : -EPROTO,
			     "node %u refused: %s: %s", c->req.node, route_status_str(status),
			     msg);
			return;
		}
		go_live(c);
		return;
	case B_LIVE:
		return;
	}
	return;
wait:
	if (watch(c, want_of(c, EV_READ)))
		fail(c, -ENOMEM, "out of memory");
	return;
wait_w:
	if (watch(c, want_of(c, EV_WRITE)))
		fail(c, -ENOMEM, "out of memory");
}

static void on_peer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;

	(void)fd;
	(void)what;
	fail(c, -ETIMEDOUT, "no answer from node %u within %d s", c->req.node,
	     BROKER_SETUP_TIMEOUT_S);
}

static void do_connect(struct bconn *c)
{
	struct broker *b = c->b;
	const struct config *cfg = daemon_config(b->d);
	const struct config_node *n = config_node_find(cfg, c->req.node);
	const struct config_bdb *db = config_bdb_find(cfg, c->req.db);
	struct route_header h = { .db = c->req.db };
	struct sockaddr_storage ss;
	struct timeval tv = { BROKER_SETUP_TIMEOUT_S, 0 };
	char host[CONFIG_ADDR_MAX];
	uint16_t port = 0;
	socklen_t sl;
	int rc;

	if (!n || c->req.node == daemon_self(b->d)) {
		fail(c, -EHOSTUNREACH, "node %u is not a peer node of this cluster",
		     c->req.node);
		return;
	}
	if (!db) {
		fail(c, -ENOENT, "db %u is not configured", c->req.db);
		return;
	}
	if (config_hostport_parse(n->address, host, sizeof(host), &port) &&
	    snprintf(host, sizeof(host), "%s", n->address) >= (int)sizeof(host)) {
		fail(c, -EINVAL, "node %u's address '%s' is unusable", n->id, n->address);
		return;
	}
	c->encrypt = db->encrypt;
	c->mode = db->encrypt ? BROKER_MODE_NONE : BROKER_MODE_PLAINTEXT;
	if (db->encrypt) {
		/* A fresh context per setup: it has this moment's certificates
		 * (rotation), and it is this connection's alone. */
		c->ctx = b->ctx_new ? b->ctx_new(b->ctx_arg) : NULL;
		if (!c->ctx) {
			fail(c, -ENOKEY, "this node has no data-plane certificate yet "
			     "(not a cluster member?)");
			return;
		}
		port = port ? port : b->dp_port ? b->dp_port : ROUTE_DP_PORT;
	} else {
		port = b->plain_port ? b->plain_port : ROUTE_PLAIN_PORT;
	}
	if (route_sockaddr(host, port, &ss, &sl)) {
		fail(c, -EINVAL, "node %u's address '%s' is not numeric", n->id, host);
		return;
	}
	snprintf(h.name, sizeof(h.name), "%s", c->req.name);
	rc = route_header_encode(&h, c->ctl, sizeof(c->ctl));
	if (rc < 0) {
		fail(c, -EINVAL, "target name '%s' is invalid", c->req.name);
		return;
	}
	c->ctl_len = (size_t)rc;
	c->pfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->pfd < 0) {
		fail(c, -errno, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->pfd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail(c, -errno, "connecting to node %u (%s:%u): %s", n->id, host, port,
		     strerror(errno));
		return;
	}
	c->st = B_CONNECT;
	if (c->timer)
		event_free(c->timer);
	c->timer = evtimer_new(b->base, on_timeout, c);
	if (!c->timer || evtimer_add(c->timer, &tv) || watch(c, EV_WRITE))
		fail(c, -ENOMEM, "out of memory");
}

static void do_listen(struct bconn *c)
{
	struct broker *b = c->b;
	const struct config_bdb *db = config_bdb_find(daemon_config(b->d), c->req.db);
	const struct config_target *t = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (!db) {
		fail(c, -ENOENT, "db %u is not configured", c->req.db);
		return;
	}
	for (size_t i = 0; i < db->n_targets; i++)
		if (!strcmp(db->targets[i].name, c->req.name) &&
		    db->targets[i].node == daemon_self(b->d))
			t = &db->targets[i];
	if (!t) {
		fail(c, -EADDRNOTAVAIL, "db %u has no target '%s' on this node (%u)",
		     c->req.db, c->req.name, daemon_self(b->d));
		return;
	}
	if (route_sockaddr(t->host, t->port, &ss, &sl)) {
		fail(c, -EINVAL, "target '%s' address '%s' is not numeric", t->name, t->host);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 64)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		fail(c, -e, "listening on target '%s' (%s:%u): %s", t->name, t->host,
		     t->port, strerror(e));
		return;
	}
	c->mode = db->encrypt ? BROKER_MODE_OFFLOADED : BROKER_MODE_PLAINTEXT;
	reply(c, 0, fd, "listening on %s:%u", t->host, t->port);
	close(fd);
	broker_conn_free(c);
}

void broker_conn_start(struct bconn *c)
{
	set_state(c, B_CONNECT);	/* out of the unauthenticated pool */
	if (c->timer)
		event_del(c->timer);
	if (c->req.op == BROKER_OP_LISTEN)
		do_listen(c);
	else
		do_connect(c);
}
