// SPDX-License-Identifier: GPL-2.0
/*
 * xfer - one bulk transfer, measured.
 *
 *   xfer mkfile PATH SIZE
 *   xfer sink --listen HOST:PORT [--count K] [TLS options]
 *   xfer send --connect HOST:PORT --file PATH --bytes N [--label L]
 *             [--watch PID,PID...] [TLS options]
 *   TLS options: --tls 1.2|1.3 --cipher NAME --cert F --key F --ca F [--ktls]
 *                [--ine]
 *
 * The sender connects (TLS handshake if asked), exchanges one byte each
 * way so every hop on the path (relays, stunnels) has finished its own
 * handshake (the sender's byte tells the sink how many bytes follow), then
 * snapshots CPU, sends N bytes from PATH with sendfile(2)
 * (SSL_sendfile on a kernel-TLS socket; refusing to run if kernel TLS
 * did not engage), waits for the sink's acknowledgement and snapshots
 * again.  The sink reads exactly N bytes (read(2), or SSL_read) and
 * answers with the count, its own CPU time for the transfer and whether
 * kernel TLS receive was on.  The sender prints one BENCH line.
 */
#include "bench.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#ifdef BENCH_INE_TLS
#include <openssl/pem.h>
#include "tls/ktls.h"
#include "tls/tls.h"
#endif

#define ACK_KTLS_RX 1u
#define ACK_KTLS_TX 2u

struct ack {
	uint64_t bytes;
	uint64_t cpu_us;
	uint64_t flags;
};

struct opts {
	const char *listen, *connect, *file, *label, *watch;
	const char *tls, *cipher, *cert, *key, *ca;
	uint64_t bytes;
	long count;
	bool ktls, ine;
};

