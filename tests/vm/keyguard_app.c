// SPDX-License-Identifier: GPL-2.0
/*
 * keyguard_app NODE DB TARGET — a libine application that tries to read
 * the kernel TLS keys of the socket its agent brokered (issue 20): it
 * fills a buffer with 0xa5, calls getsockopt(SOL_TLS, TLS_TX) and
 * (TLS_RX), and counts the bytes of the answer that are neither 0xa5 nor
 * 0 — key, salt, IV or sequence bytes the kernel handed over. Then it
 * sends "keyguard ok\n" and closes, so the test sees the agent's data path
 * still works. Prints one line per direction; exit 0 only if the socket
 * is kernel TLS (TCP_ULP "tls", mode offloaded) and nothing leaked.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ine/ine.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* The kernel answers only a buffer of exactly the cipher's crypto_info
 * size: try each (AES-GCM-128: 40 bytes, AES-GCM-256 and ChaCha20: 56). */
static int probe(int fd, int name, const char *what)
{
	static const socklen_t sizes[] = { 40, 56 };
	int total = 0;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned char buf[64];
		socklen_t len = sizes[k];
		int rc, leaked = 0, zeros = 0;

		memset(buf, 0xa5, sizeof(buf));
		rc = getsockopt(fd, SOL_TLS, name, buf, &len);
		for (size_t i = 0; i < sizeof(buf); i++) {
			if (buf[i] == 0)
				zeros++;
			else if (buf[i] != 0xa5)
				leaked++;
		}
		/* crypto_info: u16 version, u16 cipher_type, then the key state */
		printf("%s (%u-byte buffer): getsockopt rc %d (%s) len %u, %d key-state bytes "
		       "readable, %d zero; version 0x%02x%02x cipher %u\n", what,
		       (unsigned)sizes[k], rc, rc ? strerror(errno) : "ok", (unsigned)len,
		       leaked, zeros, buf[1], buf[0], buf[2] | buf[3] << 8);
		total += leaked;
	}
	return total;
}

int main(int argc, char **argv)
{
	struct ine_info info;
	char ulp[16] = "";
	socklen_t ulen = sizeof(ulp);
	int fd, leaked;

	if (argc != 4) {
		fprintf(stderr, "usage: keyguard_app NODE DB TARGET\n");
		return 2;
	}
	fd = ine_connect_info(atoi(argv[1]), atoi(argv[2]), argv[3], &info);
	if (fd < 0) {
		fprintf(stderr, "ine_connect: %s (%s)\n", ine_strerror(fd), info.message);
		return 1;
	}
	getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulen);
	printf("mode %s, TCP_ULP '%s'\n", info.mode == INE_MODE_OFFLOADED ? "offloaded" :
	       info.mode == INE_MODE_SOFTWARE ? "software" : "other", ulp);
	leaked = probe(fd, 1 /* TLS_TX */, "TLS_TX") + probe(fd, 2 /* TLS_RX */, "TLS_RX");
	if (write(fd, "keyguard ok\n", 12) != 12 || ine_close(fd)) {
		fprintf(stderr, "sending after the probe: %s\n", strerror(errno));
		return 1;
	}
	printf("leaked %d\n", leaked);
	return leaked || info.mode != INE_MODE_OFFLOADED || strcmp(ulp, "tls") ? 1 : 0;
}
