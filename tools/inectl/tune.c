// SPDX-License-Identifier: GPL-2.0
/* tune.c — `inectl tune`, rladmin's grammar:
 *   inectl tune db <id> data_internode_encryption enabled|disabled
 *   inectl tune cluster data_internode_encryption enabled|disabled
 * → PUT /v1/bdbs/<id>, PUT /v1/cluster/policy. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static const char usage[] =
	"Usage: inectl tune db <id> data_internode_encryption enabled|disabled [--json]\n"
	"       inectl tune cluster data_internode_encryption enabled|disabled [--json]\n"
	"Changing a database's setting disconnects its active internode connections;\n"
	"they reconnect in the new mode. The cluster setting is the default for new\n"
	"databases.\n";

int inectl_tune(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	char path[64];
	const char *what, *onoff;
	json_t *body, *out = NULL;
	unsigned int id = 0;
	int on, rc;

	if (cli_help(argc, argv, usage))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(usage, "tune: say db or cluster");
	if (!strcmp(argv[1], "db")) {
		if (argc != 5)
			return cli_usage(usage, "tune db: expected <id> data_internode_encryption "
					 "enabled|disabled");
		if (!(id = cli_id(argv[2])))
			return cli_usage(usage, "tune db: '%s' is not a database id", argv[2]);
		what = argv[3];
		onoff = argv[4];
		snprintf(path, sizeof(path), "/v1/bdbs/%u", id);
	} else if (!strcmp(argv[1], "cluster")) {
		if (argc != 4)
			return cli_usage(usage, "tune cluster: expected data_internode_encryption "
					 "enabled|disabled");
		what = argv[2];
		onoff = argv[3];
		snprintf(path, sizeof(path), "/v1/cluster/policy");
	} else {
		return cli_usage(usage, "tune: unknown object '%s' (db or cluster)", argv[1]);
	}
	if (strcmp(what, "data_internode_encryption"))
		return cli_usage(usage, "tune: unknown setting '%s' (data_internode_encryption)",
				 what);
	if ((on = cli_onoff(onoff)) < 0)
		return cli_usage(usage, "tune: '%s' must be enabled or disabled", onoff);
	body = json_pack("{s:b}", "data_internode_encryption", on);
	rc = http_json("PUT", path, body, &out);
	json_decref(body);
	if (rc)
		return CLI_ERR;
	if (json)
		cli_print_json(out);
	else if (id)
		printf("database %u: data_internode_encryption %s\n", id, onoff);
	else
		printf("cluster policy: data_internode_encryption %s for new databases\n", onoff);
	json_decref(out);
	return CLI_OK;
}
