// SPDX-License-Identifier: GPL-2.0
/* VM test helper: thousands of sessions.
 *
 *   kmod_many churn PAIRS ROUNDS   2*PAIRS sessions stay registered while a
 *                                  thread registers and closes others; every
 *                                  dump must show each stable session exactly
 *                                  once and no session closed before it began
 *   kmod_many reload PAIRS LOOPS KO  live sessions across rmmod/insmod loops
 *   kmod_many hold PAIRS           register, print "ready", sleep until killed
 * Prints timings; exit 0 only if every check passed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include "inenl/inenl.h"
#include "kmod_util.h"

struct pairs {
	int n;
	int *c, *s;
	uint32_t *idc, *ids;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t reg(struct inenl *nl, int fd, uint8_t plane)
{
	struct inenl_session_add a = { .fd = fd, .plane = plane,
				       .peer_node_id = 2, .peer_name = "node2" };
	uint32_t id = 0;
	int ret = inenl_session_add(nl, &a, &id);

	MUST(ret == 0 && id, "session_add: %s (%s)", strerror(-ret),
	     inenl_last_error(nl));
	return id;
}

static void pairs_open(struct pairs *p, int n)
{
	int lfd = kt_listen("127.0.0.1", 0), i;

	p->n = n;
	p->c = calloc((size_t)n, sizeof(int));
	p->s = calloc((size_t)n, sizeof(int));
	p->idc = calloc((size_t)n, sizeof(uint32_t));
	p->ids = calloc((size_t)n, sizeof(uint32_t));
	MUST(p->c && p->s && p->idc && p->ids, "calloc");
	for (i = 0; i < n; i++)
		kt_pair(lfd, &p->c[i], &p->s[i]);
	close(lfd);
}

static double pairs_register(struct inenl *nl, struct pairs *p)
{
	double t0 = now();
	int i;

	for (i = 0; i < p->n; i++) {
		p->idc[i] = reg(nl, p->c[i], INE_PLANE_DATA);
		p->ids[i] = reg(nl, p->s[i], INE_PLANE_CONTROL);
	}
	return now() - t0;
}

/* ---- counting what a dump saw ------------------------------------------- */

struct tally {
	uint8_t *count;
	size_t cap;
	size_t total;
	int bad_state;		/* not an IPv4 tuple */
	int not_established;	/* fine for churned sessions being closed */
};

static int tally_cb(const struct inenl_session *s, void *arg)
{
	struct tally *t = arg;
	size_t ncap;

	if (s->id >= t->cap) {
		ncap = (s->id + 1024) * 2;
		t->count = realloc(t->count, ncap);
		MUST(t->count, "realloc");
		memset(t->count + t->cap, 0, ncap - t->cap);
		t->cap = ncap;
	}
	if (t->count[s->id] < 255)
		t->count[s->id]++;
	t->total++;
	if (s->family != AF_INET || !s->sport || !s->dport)
		t->bad_state++;
	if (s->tcp_state != 1)
		t->not_established++;
	return 0;
}

static int seen(const struct tally *t, uint32_t id)
{
	return id < t->cap ? t->count[id] : 0;
}

/* Returns whether the dump was interrupted (it must be complete anyway). */
static bool dump(struct inenl *nl, struct tally *t, double *secs)
{
	double t0 = now();
	int ret;

	memset(t->count, 0, t->cap);
	t->total = 0;
	t->bad_state = 0;
	t->not_established = 0;
	ret = inenl_session_dump(nl, tally_cb, t);
	*secs = now() - t0;
	MUST(ret == 0 || ret == -EINTR, "dump: %s", strerror(-ret));
	return ret == -EINTR;
}

/* ---- churn ---------------------------------------------------------------- */

#define MAX_CLOSED 200000
static uint32_t closed_ids[MAX_CLOSED];
static atomic_size_t nclosed;
static atomic_bool stop;

