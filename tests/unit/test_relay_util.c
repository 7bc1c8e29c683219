// SPDX-License-Identifier: GPL-2.0
/* Relay test fixture: see test_relay_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "test_relay_util.h"
#include "tls/tls.h"

const char *const tr_suite_name[TR_NSUITES] = {
	"TLS1.2 ECDHE-RSA-AES128-GCM-SHA256", "TLS1.2 ECDHE-RSA-AES256-GCM-SHA384",
	"TLS1.3 TLS_AES_128_GCM_SHA256", "TLS1.3 TLS_AES_256_GCM_SHA384",
};

static pthread_t loop_thread;
static atomic_int last_errno = -1;
static int target_lfd = -1;
static pthread_t target_thread;

/* ---- certificates (in memory, one CA per setup) ---- */

static EVP_PKEY *ca_key;
static X509 *ca_cert;

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
		       EVP_PKEY *ikey, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	static long serial = 1;

	cr_assert(x && n);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"ine", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage,
					  "serverAuth,clientAuth");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	cr_assert(X509_sign(x, ikey ? ikey : key, EVP_sha256()));
	X509_NAME_free(n);
	return x;
}

static const char *const suite_cipher[TR_NSUITES] = {
	"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
};

/* Stand-in for the PKI's verifier: node id from CN "node<N>". */
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

static SSL_CTX *make_ctx(bool server, const char *cn, int suite)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509_STORE *trust = X509_STORE_new();
	struct tls_config cfg = { 0 };
	SSL_CTX *ctx;

	cr_assert(key && trust);
	X509_STORE_add_cert(trust, ca_cert);
	cfg.cert = make_cert(key, cn, ca_cert, ca_key, false);
	cfg.key = key;
	cfg.trust = trust;
	cfg.verify_peer = verify_node;
	cfg.accept_alpn = TLS_ALPN_BIT(TLS_ALPN_DP);
	ctx = tls_ctx_new(&cfg, server);
	cr_assert(ctx, "tls_ctx_new");
	if (suite >= 0) {
		/* the client picks the suite under test; the server takes all four */
		if (suite <= TR_TLS12_AES256) {
			SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
			SSL_CTX_set_cipher_list(ctx, suite_cipher[suite]);
		} else {
			SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
			SSL_CTX_set_ciphersuites(ctx, suite_cipher[suite]);
		}
	}
	X509_free(cfg.cert);
	X509_STORE_free(trust);
	EVP_PKEY_free(key);
	return ctx;
}

/* ---- loop thread ---- */

static void *loop_main(void *arg)
{
	struct tr_env *e = arg;

	event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct call {
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

/* Calls reach the loop thread through a pipe (no libevent locking needed). */
static int call_pipe[2] = { -1, -1 };
static struct event *call_ev;

static void on_call(evutil_socket_t fd, short what, void *arg)
{
	struct call *c;

	(void)what;
	(void)arg;
	if (read(fd, &c, sizeof(c)) != sizeof(c))
		return;
	c->fn(c->arg);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void tr_call(struct tr_env *e, void (*fn)(void *), void *arg)
{
	struct call c = { fn, arg, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };

	struct call *p = &c;

	(void)e;
	cr_assert(write(call_pipe[1], &p, sizeof(p)) == sizeof(p));
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
}

struct stats_arg { struct tr_env *e; int node; struct relay_stats *st; };

static void do_stats(void *arg)
{
	struct stats_arg *a = arg;

	relay_get_stats(a->e->n[a->node].r, a->st);
}

void tr_stats(struct tr_env *e, int node, struct relay_stats *st)
{
	struct stats_arg a = { e, node, st };

	tr_call(e, do_stats, &a);
}

/* ---- target server ---- */

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void tr_prng_fill(uint64_t *s, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 7;
		*s ^= *s << 17;
		buf[i] = *s >> 24;
	}
}

static void sink(int fd)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[65536], dg[32];
	unsigned int dl;
	ssize_t n;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, n);
	EVP_DigestFinal_ex(md, dg, &dl);
	EVP_MD_CTX_free(md);
	if (n == 0)
		tr_write_all(fd, dg, sizeof(dg));
}

static void *target_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t hdr[13], buf[65536];
	struct linger lg = { 1, 0 };
	uint64_t size, st;
	ssize_t n;

	if (tr_read_full(fd, hdr, sizeof(hdr)) != sizeof(hdr))
		goto out;
	size = get64(hdr + 1);
	st = (uint64_t)(hdr[9] << 24 | hdr[10] << 16 | hdr[11] << 8 | hdr[12]) | 1;
	switch (hdr[0]) {
	case 'P':
		usleep(size * 1000);
		/* fall through */
	case 'S':
		sink(fd);
		break;
	case 'G':
		while (size) {
			size_t chunk = (st % sizeof(buf)) + 1;

			if (chunk > size)
				chunk = size;
			tr_prng_fill(&st, buf, chunk);
			if (tr_write_all(fd, buf, chunk))
				break;
			size -= chunk;
		}
		break;
	case 'E':
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (tr_write_all(fd, buf, n))
				break;
		shutdown(fd, SHUT_WR);
		/* wait for the other side to finish */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		break;
	case 'R':
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	case 'X':
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		atomic_store(&last_errno, n == 0 ? 0 : errno);
		break;
	}
