// SPDX-License-Identifier: GPL-2.0
/* The broker live (issue 20): a daemon and broker on the relay fixture's
 * loop; toggles during setups, the software pump, how streams end, the
 * socket's limits.  The wire format and allowlist: test_broker.c. */
#include <errno.h>
#include <string.h>
#include <criterion/criterion.h>

#include "dp/broker.h"

static int enc(uint8_t op, uint32_t node, uint32_t db, const char *name, uint8_t *buf)
{
	struct broker_req r = { .op = op, .node = node, .db = db };

	snprintf(r.name, sizeof(r.name), "%s", name);
	return broker_req_encode(&r, buf, BROKER_REQ_MAX);
}

/* ---- the broker live: a daemon + broker on the relay fixture's loop ----
 *
 * Node 1 is this agent (daemon + broker); node 2 is either the fixture's
 * real relay node (TLS on its dp_port, targets of test_relay_util.h) or a
 * "slow peer": sockets that accept and never answer, on a loopback address
 * of its own so that its plaintext port 3343 is ours alone.
 */
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/ssl.h>

#include <ine/ine.h>
#include "daemon/daemon.h"
#include "dp/broker_internal.h"
#include "dp/route.h"
#include "test_relay_util.h"

static struct {
	struct tr_env e;
	char dir[64], sock[128];
	struct daemon *d;
	struct broker *b;
	int rc;
	bool enc;
	char node2[64];		/* node 2's address in the configuration */
	int ctx_calls;
	clockid_t loop_clk;
} B;

/* Options for the next bt_setup (bt_setup clears B, not these). */
static gid_t bt_gid;
static uint64_t bt_record_limit;

static SSL_CTX *bt_ctx_new(void *arg)
{
	(void)arg;
	B.ctx_calls++;
	SSL_CTX_up_ref(B.e.n[0].cctx);
	return B.e.n[0].cctx;
}

static void do_apply(void *arg)
{
	char buf[1024], err[CONFIG_ERR_MAX] = "";
	struct config *c = NULL;
	json_error_t je;
	json_t *j;

	(void)arg;
	snprintf(buf, sizeof(buf),
		 "{\"version\": %llu, \"cluster\": {\"id\": \"c\", \"name\": \"c\"},"
		 " \"nodes\": [{\"uid\": 1, \"name\": \"node1\", \"address\": \"127.0.0.1\"},"
		 "             {\"uid\": 2, \"name\": \"node2\", \"address\": \"%s\"}],"
		 " \"bdbs\": [{\"uid\": 1, \"name\": \"db1\", \"data_internode_encryption\": %s,"
		 "   \"targets\": [{\"name\": \"t1\", \"node\": 2, \"address\": \"127.0.0.1:6379\"}]}]}",
		 (unsigned long long)daemon_config(B.d)->version + 1, B.node2, B.enc ? "true" : "false");
	j = json_loads(buf, 0, &je);
	B.rc = j ? config_from_json(j, &c, err, sizeof(err)) : -EINVAL;
	json_decref(j);
	if (!B.rc)
		B.rc = daemon_config_apply(B.d, c, err, sizeof(err));
	if (B.rc)
		cr_log_error("config: %s", err);
}

/* The db's encryption: applied on the loop thread (a toggle). */
static void bt_set_enc(bool enc)
{
	B.enc = enc;
	tr_call(&B.e, do_apply, NULL);
	cr_assert_eq(B.rc, 0);
}

static void do_start(void *arg)
{
	char err[CONFIG_ERR_MAX] = "";
	struct broker_opts o = { .path = B.sock, .ctx_new = bt_ctx_new, .sock_gid = bt_gid,
				 .record_limit = bt_record_limit };

	(void)arg;
	pthread_getcpuclockid(pthread_self(), &B.loop_clk);
	B.rc = daemon_new(B.e.base, B.dir, &B.d, err, sizeof(err));
	if (B.rc) {
		cr_log_error("daemon_new: %s", err);
		return;
	}
	daemon_set_self(B.d, 1);
	do_apply(NULL);
	if (!B.rc)
		B.rc = broker_new(B.d, &o, &B.b);
}

