// SPDX-License-Identifier: GPL-2.0
/*
 * libine_read NODE DB TARGET [MODE]: how a brokered stream ends, as
 * ine_read() and as a bare read() would report it.
 *   MODE "shut" (default): send 1 byte, ine_shutdown, read to the end (the
 *        target ends cleanly after our EOF: the peer's relay sends
 *        close_notify).
 *   MODE "wait": read to the end without sending (the test ends it: a
 *        policy toggle).
 * Prints "mode M" once connected, then "end N" (N = ine_read's final
 * result: 0 clean, -104 ECONNRESET cut, ...).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ine/ine.h>

int main(int argc, char **argv)
{
	struct ine_info info;
	char buf[65536];
	ssize_t n;
	int fd;

	if (argc < 4)
		return 2;
	fd = ine_connect_info((uint32_t)atoi(argv[1]), (uint32_t)atoi(argv[2]), argv[3], &info);
	if (fd < 0) {
		fprintf(stderr, "libine_read: %s: %s\n", ine_strerror(fd), ine_last_error());
		return 1;
	}
	printf("mode %s\n", ine_mode_str(info.mode));
	fflush(stdout);
	if (argc < 5 || strcmp(argv[4], "wait")) {
		if (ine_write(fd, "x", 1) != 1 || ine_shutdown(fd))
			return 1;
	}
	while ((n = ine_read(fd, buf, sizeof(buf))) > 0)
		;
	printf("end %zd\n", n);
	ine_close(fd);
	return 0;
}
