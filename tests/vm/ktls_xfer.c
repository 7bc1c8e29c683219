// SPDX-License-Identifier: GPL-2.0
/*
 * ktls_xfer - kernel TLS end to end, for each allowed suite:
 *   handshake (agent/tls/tls.c), kTLS TX+RX install (agent/tls/ktls.c; TLS 1.3 RX is
 *   ours), sendfile() N MiB of random bytes client->server and the received
 *   copy back server->client, sha256 of every byte compared, /proc/net/tls_stat
 *   current sessions seen, the client's close_notify read as a clean EOF by
 *   the server, and a non-data record (a KeyUpdate) sent by the server seen
 *   by the client as splice() EINVAL/EIO and then read and refused by
 *   tlsio_read() with a reason instead of a hang.
 *
 * Exit 0 only if all of it held.  Without kernel TLS it FAILS (unless
 * --allow-software, which moves the same data through OpenSSL instead).
 * --plain does the same transfer without TLS, --software with OpenSSL only
 * (no kTLS), for speed ratios in one run.
 * Prints "RESULT <suite> <c2s|s2c> <MB/s>" lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tls/ktls.h"
#include "tls/tls.h"
#include "tls/tlsio.h"
#include "testnet.h"
#include "testpki.h"

struct suite {
	const char *tag;
	int version;
	const char *name;
};

static const struct suite suites[] = {
	{ "tls12-aes128", TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ "tls12-aes256", TLS1_2_VERSION, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ "tls13-aes128", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256" },
	{ "tls13-aes256", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384" },
};

static size_t nbytes = 8u << 20;
static bool allow_software, plain, software;
static struct tp_set pki;
static int src_fd;			/* memfd with the random data */
static uint8_t src_hash[32];

#define die(...) do { fprintf(stderr, "ktls_xfer: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long tls_stat(const char *key)
{
	FILE *f = fopen("/proc/net/tls_stat", "r");
	char k[64];
	long v, r = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", k, &v) == 2)
		if (!strcmp(k, key))
			r = v;
	fclose(f);
	return r;
}

static SSL_CTX *make_ctx(const struct suite *su, bool server)
{
	struct tls_config cfg = {
		.cert = server ? pki.srv : pki.cli, .key = pki.key, .trust = pki.store,
		.verify_peer = tp_verify_peer, .verify_arg = (void *)TP_CLUSTER,
	};
	SSL_CTX *ctx = tls_ctx_new(&cfg, server);

	if (!ctx)
		die("tls_ctx_new failed");
	if (software)	/* userspace TLS only, for the speed comparison */
		SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
	if (!server) {	/* the client offers exactly one suite */
		SSL_CTX_set_min_proto_version(ctx, su->version);
		SSL_CTX_set_max_proto_version(ctx, su->version);
		if (su->version == TLS1_3_VERSION)
			SSL_CTX_set_ciphersuites(ctx, su->name);
		else
			SSL_CTX_set_cipher_list(ctx, su->name);
	}
	return ctx;
}

static struct tls_conn *handshake(SSL_CTX *ctx, int fd, bool server, const char *who)
{
	struct tls_conn *c = tls_conn_new(ctx, fd, server, server ? TLS_ALPN_NONE : TLS_ALPN_DP);
	int rc;

	if (!c)
		die("%s: tls_conn_new", who);
	tn_set_nonblock(fd, true);
	while ((rc = tls_conn_handshake(c)) == -EAGAIN) {
		struct pollfd p = { fd, c->want == TLS_WANT_WRITE ? POLLOUT : POLLIN, 0 };

		if (poll(&p, 1, 20000) != 1)
			die("%s: handshake timed out", who);
	}
	if (rc)
		die("%s: handshake failed: %s", who, c->reason);
	if (software) {
		printf("  %s: %s %s offload=userspace (requested)\n", who,
		       tls_version_name(c->version), c->cipher);
		tn_set_nonblock(fd, false);
		return c;
	}
	if (ktls_conn_install(c))
		die("%s: kTLS install broke the socket: %s", who, c->reason);
	printf("  %s: %s %s alpn=%s peer=node%ld offload=%s%s%s\n", who,
	       tls_version_name(c->version), c->cipher, tls_alpn_name(c->alpn), c->peer_node_id,
	       ktls_conn_mode(c), c->reason[0] ? " -- " : "", c->reason);
	if (!c->ktls_tx || !c->ktls_rx) {
		if (!allow_software)
			die("%s: kernel TLS not used (tx=%d rx=%d): %s", who, c->ktls_tx, c->ktls_rx,
			    c->reason[0] ? c->reason : "-");
	}
	tn_set_nonblock(fd, false);
	return c;
}

