// SPDX-License-Identifier: GPL-2.0
/* test_config_relay.c — the relay's per-node view of the configuration. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "dp/config_relay.h"

static const char cfg_json[] =
	"{\"version\": 3, \"cluster\": {\"id\": \"c\", \"name\": \"c\"},"
	" \"nodes\": [{\"uid\": 1, \"name\": \"n1\", \"address\": \"10.77.0.1\"},"
	"             {\"uid\": 2, \"name\": \"n2\", \"address\": \"10.77.0.2:3342\"},"
	"             {\"uid\": 3, \"name\": \"n3\", \"address\": \"[fd00::3]:4000\"}],"
	" \"bdbs\": [{\"uid\": 1, \"name\": \"db1\", \"data_internode_encryption\": true,"
	"            \"targets\": [{\"name\": \"s1\", \"node\": 2, \"address\": \"127.0.0.1:6379\"},"
	"                          {\"name\": \"s3\", \"node\": 3, \"address\": \"127.0.0.1:6380\"}]},"
	"           {\"uid\": 2, \"name\": \"db2\", \"data_internode_encryption\": false,"
	"            \"targets\": [{\"name\": \"p\", \"node\": 1, \"address\": \"127.0.0.1:7000\"}]}],"
	" \"routes\": [{\"uid\": 1, \"bdb\": 1, \"node\": 1, \"listen_port\": 16379, \"peer_node\": 2, \"target\": \"s1\"},"
	"             {\"uid\": 2, \"bdb\": 1, \"listen_port\": 16380, \"peer_node\": 3, \"target\": \"s3\"},"
	"             {\"uid\": 3, \"bdb\": 2, \"listen_port\": 17000, \"peer_node\": 1, \"target\": \"p\"}]}";

static struct config *load(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	struct config *c = NULL;
	char err[CONFIG_ERR_MAX] = "";

	cr_assert(j != NULL, "%s", je.text);
	cr_assert_eq(config_from_json(j, &c, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	return c;
}

Test(config_relay, node1_view)
{
	struct config *c = load(cfg_json);
	struct config_relay cr;
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(config_relay_build(c, 1, &cr, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cr.rc.self_node, 1u);
	cr_assert_eq(cr.rc.n_nodes, 3);
	cr_expect_str_eq(cr.rc.nodes[1].addr, "10.77.0.2");
	cr_expect_eq(cr.rc.nodes[1].dp_port, 3342);
	cr_expect_str_eq(cr.rc.nodes[2].addr, "fd00::3");
	cr_expect_eq(cr.rc.nodes[2].dp_port, 4000);
	cr_expect_eq(cr.rc.nodes[0].dp_port, 0);
	cr_assert_eq(cr.rc.n_dbs, 2);
	cr_expect(cr.rc.dbs[0].data_internode_encryption);
	cr_expect_not(cr.rc.dbs[1].data_internode_encryption);
	/* Route 1 (node 1) and route 2 (every node but 3); not route 3 (peer 1). */
	cr_assert_eq(cr.rc.n_routes, 2);
	cr_expect_eq(cr.rc.routes[0].listen_port, 16379);
	cr_expect_eq(cr.rc.routes[1].listen_port, 16380);
	cr_expect_str_eq(cr.rc.routes[1].target, "s3");
	/* Only targets living on node 1. */
	cr_assert_eq(cr.rc.n_targets, 1);
	cr_expect_str_eq(cr.rc.targets[0].name, "p");
	cr_expect_eq(cr.rc.targets[0].db, 2u);
	cr_expect_eq(cr.rc.targets[0].port, 7000);
	config_relay_free(&cr);
	config_free(c);
}

Test(config_relay, node3_view)
{
	struct config *c = load(cfg_json);
	struct config_relay cr;
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(config_relay_build(c, 3, &cr, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cr.rc.n_routes, 1);  /* route 3 only: route 2's peer is us */
	cr_expect_eq(cr.rc.routes[0].listen_port, 17000);
	cr_assert_eq(cr.rc.n_targets, 1);
	cr_expect_str_eq(cr.rc.targets[0].name, "s3");
	cr_expect_str_eq(cr.rc.targets[0].addr, "127.0.0.1");
	config_relay_free(&cr);
	config_free(c);
}

Test(config_relay, refuses_a_name_address)
{
	struct config *c = load(cfg_json);
	struct config_relay cr;
	char err[CONFIG_ERR_MAX] = "";

	snprintf(c->nodes[1].address, sizeof(c->nodes[1].address), "node2.example");
	cr_expect_eq(config_relay_build(c, 1, &cr, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "node 2 (n2)") && strstr(err, "node2.example"), "%s", err);
	config_free(c);
}
