// SPDX-License-Identifier: GPL-2.0
/* broker.c - libine's agent side (see broker.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "dp/broker.h"
#include "dp/tls_keyguard.h"
#include "core/config.h"
#include "daemon/daemon.h"
#include "inenl/inenl.h"
#include "tls/ktls.h"
#include "core/log.h"
#include "dp/route.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

#define SETUP_TIMEOUT_S	15
#define PUMP_BUF	(64 << 10)

enum bst { B_CONNECT, B_HANDSHAKE, B_SEND_HDR, B_WAIT_REPLY, B_LIVE };

/* One request in progress, then one brokered connection. */
struct bconn {
	struct broker *b;
	struct bconn *next;
	int ufd;			/* the app's request socket; -1 after reply */
	struct broker_req req;
	bool denied;
	uid_t uid;
	gid_t gid;
	enum bst st;
	enum broker_mode mode;
	int pfd;			/* the data-plane socket (agent's reference) */
	int sfd;			/* software: agent's end of the socketpair */
	struct tls_conn *tc;
	bool registered;
	struct event *ev, *timer;
	struct event *sev, *pwev, *swev;	/* software pump */
	uint8_t ctl[ROUTE_REPLY_MAX];
	size_t ctl_len, ctl_off;
	/* software pump: a = app -> peer, p = peer -> app */
	uint8_t *abuf, *pbuf;
	size_t aoff, alen, poff, plen;
	bool aeof, ashut, peof, pshut;
};

struct broker {
	struct daemon *d;
	struct event_base *base;
	int lfd;
	struct event *lev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct broker_allow allow[BROKER_MAX_ALLOW];
	size_t n_allow;
	SSL_CTX *(*ctx_new)(void *arg);
	void *ctx_arg;
	uint16_t dp_port;
	SSL_CTX *ctx;
	struct bconn *conns;
};

/* ---- wire format ---- */

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

int broker_req_parse(const uint8_t *buf, size_t len, struct broker_req *r)
{
	size_t nl;

	if (len < BROKER_REQ_FIXED || memcmp(buf, BROKER_MAGIC, 4) ||
	    buf[4] != BROKER_VERSION || (buf[5] != BROKER_OP_CONNECT &&
	    buf[5] != BROKER_OP_LISTEN) || buf[6] || buf[7])
		return -EBADMSG;
	nl = buf[16];
	if (len != BROKER_REQ_FIXED + nl || !route_name_valid((const char *)buf + 17, nl))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->op = buf[5];
	r->node = get32(buf + 8);
	r->db = get32(buf + 12);
	memcpy(r->name, buf + 17, nl);
	return 0;
}

int broker_req_encode(const struct broker_req *r, uint8_t *buf, size_t size)
{
	size_t nl = strnlen(r->name, sizeof(r->name));

	if (!route_name_valid(r->name, nl) || size < BROKER_REQ_FIXED + nl ||
	    (r->op != BROKER_OP_CONNECT && r->op != BROKER_OP_LISTEN))
		return -EINVAL;
	memcpy(buf, BROKER_MAGIC, 4);
	buf[4] = BROKER_VERSION;
	buf[5] = r->op;
	buf[6] = buf[7] = 0;
	put32(buf + 8, r->node);
	put32(buf + 12, r->db);
	buf[16] = (uint8_t)nl;
	memcpy(buf + 17, r->name, nl);
	return (int)(BROKER_REQ_FIXED + nl);
}

int broker_reply_encode(int err, uint8_t mode, const char *msg, uint8_t *buf,
			size_t size)
{
	size_t ml = msg ? strlen(msg) : 0;

	if (ml > 255)
		ml = 255;
	if (size < BROKER_REPLY_FIXED + ml || err > 0)
		return -EINVAL;
	memcpy(buf, BROKER_MAGIC, 4);
	buf[4] = BROKER_VERSION;
	buf[5] = mode;
	put32(buf + 6, (uint32_t)err);
	buf[10] = (uint8_t)ml;
	if (ml)
		memcpy(buf + 11, msg, ml);
	return (int)(BROKER_REPLY_FIXED + ml);
}

