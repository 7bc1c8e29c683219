// SPDX-License-Identifier: GPL-2.0
/* cluster.c — `inectl cluster ...`:
 *   create name=<n> [key=value ...]      POST /v1/cluster
 *   join-token [key=value ...]           POST /v1/cluster/join-token
 *   join key=value ...                   POST /v1/cluster/join
 *   show                                 GET  /v1/cluster
 *   nodes                                GET  /v1/nodes
 *   certificate set internal dpine_certificate_file <f> dpine_key_file <f>
 *                            cpine_certificate_file <f> cpine_key_file <f>
 *                                        PUT  /v1/cluster/certificates
 *   certificate rotate                   POST /v1/cluster/certificates/rotate
 *   certificate show                     GET  /v1/cluster/certificates
 * create/join pass their key=value pairs through as the JSON body; the
 * control plane defines the fields (see docs/api.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http.h"

#define PEM_MAX (256 * 1024)

static const char usage[] =
	"Usage: inectl cluster create name=<name> [node_name=<n>] [address=<a>] [--json]\n"
	"       inectl cluster join-token [ttl=<seconds>] [--json]\n"
	"       inectl cluster join <key>=<value> ... [--json]\n"
	"       inectl cluster show [--json]\n"
	"       inectl cluster nodes [--json]\n"
	"       inectl cluster certificate set internal\n"
	"              dpine_certificate_file <f> dpine_key_file <f>\n"
	"              cpine_certificate_file <f> cpine_key_file <f>\n"
	"       inectl cluster certificate rotate [--json]\n"
	"       inectl cluster certificate show [--json]\n"
	"Certificate files are PEM (leaf then chain); keys RSA. Give the same files\n"
	"for dpine and cpine to use one certificate for both planes.\n";

static char *read_pem(const char *path, int *rc)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "inectl: %s: %s\n", path, strerror(errno));
		*rc = CLI_ERR;
		return NULL;
	}
	buf = malloc(PEM_MAX + 1);
	n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
	if (!buf || ferror(f) || n > PEM_MAX || n == 0) {
		fprintf(stderr, "inectl: %s: %s\n", path, !buf ? "out of memory" :
			n > PEM_MAX ? "larger than 256 KiB" : n == 0 ? "empty" : "read error");
		free(buf);
		fclose(f);
		*rc = CLI_ERR;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int cert_set(int argc, char **argv, bool json)
{
	static const char *const keys[4] = {
		"dpine_certificate_file", "dpine_key_file",
		"cpine_certificate_file", "cpine_key_file"
	};
	const char *files[4] = { NULL };
	char *pem[4] = { NULL };
	json_t *body = NULL, *list, *out = NULL;
	int i, k, rc = CLI_OK;

	/* argv: set internal <key> <file> ... */
	if (argc < 2 || strcmp(argv[1], "internal"))
		return cli_usage(usage, "certificate set: expected 'internal' after 'set'");
	if ((argc - 2) % 2 || argc == 2)
		return cli_usage(usage, "certificate set internal: expected <key> <file> pairs");
	for (i = 2; i < argc; i += 2) {
		for (k = 0; k < 4 && strcmp(argv[i], keys[k]); k++)
			;
		if (k == 4)
			return cli_usage(usage, "certificate set internal: unknown key '%s'",
					 argv[i]);
		if (files[k])
			return cli_usage(usage, "certificate set internal: '%s' given twice",
					 argv[i]);
		files[k] = argv[i + 1];
	}
	for (k = 0; k < 4; k += 2)
		if (!files[k] != !files[k + 1])
			return cli_usage(usage, "certificate set internal: %s needs %s too",
					 files[k] ? keys[k] : keys[k + 1],
					 files[k] ? keys[k + 1] : keys[k]);
	for (k = 0; k < 4; k++)
		if (files[k] && !(pem[k] = read_pem(files[k], &rc)))
			goto out;
	list = json_array();
	body = json_pack("{s:o}", "certificates", list);
	if (files[2])
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name",
						      "ccs_internode_encryption", "key", pem[3],
						      "certificate", pem[2]));
	if (files[0])
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name",
						      "data_internode_encryption", "key", pem[1],
						      "certificate", pem[0]));
	rc = http_json("PUT", "/v1/cluster/certificates", body, &out) ? CLI_ERR : CLI_OK;
	if (!rc) {
		if (json)
			cli_print_json(out);
		else
			printf("internode encryption certificates replaced\n");
	}
out:
	if (body) {
		/* The body holds key copies: wipe them. */
		json_t *e;
		size_t n;

		json_array_foreach(json_object_get(body, "certificates"), n, e) {
			json_t *kv = json_object_get(e, "key");

			if (kv)
				explicit_bzero((char *)json_string_value(kv), json_string_length(kv));
		}
		json_decref(body);
	}
	for (k = 0; k < 4; k++)
		wipe_free(pem[k]);
	json_decref(out);
	return rc;
}

