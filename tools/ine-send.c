// SPDX-License-Identifier: GPL-2.0
/* ine-send <node> <db> <target> <file>: sendfile() a file through libine. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ine/ine.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct ine_info info;
	struct stat st;
	off_t off = 0;
	double t0, dt;
	char c;
	int fd, s;

	if (argc != 5) {
		fprintf(stderr, "usage: ine-send <node> <db> <target> <file>\n");
		return 2;
	}
	fd = open(argv[4], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "ine-send: %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	s = ine_connect_info(strtoul(argv[1], NULL, 0), strtoul(argv[2], NULL, 0),
			     argv[3], &info);
	if (s < 0) {
		fprintf(stderr, "ine-send: %s: %s\n", ine_strerror(s), ine_last_error());
		return 1;
	}
	t0 = now();
	while (off < st.st_size) {
		ssize_t n = sendfile(s, fd, &off, st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "ine-send: sendfile: %s\n",
				n ? strerror(errno) : "unexpected end");
			return 1;
		}
	}
	/* End of stream, then wait until the receiver has it all and closes. */
	if (ine_shutdown(s) < 0) {
		perror("ine-send: ending the stream");
		return 1;
	}
	while (read(s, &c, 1) > 0)
		;
	dt = now() - t0;
	ine_close(s);
	printf("ine-send: %lld bytes in %.3f s, %.1f MB/s, mode %s\n",
	       (long long)st.st_size, dt, dt > 0 ? st.st_size / dt / 1e6 : 0.0,
	       ine_mode_str(info.mode));
	return 0;
}
