// SPDX-License-Identifier: GPL-2.0
/* inectl guard — read or set ine.ko's plaintext guard (mode and ports) and
 * the key-usage threshold at which sessions are replaced. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ine.h>
#include "cli.h"
#include "inectl.h"
#include "inenl/inenl.h"

static const char usage[] =
	"Usage: inectl guard [off|audit|enforce] [ports <port>[,<port>...]]\n"
	"                    [key-limit <records>] [--json]\n"
	"  With no argument: prints the guard's mode, ports and counters.\n"
	"  off        no checks\n"
	"  audit      count (and report) payload from unregistered sockets\n"
	"  enforce    also drop it\n"
	"  ports      the TCP destination ports judged (default 3342; at most 16)\n"
	"  key-limit  TLS records per key after which a session is flagged and ined\n"
	"             replaces relayed ones (default 21353909, 90%% of AES-GCM's\n"
	"             2^24.5; 1 to 2^48)\n";

static int parse_ports(const char *s, uint16_t *ports, unsigned int *n)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);

		if (!*tok || *end || v < 1 || v > 65535 || *n >= INE_GUARD_MAX_PORTS) {
			rc = -EINVAL;
			break;
		}
		ports[(*n)++] = (uint16_t)v;
	}
	if (!*n)
		rc = -EINVAL;
	free(copy);
	return rc;
}

static void print_guard(const struct inenl_guard *g, uint64_t key_limit, bool json)
{
	unsigned int i;

	if (json) {
		printf("{\"mode\": \"%s\", \"ports\": [", inenl_guard_mode_name(g->mode));
		for (i = 0; i < g->nports; i++)
			printf("%s%u", i ? ", " : "", g->ports[i]);
		printf("], \"passed\": %" PRIu64 ", \"unregistered\": %" PRIu64
		       ", \"dropped\": %" PRIu64 ", \"dropped_bytes\": %" PRIu64
		       ", \"key_limit_records\": %" PRIu64 "}\n",
		       g->passed, g->unregistered, g->dropped, g->dropped_bytes, key_limit);
		return;
	}
	printf("guard: %s on port%s ", inenl_guard_mode_name(g->mode),
	       g->nports == 1 ? "" : "s");
	for (i = 0; i < g->nports; i++)
		printf("%s%u", i ? "," : "", g->ports[i]);
	printf("; passed %" PRIu64 ", unregistered %" PRIu64 ", dropped %" PRIu64
	       " (%" PRIu64 " bytes)\n", g->passed, g->unregistered, g->dropped,
	       g->dropped_bytes);
	printf("key limit: sessions replaced after %" PRIu64 " records per key\n", key_limit);
}

INECTL_HANDLER(guard)
{
	uint16_t ports[INE_GUARD_MAX_PORTS];
	unsigned int nports = 0;
	struct inenl_totals t;
	struct inenl *nl;
	int mode = -1, i, ret;
	unsigned long long key_limit = 0;
	bool json;

	if (cli_help(argc, argv, usage))
		return CLI_OK;
	json = cli_flag(&argc, argv, "--json");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "off"))
			mode = INE_GUARD_OFF;
		else if (!strcmp(argv[i], "audit"))
			mode = INE_GUARD_AUDIT;
		else if (!strcmp(argv[i], "enforce"))
			mode = INE_GUARD_ENFORCE;
		else if (!strcmp(argv[i], "ports")) {
			if (++i >= argc)
				return cli_usage(usage, "guard: 'ports' needs a list, e.g. 3342");
			if (parse_ports(argv[i], ports, &nports))
				return cli_usage(usage, "guard: '%s' is not a list of 1 to %d "
						 "ports (1-65535, comma-separated)", argv[i],
						 INE_GUARD_MAX_PORTS);
		} else if (!strcmp(argv[i], "key-limit")) {
			char *end;

			if (++i >= argc)
				return cli_usage(usage, "guard: 'key-limit' needs a record count");
			errno = 0;
			key_limit = strtoull(argv[i], &end, 10);
			if (errno || !*argv[i] || *end || argv[i][0] == '-' || !key_limit ||
			    key_limit > (1ULL << 48))
				return cli_usage(usage, "guard: key-limit '%s' is not a record count "
						 "from 1 to 2^48", argv[i]);
		} else
			return cli_usage(usage, "guard: unknown argument '%s'", argv[i]);
	}
	ret = inenl_open(&nl);
	if (ret) {
		fprintf(stderr, "inectl guard: ine.ko is not loaded (%s)\n", strerror(-ret));
		return CLI_ERR;
	}
	if (mode >= 0 || nports || key_limit) {
		ret = inenl_config_set(nl, mode, ports, nports, key_limit);
		if (ret) {
			fprintf(stderr, "inectl guard: ine.ko refused the setting: %s%s%s\n",
				strerror(-ret), *inenl_last_error(nl) ? ": " : "",
				inenl_last_error(nl));
			inenl_close(nl);
			return CLI_ERR;
		}
	}
	ret = inenl_totals_get(nl, &t);
	inenl_close(nl);
	if (ret) {
		fprintf(stderr, "inectl guard: reading ine.ko: %s\n", strerror(-ret));
		return CLI_ERR;
	}
	print_guard(&t.guard, t.key_warn_records, json);
	return CLI_OK;
}
