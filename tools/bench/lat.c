// SPDX-License-Identifier: GPL-2.0
/*
 * lat - small-message latency, connection setup, and idle sessions.
 *
 *   lat echo --listen HOST:PORT
 *       answers every request with the same bytes (one thread, epoll)
 *   lat ping --connect HOST:PORT [--size N] [--count K] [--setups S] [--label L]
 *       K request/response round trips on one connection (p50/p99), then
 *       S fresh connections each timed from connect() to the first
 *       answer, which includes every handshake and kernel-TLS install on
 *       the path (p50/p99)
 *   lat hold --connect HOST:PORT --count N [--label L]
 *       opens N connections, each proven end to end with one 1-byte
 *       exchange, prints "READY" and a BENCH line, then holds them
 *       until stdin closes (the suite measures memory meanwhile)
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static size_t msg_size = 1024;

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * One thread, epoll: 10,000 idle sessions must not mean 10,000 threads.
 * Answers what it reads; a short write (full socket buffer) waits for the
 * socket to drain, which only the request/response tests can cause.
 */
static int do_echo(const char *hp)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	int lfd = bench_listen(hp), ep, n, i, fd;
	char *buf = malloc(msg_size > 65536 ? msg_size : 65536);
	ssize_t k;

	if (lfd < 0) {
		fprintf(stderr, "lat: listen %s: %s\n", hp, strerror(-lfd));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = lfd;
	if (!buf || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		perror("lat: epoll");
		return 1;
	}
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				nodelay(fd);
				ev.data.fd = fd;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
					close(fd);
				continue;
			}
			k = read(fd, buf, msg_size > 65536 ? msg_size : 65536);
			if (k <= 0 || bench_write_full(fd, buf, (size_t)k)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

static int roundtrip(int fd, char *buf, size_t n)
{
	return bench_write_full(fd, buf, n) ? -EIO : bench_read_full(fd, buf, n);
}

static int do_ping(const char *hp, long count, long setups, const char *label)
{
	double *rt = calloc((size_t)(count > 0 ? count : 1), sizeof(double));
	double *su = calloc((size_t)(setups > 0 ? setups : 1), sizeof(double));
	char *buf = calloc(1, msg_size);
	double t0, m0, m1, s0, s1;
	json_t *j;
	long i;
	int fd;

	if (!rt || !su || !buf)
		return 1;
	fd = bench_connect(hp);
	if (fd < 0) {
		fprintf(stderr, "lat: connect %s: %s\n", hp, strerror(-fd));
		return 1;
	}
	nodelay(fd);
	for (i = 0; i < 100; i++)	/* warm-up: path established, caches hot */
		if (roundtrip(fd, buf, msg_size))
			goto broken;
	m0 = bench_cpu_machine();
	s0 = bench_now();
	for (i = 0; i < count; i++) {
		t0 = bench_now();
		if (roundtrip(fd, buf, msg_size))
			goto broken;
		rt[i] = (bench_now() - t0) * 1e6;
	}
	s1 = bench_now();
	m1 = bench_cpu_machine();
	close(fd);
	for (i = 0; i < setups; i++) {
		t0 = bench_now();
		fd = bench_connect(hp);
		if (fd < 0) {
			fprintf(stderr, "lat: connect %s: %s\n", hp, strerror(-fd));
			return 1;
		}
		nodelay(fd);
		if (roundtrip(fd, buf, msg_size))
			goto broken;
		su[i] = (bench_now() - t0) * 1e6;
		close(fd);
	}
	qsort(rt, (size_t)count, sizeof(double), cmp_double);
	qsort(su, (size_t)setups, sizeof(double), cmp_double);
	j = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:f}",
		      "kind", "latency", "label", label, "size", (json_int_t)msg_size,
		      "count", (json_int_t)count,
		      "rtt_p50_us", pct(rt, (size_t)count, 0.50),
		      "rtt_p99_us", pct(rt, (size_t)count, 0.99),
		      "rtt_per_s", count / (s1 - s0),
		      "cpu_machine_us_per_rtt", (m1 - m0) * 1e6 / (double)count);
	if (setups > 0) {
		json_object_set_new(j, "setups", json_integer(setups));
		json_object_set_new(j, "setup_p50_us", json_real(pct(su, (size_t)setups, 0.50)));
		json_object_set_new(j, "setup_p99_us", json_real(pct(su, (size_t)setups, 0.99)));
	}
	bench_emit(j);
	free(rt);
	free(su);
	free(buf);
	return 0;
