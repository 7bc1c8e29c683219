// SPDX-License-Identifier: GPL-2.0
/*
 * relay_node: a test driver for the relay (tests/vm/t-relay.sh, benchmarks).
 *
 *   relay_node agent  --config F --ca CA --cert C --key K [--stats F]
 *                     [--suite 0-3] [--software]
 *       One node's relay: the 3342 TLS listener (ALPN ine-dp/1), the
 *       plaintext data-plane listener and the routes of config F (JSON, see
 *       below). SIGHUP re-reads F (relay_apply_config); SIGUSR1 writes the
 *       stats file; SIGTERM writes it (with this process's CPU time) and exits.
 *   relay_node target --port P
 *       A target: 13-byte request (op, u64 size, u32 seed) then 'S' sink:
 *       answer the SHA-256 of the rest; 'G' send size bytes; 'E' echo;
 *       'R' reset.
 *   relay_node client --port P --op S|G|E|R [--size BYTES] [--marker]
 *                     [--random N] [--conns N] [--hold SECS]
 *       Runs one op through a route and checks the bytes; prints
 *       "ok <bytes> <seconds>". --marker fills the payload with a text
 *       marker (for a capture to look for). --hold: echo one byte, then
 *       wait for the relay to drop the connection; prints "reset".
 *   relay_node probe  --addr A --port P --db D --name N
 *       Speaks the route header to a plaintext data-plane port by hand and
 *       prints the reply status.
 *
 * Config (JSON): {"self":1, "nodes":[{"id":1,"name":"node1","addr":"10.77.0.1"}],
 *   "dbs":[{"id":1,"encryption":true}],
 *   "routes":[{"db":1,"port":7001,"peer":2,"target":"t1"}],
 *   "targets":[{"db":1,"name":"t1","addr":"127.0.0.1","port":6001}]}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "inenl/inenl.h"
#include "tls/listener.h"
#include "dp/relay.h"
#include "dp/route.h"
#include "tls/tls.h"

#define CHUNK (1 << 20)

static const char *opt_config, *opt_ca, *opt_cert, *opt_key, *opt_stats, *opt_addr;
static int opt_suite = -1, opt_software, opt_port, opt_marker, opt_random;
static int opt_conns = 1, opt_hold, opt_db;
static char opt_op = 'S';
static const char *opt_name = "t1";
static unsigned long long opt_size = 1 << 20;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "relay_node: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- agent ---- */

static struct relay *relay;
static struct listener *lis;
static struct inenl *nl;	/* ine.ko, when loaded */
static unsigned long long ine_reg_ok, ine_reg_fail;

/* Register data-plane sockets with ine.ko the way ined does. */
static void on_session(void *arg, const struct tls_conn *tc, int fd, uint32_t db,
		       uint32_t peer, enum relay_mode mode, bool up)
{
	static const uint8_t state[] = {
		[RELAY_MODE_SETUP] = INE_STATE_HANDSHAKING,
		[RELAY_MODE_OFFLOADED] = INE_STATE_OFFLOADED,
		[RELAY_MODE_SOFTWARE] = INE_STATE_SOFTWARE,
		[RELAY_MODE_PLAINTEXT] = INE_STATE_PLAINTEXT,
	};
	struct inenl_session_add a = {
		.fd = fd, .plane = INE_PLANE_DATA, .state = state[mode],
		.db_id = db, .peer_node_id = peer,
	};
	int rc;

	(void)arg;
	(void)tc;
	if (!nl)
		return;
	if (!up) {
		inenl_session_del(nl, 0, fd);
		return;
	}
	rc = inenl_session_add(nl, &a, NULL);
	if (rc) {
		ine_reg_fail++;
		syslog(LOG_WARNING, "ine.ko refused session (db %u, %s): %s %s", db,
		       relay_mode_str(mode), strerror(-rc), inenl_last_error(nl));
	} else {
		ine_reg_ok++;
	}
}

