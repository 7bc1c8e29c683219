// SPDX-License-Identifier: GPL-2.0
/* Port 3342: accept, non-blocking server handshake, dispatch by ALPN. */
#include <errno.h>
#include <inttypes.h>
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
#include "tls/admit.h"
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
	bool known;			/* from a known member address (admit.h) */
	struct admit_addr *addr;
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
	unsigned int unknown_max, unknown;	/* places unknown addresses may hold; hold */
	struct admit *admit;
	bool paused_full;		/* every place held by members' handshakes */
	bool paused_err;		/* after an accept error, until `resume` */
	struct event *resume;		/* paused_err: 100 ms later */
	struct event *evictable;	/* paused_full: a silent one may go */
	uint64_t accept_err_logged_ms;
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
	if (!h->known)
		l->unknown--;
	admit_release(l->admit, h->addr);
	free(h);
	if (l->paused_full && l->st.handshaking < l->max_hs) {
		l->paused_full = false;
		evtimer_del(l->evictable);
		if (!l->paused_err)
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
	/* A member's certificate was verified (a joiner has none yet): its
	 * address is a member's from now on, preferred over strangers. */
	if (tc->alpn != TLS_ALPN_JOIN)
		admit_set_known(h->addr);
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

/* The oldest handshake matching (known, silent-only) that has been in
 * progress for at least min_age_ms; the list is newest first. */
static struct hs *hs_oldest(const struct listener *l, bool known, bool silent_only,
			    uint64_t min_age_ms, uint64_t now)
{
	struct hs *h, *old = NULL;

	for (h = l->hs; h; h = h->next)
		if (h->known == known && (!silent_only || !h->hello) &&
		    now - h->born_ms >= min_age_ms)
			old = h;
	return old;
}

/*
 * A place for a new connection when the ones it may use are taken: an
 * unknown address may only displace another unknown one that has had
 * evict_after_ms, whatever stage it reached (a stalled attacker past its
 * ClientHello is no better than a silent one); a member's address
 * displaces any unknown one at once, or a silent member connection that
 * has had its evict_after_ms (a burst of members must not evict each
 * other while their ClientHellos are still in flight).
 */
static struct hs *hs_victim(const struct listener *l, bool known, uint64_t now)
{
	struct hs *v;

	if (!known)
		return hs_oldest(l, false, false, l->evict_after_ms, now);
	v = hs_oldest(l, false, false, 0, now);
	return v ? v : hs_oldest(l, true, true, l->evict_after_ms, now);
}

static bool hs_room(const struct listener *l, bool known)
{
	return l->st.handshaking < l->max_hs && (known || l->unknown < l->unknown_max);
}

/* Every place held by members' handshakes (a burst of routed connections
 * after a peer restarts): there is nobody to evict, so leave the rest in
 * the kernel's backlog until one finishes rather than close them.  While
 * a stranger holds a place, keep accepting: a member takes it. */
static void hs_maybe_pause(struct listener *l)
{
	uint64_t now = now_ms(), wait;
	struct timeval tv;
	struct hs *old;

	if (l->paused_full || l->st.handshaking < l->max_hs || l->unknown)
		return;
	l->paused_full = true;
	l->st.paused++;
	if (!l->paused_err)
		evconnlistener_disable(l->evl);
	/* A silent one among them may be evicted once it has had its
	 * evict_after_ms: accept again then, so a member's new connection
	 * takes its place (hs_victim). */
	old = hs_oldest(l, true, true, 0, now);
	if (old) {
		wait = old->born_ms + l->evict_after_ms > now ?
		       old->born_ms + l->evict_after_ms - now : 0;
		tv = (struct timeval){ wait / 1000, (wait % 1000) * 1000 };
		evtimer_add(l->evictable, &tv);
	}
}

static void on_evictable(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (!l->paused_full)
		return;
	if (!hs_victim(l, true, now_ms())) {
		/* the silent one said hello meanwhile: wait for the next */
		l->paused_full = false;
		hs_maybe_pause(l);
		if (!l->paused_full && !l->paused_err)
			evconnlistener_enable(l->evl);
		return;
	}
	l->paused_full = false;
	if (!l->paused_err)
		evconnlistener_enable(l->evl);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	l->paused_err = false;
	if (!l->paused_full)
		evconnlistener_enable(l->evl);
}

/*
 * accept() failed.  Out of descriptors (EMFILE/ENFILE) or memory, the
 * pending connection stays in the backlog and the listening socket stays
 * readable: without this libevent would call accept() again at once, for
 * ever.  Give up the oldest stranger's handshake place (its descriptor
 * lets the next accept succeed) or, with none, stop accepting for 100 ms.
 */
static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	uint64_t now = now_ms();
	struct timeval tv = { 0, 100 * 1000 };
	struct hs *v;

	(void)evl;
	if (err == EINTR || err == EAGAIN || err == ECONNABORTED)
		return;
	l->st.accept_errors++;
	if (now - l->accept_err_logged_ms >= 10000) {
		l->accept_err_logged_ms = now;
		log_warn("listener: accept failed: %s (%" PRIu64 " times so far; "
			 "raise LimitNOFILE= if this is not an attack)",
			 strerror(err), l->st.accept_errors);
	}
	v = hs_oldest(l, false, false, 0, now);
	if (v) {
		l->st.evicted++;
		hs_fail(v, "evicted: out of file descriptors");
		return;
	}
	if (!l->paused_err) {
		l->paused_err = true;
		l->st.paused++;
		evconnlistener_disable(l->evl);
		evtimer_add(l->resume, &tv);
	}
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	unsigned int ms = l->hello_timeout_ms < l->timeout_ms ? l->hello_timeout_ms :
								l->timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct admit_addr *addr;
	enum admit_verdict v;
	struct hs *h, *victim;
	uint64_t now = now_ms();
	bool known;
	int one = 1;

	(void)evl;
	(void)salen;
	l->st.accepted++;
	/* Before any RSA work: strangers are limited per address and in all;
	 * refusing is a close(), cheaper than the accept was. */
	v = admit_check(l->admit, sa, now, &addr);
	if (v != ADMIT_OK) {
		if (v == ADMIT_RATE)
			l->st.rate_limited++;
		else
			l->st.refused_per_addr++;
		close(fd);
		return;
	}
	known = admit_is_known(addr);
	if (!hs_room(l, known)) {
		victim = hs_victim(l, known, now);
		if (!victim) {
			l->st.refused_full++;
			admit_release(l->admit, addr);
			close(fd);
			return;
		}
		l->st.evicted++;
		hs_fail(victim, victim->hello ?
			"evicted: handshake places full, handshake not finished" :
			"evicted: handshake places full, no ClientHello yet");
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		admit_release(l->admit, addr);
		close(fd);
		return;
	}
	h->l = l;
	h->fd = fd;
	h->born_ms = now;
	h->known = known;
	h->addr = addr;
	h->next = l->hs;
	if (l->hs)
		l->hs->prev = h;
	l->hs = h;
	l->st.handshaking++;
	if (!known)
		l->unknown++;
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
	/* A quarter of the places stay for members' addresses whatever
	 * strangers do. */
	l->unknown_max = l->max_hs - l->max_hs / 4;
	if (!l->unknown_max)
		l->unknown_max = 1;
	l->admit = admit_new(opts ? &opts->admit : NULL);
	l->resume = evtimer_new(base, on_resume, l);
	l->evictable = evtimer_new(base, on_evictable, l);
	if (!l->admit || !l->resume || !l->evictable)
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
	evconnlistener_set_error_cb(l->evl, on_accept_error);
	return l;
err:
	if (l->resume)
		event_free(l->resume);
	if (l->evictable)
		event_free(l->evictable);
	admit_free(l->admit);
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
	event_free(l->evictable);
	evconnlistener_free(l->evl);
	admit_free(l->admit);
	free(l);
}

void listener_set_ctx(struct listener *l, SSL_CTX *ctx)
{
	l->ctx = ctx;
}

void listener_set_members(struct listener *l, const struct sockaddr_storage *addrs, size_t n)
{
	size_t i;

	admit_members_clear(l->admit);
	for (i = 0; i < n; i++)
		if (admit_member_add(l->admit, (const struct sockaddr *)&addrs[i]))
			log_warn("listener: member address %zu of %zu not pre-admitted "
				 "(table window full); it is learned at its first handshake",
				 i + 1, n);
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
