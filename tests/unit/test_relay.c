// SPDX-License-Identifier: GPL-2.0
/*
 * The relay end to end on the host: two relay nodes in this process, real
 * TCP on 127.0.0.1, real TLS (software: this kernel has no kernel TLS; in
 * a kernel with TLS the same tests pass offloaded). INE_RELAY_BYTES sets the
 * big-stream size (default 64 MiB; the perf variant uses 1 GiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/evp.h>

#include "test_relay_util.h"

static struct tr_env env;

static uint64_t big_size(void)
{
	const char *s = getenv("INE_RELAY_BYTES");

	return s ? strtoull(s, NULL, 0) : 64ull << 20;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static bool have_ktls(void)
{
	return access("/proc/net/tls_stat", F_OK) == 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Send size bytes (random-sized writes when rnd) to a sink; check digest. */
static void upload(uint16_t port, uint64_t size, uint32_t seed, bool rnd)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t want[32], got[32], *buf = malloc(1 << 20);
	uint64_t st = seed | 1, rs = seed * 7 + 1, left = size;
	unsigned int dl;
	int fd = tr_connect(port);

	cr_assert(fd >= 0, "connect route port %u: %s", port, strerror(-fd));
	cr_assert(tr_send_op(fd, 'S', size, seed) == 0);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (left) {
		size_t chunk = 1 << 20;

		if (rnd) {
			rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
			chunk = rs % 20000 + 1;
		}
		if (chunk > left)
			chunk = left;
		tr_prng_fill(&st, buf, chunk);
		EVP_DigestUpdate(md, buf, chunk);
		cr_assert(tr_write_all(fd, buf, chunk) == 0, "write: %s", strerror(errno));
		left -= chunk;
	}
	EVP_DigestFinal_ex(md, want, &dl);
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	cr_assert_eq(tr_read_full(fd, got, 32), 32, "no digest from the target");
	cr_assert_arr_eq(got, want, 32, "payload corrupted through the relay");
	cr_assert_eq(read(fd, got, 1), 0, "expected EOF after the digest");
	close(fd);
	EVP_MD_CTX_free(md);
	free(buf);
}

/* Receive size bytes from a generator; check them all. */
static void download(uint16_t port, uint64_t size, uint32_t seed, int check_mode)
{
	uint8_t *buf = malloc(1 << 20), *exp = malloc(1 << 20);
	uint64_t st = seed | 1, got = 0;
	struct relay_stats b0, b1;
	int fd;
	ssize_t n;

	tr_stats(&env, 0, &b0);
	tr_stats(&env, 1, &b1);
	fd = tr_connect(port);

	cr_assert(fd >= 0);
	cr_assert(tr_send_op(fd, 'G', size, seed) == 0);
	while ((n = read(fd, buf, 1 << 20)) > 0) {
		tr_prng_fill(&st, exp, n);
		cr_assert(memcmp(buf, exp, n) == 0, "byte mismatch near offset %llu",
			  (unsigned long long)got);
		if (got == 0 && check_mode >= 0) {
			struct relay_stats s0, s1;

			tr_stats(&env, 0, &s0);
			tr_stats(&env, 1, &s1);
			/* this connection's mode, at both ends */
			if (check_mode == RELAY_MODE_PLAINTEXT) {
				cr_expect_eq(s0.plaintext - b0.plaintext, 1);
				cr_expect_eq(s1.plaintext - b1.plaintext, 1);
			} else if (have_ktls()) {
				cr_expect_eq(s0.offloaded + s0.software -
					     b0.offloaded - b0.software, 1);
			} else {
				cr_expect_eq(s0.software - b0.software, 1,
					     "software TLS expected on this kernel");
				cr_expect_eq(s1.software - b1.software, 1);
			}
			cr_expect_eq(s0.plaintext - b0.plaintext + s1.plaintext - b1.plaintext,
				     check_mode == RELAY_MODE_PLAINTEXT ? 2 : 0,
				     "mode must be %s", relay_mode_str(check_mode));
		}
		got += n;
	}
	cr_assert_eq(n, 0, "read: %s", strerror(errno));
	cr_assert_eq(got, size, "short stream: %llu of %llu", (unsigned long long)got,
		     (unsigned long long)size);
	close(fd);
	free(buf);
	free(exp);
}