static int verify_node(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
		       long *peer_node_id)
{
	char cn[64] = "";

	(void)arg;
	(void)chain;
	if (plane != TLS_PLANE_DATA)
		return -EPROTO;
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn,
				  sizeof(cn));
	if (strncmp(cn, "node", 4) || atoi(cn + 4) <= 0)
		return -EACCES;
	*peer_node_id = atoi(cn + 4);
	return 0;
}

static SSL_CTX *load_ctx(bool server)
{
	static const char *const c12[2] = { "ECDHE-RSA-AES128-GCM-SHA256",
					    "ECDHE-RSA-AES256-GCM-SHA384" };
	static const char *const c13[2] = { "TLS_AES_128_GCM_SHA256",
					    "TLS_AES_256_GCM_SHA384" };
	struct tls_config cfg = { 0 };
	X509_STORE *st = X509_STORE_new();
	FILE *f;
	SSL_CTX *ctx;

	if (!(f = fopen(opt_cert, "r")) || !(cfg.cert = PEM_read_X509(f, NULL, NULL, NULL)))
		die("cannot read certificate %s", opt_cert);
	fclose(f);
	if (!(f = fopen(opt_key, "r")) || !(cfg.key = PEM_read_PrivateKey(f, NULL, NULL, NULL)))
		die("cannot read key %s", opt_key);
	fclose(f);
	if (X509_STORE_load_file(st, opt_ca) != 1)
		die("cannot read CA %s", opt_ca);
	cfg.trust = st;
	cfg.verify_peer = verify_node;
	cfg.accept_alpn = TLS_ALPN_BIT(TLS_ALPN_DP);
	ctx = tls_ctx_new(&cfg, server);
	if (!ctx)
		die("tls_ctx_new failed");
	if (opt_software)
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	if (!server && opt_suite >= 0 && opt_suite < 2) {
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_cipher_list(ctx, c12[opt_suite]);
	} else if (!server && opt_suite >= 2) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
		SSL_CTX_set_ciphersuites(ctx, c13[opt_suite - 2]);
	}
	X509_free(cfg.cert);
	EVP_PKEY_free(cfg.key);
	X509_STORE_free(st);
	return ctx;
}

static void jstr(char *dst, size_t n, json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	snprintf(dst, n, "%s", v ? v : "");
}

#define JINT(o, k) ((uint32_t)json_integer_value(json_object_get(o, k)))

static uint32_t self_id;
static char self_addr[ROUTE_ADDR_MAX];
static uint16_t self_dp, self_plain;
/* The members' addresses, for the listener (as daemon_relay.c does). */
static struct sockaddr_storage member_ss[64];
static size_t n_members;