static void do_stop(void *arg)
{
	(void)arg;
	broker_free(B.b);
	daemon_free(B.d);
	B.d = NULL;
}

/* node2: "" = the fixture's relay node 2. */
static void bt_setup(const char *node2, bool enc)
{
	memset(&B, 0, sizeof(B));
	tr_setup(&B.e, TR_TLS13_AES128, true, true);
	snprintf(B.dir, sizeof(B.dir), "/tmp/ine-broker-XXXXXX");
	cr_assert(mkdtemp(B.dir));
	snprintf(B.sock, sizeof(B.sock), "%s/b.sock", B.dir);
	if (*node2)
		snprintf(B.node2, sizeof(B.node2), "%s", node2);
	else
		snprintf(B.node2, sizeof(B.node2), "127.0.0.1:%u", B.e.n[1].dp_port);
	B.enc = enc;
	tr_call(&B.e, do_start, NULL);
	cr_assert_eq(B.rc, 0, "broker start: %s", strerror(-B.rc));
	setenv("INE_BROKER_SOCKET", B.sock, 1);
}

static void bt_teardown(void)
{
	char cmd[96];

	tr_call(&B.e, do_stop, NULL);
	tr_teardown(&B.e);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", B.dir);
	if (system(cmd))
		fprintf(stderr, "cleanup failed\n");
}

/* A non-blocking listening socket nobody accepts from unless the test
 * does (the kernel completes connects). */
static int bt_listen(const char *ip, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	cr_assert(fd >= 0);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s:%u: %s", ip,
		     port, strerror(errno));
	cr_assert_eq(listen(fd, 512), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	if (bound)
		*bound = ntohs(sa.sin_port);
	return fd;
}

