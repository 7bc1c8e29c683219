// SPDX-License-Identifier: GPL-2.0
/* ine-recv <db> <target> <outfile>: accept one libine stream, write it out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ine/ine.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	long long total = 0;
	double t0 = 0, dt;
	int l, s, out;

	if (argc != 4) {
		fprintf(stderr, "usage: ine-recv <db> <target> <outfile>\n");
		return 2;
	}
	l = ine_listen(strtoul(argv[1], NULL, 0), argv[2]);
	if (l < 0) {
		fprintf(stderr, "ine-recv: %s: %s\n", ine_strerror(l), ine_last_error());
		return 1;
	}
	out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		fprintf(stderr, "ine-recv: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	printf("ine-recv: listening\n");
	fflush(stdout);
	s = ine_accept(l);
	if (s < 0) {
		fprintf(stderr, "ine-recv: accept: %s\n", strerror(-s));
		return 1;
	}
	close(l);
	for (;;) {
		ssize_t n = read(s, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ine-recv: read: %s\n", strerror(errno));
			return 1;
		}
		if (!t0)
			t0 = now();
		if (!n)
			break;
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(out, buf + o, n - o);

			if (w < 0) {
				fprintf(stderr, "ine-recv: %s: %s\n", argv[3], strerror(errno));
				return 1;
			}
			o += w;
		}
		total += n;
	}
	if (fsync(out) || close(out)) {
		fprintf(stderr, "ine-recv: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	dt = now() - t0;
	ine_close(s);
	printf("ine-recv: %lld bytes in %.3f s, %.1f MB/s\n", total, dt,
	       dt > 0 ? total / dt / 1e6 : 0.0);
	return 0;
}