/* ---- allowlist ---- */

int broker_allow_parse(const char *s, struct broker_allow *out, size_t max,
		       char *err, size_t errlen)
{
	char *copy = strdup(s ? s : ""), *tok, *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct broker_allow a = { 0 };
		const char *v = tok;
		char *end;
		unsigned long id;

		if (!strncmp(tok, "gid:", 4)) {
			a.gid = true;
			v = tok + 4;
		} else if (!strncmp(tok, "uid:", 4)) {
			v = tok + 4;
		}
		errno = 0;
		id = strtoul(v, &end, 10);
		if (*v && !*end && !errno && id <= UINT32_MAX) {
			a.id = (uint32_t)id;
		} else if (a.gid) {
			struct group *g = getgrnam(v);

			if (!g) {
				snprintf(err, errlen, "broker allowlist: no group '%s'", v);
				rc = -EINVAL;
				break;
			}
			a.id = g->gr_gid;
		} else {
			struct passwd *p = getpwnam(v);

			if (!p) {
				snprintf(err, errlen, "broker allowlist: no user '%s'", v);
				rc = -EINVAL;
				break;
			}
			a.id = p->pw_uid;
		}
		if (n == max) {
			snprintf(err, errlen, "broker allowlist: more than %zu entries", max);
			rc = -EINVAL;
			break;
		}
		out[n++] = a;
	}
	free(copy);
	return rc ? rc : (int)n;
}

bool broker_allowed(const struct broker_allow *a, size_t n, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (a[i].gid ? a[i].id == gid : a[i].id == uid)
			return true;
	return false;
}

/* ---- connections ---- */

static void bconn_free(struct bconn *c)
{
	struct broker *b = c->b;
	struct bconn **pp;

	for (pp = &b->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->registered && b->d->nl)
		inenl_session_del(b->d->nl, 0, c->pfd);
	if (c->ev)
		event_free(c->ev);
	if (c->timer)
		event_free(c->timer);
	if (c->sev)
		event_free(c->sev);
	if (c->pwev)
		event_free(c->pwev);
	if (c->swev)
		event_free(c->swev);
	tls_conn_free(c->tc);
	if (c->pfd >= 0)
		close(c->pfd);
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free(c->abuf);
	free(c->pbuf);
	OPENSSL_cleanse(c->ctl, sizeof(c->ctl));
	free(c);
}