broken:
	fprintf(stderr, "lat: round trip through %s failed\n", hp);
	return 1;
}

/*
 * Through a relay whose agent ran out of descriptors the connect still
 * succeeds (the listen backlog) and the echo never comes: a bounded wait
 * turns that into a named failure instead of a hang.
 */
#define HOLD_ECHO_TIMEOUT_S	20
#define HOLD_ECHO_TIMEOUT_STR	"20"

static int do_hold(const char *hp, long count, const char *label)
{
	struct timeval tv = { .tv_sec = HOLD_ECHO_TIMEOUT_S };
	struct rlimit rl;
	int *fds = calloc((size_t)count, sizeof(int));
	double t0 = bench_now();
	char c = 'h', buf[256];
	long i;
	int ret;

	if (!fds)
		return 1;
	/* one descriptor per session: as many as the hard limit allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)count + 64) {
		if (rl.rlim_max < (rlim_t)count + 64)
			rl.rlim_max = (rlim_t)count + 64;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			fprintf(stderr, "lat: open-file limit %llu is below the %ld sessions asked for\n",
				(unsigned long long)rl.rlim_max, count);
			free(fds);
			return 1;
		}
	}
	for (i = 0; i < count; i++) {
		fds[i] = bench_connect(hp);
		if (fds[i] >= 0)
			setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ret = fds[i] < 0 ? fds[i] : roundtrip(fds[i], &c, 1);
		if (ret) {
			fprintf(stderr, "lat: idle session %ld of %ld through %s failed: %s\n",
				i + 1, count, hp, ret == -EAGAIN ?
				"no echo within " HOLD_ECHO_TIMEOUT_STR " s (relay out of descriptors?)" :
				fds[i] < 0 ? strerror(-ret) : "no echo");
			return 1;
		}
	}
	bench_emit(json_pack("{s:s, s:s, s:I, s:f}", "kind", "hold", "label", label,
			     "sessions", (json_int_t)count, "open_s", bench_now() - t0));
	printf("READY\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, NULL, 'l' }, { "connect", 1, NULL, 'c' },
		{ "size", 1, NULL, 's' }, { "count", 1, NULL, 'n' },
		{ "setups", 1, NULL, 'S' }, { "label", 1, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_hp = NULL, *connect_hp = NULL, *label = "", *mode;
	long count = 10000, setups = 0;
	int ch;

	if (argc < 2)
		goto usage;
	mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_hp = optarg; break;
		case 'c': connect_hp = optarg; break;
		case 's': msg_size = (size_t)bench_parse_size(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'S': setups = atol(optarg); break;
		case 'L': label = optarg; break;
		default: goto usage;
		}
	}
	if (!msg_size || count <= 0 || setups < 0)
		goto usage;
	if (!strcmp(mode, "echo") && listen_hp)
		return do_echo(listen_hp);
	if (!strcmp(mode, "ping") && connect_hp)
		return do_ping(connect_hp, count, setups, label);
	if (!strcmp(mode, "hold") && connect_hp)
		return do_hold(connect_hp, count, label);
usage:
	fprintf(stderr, "usage: lat echo --listen H:P [--size N] | lat ping --connect H:P "
		"[--size N] [--count K] [--setups S] [--label L] | lat hold --connect H:P "
		"--count N [--label L]\n");
	return 2;
}