static void fini(void)
{
	tr_teardown(&env);
}

/* ---- every suite: big stream both ways, many random-sized writes ---- */

ParameterizedTestParameters(relay, suites)
{
	static int p[] = { TR_TLS12_AES128, TR_TLS12_AES256, TR_TLS13_AES128,
			   TR_TLS13_AES256 };

	return cr_make_param_array(int, p, 4);
}

ParameterizedTest(int *suite, relay, suites, .timeout = 600)
{
	uint64_t size = big_size();
	double t0;

	tr_setup(&env, *suite, true, false);
	t0 = now();
	upload(env.route_port[TR_RT_DB1], size, 1234, false);
	cr_log_info("%s: %llu MiB up in %.2f s", tr_suite_name[*suite],
		    (unsigned long long)(size >> 20), now() - t0);
	t0 = now();
	download(env.route_port[TR_RT_DB1], size, 99, RELAY_MODE_SOFTWARE);
	cr_log_info("%s: %llu MiB down in %.2f s", tr_suite_name[*suite],
		    (unsigned long long)(size >> 20), now() - t0);
	/* a few thousand random-sized writes (up to 20000 bytes each) */
	upload(env.route_port[TR_RT_DB1], 3000ull * 10000, 77, true);
	tr_teardown(&env);
}

/* ---- echo with concurrent writer: random writes + half-close ---- */

struct writer { int fd; int n; uint8_t dg[32]; };

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[8192];
	uint64_t st = 5, rs = 11;
	unsigned int dl;
	int i;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (i = 0; i < w->n; i++) {
		size_t len;

		rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
		len = rs % sizeof(buf) + 1;
		tr_prng_fill(&st, buf, len);
		EVP_DigestUpdate(md, buf, len);
		if (tr_write_all(w->fd, buf, len))
			break;
	}
	EVP_DigestFinal_ex(md, w->dg, &dl);
	EVP_MD_CTX_free(md);
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void echo_check(uint16_t port, int writes)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct writer w = { .n = writes };
	uint8_t buf[65536], dg[32];
	unsigned int dl;
	pthread_t t;
	ssize_t n;

	w.fd = tr_connect(port);
	cr_assert(w.fd >= 0);
	cr_assert(tr_send_op(w.fd, 'E', 0, 0) == 0);
	pthread_create(&t, NULL, writer_main, &w);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(w.fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, n);
	pthread_join(t, NULL);
	cr_assert_eq(n, 0, "echo ended with %s, not a clean EOF", strerror(errno));
	EVP_DigestFinal_ex(md, dg, &dl);
	cr_assert_arr_eq(dg, w.dg, 32, "echoed bytes differ");
	close(w.fd);
	EVP_MD_CTX_free(md);
}

Test(relay, echo_random_writes_tls, .fini = fini, .timeout = 120)
{
	tr_setup(&env, TR_TLS13_AES256, true, false);
	echo_check(env.route_port[TR_RT_DB1], 4000);
}

Test(relay, echo_random_writes_plaintext, .fini = fini, .timeout = 120)
{
	tr_setup(&env, TR_TLS13_AES256, true, false);
	echo_check(env.route_port[TR_RT_DB2], 4000);
}

