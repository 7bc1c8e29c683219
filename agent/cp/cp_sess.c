// SPDX-License-Identifier: GPL-2.0
/* cp_sess.c — control-plane sessions: framed JSON messages (cpmsg.h)
 * over TLS, outgoing and accepted, registered with ine.ko; and the
 * requests waiting for a peer's answer on one. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include <linux/ine.h>

#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"
#include "cp/token.h"
#include "inenl/inenl.h"
#include "pki/rotalert.h"
#include "tls/ktls.h"
#include "tls/tlsio.h"

#define RBUF_INIT	(16 * 1024)
#define WCHUNK		(16 * 1024)

/* ------------------------------------------------------------ sessions */

static void sess_arm_idle(struct cp_sess *s)
{
	struct timeval tv = { CP_IDLE_TIMEOUT_MS / 1000,
			      (CP_IDLE_TIMEOUT_MS % 1000) * 1000 };

	event_base_update_cache_time(s->cp->base);
	evtimer_add(s->idle, &tv);
}

void cp_sess_reap(struct cp *cp)
{
	struct cp_sess *s;

	while ((s = cp->dead)) {
		cp->dead = s->next;
		free(s);
	}
}

/* Close now; the struct is freed from the loop, so callers up the stack
 * (a message handler) can still look at s->state. */
void cp_sess_close(struct cp_sess *s, const char *why)
{
	struct cp *cp = s->cp;
	struct cp_sess **pp;
	bool notify = s->state != S_DEAD;

	if (s->state == S_DEAD)
		return;
	if (why && !s->why[0])
		snprintf(s->why, sizeof(s->why), "%s", why);
	s->state = S_DEAD;
	event_free(s->rev);
	event_free(s->wev);
	event_free(s->idle);
	s->rev = s->wev = s->idle = NULL;
	/* No SESSION_DEL: closing the fd below ends the ine.ko session, which
	 * then stays known to the guard while the socket flushes its queued
	 * bytes (close_notify included); deleting first would get those
	 * dropped by a guard in enforce mode. */
	s->nl_id = 0;
	if (s->tc && s->tc->done && s->fd >= 0)
		tlsio_shutdown(s->tc);	/* close_notify, best effort */
	if (s->tc)
		tls_conn_free(s->tc);	/* frees s->ssl */
	else if (s->ssl)
		SSL_free(s->ssl);
	s->tc = NULL;
	s->ssl = NULL;
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->rbuf)
		OPENSSL_cleanse(s->rbuf, s->rcap);
	free(s->rbuf);
	s->rbuf = NULL;
	evbuffer_free(s->out);
	s->out = NULL;
	for (pp = &cp->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = cp->dead;
	cp->dead = s;
	if (cp->reaper)
		event_active(cp->reaper, 0, 0);
	if (notify && s->ops && s->ops->closed)
		s->ops->closed(s, s->why, s->arg);
}

/* Tell ine.ko about the session (status, and the plaintext guard lets
 * registered sockets pass).  Without the module: nothing to do. */
static void sess_register(struct cp_sess *s)
{
	struct inenl_session_add a = { 0 };
	const struct config_node *n;
	X509 *peer = SSL_get0_peer_certificate(s->ssl);
	char serial[INE_SERIAL_LEN] = "";
	uint32_t peer_id;
	int ret;

	if (!s->cp->nl)
		return;
	peer_id = s->cert_node_id > 0 ? (uint32_t)s->cert_node_id : s->peer_id;
	n = peer_id ? config_node_find(cp_live(s->cp), peer_id) : NULL;
	a.fd = s->fd;
	a.plane = INE_PLANE_CONTROL;
	a.state = s->tc->ktls_tx && s->tc->ktls_rx ? INE_STATE_OFFLOADED :
		  INE_STATE_SOFTWARE;
	a.peer_node_id = peer_id;
	a.peer_name = n ? n->name : NULL;
	if (peer) {
		time_t na;

		pki_cert_serial(peer, serial, sizeof(serial));
		if (pki_asn1_time(X509_get0_notAfter(peer), &na) == 0)
			a.cert_expiry = (uint64_t)na;
		a.cert_serial = serial[0] ? serial : NULL;
	}
	/* registered already: by us before the handshake (outgoing), or by
	 * the listener (incoming) — then update it */
	if (!s->nl_id) {
		ret = inenl_session_add(s->cp->nl, &a, &s->nl_id);
		if (ret == -EEXIST) {
			struct inenl_session info;

			if (inenl_session_get(s->cp->nl, 0, s->fd, &info) == 0)
				s->nl_id = info.id;
		} else if (ret < 0) {
			log_warn("control plane: ine.ko refused the session: %s",
				 inenl_last_error(s->cp->nl));
			s->nl_id = 0;
			return;
		}
	}
	/* By fd: the id changes if ine.ko is reloaded (inenl replays). */
	if (s->nl_id && inenl_session_update(s->cp->nl, 0, &a) < 0)
		log_warn("control plane: ine.ko: cannot update session %u: %s",
			 s->nl_id, inenl_last_error(s->cp->nl));
}