static int load_config(void)
{
	struct relay_config c = { 0 };
	struct relay_config_node *nodes;
	struct relay_config_db *dbs;
	struct relay_config_route *rts;
	struct relay_config_target *tgs;
	json_error_t jerr;
	json_t *root = json_load_file(opt_config, 0, &jerr), *a, *o;
	char err[256];
	size_t i;
	int ret;

	if (!root) {
		fprintf(stderr, "relay_node: %s:%d: %s\n", opt_config, jerr.line, jerr.text);
		return -EINVAL;
	}
	c.self_node = self_id = JINT(root, "self");
	a = json_object_get(root, "nodes");
	nodes = calloc(json_array_size(a) + 1, sizeof(*nodes));
	json_array_foreach(a, i, o) {
		nodes[i].id = JINT(o, "id");
		jstr(nodes[i].name, sizeof(nodes[i].name), o, "name");
		jstr(nodes[i].addr, sizeof(nodes[i].addr), o, "addr");
		if (nodes[i].id == self_id)
			snprintf(self_addr, sizeof(self_addr), "%s", nodes[i].addr);
		if (n_members < sizeof(member_ss) / sizeof(member_ss[0])) {
			socklen_t sl;

			if (route_sockaddr(nodes[i].addr, 0, &member_ss[n_members], &sl) == 0)
				n_members++;
		}
	}
	c.nodes = nodes;
	c.n_nodes = json_array_size(a);
	a = json_object_get(root, "dbs");
	dbs = calloc(json_array_size(a) + 1, sizeof(*dbs));
	json_array_foreach(a, i, o) {
		dbs[i].id = JINT(o, "id");
		dbs[i].data_internode_encryption = json_is_true(json_object_get(o, "encryption"));
	}
	c.dbs = dbs;
	c.n_dbs = json_array_size(a);
	a = json_object_get(root, "routes");
	rts = calloc(json_array_size(a) + 1, sizeof(*rts));
	json_array_foreach(a, i, o) {
		rts[i].db = JINT(o, "db");
		rts[i].listen_port = JINT(o, "port");
		rts[i].peer_node = JINT(o, "peer");
		jstr(rts[i].target, sizeof(rts[i].target), o, "target");
	}
	c.routes = rts;
	c.n_routes = json_array_size(a);
	a = json_object_get(root, "targets");
	tgs = calloc(json_array_size(a) + 1, sizeof(*tgs));
	json_array_foreach(a, i, o) {
		tgs[i].db = JINT(o, "db");
		jstr(tgs[i].name, sizeof(tgs[i].name), o, "name");
		jstr(tgs[i].addr, sizeof(tgs[i].addr), o, "addr");
		tgs[i].port = JINT(o, "port");
	}
	c.targets = tgs;
	c.n_targets = json_array_size(a);
	ret = relay_apply_config(relay, &c, err, sizeof(err));
	if (ret)
		fprintf(stderr, "relay_node: config: %s\n", err);
	free(nodes);
	free(dbs);
	free(rts);
	free(tgs);
	json_decref(root);
	return ret;
}

static void write_stats(void)
{
	struct relay_stats s;
	struct rusage ru;
	char tmp[512];
	FILE *f;

	if (!opt_stats)
		return;
	relay_get_stats(relay, &s);
	getrusage(RUSAGE_SELF, &ru);
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt_stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "conns %u\nsetup %u\noffloaded %u\nsoftware %u\nplaintext %u\n"
		"ktls_tx %u\nktls_rx %u\nsessions_offloaded %llu\nsessions_software %llu\n"
		"sessions_plaintext %llu\nbytes_to_peer %llu\nbytes_from_peer %llu\n"
		"refused %llu\nresets %llu\ndisconnected %llu\ncpu_user %.3f\ncpu_sys %.3f\n",
		s.conns, s.setup, s.offloaded, s.software, s.plaintext, s.ktls_tx, s.ktls_rx,
		(unsigned long long)s.sessions_offloaded,
		(unsigned long long)s.sessions_software,
		(unsigned long long)s.sessions_plaintext,
		(unsigned long long)s.bytes_to_peer, (unsigned long long)s.bytes_from_peer,
		(unsigned long long)s.refused, (unsigned long long)s.resets,
		(unsigned long long)s.disconnected,
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if (nl) {
		struct inenl_totals t;

		if (!inenl_totals_get(nl, &t))
			fprintf(f, "ine_sessions %u\nine_offloaded %u\nine_software %u\n"
				"ine_plaintext %u\nine_added %llu\n", t.sessions, t.offloaded,
				t.software, t.plaintext, (unsigned long long)t.added);
		fprintf(f, "ine_reg_ok %llu\nine_reg_fail %llu\n", ine_reg_ok, ine_reg_fail);
	}
	fclose(f);
	rename(tmp, opt_stats);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	if (sig == SIGHUP)
		load_config();
	write_stats();
	if (sig == SIGTERM || sig == SIGINT)
		event_base_loopbreak(base);
}

