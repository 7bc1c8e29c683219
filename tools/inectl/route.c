// SPDX-License-Identifier: GPL-2.0
/* route.c — `inectl route ...`:
 *   add db <id> port <listen-port> peer <node-uid> target <name> [node <uid>]
 *                                                   POST /v1/routes
 *   list                                            GET  /v1/routes
 *   delete <id>                                     DELETE /v1/routes/<id>
 * A route is a local plaintext endpoint (on `node`, or on every node but the
 * peer) carried over the data plane to a target the database names. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "http.h"

static const char usage[] =
	"Usage: inectl route add db <id> port <listen-port> peer <node-uid> target <name>\n"
	"                        [node <node-uid>] [--json]\n"
	"       inectl route list [--json]\n"
	"       inectl route delete <id>\n";

static int add(int argc, char **argv, bool json)
{
	static const char *const keys[] = { "db", "port", "peer", "target", "node" };
	static const char *const fields[] = { "bdb", "listen_port", "peer_node", "target",
					      "node" };
	json_t *body = json_object(), *out = NULL;
	int i, k, rc;

	for (i = 2; i < argc; i += 2) {
		for (k = 0; k < 5 && strcmp(argv[i], keys[k]); k++)
			;
		if (k == 5 || i + 1 >= argc) {
			json_decref(body);
			return cli_usage(usage, k == 5 ? "route add: unknown argument '%s'" :
					 "route add: '%s' needs a value", argv[i]);
		}
		if (json_object_get(body, fields[k])) {
			json_decref(body);
			return cli_usage(usage, "route add: '%s' given twice", argv[i]);
		}
		if (k == 3) {
			json_object_set_new(body, fields[k], json_string(argv[i + 1]));
		} else {
			unsigned int v = cli_id(argv[i + 1]);

			if (!v || (k == 1 && v > 65535)) {
				json_decref(body);
				return cli_usage(usage, "route add: %s '%s' is not a valid %s",
						 argv[i], argv[i + 1], k == 1 ? "port" : "id");
			}
			json_object_set_new(body, fields[k], json_integer(v));
		}
	}
	for (k = 0; k < 4; k++)
		if (!json_object_get(body, fields[k])) {
			json_decref(body);
			return cli_usage(usage, "route add: missing '%s'", keys[k]);
		}
	rc = http_json("POST", "/v1/routes", body, &out);
	json_decref(body);
	if (rc)
		return CLI_ERR;
	if (json)
		cli_print_json(out);
	else
		printf("route %lld added\n", (long long)json_integer_value(json_object_get(out, "uid")));
	if (json_is_string(json_object_get(out, "warning")))
		fprintf(stderr, "inectl: warning: %s\n",
			json_string_value(json_object_get(out, "warning")));
	json_decref(out);
	return CLI_OK;
}

int inectl_route(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	json_t *out = NULL, *r;
	char path[64];
	unsigned int id;
	size_t i;

	if (cli_help(argc, argv, usage))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(usage, "route: missing subcommand");
	if (!strcmp(argv[1], "add"))
		return add(argc, argv, json);
	if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return cli_usage(usage, "route list: takes no arguments");
		if (http_json("GET", "/v1/routes", NULL, &out))
			return CLI_ERR;
		if (json) {
			cli_print_json(out);
		} else {
			printf("%-6s %-6s %-8s %-6s %-6s %s\n", "UID", "DB", "NODE", "PORT", "PEER",
			       "TARGET");
			json_array_foreach(out, i, r) {
				long long node = json_integer_value(json_object_get(r, "node"));
				char nb[16];

				snprintf(nb, sizeof(nb), "%lld", node);
				printf("%-6lld %-6lld %-8s %-6lld %-6lld %s\n",
				       (long long)json_integer_value(json_object_get(r, "uid")),
				       (long long)json_integer_value(json_object_get(r, "bdb")),
				       node ? nb : "all",
				       (long long)json_integer_value(json_object_get(r, "listen_port")),
				       (long long)json_integer_value(json_object_get(r, "peer_node")),
				       json_string_value(json_object_get(r, "target")) ?: "");
			}
		}
		json_decref(out);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "delete")) {
		if (argc != 3 || !(id = cli_id(argv[2])))
			return cli_usage(usage, "route delete: expected one route id");
		snprintf(path, sizeof(path), "/v1/routes/%u", id);
		if (http_json("DELETE", path, NULL, &out))
			return CLI_ERR;
		if (json)
			cli_print_json(out);
		else
			printf("route %u deleted\n", id);
		json_decref(out);
		return CLI_OK;
	}
	return cli_usage(usage, "route: unknown subcommand '%s'", argv[1]);
}
