/* SPDX-License-Identifier: GPL-2.0 */
/*
 * testnet.h — a connected TCP loopback pair and a handshake pump that
 * drives both ends of a tls_conn pair in one thread, for the TLS unit
 * tests, the VM drivers and the handshake bench.
 */
#ifndef INE_TESTNET_H
#define INE_TESTNET_H

#include <stdbool.h>

#include "tls/tls.h"

int tn_set_nonblock(int fd, bool on);			/* 0 or -errno */
/* A listening socket on 127.0.0.1:*port (0 = any): fd or -errno, *port set. */
int tn_listen(unsigned short *port);
int tn_connect(unsigned short port);			/* fd or -errno */
/* Connected TCP pair over loopback, both non-blocking.  0 or -errno. */
int tn_pair(int *cfd, int *sfd);
/*
 * Step both handshakes until neither can progress.  *crc / *src get each
 * side's final result (0, -errno, or -EAGAIN if it never finished, e.g. a
 * client whose server failed after the client was done would be 0).
 */
void tn_handshake_pair(struct tls_conn *c, struct tls_conn *s, int *crc, int *src);

#endif
