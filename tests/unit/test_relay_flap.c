// SPDX-License-Identifier: GPL-2.0
/*
 * A link that goes away and comes back (issue 20): the relay's data-plane
 * sockets carry TCP_USER_TIMEOUT and keepalive settings, and a route whose
 * peer agent is not reachable yet keeps trying to connect (a fresh SYN
 * every RELAY_CONNECT_RETRY_MS) until its setup timeout, rather than
 * resetting the client at the first refusal. The link flap itself, with
 * its figure, is tests/vm/t-linkflap.sh.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_relay_util.h"

static struct tr_env env;

static void fini(void)
{
	tr_teardown(&env);
}

static void nop(void *arg)
{
	(void)arg;
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	cr_assert_eq(getsockopt(fd, level, name, &v, &len), 0, "getsockopt: %s",
		     strerror(errno));
	return v;
}

static void echo(int fd, const char *msg)
{
	char buf[64];
	size_t len = strlen(msg);

	cr_assert_eq(tr_write_all(fd, msg, len), 0);
	cr_assert_eq(tr_read_full(fd, buf, len), (ssize_t)len, "echo lost");
	cr_assert_arr_eq(buf, msg, len);
}

/* Both ends' data-plane socket: a dead link is noticed in seconds. */
Test(relay_flap, peer_socket_timeouts, .fini = fini, .timeout = 60)
{
	int fd, i, side;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	cr_assert_eq(tr_send_op(fd, 'E', 0, 0), 0);
	echo(fd, "up");
	for (i = 0; i < 100 && !(tr_sessions[0].ups && tr_sessions[1].ups); i++)
		usleep(20000);
	tr_call(&env, nop, NULL);
	for (side = 0; side < 2; side++) {
		int pfd = tr_sessions[side].fd;

		cr_assert(pfd >= 0, "node %d: no session", side + 1);
		cr_expect_eq(opt(pfd, IPPROTO_TCP, TCP_USER_TIMEOUT), RELAY_USER_TIMEOUT_MS,
			     "node %d: TCP_USER_TIMEOUT", side + 1);
		cr_expect_eq(opt(pfd, SOL_SOCKET, SO_KEEPALIVE), 1, "node %d: SO_KEEPALIVE",
			     side + 1);
		cr_expect_eq(opt(pfd, IPPROTO_TCP, TCP_KEEPIDLE), RELAY_KEEPALIVE_IDLE_S,
			     "node %d: TCP_KEEPIDLE", side + 1);
		cr_expect_eq(opt(pfd, IPPROTO_TCP, TCP_KEEPINTVL), RELAY_KEEPALIVE_INTVL_S,
			     "node %d: TCP_KEEPINTVL", side + 1);
		cr_expect_eq(opt(pfd, IPPROTO_TCP, TCP_KEEPCNT), RELAY_KEEPALIVE_CNT,
			     "node %d: TCP_KEEPCNT", side + 1);
	}
	echo(fd, "still up");
	close(fd);
}

/*
 * The peer agent's address answers only after 1.2 s (a link coming back,
 * an agent restarting): until then every SYN is refused. A forwarder that
 * starts listening late stands for it and carries bytes to node 2's real
 * data-plane port.
 */
struct late {
	uint16_t port, to;
	unsigned int delay_ms;
};

static void *late_main(void *arg)
{
	struct late *l = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int ls, a, b, one = 1;

	usleep(l->delay_ms * 1000);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(l->port);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4))
		return NULL;
	a = accept(ls, NULL, NULL);
	close(ls);
	b = tr_connect(l->to);
	if (a < 0 || b < 0)
		return NULL;
	for (;;) {
		struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
		char buf[16384];
		ssize_t n;
		int i;

		if (poll(p, 2, 10000) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0 || tr_write_all(p[!i].fd, buf, n))
				goto out;
		}
	}
out:
	close(a);
	close(b);
	return NULL;
}

Test(relay_flap, connect_retried_until_peer_answers, .fini = fini, .timeout = 60)
{
	struct late l = { .port = tr_free_port(), .delay_ms = 1200 };
	pthread_t th;
	int fd;

	tr_setup(&env, TR_TLS13_AES128, true, false);
	l.to = env.n[1].dp_port;
	tr_set_node_dp_port(1, l.port);
	cr_assert_eq(tr_config(&env), 0);
	cr_assert_eq(pthread_create(&th, NULL, late_main, &l), 0);
	fd = tr_connect(env.route_port[TR_RT_DB1]);
	cr_assert(fd >= 0);
	cr_assert_eq(tr_send_op(fd, 'E', 0, 0), 0);
	/* Refused for 1.2 s, then the route must carry the connection. */
	echo(fd, "through a peer that answered late");
	close(fd);
	pthread_join(th, NULL);
}
