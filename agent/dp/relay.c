// SPDX-License-Identifier: GPL-2.0
/*
 * The relay object: route listeners and their configuration, accepting
 * connections in both roles, statistics. A connection's setup is in
 * relay_setup.c, its byte pump in relay_pump.c, its lifecycle in
 * relay_conn.c; relay_internal.h is the map.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <linux/ine.h>

#include "core/log.h"
#include "dp/relay_internal.h"
#include "tls/tls.h"

const char *relay_mode_str(enum relay_mode m)
{
	switch (m) {
	case RELAY_MODE_SETUP: return "setup";
	case RELAY_MODE_OFFLOADED: return "offloaded";
	case RELAY_MODE_SOFTWARE: return "software";
	case RELAY_MODE_PLAINTEXT: return "plaintext";
	}
	return "?";
}

/* ---- accepting ---- */

static void server_start(struct relay *r, int fd, struct tls_conn *tc)
{
	struct conn *c = relay_conn_new(r, false, -1, fd);

	if (!c) {
		tls_conn_free(tc);
		close(fd);
		return;
	}
	c->tc = tc;
	c->plaintext = !tc;
	c->st = CS_READ_HDR;
	relay_sock_peer_opts(fd);
	if (tc) {
		if (tc->peer_node_id > 0)
			c->peer = tc->peer_node_id;
		if (relay_conn_offload(c)) {
			relay_conn_abort(c, "kernel TLS install failed");
			return;
		}
	}
	relay_conn_register(c);
	if (relay_conn_events_init(c, 1)) {
		relay_conn_abort(c, "out of memory");
		return;
	}
	relay_conn_step(c);
}

void relay_accept_tls(void *relay, struct tls_conn *tc)
{
	server_start(relay, tc->fd, tc);
}

static void on_plain_accept(struct evconnlistener *l, evutil_socket_t fd,
			    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	server_start(arg, fd, NULL);
}

int relay_listen_plain(struct relay *r, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (route_sockaddr(addr ? addr : "", port, &ss, &sl))
		return -EINVAL;
	if (r->plain)
		evconnlistener_free(r->plain);
	r->plain = evconnlistener_new_bind(r->base, on_plain_accept, r,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC, 128,
					   (struct sockaddr *)&ss, sl);
	if (!r->plain) {
		int err = errno;

		log_err("relay: cannot listen on %s:%u (ine-plain): %s",
		        addr ? addr : "127.0.0.1", port, strerror(err));
		return -(err ? err : EADDRINUSE);
	}
	return 0;
}

static void on_route_accept(struct evconnlistener *l, evutil_socket_t fd,
			    struct sockaddr *sa, int salen, void *arg)
{
	struct route_listener *rl = arg;
	struct relay *r = rl->r;
	const struct relay_config_node *node;
	const struct relay_config_db *db;
	struct conn *c;
	int ret;

	(void)l;
	(void)sa;
	(void)salen;
	c = relay_conn_new(r, true, fd, -1);
	if (!c) {
		relay_sock_linger0(fd);
		close(fd);
		return;
	}
	c->route = rl->route;
	c->db = rl->route.db;
	c->peer = rl->route.peer_node;
	db = route_table_db(r->table, c->db);
	node = route_table_node(r->table, c->peer);
	if (!db || !node) {
		relay_conn_abort(c, "route no longer configured");
		return;
	}
	c->enc = db->data_internode_encryption;
	c->plaintext = !c->enc;
	{
		struct route_header h = { .db = c->db };
		int n;

		snprintf(h.name, sizeof(h.name), "%s", c->route.target);
		n = route_header_encode(&h, c->ctl, sizeof(c->ctl));
		if (n < 0) {
			relay_conn_abort(c, "bad route header");
			return;
		}
		c->ctl_len = n;
	}
	if (route_sockaddr(node->addr,
			   c->plaintext ? (node->plain_port ? node->plain_port : ROUTE_PLAIN_PORT)
					: (node->dp_port ? node->dp_port : ROUTE_DP_PORT),
			   &c->paddr, &c->paddr_len)) {
		relay_conn_abort(c, "bad node address");
		return;
	}
	ret = relay_conn_connect(c);
	if (ret)
		relay_conn_abort(c, strerror(-ret));
}

/* ---- configuration ---- */

static struct route_listener *rl_new(struct relay *r,
				     const struct relay_config_route *rt,
				     char *err, size_t errlen)
{
	struct route_listener *rl = calloc(1, sizeof(*rl));
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!rl || route_sockaddr(rt->listen_addr, rt->listen_port, &ss, &sl)) {
		free(rl);
		snprintf(err, errlen, "route on port %u: bad address", rt->listen_port);
		return NULL;
	}
	rl->r = r;
	rl->route = *rt;
	rl->l = evconnlistener_new_bind(r->base, on_route_accept, rl,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					LEV_OPT_CLOSE_ON_EXEC, 128,
					(struct sockaddr *)&ss, sl);
	if (!rl->l) {
		snprintf(err, errlen, "route of db %u: cannot listen on %s:%u: %s",
			 rt->db, rt->listen_addr[0] ? rt->listen_addr : "127.0.0.1",
			 rt->listen_port, strerror(errno));
		free(rl);
		return NULL;
	}
	return rl;
}

static void rl_free(struct route_listener *rl)
{
	if (!rl)
		return;
	evconnlistener_free(rl->l);
	free(rl);
}

