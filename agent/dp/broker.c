// SPDX-License-Identifier: GPL-2.0
/*
 * broker.c - libine's agent side (see broker.h): the Unix socket, who may
 * use it, requests, following the configuration.  The map of the other
 * files is broker_internal.h.
 *
 * Threat model of the socket: any local process that can reach it.  The
 * file's mode and group keep strangers from connecting at all; the
 * allowlist is checked on SO_PEERCRED at accept (a refused caller gets its
 * -EACCES at once and holds nothing); a caller that connects and sends
 * nothing is dropped after BROKER_REQUEST_TIMEOUT_S, and no more than
 * BROKER_MAX_PENDING of them are held at any time.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>

#include "dp/broker_internal.h"
#include "core/config.h"
#include "core/log.h"
#include "core/unixsock.h"
#include "daemon/daemon.h"

/* Refusals at accept are logged at most once a second (a local flood must
 * not flood the journal); the rest are counted into the next line. */
static void log_refusal(const char *why, uid_t uid, gid_t gid)
{
	static time_t last;
	static unsigned long quiet;
	time_t now = time(NULL);

	if (now == last) {
		quiet++;
		return;
	}
	last = now;
	log_msg(LOG_LVL_WARN, "broker: refused uid %d gid %d: %s (%lu more refusals not "
		"logged)", (int)uid, (int)gid, why, quiet);
	quiet = 0;
}

/* An answer without a request (refused at accept), then close. */
static void refuse(int fd, int err, const char *msg)
{
	uint8_t buf[BROKER_REPLY_MAX];
	int n = broker_reply_encode(err, 0, msg, buf, sizeof(buf));

	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_msg(LOG_LVL_DEBUG, "broker: refusing a caller: %s", strerror(errno));
	/* A request left unread when the socket closes resets the caller's
	 * end, and its read then fails before it finds the refusal: stop it
	 * sending (its send gets EPIPE, which libine expects), then read off
	 * what it sent already. */
	shutdown(fd, SHUT_RD);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(fd);
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
		broker_conn_fail(c, -EBADMSG, "malformed broker request");
		return;
	}
	broker_conn_start(c);
}

static void on_request_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	broker_conn_fail(arg, -ETIMEDOUT, "no request within %d s", BROKER_REQUEST_TIMEOUT_S);
}

static void accept_one(struct broker *b, int fd)
{
	struct ucred cr = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct timeval tv = { BROKER_REQUEST_TIMEOUT_S, 0 };
	socklen_t cl = sizeof(cr);
	struct bconn *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
	    !broker_allowed(b->allow, b->n_allow, cr.uid, cr.gid)) {
		log_refusal("not on the allowlist (INE_BROKER_ALLOW)", cr.uid, cr.gid);
		refuse(fd, -EACCES, "this user is not allowed to use the ine broker "
		       "(ined's INE_BROKER_ALLOW)");
		return;
	}
	if (b->n_pending >= BROKER_MAX_PENDING) {
		log_refusal("too many connections waiting to send their request", cr.uid,
			    cr.gid);
		refuse(fd, -EBUSY, "the ine broker is busy: too many connections waiting "
		       "to send a request");
		return;
	}
	c = broker_conn_new(b, fd, cr.uid, cr.gid);
	if (!c) {
		close(fd);
		return;
	}
	c->ev = event_new(b->base, fd, EV_READ, on_request, c);
	c->timer = evtimer_new(b->base, on_request_timeout, c);
	if (!c->ev || !c->timer || event_add(c->ev, NULL) || evtimer_add(c->timer, &tv))
		broker_conn_free(c);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;

	(void)fd;
	(void)what;
	event_add(b->lev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct broker *b = arg;
	int fd;

	(void)what;
	/* A bounded batch: the loop's other work is not starved by a flood. */
	for (int i = 0; i < 16; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			struct timeval tv = { 0, BROKER_EMFILE_PAUSE_MS * 1000 };

			if (errno != EMFILE && errno != ENFILE)
				return;
			/* The connection stays queued and lfd readable: pause
			 * accepting instead of spinning on it. */
			log_refusal("out of file descriptors; pausing accept", (uid_t)-1,
				    (gid_t)-1);
			event_del(b->lev);
			evtimer_add(b->lretry, &tv);
			return;
		}
		accept_one(b, fd);
	}
}

