// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * io.c - reading and writing brokered sockets with one meaning of "the
 * end" whatever the mode (ine.h, docs/libine.md).
 *
 * Offloaded (the fd has the kernel's tls ULP): a bare read() returns 0 on
 * a FIN without close_notify and fails with EIO on the close_notify
 * itself, the reverse of what an application needs.  ine_recv reads with
 * a control-message buffer, so the kernel hands non-data records over
 * with their type: an alert close_notify is the clean end (0, and 0 from
 * then on: the FIN after it is no news); EOF without it is truncation.
 * Software and plaintext: the fd is plain TCP; the agent turns the peer's
 * close_notify into a FIN and everything else into a reset, so recv()'s
 * own answers already mean the right thing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/tls.h>

#include <ine/ine.h>
#include "libine/libine_internal.h"

#define REC_ALERT		21
#define REC_HANDSHAKE		22
#define REC_DATA		23
#define ALERT_CLOSE_NOTIFY	0

/* Per fd: what we know.  Guarded by mu; grown on demand. */
enum { FD_UNKNOWN = 0, FD_KTLS = 1, FD_PLAIN = 2, FD_CLEAN = 4, FD_CUT = 8 };
#define FD_TABLE_MAX	(1 << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *fdstate;
static size_t fdstate_n;

static uint8_t state_get(int fd)
{
	uint8_t v = FD_UNKNOWN;

	pthread_mutex_lock(&mu);
	if (fd >= 0 && (size_t)fd < fdstate_n)
		v = fdstate[fd];
	pthread_mutex_unlock(&mu);
	return v;
}

static void state_set(int fd, uint8_t v)
{
	pthread_mutex_lock(&mu);
	if (fd >= 0 && fd < FD_TABLE_MAX && (size_t)fd >= fdstate_n) {
		size_t n = fdstate_n ? fdstate_n : 64;
		uint8_t *p;

		while (n <= (size_t)fd)
			n *= 2;
		p = realloc(fdstate, n);
		if (p) {
			memset(p + fdstate_n, 0, n - fdstate_n);
			fdstate = p;
			fdstate_n = n;
		}
	}
	if (fd >= 0 && (size_t)fd < fdstate_n)
		fdstate[fd] = v;
	pthread_mutex_unlock(&mu);
}

void ine_fdstate_reset(int fd)
{
	if (state_get(fd) != FD_UNKNOWN)
		state_set(fd, FD_UNKNOWN);
}

static uint8_t kind_of(int fd)
{
	uint8_t v = state_get(fd);
	char ulp[16] = "";
	socklen_t ul = sizeof(ulp);

	if (v & (FD_KTLS | FD_PLAIN))
		return v;
	v = !getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ul) && !strcmp(ulp, "tls") ?
	    FD_KTLS : FD_PLAIN;
	state_set(fd, v);
	return v;
}

/* One recvmsg with the record type; type set to its TLS content type. */
static ssize_t recv_typed(int fd, void *buf, size_t len, int flags, int *type)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(unsigned char))];
	} cm;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	ssize_t n;

	memset(&cm, 0, sizeof(cm));
	do
		n = recvmsg(fd, &mh, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*type = REC_DATA;
	for (ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_TLS && ch->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *(unsigned char *)CMSG_DATA(ch);
	return n;
}

static ssize_t recv_ktls(int fd, void *buf, size_t len, int flags)
{
	uint8_t alert[2];
	int type;
	ssize_t n;

	for (;;) {
		/* An alert needs 2 bytes; a 1-byte read peeks at the type
		 * first so that a data record loses nothing. */
		if (len < sizeof(alert)) {
			n = recv_typed(fd, alert, sizeof(alert), flags | MSG_PEEK, &type);
			if (n > 0 && type == REC_DATA)
				n = recv_typed(fd, buf, len, flags, &type);
			else if (n > 0)
				n = recv_typed(fd, alert, sizeof(alert), flags, &type);
		} else {
			n = recv_typed(fd, buf, len, flags, &type);
		}
		if (n < 0) {
			/* EBADMSG: a record failed authentication; EMSGSIZE:
			 * oversize; EINVAL: a malformed record. */
			if (n == -EBADMSG || n == -EMSGSIZE || n == -EINVAL)
				return -EBADMSG;
			return n;
		}
		if (type == REC_DATA)
			return n ? n : -ECONNRESET;	/* 0: FIN without close_notify */
		if (type == REC_ALERT) {
			const uint8_t *a = len < sizeof(alert) ? alert : buf;

			if (n >= 2 && a[1] == ALERT_CLOSE_NOTIFY) {
				state_set(fd, FD_KTLS | FD_CLEAN);
				return 0;
			}
			return -EPROTO;		/* a fatal alert from the peer */
		}
		/* REC_HANDSHAKE (NewSessionTicket, ...): not the app's. */
	}
}

/* Software and plaintext: recv's own answer, except that a reset whose
 * error an earlier write() already took leaves the socket in TCP_CLOSE
 * and recv() returning 0: still a cut, not a clean end (a clean one is in
 * CLOSE_WAIT, or TIME_WAIT after our own FIN). */
static ssize_t recv_plain(int fd, void *buf, size_t len, int flags)
{
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	ssize_t n;

	do
		n = recv(fd, buf, len, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOTSOCK) {
		do
			n = read(fd, buf, len);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	if (n == 0 && !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) &&
	    ti.tcpi_state == TCP_CLOSE)
		return -ECONNRESET;
	return n;
}

ssize_t ine_recv(int fd, void *buf, size_t len, int flags)
{
	uint8_t k;
	ssize_t n;

	if (len == 0)
		return 0;
	k = kind_of(fd);
	if (k & FD_CLEAN)
		return 0;
	if (k & FD_CUT)
		return -ECONNRESET;
	if (k & FD_KTLS)
		n = recv_ktls(fd, buf, len, flags);
	else
		n = recv_plain(fd, buf, len, flags);
	if (n == -ECONNRESET)
		state_set(fd, (uint8_t)(k | FD_CUT));
	return n;
}

ssize_t ine_read(int fd, void *buf, size_t len)
{
	return ine_recv(fd, buf, len, 0);
}

ssize_t ine_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOTSOCK) {
		do
			n = write(fd, buf, len);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0 && errno == ECONNRESET)
		state_set(fd, (uint8_t)(kind_of(fd) | FD_CUT));
	return n < 0 ? -errno : n;
}