static int run_agent(void)
{
	struct event_base *base = event_base_new();
	/* Emulated CPUs handshake ~50x slower: generous setup timeouts. */
	struct relay_hooks hooks = { .software_only = opt_software,
				     .setup_timeout_ms = 300000, .session = on_session };
	struct listener_opts lo = { .handshake_timeout_ms = 300000 };
	struct event *sig[4];
	static const int sigs[4] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	SSL_CTX *cctx, *sctx;
	int i;

	if (!opt_config || !opt_ca || !opt_cert || !opt_key)
		die("agent needs --config --ca --cert --key");
	signal(SIGPIPE, SIG_IGN);
	openlog("relay_node", LOG_PERROR | LOG_PID, LOG_DAEMON);
	cctx = load_ctx(false);
	sctx = load_ctx(true);
	if (inenl_open(&nl))
		syslog(LOG_NOTICE, "ine.ko not loaded: sessions not registered");
	relay = relay_new(base, cctx, &hooks);
	if (load_config())
		die("bad configuration %s", opt_config);
	self_dp = ROUTE_DP_PORT;
	self_plain = ROUTE_PLAIN_PORT;
	lis = listener_new(base, sctx, self_addr, self_dp, &lo);
	if (!lis || listener_set_handler(lis, RELAY_ALPN, relay_accept_tls, relay))
		die("cannot listen on %s:%u", self_addr, self_dp);
	listener_set_members(lis, member_ss, n_members);
	if (relay_listen_plain(relay, self_addr, self_plain))
		die("cannot listen on %s:%u", self_addr, self_plain);
	for (i = 0; i < 4; i++) {
		sig[i] = evsignal_new(base, sigs[i], on_signal, base);
		event_add(sig[i], NULL);
	}
	write_stats();
	event_base_dispatch(base);
	write_stats();
	for (i = 0; i < 4; i++)
		event_free(sig[i]);
	listener_free(lis);
	relay_free(relay);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
	inenl_close(nl);
	event_base_free(base);
	return 0;
}

/* ---- target ---- */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

/* Payload: a pseudo-random (or marker) block, chunk number stamped in. */
static uint8_t *block;

static void block_init(uint32_t seed)
{
	uint64_t s = seed | 1;
	size_t i;

	block = malloc(CHUNK);
	for (i = 0; i < CHUNK; i++) {
		if (opt_marker) {
			block[i] = "INE-PLAINTEXT-MARKER-"[i % 21];
			continue;
		}
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		block[i] = s >> 24;
	}
}

static void stamp(uint8_t *buf, uint64_t idx)
{
	if (!opt_marker)
		memcpy(buf, &idx, sizeof(idx));
}

static void *target_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hdr[13], *buf = malloc(CHUNK), dg[32];
	struct linger lg = { 1, 0 };
	unsigned long long size = 0;
	unsigned int dl;
	uint64_t idx = 0;
	EVP_MD_CTX *md;
	ssize_t n;
	int i;

	if (read_full(fd, hdr, 13) != 13)
		goto out;
	for (i = 0; i < 8; i++)
		size = size << 8 | hdr[1 + i];
	switch (hdr[0]) {
	case 'S':
		md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((n = read(fd, buf, CHUNK)) > 0)
			EVP_DigestUpdate(md, buf, n);
		EVP_DigestFinal_ex(md, dg, &dl);
		EVP_MD_CTX_free(md);
		if (n == 0)
			write_all(fd, dg, 32);
		break;
	case 'G':
		while (size) {
			size_t c = size < CHUNK ? size : CHUNK;

			memcpy(buf, block, CHUNK);
			stamp(buf, idx++);
			if (write_all(fd, buf, c))
				break;
			size -= c;
		}
		break;
	case 'E':
		while ((n = read(fd, buf, CHUNK)) > 0)
			if (write_all(fd, buf, n))
				break;
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, CHUNK) > 0)
			;
		break;
	case 'R':
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static int run_target(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(opt_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	signal(SIGPIPE, SIG_IGN);
	block_init(7);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1024))
		die("target: cannot listen on port %d: %s", opt_port, strerror(errno));
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		pthread_create(&t, NULL, target_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

/* ---- client ---- */

static int connect_port(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (route_sockaddr(addr ? addr : "127.0.0.1", port, &ss, &sl))
		die("bad address");
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl))
		die("connect %s:%d: %s", addr ? addr : "127.0.0.1", port, strerror(errno));
	return fd;
}

