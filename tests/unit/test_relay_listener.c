// SPDX-License-Identifier: GPL-2.0
/* The 3342 listener: slowloris bounds, and the relay's peer identity check. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/ssl.h>

#include "test_relay_util.h"

static struct tr_env env;
static struct listener *extra;
static uint16_t extra_port;

static void fini(void)
{
	tr_teardown(&env);
}

static void do_extra(void *arg)
{
	const struct listener_opts *o = arg;

	extra = listener_new(env.base, env.n[1].sctx, "127.0.0.1", extra_port, o);
	cr_assert(extra);
	tr_members_to(extra);
	cr_assert(listener_set_handler(extra, RELAY_ALPN, relay_accept_tls, env.n[1].r) == 0);
}

static void do_extra_free(void *arg)
{
	(void)arg;
	listener_free(extra);
	extra = NULL;
}

static struct listener_stats lst;

static void do_lstats(void *arg)
{
	(void)arg;
	listener_get_stats(extra, &lst);
}

/* A member's echo through the route whose peer port is the extra listener;
 * returns the milliseconds it took. */
static long member_echo(void)
{
	struct timespec a, z;
	char b;
	int c;

	clock_gettime(CLOCK_MONOTONIC, &a);
	c = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(c >= 0);
	cr_assert(tr_send_op(c, 'E', 0, 0) == 0);
	cr_assert(tr_write_all(c, "x", 1) == 0);
	cr_assert_eq(tr_read_full(c, &b, 1), 1, "member's echo through the route failed");
	cr_assert_eq(b, 'x');
	close(c);
	clock_gettime(CLOCK_MONOTONIC, &z);
	return (z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000;
}

/* A ClientHello from a real OpenSSL client, to stall after it. */
static size_t client_hello(uint8_t *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int n;

	static const unsigned char alpn[] = "\x08ine-dp/1";

	cr_assert_eq(SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1), 0);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	cr_assert_eq(SSL_do_handshake(ssl), -1);
	n = BIO_read(wb, out, (int)cap);
	cr_assert(n > 0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

/* A client that never speaks is dropped after the handshake timeout. */
Test(listener, handshake_timeout, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 2, .handshake_timeout_ms = 400,
				   .evict_after_ms = 50 };
	int fd[3], i;
	char b;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	for (i = 0; i < 3; i++) {
		fd[i] = tr_connect_from(extra_port, "127.0.0.2");
		cr_assert(fd[i] >= 0);
		usleep(70000);	/* past evict_after_ms */
	}
	usleep(100000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handshaking, 2, "in-progress handshakes must be bounded");
	cr_assert_eq(lst.accepted, 3);
	cr_assert_eq(lst.evicted, 1, "the third takes the oldest silent one's place");
	for (i = 0; i < 3; i++) {
		struct pollfd p = { fd[i], POLLIN, 0 };

		cr_assert_eq(poll(&p, 1, 3000), 1, "silent client %d not dropped", i);
		cr_assert(read(fd[i], &b, 1) <= 0);
		close(fd[i]);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.hello_timed_out, 2);
	cr_assert_eq(lst.timed_out, 0);
	cr_assert_eq(lst.handed_off, 0);
	/* and it still serves real clients */
	tr_set_node_dp_port(1, extra_port);
	cr_assert(tr_config(&env) == 0);
	{
		int c = tr_connect(env.route_port[TR_RT_DB1]);

		cr_assert(tr_send_op(c, 'E', 0, 0) == 0);
		cr_assert(tr_write_all(c, "x", 1) == 0);
		cr_assert_eq(tr_read_full(c, &b, 1), 1);
		close(c);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handed_off, 1);
	tr_call(&env, do_extra_free, NULL);
}

/* The certificate must prove the route's peer: node 1 answering for node 2. */
Test(listener, wrong_peer_refused, .fini = fini, .timeout = 30)
{
	struct relay_stats s0, s1;
	char b[4];
	int fd;
	ssize_t n;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	tr_set_node_dp_port(1, env.n[0].dp_port);
	cr_assert(tr_config(&env) == 0);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	n = tr_send_op(fd, 'E', 0, 0);	/* may already report the reset */
	if (n != -ECONNRESET && n != -EPIPE) {
		cr_assert_eq(n, 0);
		n = read(fd, b, sizeof(b));
		cr_assert(n < 0 && errno == ECONNRESET, "must be refused, got %zd", n);
	}
	close(fd);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s1.bytes_to_peer + s1.bytes_from_peer, 0);
	tr_stats(&env, 0, &s0);
	cr_assert_eq(s0.resets, 2, "both the route conn and the one it reached dropped");
}

