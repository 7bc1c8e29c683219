// SPDX-License-Identifier: GPL-2.0
/* fuzz_api_json.c — the JSON the agent takes from outside: REST bodies
 * (POST/PUT bdbs, routes) and whole configurations (config.json, and what
 * the control plane replicates).  Every input must be refused with an
 * error string or accepted as a configuration that validates, serialises
 * and parses back to the same JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static void check_whole(const json_t *j)
{
	char err[CONFIG_ERR_MAX] = "";
	struct config *c = NULL, *d = NULL;
	json_t *back, *again;

	if (config_from_json(j, &c, err, sizeof(err))) {
		if (!err[0])
			abort();  /* a refusal must say why */
		return;
	}
	if (config_validate(c, err, sizeof(err)))
		abort();
	back = config_to_json(c);
	if (!back || config_from_json(back, &d, err, sizeof(err)))
		abort();
	again = config_to_json(d);
	if (!json_equal(back, again))
		abort();
	json_decref(back);
	json_decref(again);
	config_free(c);
	config_free(d);
}

static void check_bodies(const json_t *j)
{
	char err[CONFIG_ERR_MAX];
	struct config_bdb b;
	struct config_route r;

	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "db");
	if (config_bdb_from_json(j, &b, true, "body", err, sizeof(err)) && !err[0])
		abort();
	config_bdb_clear(&b);
	memset(&b, 0, sizeof(b));
	if (config_bdb_from_json(j, &b, false, "body", err, sizeof(err)) == 0 && !b.name[0])
		abort();  /* a created database always has a name */
	config_bdb_clear(&b);
	if (config_route_from_json(j, &r, "body", err, sizeof(err)) == 0 &&
	    (!r.listen_port || !r.peer_node || !r.bdb || !r.target[0]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		return 0;
	check_whole(j);
	check_bodies(j);
	json_decref(j);
	return 0;
}