/* A request on a fresh broker connection (not waiting for the reply). */
static int bt_request(uint32_t node, uint32_t db, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t buf[BROKER_REQ_MAX];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int n = enc(BROKER_OP_CONNECT, node, db, name, buf);

	cr_assert(strlen(B.sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, B.sock, strlen(B.sock) + 1);
	cr_assert(fd >= 0 && n > 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(send(fd, buf, (size_t)n, 0), n);
	return fd;
}

/* Send a request on an already connected socket. */
static int bt_request_on(int fd, uint32_t node, uint32_t db, const char *name)
{
	uint8_t buf[BROKER_REQ_MAX];
	int n = enc(BROKER_OP_CONNECT, node, db, name, buf);

	return n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO;
}

struct bt_reply { int err, mode, fd; };

/* Wait up to ms for the reply: 0, or -ETIMEDOUT / -ECONNRESET (no reply). */
static int bt_reply(int fd, int ms, struct bt_reply *r)
{
	uint8_t buf[BROKER_REPLY_MAX];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct cmsghdr *ch;
	uint32_t e;
	ssize_t n;

	r->fd = -1;
	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < BROKER_REPLY_FIXED)
		return -ECONNRESET;
	for (ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_type == SCM_RIGHTS)
			memcpy(&r->fd, CMSG_DATA(ch), sizeof(int));
	memcpy(&e, buf + 6, 4);
	r->err = (int)ntohl(e);
	r->mode = buf[5];
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* How many connections are waiting in lfd's accept queue (accepting them,
 * held open in keep[]). */
static int bt_drain(int lfd, int *keep, int *nkeep, int max)
{
	int fd;

	while (*nkeep < max && (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		keep[(*nkeep)++] = fd;
	return *nkeep;
}

#define BT_N 100

/* How many of fds have their reply waiting (not reading it). */
static int bt_answered(const int *fds, int n)
{
	struct pollfd p[BT_N];
	int k = 0;

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, (nfds_t)n, 0) > 0)
		for (int i = 0; i < n; i++)
			k += !!(p[i].revents & POLLIN);
	return k;
}

/*
 * Issue 20: a config change freed the broker's TLS context under
 * connections still in B_CONNECT (tls_conn_new(NULL): ined crashed), and
 * connections not yet live were left alone by a toggle (they would go live
 * in the old mode).  100 concurrent connects to a slow peer, a toggle off
 * halfway through, a toggle back on once all are in setup: the agent stays
 * up and answers every request with an error, none with a socket.
 */
Test(broker_live, toggle_during_many_connects)
{
	char ip[32];
	uint16_t port;
	int tls_l, plain_l, keep[2 * BT_N], nkeep = 0, fds[BT_N], i, errs = 0;
	int pkeep[BT_N], npkeep = 0, nplain = 0;
	long long t0;
	struct bt_reply r;

	snprintf(ip, sizeof(ip), "127.88.%d.1", 1 + getpid() % 250);
	tls_l = bt_listen(ip, 0, &port);
	plain_l = bt_listen(ip, ROUTE_PLAIN_PORT, NULL);
	snprintf(ip + strlen(ip), sizeof(ip) - strlen(ip), ":%u", port);
	bt_setup(ip, true);
	for (i = 0; i < BT_N; i++)
		fds[i] = bt_request(2, 1, "t1");
	t0 = now_ms();
	while (bt_drain(tls_l, keep, &nkeep, BT_N) < BT_N / 2 && now_ms() - t0 < 5000)
		usleep(200);
	bt_set_enc(false);	/* halfway: some are in B_CONNECT now */
	/* Until every request is either answered (the ones set up before the
	 * toggle fail at it) or connected to the plaintext peer (the rest). */
	while ((bt_drain(tls_l, keep, &nkeep, 2 * BT_N), nplain = bt_drain(plain_l, pkeep,
	       &npkeep, BT_N)) + bt_answered(fds, BT_N) < BT_N && now_ms() - t0 < 20000)
		usleep(1000);
	bt_set_enc(true);
	for (i = 0; i < BT_N; i++) {
		cr_assert_eq(bt_reply(fds[i], 3000, &r), 0,
			     "request %d: no answer (agent dead or the toggle left it waiting)", i);
		cr_expect_lt(r.err, 0, "request %d went live (mode %d) across a toggle", i, r.mode);
		cr_expect_eq(r.fd, -1, "request %d got a socket across a toggle", i);
		errs += r.err < 0;
		close(fds[i]);
	}
	cr_expect_eq(errs, BT_N);
	/* Still answering. */
	i = bt_request(2, 99, "t1");
	cr_assert_eq(bt_reply(i, 2000, &r), 0, "the agent stopped answering");
	cr_expect_eq(r.err, -ENOENT);
	close(i);
	cr_log_info("%d set up over TLS, %d over plaintext when toggled", nkeep, nplain);
	for (i = 0; i < nkeep; i++)
		close(keep[i]);
	for (i = 0; i < npkeep; i++)
		close(pkeep[i]);
	close(tls_l);
	close(plain_l);
	bt_teardown();
}

/*
 * Issue 20: a db switched to encrypted while its plaintext connect waits for
 * the peer's route reply must not be handed to the app in plaintext.
 */
Test(broker_live, toggle_on_never_goes_live_plaintext)
{
	uint8_t hdr[ROUTE_HDR_MAX], rep[ROUTE_REPLY_MAX];
	char ip[32];
	int plain_l, fd, pfd = -1, n;
	long long t0;
	struct bt_reply r;

	snprintf(ip, sizeof(ip), "127.89.%d.1", 1 + getpid() % 250);
	plain_l = bt_listen(ip, ROUTE_PLAIN_PORT, NULL);
	bt_setup(ip, false);
	fd = bt_request(2, 1, "t1");
	t0 = now_ms();
	while ((pfd = accept4(plain_l, NULL, NULL, SOCK_CLOEXEC)) < 0 && now_ms() - t0 < 3000)
		usleep(1000);
	cr_assert(pfd >= 0, "the broker did not connect to the plaintext port");
	cr_assert_gt(read(pfd, hdr, sizeof(hdr)), 0, "no route header");
	bt_set_enc(true);	/* the db is encrypted from now on */
	n = route_reply_encode(ROUTE_OK, "ok", rep, sizeof(rep));
	cr_assert_gt(n, 0);
	if (write(pfd, rep, (size_t)n) != n)
		cr_log_info("the agent already closed the plaintext connection");
	cr_assert_eq(bt_reply(fd, 3000, &r), 0, "no answer");
	cr_expect_eq(r.fd, -1, "got a socket in mode %d for an encrypted db", r.mode);
	cr_expect_lt(r.err, 0, "went live in mode %d after the db became encrypted", r.mode);
	if (r.fd >= 0)
		close(r.fd);
	close(fd);
	close(pfd);
	close(plain_l);
	bt_teardown();
}

/* Send the target server's op header (test_relay_util.h). */
static void bt_op(int fd, char op, uint64_t size)
{
	cr_assert_eq(tr_send_op(fd, op, size, 7), 0);
}

static double cpu_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Issue 20: the software pump kept its read events armed after the app's
 * EOF (and while a buffer was held), so the loop spun at 100 % CPU.  The
 * common pattern: ine_shutdown, then wait for the reply; the target takes
 * 1.5 s to answer.  The agent's loop thread must stay near idle (< 5 %: a
 * spinning loop gets its share of the CPUs, which on a busy host may be far
 * below 100 %; measured 0.246 s in 1.54 s at load 18 on 2 CPUs).
 */
