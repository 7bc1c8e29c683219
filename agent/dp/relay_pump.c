// SPDX-License-Identifier: GPL-2.0
/*
 * The byte pump of a connection that is set up. d[0] local -> peer, d[1]
 * peer -> local. A direction whose source and destination are both plain
 * sockets at the syscall level (plaintext, or kernel TLS on that side)
 * moves socket -> pipe -> socket with splice(2); otherwise it moves through
 * OpenSSL with a 64 KiB buffer that exists only while it holds bytes.
 * Either way a direction stops reading while its pipe/buffer cannot be
 * drained (backpressure), so memory is bounded.
 * See relay_internal.h for the map.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "dp/relay_internal.h"
#include "tls/ktls.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

#define SPLICE_FLAGS		(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
#define PUMP_BUDGET		16	/* rounds per wakeup: share the loop */
#define KTLS_READ_MAX		2048	/* a tlsio read after splice stopped */

/*
 * A pipe with room for fewer bytes than a record holds (pipe_cap counts
 * bytes, the kernel counts page slots) answers EAGAIN or a short write:
 * keep the rest (at most one tlsio read, 2 KiB) and move it in as the pipe
 * drains. No more is read from the socket meanwhile (dir_fill).
 */
int relay_dir_pipe_put(struct dir *d, const uint8_t *data, size_t n)
{
	ssize_t w;

	if (n) {
		if (d->spill_len)
			return -EBUSY;	/* dir_fill flushes first */
		w = write(d->pipe[1], data, n);
		if (w < 0 && errno != EAGAIN)
			return -errno;
		w = w < 0 ? 0 : w;
		d->in_pipe += (size_t)w;
		if ((size_t)w == n)
			return 0;
		if (!d->spill)
			d->spill = malloc(KTLS_READ_MAX);
		if (!d->spill || n - w > KTLS_READ_MAX)
			return -ENOMEM;
		memcpy(d->spill, data + w, n - w);
		d->spill_off = 0;
		d->spill_len = n - w;
		return 0;
	}
	if (!d->spill_len)
		return 0;
	w = write(d->pipe[1], d->spill + d->spill_off, d->spill_len);
	if (w < 0)
		return errno == EAGAIN ? 0 : -errno;
	d->in_pipe += (size_t)w;
	d->spill_off += (size_t)w;
	d->spill_len -= (size_t)w;
	if (!d->spill_len) {
		free(d->spill);		/* idle connections hold no buffer */
		d->spill = NULL;
		d->spill_off = 0;
	}
	return 0;
}

/*
 * splice() out of a kernel-TLS RX socket stops at a non-data record
 * (EINVAL/EIO): let tlsio read it. close_notify ends the stream (1); a
 * data record that raced in goes into the pipe; anything else is fatal.
 */
static int ktls_nondata(struct conn *c, struct dir *d)
{
	uint8_t data[KTLS_READ_MAX];
	ssize_t n = tlsio_read(c->tc, data, sizeof(data));

	if (n == 0)
		return 1;
	if (n < 0)
		return n == -ECONNABORTED ? -ECONNRESET : (int)n;
	return relay_dir_pipe_put(d, data, n);
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
	if (d->spill_len) {
		size_t held = d->spill_len;
		int ret = relay_dir_pipe_put(d, NULL, 0);

		if (ret)
			return ret;
		if (d->spill_len)	/* the pipe must drain first */
			return held != d->spill_len;
	}
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
		 * With read-ahead (relay_pump_start) one read() brings several
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
			d->src_ev = relay_tls_want(c->tc, EV_READ);
		if (got && (n == 0 || n == -EAGAIN))
			return 1;
		buf_release(d);
		if (n == 0) {
			d->eof = true;	/* close_notify */
			return 1;
		}
		if (n == -EAGAIN) {
			d->src_ev = relay_tls_want(c->tc, EV_READ);
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
	return dir_splice(d) ? d->in_pipe + d->spill_len : d->len - d->off;
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
		if (!d->in_pipe)
			return 0;	/* held-back bytes go in at the next fill */
		n = splice(d->pipe[0], NULL, d->dst, NULL, d->in_pipe, SPLICE_FLAGS);
	} else if (d->dst_ssl) {
		size_t len = d->retry ? d->retry : pend;

		n = tlsio_write(c->tc, d->buf + d->off, len);
		if (n == -EAGAIN) {
			d->retry = len;	/* same bytes again */
			d->dst_ev = relay_tls_want(c->tc, EV_WRITE);
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
			d->dst_ev = relay_tls_want(c->tc, EV_WRITE);
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

/* Only a pumping connection kicks itself (pump_wants), so the run it asks
 * for is the pump's: no need to go up through the setup state machine. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relay_pump(arg);
}

/* What each socket must wait for, from both directions' state. */
static void pump_wants(struct conn *c)
{
	short want[2] = { 0, 0 };
	int i;

	for (i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];
		int sside = d->src == c->pfd, dside = d->dst == c->pfd;
		bool room = dir_splice(d) ? d->in_pipe < d->pipe_cap && !d->spill_len :
					   (!d->buf || d->len < RELAY_BUF_SIZE);

		if (dir_pending(d) || (d->eof && !d->shut))
			want[dside] |= d->dst_ev ? d->dst_ev : EV_WRITE;
		/* Backpressure: no reading while the far side is stuck. */
		if (!d->eof && room && !(dir_pending(d) && d->dst_blocked))
			want[sside] |= d->src_ev ? d->src_ev : EV_READ;
	}
	relay_conn_want(c, 0, want[0]);
	relay_conn_want(c, 1, want[1]);
	/* Decrypted bytes in OpenSSL: poll() will not say so. */
	if (c->d[1].src_ssl && !c->d[1].eof && tlsio_pending(c->tc) &&
	    (!c->d[1].buf || c->d[1].len < RELAY_BUF_SIZE))
		c->again = true;
	if (c->again) {
		c->again = false;
		if (!c->kick)
			c->kick = event_new(c->r->base, -1, 0, on_kick, c);
		if (c->kick)
			event_active(c->kick, 0, 0);
	}
}

void relay_pump(struct conn *c)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = dir_run(c, &c->d[i]);
		if (ret == -EKEYEXPIRED) {
			c->r->st.key_limit_resets++;
			relay_conn_abort(c, "software TLS reached the AES-GCM key usage limit; "
				   "reset so it reconnects with fresh keys");
			return;
		}
		if (ret < 0) {
			char why[96];

			snprintf(why, sizeof(why), "%s side: %s",
				 (i == 0) == c->client ? "peer" : "local", strerror(-ret));
			relay_conn_abort(c, why);
			return;
		}
	}
	c->fired[0] = c->fired[1] = 0;
	if (c->d[0].shut && c->d[1].shut) {
		relay_conn_free(c, false);	/* both ways ended cleanly */
		return;
	}
	pump_wants(c);
}

int relay_pump_start(struct conn *c)
{
	struct relay *r = c->r;
	int i, ret;

	/* While streaming, a close we did not choose — the agent killed or
	 * crashing — must reach both ends as a reset, not as a FIN that makes
	 * a cut-off stream look complete.  relay_conn_free turns this off for a
	 * graceful end. */
	relay_sock_linger0(c->lfd);
	relay_sock_linger0(c->pfd);
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

