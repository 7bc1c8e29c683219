// SPDX-License-Identifier: GPL-2.0
/*
 * The relay's connections: setup (connect, handshake, route header) and the
 * byte pump. One struct conn per client connection, two directions each:
 * d[0] local -> peer, d[1] peer -> local. A direction whose source and
 * destination are both plain sockets at the syscall level (plaintext, or
 * kernel TLS on that side) moves socket -> pipe -> socket with splice(2);
 * otherwise it moves through OpenSSL with a 64 KiB buffer that exists only
 * while it holds bytes. Either way a direction stops reading while its
 * pipe/buffer cannot be drained (backpressure), so memory is bounded.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <linux/ine.h>

#include "tls/ktls.h"
#include "core/log.h"
#include "dp/relay.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#define SPLICE_FLAGS		(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
#define PUMP_BUDGET		16	/* rounds per wakeup: share the loop */

enum conn_state {
	CS_CONNECT,		/* client: TCP connect to the peer agent */
	CS_HANDSHAKE,		/* client: TLS handshake */
	CS_SEND_HDR,		/* client: route header out */
	CS_WAIT_REPLY,		/* client: route reply in */
	CS_READ_HDR,		/* server: route header in */
	CS_TARGET_CONNECT,	/* server: TCP connect to the target */
	CS_SEND_REPLY,		/* server: OK reply out */
	CS_SEND_ERR,		/* server: error reply out, then close */
	CS_PUMP,
};

struct dir {
	int src, dst;
	bool src_ssl, dst_ssl;	/* go through OpenSSL on that end */
	int pipe[2];		/* splice mode */
	size_t pipe_cap, in_pipe;
	bool pipe_grown;	/* tried F_SETPIPE_SZ already */
	uint8_t *buf;		/* buffer mode, NULL while empty */
	size_t off, len, retry;	/* retry: SSL_write length to repeat */
	bool eof;		/* source ended cleanly (FIN / close_notify) */
	bool shut;		/* end-of-stream passed on to dst */
	bool dst_blocked;
	short src_ev, dst_ev;	/* what the last attempt waits for */
	uint64_t *count;
	uint64_t records;	/* TLS records written through OpenSSL */
};

struct conn {
	struct relay *r;
	struct conn *next, *prev;
	bool client;
	bool plaintext;		/* middle leg without TLS */
	bool enc;		/* db's encryption setting at setup */
	enum conn_state st;
	enum relay_mode mode;
	uint32_t db, peer;
	struct relay_config_route route;	/* client: what it serves */
	struct relay_config_target target;	/* server: where it goes */
	int lfd, pfd;
	struct tls_conn *tc;	/* NULL: plaintext */
	bool ktls_tx, ktls_rx, registered;
	struct event *ev[2][2];	/* [local, peer][read, write] */
	short fired[2];		/* [local, peer]: what poll reported this wakeup */
	struct event *timer;
	struct event *kick;	/* run again next loop iteration */
	bool again;
	struct dir d[2];
	uint8_t ctl[ROUTE_REPLY_MAX];
	size_t ctl_len, ctl_off;
	uint8_t err_status;
};

struct route_listener {
	struct relay *r;
	struct evconnlistener *l;
	struct relay_config_route route;
	bool keep;
};

struct relay {
	struct event_base *base;
	SSL_CTX *cctx;
	struct relay_hooks hooks;
	struct route_table *table;
	struct route_listener **rls;
	size_t n_rls;
	struct evconnlistener *plain;
	struct conn *conns;
	struct relay_stats st;
	uint64_t key_limit;	/* records per key before a software session is reset */
};

static void conn_step(struct conn *c);
static void conn_abort(struct conn *c, const char *why);

const char *relay_mode_str(enum relay_mode m)
{
	switch (m) {
	case RELAY_MODE_SETUP: return "setup";
	case RELAY_MODE_OFFLOADED: return "offloaded";
	case RELAY_MODE_SOFTWARE: return "software";
	case RELAY_MODE_PLAINTEXT: return "plaintext";
	}
	return "?";
}

/* ---- events ---- */

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (fd >= 0 && fd == c->lfd)
		c->fired[0] |= what;
	else if (fd >= 0 && fd == c->pfd)
		c->fired[1] |= what;
	conn_step(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_abort(c, "setup timed out");
}