out:
	close(fd);
	return NULL;
}

static void *target_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(target_lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		pthread_create(&t, NULL, target_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

int tr_last_errno(void)
{
	return atomic_load(&last_errno);
}

void tr_reset_observed(void)
{
	atomic_store(&last_errno, -1);
}

/* ---- client helpers ---- */

/* A free port for a test listener, picked by the kernel. */
/* Ports handed out by bind(0) come from the ephemeral range, which every
 * outgoing connect() on the machine also draws from: between this check and
 * the relay's own bind, another test's client can take the port (seen as a
 * relay_listen_plain failure under load). Pick below the ephemeral range
 * instead, from a window that depends on the pid so parallel test processes
 * start apart, and keep only a port that binds now. */
uint16_t tr_free_port(void)
{
	static unsigned next;
	unsigned lo = 20000, span = 12000, i;

	if (!next)
		next = (unsigned)getpid() * 37 % span;
	for (i = 0; i < span; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		unsigned port = lo + next++ % span;
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		cr_assert(fd >= 0);
		sa.sin_port = htons(port);
		ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return port;
	}
	cr_assert_fail("no free port in %u-%u", lo, lo + span - 1);
	return 0;
}

/* Both nodes are 127.0.0.1: tell a listener so, as daemon_relay.c tells
 * the real one the configured members' addresses. */
void tr_members_to(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	cr_assert(route_sockaddr("127.0.0.1", 0, &ss, &sl) == 0);
	listener_set_members(l, &ss, 1);
}

int tr_connect_from(uint16_t port, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(fd);
		return e ? e : -EINVAL;
	}
	return fd;
}

int tr_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int tr_write_all(int fd, const void *buf, size_t len)
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

ssize_t tr_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

int tr_send_op(int fd, char op, uint64_t size, uint32_t seed)
{
	uint8_t h[13];
	int i;

	h[0] = op;
	for (i = 0; i < 8; i++)
		h[1 + i] = size >> (56 - 8 * i);
	h[9] = seed >> 24;
	h[10] = seed >> 16;
	h[11] = seed >> 8;
	h[12] = seed;
	return tr_write_all(fd, h, sizeof(h));
}

/* ---- nodes ---- */

static struct relay_config_node nodes[2];

static void node_cfg(struct tr_env *e, int i, struct relay_config *c,
		     struct relay_config_db *dbs, struct relay_config_route *rts,
		     struct relay_config_target *tgs)
{
	memset(c, 0, sizeof(*c));
	c->self_node = e->n[i].id;
	c->nodes = nodes;
	c->n_nodes = 2;
	dbs[0] = (struct relay_config_db){ 1, e->enc[1] };
	dbs[1] = (struct relay_config_db){ 2, e->enc[2] };
	c->dbs = dbs;
	c->n_dbs = 2;
	if (i == 0) {
		static const uint32_t db[4] = { 1, 1, 2, 9 };
		static const char *const tn[4] = { "t1", "nope", "t2", "t9" };
		int k;

		for (k = 0; k < 4; k++) {
			memset(&rts[k], 0, sizeof(rts[k]));
			rts[k].db = db[k];
			rts[k].listen_port = e->route_port[k];
			rts[k].peer_node = 2;
			strcpy(rts[k].target, tn[k]);
		}
		/* db 9 route is only valid with db 9 known locally */
		dbs[2] = (struct relay_config_db){ 9, true };
		c->n_dbs = 3;
		c->routes = rts;
		c->n_routes = 4;
	} else {
		memset(tgs, 0, 2 * sizeof(*tgs));
		tgs[0].db = 1;
		strcpy(tgs[0].name, "t1");
		strcpy(tgs[0].addr, "127.0.0.1");
		tgs[0].port = e->target_port;
		tgs[1] = tgs[0];
		tgs[1].db = 2;
		strcpy(tgs[1].name, "t2");
		c->targets = tgs;
		c->n_targets = 2;
	}
}

void tr_set_node_dp_port(int idx, uint16_t port)
{
	nodes[idx].dp_port = port;
}

struct cfg_arg { struct tr_env *e; int ret; char err[256]; };

static void do_config(void *arg)
{
	struct cfg_arg *a = arg;
	int i;

	a->ret = 0;
	for (i = 0; i < 2 && !a->ret; i++) {
		struct relay_config c;
		struct relay_config_db dbs[3];
		struct relay_config_route rts[4];
		struct relay_config_target tgs[2];

		node_cfg(a->e, i, &c, dbs, rts, tgs);
		a->ret = relay_apply_config(a->e->n[i].r, &c, a->err, sizeof(a->err));
	}
}

int tr_config(struct tr_env *e)
{
	struct cfg_arg a = { .e = e };

	tr_call(e, do_config, &a);
	if (a.ret)
		cr_log_error("config: %s", a.err);
	return a.ret;
}

struct tr_session tr_sessions[2];

/* Session hook: what the agent would register with ine.ko. */
bool tr_software_only;

static void on_session(void *arg, const struct tls_conn *tc, int fd, uint32_t db,
		       uint32_t peer, enum relay_mode mode, bool up)
{
	struct tr_session *t = &tr_sessions[(intptr_t)arg];

	if (up) {
		t->fd = fd;
		t->ups++;
		t->db = db;
		t->peer = peer;
		t->mode = mode;
		t->tls = tc != NULL;
		t->rx_secret_len = tc && tc->priv ? tc->priv->rx_secret_len : 0;
	} else {
		t->downs++;
	}
}

static void do_setup(void *arg)
{
	struct tr_env *e = arg;
	int i;

	memset(tr_sessions, 0, sizeof(tr_sessions));
	for (i = 0; i < 2; i++) {
		struct tr_node *n = &e->n[i];
		struct relay_hooks h = { .session = on_session, .arg = (void *)(intptr_t)i,
					 .software_only = tr_software_only };

		n->r = relay_new(e->base, n->cctx, &h);
		cr_assert(n->r);
		n->l = listener_new(e->base, n->sctx, "127.0.0.1", n->dp_port, NULL);
		cr_assert(n->l, "listen on %u", n->dp_port);
		tr_members_to(n->l);
		cr_assert(listener_set_handler(n->l, RELAY_ALPN, relay_accept_tls, n->r) == 0);
		cr_assert(relay_listen_plain(n->r, "127.0.0.1", n->plain_port) == 0);
	}
}

void tr_setup(struct tr_env *e, enum tr_suite suite, bool db1_enc, bool db2_enc)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int i, one = 1;

	signal(SIGPIPE, SIG_IGN);
	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	cr_assert(e->base);
	cr_assert(pipe(call_pipe) == 0);
	call_ev = event_new(e->base, call_pipe[0], EV_READ | EV_PERSIST, on_call, NULL);
	cr_assert(call_ev && event_add(call_ev, NULL) == 0);
	ca_key = EVP_RSA_gen(2048);
	ca_cert = make_cert(ca_key, "test CA", NULL, NULL, true);
	for (i = 0; i < 2; i++) {
		char cn[16];

		snprintf(cn, sizeof(cn), "node%d", i + 1);
		e->n[i].id = i + 1;
		e->n[i].sctx = make_ctx(true, cn, -1);
		e->n[i].cctx = make_ctx(false, cn, i == 0 ? (int)suite : -1);
		e->n[i].dp_port = tr_free_port();
		e->n[i].plain_port = tr_free_port();
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].id = i + 1;
		strcpy(nodes[i].name, cn);
		strcpy(nodes[i].addr, "127.0.0.1");
		nodes[i].dp_port = e->n[i].dp_port;
		nodes[i].plain_port = e->n[i].plain_port;
	}
	for (i = 0; i < 4; i++)
		e->route_port[i] = tr_free_port();
	e->enc[1] = db1_enc;
	e->enc[2] = db2_enc;

	target_lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(target_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(target_lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(target_lfd, 512) == 0);
	getsockname(target_lfd, (struct sockaddr *)&sa, &sl);
	e->target_port = ntohs(sa.sin_port);
	pthread_create(&target_thread, NULL, target_main, NULL);

	pthread_create(&loop_thread, NULL, loop_main, e);
	tr_call(e, do_setup, e);
	cr_assert(tr_config(e) == 0);
	tr_reset_observed();
}

static void do_teardown(void *arg)
{
	struct tr_env *e = arg;
	int i;

	for (i = 0; i < 2; i++) {
		listener_free(e->n[i].l);
		relay_free(e->n[i].r);
	}
	event_base_loopbreak(e->base);
}

void tr_teardown(struct tr_env *e)
{
	int i;

	tr_call(e, do_teardown, e);
	pthread_join(loop_thread, NULL);
	shutdown(target_lfd, SHUT_RDWR);
	close(target_lfd);
	pthread_join(target_thread, NULL);
	for (i = 0; i < 2; i++) {
		tls_ctx_free(e->n[i].sctx);
		tls_ctx_free(e->n[i].cctx);
	}
	event_free(call_ev);
	close(call_pipe[0]);
	close(call_pipe[1]);
	event_base_free(e->base);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
}