/* Send len bytes of fd from offset 0: sendfile when TX is in the kernel. */
static void send_file(struct tls_conn *c, int sock, int fd, size_t len, const char *who)
{
	off_t off = 0;

	if (!c || c->ktls_tx) {
		while ((size_t)off < len) {
			ssize_t n = sendfile(sock, fd, &off, len - (size_t)off);

			if (n <= 0)
				die("%s: sendfile: %s", who, n ? strerror(errno) : "0");
		}
		return;
	}
	{
		uint8_t *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		size_t done = 0;

		if (p == MAP_FAILED)
			die("%s: mmap: %s", who, strerror(errno));
		while (done < len) {
			ssize_t n = tlsio_write(c, p + done, len - done);

			if (n <= 0)
				die("%s: write: %s", who, c->reason);
			done += (size_t)n;
		}
		munmap(p, len);
	}
}

/* Receive exactly len bytes, hash them, optionally keep them in out_fd. */
static void recv_all(struct tls_conn *c, int sock, size_t len, int out_fd, uint8_t hash[32],
		     const char *who)
{
	static uint8_t buf[1 << 16];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t got = 0;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (got < len) {
		size_t want = len - got < sizeof(buf) ? len - got : sizeof(buf);
		ssize_t n = c ? tlsio_read(c, buf, want) : read(sock, buf, want);

		if (n <= 0)
			die("%s: read after %zu of %zu bytes: %s", who, got, len,
			    c ? c->reason : (n ? strerror(errno) : "EOF"));
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (out_fd >= 0 && write(out_fd, buf, (size_t)n) != n)
			die("%s: write memfd: %s", who, strerror(errno));
		got += (size_t)n;
	}
	EVP_DigestFinal_ex(md, hash, NULL);
	EVP_MD_CTX_free(md);
}

static void result(const char *tag, const char *dir, double secs)
{
	printf("RESULT %s %s %.1f MB/s (%zu bytes in %.2fs)\n", tag, dir,
	       (double)nbytes / 1e6 / secs, nbytes, secs);
}

static int run_client(const struct suite *su, unsigned short port)
{
	const char *tag = su ? su->tag : "plain";
	SSL_CTX *ctx = su ? make_ctx(su, false) : NULL;
	int fd = tn_connect(port), p[2];
	struct tls_conn *c = NULL;
	uint8_t hash[32], buf[64];
	double t0;
	ssize_t n;

	if (fd < 0)
		die("client: connect: %s", strerror(-fd));
	if (ctx)
		c = handshake(ctx, fd, false, "client");
	send_file(c, fd, src_fd, nbytes, "client");
	t0 = now();
	recv_all(c, fd, nbytes, -1, hash, "client");
	result(tag, "s2c", now() - t0);
	if (memcmp(hash, src_hash, 32))
		die("client: data from the server differs (sha256)");
	if (!c) {
		close(fd);
		return 0;
	}
	/* Our close_notify: the server must read it as a clean EOF. */
	if (tlsio_shutdown(c))
		die("client: close_notify: %s", c->reason);

	/* The server now sends a KeyUpdate record: not data. */
	if (c->ktls_rx) {
		if (pipe(p))
			die("client: pipe");
		n = splice(fd, NULL, p[1], NULL, 4096, 0);
		if (n >= 0 || (errno != EINVAL && errno != EIO))
			die("client: splice at a non-data record gave %zd (%s), want EINVAL/EIO",
			    n, n < 0 ? strerror(errno) : "data");
		printf("  client: splice at the non-data record: %s (expected)\n", strerror(errno));
		close(p[0]);
		close(p[1]);
	}
	n = tlsio_read(c, buf, sizeof(buf));
	if (c->ktls_rx) {
		if (n != -EPROTO || !strstr(c->reason, "KeyUpdate"))
			die("client: non-data record: got %zd '%s', want -EPROTO KeyUpdate", n, c->reason);
	} else if (n >= 0) {
		/* OpenSSL in software processes a KeyUpdate itself; then EOF. */
		die("client: software path: unexpected read result %zd", n);
	}
	printf("  client: non-data record refused: %s\n", c->reason);
	tls_conn_free(c);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}

