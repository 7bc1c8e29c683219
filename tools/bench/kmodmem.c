// SPDX-License-Identifier: GPL-2.0
/*
 * kmodmem - ine.ko's kernel memory per registered session.
 *
 *   kmodmem --count N [--label L]
 *
 * Opens N loopback TCP connections first (their socket memory is not
 * ine.ko's), lets the machine settle, reads the bytes in live slab objects
 * (/proc/slabinfo, every cache; ine.ko kmallocs its sessions) and the
 * Slab total, registers every client socket with ine.ko (lib/inenl/inenl.h)
 * and reads them again: the difference over N is what one session costs.  The
 * module's own totals must show the N sessions, or nothing is reported.
 * Meant for the VM, where nothing else allocates meanwhile.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inenl/inenl.h"

/* Bytes in live slab objects, all caches (/proc/slabinfo: active_objs x objsize). */
static long long slab_active_bytes(void)
{
	char line[512], name[64];
	unsigned long active, total, size;
	long long sum = 0;
	FILE *f = fopen("/proc/slabinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lu %lu %lu", name, &active, &total, &size) == 4)
			sum += (long long)active * (long long)size;
	fclose(f);
	return sum;
}

static long slab_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", 1, NULL, 'n' }, { "label", 1, NULL, 'L' }, { NULL, 0, NULL, 0 },
	};
	const char *label = "kmod";
	struct inenl_session_add a = { .plane = INE_PLANE_DATA, .db_id = 1,
				       .peer_node_id = 2, .peer_name = "node2",
				       .cert_serial = "01" };
	struct inenl_totals t0, t1;
	struct inenl *nl = NULL;
	struct rlimit rl;
	long n = 10000, i, s0, s1;
	long long b0, b1;
	int *cfd, *sfd, lfd, ch, r;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': n = atol(optarg); break;
		case 'L': label = optarg; break;
		default:
			fprintf(stderr, "usage: kmodmem --count N [--label L]\n");
			return 2;
		}
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)(2 * n + 64);
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fprintf(stderr, "kmodmem: cannot raise the open-file limit: %s\n", strerror(errno));
	r = inenl_open(&nl);
	if (r) {
		fprintf(stderr, "kmodmem: ine.ko not reachable over netlink: %s\n", strerror(-r));
		return 1;
	}
	cfd = calloc((size_t)n, sizeof(int));
	sfd = calloc((size_t)n, sizeof(int));
	lfd = bench_listen("127.0.0.1:0");
	if (!cfd || !sfd || lfd < 0)
		return 1;
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char hp[64];

		getsockname(lfd, (struct sockaddr *)&sa, &sl);
		snprintf(hp, sizeof(hp), "127.0.0.1:%u", ntohs(sa.sin_port));
		for (i = 0; i < n; i++) {
			cfd[i] = bench_connect(hp);
			sfd[i] = accept(lfd, NULL, NULL);
			if (cfd[i] < 0 || sfd[i] < 0) {
				fprintf(stderr, "kmodmem: connection %ld of %ld failed\n", i + 1, n);
				return 1;
			}
		}
	}
	if (inenl_totals_get(nl, &t0))
		return 1;
	sleep(1);
	s0 = slab_kb();
	b0 = slab_active_bytes();
	for (i = 0; i < n; i++) {
		a.fd = cfd[i];
		r = inenl_session_add(nl, &a, NULL);
		if (r) {
			fprintf(stderr, "kmodmem: registering session %ld: %s (%s)\n", i + 1,
				strerror(-r), inenl_last_error(nl));
			return 1;
		}
	}
	sleep(1);
	s1 = slab_kb();
	b1 = slab_active_bytes();
	if (inenl_totals_get(nl, &t1) || t1.sessions - t0.sessions != (uint32_t)n) {
		fprintf(stderr, "kmodmem: ine.ko counts %u new sessions, registered %ld\n",
			t1.sessions - t0.sessions, n);
		return 1;
	}
	/* live objects are the precise figure; Slab pages move in whole pages */
	bench_emit(json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "kind", "kmodmem",
			     "label", label, "sessions", (json_int_t)n,
			     "slab_kb", (json_int_t)(s1 - s0),
			     "slab_active_bytes", (json_int_t)(b1 - b0),
			     "bytes_per_session", (double)(b1 - b0) / (double)n,
			     "slab_pages_bytes_per_session", (s1 - s0) * 1024.0 / (double)n));
	for (i = 0; i < n; i++) {
		close(cfd[i]);
		close(sfd[i]);
	}
	inenl_close(nl);
	return 0;
}
