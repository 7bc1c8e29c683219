// SPDX-License-Identifier: LGPL-2.1-or-later
/* libine: ask the local agent for an encrypted internode socket (ine.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/tls.h>

#include <ine/ine.h>
#include "dp/broker.h"	/* wire format constants shared with the agent */
#include "libine/libine_internal.h"

#define INE_TIMEOUT_S	20

static __thread char last_err[256];

const char *ine_last_error(void)
{
	return last_err;
}

static int set_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	return err;
}

const char *ine_mode_str(enum ine_mode m)
{
	switch (m) {
	case INE_MODE_OFFLOADED: return "offloaded";
	case INE_MODE_SOFTWARE: return "software";
	case INE_MODE_PLAINTEXT: return "plaintext";
	default: return "none";
	}
}

const char *ine_strerror(int err)
{
	switch (-err) {
	case 0: return "ine: success";
	case EACCES: return "ine: not allowed (by the local agent's allowlist or the peer's target allowlist)";
	case EHOSTUNREACH: return "ine: unknown node or its agent is unreachable";
	case ENOENT: return "ine: unknown database";
	case EADDRNOTAVAIL: return "ine: the database has no such target on this node";
	case ECONNREFUSED: return "ine: the peer refused (target down or TLS handshake failed)";
	case ENOTCONN: return "ine: no local ine agent (broker socket missing; is ined running?)";
	case ETIMEDOUT: return "ine: the agent did not answer in time";
	case EINVAL: return "ine: invalid argument (target names are 1-64 of [A-Za-z0-9._:-])";
	case EBADMSG: return "ine: malformed message between libine and the agent";
	case ENOKEY: return "ine: this node has no data-plane certificate (not a cluster member?)";
	case ECONNABORTED: return "ine: the database's encryption setting changed while connecting; connect again";
	case ECONNRESET: return "ine: the stream was cut (no TLS close_notify: truncation, reset, key limit or a policy change); reconnect";
	case EPROTO: return "ine: the peer refused the connection's encryption mode, or sent a TLS alert";
	case EBUSY: return "ine: the agent is busy; try again";
	default: return "ine: system error (see errno)";
	}
}

static int broker_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("INE_BROKER_SOCKET");
	struct timeval tv = { INE_TIMEOUT_S, 0 };
	int fd, e;

	if (!path || !*path)
		path = INE_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return set_err(-EINVAL, "broker socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(-errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return set_err(-ENOTCONN, "no ine agent on %s: %s", path, strerror(e));
		return set_err(-e, "connecting to the ine agent on %s: %s", path, strerror(e));
	}
	return fd;
}

/* One request, one reply (+ fd). */
static int transact(uint8_t op, uint32_t node, uint32_t db, const char *name,
		    struct ine_info *info)
{
	uint8_t req[BROKER_REQ_MAX], rep[BROKER_REPLY_MAX];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	size_t nl = name ? strlen(name) : 0;
	int fd, got = -1, err;
	uint32_t e;
	ssize_t n;

	last_err[0] = '\0';
	if (info)
		memset(info, 0, sizeof(*info));
	if (!nl || nl > 64)
		return set_err(-EINVAL, "target name must be 1..64 characters");
	for (size_t i = 0; i < nl; i++) {
		char k = name[i];

		if (!((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') ||
		      (k >= '0' && k <= '9') || k == '.' || k == '_' || k == ':' || k == '-'))
			return set_err(-EINVAL, "target name '%s' has a byte outside "
				       "[A-Za-z0-9._:-]", name);
	}
	memcpy(req, BROKER_MAGIC, 4);
	req[4] = BROKER_VERSION;
	req[5] = op;
	req[6] = req[7] = 0;
	node = htonl(node);
	db = htonl(db);
	memcpy(req + 8, &node, 4);
	memcpy(req + 12, &db, 4);
	req[16] = (uint8_t)nl;
	memcpy(req + 17, name, nl);

	fd = broker_open();
	if (fd < 0)
		return fd;
	/* A caller the agent refuses at accept finds the refusal queued and
	 * the socket closed: the send fails (EPIPE), the reply is still there. */
	if (send(fd, req, BROKER_REQ_FIXED + nl, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		err = set_err(-errno, "sending to the ine agent: %s", strerror(errno));
		goto out;
	}
	memset(&cm, 0, sizeof(cm));
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (ch = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS &&
		    ch->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(ch), sizeof(int));
	if (n == 0) {
		err = set_err(-ECONNRESET, "the ine agent closed without answering");
		goto out;
	}
	if (n < 0) {
		err = errno == EAGAIN ? set_err(-ETIMEDOUT, "the ine agent did not answer")
				      : set_err(-errno, "reading from the ine agent: %s",
						strerror(errno));
		goto out;
	}
	if ((size_t)n < BROKER_REPLY_FIXED || memcmp(rep, BROKER_MAGIC, 4) ||
	    rep[4] != BROKER_VERSION || (size_t)n != (size_t)BROKER_REPLY_FIXED + rep[10] ||
	    (mh.msg_flags & (int)(MSG_TRUNC | MSG_CTRUNC))) {
		err = set_err(-EBADMSG, "the ine agent sent a malformed reply");
		goto out;
	}
	memcpy(&e, rep + 6, 4);
	err = (int)ntohl(e);
	snprintf(last_err, sizeof(last_err), "%.*s", rep[10], (const char *)rep + 11);
	if (info) {
		info->mode = (enum ine_mode)rep[5];
		snprintf(info->message, sizeof(info->message), "%s", last_err);
	}
	if (!err && got < 0)
		err = set_err(-EBADMSG, "the ine agent answered without a socket");
	if (err > 0 || err < -4095)
		err = -EBADMSG;
	if (!err) {
		err = got;
		got = -1;
		last_err[0] = '\0';
		ine_fdstate_reset(err);
	}
out:
	if (got >= 0)
		close(got);
	close(fd);
	return err;
}

int ine_connect_info(uint32_t node, uint32_t db, const char *target,
		     struct ine_info *info)
{
	return transact(BROKER_OP_CONNECT, node, db, target, info);
}

int ine_connect(uint32_t node, uint32_t db, const char *target)
{
	return ine_connect_info(node, db, target, NULL);
}

int ine_listen(uint32_t db, const char *target)
{
	return transact(BROKER_OP_LISTEN, 0, db, target, NULL);
}

int ine_accept(int listener)
{
	int fd;

	do
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	ine_fdstate_reset(fd);
	return fd;
}

/* On a kernel-TLS socket end the stream with a TLS close_notify first:
 * the peer's agent treats a bare FIN as truncation and resets. */
int ine_shutdown(int fd)
{
	char ulp[16] = "";
	socklen_t ul = sizeof(ulp);
	uint8_t alert[2] = { 1, 0 };	/* warning, close_notify */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(uint8_t))];
	} cm;
	struct iovec iov = { alert, sizeof(alert) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };

	if (!getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ul) && !strcmp(ulp, "tls")) {
		memset(&cm, 0, sizeof(cm));
		cm.h.cmsg_level = SOL_TLS;
		cm.h.cmsg_type = TLS_SET_RECORD_TYPE;
		cm.h.cmsg_len = CMSG_LEN(sizeof(uint8_t));
		*CMSG_DATA(&cm.h) = 21;	/* alert */
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
			return -errno;
	}
	return shutdown(fd, SHUT_WR) ? -errno : 0;
}

int ine_close(int fd)
{
	ine_fdstate_reset(fd);
	ine_shutdown(fd);
	shutdown(fd, SHUT_RDWR);
	return close(fd) ? -errno : 0;
}