/* Answer the app (fd < 0: an error) and drop the request socket. */
static void reply(struct bconn *c, int err, int fd, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply(struct bconn *c, int err, int fd, const char *fmt, ...)
{
	uint8_t buf[BROKER_REPLY_MAX];
	char msg[256] = "";
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	va_list ap;
	int n;

	if (c->ufd < 0)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (err)
		log_msg(LOG_LVL_WARN, "broker: refusing db %u target '%s' on node %u: %s",
			c->req.db, c->req.name, c->req.node, msg);
	n = broker_reply_encode(err, err ? 0 : c->mode, msg, buf, sizeof(buf));
	if (n < 0)
		goto out;
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	if (!err && fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
	}
	if (sendmsg(c->ufd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg(LOG_LVL_WARN, "broker: replying to the application: %s",
			strerror(errno));
out:
	close(c->ufd);
	c->ufd = -1;
}

static void fail(struct bconn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct bconn *c, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply(c, err, -1, "%s", msg);
	bconn_free(c);
}

static void on_peer(evutil_socket_t fd, short what, void *arg);

static int watch(struct bconn *c, short what)
{
	if (c->ev)
		event_free(c->ev);
	c->ev = event_new(c->b->base, c->pfd, what, on_peer, c);
	return c->ev && !event_add(c->ev, NULL) ? 0 : -ENOMEM;
}

static void do_register(struct bconn *c)
{
	struct daemon *d = c->b->d;
	const struct config_node *n = config_node_find(d->cfg, c->req.node);
	static const uint8_t state[] = {
		[BROKER_MODE_OFFLOADED] = INE_STATE_OFFLOADED,
		[BROKER_MODE_SOFTWARE] = INE_STATE_SOFTWARE,
		[BROKER_MODE_PLAINTEXT] = INE_STATE_PLAINTEXT,
	};
	struct inenl_session_add a = {
		.fd = c->pfd, .plane = INE_PLANE_DATA, .state = state[c->mode],
		.db_id = c->req.db, .peer_node_id = c->req.node,
		.peer_name = n ? n->name : NULL,
	};
	int rc;

	if (!d->nl)
		return;
	rc = inenl_session_add(d->nl, &a, NULL);
	if (rc)
		log_msg(LOG_LVL_WARN, "broker: registering db %u session to node %u with "
			"ine.ko: %s", c->req.db, c->req.node, strerror(-rc));
	else
		c->registered = true;
}

/* ---- software pump (no kernel TLS): socketpair end <-> OpenSSL ---- */

static void on_pump(evutil_socket_t fd, short what, void *arg);

static void pump(struct bconn *c)
{
	bool progress = true;
	ssize_t n;

	while (progress) {
		progress = false;
		/* app -> peer */
		if (!c->alen && !c->aeof) {
			n = read(c->sfd, c->abuf, PUMP_BUF);
			if (n > 0) {
				c->aoff = 0;
				c->alen = (size_t)n;
				progress = true;
			} else if (n == 0) {
				c->aeof = progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				goto dead;
			}
		}
		if (c->alen) {
			n = tlsio_write(c->tc, c->abuf + c->aoff, c->alen - c->aoff);
			if (n > 0) {
				c->aoff += (size_t)n;
				if (c->aoff == c->alen)
					c->alen = 0;
				progress = true;
			} else if (n != -EAGAIN) {
				goto dead;
			}
		}
		if (c->aeof && !c->alen && !c->ashut) {
			n = tlsio_shutdown(c->tc);
			if (n == 0) {
				shutdown(c->pfd, SHUT_WR);
				c->ashut = progress = true;
			} else if (n != -EAGAIN) {
				goto dead;
			}
		}
		/* peer -> app */
		if (!c->plen && !c->peof) {
			n = tlsio_read(c->tc, c->pbuf, PUMP_BUF);
			if (n > 0) {
				c->poff = 0;
				c->plen = (size_t)n;
				progress = true;
			} else if (n == 0 || n == -ECONNABORTED) {
				c->peof = progress = true;
			} else if (n != -EAGAIN) {
				goto dead;
			}
		}
		if (c->plen) {
			n = write(c->sfd, c->pbuf + c->poff, c->plen - c->poff);
			if (n > 0) {
				c->poff += (size_t)n;
				if (c->poff == c->plen)
					c->plen = 0;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				goto dead;
			}
		}
		if (c->peof && !c->plen && !c->pshut) {
			shutdown(c->sfd, SHUT_WR);
			c->pshut = progress = true;
		}
	}
	if (c->ashut && c->pshut) {
		bconn_free(c);
		return;
	}
	/* Wait: reading both ends always (persist); writing only when blocked. */
	if (c->plen)
		event_add(c->swev, NULL);
	else
		event_del(c->swev);
	if ((c->alen || (c->aeof && !c->ashut)) && c->tc->want == TLS_WANT_WRITE)
		event_add(c->pwev, NULL);
	else
		event_del(c->pwev);
	return;
dead:
	shutdown(c->sfd, SHUT_RDWR);
	bconn_free(c);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

/* ---- live brokered connections ---- */

static void on_closed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* RDHUP: the peer closed or the app shut the socket down (ine_close). */
	bconn_free(arg);
}

static void set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* Route reply OK: hand the socket over and keep our reference. */
static void go_live(struct bconn *c)
{
	struct broker *b = c->b;
	int sp[2] = { -1, -1 };

	c->st = B_LIVE;
	if (c->timer)
		event_del(c->timer);
	if (c->mode != BROKER_MODE_SOFTWARE) {
		/* The kernel holds the keys now; drop OpenSSL's copy. */
		tls_conn_free(c->tc);
		c->tc = NULL;
		/* The app gets a blocking socket; the agent does no I/O on it. */
		set_blocking(c->pfd);
		reply(c, 0, c->pfd, "%s", c->mode == BROKER_MODE_OFFLOADED ?
		      "kernel TLS both ways" : "plaintext (db encryption off)");
		if (c->ev)
			event_free(c->ev);
		c->ev = event_new(b->base, c->pfd, EV_CLOSED | EV_PERSIST, on_closed, c);
		if (!c->ev || event_add(c->ev, NULL))
			bconn_free(c);
		return;
	}
	c->abuf = malloc(PUMP_BUF);
	c->pbuf = malloc(PUMP_BUF);
	if (!c->abuf || !c->pbuf ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp)) {
		fail(c, -ENOMEM, "software TLS: out of resources");
		return;
	}
	c->sfd = sp[0];
	c->sev = event_new(b->base, c->sfd, EV_READ | EV_PERSIST, on_pump, c);
	c->swev = event_new(b->base, c->sfd, EV_WRITE | EV_PERSIST, on_pump, c);
	c->pwev = event_new(b->base, c->pfd, EV_WRITE | EV_PERSIST, on_pump, c);
	if (c->ev)
		event_free(c->ev);
	c->ev = event_new(b->base, c->pfd, EV_READ | EV_PERSIST, on_pump, c);
	if (!c->sev || !c->swev || !c->pwev || !c->ev || event_add(c->sev, NULL) ||
	    event_add(c->ev, NULL)) {
		close(sp[1]);
		fail(c, -ENOMEM, "software TLS: out of resources");
		return;
	}
	set_blocking(sp[1]);
	reply(c, 0, sp[1], "software TLS in the agent (no kernel TLS)");
	close(sp[1]);
	pump(c);
}

static int io(struct bconn *c, bool wr, void *buf, size_t len)
{
	ssize_t n;

	if (c->tc)
		n = wr ? tlsio_write(c->tc, buf, len) : tlsio_read(c->tc, buf, len);
	else if ((n = wr ? send(c->pfd, buf, len, MSG_NOSIGNAL) : recv(c->pfd, buf, len, 0)) < 0)
		n = -errno;
	if (n == 0 && !wr)
		return -ECONNRESET;
	return (int)n;
}

static short want_of(struct bconn *c, short dflt)
{
	if (c->tc && c->tc->want == TLS_WANT_WRITE)
		return EV_WRITE;
	if (c->tc && c->tc->want == TLS_WANT_READ)
		return EV_READ;
	return dflt;
}

static void step(struct bconn *c)
{
	char msg[256];
	uint8_t status;
	int rc, err = 0;
	socklen_t sl = sizeof(err);

	switch (c->st) {
	case B_CONNECT:
		if (getsockopt(c->pfd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
			fail(c, -EHOSTUNREACH, "connecting to node %u's agent: %s",
			     c->req.node, strerror(err ? err : errno));
			return;
		}
		if (c->mode == BROKER_MODE_PLAINTEXT) {
			c->st = B_SEND_HDR;
			goto hdr;
		}
		c->tc = tls_conn_new(c->b->ctx, c->pfd, false, TLS_ALPN_DP);
		if (!c->tc) {
			fail(c, -ENOMEM, "out of memory");
			return;
		}
		c->st = B_HANDSHAKE;
		/* fall through */
	case B_HANDSHAKE:
		rc = tls_conn_handshake(c->tc);
		if (rc == -EAGAIN)
			goto wait;
		if (rc) {
			fail(c, -ECONNREFUSED, "TLS handshake with node %u: %s", c->req.node,
			     c->tc->reason);
			return;
		}
		if (c->tc->peer_node_id >= 0 && (uint32_t)c->tc->peer_node_id != c->req.node) {
			fail(c, -EACCES, "node %u's address answered as node %ld",
			     c->req.node, c->tc->peer_node_id);
			return;
		}
		rc = keyguard_ktls_install(c->tc);
		if (rc) {
			fail(c, rc, "kernel TLS install: %s", c->tc->reason);
			return;
		}
		c->mode = c->tc->ktls_tx && c->tc->ktls_rx ? BROKER_MODE_OFFLOADED :
							   BROKER_MODE_SOFTWARE;
		SSL_set_mode(c->tc->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
			     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		c->st = B_SEND_HDR;
hdr:
		do_register(c);
		/* fall through */
	case B_SEND_HDR:
		while (c->ctl_off < c->ctl_len) {
			rc = io(c, true, c->ctl + c->ctl_off, c->ctl_len - c->ctl_off);
			if (rc == -EAGAIN)
				goto wait_w;
			if (rc < 0) {
				fail(c, rc, "sending the route header to node %u: %s",
				     c->req.node, strerror(-rc));
				return;
			}
			c->ctl_off += (size_t)rc;
		}
		c->st = B_WAIT_REPLY;
		c->ctl_len = 0;
		/* fall through */
	case B_WAIT_REPLY:
		for (;;) {
			size_t need = route_reply_need(c->ctl, c->ctl_len);

			if (need <= c->ctl_len)
				break;
			rc = io(c, false, c->ctl + c->ctl_len, need - c->ctl_len);
			if (rc == -EAGAIN)
				goto wait;
			if (rc < 0) {
				fail(c, -ECONNRESET, "node %u closed before answering: %s",
				     c->req.node, strerror(-rc));
				return;
			}
			c->ctl_len += (size_t)rc;
		}
		if (route_reply_parse(c->ctl, c->ctl_len, &status, msg) <= 0) {
			fail(c, -EBADMSG, "node %u sent a malformed route reply", c->req.node);
			return;
		}
		if (status != ROUTE_OK) {
			static const int err_of[] = {
				[ROUTE_ERR_UNKNOWN_DB] = -ENOENT,
				[ROUTE_ERR_NOT_ALLOWED] = -EACCES,
				[ROUTE_ERR_MODE] = -EPROTO,
				[ROUTE_ERR_CONNECT] = -ECONNREFUSED,
				[ROUTE_ERR_BAD_HEADER] = -EBADMSG,
				[ROUTE_ERR_BUSY] = -EBUSY,
			};
			fail(c, status < __ROUTE_STATUS_MAX ? err_of[status] : -EPROTO,
			     "node %u refused: %s: %s", c->req.node, route_status_str(status),
			     msg);
			return;
		}
		go_live(c);
		return;
	case B_LIVE:
		return;
	}
	return;
wait:
	if (watch(c, want_of(c, EV_READ)))
		fail(c, -ENOMEM, "out of memory");
	return;
wait_w:
	if (watch(c, want_of(c, EV_WRITE)))
		fail(c, -ENOMEM, "out of memory");
}

static void on_peer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;

	(void)fd;
	(void)what;
	fail(c, -ETIMEDOUT, "no answer from node %u within %d s", c->req.node,
	     SETUP_TIMEOUT_S);
}

static void do_connect(struct bconn *c)
{
	struct broker *b = c->b;
	const struct config *cfg = b->d->cfg;
	const struct config_node *n = config_node_find(cfg, c->req.node);
	const struct config_bdb *db = config_bdb_find(cfg, c->req.db);
	struct route_header h = { .db = c->req.db };
	struct sockaddr_storage ss;
	struct timeval tv = { SETUP_TIMEOUT_S, 0 };
	char host[CONFIG_ADDR_MAX];
	uint16_t port = 0;
	socklen_t sl;
	int rc;

	if (!n || c->req.node == b->d->self_node) {
		fail(c, -EHOSTUNREACH, "node %u is not a peer node of this cluster",
		     c->req.node);
		return;
	}
	if (!db) {
		fail(c, -ENOENT, "db %u is not configured", c->req.db);
		return;
	}
	if (config_hostport_parse(n->address, host, sizeof(host), &port) &&
	    snprintf(host, sizeof(host), "%s", n->address) >= (int)sizeof(host)) {
		fail(c, -EINVAL, "node %u's address '%s' is unusable", n->id, n->address);
		return;
	}
	c->mode = db->encrypt ? BROKER_MODE_NONE : BROKER_MODE_PLAINTEXT;
	if (db->encrypt) {
		if (!b->ctx && b->ctx_new)
			b->ctx = b->ctx_new(b->ctx_arg);
		if (!b->ctx) {
			fail(c, -ENOKEY, "this node has no data-plane certificate yet "
			     "(not a cluster member?)");
			return;
		}
		port = port ? port : b->dp_port ? b->dp_port : ROUTE_DP_PORT;
	} else {
		port = ROUTE_PLAIN_PORT;
	}
	if (route_sockaddr(host, port, &ss, &sl)) {
		fail(c, -EINVAL, "node %u's address '%s' is not numeric", n->id, host);
		return;
	}
	snprintf(h.name, sizeof(h.name), "%s", c->req.name);
	rc = route_header_encode(&h, c->ctl, sizeof(c->ctl));
	if (rc < 0) {
		fail(c, -EINVAL, "target name '%s' is invalid", c->req.name);
		return;
	}
	c->ctl_len = (size_t)rc;
	c->pfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->pfd < 0) {
		fail(c, -errno, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->pfd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail(c, -errno, "connecting to node %u (%s:%u): %s", n->id, host, port,
		     strerror(errno));
		return;
	}
	c->st = B_CONNECT;
	c->timer = evtimer_new(b->base, on_timeout, c);
	if (!c->timer || evtimer_add(c->timer, &tv) || watch(c, EV_WRITE))
		fail(c, -ENOMEM, "out of memory");
}

static void do_listen(struct bconn *c)
{
	struct broker *b = c->b;
	const struct config_bdb *db = config_bdb_find(b->d->cfg, c->req.db);
	const struct config_target *t = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (!db) {
		fail(c, -ENOENT, "db %u is not configured", c->req.db);
		return;
	}
	for (size_t i = 0; i < db->n_targets; i++)
		if (!strcmp(db->targets[i].name, c->req.name) &&
		    db->targets[i].node == b->d->self_node)
			t = &db->targets[i];
	if (!t) {
		fail(c, -EADDRNOTAVAIL, "db %u has no target '%s' on this node (%u)",
		     c->req.db, c->req.name, b->d->self_node);
		return;
	}
	if (route_sockaddr(t->host, t->port, &ss, &sl)) {
		fail(c, -EINVAL, "target '%s' address '%s' is not numeric", t->name, t->host);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 64)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		fail(c, -e, "listening on target '%s' (%s:%u): %s", t->name, t->host,
		     t->port, strerror(e));
		return;
	}
	c->mode = db->encrypt ? BROKER_MODE_OFFLOADED : BROKER_MODE_PLAINTEXT;
	reply(c, 0, fd, "listening on %s:%u", t->host, t->port);
	close(fd);
	bconn_free(c);
}

static void on_request(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;
	uint8_t buf[BROKER_REQ_MAX + 1];
	ssize_t n;

	(void)what;
	event_free(c->ev);
	c->ev = NULL;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n <= 0 || broker_req_parse(buf, (size_t)n, &c->req)) {
		fail(c, -EBADMSG, "malformed broker request");
		return;
	}
	if (c->denied) {
		fail(c, -EACCES, "uid %u gid %u is not allowed to use the ine broker "
		     "(ined's INE_BROKER_ALLOW)", (unsigned int)c->uid, (unsigned int)c->gid);
		return;
	}
	if (c->req.op == BROKER_OP_LISTEN)
		do_listen(c);
	else
		do_connect(c);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct broker *b = arg;
	struct ucred cr = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t cl = sizeof(cr);
	struct bconn *c;
	int fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->b = b;
	c->ufd = fd;
	c->pfd = c->sfd = -1;
	c->next = b->conns;
	b->conns = c;
	/* Checked when the request is in (refusing earlier would reset the
	 * connection under the caller's request and lose the reason). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
	    !broker_allowed(b->allow, b->n_allow, cr.uid, cr.gid))
		c->denied = true;
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->ev = event_new(b->base, fd, EV_READ, on_request, c);
	if (!c->ev || event_add(c->ev, NULL))
		bconn_free(c);
}

/* A db's encryption changed or it went away: close its brokered sockets. */
static void on_config(void *arg, const struct config *old, const struct config *cur)
{
	struct broker *b = arg;
	struct bconn *c, *next;

	for (c = b->conns; c; c = next) {
		const struct config_bdb *o, *n;

		next = c->next;
		if (c->st != B_LIVE || !old)
			continue;
		o = config_bdb_find(old, c->req.db);
		n = config_bdb_find(cur, c->req.db);
		if (o && n && o->encrypt == n->encrypt)
			continue;
		log_msg(LOG_LVL_INFO, "broker: db %u's encryption changed: closing its "
			"brokered connection to node %u", c->req.db, c->req.node);
		shutdown(c->pfd, SHUT_RDWR);
		if (c->sfd >= 0)
			shutdown(c->sfd, SHUT_RDWR);
		bconn_free(c);
	}
	if (b->ctx) {	/* credentials may have changed with the config */
		tls_ctx_free(b->ctx);
		b->ctx = NULL;
	}
}

int broker_new(struct daemon *d, const struct broker_opts *o, struct broker **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = o->path ? o->path : BROKER_SOCKET;
	struct broker *b;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->d = d;
	b->base = d->base;
	b->ctx_new = o->ctx_new;
	b->ctx_arg = o->ctx_arg;
	b->dp_port = o->dp_port;
	b->n_allow = o->n_allow < BROKER_MAX_ALLOW ? o->n_allow : BROKER_MAX_ALLOW;
	if (b->n_allow)
		memcpy(b->allow, o->allow, b->n_allow * sizeof(*b->allow));
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	b->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->lfd < 0) {
		rc = -errno;
		goto err_free;
	}
	unlink(path);
	if (bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) ||
	    listen(b->lfd, 64)) {
		rc = -errno;
		goto err_close;
	}
	b->lev = event_new(b->base, b->lfd, EV_READ | EV_PERSIST, on_accept, b);
	if (!b->lev || event_add(b->lev, NULL)) {
		rc = -ENOMEM;
		goto err_close;
	}
	rc = daemon_watch_add(d, on_config, NULL, b);
	if (rc)
		goto err_close;
	*out = b;
	return 0;
err_close:
	if (b->lev)
		event_free(b->lev);
	close(b->lfd);
	unlink(path);
err_free:
	free(b);
	return rc;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	while (b->conns)
		bconn_free(b->conns);
	event_free(b->lev);
	close(b->lfd);
	unlink(b->path);
	tls_ctx_free(b->ctx);
	free(b);
}