/* Half-close: our FIN reaches the target; its data still flows back. */
Test(relay, half_close, .fini = fini, .timeout = 60)
{
	int p, port;

	tr_setup(&env, TR_TLS12_AES256, true, false);
	for (p = 0; p < 2; p++) {
		char buf[16];
		int fd;

		port = env.route_port[p ? TR_RT_DB2 : TR_RT_DB1];
		fd = tr_connect(port);
		cr_assert(fd >= 0);
		cr_assert(tr_send_op(fd, 'E', 0, 0) == 0);
		cr_assert(tr_write_all(fd, "hello", 5) == 0);
		cr_assert(shutdown(fd, SHUT_WR) == 0);
		/* echo writes back only after it has seen our EOF */
		cr_assert_eq(tr_read_full(fd, buf, sizeof(buf)), 5);
		cr_assert(memcmp(buf, "hello", 5) == 0);
		cr_assert_eq(read(fd, buf, 1), 0, "target's half-close did not arrive");
		close(fd);
	}
}

/* A reset by the target arrives at the client as a reset. */
Test(relay, reset_from_target, .fini = fini, .timeout = 60)
{
	int p;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	for (p = 0; p < 2; p++) {
		char buf[16];
		int fd = tr_connect(env.route_port[p ? TR_RT_DB2 : TR_RT_DB1]);
		ssize_t n;

		cr_assert(fd >= 0);
		cr_assert(tr_send_op(fd, 'R', 0, 0) == 0);
		n = read(fd, buf, sizeof(buf));
		cr_assert_eq(n, -1, "expected a reset, got %zd", n);
		cr_assert_eq(errno, ECONNRESET, "expected ECONNRESET, got %s", strerror(errno));
		close(fd);
	}
}

/* A reset by the client arrives at the target as a reset. */
Test(relay, reset_from_client, .fini = fini, .timeout = 60)
{
	struct linger lg = { 1, 0 };
	int p, i;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	for (p = 0; p < 2; p++) {
		int fd = tr_connect(env.route_port[p ? TR_RT_DB2 : TR_RT_DB1]);

		tr_reset_observed();
		cr_assert(fd >= 0);
		cr_assert(tr_send_op(fd, 'X', 0, 0) == 0);
		cr_assert(tr_write_all(fd, "data", 4) == 0);
		usleep(200000);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		for (i = 0; i < 100 && tr_last_errno() < 0; i++)
			usleep(50000);
		cr_assert_eq(tr_last_errno(), ECONNRESET, "target saw %d, want ECONNRESET",
			     tr_last_errno());
	}
}

/* 200 concurrent routed connections, then memory per idle connection. */
Test(relay, concurrent_200, .fini = fini, .timeout = 180)
{
	enum { N = 200, LEN = 3000 };
	static int fds[N];
	struct relay_stats s0, s1;
	struct mallinfo2 m0, m1;
	uint8_t buf[LEN], got[LEN];
	uint64_t st = 3;
	int i;

	raise_nofile();
	mallopt(M_ARENA_MAX, 1);	/* every thread's heap in one count */
	tr_setup(&env, TR_TLS13_AES256, true, false);
	tr_prng_fill(&st, buf, LEN);
	m0 = mallinfo2();
	for (i = 0; i < N; i++) {
		fds[i] = tr_connect(env.route_port[TR_RT_DB1]);
		cr_assert(fds[i] >= 0, "connection %d: %s", i, strerror(-fds[i]));
		cr_assert(tr_send_op(fds[i], 'E', 0, 0) == 0);
		cr_assert(tr_write_all(fds[i], buf, 1) == 0);
	}
	for (i = 0; i < N; i++)
		cr_assert_eq(tr_read_full(fds[i], got, 1), 1, "connection %d got no echo", i);
	/* all idle in the pump now */
	tr_stats(&env, 0, &s0);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s0.conns, N);
	cr_assert_eq(s1.conns, N);
	cr_assert_eq(s0.setup + s1.setup, 0);
	m1 = mallinfo2();
	cr_log_info("relay heap per idle connection (both nodes' ends, TLS, incl. OpenSSL): %zu bytes",
		    (m1.uordblks - m0.uordblks) / N);
	cr_expect_lt((m1.uordblks - m0.uordblks) / N, 64 * 1024,
		     "idle connections hold too much memory");
	for (i = 0; i < N; i++)
		cr_assert(tr_write_all(fds[i], buf + 1, LEN - 1) == 0);
	for (i = 0; i < N; i++)
		cr_assert(shutdown(fds[i], SHUT_WR) == 0);
	for (i = 0; i < N; i++) {
		cr_assert_eq(tr_read_full(fds[i], got, LEN - 1), LEN - 1, "connection %d", i);
		cr_assert(memcmp(got, buf + 1, LEN - 1) == 0, "connection %d corrupted", i);
		cr_assert_eq(read(fds[i], got, 1), 0);
		close(fds[i]);
	}
}

