/* test_daemon_store.c — a configuration write that fails raises the
 * state_write_failed alert (daemon.store_fault) and keeps the old
 * configuration; the next successful write clears it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

Test(daemon_store, failed_write_alerts_then_clears)
{
	struct event_base *base = event_base_new();
	char dir[] = "/tmp/ine-dstore.XXXXXX", err[256] = "", *good;
	struct daemon d;
	struct config *next;

	cr_assert_not_null(base);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(daemon_init(&d, base, dir, err, sizeof(err)), 0, "%s", err);
	good = d.config_path;
	d.config_path = strdup("/nonexistent-ine-dir/config.json");
	cr_assert_eq(config_dup(d.cfg, &next), 0);
	next->version = d.cfg->version + 1;
	cr_assert_lt(daemon_config_apply(&d, next, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(d.store_fault, "No such file or directory"), "%s",
			   d.store_fault);
	cr_assert_eq(d.cfg->version, 0, "the old configuration stays in force");
	free(d.config_path);
	d.config_path = good;
	cr_assert_eq(config_dup(d.cfg, &next), 0);
	next->version = d.cfg->version + 1;
	cr_assert_eq(daemon_config_apply(&d, next, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_empty(d.store_fault, "cleared by a successful write");
	daemon_fini(&d);
	event_base_free(base);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_assert_eq(system(cmd), 0);
	}
}