/* Outgoing: register before the first byte (the ClientHello) so that a
 * guard in enforce mode lets the handshake through. */
static void sess_register_early(struct cp_sess *s)
{
	struct inenl_session_add a = { 0 };
	const struct config_node *n;

	if (!s->cp->nl)
		return;
	n = s->peer_id ? config_node_find(cp_live(s->cp), s->peer_id) : NULL;
	a.fd = s->fd;
	a.plane = INE_PLANE_CONTROL;
	a.state = INE_STATE_HANDSHAKING;
	a.peer_node_id = s->peer_id;
	a.peer_name = n ? n->name : NULL;
	if (inenl_session_add(s->cp->nl, &a, &s->nl_id) < 0) {
		log_warn("control plane: ine.ko refused the session: %s",
			 inenl_last_error(s->cp->nl));
		s->nl_id = 0;
	}
}

static void sess_flush(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	while (s->state == S_OPEN && evbuffer_get_length(s->out)) {
		size_t n = evbuffer_get_length(s->out);
		unsigned char *p;
		ssize_t w;

		if (n > WCHUNK)
			n = WCHUNK;
		p = evbuffer_pullup(s->out, (ssize_t)n);
		w = tlsio_write(s->tc, p, n);
		if (w > 0) {
			evbuffer_drain(s->out, (size_t)w);
			continue;
		}
		if (w == -EAGAIN) {
			/* WANT_READ: the read event brings us back here */
			if (s->tc->want == TLS_WANT_WRITE)
				event_add(s->wev, NULL);
			return;
		}
		snprintf(why, sizeof(why), "write failed: %s",
			 s->tc->reason[0] ? s->tc->reason : strerror((int)-w));
		cp_sess_close(s, why);
		return;
	}
	if (s->state != S_OPEN)
		return;
	event_del(s->wev);
	if (s->close_after_flush)
		cp_sess_close(s, "done");
}

int cp_sess_send(struct cp_sess *s, json_t *msg)
{
	uint8_t *buf;
	size_t len;
	int ret;

	if (!msg)
		return -ENOMEM;
	if (s->state == S_DEAD) {
		json_decref(msg);
		return -ENOTCONN;
	}
	ret = cpmsg_encode(msg, &buf, &len);
	json_decref(msg);
	if (ret < 0) {
		log_err("control plane: cannot encode a message: %s",
			strerror(-ret));
		return ret;
	}
	ret = evbuffer_add(s->out, buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (ret < 0)
		return -ENOMEM;
	if (s->state == S_OPEN)
		sess_flush(s);
	return 0;
}

void cp_sess_close_after_flush(struct cp_sess *s)
{
	s->close_after_flush = true;
	if (s->state == S_OPEN && !evbuffer_get_length(s->out))
		cp_sess_close(s, "done");
}

static void sess_dispatch(struct cp_sess *s)
{
	char err[CPMSG_ERR_MAX], why[CP_ERR_MAX];
	size_t used = 0;
	json_t *msg;
	int type, ret;

	while (s->state == S_OPEN) {
		ret = cpmsg_decode(s->rbuf, s->rlen, &used, &msg, &type, err,
				   sizeof(err));
		if (ret == 0)
			return;
		if (ret < 0) {
			snprintf(why, sizeof(why), "protocol error: %s", err);
			cp_sess_close(s, why);
			return;
		}
		memmove(s->rbuf, s->rbuf + used, s->rlen - used);
		s->rlen -= used;
		sess_arm_idle(s);
		s->ops->msg(s, type, msg, s->arg);
		json_decref(msg);
	}
}

static void sess_read(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	while (s->state == S_OPEN) {
		ssize_t r;

		if (s->rlen == s->rcap) {
			size_t ncap = s->rcap * 2;
			uint8_t *n;

			if (ncap > CPMSG_HDR + CPMSG_MAX)
				ncap = CPMSG_HDR + CPMSG_MAX;
			if (ncap <= s->rcap) {
				cp_sess_close(s, "protocol error: frame too large");
				return;
			}
			n = realloc(s->rbuf, ncap);
			if (!n) {
				cp_sess_close(s, "out of memory");
				return;
			}
			s->rbuf = n;
			s->rcap = ncap;
		}
		r = tlsio_read(s->tc, s->rbuf + s->rlen, s->rcap - s->rlen);
		if (r > 0) {
			s->rlen += (size_t)r;
			sess_dispatch(s);
			continue;
		}
		if (r == -EAGAIN) {
			if (s->tc->want == TLS_WANT_WRITE)
				event_add(s->wev, NULL);
			return;
		}
		if (r == 0)
			cp_sess_close(s, "peer closed the session");
		else if (r == -ECONNABORTED)
			cp_sess_close(s, "connection closed by peer");
		else {
			snprintf(why, sizeof(why), "TLS error: %s",
				 s->tc->reason[0] ? s->tc->reason : strerror((int)-r));
			cp_sess_close(s, why);
		}
		return;
	}
}

static void sess_open(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	s->state = S_OPEN;
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* kernel TLS both ways where the kernel has it; else OpenSSL */
	if (ktls_conn_install(s->tc) < 0) {
		snprintf(why, sizeof(why), "kernel TLS install failed: %s",
			 s->tc->reason);
		cp_sess_close(s, why);
		return;
	}
	sess_register(s);
	event_add(s->rev, NULL);
	sess_arm_idle(s);
	if (s->ops->up)
		s->ops->up(s, s->arg);
	if (s->state != S_OPEN)
		return;
	sess_flush(s);
	/* the handshake may have left application data in OpenSSL */
	if (s->state == S_OPEN && tlsio_pending(s->tc))
		sess_read(s);
}

static void sess_handshake(struct cp_sess *s)
{
	char why[CP_ERR_MAX];
	int ret = tls_conn_handshake(s->tc);

	if (ret == -EAGAIN) {
		if (s->tc->want == TLS_WANT_WRITE)
			event_add(s->wev, NULL);
		else
			event_del(s->wev);
		return;
	}
	if (ret < 0) {
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
			 s->tc->reason[0] ? s->tc->reason : strerror(-ret));
		cp_sess_close(s, why);
		return;
	}
	event_del(s->wev);
	s->ssl = s->tc->ssl;
	s->cert_node_id = s->tc->peer_node_id;
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	sess_open(s);
}

