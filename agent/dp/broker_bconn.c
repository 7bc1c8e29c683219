// SPDX-License-Identifier: GPL-2.0
/* broker_bconn.c - a brokered connection's memory: made at accept
 * (broker.c), freed by whoever ends it (setup in broker_conn.c, the pump in
 * broker_pump.c, broker_free); it calls into neither, so the arrows between
 * the broker's files go one way. */
#include <stdlib.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <event2/event.h>

#include "dp/broker_internal.h"
#include "daemon/daemon.h"
#include "inenl/inenl.h"
#include "tls/tls.h"
#include "tls/tlsio.h"

struct bconn *broker_conn_new(struct broker *b, int ufd, uid_t uid, gid_t gid)
{
	struct bconn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->b = b;
	c->ufd = ufd;
	c->pfd = c->sfd = -1;
	c->uid = uid;
	c->gid = gid;
	c->st = B_REQUEST;
	b->n_pending++;
	c->next = b->conns;
	b->conns = c;
	return c;
}

void broker_conn_free(struct bconn *c)
{
	struct broker *b = c->b;
	struct bconn **pp;

	for (pp = &b->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->st == B_REQUEST)
		b->n_pending--;
	if (c->registered && daemon_nl(b->d))
		inenl_session_del(daemon_nl(b->d), 0, c->pfd);
	if (c->ev)
		event_free(c->ev);
	if (c->timer)
		event_free(c->timer);
	if (c->srev)
		event_free(c->srev);
	if (c->swev)
		event_free(c->swev);
	if (c->prev)
		event_free(c->prev);
	if (c->pwev)
		event_free(c->pwev);
	tls_conn_free(c->tc);
	tls_ctx_free(c->ctx);
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