/* A db's encryption changed or it went away: connections set up (or being
 * set up) under the old policy end; none goes live in the old mode. */
static void on_config(void *arg, const struct config *old, const struct config *cur)
{
	struct broker *b = arg;
	struct bconn *c, *next;
	char why[96];

	(void)old;
	for (c = b->conns; c; c = next) {
		const struct config_bdb *n;

		next = c->next;
		if (c->st == B_REQUEST)
			continue;	/* reads the policy when its request comes */
		n = config_bdb_find(cur, c->req.db);
		if (n && n->encrypt == c->encrypt)
			continue;
		snprintf(why, sizeof(why), n ? "db %u's data_internode_encryption changed" :
			 "db %u was removed", c->req.db);
		broker_conn_abort(c, why);
	}
}

int broker_new(struct daemon *d, const struct broker_opts *o, struct broker **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = o->path ? o->path : BROKER_SOCKET;
	bool group = o->sock_gid != (gid_t)-1 && o->sock_gid != 0;
	struct broker *b;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->d = d;
	b->base = daemon_base(d);
	b->ctx_new = o->ctx_new;
	b->ctx_arg = o->ctx_arg;
	b->dp_port = o->dp_port;
	b->plain_port = o->plain_port;
	b->record_limit = o->record_limit ? o->record_limit : BROKER_RECORD_LIMIT;
	b->n_allow = o->n_allow < BROKER_MAX_ALLOW ? o->n_allow : BROKER_MAX_ALLOW;
	if (b->n_allow)
		memcpy(b->allow, o->allow, b->n_allow * sizeof(*b->allow));
	snprintf(b->path, sizeof(b->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	b->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->lfd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = unixsock_clear_stale(path, SOCK_SEQPACKET);
	if (rc) {
		log_msg(LOG_LVL_ERR, "broker: %s: %s", path, rc == -EADDRINUSE ?
			"another ined answers on it; not taking it over" :
			"exists and is not a socket (or cannot be removed)");
		goto err_close;
	}
	if (bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto err_close;
	}
	/* Owner root; the broker group (if any) may connect; nobody else. */
	if ((group && chown(path, (uid_t)-1, o->sock_gid)) ||
	    chmod(path, group ? 0660 : 0600) || listen(b->lfd, 64)) {
		rc = -errno;
		goto err_unlink;
	}
	b->lev = event_new(b->base, b->lfd, EV_READ | EV_PERSIST, on_accept, b);
	b->lretry = evtimer_new(b->base, on_retry, b);
	if (!b->lev || !b->lretry || event_add(b->lev, NULL)) {
		rc = -ENOMEM;
		goto err_unlink;
	}
	rc = daemon_watch_add(d, on_config, NULL, b);
	if (rc)
		goto err_unlink;
	*out = b;
	return 0;
err_unlink:
	if (b->lretry)
		event_free(b->lretry);
	if (b->lev)
		event_free(b->lev);
	unlink(path);
err_close:
	close(b->lfd);
err_free:
	free(b);
	return rc;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	while (b->conns)
		broker_conn_free(b->conns);
	event_free(b->lretry);
	event_free(b->lev);
	close(b->lfd);
	unlink(b->path);
	free(b);
}

/* INE_BROKER_GROUP: a group name or number; unset: "ine" if it exists. */
static int group_of(const char *s, gid_t *gid, char *err, size_t errlen)
{
	struct group *g;
	char *end;
	unsigned long v;

	*gid = (gid_t)-1;
	if (!s || !*s) {
		g = getgrnam("ine");
		if (g)
			*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*end && !errno && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	g = getgrnam(s);
	if (!g) {
		snprintf(err, errlen, "INE_BROKER_GROUP: no group '%s'", s);
		return -EINVAL;
	}
	*gid = g->gr_gid;
	return 0;
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
	if (rc < 0 || group_of(getenv("INE_BROKER_GROUP"), &o.sock_gid, err, sizeof(err))) {
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
	log_msg(LOG_LVL_INFO, "broker (libine) on %s (mode %s), %zu allowlist entries "
		"besides root", o.path ? o.path : BROKER_SOCKET,
		o.sock_gid != (gid_t)-1 && o.sock_gid ? "0660, group INE_BROKER_GROUP" :
		"0600, root only: no broker group", o.n_allow);
	return b;
}