static int conn_events_init(struct conn *c, int side)
{
	int fd = side ? c->pfd : c->lfd;

	c->ev[side][0] = event_new(c->r->base, fd, EV_READ | EV_PERSIST, on_event, c);
	c->ev[side][1] = event_new(c->r->base, fd, EV_WRITE | EV_PERSIST, on_event, c);
	return c->ev[side][0] && c->ev[side][1] ? 0 : -ENOMEM;
}

/* Wait on exactly `want` (EV_READ|EV_WRITE) for one side's socket. */
static void conn_want(struct conn *c, int side, short want)
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

/* ---- lifecycle ---- */

static void set_linger0(int fd)
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

static void conn_free(struct conn *c, bool reset)
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
	if (c->kick)
		event_free(c->kick);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++)
			if (c->d[i].pipe[j] >= 0)
				close(c->d[i].pipe[j]);
		free(c->d[i].buf);
	}
	if (reset) {
		set_linger0(c->lfd);
		set_linger0(c->pfd);
		r->st.resets++;
	} else {
		/* graceful end: queued bytes and FIN go out (see pump_start) */
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
static void conn_abort(struct conn *c, const char *why)
{
	log_info("relay: %s connection db %u %s node %u target '%s': %s, resetting",
	         c->client ? "route" : "incoming", c->db, c->client ? "to" : "from",
	         c->peer, c->client ? c->route.target : c->target.name, why);
	conn_free(c, true);
}

static struct conn *conn_new(struct relay *r, bool client, int lfd, int pfd)
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
		conn_free(c, false);
		return NULL;
	}
	return c;
}

/* ---- small I/O on the peer socket during setup ---- */

static short want_ev(const struct tls_conn *tc, short dflt)
{
	if (tc->want == TLS_WANT_READ)
		return EV_READ;
	if (tc->want == TLS_WANT_WRITE)
		return EV_WRITE;
	return dflt;
}

/* Setup-time I/O on the peer socket: >0 bytes, -EAGAIN (*wait set), <0. */
static ssize_t peer_io(struct conn *c, bool wr, void *buf, size_t len, short *wait)
{
	ssize_t n;

	/* tlsio reads kernel TLS a record at a time, 2 bytes at least. */
	if (c->tc && !(!wr && c->ktls_rx && len < 2)) {
		n = wr ? tlsio_write(c->tc, buf, len) : tlsio_read(c->tc, buf, len);
		if (n == -EAGAIN)
			*wait = want_ev(c->tc, wr ? EV_WRITE : EV_READ);
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
			conn_want(c, 1, wait);
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
			conn_want(c, 1, wait);
			return -EAGAIN;
		}
		if (n < 0)
			return n;
		c->ctl_off += n;
	}
	conn_want(c, 1, 0);
	return 0;
}

/*
 * splice() out of a kernel-TLS RX socket stops at a non-data record
 * (EINVAL/EIO): let tlsio read it. close_notify ends the stream (1); a
 * data record that raced in goes into the pipe; anything else is fatal.
 */
static int ktls_nondata(struct conn *c, struct dir *d)
{
	uint8_t data[2048];
	ssize_t n = tlsio_read(c->tc, data, sizeof(data));

	if (n == 0)
		return 1;
	if (n < 0)
		return n == -ECONNABORTED ? -ECONNRESET : (int)n;
	if (write(d->pipe[1], data, n) != n)
		return -EIO;
	d->in_pipe += n;
	return 0;
}

/* ---- the pump ---- */

static bool dir_splice(const struct dir *d)
{
	return !d->src_ssl && !d->dst_ssl;
}

/*
 * Pipes start at the kernel's default size: an idle or request/response
 * session never fills 64 KiB, and a 1 MiB pipe costs a 10 KiB array of 256
 * pipe_buffer slots (a 16 KiB page-allocator block) per direction per agent
 * even when empty.
 */
static int dir_open(struct dir *d)
{
	int sz;

	if (!dir_splice(d))
		return 0;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->pipe_cap = sz > 0 ? (size_t)sz : 65536;
	return 0;
}

/* A full pipe means bulk traffic: grow it once to batch more per splice.
 * Less is fine (pipe-user-pages limits); it only bounds the batch. */
