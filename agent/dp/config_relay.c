// SPDX-License-Identifier: GPL-2.0
/* config_relay.c — cluster configuration → relay_config (see the header). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dp/config_relay.h"

static bool numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* A node's address is "ip" or "ip:port" / "[v6]:port" (port = its 3342). */
static int node_addr(const struct config_node *n, struct relay_config_node *rn,
		     char *err, size_t errlen)
{
	uint16_t port = 0;

	if (numeric(n->address)) {
		snprintf(rn->addr, sizeof(rn->addr), "%s", n->address);
	} else if (config_hostport_parse(n->address, rn->addr, sizeof(rn->addr), &port) ||
		   !numeric(rn->addr)) {
		snprintf(err, errlen, "node %u (%s): address \"%s\" is not a numeric IP "
			 "address the relay can connect to", n->id, n->name, n->address);
		return -EINVAL;
	}
	rn->dp_port = port;
	return 0;
}

int config_relay_build(const struct config *cfg, uint32_t self, struct config_relay *out,
		       char *err, size_t errlen)
{
	size_t i, t, n_targets = 0;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cfg->n_bdbs; i++)
		n_targets += cfg->bdbs[i].n_targets;
	out->nodes = calloc(cfg->n_nodes + 1, sizeof(*out->nodes));
	out->dbs = calloc(cfg->n_bdbs + 1, sizeof(*out->dbs));
	out->routes = calloc(cfg->n_routes + 1, sizeof(*out->routes));
	out->targets = calloc(n_targets + 1, sizeof(*out->targets));
	if (!out->nodes || !out->dbs || !out->routes || !out->targets)
		goto err;
	out->rc.self_node = self;
	for (i = 0; i < cfg->n_nodes; i++) {
		struct relay_config_node *rn = &out->nodes[i];

		rn->id = cfg->nodes[i].id;
		snprintf(rn->name, sizeof(rn->name), "%s", cfg->nodes[i].name);
		if ((rc = node_addr(&cfg->nodes[i], rn, err, errlen)))
			goto err;
	}
	out->rc.n_nodes = cfg->n_nodes;
	for (i = 0; i < cfg->n_bdbs; i++) {
		const struct config_bdb *b = &cfg->bdbs[i];

		out->dbs[i].id = b->id;
		out->dbs[i].data_internode_encryption = b->encrypt;
		for (t = 0; t < b->n_targets; t++) {
			struct relay_config_target *rt = &out->targets[out->rc.n_targets];

			if (b->targets[t].node != self)
				continue;
			rt->db = b->id;
			snprintf(rt->name, sizeof(rt->name), "%s", b->targets[t].name);
			snprintf(rt->addr, sizeof(rt->addr), "%s", b->targets[t].host);
			rt->port = b->targets[t].port;
			out->rc.n_targets++;
		}
	}
	out->rc.n_dbs = cfg->n_bdbs;
	for (i = 0; i < cfg->n_routes; i++) {
		const struct config_route *r = &cfg->routes[i];
		struct relay_config_route *rr = &out->routes[out->rc.n_routes];

		if (r->node ? r->node != self : r->peer_node == self)
			continue;
		rr->db = r->bdb;
		rr->listen_port = r->listen_port;
		rr->peer_node = r->peer_node;
		snprintf(rr->target, sizeof(rr->target), "%s", r->target);
		out->rc.n_routes++;
	}
	out->rc.nodes = out->nodes;
	out->rc.dbs = out->dbs;
	out->rc.routes = out->routes;
	out->rc.targets = out->targets;
	return 0;
err:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	config_relay_free(out);
	return rc;
}

void config_relay_free(struct config_relay *cr)
{
	free(cr->nodes);
	free(cr->dbs);
	free(cr->routes);
	free(cr->targets);
	memset(cr, 0, sizeof(*cr));
}
