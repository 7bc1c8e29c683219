// SPDX-License-Identifier: GPL-2.0
/*
 * The splice path's pipe (issue 20): bytes that kernel TLS hands to tlsio
 * (a data record read after splice stopped at a non-data record) go into
 * the direction's pipe. A pipe that is nearly full must hold them back
 * until it drains, not reset the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dp/relay_internal.h"

Test(relay_pipe, near_full_pipe_keeps_bytes)
{
	struct dir d;
	uint8_t junk[4096], rec[2048], out[sizeof(rec)];
	size_t filled = 0, got = 0, i;
	ssize_t n;

	memset(&d, 0, sizeof(d));
	cr_assert_eq(pipe2(d.pipe, O_NONBLOCK), 0);
	d.pipe_cap = (size_t)fcntl(d.pipe[1], F_GETPIPE_SZ);
	memset(junk, 'j', sizeof(junk));
	while ((n = write(d.pipe[1], junk, sizeof(junk))) > 0)
		filled += n;
	d.in_pipe = filled;
	/* Room for 1,000 bytes, a 2,048-byte record to put. */
	cr_assert_eq(read(d.pipe[0], junk, 1000), 1000);
	d.in_pipe -= 1000;
	for (i = 0; i < sizeof(rec); i++)
		rec[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(relay_dir_pipe_put(&d, rec, sizeof(rec)), 0,
		     "a near-full pipe must not fail the connection");
	/* Drain as the pump would, moving what was held back as room appears. */
	for (i = 0; i < 1000 && got < sizeof(rec); i++) {
		n = read(d.pipe[0], junk, sizeof(junk));
		if (n > 0) {
			d.in_pipe -= n;
			if (filled > 1000) {
				size_t skip = (size_t)n < filled - 1000 ? (size_t)n : filled - 1000;

				filled -= skip;
				memmove(junk, junk + skip, n - skip);
				n -= skip;
			}
			memcpy(out + got, junk, n);
			got += n;
		}
		cr_assert_eq(relay_dir_pipe_put(&d, NULL, 0), 0);
	}
	cr_assert_eq(got, sizeof(rec), "got %zu of %zu bytes", got, sizeof(rec));
	cr_assert_arr_eq(out, rec, sizeof(rec), "bytes reordered or corrupt");
	free(d.spill);
	close(d.pipe[0]);
	close(d.pipe[1]);
}