static bool dir_pipe_grow(struct dir *d)
{
	int sz;

	if (d->pipe_grown)
		return false;
	d->pipe_grown = true;
	sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	if (sz <= 0 || (size_t)sz <= d->pipe_cap)
		return false;
	d->pipe_cap = (size_t)sz;
	return true;
}

/* Idle connections hold no buffer. */
static void buf_release(struct dir *d)
{
	if (d->buf && d->off == d->len) {
		free(d->buf);
		d->buf = NULL;
		d->off = d->len = 0;
	}
}

/* The source is neither OpenSSL nor a kernel-TLS socket. */
static bool src_plain(const struct conn *c, const struct dir *d)
{
	return !d->src_ssl && !(c->tc && d->src == c->pfd);
}

/* A short read from a plain socket: it is empty, wait for poll. */
static void src_drained(struct conn *c, struct dir *d)
{
	if (!src_plain(c, d))
		return;
	d->src_ev = EV_READ;
	c->fired[d->src == c->pfd] &= ~EV_READ;
}

/* Fill from the source. 1 progress, 0 nothing (waiting), <0 error. */
static int dir_fill(struct conn *c, struct dir *d)
{
	ssize_t n;

	if (d->eof)
		return 0;
	/*
	 * A plain socket that said EAGAIN (or gave less than asked) is not
	 * tried again until poll says it is readable: with request/response
	 * traffic every wakeup would otherwise cost a failed splice/recv per
	 * idle direction. Not for TLS sources: OpenSSL may hold bytes.
	 */
	if (d->src_ev == EV_READ && src_plain(c, d) &&
	    !(c->fired[d->src == c->pfd] & EV_READ))
		return 0;
	d->src_ev = 0;
	if (dir_splice(d)) {
		if (d->in_pipe >= d->pipe_cap && !dir_pipe_grow(d))
			return 0;
		n = splice(d->src, NULL, d->pipe[1], NULL, d->pipe_cap - d->in_pipe,
			   SPLICE_FLAGS);
		if (n > 0) {
			if ((size_t)n < d->pipe_cap - d->in_pipe)
				src_drained(c, d);
			d->in_pipe += n;
			return 1;
		}
		if (n == 0) {
			/* On TLS, only close_notify ends a stream cleanly. */
			if (c->tc && d->src == c->pfd)
				return -ECONNRESET;
			d->eof = true;
			return 1;
		}
		if (errno == EAGAIN) {
			d->src_ev = EV_READ;
			return 0;
		}
		if ((errno == EINVAL || errno == EIO) && c->tc && d->src == c->pfd) {
			int ret = ktls_nondata(c, d);

			if (ret == 1)
				d->eof = true;
			if (ret == -EAGAIN) {
				d->src_ev = EV_READ;
				return 0;
			}
			return ret < 0 ? ret : 1;
		}
		return -errno;
	}

	if (!d->buf) {
		d->buf = malloc(RELAY_BUF_SIZE);
		if (!d->buf)
			return -ENOMEM;
		d->off = d->len = 0;
	}
	if (d->len >= RELAY_BUF_SIZE)
		return 0;
	if (d->src_ssl) {
		size_t got = 0;

		/*
		 * With read-ahead (pump_start) one read() brings several
		 * records: take every one OpenSSL already holds, so they leave
		 * in one send() rather than one per record.
		 */
		for (;;) {
			n = tlsio_read(c->tc, d->buf + d->len, RELAY_BUF_SIZE - d->len);
			if (n <= 0)
				break;
			d->len += n;
			got += n;
			if (d->len >= RELAY_BUF_SIZE || !tlsio_buffered(c->tc))
				return 1;
		}
		if (got && n == 0)
			d->eof = true;	/* data, then close_notify: both count */
		if (got && n == -EAGAIN)
			d->src_ev = want_ev(c->tc, EV_READ);
		if (got && (n == 0 || n == -EAGAIN))
			return 1;
		buf_release(d);
		if (n == 0) {
			d->eof = true;	/* close_notify */
			return 1;
		}
		if (n == -EAGAIN) {
			d->src_ev = want_ev(c->tc, EV_READ);
			return 0;
		}
		/* includes -ECONNABORTED: EOF without close_notify */
		return n == -ECONNABORTED ? -ECONNRESET : (int)n;
	}
	n = recv(d->src, d->buf + d->len, RELAY_BUF_SIZE - d->len, 0);
	if (n > 0) {
		if ((size_t)n < RELAY_BUF_SIZE - d->len)
			src_drained(c, d);
		d->len += n;
		return 1;
	}
	buf_release(d);
	/* buffer mode reads only the local socket (kTLS RX is spliced) */
	if (n == 0) {
		d->eof = true;
		return 1;
	}
	if (errno == EAGAIN) {
		d->src_ev = EV_READ;
		return 0;
	}
	return -errno;
}

