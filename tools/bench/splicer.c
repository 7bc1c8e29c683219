// SPDX-License-Identifier: GPL-2.0
/*
 * splicer - the plaintext baseline relay: accept on one address, connect
 * to another, and move bytes both ways with splice(2) through a pipe, so
 * userspace never touches the payload.  Two of them in a row (one per
 * node) form the same path as ine's route or a pair of stunnels, without
 * encryption.  One thread per direction; all threads of the process show
 * up in /proc/<pid>/stat, which is how the benchmark accounts for it.
 *
 *   splicer LISTEN_HOST:PORT TARGET_HOST:PORT
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)

struct pair {
	int a, b;
	atomic_int refs;
};

struct dir {
	struct pair *p;
	int from, to;
};

static void pair_put(struct pair *p)
{
	if (atomic_fetch_sub(&p->refs, 1) == 1) {
		close(p->a);
		close(p->b);
		free(p);
	}
}

static void *pump(void *arg)
{
	struct dir *d = arg;
	int pfd[2];
	ssize_t in, out;

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("splicer: pipe");
		goto done;
	}
	fcntl(pfd[1], F_SETPIPE_SZ, PIPE_BYTES);
	for (;;) {
		in = splice(d->from, NULL, pfd[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
		if (in < 0 && errno == EINTR)
			continue;
		if (in <= 0)
			break;
		while (in > 0) {
			out = splice(pfd[0], NULL, d->to, NULL, (size_t)in,
				     SPLICE_F_MOVE);
			if (out < 0 && errno == EINTR)
				continue;
			if (out <= 0)
				goto closed;
			in -= out;
		}
	}
closed:
	shutdown(d->to, SHUT_WR);
	shutdown(d->from, SHUT_RD);
	close(pfd[0]);
	close(pfd[1]);
done:
	pair_put(d->p);
	free(d);
	return NULL;
}

static int start(struct pair *p, int from, int to)
{
	struct dir *d = malloc(sizeof(*d));
	pthread_t t;

	if (!d)
		return -ENOMEM;
	*d = (struct dir){ .p = p, .from = from, .to = to };
	if (pthread_create(&t, NULL, pump, d)) {
		free(d);
		return -EAGAIN;
	}
	pthread_detach(t);
	return 0;
}

int main(int argc, char **argv)
{
	int lfd, fd, up;
	struct pair *p;

	if (argc != 3) {
		fprintf(stderr, "usage: splicer LISTEN_HOST:PORT TARGET_HOST:PORT\n");
		return 2;
	}
	lfd = bench_listen(argv[1]);
	if (lfd < 0) {
		fprintf(stderr, "splicer: listen %s: %s\n", argv[1], strerror(-lfd));
		return 1;
	}
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("splicer: accept");
			return 1;
		}
		up = bench_connect(argv[2]);
		if (up < 0) {
			fprintf(stderr, "splicer: connect %s: %s\n", argv[2], strerror(-up));
			close(fd);
			continue;
		}
		p = malloc(sizeof(*p));
		if (!p) {
			close(fd);
			close(up);
			continue;
		}
		p->a = fd;
		p->b = up;
		atomic_init(&p->refs, 2);
		if (start(p, fd, up)) {
			close(fd);
			close(up);
			free(p);
			continue;
		}
		if (start(p, up, fd))
			pair_put(p);
	}
}