/* A slow reader stalls the writer: bounded buffering end to end. */
Test(relay, backpressure, .fini = fini, .timeout = 120)
{
	uint64_t total = 160ull << 20, sent = 0, st = 9;
	uint8_t *buf = malloc(1 << 16), dg[32], want[32];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int dl;
	int fd, fl;
	double t0;

	tr_setup(&env, TR_TLS12_AES128, true, false);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	cr_assert(tr_send_op(fd, 'P', 3000, 9) == 0);	/* target sleeps 3 s */
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	t0 = now();
	tr_prng_fill(&st, buf, 1 << 16);
	while (now() - t0 < 1.5 && sent < total) {
		ssize_t n = send(fd, buf, 1 << 16, MSG_NOSIGNAL);

		if (n > 0) {
			EVP_DigestUpdate(md, buf, n);
			sent += n;
			if (n < (1 << 16))
				memmove(buf, buf + n, (1 << 16) - n);	/* keep stream order */
			tr_prng_fill(&st, buf + (1 << 16) - n, n);
		} else {
			struct pollfd p = { fd, POLLOUT, 0 };

			poll(&p, 1, 100);
		}
	}
	cr_log_info("accepted before the reader woke: %llu KiB",
		    (unsigned long long)(sent >> 10));
	cr_assert_lt(sent, 64ull << 20, "relay buffered %llu MiB for a stalled reader",
		     (unsigned long long)(sent >> 20));
	fcntl(fd, F_SETFL, fl);
	while (sent < total) {
		cr_assert(tr_write_all(fd, buf, 1 << 16) == 0);
		EVP_DigestUpdate(md, buf, 1 << 16);
		sent += 1 << 16;
		tr_prng_fill(&st, buf, 1 << 16);
	}
	EVP_DigestFinal_ex(md, want, &dl);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(tr_read_full(fd, dg, 32), 32);
	cr_assert_arr_eq(dg, want, 32);
	close(fd);
	free(buf);
	EVP_MD_CTX_free(md);
}

/* ---- refusals ---- */

static void expect_refused(uint16_t port)
{
	char buf[8];
	int fd = tr_connect(port);
	ssize_t n;

	cr_assert(fd >= 0);
	/* The reset may come before our write: then the write reports it
	 * (and a read after it would see 0). */
	n = tr_send_op(fd, 'S', 0, 0);
	if (n != -ECONNRESET && n != -EPIPE) {
		cr_assert_eq(n, 0);
		n = read(fd, buf, sizeof(buf));
		cr_assert(n < 0 && errno == ECONNRESET, "refused route must be reset, got %zd", n);
	}
	close(fd);
}

Test(relay, target_not_allowed, .fini = fini, .timeout = 60)
{
	struct relay_stats s1;

	tr_setup(&env, TR_TLS13_AES256, true, false);
	expect_refused(env.route_port[TR_RT_NOTALLOWED]);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s1.refused, 1);
	expect_refused(env.route_port[TR_RT_UNKNOWNDB]);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s1.refused, 2);
	/* the allowed one still works */
	upload(env.route_port[TR_RT_DB1], 1 << 20, 1, false);
}