static void send_op(int fd, char op, unsigned long long size)
{
	uint8_t h[13] = { (uint8_t)op };
	int i;

	for (i = 0; i < 8; i++)
		h[1 + i] = size >> (56 - 8 * i);
	if (write_all(fd, h, 13))
		die("send request: %s", strerror(errno));
}

static void client_sink(int fd)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(CHUNK), want[32], got[32];
	unsigned long long left = opt_size;
	uint64_t idx = 0, rs = 12345;
	unsigned int dl;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (left) {
		size_t c = left < CHUNK ? left : CHUNK, off = 0;

		memcpy(buf, block, CHUNK);
		stamp(buf, idx++);
		EVP_DigestUpdate(md, buf, c);
		while (off < c) {
			size_t w = c - off;

			if (opt_random) {
				rs ^= rs << 13;
				rs ^= rs >> 7;
				rs ^= rs << 17;
				w = rs % 4000 + 1;
				if (w > c - off)
					w = c - off;
			}
			if (write_all(fd, buf + off, w))
				die("write: %s", strerror(errno));
			off += w;
		}
		left -= c;
	}
	EVP_DigestFinal_ex(md, want, &dl);
	shutdown(fd, SHUT_WR);
	if (read_full(fd, got, 32) != 32 || memcmp(got, want, 32))
		die("sink digest mismatch: payload corrupted");
	free(buf);
	EVP_MD_CTX_free(md);
}

static void client_gen(int fd)
{
	uint8_t *buf = malloc(CHUNK), *exp = malloc(CHUNK);
	unsigned long long got = 0;
	uint64_t idx = 0;
	ssize_t n;

	while (got < opt_size) {
		size_t c = opt_size - got < CHUNK ? opt_size - got : CHUNK;

		n = read_full(fd, buf, c);
		if (n != (ssize_t)c)
			die("short stream at %llu: %zd", got, n);
		memcpy(exp, block, CHUNK);
		stamp(exp, idx++);
		if (memcmp(buf, exp, c))
			die("stream corrupted in chunk %llu", (unsigned long long)idx - 1);
		got += c;
	}
	if (read(fd, buf, 1) != 0)
		die("expected EOF after %llu bytes", got);
	free(buf);
	free(exp);
}

static int run_client(void)
{
	int *fds = calloc(opt_conns, sizeof(int)), i;
	char b[4096], r[4096];
	double t0 = now();

	signal(SIGPIPE, SIG_IGN);
	block_init(7);
	if (opt_hold) {
		struct pollfd p;
		ssize_t n;

		fds[0] = connect_port(NULL, opt_port);
		send_op(fds[0], 'E', 0);
		if (write_all(fds[0], "h", 1) || read_full(fds[0], b, 1) != 1)
			die("hold: no echo");
		printf("up\n");
		fflush(stdout);
		p = (struct pollfd){ fds[0], POLLIN, 0 };
		if (poll(&p, 1, opt_hold * 1000) != 1)
			die("hold: connection not dropped within %d s", opt_hold);
		n = read(fds[0], b, 1);
		printf("%s\n", n < 0 && errno == ECONNRESET ? "reset" : n == 0 ? "eof" : "data");
		return 0;
	}
	for (i = 0; i < opt_conns; i++) {
		fds[i] = connect_port(NULL, opt_port);
		send_op(fds[i], opt_op, opt_size);
	}
	switch (opt_op) {
	case 'S':
		client_sink(fds[0]);
		break;
	case 'G':
		client_gen(fds[0]);
		break;
	case 'R':
		if (read(fds[0], b, 1) >= 0 || errno != ECONNRESET)
			die("expected a reset");
		break;
	case 'E':
		/* all connections at once: write, half-close, read back, EOF */
		for (i = 0; i < (int)sizeof(b); i++)
			b[i] = "0123456789abcdef"[i % 16];
		for (i = 0; i < opt_conns; i++) {
			b[0] = 'A' + i % 26;
			if (write_all(fds[i], b, sizeof(b)) || shutdown(fds[i], SHUT_WR))
				die("echo %d: write: %s", i, strerror(errno));
		}
		for (i = 0; i < opt_conns; i++) {
			ssize_t n;

			b[0] = 'A' + i % 26;
			n = read_full(fds[i], r, sizeof(r));
			if (n != sizeof(r))
				die("echo %d: %zd bytes back (%s)", i, n,
				    n < 0 ? strerror(-n) : "early EOF");
			if (memcmp(r, b, sizeof(b)))
				die("echo %d: wrong data back", i);
			if (read(fds[i], r, 1) != 0)
				die("echo %d: no EOF after half-close", i);
		}
		break;
	default:
		die("unknown op %c", opt_op);
	}
	printf("ok %llu %.3f\n", opt_op == 'E' ? 4096ull * opt_conns : opt_size, now() - t0);
	return 0;
}

