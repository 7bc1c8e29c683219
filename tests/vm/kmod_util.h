/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the tests/vm/kmod_*.c helpers (header-only: each .c there is
 * its own program). Loopback TCP pairs, kernel TLS with fixed test keys,
 * and check macros that say what failed. */
#ifndef INE_TESTS_KMOD_UTIL_H
#define INE_TESTS_KMOD_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static int kt_failures __attribute__((unused));

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		kt_failures++;						\
	}								\
} while (0)

/* setup steps: failure ends the program */
#define MUST(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "FATAL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, " (errno %s)\n", strerror(errno));	\
		exit(2);						\
	}								\
} while (0)

#define CHECK_ERR(call, want) do {					\
	int _r = (call);						\
	CHECK(_r == (want), "%s returned %d (%s), want %d (%s)", #call,	\
	      _r, strerror(-_r), (want), strerror(-(want)));		\
} while (0)

static inline int kt_listen(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	MUST(fd >= 0, "socket");
	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	MUST(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %s:%d", ip, port);
	MUST(listen(fd, 4096) == 0, "listen");
	return fd;
}

static inline int kt_connect(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	MUST(fd >= 0, "socket");
	inet_pton(AF_INET, ip, &a.sin_addr);
	MUST(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0,
	     "connect %s:%d", ip, port);
	return fd;
}

static inline int kt_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	MUST(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
	return ntohs(a.sin_port);
}

/* A connected loopback pair; lfd is a listener to reuse (or -1). */
static inline void kt_pair(int lfd, int *c, int *s)
{
	int own = lfd < 0;

	if (own)
		lfd = kt_listen("127.0.0.1", 0);
	*c = kt_connect("127.0.0.1", kt_port(lfd));
	*s = accept(lfd, NULL, NULL);
	MUST(*s >= 0, "accept");
	if (own)
		close(lfd);
}

static inline void kt_nofile(rlim_t n)
{
	struct rlimit r = { n, n };

	MUST(setrlimit(RLIMIT_NOFILE, &r) == 0, "setrlimit NOFILE %lu",
	     (unsigned long)n);
}

enum kt_dir { KT_TX, KT_RX };

/* Fixed, public test keys: direction 0 is client->server. */
static inline void kt_fill(unsigned char *p, size_t n, int dir, int what)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(0x40 + dir * 0x20 + what * 7 + i);
}

/* Install one direction of kernel TLS. version: TLS_1_2_VERSION or
 * TLS_1_3_VERSION; bits 128 or 256; dir: 0 = client->server keys. */
static inline int kt_ktls_dir(int fd, int optname, unsigned version, int bits, int dir)
{
	if (bits == 128) {
		struct tls12_crypto_info_aes_gcm_128 ci;

		memset(&ci, 0, sizeof(ci));
		ci.info.version = (unsigned short)version;
		ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		kt_fill(ci.key, sizeof(ci.key), dir, 1);
		kt_fill(ci.iv, sizeof(ci.iv), dir, 2);
		kt_fill(ci.salt, sizeof(ci.salt), dir, 3);
		return setsockopt(fd, SOL_TLS, optname, &ci, sizeof(ci));
	} else {
		struct tls12_crypto_info_aes_gcm_256 ci;

		memset(&ci, 0, sizeof(ci));
		ci.info.version = (unsigned short)version;
		ci.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		kt_fill(ci.key, sizeof(ci.key), dir, 1);
		kt_fill(ci.iv, sizeof(ci.iv), dir, 2);
		kt_fill(ci.salt, sizeof(ci.salt), dir, 3);
		return setsockopt(fd, SOL_TLS, optname, &ci, sizeof(ci));
	}
}

static inline int kt_ulp(int fd)
{
	return setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
}

/* Both directions; client says whether fd is the connecting end. */
static inline void kt_ktls(int fd, bool client, unsigned version, int bits)
{
	MUST(kt_ulp(fd) == 0, "TCP_ULP tls (modprobe tls?)");
	MUST(kt_ktls_dir(fd, TLS_TX, version, bits, client ? 0 : 1) == 0, "TLS_TX");
	MUST(kt_ktls_dir(fd, TLS_RX, version, bits, client ? 1 : 0) == 0, "TLS_RX");
}

static inline void kt_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		MUST(w > 0, "write");
		p += w;
		n -= (size_t)w;
	}
}

static inline void kt_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	ssize_t r;

	while (n) {
		r = read(fd, p, n);
		MUST(r > 0, "read");
		p += r;
		n -= (size_t)r;
	}
}

#endif
