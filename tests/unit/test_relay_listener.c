// SPDX-License-Identifier: GPL-2.0
/* The 3342 listener: slowloris bounds, and the relay's peer identity check. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

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

/* A client that never speaks is dropped after the handshake timeout. */
Test(listener, handshake_timeout, .fini = fini, .timeout = 30)
{
	struct listener_opts o = { .max_handshakes = 2, .handshake_timeout_ms = 400 };
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
	cr_assert_eq(lst.accepted, 2, "the third waits in the backlog");
	for (i = 0; i < 3; i++) {
		struct pollfd p = { fd[i], POLLIN, 0 };

		cr_assert_eq(poll(&p, 1, 3000), 1, "silent client %d not dropped", i);
		cr_assert(read(fd[i], &b, 1) <= 0);
		close(fd[i]);
	}
	tr_call(&env, do_lstats, NULL);
	cr_assert_eq(lst.timed_out, 3);
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
	tr_send_op(fd, 'E', 0, 0);
	n = read(fd, b, sizeof(b));
	cr_assert(n < 0 && errno == ECONNRESET, "must be refused, got %zd", n);
	close(fd);
	tr_stats(&env, 1, &s1);
	cr_assert_eq(s1.bytes_to_peer + s1.bytes_from_peer, 0);
	tr_stats(&env, 0, &s0);
	cr_assert_eq(s0.resets, 2, "both the route conn and the one it reached dropped");
}
