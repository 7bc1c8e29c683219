// SPDX-License-Identifier: GPL-2.0
/* test_daemon_store.c — a configuration write that fails raises the
 * state_write_failed alert (daemon_store_fault) and keeps the old
 * configuration; the next successful write clears it.  The write fails
 * for real: the state directory is moved away underneath the daemon. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

Test(daemon_store, failed_write_alerts_then_clears)
{
	struct event_base *base = event_base_new();
	char dir[] = "/tmp/ine-dstore.XXXXXX", away[64], err[256] = "";
	struct daemon *d = NULL;
	struct config *next;

	cr_assert_not_null(base);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(away, sizeof(away), "%s.away", dir);
	cr_assert_eq(daemon_new(base, dir, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rename(dir, away), 0);
	cr_assert_eq(config_dup(daemon_config(d), &next), 0);
	next->version = daemon_config(d)->version + 1;
	cr_assert_lt(daemon_config_apply(d, next, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(daemon_store_fault(d), "No such file or directory"), "%s",
			   daemon_store_fault(d));
	cr_assert_eq(daemon_config(d)->version, 0, "the old configuration stays in force");
	cr_assert_eq(rename(away, dir), 0);
	cr_assert_eq(config_dup(daemon_config(d), &next), 0);
	next->version = daemon_config(d)->version + 1;
	cr_assert_eq(daemon_config_apply(d, next, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_empty(daemon_store_fault(d), "cleared by a successful write");
	daemon_free(d);
	event_base_free(base);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_assert_eq(system(cmd), 0);
	}
}
