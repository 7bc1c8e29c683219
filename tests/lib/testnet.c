/* SPDX-License-Identifier: GPL-2.0 */
/* testnet.c — loopback pairs and a handshake pump for the tests (see testnet.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "testnet.h"

int tn_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* A listening socket on 127.0.0.1:port (0 = any); returns fd, *port set. */
int tn_listen(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(*port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = errno;

		close(fd);
		return -e;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

int tn_connect(unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Connected TCP pair over loopback, both non-blocking.  0 or -errno. */
int tn_pair(int *cfd, int *sfd)
{
	unsigned short port = 0;
	int lfd = tn_listen(&port), one = 1;

	if (lfd < 0)
		return lfd;
	*cfd = tn_connect(port);
	*sfd = *cfd >= 0 ? accept(lfd, NULL, NULL) : -1;
	close(lfd);
	if (*cfd < 0 || *sfd < 0) {
		if (*cfd >= 0)
			close(*cfd);
		return -ECONNREFUSED;
	}
	setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tn_set_nonblock(*cfd, true);
	tn_set_nonblock(*sfd, true);
	return 0;
}

/*
 * Step both handshakes until neither can progress.  *crc / *src get each
 * side's final result (0, -errno, or -EAGAIN if it never finished, e.g. a
 * client whose server failed after the client was done would be 0).
 */
void tn_handshake_pair(struct tls_conn *c, struct tls_conn *s, int *crc, int *src)
{
	int idle = 0;

	*crc = *src = -EAGAIN;
	while (idle < 50) {
		bool progressed = false;
		struct pollfd p[2];
		int n = 0;

		if (*crc == -EAGAIN) {
			*crc = tls_conn_handshake(c);
			progressed |= *crc != -EAGAIN;
		}
		if (*src == -EAGAIN) {
			*src = tls_conn_handshake(s);
			progressed |= *src != -EAGAIN;
		}
		if (*crc != -EAGAIN && *src != -EAGAIN)
			break;
		if (*crc == -EAGAIN)
			p[n++] = (struct pollfd){ c->fd, c->want == TLS_WANT_WRITE ? POLLOUT : POLLIN, 0 };
		if (*src == -EAGAIN)
			p[n++] = (struct pollfd){ s->fd, s->want == TLS_WANT_WRITE ? POLLOUT : POLLIN, 0 };
		if (!progressed && poll(p, (nfds_t)n, 20) == 0)
			idle++;
	}
}
