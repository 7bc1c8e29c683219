/* SPDX-License-Identifier: GPL-2.0 */
/* unixsock.h — the local sockets ined listens on (the REST API, the key
 * broker): what to do with a socket file that is already there. */
#ifndef INE_UNIXSOCK_H
#define INE_UNIXSOCK_H

/* Before binding path: refuse to steal the socket of a running agent
 * (-EADDRINUSE: something answers a connect of `type`, SOCK_STREAM or
 * SOCK_SEQPACKET), refuse a file that is no socket (-EEXIST), remove a
 * stale socket.  path fits sun_path (the caller checked).  0 or -errno. */
int unixsock_clear_stale(const char *path, int type);

#endif /* INE_UNIXSOCK_H */
