// SPDX-License-Identifier: GPL-2.0
/*
 * ktls_srv - a test TLS server with the agent's policy (agent/tls/tls.c), for
 * probing with `openssl s_client` (tests/host/t-tls-ciphers.sh).
 *
 *   ktls_srv --dir DIR [--port P]
 *
 * Makes test certificates in DIR (ca.pem, key.pem shared by every leaf,
 * cli.pem, cli-expired.pem, cli-foreign.pem), listens on 127.0.0.1:P (0 =
 * any), writes the port to DIR/port, and then for each connection, one at a
 * time: handshake; on success sends "INE-OK <version> <cipher> <alpn>" and
 * close_notify; on failure logs "REFUSED <reason>".  Runs until killed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "tls/ktls.h"
#include "tls/tls.h"
#include "tls/tlsio.h"
#include "testnet.h"
#include "testpki.h"

static void serve(SSL_CTX *ctx, int fd)
{
	struct tls_conn *c = tls_conn_new(ctx, fd, true, TLS_ALPN_NONE);
	char line[160];
	int rc = -ENOMEM, n;

	if (!c)
		goto out;
	tn_set_nonblock(fd, true);
	while ((rc = tls_conn_handshake(c)) == -EAGAIN) {
		struct pollfd p = { fd, c->want == TLS_WANT_WRITE ? POLLOUT : POLLIN, 0 };

		if (poll(&p, 1, 5000) != 1) {
			snprintf(c->reason, sizeof(c->reason), "handshake timed out");
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc) {
		printf("REFUSED %s\n", c->reason);
		goto out;
	}
	ktls_conn_install(c);
	tn_set_nonblock(fd, false);
	n = snprintf(line, sizeof(line), "INE-OK %s %s %s\n", tls_version_name(c->version),
		     c->cipher, tls_alpn_name(c->alpn));
	printf("%s", line);
	if (tlsio_write(c, line, (size_t)n) != n)
		printf("WRITE-FAILED %s\n", c->reason);
	tlsio_shutdown(c);
out:
	fflush(stdout);
	tls_conn_free(c);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	unsigned short port = 0;
	struct tp_set pki;
	char path[4096];
	SSL_CTX *ctx;
	FILE *f;
	int o, lfd;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'd')
			dir = optarg;
		else if (o == 'p')
			port = (unsigned short)atoi(optarg);
		else
			return 2;
	}
	if (!dir) {
		fprintf(stderr, "usage: ktls_srv --dir DIR [--port P]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (tp_set_make(&pki, 2048))
		return 1;
#define PEM(name, x, k) do { snprintf(path, sizeof(path), "%s/%s", dir, name); \
		if (tp_write_pem(path, x, k)) { perror(path); return 1; } } while (0)
	PEM("ca.pem", pki.ca, NULL);
	PEM("key.pem", NULL, pki.key);
	PEM("cli.pem", pki.cli, NULL);
	PEM("cli-cp.pem", pki.cli_cp, NULL);
	PEM("cli-expired.pem", pki.cli_expired, NULL);
	PEM("cli-foreign.pem", pki.cli_foreign, NULL);
	{
		struct tls_config cfg = {
			.cert = pki.srv_cp, .key = pki.key, .dp_cert = pki.srv, .dp_key = pki.key,
			.trust = pki.store, .verify_peer = tp_verify_peer,
			.verify_arg = (void *)TP_CLUSTER,
		};

		ctx = tls_ctx_new(&cfg, true);
	}
	if (!ctx)
		return 1;
	lfd = tn_listen(&port);
	if (lfd < 0) {
		fprintf(stderr, "listen: %s\n", strerror(-lfd));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/port", dir);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%u\n", port);
	fclose(f);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			serve(ctx, fd);
	}
}
