// SPDX-License-Identifier: GPL-2.0
/* status.c — `inectl status` (GET /v1/status + /v1/cluster/alerts): every
 * node's certificates, expiry, offload and sessions; and `inectl alerts`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http.h"

static const char status_usage[] =
	"Usage: inectl status [--json]\n"
	"Shows, for every node of the cluster, its certificates and their expiry,\n"
	"whether sessions run on kernel TLS, and its internode sessions; then alerts.\n";
static const char alerts_usage[] = "Usage: inectl alerts [--json]\n";

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_cert(const char *label, const json_t *m)
{
	char when[32] = "unknown";
	time_t t = (time_t)num(m, "not_after");
	struct tm tm;

	if (!m) {
		printf("    %-14s -\n", label);
		return;
	}
	if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	printf("    %-14s serial %s, expires %s", label, str(m, "serial"), when);
	if (json_object_get(m, "seconds_left"))
		printf(" (%lld days)", num(m, "seconds_left") / 86400);
	printf("\n");
}

static void print_alerts(const json_t *a)
{
	json_t *e;
	size_t i;

	if (!json_array_size(a)) {
		printf("no alerts\n");
		return;
	}
	json_array_foreach(a, i, e)
		printf("%-8s %s%s%s: %s\n", str(e, "severity"), str(e, "name"),
		       json_object_get(e, "plane") ? " " : "", str(e, "plane"),
		       str(e, "description"));
}

static void print_node(const json_t *n)
{
	json_t *certs = json_object_get(n, "certificates"), *s;
	json_t *sessions = json_object_get(n, "sessions");
	json_t *lst = json_object_get(n, "listener");
	size_t i;

	printf("node %lld (%s)%s\n", num(n, "uid"), str(n, "name"),
	       json_is_true(json_object_get(n, "reachable")) ||
	       !json_object_get(n, "reachable") ? "" : " UNREACHABLE");
	if (!json_object_get(n, "offload")) {
		printf("  no status heard from this node%s%s\n",
		       json_object_get(n, "error") ? ": " : "", str(n, "error"));
		return;
	}
	if (json_object_get(n, "status_age_s"))
		printf("  (status %llds old)\n", num(n, "status_age_s"));
	printf("  offload: %s (kernel TLS %s), ine.ko %s\n", str(n, "offload"),
	       json_is_true(json_object_get(n, "kernel_tls_available")) ? "available" :
	       "unavailable",
	       json_is_true(json_object_get(n, "kernel_module_loaded")) ? "loaded" :
	       "not loaded");
	if (json_is_object(lst))
		/* Failures and timeouts climbing while handed_off stays flat is
		 * what a flood or a certificate problem looks like. */
		printf("  handshakes on the internode port: %lld in progress; %lld done, "
		       "%lld refused, %lld timed out, %lld evicted\n", num(lst, "handshaking"),
		       num(lst, "handed_off"), num(lst, "failed"),
		       num(lst, "timed_out") + num(lst, "hello_timed_out"),
		       num(lst, "evicted"));
	printf("  certificates (%s):\n", str(certs, "mode"));
	print_cert("control plane", json_object_get(certs, "ccs_internode_encryption"));
	print_cert("data plane", json_object_get(certs, "data_internode_encryption"));
	if (!json_array_size(sessions)) {
		printf("  sessions: none\n");
		return;
	}
	printf("  sessions:\n    %-8s %-12s %-5s %-16s %-8s %12s %12s\n", "PLANE", "STATE", "DB",
	       "PEER", "TLS", "SENT", "RECEIVED");
	json_array_foreach(sessions, i, s)
		printf("    %-8s %-12s %-5lld %-16s %-8s %12lld %12lld\n", str(s, "plane"),
		       str(s, "state"), num(s, "bdb"), str(s, "peer_name"), str(s, "tls_version"),
		       num(s, "bytes_sent"), num(s, "bytes_received"));
}

int inectl_status(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	json_t *st = NULL, *al = NULL, *n;
	size_t i;

	if (cli_help(argc, argv, status_usage))
		return CLI_OK;
	if (argc != 1)
		return cli_usage(status_usage, "status: unexpected argument '%s'", argv[1]);
	if (http_json("GET", "/v1/status", NULL, &st) ||
	    http_json("GET", "/v1/cluster/alerts", NULL, &al)) {
		json_decref(st);
		return CLI_ERR;
	}
	if (json) {
		json_object_set(st, "alerts", al);
		cli_print_json(st);
	} else {
		if (*str(st, "cluster_id"))
			printf("cluster %s (%s), configuration version %lld\n",
			       str(st, "cluster_name"), str(st, "cluster_id"),
			       num(st, "config_version"));
		else
			printf("not in a cluster (inectl cluster create or join)\n");
		json_array_foreach(json_object_get(st, "nodes"), i, n)
			print_node(n);
		print_alerts(al);
	}
	json_decref(st);
	json_decref(al);
	return CLI_OK;
}

int inectl_alerts(int argc, char **argv)
{
	bool json = cli_flag(&argc, argv, "--json");
	json_t *al = NULL;

	if (cli_help(argc, argv, alerts_usage))
		return CLI_OK;
	if (argc != 1)
		return cli_usage(alerts_usage, "alerts: unexpected argument '%s'", argv[1]);
	if (http_json("GET", "/v1/cluster/alerts", NULL, &al))
		return CLI_ERR;
	if (json)
		cli_print_json(al);
	else
		print_alerts(al);
	json_decref(al);
	return CLI_OK;
}