/* Slowloris: every place taken by connections that sent one byte and stalled,
 * and more arriving all the time; a member still gets through at once. */
Test(listener, stalled_connections_do_not_lock_out_members, .fini = fini, .timeout = 60)
{
	struct listener_opts o = { .max_handshakes = 8, .handshake_timeout_ms = 20000,
				   .hello_timeout_ms = 15000, .evict_after_ms = 50 };
	int fd[40], i, round;
	long ms, worst = 0;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	tr_set_node_dp_port(1, extra_port);
	cr_assert(tr_config(&env) == 0);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < 10; i++) {
			int k = round * 10 + i;

			char src[32];

			snprintf(src, sizeof(src), "127.0.0.%d", 2 + k);
			fd[k] = tr_connect_from(extra_port, src);
			cr_assert(fd[k] >= 0);
			/* the agent may already have closed it (no place) */
			(void)tr_write_all(fd[k], "\x16", 1);
		}
		usleep(100000);
		ms = member_echo();
		worst = ms > worst ? ms : worst;
	}
	cr_assert_lt(worst, 1000, "a member waited %ld ms behind stalled connections", worst);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handed_off, 4);
	/* 40 stalled into the 6 places strangers may hold: each of the
	 * others was evicted or, with no place old enough to give, closed. */
	cr_assert_geq(lst.evicted + lst.refused_full, 34, "40 stalled into 6 places: "
		      "%llu evicted, %llu refused", (unsigned long long)lst.evicted,
		      (unsigned long long)lst.refused_full);
	for (i = 0; i < 40; i++)
		close(fd[i]);
	tr_call(&env, do_extra_free, NULL);
}

/* No whole ClientHello within hello_timeout_ms: dropped well before the
 * full handshake timeout. */
Test(listener, partial_hello_gets_the_short_deadline, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .handshake_timeout_ms = 10000, .hello_timeout_ms = 300 };
	uint8_t ch[4096];
	size_t n = client_hello(ch, sizeof(ch));
	struct pollfd p;
	struct timespec a, z;
	int fd;
	char b;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	fd = tr_connect(extra_port);
	cr_assert(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert(tr_write_all(fd, ch, n / 2) == 0);
	p = (struct pollfd){ fd, POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, 5000), 1, "half a ClientHello not dropped");
	clock_gettime(CLOCK_MONOTONIC, &z);
	cr_assert(read(fd, &b, 1) <= 0);
	close(fd);
	cr_assert_lt((z.tv_sec - a.tv_sec) * 1000 + (z.tv_nsec - a.tv_nsec) / 1000000, 2000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.hello_timed_out, 1);
	cr_assert_eq(lst.timed_out, 0);
	tr_call(&env, do_extra_free, NULL);
}

/* A whole ClientHello earns the full handshake time, but no longer a
 * place that cannot be taken: once it has had evict_after_ms a newcomer
 * evicts it whatever its stage (a stalled attacker past its ClientHello
 * has cost us an RSA signature and is no better than a silent one). */