/* Speak the route protocol to a node's port by hand. */
static int raw_route(uint16_t port, uint32_t db, const char *name, char *msg)
{
	struct route_header h = { .db = db };
	uint8_t b[ROUTE_REPLY_MAX];
	uint8_t status;
	int fd = tr_connect(port), n;
	size_t have = 0;

	cr_assert(fd >= 0);
	snprintf(h.name, sizeof(h.name), "%s", name);
	n = route_header_encode(&h, b, sizeof(b));
	cr_assert(n > 0);
	cr_assert(tr_write_all(fd, b, n) == 0);
	while (have < route_reply_need(b, have)) {
		ssize_t r = read(fd, b + have, route_reply_need(b, have) - have);

		cr_assert(r > 0, "no reply");
		have += r;
	}
	cr_assert(route_reply_parse(b, have, &status, msg) > 0);
	close(fd);
	return status;
}

Test(relay, plain_port_refuses_encrypted_db, .fini = fini, .timeout = 60)
{
	char msg[256];

	tr_setup(&env, TR_TLS13_AES256, true, false);
	cr_assert_eq(raw_route(env.n[1].plain_port, 1, "t1", msg), ROUTE_ERR_MODE, "%s", msg);
	cr_assert(strstr(msg, "db 1"), "reason must name the db: %s", msg);
	cr_assert_eq(raw_route(env.n[1].plain_port, 2, "t1", msg), ROUTE_ERR_NOT_ALLOWED);
	cr_assert(strstr(msg, "'t1'"), "reason must name the target: %s", msg);
	cr_assert_eq(raw_route(env.n[1].plain_port, 7, "t2", msg), ROUTE_ERR_UNKNOWN_DB);
	cr_assert_eq(raw_route(env.n[1].plain_port, 2, "t2", msg), ROUTE_OK, "%s", msg);
}

Test(relay, plaintext_db, .fini = fini, .timeout = 120)
{
	tr_setup(&env, TR_TLS13_AES256, true, false);
	upload(env.route_port[TR_RT_DB2], 16 << 20, 4, true);
	download(env.route_port[TR_RT_DB2], 16 << 20, 5, RELAY_MODE_PLAINTEXT);
}

/* Toggling a db's encryption drops its connections; the next uses the new mode. */
Test(relay, toggle_encryption, .fini = fini, .timeout = 120)
{
	struct relay_stats s0, s1;
	char b[4];
	int fd, other;
	ssize_t n;

	tr_setup(&env, TR_TLS13_AES256, true, false);
	fd = tr_connect(env.route_port[TR_RT_DB2]);
	other = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0 && other >= 0);
	cr_assert(tr_send_op(fd, 'E', 0, 0) == 0 && tr_send_op(other, 'E', 0, 0) == 0);
	cr_assert(tr_write_all(fd, "a", 1) == 0 && tr_write_all(other, "b", 1) == 0);
	cr_assert_eq(tr_read_full(fd, b, 1), 1);
	cr_assert_eq(tr_read_full(other, b, 1), 1);
	tr_stats(&env, 0, &s0);
	cr_assert_eq(s0.plaintext, 1);

	env.enc[2] = true;
	cr_assert(tr_config(&env) == 0);
	n = read(fd, b, 1);
	cr_assert(n < 0 && errno == ECONNRESET, "db 2 connection must be reset, got %zd", n);
	close(fd);
	tr_stats(&env, 0, &s0);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s0.conns, 1, "db 1's connection must survive");
	cr_assert_eq(s1.conns, 1, "receiving end of db 2 must be dropped too");
	cr_assert_eq(s0.disconnected, 1);
	/* db 1 untouched */
	cr_assert(tr_write_all(other, "c", 1) == 0);
	cr_assert_eq(tr_read_full(other, b, 1), 1);
	cr_assert_eq(b[0], 'c');
	/* next db 2 connection is encrypted */
	download(env.route_port[TR_RT_DB2], 1 << 20, 8, RELAY_MODE_SOFTWARE);
	/* and back */
	env.enc[2] = false;
	cr_assert(tr_config(&env) == 0);
	download(env.route_port[TR_RT_DB2], 1 << 20, 8, RELAY_MODE_PLAINTEXT);
	close(other);
}