static size_t dir_pending(const struct dir *d)
{
	return dir_splice(d) ? d->in_pipe : d->len - d->off;
}

/* Drain to the destination. 1 progress, 0 blocked/nothing, <0 error. */
static int dir_drain(struct conn *c, struct dir *d)
{
	size_t pend = dir_pending(d);
	ssize_t n;

	d->dst_ev = 0;
	if (!pend)
		return 0;
	if (dir_splice(d)) {
		n = splice(d->pipe[0], NULL, d->dst, NULL, pend, SPLICE_FLAGS);
	} else if (d->dst_ssl) {
		size_t len = d->retry ? d->retry : pend;

		n = tlsio_write(c->tc, d->buf + d->off, len);
		if (n == -EAGAIN) {
			d->retry = len;	/* same bytes again */
			d->dst_ev = want_ev(c->tc, EV_WRITE);
			d->dst_blocked = true;
			return 0;
		}
		if (n < 0)
			return n;
		d->retry = 0;
		/* The kernel counts kTLS records (keylimit.c); in software
		 * we count ours: at least one record per 16 KiB written.
		 * Our TX key is the peer's RX key, and the peer counts its
		 * own TX, so every key in the session is covered. */
		d->records += ((size_t)n + 16383) / 16384;
		if (d->records >= c->r->key_limit) {
			*d->count += (uint64_t)n;
			return -EKEYEXPIRED;
		}
	} else {
		n = send(d->dst, d->buf + d->off, pend, MSG_NOSIGNAL);
	}
	if (n < 0) {
		if (errno == EAGAIN) {
			d->dst_ev = EV_WRITE;
			d->dst_blocked = true;
			return 0;
		}
		return -errno;
	}
	d->dst_blocked = false;
	*d->count += n;
	if (dir_splice(d)) {
		d->in_pipe -= n;
	} else {
		d->off += n;
		buf_release(d);
	}
	return 1;
}

/* Pass end-of-stream on: close_notify (TLS) then FIN. */
static int dir_shut(struct conn *c, struct dir *d)
{
	if (c->tc && d->dst == c->pfd) {
		int ret = tlsio_shutdown(c->tc);

		if (ret == -EAGAIN) {
			d->dst_ev = want_ev(c->tc, EV_WRITE);
			return 0;
		}
		if (ret)
			return ret;
	}
	if (shutdown(d->dst, SHUT_WR) && errno != ENOTCONN)
		return -errno;
	d->shut = true;
	return 1;
}

static int dir_run(struct conn *c, struct dir *d)
{
	int rounds, a, b;

	for (rounds = 0;; rounds++) {
		if (rounds == PUMP_BUDGET) {
			/* Let others run; OpenSSL may hold bytes no poll sees. */
			c->again = true;
			break;
		}
		a = dir_fill(c, d);
		if (a < 0)
			return a;
		b = dir_drain(c, d);
		if (b < 0)
			return b;
		if (!a && !b)
			break;
	}
	if (d->eof && !d->shut && !dir_pending(d)) {
		a = dir_shut(c, d);
		if (a < 0)
			return a;
	}
	return 0;
}

/* What each socket must wait for, from both directions' state. */
static void pump_wants(struct conn *c)
{
	short want[2] = { 0, 0 };
	int i;

	for (i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];
		int sside = d->src == c->pfd, dside = d->dst == c->pfd;
		bool room = dir_splice(d) ? d->in_pipe < d->pipe_cap :
					   (!d->buf || d->len < RELAY_BUF_SIZE);

		if (dir_pending(d) || (d->eof && !d->shut))
			want[dside] |= d->dst_ev ? d->dst_ev : EV_WRITE;
		/* Backpressure: no reading while the far side is stuck. */
		if (!d->eof && room && !(dir_pending(d) && d->dst_blocked))
			want[sside] |= d->src_ev ? d->src_ev : EV_READ;
	}
	conn_want(c, 0, want[0]);
	conn_want(c, 1, want[1]);
	/* Decrypted bytes in OpenSSL: poll() will not say so. */
	if (c->d[1].src_ssl && !c->d[1].eof && tlsio_pending(c->tc) &&
	    (!c->d[1].buf || c->d[1].len < RELAY_BUF_SIZE))
		c->again = true;
	if (c->again) {
		c->again = false;
		if (!c->kick)
			c->kick = event_new(c->r->base, -1, 0, on_event, c);
		if (c->kick)
			event_active(c->kick, 0, 0);
	}
}