static void sess_connected(struct cp_sess *s)
{
	char why[CP_ERR_MAX];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
		cp_sess_close(s, why);
		return;
	}
	sess_register_early(s);
	s->tc = tls_conn_new(s->ctx, s->fd, false, s->alpn);
	if (!s->tc) {
		cp_sess_close(s, "TLS setup failed");
		return;
	}
	s->state = S_HANDSHAKE;
	event_add(s->rev, NULL);
	sess_handshake(s);
}

static void sess_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;

	(void)fd; (void)what;
	if (s->state == S_HANDSHAKE)
		sess_handshake(s);
	else if (s->state == S_OPEN) {
		sess_read(s);
		if (s->state == S_OPEN && evbuffer_get_length(s->out))
			sess_flush(s);
	}
}

static void sess_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;

	(void)fd; (void)what;
	if (s->state == S_CONNECTING)
		sess_connected(s);
	else if (s->state == S_HANDSHAKE)
		sess_handshake(s);
	else if (s->state == S_OPEN) {
		sess_flush(s);
		/* a read may have been waiting on this write */
		if (s->state == S_OPEN)
			sess_read(s);
	}
}

static void sess_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;
	char why[64];

	(void)fd; (void)what;
	snprintf(why, sizeof(why), "%s (nothing heard for %d s)",
		 s->state == S_OPEN ? "peer silent" : "connect/handshake timed out",
		 CP_IDLE_TIMEOUT_MS / 1000);
	cp_sess_close(s, why);
}

static struct cp_sess *sess_alloc(struct cp *cp, int fd,
				  const struct cp_sess_ops *ops, void *arg)
{
	struct cp_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cp = cp;
	s->fd = fd;
	s->ops = ops;
	s->arg = arg;
	s->rcap = RBUF_INIT;
	s->rbuf = malloc(s->rcap);
	s->out = evbuffer_new();
	s->rev = event_new(cp->base, fd, EV_READ | EV_PERSIST, sess_read_cb, s);
	s->wev = event_new(cp->base, fd, EV_WRITE | EV_PERSIST, sess_write_cb, s);
	s->idle = evtimer_new(cp->base, sess_idle_cb, s);
	if (!s->rbuf || !s->out || !s->rev || !s->wev || !s->idle) {
		free(s->rbuf);
		if (s->out)
			evbuffer_free(s->out);
		if (s->rev)
			event_free(s->rev);
		if (s->wev)
			event_free(s->wev);
		if (s->idle)
			event_free(s->idle);
		free(s);
		return NULL;
	}
	s->next = cp->sessions;
	cp->sessions = s;
	return s;
}