Test(relay, bad_config_changes_nothing, .fini = fini, .timeout = 60)
{
	struct relay_config_node n = { .id = 1, .name = "x", .addr = "not-an-ip" };
	struct relay_config c = { .self_node = 1, .nodes = &n, .n_nodes = 1 };
	char err[256] = "";

	tr_setup(&env, TR_TLS13_AES256, true, false);
	cr_assert_eq(relay_apply_config(env.n[0].r, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "node"), "error must name the problem: %s", err);
	upload(env.route_port[TR_RT_DB1], 1 << 20, 1, false);
}

static void nop(void *arg)
{
	(void)arg;
}

/* Both ends report their session (for ine.ko) with the db and peer. */
Test(relay, session_hook, .fini = fini, .timeout = 60)
{
	struct tr_session a, b;

	tr_setup(&env, TR_TLS12_AES128, true, false);
	download(env.route_port[TR_RT_DB1], 1 << 16, 3, RELAY_MODE_SOFTWARE);
	tr_call(&env, nop, NULL);
	a = tr_sessions[0];
	b = tr_sessions[1];
	cr_assert_eq(a.db, 1);
	cr_assert_eq(a.peer, 2);
	cr_assert_eq(b.db, 1, "receiving end must re-register with the db it serves");
	cr_assert_eq(b.peer, 1, "peer node from the certificate");
	cr_assert(a.tls && b.tls);
	cr_assert_eq(a.mode, have_ktls() ? RELAY_MODE_OFFLOADED : RELAY_MODE_SOFTWARE);
	download(env.route_port[TR_RT_DB2], 1 << 16, 3, RELAY_MODE_PLAINTEXT);
	tr_call(&env, nop, NULL);
	cr_assert_eq(tr_sessions[1].db, 2);
	cr_assert_eq(tr_sessions[1].mode, RELAY_MODE_PLAINTEXT);
	cr_assert(!tr_sessions[1].tls);
	for (int i = 0; i < 50 && tr_sessions[0].downs < 2; i++)
		usleep(20000);
	cr_assert_eq(tr_sessions[0].downs, 2, "closed sessions are reported gone");
}

/* ---- client context swap (certificate rotation / upload) ---- */

struct ctx_swap {
	struct relay *r;
	SSL_CTX *ctx;
};

static void set_ctx(void *arg)
{
	struct ctx_swap *s = arg;

	relay_set_client_ctx(s->r, s->ctx);
}

static void echo_roundtrip(int fd, const char *msg)
{
	char buf[64];
	size_t len = strlen(msg);

	cr_assert_eq(tr_write_all(fd, msg, len), 0);
	cr_assert_eq(tr_read_full(fd, buf, len), (ssize_t)len, "echo lost");
	cr_assert_arr_eq(buf, msg, len);
}

/* New outgoing connections use the context set last; one already up keeps
 * the context it was made with. A client context without a certificate
 * stands for "a different one": node 2 must refuse the handshake. */
Test(relay, client_ctx_swap, .fini = fini, .timeout = 60)
{
	struct ctx_swap s;
	SSL_CTX *nocert = SSL_CTX_new(TLS_client_method());
	int up;

	cr_assert(nocert);
	tr_setup(&env, TR_TLS13_AES256, true, false);
	up = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(up >= 0);
	cr_assert(tr_send_op(up, 'E', 0, 0) == 0);
	echo_roundtrip(up, "before the swap");

	s.r = env.n[0].r;
	s.ctx = nocert;
	tr_call(&env, set_ctx, &s);
	{
		char buf[16];
		int fd = tr_connect(env.route_port[TR_RT_DB1]);
		ssize_t n;

		cr_assert(fd >= 0);
		tr_send_op(fd, 'E', 0, 0);
		tr_write_all(fd, "ping", 4);
		n = tr_read_full(fd, buf, 4);
		cr_assert(n <= 0, "a connection made without a client certificate "
			  "got %zd bytes through", n);
		close(fd);
	}
	echo_roundtrip(up, "existing connection keeps its certificate");

	s.ctx = env.n[0].cctx;
	tr_call(&env, set_ctx, &s);
	upload(env.route_port[TR_RT_DB1], 1 << 16, 7, false);
	echo_roundtrip(up, "still up");
	close(up);
	SSL_CTX_free(nocert);
}

