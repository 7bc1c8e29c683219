// SPDX-License-Identifier: GPL-2.0
/* bench.c - shared helpers of the benchmark programs (see bench.h). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>

double bench_cpu_machine(void)
{
	unsigned long long v[8] = { 0 };
	double hz = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -errno;
	/* cpu user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 7)
		return -EIO;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
}

double bench_cpu_pid(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	double hz = (double)sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -EIO;
	return (double)(ut + st) / hz;
}

double bench_cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

double bench_cpu_pids(const char *list)
{
	double sum = 0, c;
	const char *p = list;
	char *end;
	long pid;

	while (p && *p) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		c = bench_cpu_pid((pid_t)pid);
		if (c > 0)
			sum += c;
		p = *end == ',' ? end + 1 : end;
	}
	return sum;
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int resolve(const char *hostport, struct addrinfo **res, bool passive)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;

	if (!colon || colon == hostport)
		return -EINVAL;
	hl = (size_t)(colon - hostport);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	return getaddrinfo(host, colon + 1, &hints, res) ? -EINVAL : 0;
}

int bench_listen(const char *hostport)
{
	struct addrinfo *ai;
	int fd, one = 1, r;

	r = resolve(hostport, &ai, true);
	if (r)
		return r;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096)) {
		r = -errno;
		close(fd);
		goto out;
	}
	r = fd;
out:
	freeaddrinfo(ai);
	return r;
}

int bench_connect(const char *hostport)
{
	struct addrinfo *ai;
	int fd, r, tries;

	r = resolve(hostport, &ai, false);
	if (r)
		return r;
	/* The far end may still be starting: retry refused connects briefly. */
	for (tries = 0; tries < 100; tries++) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			break;
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			r = fd;
			break;
		}
		r = -errno;
		close(fd);
		if (r != -ECONNREFUSED)
			break;
		usleep(50000);
	}
	freeaddrinfo(ai);
	return r;
}

int bench_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	ssize_t r;

	while (n) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int bench_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t r;

	while (n) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

SSL_CTX *bench_tls_ctx(bool server, const char *version, const char *cipher,
		       const char *cert, const char *key, const char *ca, bool ktls)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	int v = strcmp(version, "1.3") ? TLS1_2_VERSION : TLS1_3_VERSION;

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, v) || !SSL_CTX_set_max_proto_version(ctx, v))
		goto err;
	if (v == TLS1_3_VERSION ? !SSL_CTX_set_ciphersuites(ctx, cipher)
				: !SSL_CTX_set_cipher_list(ctx, cipher))
		goto err;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
			    (ktls ? SSL_OP_ENABLE_KTLS : 0));
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		goto err;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
err:
	SSL_CTX_free(ctx);
	return NULL;
}

const char *bench_tls_err(void)
{
	static char buf[512];
	unsigned long e = ERR_get_error();

	if (!e)
		return "no OpenSSL error queued";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

void bench_emit(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));

	if (s) {
		printf("BENCH %s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(obj);
}

uint64_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : v;
}
