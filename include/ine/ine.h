/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libine - encrypted internode sockets from the local ine agent (ined).
 *
 * An application asks the agent, over its local Unix socket, for a
 * connection to a target of a database on a peer node.  The agent connects
 * to the peer's agent (port 3342, ALPN ine-dp/1), does the TLS handshake
 * with this node's data-plane certificate, installs kernel TLS both ways,
 * registers the session with ine.ko and passes the connected socket back.
 * The application then read()s, write()s, sendfile()s or splice()s on it
 * like on any TCP socket: the kernel encrypts; no key ever enters the
 * application.  The peer's agent connects the stream to the target the
 * cluster configuration names for (db, target) on that node.
 *
 *   int fd = ine_connect(2, 1, "replica");
 *   if (fd < 0) { fprintf(stderr, "%s\n", ine_strerror(fd)); exit(1); }
 *   sendfile(fd, file, NULL, size);
 *   ine_close(fd);
 *
 * Modes (ine_info.mode): OFFLOADED - the fd is the kernel-TLS socket
 * itself; SOFTWARE - the kernel has no TLS: the fd is one end of a local
 * (loopback TCP) connection that the agent carries over OpenSSL;
 * PLAINTEXT - the db has data_internode_encryption off (the only case
 * without TLS).
 *
 * The end of a stream: read with ine_read()/ine_recv() and the mode does
 * not matter: 0 is a clean end (the peer's TLS close_notify; plaintext: its
 * FIN), and a cut stream is an error, never 0:
 *   -ECONNRESET  ended without close_notify (truncation, a reset, the key
 *                limit, or the agent closing it on a policy change)
 *   -EBADMSG     a TLS record failed authentication or was malformed
 *   -EPROTO      the peer sent a fatal TLS alert
 * A bare read() means the same in software and plaintext mode, but not on
 * an offloaded socket (there the kernel returns 0 on a bare FIN and EIO
 * on the close_notify).  Write with ine_write() (send with MSG_NOSIGNAL:
 * a closed stream is -EPIPE, never SIGPIPE); write(), sendfile() and
 * splice() work too but raise SIGPIPE unless the app ignores it.
 *
 * The agent keeps a reference to every socket it brokered: when the
 * database's encryption setting changes it ends the socket under the app
 * (ine_read: -ECONNRESET; writes -EPIPE) and the application reconnects in
 * the new mode; a connect in progress at that moment fails with
 * -ECONNABORTED.  Close brokered sockets with ine_close() (shutdown +
 * close): a bare close() leaves the connection up until the peer closes
 * it, because the agent still holds its reference.
 *
 * Key limit: after ~2^24.3 TLS records under one key (90 % of AES-GCM's
 * limit) the session ends (no transparent reconnect): what the agent
 * already took from the app is sent, then close_notify to the peer, and the
 * app's reads and writes fail with -ECONNRESET: it reconnects.
 *
 * Errors are negative errno values; ine_strerror() names them, and
 * ine_last_error() gives the agent's own sentence for the calling
 * thread's last failure.  Most useful ones:
 *   -EACCES       this user may not use the broker (ined's INE_BROKER_ALLOW),
 *                 or the peer does not allow that target
 *   -EHOSTUNREACH unknown node, or the node's agent cannot be reached
 *   -ENOENT       unknown database
 *   -EADDRNOTAVAIL (ine_listen) the db has no such target on this node
 *   -ECONNREFUSED the peer's target refused, or the TLS handshake failed
 *   -ENOTCONN     no agent broker socket (is ined running?)
 *   -ETIMEDOUT    no answer within the timeout
 *   -ECONNABORTED the db's encryption setting changed during the connect
 *   -EBUSY        the agent holds too many connections that sent nothing yet
 *
 * The broker socket is INE_BROKER_SOCKET from the environment, else
 * /run/ine/broker.sock.  All functions are thread-safe and blocking.
 */
#ifndef INE_INE_H
#define INE_INE_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INE_DEFAULT_SOCKET "/run/ine/broker.sock"

enum ine_mode {
	INE_MODE_NONE = 0,
	INE_MODE_OFFLOADED = 1,	/* kernel TLS both ways, fd is the TLS socket */
	INE_MODE_SOFTWARE = 2,	/* agent carries it over userspace TLS */
	INE_MODE_PLAINTEXT = 3,	/* db encryption is off */
};

struct ine_info {
	enum ine_mode mode;
	char message[256];	/* the agent's reply, e.g. why it refused */
};

/*
 * Connect to target `target` of database `db` on node `node` (node ids as
 * in the cluster configuration).  Returns a connected, blocking,
 * close-on-exec socket fd, or a negative errno.  info may be NULL.
 */
int ine_connect(uint32_t node, uint32_t db, const char *target);
int ine_connect_info(uint32_t node, uint32_t db, const char *target,
		     struct ine_info *info);

/*
 * Receive side: listen on this node's endpoint of target `target` of `db`
 * (the address the cluster configuration gives it).  The peer's agent
 * terminates TLS in the kernel and splices each incoming connection to it.
 * Returns a listening socket fd or a negative errno.
 */
int ine_listen(uint32_t db, const char *target);
/* Accept one connection on a listener from ine_listen(): fd or -errno. */
int ine_accept(int listener);

/*
 * End the sending direction (like shutdown(fd, SHUT_WR)): on a kernel-TLS
 * socket sends the TLS close_notify first, which the peer needs to tell a
 * clean end from a truncation.  Use it instead of shutdown().  0 or -errno.
 */
int ine_shutdown(int fd);

/* ine_shutdown, then shut down and close a socket from ine_connect/ine_accept. 0 or -errno. */
int ine_close(int fd);

/*
 * Read from a socket from ine_connect/ine_accept: bytes (> 0), 0 at the
 * clean end (close_notify; plaintext: FIN; 0 again on every later call),
 * or -ECONNRESET (cut: no close_notify), -EBADMSG (TLS record error),
 * -EPROTO (TLS alert), -EAGAIN, other -errno.  Same in every mode.
 * ine_recv takes recv(2)'s flags (MSG_DONTWAIT, MSG_PEEK, ...).
 */
ssize_t ine_read(int fd, void *buf, size_t len);
ssize_t ine_recv(int fd, void *buf, size_t len, int flags);
/* Write without SIGPIPE: bytes written (may be short), or -errno (-EPIPE
 * after the stream ended). */
ssize_t ine_write(int fd, const void *buf, size_t len);

/* "ine: ..." text for a negative errno from this library (never NULL). */
const char *ine_strerror(int err);
/* The agent's message for this thread's last failed call ("" if none). */
const char *ine_last_error(void);
const char *ine_mode_str(enum ine_mode m);

#ifdef __cplusplus
}
#endif
#endif