static void pump(struct conn *c)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = dir_run(c, &c->d[i]);
		if (ret == -EKEYEXPIRED) {
			c->r->st.key_limit_resets++;
			conn_abort(c, "software TLS reached the AES-GCM key usage limit; "
				   "reset so it reconnects with fresh keys");
			return;
		}
		if (ret < 0) {
			char why[96];

			snprintf(why, sizeof(why), "%s side: %s",
				 (i == 0) == c->client ? "peer" : "local", strerror(-ret));
			conn_abort(c, why);
			return;
		}
	}
	c->fired[0] = c->fired[1] = 0;
	if (c->d[0].shut && c->d[1].shut) {
		conn_free(c, false);	/* both ways ended cleanly */
		return;
	}
	pump_wants(c);
}

static int pump_start(struct conn *c)
{
	struct relay *r = c->r;
	int i, ret;

	/* While streaming, a close we did not choose — the agent killed or
	 * crashing — must reach both ends as a reset, not as a FIN that makes
	 * a cut-off stream look complete.  conn_free turns this off for a
	 * graceful end. */
	set_linger0(c->lfd);
	set_linger0(c->pfd);
	c->d[0].src = c->lfd;
	c->d[0].dst = c->pfd;
	c->d[1].src = c->pfd;
	c->d[1].dst = c->lfd;
	c->d[0].dst_ssl = c->tc && !c->ktls_tx;
	c->d[1].src_ssl = c->tc && !c->ktls_rx;
	/* d[0] carries the local side's bytes to the peer agent. */
	c->d[0].count = &r->st.bytes_to_peer;
	c->d[1].count = &r->st.bytes_from_peer;
	for (i = 0; i < 2; i++) {
		ret = dir_open(&c->d[i]);
		if (ret)
			return ret;
	}
	if (!c->ev[0][0]) {
		ret = conn_events_init(c, 0);
		if (ret)
			return ret;
	}
	evtimer_del(c->timer);
	c->st = CS_PUMP;
	/* The receiving end registered before it knew the db: say it now. */
	if (!c->client && c->registered) {
		r->hooks.session(r->hooks.arg, c->tc, c->pfd, 0, c->peer, c->mode, false);
		r->hooks.session(r->hooks.arg, c->tc, c->pfd, c->db, c->peer, c->mode, true);
	}
	/*
	 * With the kernel doing both directions OpenSSL never reads or writes
	 * again: its whole SSL object goes (the hooks above have read the peer
	 * certificate; close_notify goes out through the kernel). Software
	 * sessions keep it and give their record buffers back whenever they
	 * are empty.
	 */
	if (c->tc && !ktls_conn_release(c->tc)) {
		SSL_set_mode(c->tc->ssl, SSL_MODE_RELEASE_BUFFERS);
		/* Software RX: one read() for up to a buffer's worth of records
		 * instead of two per record (header, then body). */
		if (!c->ktls_rx) {
			SSL_set_default_read_buffer_len(c->tc->ssl, RELAY_BUF_SIZE);
			SSL_set_read_ahead(c->tc->ssl, 1);
		}
		if (c->ktls_tx && c->ktls_rx && !SSL_free_buffers(c->tc->ssl))
			log_debug("relay: node %u: OpenSSL holds unread bytes; its buffers stay",
				  c->peer);
	}
	return 0;
}

/* ---- setup ---- */

static enum relay_mode conn_mode(const struct conn *c)
{
	if (!c->tc)
		return RELAY_MODE_PLAINTEXT;
	return c->ktls_tx && c->ktls_rx ? RELAY_MODE_OFFLOADED : RELAY_MODE_SOFTWARE;
}