static int run_server(const struct suite *su, int lfd)
{
	const char *tag = su ? su->tag : "plain";
	SSL_CTX *ctx = su ? make_ctx(su, true) : NULL;
	int fd = accept(lfd, NULL, NULL), back;
	struct tls_conn *c = NULL;
	uint8_t hash[32], buf[64];
	/* KeyUpdate(update_not_requested): type 24, length 1, value 0. */
	static const uint8_t keyupdate[5] = { 24, 0, 0, 1, 0 };
	double t0;
	ssize_t n;

	if (fd < 0)
		die("server: accept: %s", strerror(errno));
	if (ctx)
		c = handshake(ctx, fd, true, "server");
	back = memfd_create("back", 0);
	t0 = now();
	recv_all(c, fd, nbytes, back, hash, "server");
	result(tag, "c2s", now() - t0);
	if (memcmp(hash, src_hash, 32))
		die("server: data from the client differs (sha256)");
	if (c && c->ktls_tx && c->ktls_rx) {
		long ctx_tx = tls_stat("TlsCurrTxSw"), ctx_rx = tls_stat("TlsCurrRxSw");

		printf("  server: TlsCurrTxSw=%ld TlsCurrRxSw=%ld with both ends live\n", ctx_tx, ctx_rx);
		if (ctx_tx < 2 || ctx_rx < 2)
			die("server: /proc/net/tls_stat does not count both ends (%ld/%ld)",
			    ctx_tx, ctx_rx);
	}
	send_file(c, fd, back, nbytes, "server");
	close(back);
	if (!c) {
		close(fd);
		return 0;
	}
	n = tlsio_read(c, buf, sizeof(buf));
	if (n != 0)
		die("server: wanted close_notify as EOF, got %zd (%s)", n, c->reason);
	printf("  server: peer close_notify read as EOF\n");
	if (c->ktls_tx) {
		if (ktls_send_record(fd, KTLS_REC_HANDSHAKE, keyupdate, sizeof(keyupdate)))
			die("server: sending a handshake record: %s", strerror(errno));
	} else {
		SSL_key_update(c->ssl, SSL_KEY_UPDATE_NOT_REQUESTED);
		SSL_do_handshake(c->ssl);
		shutdown(fd, SHUT_WR);
	}
	tls_conn_free(c);
	SSL_CTX_free(ctx);
	close(fd);
	return 0;
}

static int run_one(const struct suite *su)
{
	unsigned short port = 0;
	int lfd = tn_listen(&port), st;
	pid_t pid;

	if (lfd < 0)
		die("listen: %s", strerror(-lfd));
	printf("== %s\n", su ? su->tag : "plain (no TLS)");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(lfd);
		exit(run_client(su, port));
	}
	run_server(su, lfd);
	close(lfd);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("%s: client failed", su ? su->tag : "plain");
	fflush(stdout);
	return 0;
}

static void make_source(void)
{
	uint8_t *p;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	src_fd = memfd_create("src", 0);
	if (src_fd < 0 || ftruncate(src_fd, (off_t)nbytes))
		die("memfd: %s", strerror(errno));
	p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_SHARED, src_fd, 0);
	if (p == MAP_FAILED || RAND_bytes(p, (int)nbytes) != 1)
		die("random source");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, p, nbytes);
	EVP_DigestFinal_ex(md, src_hash, NULL);
	EVP_MD_CTX_free(md);
	munmap(p, nbytes);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' },
		{ "suite", required_argument, NULL, 's' },
		{ "plain", no_argument, NULL, 'p' },
		{ "allow-software", no_argument, NULL, 'a' },
		{ "software", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = NULL;
	int o, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm': nbytes = (size_t)strtoul(optarg, NULL, 0) << 20; break;
		case 's': only = optarg; break;
		case 'p': plain = true; break;
		case 'a': allow_software = true; break;
		case 'S': software = allow_software = true; break;
		default:
			fprintf(stderr, "usage: ktls_xfer [--mib N] [--suite TAG] [--plain] "
				"[--allow-software] [--software]\n");
			return 2;
		}
	}
	make_source();
	if (plain)
		return run_one(NULL);
	if (tp_set_make(&pki, 2048))
		die("making test certificates");
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (only && strcmp(only, suites[i].tag))
			continue;
		run_one(&suites[i]);
		ran++;
	}
	tp_set_free(&pki);
	if (!ran)
		die("no suite named %s", only);
	printf("ktls_xfer: %d suite(s) passed\n", ran);
	return 0;
}
