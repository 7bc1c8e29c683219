/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tlsio.h - read/write/close on a finished session, whichever of the kernel
 * or OpenSSL holds each direction.  Non-blocking: -EAGAIN sets c->want.
 *
 * When c->ktls_tx and c->ktls_rx are both set the relay may use the fd
 * directly (splice/sendfile); when splice from it fails with EINVAL or EIO
 * the next record is not data: call tlsio_read() to consume it.
 */
#ifndef INE_TLSIO_H
#define INE_TLSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_conn;

/*
 * >0 bytes of application data; 0 = the peer sent close_notify (clean
 * EOF); -EAGAIN (c->want); -ECONNABORTED = TCP closed without close_notify
 * (truncation); -EPROTO/-ECONNRESET = a fatal alert or a record we do not
 * accept (KeyUpdate, NewSessionTicket, ...); c->reason says which.
 */
ssize_t tlsio_read(struct tls_conn *c, void *buf, size_t len);

/*
 * Bytes written (may be short), -EAGAIN, or -errno.  After -EAGAIN retry
 * with the same bytes (the buffer may move).
 */
ssize_t tlsio_write(struct tls_conn *c, const void *buf, size_t len);

/* Send our close_notify (once).  0, -EAGAIN, or -errno. */
int tlsio_shutdown(struct tls_conn *c);

/* Decrypted bytes OpenSSL holds that poll() on the fd will not announce. */
bool tlsio_pending(const struct tls_conn *c);

/*
 * OpenSSL holds bytes read off the socket, decrypted or not (with
 * read-ahead, whole records; or just part of one: a tlsio_read() may then
 * still say -EAGAIN).  For "read again before waiting", not for "wake up
 * without poll".
 */
bool tlsio_buffered(const struct tls_conn *c);

#endif
