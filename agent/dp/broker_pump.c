// SPDX-License-Identifier: GPL-2.0
/*
 * broker_pump.c - software mode (no kernel TLS): the app gets one end of a
 * loopback TCP connection, the agent pumps the other end through OpenSSL.
 *
 * Why TCP and not a socketpair: the app must be able to tell a clean end
 * from a cut one without knowing the mode.  The peer's close_notify becomes
 * a FIN (read() returns 0); a truncation, a TLS error, the key limit or a
 * policy teardown becomes a reset (SO_LINGER 0: read() fails with
 * ECONNRESET).  An AF_UNIX stream can only say EOF.
 *
 * Events are armed only for work that can progress: reading a side stops
 * while its buffer is held or after its EOF (level-triggered readiness of
 * a socket at EOF would otherwise spin the loop).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "dp/broker_internal.h"
#include "core/log.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

/* Count the TLS records OpenSSL actually writes (one header each). */
static void on_msg(int write_p, int version, int content_type, const void *buf,
		   size_t len, SSL *ssl, void *arg)
{
	struct bconn *c = arg;

	(void)version;
	(void)buf;
	(void)len;
	(void)ssl;
	if (write_p && content_type == SSL3_RT_HEADER)
		c->records++;
}

/* A connected loopback pair; *agent non-blocking, *app blocking. */
static int loop_pair(int *agent, int *app)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me, peer;
	socklen_t sl = sizeof(sa);
	int lfd, cfd = -1, afd = -1, one = 1, rc;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl))
		goto err;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)))
		goto err;
	sl = sizeof(me);
	if (getsockname(cfd, (struct sockaddr *)&me, &sl))
		goto err;
	/* Our connect is queued already; a local stranger may have raced in
	 * ahead of it: take only the one from our own address and port. */
	for (int i = 0; i < 8 && afd < 0; i++) {
		sl = sizeof(peer);
		afd = accept4(lfd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (afd < 0)
			goto err;
		if (peer.sin_port != me.sin_port || peer.sin_addr.s_addr != me.sin_addr.s_addr) {
			close(afd);
			afd = -1;
		}
	}
	if (afd < 0) {
		errno = EADDRINUSE;
		goto err;
	}
	close(lfd);
	setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*agent = afd;
	*app = cfd;
	return 0;
err:
	rc = -errno;
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return rc;
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	broker_pump_run(arg);
}

int broker_pump_start(struct bconn *c, int *app_fd)
{
	struct event_base *base = c->b->base;
	int rc;

	c->abuf = malloc(BROKER_PUMP_BUF);
	c->pbuf = malloc(BROKER_PUMP_BUF);
	if (!c->abuf || !c->pbuf)
		return -ENOMEM;
	rc = loop_pair(&c->sfd, app_fd);
	if (rc)
		return rc;
	if (c->ev) {	/* the setup's watcher */
		event_free(c->ev);
		c->ev = NULL;
	}
	c->srev = event_new(base, c->sfd, EV_READ | EV_PERSIST, on_pump, c);
	c->swev = event_new(base, c->sfd, EV_WRITE | EV_PERSIST, on_pump, c);
	c->prev = event_new(base, c->pfd, EV_READ | EV_PERSIST, on_pump, c);
	c->pwev = event_new(base, c->pfd, EV_WRITE | EV_PERSIST, on_pump, c);
	if (!c->srev || !c->swev || !c->prev || !c->pwev) {
		close(*app_fd);
		*app_fd = -1;
		return -ENOMEM;
	}
	SSL_set_msg_callback(c->tc->ssl, on_msg);
	SSL_set_msg_callback_arg(c->tc->ssl, c);
	return 0;
}

void broker_pump_reset_app(struct bconn *c)
{
	struct linger lg = { 1, 0 };

	if (c->sfd < 0)
		return;
	setsockopt(c->sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->sfd);
	c->sfd = -1;
}

static void arm(struct event *ev, bool on)
{
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
}