static void conn_register(struct conn *c)
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
static int conn_offload(struct conn *c)
{
	int ret = c->r->hooks.software_only ? 0 : ktls_conn_install(c->tc);

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

static int client_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->pfd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		return err ? -err : -errno;
	if (c->plaintext) {
		c->st = CS_SEND_HDR;
		conn_register(c);
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
		conn_want(c, 1, want_ev(c->tc, EV_READ));
		return ret;
	}
	if (ret) {
		log_warn("relay: handshake with node %u failed: %s", c->peer,
		         c->tc->reason);
		return ret;
	}
	conn_want(c, 1, 0);
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
	ret = conn_offload(c);
	if (ret)
		return ret;
	conn_register(c);
	c->st = CS_SEND_HDR;
	return 0;
}

static void client_step(struct conn *c)
{
	char msg[256];
	uint8_t status;
	int ret = 0;

	switch (c->st) {
	case CS_CONNECT:
		conn_want(c, 1, 0);
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
			conn_abort(c, why);
			return;
		}
		ret = pump_start(c);
		if (ret)
			break;
		pump(c);
		return;
	default:
		pump(c);
		return;
	}
	if (ret && ret != -EAGAIN) {
		char why[96];

		snprintf(why, sizeof(why), "to node %u: %s", c->peer, strerror(-ret));
		conn_abort(c, why);
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
	return conn_events_init(c, 0);
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
			conn_want(c, 1, 0);
			ret = server_route(c);
		}
		if (ret || c->st != CS_TARGET_CONNECT)
			break;
		conn_want(c, 0, EV_WRITE);
		return;
	case CS_TARGET_CONNECT:
		conn_want(c, 0, 0);
		if (getsockopt(c->lfd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			server_reply(c, ROUTE_ERR_CONNECT, "target '%s' (%s:%u) of db %u: %s",
				     c->target.name, c->target.addr, c->target.port, c->db,
				     strerror(err ? err : errno));
		} else {
			server_reply(c, ROUTE_OK, NULL);
		}
		break;
	case CS_PUMP:
		pump(c);
		return;
	default:
		break;
	}
	if (!ret && (c->st == CS_SEND_REPLY || c->st == CS_SEND_ERR)) {
		ret = ctl_write(c);
		if (!ret && c->st == CS_SEND_REPLY) {
			ret = pump_start(c);
			if (!ret) {
				pump(c);
				return;
			}
		} else if (!ret) {
			/* Error told; end cleanly so the reason arrives. */
			if (c->tc)
				tlsio_shutdown(c->tc);
			conn_free(c, false);
			return;
		}
	}
	if (ret && ret != -EAGAIN) {
		char why[96];

		snprintf(why, sizeof(why), "%s", strerror(-ret));
		conn_abort(c, why);
	}
}

static void conn_step(struct conn *c)
{
	if (c->client)
		client_step(c);
	else
		server_step(c);
}

/* ---- accepting ---- */

static void server_start(struct relay *r, int fd, struct tls_conn *tc)
{
	struct conn *c = conn_new(r, false, -1, fd);

	if (!c) {
		tls_conn_free(tc);
		close(fd);
		return;
	}
	c->tc = tc;
	c->plaintext = !tc;
	c->st = CS_READ_HDR;
	if (tc) {
		if (tc->peer_node_id > 0)
			c->peer = tc->peer_node_id;
		if (conn_offload(c)) {
			conn_abort(c, "kernel TLS install failed");
			return;
		}
	}
	conn_register(c);
	if (conn_events_init(c, 1)) {
		conn_abort(c, "out of memory");
		return;
	}
	server_step(c);
}

void relay_accept_tls(void *relay, struct tls_conn *tc)
{
	server_start(relay, tc->fd, tc);
}

static void on_plain_accept(struct evconnlistener *l, evutil_socket_t fd,
			    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	server_start(arg, fd, NULL);
}

int relay_listen_plain(struct relay *r, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (route_sockaddr(addr ? addr : "", port, &ss, &sl))
		return -EINVAL;
	if (r->plain)
		evconnlistener_free(r->plain);
	r->plain = evconnlistener_new_bind(r->base, on_plain_accept, r,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC, 128,
					   (struct sockaddr *)&ss, sl);
	if (!r->plain) {
		int err = errno;

		log_err("relay: cannot listen on %s:%u (ine-plain): %s",
		        addr ? addr : "127.0.0.1", port, strerror(err));
		return -(err ? err : EADDRINUSE);
	}
	return 0;
}