/* ---- key usage limit: keylimit.c resets a relayed connection by fd ---- */

struct retire_arg {
	struct relay *r;
	int fd, ret;
};

static void do_retire(void *arg)
{
	struct retire_arg *a = arg;

	a->ret = relay_retire_fd(a->r, a->fd, "test: key usage limit");
}

Test(relay, retire_resets_both_legs, .fini = fini, .timeout = 60)
{
	struct retire_arg a;
	char buf[16];
	int fd, i;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	tr_reset_observed();
	cr_assert(tr_send_op(fd, 'X', 0, 0) == 0);
	cr_assert(tr_write_all(fd, "data", 4) == 0);
	for (i = 0; i < 100 && !tr_sessions[0].ups; i++)
		usleep(20000);
	tr_call(&env, nop, NULL);
	cr_assert(tr_sessions[0].ups > 0, "no session came up");
	/* Not one of the relay's connections: nothing happens. */
	a = (struct retire_arg){ env.n[0].r, 0x7ffffff0, 1 };
	tr_call(&env, do_retire, &a);
	cr_assert_eq(a.ret, -ENOENT);
	a = (struct retire_arg){ env.n[0].r, tr_sessions[0].fd, 1 };
	tr_call(&env, do_retire, &a);
	cr_assert_eq(a.ret, 0, "the session's fd was not found");
	/* Both ends see a reset, not an end of stream that looks complete. */
	for (i = 0; i < 100 && tr_last_errno() < 0; i++)
		usleep(50000);
	cr_assert_eq(tr_last_errno(), ECONNRESET, "target saw %d, want ECONNRESET",
		     tr_last_errno());
	errno = 0;
	cr_assert(read(fd, buf, sizeof(buf)) < 0 && errno == ECONNRESET,
		  "client: want ECONNRESET, got errno %d", errno);
	close(fd);
	/* The route carries the next connection on a new session. */
	download(env.route_port[TR_RT_DB1], 1 << 14, 5, -1);
}

static uint64_t key_limit;

static void do_key_limit(void *arg)
{
	struct tr_env *e = arg;

	relay_set_key_limit(e->n[0].r, key_limit);
	relay_set_key_limit(e->n[1].r, key_limit);
}

/* Software TLS (this host has no kernel TLS): the relay counts the records
 * it writes through OpenSSL and resets the connection at the limit; under
 * the limit nothing happens. */
Test(relay, software_key_limit, .fini = fini, .timeout = 60)
{
	struct relay_stats s0, s1;
	uint8_t buf[65536];
	ssize_t n, got = 0;
	int fd;

	if (have_ktls())
		cr_skip_test("kernel TLS here: ine.ko counts these records (t-keylimit)");
	tr_setup(&env, TR_TLS13_AES128, true, false);
	key_limit = 64;		/* records, not bytes: the relay writes what it read */
	tr_call(&env, do_key_limit, &env);
	download(env.route_port[TR_RT_DB1], 16 << 10, 7, -1);	/* at most 16 KiB of records */
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	cr_assert(tr_send_op(fd, 'G', 8 << 20, 9) == 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
	cr_assert(n < 0 && errno == ECONNRESET,
		  "an 8 MiB download past a 64-record limit must end in a reset (read %zd, errno %d)",
		  n, errno);
	cr_assert(got < (8 << 20), "got %zd bytes", got);
	close(fd);
	tr_stats(&env, 0, &s0);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s0.key_limit_resets + s1.key_limit_resets, 1);
	/* The default is far away: the same download goes through. */
	key_limit = 0;
	tr_call(&env, do_key_limit, &env);
	download(env.route_port[TR_RT_DB1], 8 << 20, 9, -1);
}
