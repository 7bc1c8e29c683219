// SPDX-License-Identifier: GPL-2.0
/* Port 3342: accept, non-blocking server handshake, dispatch by ALPN. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include <linux/ine.h>

#include "inenl/inenl.h"
#include "tls/listener.h"
#include "core/log.h"
#include "dp/route.h"
#include "tls/tls.h"

struct handler {
	char alpn[32];
	size_t len;
	listener_handler_fn cb;
	void *arg;
};

struct hs {
	struct listener *l;
	struct hs *next, *prev;		/* newest first */
	int fd;
	bool hello;			/* a whole ClientHello has been read */
	uint64_t born_ms;		/* accepted at (CLOCK_MONOTONIC) */
	struct tls_conn *tc;
	struct event *rd, *wr, *timer;
};

struct listener {
	struct event_base *base;
	SSL_CTX *ctx;
	struct evconnlistener *evl;
	struct handler h[LISTENER_MAX_HANDLERS];
	struct hs *hs;
	unsigned int max_hs, timeout_ms, hello_timeout_ms, evict_after_ms;
	bool paused;
	struct event *resume;		/* paused: when a silent one may be evicted */
	struct inenl *nl;		/* ine.ko, NULL: sessions not registered */
	struct listener_stats st;
};

static void hs_free(struct hs *h, bool close_fd)
{
	struct listener *l = h->l;

	if (h->rd)
		event_free(h->rd);
	if (h->wr)
		event_free(h->wr);
	if (h->timer)
		event_free(h->timer);
	if (close_fd) {
		tls_conn_free(h->tc);
		close(h->fd);
	}
	if (h->prev)
		h->prev->next = h->next;
	else
		l->hs = h->next;
	if (h->next)
		h->next->prev = h->prev;
	l->st.handshaking--;
	free(h);
	if (l->paused && l->st.handshaking < l->max_hs) {
		l->paused = false;
		evtimer_del(l->resume);
		evconnlistener_enable(l->evl);
	}
}

static const struct handler *handler_find(const struct listener *l, const char *p)
{
	size_t n = p ? strlen(p) : 0;
	int i;

	for (i = 0; n && i < LISTENER_MAX_HANDLERS; i++)
		if (l->h[i].cb && l->h[i].len == n && !memcmp(l->h[i].alpn, p, n))
			return &l->h[i];
	return NULL;
}

static void hs_fail(struct hs *h, const char *why)
{
	h->l->st.failed++;
	log_info("listener: handshake on fd %d failed: %s%s%s", h->fd, why,
	         h->tc && h->tc->reason[0] ? ": " : "", h->tc ? h->tc->reason : "");
	hs_free(h, true);
}

static void hs_maybe_pause(struct listener *l);

/* The server has read a complete ClientHello once its state machine has moved
 * past reading it (OpenSSL enters TLS_ST_SR_CLNT_HELLO as soon as the
 * message header is in, before the body). */
static bool hs_hello_read(const struct tls_conn *tc)
{
	OSSL_HANDSHAKE_STATE st = SSL_get_state(tc->ssl);

	return st != TLS_ST_BEFORE && st != TLS_ST_SR_CLNT_HELLO;
}

static void hs_step(struct hs *h)
{
	const struct handler *hd;
	struct tls_conn *tc = h->tc;
	listener_handler_fn cb;
	void *arg;
	int ret;

	ret = tls_conn_handshake(tc);
	if (!h->hello && hs_hello_read(tc)) {
		/* Past the cheap part: it has the whole handshake time now. */
		struct timeval tv = { h->l->timeout_ms / 1000,
				      (h->l->timeout_ms % 1000) * 1000 };

		h->hello = true;
		if (h->l->timeout_ms > h->l->hello_timeout_ms)
			evtimer_add(h->timer, &tv);
		hs_maybe_pause(h->l);
	}
	if (ret == -EAGAIN) {
		if (tc->want == TLS_WANT_WRITE) {
			event_del(h->rd);
			event_add(h->wr, NULL);
		} else {
			event_del(h->wr);
			event_add(h->rd, NULL);
		}
		return;
	}
	if (ret) {
		hs_fail(h, "TLS error");
		return;
	}
	hd = handler_find(h->l, tls_alpn_name(tc->alpn));
	if (!hd) {
		hs_fail(h, "no handler for the negotiated ALPN protocol");
		return;
	}
	cb = hd->cb;
	arg = hd->arg;
	h->l->st.handed_off++;
	hs_free(h, false);
	cb(arg, tc);
}

