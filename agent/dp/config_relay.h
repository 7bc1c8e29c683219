/* SPDX-License-Identifier: GPL-2.0 */
/* config_relay.h — the relay's view of the cluster configuration.
 *
 * relay_apply_config() (relay.h) takes a flat relay_config for one node:
 * every node's data-plane address, every database's encryption flag, the
 * routes that listen on this node and the targets that live on it (the
 * receiving side's allowlist).  config_relay_build() derives it from the
 * cluster configuration each time a new one is swapped in. */
#ifndef INE_CONFIG_RELAY_H
#define INE_CONFIG_RELAY_H

#include "core/config.h"
#include "dp/route.h"

struct config_relay {
	struct relay_config rc;          /* what relay_apply_config takes */
	struct relay_config_node *nodes;
	struct relay_config_db *dbs;
	struct relay_config_route *routes;
	struct relay_config_target *targets;
};

/* For node `self`: routes with node == self (or node 0 and a peer other
 * than self); targets of every database that live on self.  -EINVAL with
 * err naming the node whose address the relay cannot use. */
int config_relay_build(const struct config *cfg, uint32_t self, struct config_relay *out,
		       char *err, size_t errlen);
void config_relay_free(struct config_relay *cr);

#endif /* INE_CONFIG_RELAY_H */