static void print_certs(const json_t *c)
{
	static const char *const planes[2][2] = {
		{ "ccs_internode_encryption", "control plane (CPINE)" },
		{ "data_internode_encryption", "data plane (DPINE)" },
	};

	printf("mode: %s\n", json_string_value(json_object_get(c, "mode")) ?: "?");
	for (int p = 0; p < 2; p++) {
		json_t *m = json_object_get(c, planes[p][0]);
		json_int_t na = json_integer_value(json_object_get(m, "not_after"));
		char when[32] = "unknown";
		time_t t = (time_t)na;
		struct tm tm;

		if (!m) {
			printf("%s: no certificate metadata\n", planes[p][1]);
			continue;
		}
		if (na && gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("%s:\n  subject: %s\n  serial: %s\n  not after: %s\n", planes[p][1],
		       json_string_value(json_object_get(m, "subject")) ?: "",
		       json_string_value(json_object_get(m, "serial")) ?: "", when);
	}
}

static int simple(const char *method, const char *path, const json_t *body, bool json,
		  void (*pretty)(const json_t *))
{
	json_t *out = NULL;

	if (http_json(method, path, body, &out))
		return CLI_ERR;
	if (json || !pretty)
		cli_print_json(out);
	else
		pretty(out);
	json_decref(out);
	return CLI_OK;
}

static void print_cluster(const json_t *c)
{
	printf("cluster %s (%s)\n  configuration version: %lld\n  nodes: %lld\n"
	       "  certificates: %s\n  new databases: data_internode_encryption %s\n",
	       json_string_value(json_object_get(c, "name")) ?: "?",
	       json_string_value(json_object_get(c, "id")) ?: "?",
	       (long long)json_integer_value(json_object_get(c, "version")),
	       (long long)json_integer_value(json_object_get(c, "nodes")),
	       json_string_value(json_object_get(c, "certificate_mode")) ?: "?",
	       json_is_true(json_object_get(json_object_get(c, "policy"),
					    "data_internode_encryption")) ?
	       "enabled" : "disabled");
}

static void print_nodes(const json_t *a)
{
	json_t *n;
	size_t i;

	printf("%-6s %-24s %s\n", "UID", "NAME", "ADDRESS");
	json_array_foreach(a, i, n)
		printf("%-6lld %-24s %s\n", (long long)json_integer_value(json_object_get(n, "uid")),
		       json_string_value(json_object_get(n, "name")) ?: "",
		       json_string_value(json_object_get(n, "address")) ?: "");
}

static void print_created(const json_t *o)
{
	const char *tok = json_string_value(json_object_get(o, "token"));

	if (tok) {
		printf("%s\n", tok);
		return;
	}
	if (json_object_get(o, "id") && json_object_get(o, "name")) {
		printf("cluster %s (%s)", json_string_value(json_object_get(o, "name")),
		       json_string_value(json_object_get(o, "id")));
		if (json_object_get(o, "node_uid"))
			printf(": this node is node %lld",
			       (long long)json_integer_value(json_object_get(o, "node_uid")));
		printf("\n");
		return;
	}
	cli_print_json(o);
}

int inectl_cluster(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	json_t *body;
	int rc = CLI_OK;

	if (cli_help(argc, argv, usage))
		return CLI_OK;
	if (argc < 2)
		return cli_usage(usage, "cluster: missing subcommand");
	if (!strcmp(argv[1], "create") || !strcmp(argv[1], "join") ||
	    !strcmp(argv[1], "join-token")) {
		const char *path = !strcmp(argv[1], "create") ? "/v1/cluster" :
				   !strcmp(argv[1], "join") ? "/v1/cluster/join" :
				   "/v1/cluster/join-token";

		body = cli_kv_object(argc - 2, argv + 2, usage, &rc);
		if (!body)
			return rc;
		if (!strcmp(argv[1], "create") && !json_object_get(body, "name")) {
			json_decref(body);
			return cli_usage(usage, "cluster create: name=<name> is required");
		}
		if (!strcmp(argv[1], "join") && json_object_size(body) == 0) {
			json_decref(body);
			return cli_usage(usage, "cluster join: give the join parameters "
					 "(key=value) printed by 'inectl cluster join-token'");
		}
		rc = simple("POST", path, body, json, print_created);
		json_decref(body);
		return rc;
	}
	if (!strcmp(argv[1], "show") || !strcmp(argv[1], "nodes")) {
		if (argc != 2)
			return cli_usage(usage, "cluster %s: takes no arguments", argv[1]);
		return !strcmp(argv[1], "show") ?
		       simple("GET", "/v1/cluster", NULL, json, print_cluster) :
		       simple("GET", "/v1/nodes", NULL, json, print_nodes);
	}
	if (!strcmp(argv[1], "certificate")) {
		if (argc < 3)
			return cli_usage(usage, "cluster certificate: say set, rotate or show");
		if (!strcmp(argv[2], "set"))
			return cert_set(argc - 2, argv + 2, json);
		if (argc != 3)
			return cli_usage(usage, "cluster certificate %s: takes no arguments",
					 argv[2]);
		if (!strcmp(argv[2], "rotate")) {
			json_t *out = NULL;

			if (http_json("POST", "/v1/cluster/certificates/rotate", NULL, &out))
				return CLI_ERR;
			if (json)
				cli_print_json(out);
			else
				printf("certificate rotation started\n");
			json_decref(out);
			return CLI_OK;
		}
		if (!strcmp(argv[2], "show"))
			return simple("GET", "/v1/cluster/certificates", NULL, json, print_certs);
		return cli_usage(usage, "cluster certificate: unknown '%s'", argv[2]);
	}
	return cli_usage(usage, "cluster: unknown subcommand '%s'", argv[1]);
}