static void on_hs(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hs_step(arg);
}

static void on_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hs *h = arg;

	(void)fd;
	(void)what;
	if (h->hello) {
		h->l->st.timed_out++;
		hs_fail(h, "handshake timed out");
	} else {
		h->l->st.hello_timed_out++;
		hs_fail(h, "no ClientHello in time");
	}
}

/* Before the first byte we write (the ServerHello): with the guard in
 * enforce mode an unregistered socket's payload to 3342 is dropped. Closing
 * the socket ends the entry; the handler updates it once ALPN is known. */
static void hs_register(struct listener *l, int fd)
{
	struct inenl_session_add a = { .fd = fd, .plane = INE_PLANE_CONTROL,
				       .state = INE_STATE_HANDSHAKING };
	int ret;

	if (!l->nl)
		return;
	ret = inenl_session_add(l->nl, &a, NULL);
	if (ret < 0 && ret != -EEXIST)
		log_warn("listener: ine.ko refused the session on fd %d: %s", fd,
			 inenl_last_error(l->nl));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The oldest handshake still waiting for its ClientHello: a member sends
 * that right after connecting, so the one that has waited longest is the
 * likeliest to be a stalled attacker. */
static struct hs *hs_oldest_silent(const struct listener *l)
{
	struct hs *h, *old = NULL;

	for (h = l->hs; h; h = h->next)
		if (!h->hello)
			old = h;
	return old;
}

/* A silent connection may be evicted once it has had evict_after_ms to send
 * its ClientHello: a burst of members' connections accepted before their
 * ClientHellos were read must not evict each other. */
static struct hs *hs_victim(const struct listener *l)
{
	struct hs *h = hs_oldest_silent(l);

	return h && now_ms() - h->born_ms >= l->evict_after_ms ? h : NULL;
}

/* All places taken and no connection to evict yet: leave new connections in
 * the kernel's backlog until a handshake ends (hs_free resumes) or the
 * oldest silent one becomes evictable (the resume timer). */
static void hs_maybe_pause(struct listener *l)
{
	struct hs *old;

	if (l->paused || l->st.handshaking < l->max_hs || hs_victim(l))
		return;
	l->paused = true;
	l->st.paused++;
	evconnlistener_disable(l->evl);
	old = hs_oldest_silent(l);
	if (old) {
		uint64_t wait = old->born_ms + l->evict_after_ms - now_ms();
		struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };

		evtimer_add(l->resume, &tv);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (!l->paused)
		return;
	l->paused = false;
	if (l->st.handshaking >= l->max_hs && !hs_victim(l)) {
		/* the silent one said hello meanwhile: wait for the next */
		hs_maybe_pause(l);
		return;
	}
	evconnlistener_enable(l->evl);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	unsigned int ms = l->hello_timeout_ms < l->timeout_ms ? l->hello_timeout_ms :
								l->timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct hs *h, *victim;
	int one = 1;

	(void)evl;
	(void)sa;
	(void)salen;
	l->st.accepted++;
	/* Full: make room by dropping a connection that has not said hello yet,
	 * rather than making this one wait behind it. */
	if (l->st.handshaking >= l->max_hs) {
		victim = hs_victim(l);
		if (!victim) {
			/* Not reached while accepting pauses as it should
			 * (libevent stops its accept batch when disabled). */
			l->st.refused_full++;
			close(fd);
			return;
		}
		l->st.evicted++;
		hs_fail(victim, "evicted: handshake places full, no ClientHello yet");
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return;
	}
	h->l = l;
	h->fd = fd;
	h->born_ms = now_ms();
	h->next = l->hs;
	if (l->hs)
		l->hs->prev = h;
	l->hs = h;
	l->st.handshaking++;
	hs_maybe_pause(l);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	hs_register(l, fd);
	h->tc = tls_conn_new(l->ctx, fd, true, TLS_ALPN_NONE);
	h->rd = event_new(l->base, fd, EV_READ | EV_PERSIST, on_hs, h);
	h->wr = event_new(l->base, fd, EV_WRITE | EV_PERSIST, on_hs, h);
	h->timer = evtimer_new(l->base, on_hs_timeout, h);
	if (!h->tc || !h->rd || !h->wr || !h->timer || evtimer_add(h->timer, &tv)) {
		hs_fail(h, "out of memory");
		return;
	}
	hs_step(h);
}

struct listener *listener_new(struct event_base *base, SSL_CTX *server_ctx,
			      const char *addr, uint16_t port,
			      const struct listener_opts *opts)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!l)
		return NULL;
	l->base = base;
	l->ctx = server_ctx;
	l->max_hs = opts && opts->max_handshakes ? opts->max_handshakes :
						    LISTENER_MAX_HANDSHAKES;
	l->timeout_ms = opts && opts->handshake_timeout_ms ?
			opts->handshake_timeout_ms : LISTENER_HANDSHAKE_TIMEOUT_MS;
	l->hello_timeout_ms = opts && opts->hello_timeout_ms ?
			      opts->hello_timeout_ms : LISTENER_HELLO_TIMEOUT_MS;
	l->evict_after_ms = opts && opts->evict_after_ms ? opts->evict_after_ms :
							   LISTENER_EVICT_AFTER_MS;
	l->resume = evtimer_new(base, on_resume, l);
	if (!l->resume)
		goto err;
	if (route_sockaddr(addr && addr[0] ? addr : "0.0.0.0", port, &ss, &sl))
		goto err;
	l->evl = evconnlistener_new_bind(base, on_accept, l,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					 LEV_OPT_CLOSE_ON_EXEC, 128,
					 (struct sockaddr *)&ss, sl);
	if (!l->evl) {
		log_err("listener: cannot listen on %s:%u: %s",
		        addr && addr[0] ? addr : "0.0.0.0", port, strerror(errno));
		goto err;
	}
	return l;
