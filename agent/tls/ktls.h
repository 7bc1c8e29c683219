/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls.h - hand a finished TLS session to the kernel (TCP_ULP "tls").
 *
 * OpenSSL 3.0 with SSL_OP_ENABLE_KTLS offloads TX for TLS 1.2 and 1.3 and
 * RX for TLS 1.2 by itself.  TLS 1.3 RX we install here from the peer's
 * application traffic secret (captured by tls.c's keylog hook, wiped after
 * use), with rec_seq 0: tickets are off, so no record has been read under
 * that key; if OpenSSL still holds unread bytes we refuse and that session
 * keeps its RX in software.  A kernel without TLS gives "software" for the
 * session, never plaintext.
 *
 * After RX is in the kernel, read with tlsio_read() (tlsio.h) or
 * ktls_recv_record(): a non-data record (alert, stray handshake message)
 * makes plain recv() fail with EIO and splice() with EINVAL; recvmsg with
 * a TLS_GET_RECORD_TYPE cmsg reads it.
 */
#ifndef INE_KTLS_H
#define INE_KTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>

struct tls_conn;

/* TLS record content types (RFC 8446 5.1). */
#define KTLS_REC_ALERT		21
#define KTLS_REC_HANDSHAKE	22
#define KTLS_REC_DATA		23

/*
 * After tls_conn_handshake() returned 0: make sure TX and RX are in the
 * kernel where it can.  Sets c->ktls_tx / c->ktls_rx.  Returns 0 (whatever
 * the outcome: a session partly or wholly in software still works; see
 * ktls_conn_mode()), or -errno if the socket is now unusable (reason in
 * c->reason).
 */
int ktls_conn_install(struct tls_conn *c);

/*
 * With both directions in the kernel OpenSSL never reads or writes the
 * socket again, yet its SSL object stays: the object itself, the session,
 * the peer's parsed certificates, two cipher contexts (~23 KiB per session
 * on x86_64, OpenSSL 3.0).  Free it and keep only what the session still
 * uses (c->version, c->cipher, c->alpn, c->plane, c->peer_node_id).  After
 * this c->ssl is NULL: read the peer certificate (serial, expiry) before.
 * tlsio keeps working (reads, writes and close_notify go through the
 * kernel, as they already did).  Returns true if released; false (and
 * nothing changes) unless both directions are in the kernel and OpenSSL
 * holds no unread bytes.
 */
bool ktls_conn_release(struct tls_conn *c);

/* Wipe the captured TLS 1.3 RX secret of a session that will never be
 * installed in the kernel (ktls_conn_install does it itself). NULL-safe. */
void ktls_conn_wipe_secret(struct tls_conn *c);

/* "kernel" (TX+RX), "kernel-tx" (RX in OpenSSL), or "software". */
const char *ktls_conn_mode(const struct tls_conn *c);

/*
 * Read up to len bytes of one record type from a kTLS RX socket.
 * Returns bytes read and *type (KTLS_REC_*), 0 at TCP EOF, -errno.
 * A data read stops at the next non-data record, so a non-data record is
 * always returned by itself.
 */
ssize_t ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type);

/* Send one record of the given type on a kTLS TX socket (cmsg TLS_SET_RECORD_TYPE). */
int ktls_send_record(int fd, uint8_t type, const void *buf, size_t len);

/* close_notify (alert warning/0) on a kTLS TX socket.  0 or -errno. */
int ktls_send_close_notify(int fd);

/*
 * TLS 1.3 traffic key schedule (RFC 8446 7.3): key = HKDF-Expand-Label(
 * secret, "key", "", key_len), iv = HKDF-Expand-Label(secret, "iv", "", 12).
 * Exposed for the unit tests.  0 or -errno.
 */
int ktls_tls13_derive(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
		      uint8_t *key, size_t key_len, uint8_t iv[12]);

#endif