static int run_probe(void)
{
	struct route_header h = { .db = opt_db };
	uint8_t b[ROUTE_REPLY_MAX], st;
	char msg[256];
	size_t have = 0;
	int fd, n;

	snprintf(h.name, sizeof(h.name), "%s", opt_name);
	n = route_header_encode(&h, b, sizeof(b));
	fd = connect_port(opt_addr, opt_port);
	if (n < 0 || write_all(fd, b, n))
		die("probe: send");
	while (have < route_reply_need(b, have)) {
		ssize_t r = read(fd, b + have, route_reply_need(b, have) - have);

		if (r <= 0)
			die("probe: no reply");
		have += r;
	}
	if (route_reply_parse(b, have, &st, msg) <= 0)
		die("probe: bad reply");
	printf("%s: %s\n", route_status_str(st), msg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", 1, 0, 'c' }, { "ca", 1, 0, 'a' }, { "cert", 1, 0, 'e' },
		{ "key", 1, 0, 'k' }, { "stats", 1, 0, 's' }, { "suite", 1, 0, 'u' },
		{ "software", 0, 0, 'w' }, { "port", 1, 0, 'p' }, { "op", 1, 0, 'o' },
		{ "size", 1, 0, 'z' }, { "marker", 0, 0, 'm' }, { "random", 0, 0, 'r' },
		{ "conns", 1, 0, 'n' }, { "hold", 1, 0, 'h' }, { "addr", 1, 0, 'A' },
		{ "db", 1, 0, 'd' }, { "name", 1, 0, 'N' }, { 0, 0, 0, 0 }
	};
	const char *mode = argc > 1 ? argv[1] : "";
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': opt_config = optarg; break;
		case 'a': opt_ca = optarg; break;
		case 'e': opt_cert = optarg; break;
		case 'k': opt_key = optarg; break;
		case 's': opt_stats = optarg; break;
		case 'u': opt_suite = atoi(optarg); break;
		case 'w': opt_software = 1; break;
		case 'p': opt_port = atoi(optarg); break;
		case 'o': opt_op = optarg[0]; break;
		case 'z': opt_size = strtoull(optarg, NULL, 0); break;
		case 'm': opt_marker = 1; break;
		case 'r': opt_random = 1; break;
		case 'n': opt_conns = atoi(optarg); break;
		case 'h': opt_hold = atoi(optarg); break;
		case 'A': opt_addr = optarg; break;
		case 'd': opt_db = atoi(optarg); break;
		case 'N': opt_name = optarg; break;
		default: die("bad option");
		}
	}
	if (!strcmp(mode, "agent"))
		return run_agent();
	if (!strcmp(mode, "target"))
		return run_target();
	if (!strcmp(mode, "client"))
		return run_client();
	if (!strcmp(mode, "probe"))
		return run_probe();
	die("usage: relay_node agent|target|client|probe [options] (see the source)");
}
