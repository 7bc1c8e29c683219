// SPDX-License-Identifier: GPL-2.0
/* test_daemon_hooks.c — what other parts plug into the opaque daemon:
 * a watch removed is no longer told (nor asked) about changes; the data
 * plane's ops feed status and alerts, and only the arg that installed them
 * removes them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

static struct {
	char dir[64];
	struct event_base *base;
	struct daemon *d;
	int told, asked;
} S;

static void setup(void)
{
	char err[256] = "";

	snprintf(S.dir, sizeof(S.dir), "/tmp/ine-dhooks-XXXXXX");
	cr_assert(mkdtemp(S.dir));
	S.base = event_base_new();
	cr_assert_eq(daemon_new(S.base, S.dir, &S.d, err, sizeof(err)), 0, "%s", err);
	S.told = S.asked = 0;
}

static void teardown(void)
{
	char cmd[96];

	daemon_free(S.d);
	event_base_free(S.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", S.dir);
	if (system(cmd))
		fprintf(stderr, "cleanup failed\n");
}

TestSuite(daemon_hooks, .init = setup, .fini = teardown);

static void on_change(void *arg, const struct config *old, const struct config *cur)
{
	(void)arg;
	(void)old;
	(void)cur;
	S.told++;
}

static int on_check(void *arg, const struct config *next, uint32_t self, char *err,
		    size_t errlen)
{
	(void)arg;
	(void)next;
	(void)self;
	(void)err;
	(void)errlen;
	S.asked++;
	return 0;
}

static int bump(void)
{
	struct config *next;
	char err[256] = "";

	cr_assert_eq(config_dup(daemon_config(S.d), &next), 0);
	next->version = daemon_config(S.d)->version + 1;
	return daemon_config_apply(S.d, next, err, sizeof(err));
}

Test(daemon_hooks, watch_remove_stops_calls)
{
	int mine, other;

	cr_assert_eq(daemon_watch_add(S.d, on_change, on_check, &mine), 0);
	cr_assert_eq(daemon_watch_add(S.d, on_change, NULL, &other), 0);
	cr_assert_eq(bump(), 0);
	cr_expect_eq(S.told, 2);
	cr_expect_eq(S.asked, 1);
	daemon_watch_remove(S.d, &mine);
	cr_assert_eq(bump(), 0);
	cr_expect_eq(S.told, 3, "a removed watch was still told");
	cr_expect_eq(S.asked, 1, "a removed watch was still asked");
	cr_expect_eq(daemon_config(S.d)->version, 2);
}

static json_t *dp_sessions(void *arg)
{
	(void)arg;
	return json_pack("[{s:s}]", "plane", "data");
}

static json_t *dp_alerts(void *arg)
{
	(void)arg;
	return json_pack("[{s:s}]", "name", "relay_config_failed");
}

static const struct daemon_dp_ops dp = { .sessions = dp_sessions, .alerts = dp_alerts };

static bool has_alert(const char *name)
{
	json_t *a = daemon_api_ops.alerts_get(S.d), *e;
	bool found = false;
	size_t i;

	json_array_foreach(a, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "name")), name))
			found = true;
	json_decref(a);
	return found;
}

Test(daemon_hooks, dataplane_feeds_status_until_its_owner_removes_it)
{
	int owner, stranger;
	json_t *st;

	/* No daemon_kmod_open here: without ine.ko the data plane is the source. */
	daemon_set_dataplane(S.d, &dp, &owner);
	st = daemon_api_ops.status_local(S.d);
	cr_expect_str_eq(json_string_value(json_object_get(st, "sessions_source")), "agent");
	cr_expect_eq(json_array_size(json_object_get(st, "sessions")), 1);
	json_decref(st);
	cr_expect(has_alert("relay_config_failed"));

	daemon_set_dataplane(S.d, NULL, &stranger);	/* not its to remove */
	cr_expect(has_alert("relay_config_failed"), "removed by an arg that did not install it");
	daemon_set_dataplane(S.d, NULL, &owner);
	cr_expect(!has_alert("relay_config_failed"));
	st = daemon_api_ops.status_local(S.d);
	cr_expect_eq(json_array_size(json_object_get(st, "sessions")), 0);
	json_decref(st);
}