static int die(const char *what, int err)
{
	fprintf(stderr, "xfer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* An I/O endpoint: a plain fd, or an SSL on it. */
struct end {
	int fd;
	SSL *ssl;
};

static int end_read_full(struct end *e, void *buf, size_t n)
{
	char *p = buf;
	int r;

	if (!e->ssl)
		return bench_read_full(e->fd, buf, n);
	while (n) {
		r = SSL_read(e->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r <= 0) {
			fprintf(stderr, "xfer: SSL_read: %s\n", bench_tls_err());
			return -EPROTO;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int end_write_full(struct end *e, const void *buf, size_t n)
{
	size_t done;

	if (!e->ssl)
		return bench_write_full(e->fd, buf, n);
	if (SSL_write_ex(e->ssl, buf, n, &done) != 1 || done != n) {
		fprintf(stderr, "xfer: SSL_write: %s\n", bench_tls_err());
		return -EPROTO;
	}
	return 0;
}

static SSL *tls_start(const struct opts *o, SSL_CTX *ctx, int fd, bool server)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		return NULL;
	SSL_set_fd(ssl, fd);
	if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
		fprintf(stderr, "xfer: TLS %s handshake (%s %s) failed: %s\n",
			server ? "server" : "client", o->tls, o->cipher, bench_tls_err());
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

#ifdef BENCH_INE_TLS
/* ine's TLS context: the agent's policy, this run's certificates. */
static SSL_CTX *ine_ctx(const struct opts *o, bool server)
{
	struct tls_config cfg = { .accept_alpn = TLS_ALPN_BIT(TLS_ALPN_DP) };
	X509_STORE *st = X509_STORE_new();
	SSL_CTX *ctx = NULL;
	FILE *f;

	if ((f = fopen(o->cert, "re"))) {
		cfg.cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(o->key, "re"))) {
		cfg.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!cfg.cert || !cfg.key || !st || X509_STORE_load_file(st, o->ca) != 1) {
		fprintf(stderr, "xfer: cannot load %s, %s or %s\n", o->cert, o->key, o->ca);
		goto out;
	}
	cfg.trust = st;
	ctx = tls_ctx_new(&cfg, server);
	if (ctx && !server) {	/* the client picks the suite under test */
		int v = strcmp(o->tls, "1.3") ? TLS1_2_VERSION : TLS1_3_VERSION;

		SSL_CTX_set_min_proto_version(ctx, v);
		SSL_CTX_set_max_proto_version(ctx, v);
		if (v == TLS1_3_VERSION ? !SSL_CTX_set_ciphersuites(ctx, o->cipher)
					: !SSL_CTX_set_cipher_list(ctx, o->cipher)) {
			tls_ctx_free(ctx);
			ctx = NULL;
		}
	}
	if (!ctx)
		fprintf(stderr, "xfer: ine TLS context (%s %s) failed\n", o->tls, o->cipher);
out:
	X509_free(cfg.cert);
	EVP_PKEY_free(cfg.key);
	X509_STORE_free(st);
	return ctx;
}

/* Handshake and kernel TLS both ways, or NULL (said why). */
static struct tls_conn *ine_start(SSL_CTX *ctx, int fd, bool server)
{
	struct tls_conn *c = tls_conn_new(ctx, fd, server, server ? TLS_ALPN_NONE : TLS_ALPN_DP);
	int r;

	if (!c)
		return NULL;
	r = tls_conn_handshake(c);
	if (!r)
		r = ktls_conn_install(c);
	if (r || !c->ktls_tx || !c->ktls_rx) {
		fprintf(stderr, "xfer: ine TLS %s: %s\n", server ? "server" : "client",
			r ? c->reason : "kernel TLS is not on in both directions");
		tls_conn_free(c);
		return NULL;
	}
	return c;
}
#endif

static SSL_CTX *ctx_for(const struct opts *o, bool server)
{
	SSL_CTX *ctx;

	if (!o->cert || !o->key || !o->ca || !o->cipher) {
		fprintf(stderr, "xfer: --tls needs --cipher, --cert, --key and --ca\n");
		return NULL;
	}
#ifdef BENCH_INE_TLS
	if (o->ine)
		return ine_ctx(o, server);
#endif
	ctx = bench_tls_ctx(server, o->tls, o->cipher, o->cert, o->key, o->ca, o->ktls);
	if (!ctx)
		fprintf(stderr, "xfer: TLS context (%s %s): %s\n", o->tls, o->cipher,
			bench_tls_err());
	return ctx;
}

/* The start message: 'S' and the number of bytes that will follow. */
struct start {
	char tag;
	uint64_t bytes;
} __attribute__((packed));

static int sink_one(const struct opts *o, SSL_CTX *ctx, int fd, char *buf, size_t bufsz)
{
	struct end e = { .fd = fd };
	struct ack a = { 0 };
	struct start st;
	uint64_t left, total, flags = 0;
	double cpu0;
	int r = -EPROTO;
#ifdef BENCH_INE_TLS
	struct tls_conn *tc = NULL;

	if (ctx && o->ine) {
		/* the kernel holds both directions: plain read/write on fd */
		tc = ine_start(ctx, fd, true);
		if (!tc)
			return -EPROTO;
		flags = ACK_KTLS_RX | ACK_KTLS_TX;
		ctx = NULL;
	}
#endif
	if (ctx && !(e.ssl = tls_start(o, ctx, fd, true)))
		return -EPROTO;
	if (end_read_full(&e, &st, sizeof(st)) || st.tag != 'S')
		goto out;
	left = total = le64toh(st.bytes);
	cpu0 = bench_cpu_self();
	if (end_write_full(&e, "R", 1))
		goto out;
	while (left) {
		size_t want = left < bufsz ? (size_t)left : bufsz;
		ssize_t n;

		if (e.ssl) {
			int k = SSL_read(e.ssl, buf, (int)want);

			if (k <= 0) {
				fprintf(stderr, "xfer: sink SSL_read with %llu bytes to go: %s\n",
					(unsigned long long)left, bench_tls_err());
				goto out;
			}
			n = k;
		} else {
			n = read(fd, buf, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "xfer: sink read with %llu bytes to go: %s\n",
					(unsigned long long)left, n ? strerror(errno) : "EOF");
				goto out;
			}
		}
		left -= (uint64_t)n;
	}
	a.bytes = htole64(total);
	a.cpu_us = htole64((uint64_t)((bench_cpu_self() - cpu0) * 1e6));
	if (e.ssl) {
		if (BIO_get_ktls_recv(SSL_get_rbio(e.ssl)))
			flags |= ACK_KTLS_RX;
		if (BIO_get_ktls_send(SSL_get_wbio(e.ssl)))
			flags |= ACK_KTLS_TX;
	}
	a.flags = htole64(flags);
	r = end_write_full(&e, &a, sizeof(a));
out:
#ifdef BENCH_INE_TLS
	tls_conn_free(tc);
#endif
	if (e.ssl) {
		SSL_shutdown(e.ssl);
		SSL_free(e.ssl);
	}
	return r;
}

static int do_sink(const struct opts *o)
{
	size_t bufsz = 256 * 1024;
	char *buf = malloc(bufsz);
	SSL_CTX *ctx = NULL;
	long served = 0;
	int lfd, fd, r;

	if (!buf)
		return die("malloc", ENOMEM);
	if (o->tls && !(ctx = ctx_for(o, true)))
		return 1;
	lfd = bench_listen(o->listen);
	if (lfd < 0)
		return die(o->listen, lfd);
	while (o->count == 0 || served < o->count) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return die("accept", errno);
		}
		r = sink_one(o, ctx, fd, buf, bufsz);
		close(fd);
		if (r)
			fprintf(stderr, "xfer: sink: transfer %ld failed\n", served + 1);
		served++;
	}
	close(lfd);
	SSL_CTX_free(ctx);
	free(buf);
	return 0;
}

/* Send n bytes of file ffd (size fsz, wrapping around) with sendfile. */
static int send_bytes(struct end *e, int ffd, off_t fsz, uint64_t n)
{
	off_t off = 0;

	while (n) {
		size_t chunk = (size_t)(fsz - off);
		ssize_t k;

		if (chunk > n)
			chunk = (size_t)n;
		if (e->ssl) {
			k = SSL_sendfile(e->ssl, ffd, off, chunk, 0);
			if (k > 0)
				off += k;
		} else {
			k = sendfile(e->fd, ffd, &off, chunk);
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			fprintf(stderr, "xfer: sendfile with %llu bytes to go: %s\n",
				(unsigned long long)n,
				e->ssl ? bench_tls_err() : k ? strerror(errno) : "EOF");
			return -EIO;
		}
		n -= (uint64_t)k;
		if (off >= fsz)
			off = 0;
	}
	return 0;
}

static int do_send(const struct opts *o)
{
	struct end e = { .fd = -1 };
	struct start go = { .tag = 'S', .bytes = htole64(o->bytes) };
	struct ack a;
	struct stat st;
	SSL_CTX *ctx = NULL;
	double m0, s0, w0, t0, m1, s1, w1, t1, sink_cpu, proc;
	bool ktx = false, krx;
	json_t *j;
	char c;
	int ffd, r;

	ffd = open(o->file, O_RDONLY | O_CLOEXEC);
	if (ffd < 0 || fstat(ffd, &st) || st.st_size == 0)
		return die(o->file, errno ? errno : EINVAL);
	if (o->tls && !(ctx = ctx_for(o, false)))
		return 1;
	e.fd = bench_connect(o->connect);
	if (e.fd < 0)
		return die(o->connect, e.fd);
#ifdef BENCH_INE_TLS
	struct tls_conn *tc = NULL;

	if (ctx && o->ine) {
		tc = ine_start(ctx, e.fd, false);
		if (!tc)
			return 1;
		ktx = true;
	} else
#endif
	if (ctx) {
		e.ssl = tls_start(o, ctx, e.fd, false);
		if (!e.ssl)
			return 1;
		ktx = BIO_get_ktls_send(SSL_get_wbio(e.ssl));
		if (o->ktls && !ktx) {
			fprintf(stderr, "xfer: kernel TLS transmit did not engage "
				"(no tls module? unsupported suite?): refusing to measure\n");
			return 1;
		}
	}
	if (end_write_full(&e, &go, sizeof(go)) || end_read_full(&e, &c, 1) || c != 'R')
		return die("start exchange", EPROTO);

	m0 = bench_cpu_machine();
	s0 = bench_cpu_self();
	w0 = bench_cpu_pids(o->watch);
	t0 = bench_now();
	r = send_bytes(&e, ffd, st.st_size, o->bytes);
	if (r)
		return 1;
	r = end_read_full(&e, &a, sizeof(a));
	t1 = bench_now();
	m1 = bench_cpu_machine();
	s1 = bench_cpu_self();
	w1 = bench_cpu_pids(o->watch);
	if (r)
		return die("acknowledgement", r);
	if (le64toh(a.bytes) != o->bytes) {
		fprintf(stderr, "xfer: sink counted %llu bytes, sent %llu\n",
			(unsigned long long)le64toh(a.bytes), (unsigned long long)o->bytes);
		return 1;
	}
	sink_cpu = (double)le64toh(a.cpu_us) / 1e6;
	krx = le64toh(a.flags) & ACK_KTLS_RX;
	proc = (s1 - s0) + sink_cpu + (w1 - w0);

	j = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
		      "kind", "xfer", "label", o->label ? o->label : "",
		      "bytes", (json_int_t)o->bytes,
		      "wall_s", t1 - t0,
		      "gbit_s", o->bytes * 8 / (t1 - t0) / 1e9,
		      "cpu_machine_s", m1 - m0,
		      "cpu_proc_s", proc,
		      "cpu_sender_s", s1 - s0,
		      "cpu_sink_s", sink_cpu,
		      "cpu_watch_s", w1 - w0,
		      "cpu_machine_s_per_gib", (m1 - m0) / (o->bytes / BENCH_GIB),
		      "cpu_proc_s_per_gib", proc / (o->bytes / BENCH_GIB));
	if (o->tls) {
		json_object_set_new(j, "tls", json_string(o->tls));
		json_object_set_new(j, "cipher", json_string(o->cipher));
		json_object_set_new(j, "ktls_tx", json_boolean(ktx));
		json_object_set_new(j, "sink_ktls_rx", json_boolean(krx));
	}
	bench_emit(j);
	if (e.ssl) {
		SSL_shutdown(e.ssl);
		SSL_free(e.ssl);
	}
#ifdef BENCH_INE_TLS
	tls_conn_free(tc);
#endif
	close(e.fd);
	close(ffd);
	SSL_CTX_free(ctx);
	return 0;
}