Test(broker_live, software_pump_idle_after_shutdown)
{
	struct ine_info info;
	uint8_t sha[32];
	double c0, c1;
	long long t0, t1;
	int fd;

	bt_setup("", true);
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s: %s", ine_strerror(fd), ine_last_error());
	if (info.mode != INE_MODE_SOFTWARE)
		cr_skip_test("this host has kernel TLS: the software pump is not used");
	bt_op(fd, 'P', 1500);
	cr_assert_eq(ine_shutdown(fd), 0);
	c0 = cpu_s(B.loop_clk);
	t0 = now_ms();
	cr_expect_eq(tr_read_full(fd, sha, sizeof(sha)), (ssize_t)sizeof(sha), "no reply");
	c1 = cpu_s(B.loop_clk);
	t1 = now_ms();
	cr_log_info("agent loop: %.3f s CPU in %lld ms waiting for the reply", c1 - c0, t1 - t0);
	cr_expect_geq(t1 - t0, 1000, "the reply came too soon for the test to mean anything");
	cr_expect_lt(c1 - c0, (t1 - t0) / 1000.0 * 0.05,
		     "agent loop used %.3f s CPU in %lld ms: the pump spins", c1 - c0, t1 - t0);
	ine_close(fd);
	bt_teardown();
}

/* Read to the end: bytes read, and the last read()'s result (0 or -errno). */
static size_t bt_read_end(int fd, int *end)
{
	uint8_t buf[4096];
	size_t got = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	*end = n == 0 ? 0 : -errno;
	return got;
}

/*
 * Issue 20: in software mode a peer that ends without close_notify (here:
 * the target resets, the peer's relay resets the TLS connection) looked
 * like a clean EOF to the app.  Raw fd semantics (software mode): read()
 * returns 0 only after the peer's close_notify; anything else is an error.
 */
Test(broker_live, software_truncation_is_not_clean_eof)
{
	struct ine_info info;
	int fd, end;
	size_t got;

	bt_setup("", true);
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s: %s", ine_strerror(fd), ine_last_error());
	if (info.mode != INE_MODE_SOFTWARE)
		cr_skip_test("this host has kernel TLS: the software pump is not used");
	/* Clean: the target sends 100000 bytes and closes; its relay sends
	 * close_notify. */
	bt_op(fd, 'G', 100000);
	got = bt_read_end(fd, &end);
	cr_expect_eq(got, 100000);
	cr_expect_eq(end, 0, "clean end read as %s", strerror(-end));
	ine_close(fd);
	/* Truncated: the target resets. */
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s", ine_last_error());
	bt_op(fd, 'R', 0);
	got = bt_read_end(fd, &end);
	cr_expect_lt(end, 0, "a reset peer looked like a clean end (read() returned 0)");
	cr_log_info("truncated: %zu bytes, then %s", got, end ? strerror(-end) : "EOF");
	ine_close(fd);
	bt_teardown();
}