static void *churner(void *arg)
{
	struct inenl *nl;
	int lfd = kt_listen("127.0.0.1", 0), c, s;
	uint32_t a, b;
	size_t k;

	(void)arg;
	MUST(inenl_open(&nl) == 0, "inenl_open (churn)");
	while (!atomic_load(&stop)) {
		kt_pair(lfd, &c, &s);
		a = reg(nl, c, INE_PLANE_DATA);
		b = reg(nl, s, INE_PLANE_DATA);
		close(c);
		close(s);
		k = atomic_load(&nclosed);
		if (k + 2 <= MAX_CLOSED) {
			closed_ids[k] = a;
			closed_ids[k + 1] = b;
			atomic_store(&nclosed, k + 2);	/* after close() returned */
		}
	}
	close(lfd);
	inenl_close(nl);
	return NULL;
}

static void check_stable(const struct tally *t, const struct pairs *p,
			 int from, int to, int want, const char *what)
{
	int i, bad = 0;

	for (i = from; i < to; i++)
		bad += seen(t, p->idc[i]) != want || seen(t, p->ids[i]) != want;
	CHECK(bad == 0, "%s: %d sessions not seen %s", what, bad,
	      want ? "exactly once" : "zero times");
}

static int run_churn(int npairs, int rounds)
{
	struct tally t = { 0 };
	struct inenl_totals tot;
	struct pairs p;
	struct inenl *nl;
	pthread_t th;
	double secs, reg_secs;
	size_t closed_before, k;
	int r, intr = 0, dup, ghosts, i;

	kt_nofile(4 * (rlim_t)npairs + 1024);
	MUST(inenl_open(&nl) == 0, "inenl_open");
	pairs_open(&p, npairs);
	reg_secs = pairs_register(nl, &p);
	printf("registered %d sessions in %.3f s (%.0f/s)\n", 2 * npairs,
	       reg_secs, 2 * npairs / reg_secs);
	dump(nl, &t, &secs);
	printf("dump of %zu sessions: %.3f s\n", t.total, secs);
	CHECK(t.total == (size_t)(2 * npairs), "quiet dump saw %zu", t.total);
	check_stable(&t, &p, 0, npairs, 1, "quiet dump");
	CHECK(t.bad_state == 0 && t.not_established == 0,
	      "quiet dump: %d bad tuples, %d not established", t.bad_state,
	      t.not_established);

	MUST(pthread_create(&th, NULL, churner, NULL) == 0, "pthread_create");
	while (atomic_load(&nclosed) < 10)
		usleep(1000);
	for (r = 0; r < rounds; r++) {
		closed_before = atomic_load(&nclosed);
		intr += dump(nl, &t, &secs);
		check_stable(&t, &p, 0, npairs, 1, "dump under churn");
		for (k = 0, ghosts = 0; k < closed_before; k++)
			ghosts += seen(&t, closed_ids[k]) != 0;
		CHECK(ghosts == 0, "round %d: %d closed sessions dumped", r, ghosts);
		for (k = 0, dup = 0; k < t.cap; k++)
			dup += t.count[k] > 1;
		CHECK(dup == 0, "round %d: %d sessions dumped twice", r, dup);
		CHECK(t.bad_state == 0, "round %d: %d sessions with a bad tuple",
		      r, t.bad_state);
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	printf("%d dumps under churn (%zu sessions came and went), %d flagged "
	       "interrupted; last took %.3f s\n", rounds, atomic_load(&nclosed),
	       intr, secs);
	CHECK(intr > 0, "churn never flagged a dump interrupted (generation?)");

	/* close half: gone at once, the rest intact */
	for (i = 0; i < npairs / 2; i++) {
		close(p.c[i]);
		close(p.s[i]);
	}
	dump(nl, &t, &secs);
	check_stable(&t, &p, 0, npairs / 2, 0, "after close");
	check_stable(&t, &p, npairs / 2, npairs, 1, "after close");
	CHECK(t.total == (size_t)(2 * (npairs - npairs / 2)), "dump saw %zu",
	      t.total);
	CHECK_ERR(inenl_totals_get(nl, &tot), 0);
	CHECK(tot.sessions == (uint32_t)(2 * (npairs - npairs / 2)),
	      "totals %u", tot.sessions);
	for (i = npairs / 2; i < npairs; i++) {
		close(p.c[i]);
		close(p.s[i]);
	}
	CHECK_ERR(inenl_totals_get(nl, &tot), 0);
	CHECK(tot.sessions == 0, "after closing all: %u sessions", tot.sessions);
	/* the reaper (once a second) counts them removed */
	for (i = 0; i < 100 && tot.added != tot.removed; i++) {
		usleep(100000);
		CHECK_ERR(inenl_totals_get(nl, &tot), 0);
	}
	CHECK(tot.sessions == 0 && tot.added == tot.removed,
	      "after closing all and 10 s: %u sessions, added %llu removed %llu",
	      tot.sessions, (unsigned long long)tot.added,
	      (unsigned long long)tot.removed);
	inenl_close(nl);
	free(t.count);
	return kt_failures ? 1 : 0;
}

static int sh(const char *cmd, const char *arg)
{
	char line[512];
	int st;

	snprintf(line, sizeof(line), "%s%s", cmd, arg);
	st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int run_reload(int npairs, int loops, const char *ko)
{
	uint16_t port;
	struct inenl_totals tot;
	struct tally t = { 0 };
	struct inenl *nl;
	struct pairs p;
	double secs;
	char buf[4096];
	int l, i, ret, most = 2 * npairs;

	kt_nofile(4 * (rlim_t)npairs + 1024);
	pairs_open(&p, npairs);
	memset(buf, 'x', sizeof(buf));
	for (l = 0; l < loops; l++) {
		MUST(inenl_open(&nl) == 0, "inenl_open loop %d", l);
		CHECK_ERR(inenl_totals_get(nl, &tot), 0);
		CHECK(tot.sessions == 0 && (l == 0 || tot.added == 0),
		      "fresh module has %u sessions, %llu added", tot.sessions,
		      (unsigned long long)tot.added);
		pairs_register(nl, &p);
		/* the guard hooks are live across the unload too */
		port = (uint16_t)kt_port(p.s[0]);
		CHECK_ERR(inenl_config_set(nl, INE_GUARD_ENFORCE, &port, 1, 0), 0);
		for (i = 0; i < 8 && i < npairs; i++)
			kt_write_all(p.c[i], buf, sizeof(buf));
		dump(nl, &t, &secs);
		CHECK(t.total == (size_t)(2 * npairs), "loop %d: dump saw %zu", l,
		      t.total);
		/* some closed while the module is loaded, some while not */
		close(p.c[p.n - 1]);
		close(p.s[p.n - 1]);
		p.n--;
		inenl_close(nl);
		ret = sh("rmmod ine", "");
		CHECK(ret == 0, "loop %d: rmmod with %d live sessions failed", l,
		      2 * p.n);
		CHECK(inenl_open(&nl) == -ENOENT, "family still there after rmmod");
		close(p.c[p.n - 1]);
		close(p.s[p.n - 1]);
		p.n--;
		for (i = 0; i < 8 && i < npairs; i++)	/* unregistered now */
			kt_read_all(p.s[i], buf, sizeof(buf));
		MUST(sh("insmod ", ko) == 0, "insmod %s", ko);
		npairs = p.n;
	}
	for (i = 0; i < p.n; i++) {
		close(p.c[i]);
		close(p.s[i]);
	}
	printf("%d rmmod/insmod loops with %d..%d live sessions\n", loops,
	       2 * p.n, most);
	free(t.count);
	return kt_failures ? 1 : 0;
}

static int run_hold(int npairs)
{
	struct inenl *nl;
	struct pairs p;

	kt_nofile(4 * (rlim_t)npairs + 1024);
	MUST(inenl_open(&nl) == 0, "inenl_open");
	pairs_open(&p, npairs);
	pairs_register(nl, &p);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "churn"))
		return run_churn(atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "reload"))
		return run_reload(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return run_hold(atoi(argv[2]));
	fprintf(stderr, "usage: kmod_many churn PAIRS ROUNDS | reload PAIRS "
		"LOOPS KO | hold PAIRS\n");
	return 2;
}
