// SPDX-License-Identifier: GPL-2.0
/*
 * handshake - full mutual-auth handshakes per second with the agent's TLS
 * policy (agent/tls/tls.c), RSA-2048 leaves, fresh TCP connection each time, no
 * resumption (there is none: no tickets, no cache).  Client and server are
 * separate processes; each reports its CPU time, so handshakes/s per core
 * is N / CPU seconds of the busier side.
 *
 *   tools/bench/handshake [-n N]      (make bench-tls)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tls/ktls.h"
#include "tls/tls.h"
#include "testnet.h"
#include "testpki.h"

static struct tp_set pki;

static double cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static SSL_CTX *ctx_for(bool server, int version)
{
	struct tls_config cfg = {
		.cert = server ? pki.srv : pki.cli, .key = pki.key, .trust = pki.store,
		.verify_peer = tp_verify_peer, .verify_arg = (void *)TP_CLUSTER,
	};
	SSL_CTX *ctx = tls_ctx_new(&cfg, server);

	if (!ctx)
		exit(1);
	if (!server) {
		SSL_CTX_set_min_proto_version(ctx, version);
		SSL_CTX_set_max_proto_version(ctx, version);
	}
	return ctx;
}

/* Blocking fds: tls_conn_handshake() then runs to the end in one call. */
static int one(SSL_CTX *ctx, int fd, bool server, char *cipher, size_t len)
{
	struct tls_conn *c = tls_conn_new(ctx, fd, server, server ? TLS_ALPN_NONE : TLS_ALPN_DP);
	int rc = c ? tls_conn_handshake(c) : -ENOMEM;

	if (rc)
		fprintf(stderr, "%s: %s\n", server ? "server" : "client", c ? c->reason : "oom");
	else if (cipher)
		snprintf(cipher, len, "%s", c->cipher);
	tls_conn_free(c);
	close(fd);
	return rc;
}

static void run(int version, int n)
{
	unsigned short port = 0;
	int lfd = tn_listen(&port), pfd[2], st;
	double t0, wall, ccpu, scpu = 0, c0;
	char cipher[64] = "";
	pid_t pid;

	if (lfd < 0 || pipe(pfd))
		exit(1);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		SSL_CTX *sctx = ctx_for(true, version);
		double s0 = cpu_secs();

		for (int i = 0; i < n; i++)
			if (one(sctx, accept(lfd, NULL, NULL), true, NULL, 0))
				exit(1);
		s0 = cpu_secs() - s0;
		if (write(pfd[1], &s0, sizeof(s0)) != sizeof(s0))
			exit(1);
		exit(0);
	}
	{
		SSL_CTX *cctx = ctx_for(false, version);

		c0 = cpu_secs();
		t0 = now();
		for (int i = 0; i < n; i++) {
			int fd = tn_connect(port);

			if (fd < 0 || one(cctx, fd, false, cipher, sizeof(cipher)))
				exit(1);
		}
		wall = now() - t0;
		ccpu = cpu_secs() - c0;
		SSL_CTX_free(cctx);
	}
	if (read(pfd[0], &scpu, sizeof(scpu)) != sizeof(scpu) || waitpid(pid, &st, 0) != pid ||
	    !WIFEXITED(st) || WEXITSTATUS(st))
		exit(1);
	close(lfd);
	close(pfd[0]);
	close(pfd[1]);
	printf("%s %-28s n=%d  wall %.0f/s  server %.2f ms CPU (%.0f/s per core)  "
	       "client %.2f ms CPU (%.0f/s per core)\n",
	       tls_version_name(version), cipher, n, n / wall, scpu * 1e3 / n, n / scpu,
	       ccpu * 1e3 / n, n / ccpu);
}

int main(int argc, char **argv)
{
	int n = 500, o;

	while ((o = getopt(argc, argv, "n:")) != -1)
		if (o == 'n')
			n = atoi(optarg);
	if (tp_set_make(&pki, 2048))
		return 1;
	printf("full handshakes, mutual auth, RSA-2048 leaves, ECDHE (X25519), fresh TCP each\n");
	run(TLS1_2_VERSION, n);
	run(TLS1_3_VERSION, n);
	tp_set_free(&pki);
	return 0;
}