/* ine_read to the end: bytes, and the final result (0 or -errno). */
static size_t bt_ine_read_end(int fd, ssize_t *end)
{
	uint8_t buf[4096];
	size_t got = 0;
	ssize_t n;

	while ((n = ine_read(fd, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	*end = n;
	return got;
}

/* ine_read means the same in software mode: clean 0 (and 0 again), a cut
 * stream and the policy teardown are -ECONNRESET. */
Test(broker_live, software_ine_read_end)
{
	struct ine_info info;
	uint8_t b;
	ssize_t end;
	int fd;

	bt_setup("", true);
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s", ine_last_error());
	if (info.mode != INE_MODE_SOFTWARE)
		cr_skip_test("this host has kernel TLS: the software pump is not used");
	bt_op(fd, 'G', 50000);
	cr_expect_eq(bt_ine_read_end(fd, &end), 50000);
	cr_expect_eq(end, 0, "clean end: %s", strerror((int)-end));
	cr_expect_eq(ine_read(fd, &b, 1), 0, "0 again after the clean end");
	ine_close(fd);

	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0);
	bt_op(fd, 'R', 0);
	bt_ine_read_end(fd, &end);
	cr_expect_eq(end, -ECONNRESET, "reset peer: %zd", end);
	ine_close(fd);

	/* The policy teardown: the app must not take it for a clean end. */
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0);
	bt_op(fd, 'S', 0);
	bt_set_enc(false);
	bt_ine_read_end(fd, &end);
	cr_expect_eq(end, -ECONNRESET, "toggle teardown read as %zd", end);
	ine_close(fd);
	bt_teardown();
}

/* No SIGPIPE from libine: ine_write on a stream the agent ended. */
Test(broker_live, ine_write_no_sigpipe)
{
	struct ine_info info;
	uint8_t buf[16384] = { 0 };
	ssize_t n = 0;
	int fd, i;

	bt_setup("", true);
	signal(SIGPIPE, SIG_DFL);	/* the fixture ignores it */
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s", ine_last_error());
	bt_op(fd, 'S', 0);
	bt_set_enc(false);
	usleep(200 * 1000);
	for (i = 0; i < 1000 && (n = ine_write(fd, buf, sizeof(buf))) > 0; i++)
		;
	cr_expect_lt(n, 0, "ine_write still succeeds after the teardown");
	cr_expect(n == -EPIPE || n == -ECONNRESET, "ine_write: %s", strerror((int)-n));
	ine_close(fd);
	bt_teardown();
}

/* A fresh TLS context per setup: a rotated certificate is used by the
 * next connect (the broker used to keep one until a config change). */
Test(broker_live, tls_context_per_connect)
{
	int fd;

	bt_setup("", true);
	for (int i = 0; i < 2; i++) {
		fd = ine_connect(2, 1, "t1");
		cr_assert_geq(fd, 0, "ine_connect: %s", ine_last_error());
		ine_close(fd);
	}
	cr_expect_eq(B.ctx_calls, 2, "context built %d times for 2 connects", B.ctx_calls);
	bt_teardown();
}

/* The peer half-closes; the app still writes: the agent keeps its
 * reference, so a toggle still ends the connection. */
Test(broker_live, half_close_keeps_reference)
{
	uint8_t hdr[ROUTE_HDR_MAX], rep[ROUTE_REPLY_MAX], b[8];
	struct pollfd p;
	struct bt_reply r;
	char ip[32];
	int plain_l, fd, pfd = -1, n;
	long long t0;

	snprintf(ip, sizeof(ip), "127.90.%d.1", 1 + getpid() % 250);
	plain_l = bt_listen(ip, ROUTE_PLAIN_PORT, NULL);
	bt_setup(ip, false);
	fd = bt_request(2, 1, "t1");
	t0 = now_ms();
	while ((pfd = accept4(plain_l, NULL, NULL, SOCK_CLOEXEC)) < 0 && now_ms() - t0 < 3000)
		usleep(1000);
	cr_assert(pfd >= 0);
	cr_assert_gt(read(pfd, hdr, sizeof(hdr)), 0);
	n = route_reply_encode(ROUTE_OK, "ok", rep, sizeof(rep));
	cr_assert_eq(write(pfd, rep, (size_t)n), n);
	cr_assert_eq(bt_reply(fd, 3000, &r), 0);
	cr_assert_eq(r.err, 0);
	cr_assert_geq(r.fd, 0);
	shutdown(pfd, SHUT_WR);				/* the peer half-closes */
	cr_expect_eq(read(r.fd, b, sizeof(b)), 0);
	usleep(1200 * 1000);				/* the agent has seen RDHUP */
	cr_expect_eq(write(r.fd, "more", 4), 4, "the app can still write");
	cr_expect_eq(read(pfd, b, sizeof(b)), 4);
	bt_set_enc(true);
	p = (struct pollfd){ .fd = pfd, .events = POLLIN };
	cr_expect_eq(poll(&p, 1, 2000), 1, "the toggle did not end the connection: the agent "
		     "had dropped its reference at the peer's half-close");
	cr_expect_eq(read(pfd, b, sizeof(b)), 0);
	close(r.fd);
	close(fd);
	close(pfd);
	close(plain_l);
	bt_teardown();
}

/* ---- the socket: who may connect, and for how long ---- */

Test(broker_live, socket_mode)
{
	struct stat st;

	bt_gid = 0;
	bt_setup("", true);
	cr_assert_eq(stat(B.sock, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "no group: mode %o", st.st_mode & 0777);
	bt_teardown();
	bt_gid = 65534;
	bt_setup("", true);
	cr_assert_eq(stat(B.sock, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0660, "mode %o", st.st_mode & 0777);
	cr_expect_eq(st.st_gid, 65534);
	bt_teardown();
	bt_gid = 0;
}

/* A caller not on the allowlist is refused at accept, before it sends
 * anything (it used to hold its connection until it sent a request). */
Test(broker_live, refused_at_accept)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int st, pipefd[2];
	pid_t pid;
	int res[2] = { 0, 0 };

	bt_gid = 65534;
	bt_setup("", true);
	bt_gid = 0;
	chmod(B.dir, 0755);
	memcpy(sa.sun_path, B.sock, strlen(B.sock) + 1);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		struct bt_reply r = { 0 };
		int fd;

		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(2);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		res[0] = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		if (!res[0])
			res[1] = bt_reply(fd, 2000, &r) ? -ETIMEDOUT : r.err;
		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: %d", st);
	cr_assert_eq(read(pipefd[0], res, sizeof(res)), (ssize_t)sizeof(res));
	cr_expect_eq(res[0], 0, "group member could not connect: %s", strerror(-res[0]));
	cr_expect_eq(res[1], -EACCES, "not refused at accept: %s", strerror(-res[1]));
	bt_teardown();
}

Test(broker_live, request_timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bt_reply r;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	long long t0;

	bt_setup("", true);
	memcpy(sa.sun_path, B.sock, strlen(B.sock) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t0 = now_ms();
	cr_assert_eq(bt_reply(fd, (BROKER_REQUEST_TIMEOUT_S + 3) * 1000, &r), 0,
		     "a silent caller was held past %d s", BROKER_REQUEST_TIMEOUT_S + 3);
	cr_expect_eq(r.err, -ETIMEDOUT);
	cr_expect_geq(now_ms() - t0, BROKER_REQUEST_TIMEOUT_S * 1000 - 500);
	close(fd);
	bt_teardown();
}

Test(broker_live, pending_cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[BROKER_MAX_PENDING + 1], i;
	struct bt_reply r;

	bt_setup("", true);
	memcpy(sa.sun_path, B.sock, strlen(B.sock) + 1);
	for (i = 0; i <= BROKER_MAX_PENDING; i++) {
		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		if (i < BROKER_MAX_PENDING)
			continue;
	}
	/* The last one is over the cap: refused at once. */
	cr_assert_eq(bt_reply(fds[BROKER_MAX_PENDING], 2000, &r), 0,
		     "connection %d over the cap was held", BROKER_MAX_PENDING + 1);
	cr_expect_eq(r.err, -EBUSY);
	cr_expect_eq(bt_reply(fds[0], 100, &r), -ETIMEDOUT, "the first ones are waiting");
	for (i = 0; i <= BROKER_MAX_PENDING; i++)
		close(fds[i]);
	/* Slots come back: a request goes through. */
	usleep(100 * 1000);
	i = bt_request(2, 99, "t1");
	cr_assert_eq(bt_reply(i, 2000, &r), 0);
	cr_expect_eq(r.err, -ENOENT);
	close(i);
	bt_teardown();
}

static struct broker *second;

static void do_second(void *arg)
{
	struct broker_opts o = { .path = B.sock, .ctx_new = bt_ctx_new };

	(void)arg;
	B.rc = broker_new(B.d, &o, &second);
}

static void do_second_free(void *arg)
{
	(void)arg;
	broker_free(second);
	second = NULL;
}

/* A second agent must not unlink a socket a live one answers on. */
Test(broker_live, live_socket_not_taken_over)
{
	struct bt_reply r;
	int fd;

	bt_setup("", true);
	tr_call(&B.e, do_second, NULL);
	cr_expect_eq(B.rc, -EADDRINUSE, "broker_new on a live socket: %d", B.rc);
	if (!B.rc)
		tr_call(&B.e, do_second_free, NULL);
	fd = bt_request(2, 99, "t1");
	cr_assert_eq(bt_reply(fd, 2000, &r), 0, "the first agent lost its socket");
	cr_expect_eq(r.err, -ENOENT);
	close(fd);
	bt_teardown();
}

/* Software pump at the record limit: what it holds is sent, then
 * close_notify, then the app sees a cut stream (never a clean end). */
Test(broker_live, software_record_limit)
{
	struct ine_info info;
	uint8_t buf[16384] = { 0 };
	ssize_t n = 0, end;
	int fd, i;

	bt_record_limit = 20;
	bt_setup("", true);
	bt_record_limit = 0;
	fd = ine_connect_info(2, 1, "t1", &info);
	cr_assert_geq(fd, 0, "ine_connect: %s", ine_last_error());
	if (info.mode != INE_MODE_SOFTWARE)
		cr_skip_test("this host has kernel TLS: the software pump is not used");
	bt_op(fd, 'S', 0);
	for (i = 0; i < 4000 && (n = ine_write(fd, buf, sizeof(buf))) > 0; i++)
		;
	cr_expect_lt(n, 0, "64 MiB written past a limit of 20 records");
	bt_ine_read_end(fd, &end);
	cr_expect_eq(end, -ECONNRESET, "after the limit: %zd", end);
	ine_close(fd);
	bt_teardown();
}

/* Out of fds, the broker must pause accepting, not spin on a readable
 * listening socket; afterwards it serves again. */
Test(broker_live, emfile_does_not_spin)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit rl, low;
	struct bt_reply r;
	int fds[4096], n = 0, c, fd;
	double c0, c1;

	bt_setup("", true);
	memcpy(sa.sun_path, B.sock, strlen(B.sock) + 1);
	c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert(c >= 0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = 256;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 4096 && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	c0 = cpu_s(B.loop_clk);
	usleep(1000 * 1000);
	c1 = cpu_s(B.loop_clk);
	while (n)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &rl);
	cr_log_info("agent loop out of fds: %.3f s CPU in 1 s", c1 - c0);
	cr_expect_lt(c1 - c0, 0.05, "agent loop used %.3f s CPU in 1 s out of fds: accept spins",
		     c1 - c0);
	cr_assert_eq(bt_request_on(c, 2, 99, "t1"), 0);
	cr_assert_eq(bt_reply(c, 3000, &r), 0, "not served after fds came back");
	cr_expect_eq(r.err, -ENOENT);
	close(c);
	bt_teardown();
}