Test(listener, whole_hello_full_deadline_but_evictable, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 2, .handshake_timeout_ms = 1500,
				   .hello_timeout_ms = 300, .evict_after_ms = 1000 };
	uint8_t ch[4096];
	size_t n = client_hello(ch, sizeof(ch));
	int fd[4], i;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	for (i = 0; i < 2; i++) {
		fd[i] = tr_connect_from(extra_port, i ? "127.0.0.3" : "127.0.0.2");
		cr_assert(fd[i] >= 0);
		cr_assert(tr_write_all(fd[i], ch, n) == 0);
	}
	usleep(600000);		/* past the hello deadline, before evict_after_ms */
	fd[2] = tr_connect_from(extra_port, "127.0.0.4");
	cr_assert(fd[2] >= 0);
	usleep(200000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.hello_timed_out, 0, "a whole ClientHello got the short deadline");
	cr_assert_eq(lst.handshaking, 2);
	cr_assert_eq(lst.evicted, 0, "evicted before evict_after_ms");
	cr_assert_eq(lst.refused_full, 1, "the third, with no place to take, is closed");
	cr_assert_eq(lst.accepted, 3);
	usleep(300000);		/* the first is 1.1 s old now */
	fd[3] = tr_connect_from(extra_port, "127.0.0.5");
	cr_assert(fd[3] >= 0);
	for (i = 0; i < 4; i++) {
		struct pollfd p = { fd[i], POLLIN, 0 };
		char b[64];

		cr_assert_eq(poll(&p, 1, 5000), 1, "client %d not dropped", i);
		while (read(fd[i], b, sizeof(b)) > 0)
			;
		close(fd[i]);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.evicted, 1, "the oldest, past its ClientHello, gave its place");
	cr_assert_eq(lst.timed_out, 1, "the second ran out its full handshake time");
	cr_assert_eq(lst.hello_timed_out, 1, "the fourth, silent");
	tr_call(&env, do_extra_free, NULL);
}

/* Every place taken (strangers past their ClientHello, and a silent
 * connection from the member's own address): a member's connection takes
 * a stranger's place at once, without waiting for evict_after_ms. */
Test(listener, member_takes_a_strangers_place_at_once, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 4, .handshake_timeout_ms = 20000,
				   .hello_timeout_ms = 20000, .evict_after_ms = 10000 };
	uint8_t ch[4096];
	size_t n = client_hello(ch, sizeof(ch));
	int fd[4], i;
	long ms;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	tr_set_node_dp_port(1, extra_port);
	cr_assert(tr_config(&env) == 0);
	for (i = 0; i < 3; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i);
		fd[i] = tr_connect_from(extra_port, src);
		cr_assert(fd[i] >= 0);
		cr_assert(tr_write_all(fd[i], ch, n) == 0);
	}
	fd[3] = tr_connect(extra_port);		/* the member's address, silent */
	cr_assert(fd[3] >= 0);
	usleep(200000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handshaking, 4);
	ms = member_echo();
	cr_assert_lt(ms, 2000, "the member waited %ld ms", ms);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.evicted, 1, "one stranger gave its place");
	cr_assert_eq(lst.handed_off, 1);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	tr_call(&env, do_extra_free, NULL);
}

/* Strangers: at most per_addr_max handshakes at once from one address, at
 * most addr_rate/s (burst addr_burst) from it, unknown_rate/s from all;
 * the member's address is never limited. */
Test(listener, stranger_limits, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 64, .handshake_timeout_ms = 20000,
				   .hello_timeout_ms = 20000,
				   .admit = { .per_addr_max = 2, .addr_rate = 1, .addr_burst = 3,
					      .unknown_rate = 1, .unknown_burst = 6 } };
	int fd[16], k = 0, i;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	for (i = 0; i < 3; i++)			/* cap 2 at once */
		cr_assert((fd[k++] = tr_connect_from(extra_port, "127.0.0.9")) >= 0);
	usleep(100000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handshaking, 2);
	cr_assert_eq(lst.refused_per_addr, 1);
	for (i = 0; i < 4; i++) {		/* burst 3 from .10, one at a time */
		int c = tr_connect_from(extra_port, "127.0.0.10");

		cr_assert(c >= 0);
		usleep(30000);
		close(c);
		usleep(30000);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.rate_limited, 1, "the fourth from one address within a second");
	/* 2 + 3 of the 6 shared tokens spent: one more stranger, then none */
	cr_assert((fd[k++] = tr_connect_from(extra_port, "127.0.0.11")) >= 0);
	cr_assert((fd[k++] = tr_connect_from(extra_port, "127.0.0.12")) >= 0);
	usleep(100000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.rate_limited, 2, "all strangers together over unknown_rate");
	for (i = 0; i < 6; i++)			/* the member's address: no limit */
		cr_assert((fd[k++] = tr_connect(extra_port)) >= 0);
	usleep(100000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.rate_limited, 2);
	cr_assert_eq(lst.refused_per_addr, 1);
	cr_assert_eq(lst.handshaking, 9, "2 + 1 strangers and 6 from the member's address");
	for (i = 0; i < k; i++)
		close(fd[i]);
	tr_call(&env, do_extra_free, NULL);
}