static bool at_limit(struct bconn *c)
{
	uint64_t lim = c->b->record_limit;

	return lim && c->records >= lim;
}

void broker_pump_run(struct bconn *c)
{
	enum tls_want rwant = TLS_WANT_NONE, wwant = TLS_WANT_NONE;
	bool progress = true, wr_work;
	const char *why = NULL;
	ssize_t n;

	while (progress) {
		progress = false;
		/* app -> peer.  At the key limit nothing more is taken from
		 * the app: what the agent holds goes out, then close_notify. */
		if (!c->alen && !c->aeof && !c->limited && at_limit(c)) {
			log_msg(LOG_LVL_WARN, "broker: db %u session to node %u sent %llu TLS "
				"records (the AES-GCM key limit): ending it; the application "
				"reconnects", c->req.db, c->req.node,
				(unsigned long long)c->records);
			c->aeof = c->limited = progress = true;
		}
		if (!c->alen && !c->aeof) {
			n = read(c->sfd, c->abuf, BROKER_PUMP_BUF);
			if (n > 0) {
				c->aoff = 0;
				c->alen = (size_t)n;
				progress = true;
			} else if (n == 0) {
				c->aeof = progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				goto dead;
			}
		}
		if (c->alen) {
			n = tlsio_write(c->tc, c->abuf + c->aoff, c->alen - c->aoff);
			if (n > 0) {
				c->aoff += (size_t)n;
				if (c->aoff == c->alen)
					c->alen = 0;
				progress = true;
			} else if (n == -EAGAIN) {
				wwant = c->tc->want;
			} else {
				goto dead;
			}
		}
		if (c->aeof && !c->alen && !c->ashut) {
			n = tlsio_shutdown(c->tc);
			if (n == 0) {
				shutdown(c->pfd, SHUT_WR);
				c->ashut = progress = true;
				if (c->limited) {
					why = "key limit";
					goto dead;	/* the app must not see a clean end */
				}
			} else if (n == -EAGAIN) {
				wwant = c->tc->want;
			} else {
				goto dead;
			}
		}
		/* peer -> app */
		if (!c->plen && !c->peof) {
			n = tlsio_read(c->tc, c->pbuf, BROKER_PUMP_BUF);
			if (n > 0) {
				c->poff = 0;
				c->plen = (size_t)n;
				progress = true;
			} else if (n == 0) {
				c->peof = progress = true;	/* close_notify */
			} else if (n == -EAGAIN) {
				rwant = c->tc->want;
			} else {
				why = n == -ECONNABORTED ? "the peer ended without close_notify" :
							   c->tc->reason;
				goto dead;
			}
		}
		if (c->plen) {
			n = send(c->sfd, c->pbuf + c->poff, c->plen - c->poff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				c->poff += (size_t)n;
				if (c->poff == c->plen)
					c->plen = 0;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				goto dead;
			}
		}
		if (c->peof && !c->plen && !c->pshut) {
			shutdown(c->sfd, SHUT_WR);	/* the clean end: a FIN */
			c->pshut = progress = true;
		}
	}
	if (c->ashut && c->pshut) {
		broker_conn_free(c);
		return;
	}
	wr_work = c->alen || (c->aeof && !c->ashut);
	arm(c->srev, !c->alen && !c->aeof);
	arm(c->swev, c->plen);
	arm(c->prev, (!c->plen && !c->peof && rwant != TLS_WANT_WRITE) ||
		     (wr_work && wwant == TLS_WANT_READ));
	arm(c->pwev, (wr_work && wwant == TLS_WANT_WRITE) ||
		     (!c->plen && !c->peof && rwant == TLS_WANT_WRITE));
	return;
dead:
	if (why)
		log_msg(LOG_LVL_INFO, "broker: db %u session to node %u ended: %s",
			c->req.db, c->req.node, why);
	broker_pump_reset_app(c);
	broker_conn_free(c);
}
