// SPDX-License-Identifier: GPL-2.0
/* fault_xfer — a known byte stream through an ine route, checked byte by
 * byte at the far end, for the fault tests (tests/vm/t-fault.sh).
 *
 *   fault_xfer sink PORT LOG     listen on 127.0.0.1:PORT forever; every
 *                                connection is checked against the pattern
 *                                from offset 0; at EOF the sink answers
 *                                "OK <bytes>\n". One line per connection is
 *                                appended to LOG:
 *                                "<bytes> <ok|corrupt@OFFSET> <eof|reset|error>"
 *   fault_xfer send HOST PORT N  send N bytes of the pattern, half-close,
 *                                read the answer. Prints "sent <bytes> <how>"
 *                                and exits 0 only if the sink confirmed N.
 *
 * The pattern is splitmix64 of the 8-byte block index, so a lost, repeated
 * or shifted piece of the stream is seen at its first byte: the prefix that
 * arrived is compared with the source, not just counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUF (64 * 1024)

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)(splitmix64(off / 8) >> (8 * (off % 8)));
}

static void pattern_fill(uint8_t *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern_byte(off + i);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static int64_t pattern_check(const uint8_t *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern_byte(off + i))
			return (int64_t)(off + i);
	return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sink_conn(int c, const char *log)
{
	static uint8_t buf[BUF];
	uint64_t got = 0;
	int64_t bad = -1;
	const char *end = "eof";
	char line[128], ans[64];
	int fd, n;

	for (;;) {
		ssize_t r = read(c, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			end = errno == ECONNRESET ? "reset" : "error";
			break;
		}
		if (r == 0)
			break;
		if (bad < 0)
			bad = pattern_check(buf, (size_t)r, got);
		got += (uint64_t)r;
	}
	if (!strcmp(end, "eof") && bad < 0) {
		n = snprintf(ans, sizeof(ans), "OK %" PRIu64 "\n", got);
		write_all(c, ans, (size_t)n);
	}
	if (bad < 0)
		n = snprintf(line, sizeof(line), "%" PRIu64 " ok %s\n", got, end);
	else
		n = snprintf(line, sizeof(line), "%" PRIu64 " corrupt@%" PRId64 " %s\n",
			     got, bad, end);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all(fd, line, (size_t)n);	/* one write: lines never interleave */
		close(fd);
	}
}

static int sink(int port, const char *log)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, s;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 64)) {
		fprintf(stderr, "fault_xfer sink: port %d: %s\n", port, strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "fault_xfer sink: accept: %s\n", strerror(errno));
			return 1;
		}
		if (fork() == 0) {
			close(s);
			sink_conn(c, log);
			_exit(0);
		}
		close(c);
	}
}

static int send_stream(const char *host, int port, uint64_t total)
{
	static uint8_t buf[BUF];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint64_t sent = 0, confirmed = 0;
	char ans[64] = "";
	size_t have = 0;
	int s;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "fault_xfer send: bad address %s\n", host);
		return 1;
	}
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		printf("sent 0 connect:%s\n", strerror(errno));
		return 2;
	}
	while (sent < total) {
		size_t n = total - sent < BUF ? (size_t)(total - sent) : BUF;
		ssize_t w;

		pattern_fill(buf, n, sent);
		w = write(s, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			printf("sent %" PRIu64 " write:%s\n", sent, strerror(errno));
			return 2;
		}
		sent += (uint64_t)w;
	}
	shutdown(s, SHUT_WR);
	while (have < sizeof(ans) - 1) {
		ssize_t r = read(s, ans + have, sizeof(ans) - 1 - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			printf("sent %" PRIu64 " read:%s\n", sent, strerror(errno));
			return 2;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	ans[have] = 0;
	if (sscanf(ans, "OK %" SCNu64, &confirmed) != 1 || confirmed != total) {
		printf("sent %" PRIu64 " unconfirmed:'%.20s'\n", sent, ans);
		return 2;
	}
	printf("sent %" PRIu64 " confirmed\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_stream(argv[2], atoi(argv[3]),
				   strtoull(argv[4], NULL, 10));
	fprintf(stderr, "usage: fault_xfer sink PORT LOG | send HOST PORT BYTES\n");
	return 1;
}