/* A file of pseudo-random bytes (xorshift: incompressible, cheap to make). */
static int do_mkfile(const char *path, uint64_t size)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, buf[8192];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t i;

	if (fd < 0)
		return die(path, errno);
	while (size) {
		size_t n = size < sizeof(buf) ? (size_t)size : sizeof(buf);

		for (i = 0; i < sizeof(buf) / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if (bench_write_full(fd, buf, n))
			return die(path, errno);
		size -= n;
	}
	return close(fd) ? die(path, errno) : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, NULL, 'l' }, { "connect", 1, NULL, 'c' },
		{ "file", 1, NULL, 'f' }, { "bytes", 1, NULL, 'b' },
		{ "count", 1, NULL, 'n' }, { "label", 1, NULL, 'L' },
		{ "watch", 1, NULL, 'w' }, { "tls", 1, NULL, 't' },
		{ "cipher", 1, NULL, 'C' }, { "cert", 1, NULL, 'e' },
		{ "key", 1, NULL, 'k' }, { "ca", 1, NULL, 'a' },
		{ "ktls", 0, NULL, 'K' }, { "ine", 0, NULL, 'I' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = { .watch = "" };
	const char *mode;
	int ch;

	if (argc < 2)
		goto usage;
	mode = argv[1];
	if (!strcmp(mode, "features")) {	/* what this build can do, for the suites */
#ifdef BENCH_INE_TLS
		puts("ine-tls");
#endif
		return 0;
	}
	if (!strcmp(mode, "mkfile"))
		return argc == 4 && bench_parse_size(argv[3]) ?
		       do_mkfile(argv[2], bench_parse_size(argv[3])) : die("mkfile PATH SIZE", EINVAL);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': o.listen = optarg; break;
		case 'c': o.connect = optarg; break;
		case 'f': o.file = optarg; break;
		case 'b': o.bytes = bench_parse_size(optarg); break;
		case 'n': o.count = atol(optarg); break;
		case 'L': o.label = optarg; break;
		case 'w': o.watch = optarg; break;
		case 't': o.tls = optarg; break;
		case 'C': o.cipher = optarg; break;
		case 'e': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'K': o.ktls = true; break;
		case 'I':
#ifdef BENCH_INE_TLS
			o.ine = o.ktls = true;
			break;
#else
			fprintf(stderr, "xfer: --ine needs agent/tls/tls.h and agent/tls/ktls.h (not built in)\n");
			return 2;
#endif
		default: goto usage;
		}
	}
	if (!strcmp(mode, "sink") && o.listen)
		return do_sink(&o);
	if (!strcmp(mode, "send") && o.connect && o.file && o.bytes)
		return do_send(&o);
usage:
	fprintf(stderr, "usage: xfer mkfile PATH SIZE | xfer sink --listen H:P "
		"[--count K] | xfer send --connect H:P --file F --bytes N [--label L] "
		"[--watch PIDS]; TLS: --tls 1.2|1.3 --cipher C --cert F --key F --ca F [--ktls]\n");
	return 2;
}
