// SPDX-License-Identifier: GPL-2.0
/* test_api_relay.c — the daemon keeps the relay in step with the
 * configuration: a configuration the relay cannot run is refused before
 * the swap; a route that cannot listen raises an alert; routes of this
 * node listen. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "daemon/daemon.h"
#include "daemon/daemon_relay.h"
#include "test_relay_util.h"

static struct {
	char dir[64];
	struct event_base *base;
	struct daemon *d;
	struct daemon_relay *dr;
	struct relay *r;
} S;

static void setup(void)
{
	char err[CONFIG_ERR_MAX] = "";
	struct relay_hooks h;

	snprintf(S.dir, sizeof(S.dir), "/tmp/ine-relay-XXXXXX");
	cr_assert(mkdtemp(S.dir));
	S.base = event_base_new();
	cr_assert_eq(daemon_new(S.base, S.dir, &S.d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(daemon_relay_new(S.d, &S.dr), 0);
	daemon_relay_hooks(&h, S.dr);
	S.r = relay_new(S.base, NULL, &h);
	cr_assert(S.r);
	cr_assert_eq(daemon_relay_attach(S.dr, S.r), 0);
	daemon_set_self(S.d, 1);
}

static void teardown(void)
{
	char cmd[96];

	relay_free(S.r);
	daemon_relay_free(S.dr);
	daemon_free(S.d);
	event_base_free(S.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", S.dir);
	if (system(cmd))
		fprintf(stderr, "cleanup failed\n");
}

TestSuite(daemon_relay, .init = setup, .fini = teardown);

static struct config *cfg(const char *node2_addr, int port)
{
	char buf[1024], err[CONFIG_ERR_MAX] = "";
	struct config *c = NULL;
	json_error_t je;
	json_t *j;

	snprintf(buf, sizeof(buf),
		 "{\"version\": %llu, \"cluster\": {\"id\": \"c\", \"name\": \"c\"},"
		 " \"nodes\": [{\"uid\": 1, \"name\": \"n1\", \"address\": \"127.0.0.1\"},"
		 "             {\"uid\": 2, \"name\": \"n2\", \"address\": \"%s\"}],"
		 " \"bdbs\": [{\"uid\": 1, \"name\": \"db1\", \"data_internode_encryption\": true,"
		 "   \"targets\": [{\"name\": \"s\", \"node\": 2, \"address\": \"127.0.0.1:6379\"}]}],"
		 " \"routes\": [{\"uid\": 1, \"bdb\": 1, \"listen_port\": %d, \"peer_node\": 2,"
		 "   \"target\": \"s\"}]}",
		 (unsigned long long)daemon_config(S.d)->version + 1, node2_addr, port);
	j = json_loads(buf, 0, &je);
	cr_assert(j != NULL, "%s", je.text);
	cr_assert_eq(config_from_json(j, &c, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	return c;
}

static bool listening(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	close(fd);
	return ok;
}

Test(daemon_relay, route_listens_after_apply)
{
	char err[CONFIG_ERR_MAX] = "";
	int port = tr_free_port();

	cr_assert_eq(daemon_config_apply(S.d, cfg("127.0.0.2", port), err, sizeof(err)), 0,
		     "%s", err);
	cr_expect(listening(port), "route port %d does not listen", port);
	cr_expect_str_eq(daemon_relay_error(S.dr), "");
}

Test(daemon_relay, unusable_node_address_refused_before_swap)
{
	char err[CONFIG_ERR_MAX] = "";
	uint64_t v = daemon_config(S.d)->version;

	cr_expect_eq(daemon_config_apply(S.d, cfg("node2.example", tr_free_port()), err,
					 sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "node 2 (n2)"), "%s", err);
	cr_expect_eq(daemon_config(S.d)->version, v, "a refused configuration was swapped in");
}

Test(daemon_relay, busy_route_port_raises_alert)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char err[CONFIG_ERR_MAX] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	json_t *a;

	/* Someone else holds the port. */
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	cr_assert_eq(daemon_config_apply(S.d, cfg("127.0.0.2", ntohs(sa.sin_port)), err,
					 sizeof(err)), 0, "%s", err);
	cr_expect_neq(daemon_relay_error(S.dr)[0], '\0', "no relay error recorded");
	a = daemon_api_ops.alerts_get(S.d);
	{
		char *txt = json_dumps(a, 0);

		cr_expect(txt && strstr(txt, "relay_config_failed"), "alerts: %s", txt);
		free(txt);
	}
	json_decref(a);
	close(fd);
}
