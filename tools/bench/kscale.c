// SPDX-License-Identifier: GPL-2.0
/*
 * kscale - ine.ko at scale: the guard's cost per segment and a dump's time
 * with N sessions registered in this namespace.
 *
 *   kscale --sessions N [--segments K] [--rounds R] [--port P]
 *          (defaults: K 500 segments per block, R 30 pairs of blocks)
 *
 * Needs ine_bench.ko (kmod/test/, `make bench-module`) and debugfs: the
 * namespace is filled with N - 1 stand-in sessions (ine_bench/sessions),
 * plus one real one: a loopback TCP connection to the guarded port P whose
 * client socket is registered as a plaintext database's session (so the
 * guard looks it up, checks it and passes it).  Then, R pairs of blocks:
 * K small writes (TCP_NODELAY, autocorking off in the suite: about one
 * data segment each) with the guard off and with it enforcing (the order
 * alternating from pair to pair); the
 * sender on one CPU.  A block's figure is wall time over the data segments
 * the socket sent (tcpi_data_segs_out), in wall time and in the sending
 * thread's CPU time; the guard's cost is the median of the pairs'
 * differences (emulated time drifts; short pairs side by side see the
 * same drift).  Enforce's "passed" counter must have seen every
 * segment.  Also: a full dump of the namespace (lib/inenl), GET_TOTALS, and
 * ine_bench's timing of the guard's lookup alone (hits and misses,
 * pseudo-random keys) next to the fixed 1,024-bucket table it replaced.
 * Leaves the stand-ins in place (the next, larger N adds to them).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <netinet/in.h>
#include <linux/tcp.h>	/* tcp_info with tcpi_data_segs_out */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "inenl/inenl.h"

#define DBG "/sys/kernel/debug/ine_bench"

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static unsigned long data_segs(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l);
	return ti.tcpi_data_segs_out;
}

/* Until everything sent was acknowledged: each phase starts alike. */
static void drain(int fd)
{
	int q = 1, i;

	for (i = 0; i < 10000 && q > 0; i++) {
		if (ioctl(fd, SIOCOUTQ, &q))
			break;
		if (q > 0)
			usleep(1000);
	}
}

static uint64_t guard_passed(struct inenl *nl)
{
	struct inenl_totals t;

	return inenl_totals_get(nl, &t) ? 0 : t.guard.passed;
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* K writes of 64 bytes; wall ns per data segment, *cpu the sending
 * thread's CPU ns per segment (the hook runs in its send path; a kworker
 * such as the reaper or another process is not charged to it), *segs the
 * segments. */
