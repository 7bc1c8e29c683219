// SPDX-License-Identifier: GPL-2.0
/* db.c — `inectl db ...`:
 *   create <name> [data_internode_encryption enabled|disabled]
 *                 [target <name> <node-uid> <host:port>]...    POST /v1/bdbs
 *   list                                                      GET  /v1/bdbs
 *   show <id>                                                 GET  /v1/bdbs/<id>
 *   delete <id>                                               DELETE /v1/bdbs/<id>
 * Without data_internode_encryption a new database takes the cluster
 * policy's default. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static const char usage[] =
	"Usage: inectl db create <name> [data_internode_encryption enabled|disabled]\n"
	"                 [target <name> <node-uid> <host:port>]... [--json]\n"
	"       inectl db list [--json]\n"
	"       inectl db show <id> [--json]\n"
	"       inectl db delete <id>\n";

static void print_db(const json_t *b, bool header)
{
	json_t *t;
	size_t i;

	if (header)
		printf("%-6s %-24s %-10s %s\n", "UID", "NAME", "ENCRYPTION", "TARGETS");
	printf("%-6lld %-24s %-10s", (long long)json_integer_value(json_object_get(b, "uid")),
	       json_string_value(json_object_get(b, "name")) ?: "",
	       json_is_true(json_object_get(b, "data_internode_encryption")) ?
	       "enabled" : "disabled");
	json_array_foreach(json_object_get(b, "targets"), i, t)
		printf("%s%s@node%lld=%s", i ? ", " : " ",
		       json_string_value(json_object_get(t, "name")) ?: "",
		       (long long)json_integer_value(json_object_get(t, "node")),
		       json_string_value(json_object_get(t, "address")) ?: "");
	printf("\n");
}

static int create(int argc, char **argv, bool json)
{
	json_t *body, *targets, *out = NULL;
	int i, on, rc;

	if (argc < 3)
		return cli_usage(usage, "db create: missing <name>");
	targets = json_array();
	body = json_pack("{s:s, s:o}", "name", argv[2], "targets", targets);
	for (i = 3; i < argc;) {
		if (!strcmp(argv[i], "data_internode_encryption")) {
			if (i + 1 >= argc || (on = cli_onoff(argv[i + 1])) < 0) {
				json_decref(body);
				return cli_usage(usage, "db create: data_internode_encryption needs "
						 "enabled or disabled");
			}
			json_object_set_new(body, "data_internode_encryption", json_boolean(on));
			i += 2;
		} else if (!strcmp(argv[i], "target")) {
			unsigned int node;

			if (i + 3 >= argc || !(node = cli_id(argv[i + 2]))) {
				json_decref(body);
				return cli_usage(usage, "db create: target needs <name> <node-uid> "
						 "<host:port>");
			}
			json_array_append_new(targets, json_pack("{s:s, s:i, s:s}", "name",
								 argv[i + 1], "node", (int)node,
								 "address", argv[i + 3]));
			i += 4;
		} else {
			json_decref(body);
			return cli_usage(usage, "db create: unknown argument '%s'", argv[i]);
		}
	}
	rc = http_json("POST", "/v1/bdbs", body, &out);
	json_decref(body);
	if (rc)
		return CLI_ERR;
	if (json)
		cli_print_json(out);
	else
		printf("database %lld (%s) created, data_internode_encryption %s\n",
		       (long long)json_integer_value(json_object_get(out, "uid")), argv[2],
		       json_is_true(json_object_get(out, "data_internode_encryption")) ?
		       "enabled" : "disabled");
	json_decref(out);
	return CLI_OK;
}

int inectl_db(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	json_t *out = NULL, *b;
	char path[64];
	unsigned int id;
	size_t i;

	if (cli_help(argc, argv, usage))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(usage, "db: missing subcommand");
	if (!strcmp(argv[1], "create"))
		return create(argc, argv, json);
	if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return cli_usage(usage, "db list: takes no arguments");
		if (http_json("GET", "/v1/bdbs", NULL, &out))
			return CLI_ERR;
		if (json) {
			cli_print_json(out);
		} else {
			if (!json_array_size(out))
				printf("no databases\n");
			json_array_foreach(out, i, b)
				print_db(b, i == 0);
		}
		json_decref(out);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "show") || !strcmp(argv[1], "delete")) {
		if (argc != 3 || !(id = cli_id(argv[2])))
			return cli_usage(usage, "db %s: expected one database id", argv[1]);
		snprintf(path, sizeof(path), "/v1/bdbs/%u", id);
		if (http_json(!strcmp(argv[1], "show") ? "GET" : "DELETE", path, NULL, &out))
			return CLI_ERR;
		if (json)
			cli_print_json(out);
		else if (!strcmp(argv[1], "show"))
			print_db(out, true);
		else
			printf("database %u deleted\n", id);
		json_decref(out);
		return CLI_OK;
	}
	return cli_usage(usage, "db: unknown subcommand '%s'", argv[1]);
}