static void on_route_accept(struct evconnlistener *l, evutil_socket_t fd,
			    struct sockaddr *sa, int salen, void *arg)
{
	struct route_listener *rl = arg;
	struct relay *r = rl->r;
	const struct relay_config_node *node;
	const struct relay_config_db *db;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct conn *c;
	int pfd, one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	c = conn_new(r, true, fd, -1);
	if (!c) {
		set_linger0(fd);
		close(fd);
		return;
	}
	c->route = rl->route;
	c->db = rl->route.db;
	c->peer = rl->route.peer_node;
	db = route_table_db(r->table, c->db);
	node = route_table_node(r->table, c->peer);
	if (!db || !node) {
		conn_abort(c, "route no longer configured");
		return;
	}
	c->enc = db->data_internode_encryption;
	c->plaintext = !c->enc;
	{
		struct route_header h = { .db = c->db };
		int n;

		snprintf(h.name, sizeof(h.name), "%s", c->route.target);
		n = route_header_encode(&h, c->ctl, sizeof(c->ctl));
		if (n < 0) {
			conn_abort(c, "bad route header");
			return;
		}
		c->ctl_len = n;
	}
	if (route_sockaddr(node->addr,
			   c->plaintext ? (node->plain_port ? node->plain_port : ROUTE_PLAIN_PORT)
					: (node->dp_port ? node->dp_port : ROUTE_DP_PORT),
			   &ss, &sl)) {
		conn_abort(c, "bad node address");
		return;
	}
	pfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pfd < 0) {
		conn_abort(c, strerror(errno));
		return;
	}
	c->pfd = pfd;
	setsockopt(pfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conn_events_init(c, 1)) {
		conn_abort(c, "out of memory");
		return;
	}
	if (connect(pfd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		conn_abort(c, strerror(errno));
		return;
	}
	c->st = CS_CONNECT;
	conn_want(c, 1, EV_WRITE);
}

/* ---- configuration ---- */

static struct route_listener *rl_new(struct relay *r,
				     const struct relay_config_route *rt,
				     char *err, size_t errlen)
{
	struct route_listener *rl = calloc(1, sizeof(*rl));
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!rl || route_sockaddr(rt->listen_addr, rt->listen_port, &ss, &sl)) {
		free(rl);
		snprintf(err, errlen, "route on port %u: bad address", rt->listen_port);
		return NULL;
	}
	rl->r = r;
	rl->route = *rt;
	rl->l = evconnlistener_new_bind(r->base, on_route_accept, rl,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					LEV_OPT_CLOSE_ON_EXEC, 128,
					(struct sockaddr *)&ss, sl);
	if (!rl->l) {
		snprintf(err, errlen, "route of db %u: cannot listen on %s:%u: %s",
			 rt->db, rt->listen_addr[0] ? rt->listen_addr : "127.0.0.1",
			 rt->listen_port, strerror(errno));
		free(rl);
		return NULL;
	}
	return rl;
}

static void rl_free(struct route_listener *rl)
{
	if (!rl)
		return;
	evconnlistener_free(rl->l);
	free(rl);
}

static bool route_same(const struct relay_config_route *a,
		       const struct relay_config_route *b)
{
	return a->db == b->db && a->peer_node == b->peer_node &&
	       a->listen_port == b->listen_port &&
	       !strcmp(a->listen_addr, b->listen_addr) && !strcmp(a->target, b->target);
}

/* Does connection c still stand under table t? */
static bool conn_valid(const struct conn *c, const struct route_table *t)
{
	const struct relay_config_db *db = route_table_db(t, c->db);
	size_t i;

	if (c->st == CS_READ_HDR)
		return true;	/* not bound to a db yet: it will check t */
	if (!db || db->data_internode_encryption != c->enc)
		return false;
	if (c->client) {
		for (i = 0; i < route_table_n_routes(t); i++)
			if (route_same(route_table_route(t, i), &c->route))
				return true;
		return false;
	} else {
		const struct relay_config_target *tg =
			route_table_target(t, c->db, c->target.name);

		return tg && tg->port == c->target.port &&
		       !strcmp(tg->addr, c->target.addr);
	}
}