static double phase(int fd, unsigned long k, unsigned long *segs, double *cpu)
{
	static const char msg[64] = "ine kscale";
	unsigned long s0, i;
	double t0, c0, t, c;

	drain(fd);
	s0 = data_segs(fd);
	t0 = bench_now();
	c0 = thread_cpu();
	for (i = 0; i < k; i++)
		if (bench_write_full(fd, msg, sizeof(msg)))
			return -1;
	c = thread_cpu() - c0;
	t = bench_now() - t0;
	*segs = data_segs(fd) - s0;
	*cpu = *segs ? c * 1e9 / (double)*segs : -1;
	return *segs ? t * 1e9 / (double)*segs : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int count_one(const struct inenl_session *s, void *arg)
{
	(void)s;
	++*(unsigned long *)arg;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sessions", 1, NULL, 'n' }, { "segments", 1, NULL, 'k' },
		{ "rounds", 1, NULL, 'r' }, { "port", 1, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct inenl_session_add a = { .plane = INE_PLANE_DATA,
				       .state = INE_STATE_PLAINTEXT, .db_id = 1 };
	unsigned long n = 1000, k = 500, segs_on = 0, segs_off = 0, seen;
	unsigned int lk_n = 0, lk_hits = 0, lk_misses = 0, lk_count = 0;
	unsigned int old_count = 0, old_hits = 0, old_misses = 0;
	unsigned long long lk_hit_ns = 0, lk_miss_ns = 0, old_hit_ns = 0, old_miss_ns = 0;
	double off[256], on[256], diff[256], t0, add_s, dump_s, totals_s, cpu;
	double coff[256], con[256], cdiff[256];
	struct inenl_totals tot;
	int rounds = 30, port = 3342, ch, r, i, lfd, cfd, sfd, one = 1;
	cpu_set_t cpus;
	uint64_t p0, passed = 0;
	struct inenl *nl = NULL;
	char hp[64], buf[256];
	uint16_t gport;
	pid_t pid;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: kscale --sessions N [--segments K] [--rounds R] [--port P]\n");
			return 2;
		}
	}
	if (n < 1 || n > INE_MAX_SESSIONS || rounds < 1 || rounds > 256 || port < 1 || port > 65535) {
		fprintf(stderr, "kscale: --sessions 1..%u, --rounds 1..256, --port 1..65535\n",
			INE_MAX_SESSIONS);
		return 2;
	}
	gport = (uint16_t)port;
	r = inenl_open(&nl);
	if (r) {
		fprintf(stderr, "kscale: ine.ko not reachable over netlink: %s\n", strerror(-r));
		return 1;
	}
	snprintf(buf, sizeof(buf), "%lu", n - 1);
	t0 = bench_now();
	r = write_file(DBG "/sessions", buf);
	add_s = bench_now() - t0;
	if (r) {
		fprintf(stderr, "kscale: %s/sessions <- %s: %s (ine_bench.ko loaded, debugfs mounted?)\n",
			DBG, buf, strerror(-r));
		return 1;
	}

	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	lfd = bench_listen(hp);
	if (lfd < 0) {
		fprintf(stderr, "kscale: listen %s: %s\n", hp, strerror(-lfd));
		return 1;
	}
	pid = fork();
	if (pid == 0) {		/* the peer: reads until EOF */
		sfd = accept(lfd, NULL, NULL);
		while (sfd >= 0 && read(sfd, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(lfd);
	/* the sender (and the loopback receive it runs in softirq) on one CPU,
	 * the reader left to the other */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	cfd = bench_connect(hp);
	if (cfd < 0) {
		fprintf(stderr, "kscale: connect %s: %s\n", hp, strerror(-cfd));
		return 1;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	a.fd = cfd;
	r = inenl_session_add(nl, &a, NULL);
	if (r) {
		fprintf(stderr, "kscale: registering: %s (%s)\n", strerror(-r), inenl_last_error(nl));
		return 1;
	}

	phase(cfd, k / 4 + 1, &seen, &cpu);	/* warm up: cwnd, caches */
	for (i = 0; i < rounds; i++) {
		/* odd pairs enforcing first: neither side is always second */
		for (int j = 0; j < 2; j++) {
			bool enf = (j == 1) ^ (i % 2 == 1);
			unsigned long s;

			if (inenl_config_set(nl, enf ? INE_GUARD_ENFORCE : INE_GUARD_OFF,
					     &gport, 1, 0))
				return 1;
			p0 = guard_passed(nl);
			if (enf) {
				on[i] = phase(cfd, k, &s, &con[i]);
				drain(cfd);
				passed += guard_passed(nl) - p0;
				segs_on += s;
			} else {
				off[i] = phase(cfd, k, &s, &coff[i]);
				segs_off += s;
			}
		}
		diff[i] = on[i] - off[i];
		cdiff[i] = con[i] - coff[i];
		if (off[i] < 0 || on[i] < 0) {
			fprintf(stderr, "kscale: a phase sent nothing\n");
			return 1;
		}
	}
	inenl_config_set(nl, INE_GUARD_OFF, &gport, 1, 0);
	if (passed < segs_on) {
		fprintf(stderr, "kscale: the guard passed %llu of %lu segments\n",
			(unsigned long long)passed, segs_on);
		return 1;
	}

	seen = 0;
	t0 = bench_now();
	r = inenl_session_dump(nl, count_one, &seen);
	dump_s = bench_now() - t0;
	if ((r && r != -EINTR) || seen != n) {
		fprintf(stderr, "kscale: dump: %s, %lu sessions of %lu\n",
			r ? strerror(-r) : "ok", seen, n);
		return 1;
	}
	/* GET_TOTALS reads every socket (version, cipher, key usage) */
	t0 = bench_now();
	r = inenl_totals_get(nl, &tot);
	totals_s = bench_now() - t0;
	if (r || tot.sessions != n) {
		fprintf(stderr, "kscale: totals: %s, %u sessions of %lu\n",
			r ? strerror(-r) : "ok", tot.sessions, n);
		return 1;
	}
	if (read_file(DBG "/lookup", buf, sizeof(buf)) ||
	    sscanf(buf, "sessions %u lookups %u hit_ns %llu found %u miss_ns %llu found %u "
		   "old_lookups %u old_hit_ns %llu found %u old_miss_ns %llu found %u",
		   &lk_n, &lk_count, &lk_hit_ns, &lk_hits, &lk_miss_ns, &lk_misses,
		   &old_count, &old_hit_ns, &old_hits, &old_miss_ns, &old_misses) != 11 ||
	    lk_hits != lk_count || lk_misses || old_hits != old_count || old_misses) {
		fprintf(stderr, "kscale: ine_bench lookup: %s\n", buf);
		return 1;
	}
	close(cfd);
	waitpid(pid, NULL, 0);

	{
		double mon = median(on, rounds), moff = median(off, rounds);
		double mdiff = median(diff, rounds);
		double mcon = median(con, rounds), mcoff = median(coff, rounds);
		double mcdiff = median(cdiff, rounds);

		bench_emit(json_pack("{s:s, s:I, s:f, s:I, s:i, s:f, s:f, s:f, s:f,"
				     " s:f, s:f, s:f, s:f, s:I, s:f, s:f, s:f, s:f, s:f, s:f}",
				     "kind", "kscale", "sessions", (json_int_t)n,
				     "add_s", add_s,
				     "segments", (json_int_t)(segs_on / (unsigned long)rounds),
				     "rounds", rounds,
				     "seg_ns_off", moff, "seg_ns_on", mon,
				     "seg_ns_guard", mdiff, "ratio", (moff + mdiff) / moff,
				     "cpu_ns_off", mcoff, "cpu_ns_on", mcon,
				     "cpu_ns_guard", mcdiff, "cpu_ratio", (mcoff + mcdiff) / mcoff,
				     "dumped", (json_int_t)seen, "dump_s", dump_s,
				     "totals_s", totals_s,
				     "lookup_hit_ns", (double)lk_hit_ns / lk_count,
				     "lookup_miss_ns", (double)lk_miss_ns / lk_count,
				     "old_hit_ns", (double)old_hit_ns / old_count,
				     "old_miss_ns", (double)old_miss_ns / old_count));
	}
	inenl_close(nl);
	return 0;
}
