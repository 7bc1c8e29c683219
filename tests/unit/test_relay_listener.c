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
		fd[i] = tr_connect(extra_port);
		cr_assert(fd[i] >= 0);
	}
	usleep(150000);
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

			fd[k] = tr_connect(extra_port);
			cr_assert(fd[k] >= 0);
			cr_assert(tr_write_all(fd[k], "\x16", 1) == 0);
		}
		usleep(100000);
		ms = member_echo();
		worst = ms > worst ? ms : worst;
	}
	cr_assert_lt(worst, 1000, "a member waited %ld ms behind stalled connections", worst);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.handed_off, 4);
	cr_assert_geq(lst.evicted, 32, "40 stalled into 8 places: %llu evicted",
		      (unsigned long long)lst.evicted);
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

/* A whole ClientHello earns the full handshake time, and when every place
 * holds one, accepting pauses instead of dropping anyone. */
Test(listener, whole_hello_keeps_its_place, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 2, .handshake_timeout_ms = 1500,
				   .hello_timeout_ms = 300 };
	uint8_t ch[4096];
	size_t n = client_hello(ch, sizeof(ch));
	int fd[3], i;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	extra_port = tr_free_port();
	tr_call(&env, do_extra, &o);
	for (i = 0; i < 2; i++) {
		fd[i] = tr_connect(extra_port);
		cr_assert(fd[i] >= 0);
		cr_assert(tr_write_all(fd[i], ch, n) == 0);
	}
	usleep(600000);		/* past the hello deadline */
	fd[2] = tr_connect(extra_port);
	cr_assert(fd[2] >= 0);
	usleep(200000);
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.hello_timed_out, 0, "a whole ClientHello got the short deadline");
	cr_assert_eq(lst.handshaking, 2);
	cr_assert_eq(lst.evicted, 0);
	cr_assert_eq(lst.paused, 1);
	cr_assert_eq(lst.accepted, 2, "the third waits in the backlog");
	for (i = 0; i < 3; i++) {
		struct pollfd p = { fd[i], POLLIN, 0 };
		char b[64];

		cr_assert_eq(poll(&p, 1, 5000), 1, "client %d not dropped", i);
		while (read(fd[i], b, sizeof(b)) > 0)
			;
		close(fd[i]);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.timed_out, 2);
	cr_assert_eq(lst.hello_timed_out, 1, "the third, silent, after resuming");
	tr_call(&env, do_extra_free, NULL);
}