int relay_apply_config(struct relay *r, const struct relay_config *cfg,
		       char *err, size_t errlen)
{
	struct route_listener **rls = NULL;
	struct route_table *t;
	struct conn *c, *next;
	size_t i, j, n;
	int ret;

	ret = route_table_build(cfg, &t, err, errlen);
	if (ret)
		goto err_log;
	n = route_table_n_routes(t);
	rls = calloc(n ? n : 1, sizeof(*rls));
	if (!rls) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_table;
	}
	for (i = 0; i < r->n_rls; i++)
		r->rls[i]->keep = false;
	/* Keep a listening socket whose address stays: no window of refusals. */
	for (i = 0; i < n; i++) {
		const struct relay_config_route *rt = route_table_route(t, i);

		for (j = 0; j < r->n_rls; j++) {
			struct route_listener *o = r->rls[j];

			if (!o->keep && o->route.listen_port == rt->listen_port &&
			    !strcmp(o->route.listen_addr, rt->listen_addr)) {
				o->keep = true;
				rls[i] = o;
				break;
			}
		}
		if (!rls[i]) {
			rls[i] = rl_new(r, rt, err, errlen);
			if (!rls[i]) {
				ret = -EADDRINUSE;
				goto err_listeners;
			}
		}
	}
	/* Swap. */
	for (i = 0; i < n; i++)
		rls[i]->route = *route_table_route(t, i);
	for (i = 0; i < r->n_rls; i++)
		if (!r->rls[i]->keep)
			rl_free(r->rls[i]);
	free(r->rls);
	r->rls = rls;
	r->n_rls = n;
	route_table_free(r->table);
	r->table = t;
	for (c = r->conns; c; c = next) {
		next = c->next;
		if (!conn_valid(c, t)) {
			r->st.disconnected++;
			conn_abort(c, "configuration changed");
		}
	}
	return 0;

err_listeners:
	for (i = 0; i < n; i++) {
		bool old = false;

		for (j = 0; j < r->n_rls; j++)
			old |= rls[i] == r->rls[j];
		if (!old)
			rl_free(rls[i]);
	}
	free(rls);
err_table:
	route_table_free(t);
err_log:
	log_err("relay: configuration not applied: %s", err);
	return ret;
}

/* ---- object ---- */

struct relay *relay_new(struct event_base *base, SSL_CTX *client_ctx,
			const struct relay_hooks *hooks)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = base;
	r->cctx = client_ctx;
	r->key_limit = INE_KEY_WARN_RECORDS_DEFAULT;
	if (hooks)
		r->hooks = *hooks;
	return r;
}

void relay_set_client_ctx(struct relay *r, SSL_CTX *client_ctx)
{
	r->cctx = client_ctx;
}

void relay_free(struct relay *r)
{
	size_t i;

	if (!r)
		return;
	while (r->conns)
		conn_free(r->conns, true);
	for (i = 0; i < r->n_rls; i++)
		rl_free(r->rls[i]);
	free(r->rls);
	if (r->plain)
		evconnlistener_free(r->plain);
	route_table_free(r->table);
	free(r);
}

void relay_get_stats(const struct relay *r, struct relay_stats *st)
{
	const struct conn *c;

	*st = r->st;
	st->setup = st->offloaded = st->software = st->plaintext = 0;
	st->ktls_tx = st->ktls_rx = 0;
	for (c = r->conns; c; c = c->next) {
		if (c->st != CS_PUMP)
			st->setup++;
		else if (c->mode == RELAY_MODE_OFFLOADED)
			st->offloaded++;
		else if (c->mode == RELAY_MODE_SOFTWARE)
			st->software++;
		else
			st->plaintext++;
		st->ktls_tx += c->ktls_tx;
		st->ktls_rx += c->ktls_rx;
	}
}

int relay_retire_fd(struct relay *r, int fd, const char *why)
{
	for (struct conn *c = r->conns; c; c = c->next)
		if (!c->plaintext && c->pfd == fd) {
			conn_abort(c, why);
			return 0;
		}
	return -ENOENT;
}

void relay_set_key_limit(struct relay *r, uint64_t records)
{
	r->key_limit = records ? records : INE_KEY_WARN_RECORDS_DEFAULT;
}