static bool route_same(const struct relay_config_route *a,
		       const struct relay_config_route *b)
{
	return a->db == b->db && a->peer_node == b->peer_node &&
	       a->listen_port == b->listen_port &&
	       !strcmp(a->listen_addr, b->listen_addr) && !strcmp(a->target, b->target);
}

/* Does connection c still stand under table t? */
static bool conn_valid(const struct conn *c, const struct route_table *t)
{
	const struct relay_config_db *db = route_table_db(t, c->db);
	size_t i;

	if (c->st == CS_READ_HDR)
		return true;	/* not bound to a db yet: it will check t */
	if (!db || db->data_internode_encryption != c->enc)
		return false;
	if (c->client) {
		for (i = 0; i < route_table_n_routes(t); i++)
			if (route_same(route_table_route(t, i), &c->route))
				return true;
		return false;
	} else {
		const struct relay_config_target *tg =
			route_table_target(t, c->db, c->target.name);

		return tg && tg->port == c->target.port &&
		       !strcmp(tg->addr, c->target.addr);
	}
}

int relay_apply_config(struct relay *r, const struct relay_config *cfg,
		       char *err, size_t errlen)
{
	struct route_listener **rls = NULL;
	struct route_table *t;
	struct conn *c, *next;
	size_t i, j, n;
	int ret;

	ret = route_table_build(cfg, &t, err, errlen);
	if (ret)
		goto err_log;
	n = route_table_n_routes(t);
	rls = calloc(n ? n : 1, sizeof(*rls));
	if (!rls) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_table;
	}
	for (i = 0; i < r->n_rls; i++)
		r->rls[i]->keep = false;
	/* Keep a listening socket whose address stays: no window of refusals. */
	for (i = 0; i < n; i++) {
		const struct relay_config_route *rt = route_table_route(t, i);

		for (j = 0; j < r->n_rls; j++) {
			struct route_listener *o = r->rls[j];

			if (!o->keep && o->route.listen_port == rt->listen_port &&
			    !strcmp(o->route.listen_addr, rt->listen_addr)) {
				o->keep = true;
				rls[i] = o;
				break;
			}
		}
		if (!rls[i]) {
			rls[i] = rl_new(r, rt, err, errlen);
			if (!rls[i]) {
				ret = -EADDRINUSE;
				goto err_listeners;
			}
		}
	}
	/* Swap. */
	for (i = 0; i < n; i++)
		rls[i]->route = *route_table_route(t, i);
	for (i = 0; i < r->n_rls; i++)
		if (!r->rls[i]->keep)
			rl_free(r->rls[i]);
	free(r->rls);
	r->rls = rls;
	r->n_rls = n;
	route_table_free(r->table);
	r->table = t;
	for (c = r->conns; c; c = next) {
		next = c->next;
		if (!conn_valid(c, t)) {
			r->st.disconnected++;
			relay_conn_abort(c, "configuration changed");
		}
	}
	return 0;

err_listeners:
	for (i = 0; i < n; i++) {
		bool old = false;

		for (j = 0; j < r->n_rls; j++)
			old |= rls[i] == r->rls[j];
		if (!old)
			rl_free(rls[i]);
	}
	free(rls);
err_table:
	route_table_free(t);
err_log:
	log_err("relay: configuration not applied: %s", err);
	return ret;
}

/* ---- object ---- */

struct relay *relay_new(struct event_base *base, SSL_CTX *client_ctx,
			const struct relay_hooks *hooks)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = base;
	r->cctx = client_ctx;
	r->key_limit = INE_KEY_WARN_RECORDS_DEFAULT;
	if (hooks)
		r->hooks = *hooks;
	return r;
}

void relay_set_client_ctx(struct relay *r, SSL_CTX *client_ctx)
{
	r->cctx = client_ctx;
}

void relay_free(struct relay *r)
{
	size_t i;

	if (!r)
		return;
	while (r->conns)
		relay_conn_free(r->conns, true);
	for (i = 0; i < r->n_rls; i++)
		rl_free(r->rls[i]);
	free(r->rls);
	if (r->plain)
		evconnlistener_free(r->plain);
	route_table_free(r->table);
	free(r);
}

void relay_get_stats(const struct relay *r, struct relay_stats *st)
{
	const struct conn *c;

	*st = r->st;
	st->setup = st->offloaded = st->software = st->plaintext = 0;
	st->ktls_tx = st->ktls_rx = 0;
	for (c = r->conns; c; c = c->next) {
		if (c->st != CS_PUMP)
			st->setup++;
		else if (c->mode == RELAY_MODE_OFFLOADED)
			st->offloaded++;
		else if (c->mode == RELAY_MODE_SOFTWARE)
			st->software++;
		else
			st->plaintext++;
		st->ktls_tx += c->ktls_tx;
		st->ktls_rx += c->ktls_rx;
	}
}

int relay_retire_fd(struct relay *r, int fd, const char *why)
{
	for (struct conn *c = r->conns; c; c = c->next)
		if (!c->plaintext && c->pfd == fd) {
			relay_conn_abort(c, why);
			return 0;
		}
	return -ENOENT;
}

void relay_set_key_limit(struct relay *r, uint64_t records)
{
	r->key_limit = records ? records : INE_KEY_WARN_RECORDS_DEFAULT;
}