err:
	if (l->resume)
		event_free(l->resume);
	free(l);
	return NULL;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	while (l->hs)
		hs_free(l->hs, true);
	event_free(l->resume);
	evconnlistener_free(l->evl);
	free(l);
}

void listener_set_ctx(struct listener *l, SSL_CTX *ctx)
{
	l->ctx = ctx;
}

void listener_set_inenl(struct listener *l, struct inenl *nl)
{
	l->nl = nl;
}

int listener_set_handler(struct listener *l, const char *alpn,
			 listener_handler_fn cb, void *arg)
{
	size_t n = strlen(alpn);
	int i, free_slot = -1;

	if (!n || n >= sizeof(l->h[0].alpn))
		return -EINVAL;
	for (i = 0; i < LISTENER_MAX_HANDLERS; i++) {
		if (l->h[i].cb && l->h[i].len == n && !memcmp(l->h[i].alpn, alpn, n))
			break;
		if (!l->h[i].cb && free_slot < 0)
			free_slot = i;
	}
	if (i == LISTENER_MAX_HANDLERS) {
		if (!cb)
			return 0;
		if (free_slot < 0)
			return -ENOSPC;
		i = free_slot;
	}
	memcpy(l->h[i].alpn, alpn, n);
	l->h[i].len = n;
	l->h[i].cb = cb;
	l->h[i].arg = arg;
	return 0;
}

void listener_get_stats(const struct listener *l, struct listener_stats *st)
{
	*st = l->st;
}