struct broker *broker_start(struct daemon *d, SSL_CTX *(*ctx_new)(void *arg), void *arg,
			    uint16_t dp_port)
{
	struct broker_allow allow[BROKER_MAX_ALLOW];
	struct broker_opts o = { .path = getenv("INE_BROKER_SOCKET"), .allow = allow,
				 .ctx_new = ctx_new, .ctx_arg = arg,
				 .dp_port = dp_port };
	struct broker *b = NULL;
	char err[160] = "";
	int rc;

	rc = broker_allow_parse(getenv("INE_BROKER_ALLOW"), allow, BROKER_MAX_ALLOW,
				err, sizeof(err));
	if (rc < 0) {
		log_msg(LOG_LVL_ERR, "broker: %s; libine disabled", err);
		return NULL;
	}
	o.n_allow = (size_t)rc;
	if (o.path) {
		;
	} else if (mkdir("/run/ine", 0755) && errno != EEXIST) {
		log_msg(LOG_LVL_ERR, "broker: /run/ine: %s; libine disabled", strerror(errno));
		return NULL;
	}
	rc = broker_new(d, &o, &b);
	if (rc) {
		log_msg(LOG_LVL_ERR, "broker on %s: %s; libine disabled",
			o.path ? o.path : BROKER_SOCKET, strerror(-rc));
		return NULL;
	}
	log_msg(LOG_LVL_INFO, "broker (libine) on %s, %zu allowlist entries besides root",
		o.path ? o.path : BROKER_SOCKET, o.n_allow);
	return b;
}