struct cp_sess *cp_sess_accept(struct cp *cp, struct tls_conn *c,
			       const struct cp_sess_ops *ops, void *arg)
{
	struct cp_sess *s = sess_alloc(cp, c->fd, ops, arg);

	if (!s) {
		int fd = c->fd;

		tls_conn_free(c);
		close(fd);
		return NULL;
	}
	s->tc = c;
	s->ssl = c->ssl;
	/* the listener's handshake ran our verify hook: for ine-cp/1 this is
	 * the node id from the certificate (0 for pinned customer certs) */
	s->cert_node_id = c->peer_node_id;
	if (ops->members_only && s->cert_node_id < 0) {
		s->state = S_OPEN;	/* so that close runs its course */
		cp_sess_close(s, "peer certificate is not one of this cluster's");
		return NULL;
	}
	sess_open(s);
	return s;
}

struct cp_sess *cp_sess_dial(struct cp *cp, const char *hostport,
			     SSL_CTX *ctx, enum tls_alpn alpn,
			     const struct cp_sess_ops *ops, void *arg,
			     char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[TOKEN_ADDR_MAX + 1], portstr[8];
	struct cp_sess *s;
	uint16_t port;
	int fd, ret, one = 1;

	if (token_addr_split(hostport, host, sizeof(host), &port) < 0) {
		errmsg_fail(err, errlen, -EINVAL, "bad address \"%s\"", hostport);
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* literal addresses never block; names use the system resolver */
	ret = getaddrinfo(host, portstr, &hints, &ai);
	if (ret || !ai) {
		errmsg_fail(err, errlen, -EHOSTUNREACH, "cannot resolve %s: %s", host,
		     gai_strerror(ret));
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errmsg_fail(err, errlen, -errno, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ret < 0 && errno != EINPROGRESS) {
		errmsg_fail(err, errlen, -errno, "connect to %s: %s", hostport,
		     strerror(errno));
		close(fd);
		return NULL;
	}
	s = sess_alloc(cp, fd, ops, arg);
	if (!s) {
		close(fd);
		errmsg_fail(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	s->outgoing = true;
	s->alpn = alpn;
	s->ctx = ctx;
	SSL_CTX_up_ref(ctx);
	s->state = S_CONNECTING;
	s->cert_node_id = -1;
	event_add(s->wev, NULL);
	sess_arm_idle(s);
	return s;
}

SSL *cp_sess_ssl(struct cp_sess *s) { return s->ssl; }
long cp_sess_cert_node(const struct cp_sess *s) { return s->cert_node_id; }

/* ------------------------------------------------------------ requests */

void cp_req_free(struct cp *cp, struct cp_req *r)
{
	struct cp_req **pp;

	for (pp = &cp->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->timer)
		event_free(r->timer);
	EVP_PKEY_free(r->key);
	free(r);
}

void cp_req_finish(struct cp_req *r, int rc, const char *msg)
{
	struct cp *cp = r->cp;
	cp_done_fn done = r->done;
	void *arg = r->arg;

	if (r->kind == REQ_CSR) {
		cp->csr_inflight[PKI_PIDX(r->plane)] = false;
		if (rc < 0) {
			cp->csr_sent[PKI_PIDX(r->plane)] = 0;	/* retry next check */
			rotalert_set(cp_pki_cur(cp), r->plane, "%s", msg);
		}
	}
	cp_req_free(cp, r);
	if (done)
		done(arg, rc, msg);
}

static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_req *r = arg;
	char msg[CP_ERR_MAX];

	(void)fd; (void)what;
	snprintf(msg, sizeof(msg), "primary node %u unreachable (no answer within %d s)",
		 r->peer, CP_REQUEST_TIMEOUT_MS / 1000);
	cp_req_finish(r, -EHOSTUNREACH, msg);
}

struct cp_req *cp_req_new(struct cp *cp, enum req_kind kind, uint32_t peer,
			      cp_done_fn done, void *arg)
{
	struct timeval tv = { CP_REQUEST_TIMEOUT_MS / 1000, 0 };
	struct cp_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cp = cp;
	r->id = ++cp->next_req_id;
	r->kind = kind;
	r->peer = peer;
	r->done = done;
	r->arg = arg;
	r->timer = evtimer_new(cp->base, req_timeout_cb, r);
	if (!r->timer) {
		free(r);
		return NULL;
	}
	evtimer_add(r->timer, &tv);
	r->next = cp->reqs;
	cp->reqs = r;
	return r;
}

struct cp_req *cp_req_find(struct cp *cp, int64_t id)
{
	for (struct cp_req *r = cp->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

void cp_reqs_fail_peer(struct cp *cp, uint32_t peer)
{
	char msg[CP_ERR_MAX];
	struct cp_req *r, *next;

	snprintf(msg, sizeof(msg), "primary node %u unreachable (connection lost)",
		 peer);
	for (r = cp->reqs; r; r = next) {
		next = r->next;
		if (r->peer == peer)
			cp_req_finish(r, -EHOSTUNREACH, msg);
	}
}

