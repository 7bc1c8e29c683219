// SPDX-License-Identifier: GPL-2.0
/*
 * tlsio.c - primitive I/O on a finished session whether each direction is
 * in the kernel or in OpenSSL.  See tlsio.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/log.h"
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/ktls.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

static const char *handshake_type_name(uint8_t t)
{
	switch (t) {
	case 4:  return "NewSessionTicket";
	case 24: return "KeyUpdate";
	case 13: return "CertificateRequest";
	case 0:  return "HelloRequest (renegotiation)";
	default: return "handshake message";
	}
}

static ssize_t io_fail(struct tls_conn *c, ssize_t rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static ssize_t io_fail(struct tls_conn *c, ssize_t rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	log_warn("tls: fd %d closing session: %s", c->fd, c->reason);
	return rc;
}

/* A record that is not application data arrived on a kernel RX socket. */
static ssize_t ktls_nondata(struct tls_conn *c, uint8_t type, const uint8_t *p, ssize_t n)
{
	if (type == KTLS_REC_ALERT) {
		if (n >= 2 && p[1] == 0) {
			c->priv->close_rcvd = true;
			return 0;
		}
		if (n >= 2)
			return io_fail(c, -ECONNRESET, "peer sent %s alert %u (%s)",
				       p[0] == 2 ? "fatal" : "warning", p[1],
				       SSL_alert_desc_string_long(p[1]));
		return io_fail(c, -EPROTO, "peer sent a short alert record");
	}
	if (type == KTLS_REC_HANDSHAKE)
		return io_fail(c, -EPROTO, "peer sent %s after the handshake; kernel TLS cannot "
			       "process it", n >= 1 ? handshake_type_name(p[0]) : "an empty record");
	return io_fail(c, -EPROTO, "peer sent a record of unexpected type %u", type);
}

static ssize_t read_kernel(struct tls_conn *c, void *buf, size_t len)
{
	uint8_t type;
	ssize_t n;

	if (c->priv->close_rcvd)
		return 0;
	if (len < 2)	/* an alert record needs its 2 bytes */
		return -EINVAL;
	n = ktls_recv_record(c->fd, buf, len, &type);
	if (n == -EAGAIN || n == -EWOULDBLOCK) {
		c->want = TLS_WANT_READ;
		return -EAGAIN;
	}
	if (n < 0)
		return io_fail(c, n, "read failed: %s%s", strerror((int)-n),
			       n == -EBADMSG ? " (record failed authentication)" : "");
	if (n == 0)
		return io_fail(c, -ECONNABORTED, "peer closed the connection without close_notify");
	if (type != KTLS_REC_DATA)
		return ktls_nondata(c, type, buf, n);
	return n;
}

static ssize_t ssl_fail(struct tls_conn *c, int ret, bool reading)
{
	int err = SSL_get_error(c->ssl, ret);
	unsigned long e;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		c->want = TLS_WANT_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want = TLS_WANT_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		c->priv->close_rcvd = true;
		return 0;
	default:
		break;
	}
	e = ERR_peek_last_error();
	ERR_clear_error();
	if (err == SSL_ERROR_SYSCALL && !e)
		return io_fail(c, errno ? -errno : -ECONNABORTED, "%s failed: %s",
			       reading ? "read" : "write",
			       errno ? strerror(errno) : "EOF without close_notify");
	if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return io_fail(c, -ECONNABORTED, "peer closed the connection without close_notify");
	return io_fail(c, -EPROTO, "%s failed: %s", reading ? "read" : "write",
		       e ? ERR_reason_error_string(e) : "TLS error");
}

ssize_t tlsio_read(struct tls_conn *c, void *buf, size_t len)
{
	size_t got = 0;
	int ret;

	if (len == 0)
		return 0;
	if (c->ktls_rx)
		return read_kernel(c, buf, len);
	if (!c->ssl)	/* released (ktls_conn_release): cannot happen without kTLS RX */
		return io_fail(c, -EBADF, "read failed: the TLS state was released");
	ERR_clear_error();
	ret = SSL_read_ex(c->ssl, buf, len, &got);
	if (ret == 1)
		return (ssize_t)got;
	return ssl_fail(c, ret, true);
}

ssize_t tlsio_write(struct tls_conn *c, const void *buf, size_t len)
{
	size_t put = 0;
	ssize_t n;
	int ret;

	if (len == 0)
		return 0;
	if (c->ktls_tx) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->want = TLS_WANT_WRITE;
			return -EAGAIN;
		}
		return io_fail(c, -errno, "write failed: %s", strerror(errno));
	}
	if (!c->ssl)
		return io_fail(c, -EBADF, "write failed: the TLS state was released");
	ERR_clear_error();
	ret = SSL_write_ex(c->ssl, buf, len, &put);
	if (ret == 1)
		return (ssize_t)put;
	return ssl_fail(c, ret, false);
}

int tlsio_shutdown(struct tls_conn *c)
{
	int ret;

	if (c->priv->close_sent)
		return 0;
	if (c->ktls_tx) {
		ret = ktls_send_close_notify(c->fd);
		if (ret == -EAGAIN || ret == -EWOULDBLOCK) {
			c->want = TLS_WANT_WRITE;
			return -EAGAIN;
		}
		if (ret < 0)
			return (int)io_fail(c, ret, "sending close_notify failed: %s",
					    strerror(-ret));
	} else if (!c->ssl) {
		return (int)io_fail(c, -EBADF, "sending close_notify failed: the TLS state "
				    "was released");
	} else {
		ERR_clear_error();
		ret = SSL_shutdown(c->ssl);
		if (ret < 0) {
			ssize_t r = ssl_fail(c, ret, false);

			return r == 0 ? 0 : (int)r;
		}
	}
	c->priv->close_sent = true;
	return 0;
}

bool tlsio_pending(const struct tls_conn *c)
{
	return !c->ktls_rx && c->ssl && SSL_pending(c->ssl) > 0;
}

bool tlsio_buffered(const struct tls_conn *c)
{
	return !c->ktls_rx && c->ssl && SSL_has_pending(c->ssl);
}
