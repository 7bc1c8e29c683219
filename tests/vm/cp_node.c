/* cp_node — ined with the control plane wired in, for the cluster tests
 * (and the reference for ined's main.c): daemon + REST API + control
 * plane on one libevent loop.
 *
 *   cp_node --state-dir DIR --api-socket PATH [--port N] [--bind ADDR]
 *
 * SIGTERM/SIGINT stop it.  Logs go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "api/api.h"
#include "cp/cp.h"
#include "daemon/daemon.h"
#include "core/log.h"

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "api-socket", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *sock = NULL, *bind = NULL;
	struct api_options ao = { 0 };
	struct cp_opts co = { 0 };
	struct event *ev_term, *ev_int;
	struct event_base *base;
	char err[CP_ERR_MAX] = "";
	struct cp *cp = NULL;
	struct daemon d;
	long port = 0;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "s:a:p:b:", lopts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'a': sock = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'b': bind = optarg; break;
		default:
			fprintf(stderr, "usage: cp_node --state-dir D --api-socket S [--port N] [--bind A]\n");
			return 2;
		}
	}
	if (!state || !sock || port < 0 || port > 65535) {
		fprintf(stderr, "cp_node: --state-dir and --api-socket are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LVL_DEBUG);
	base = event_base_new();
	if (!base)
		return 1;
	if (daemon_init(&d, base, state, err, sizeof(err))) {
		fprintf(stderr, "cp_node: %s: %s\n", state, err);
		goto out_base;
	}
	ao.socket_path = sock;
	if (api_create(base, &ao, &daemon_api_ops, &d, &d.api)) {
		fprintf(stderr, "cp_node: cannot serve %s\n", sock);
		goto out_daemon;
	}
	co.state_dir = state;
	co.pki_dir = d.pki_dir;	/* the daemon loads its PKI state there */
	co.port = (uint16_t)port;
	co.bind_addr = bind;
	cp_hooks_daemon(&co.hooks, &d);
	if (cp_new(base, &co, &cp, err, sizeof(err)) < 0 ||
	    cp_attach(cp, &d, d.api) < 0) {
		fprintf(stderr, "cp_node: control plane: %s\n", err);
		goto out_api;
	}
	ev_term = evsignal_new(base, SIGTERM, on_term, base);
	ev_int = evsignal_new(base, SIGINT, on_term, base);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	fprintf(stderr, "cp_node: ready (%s)\n", sock);
	event_base_dispatch(base);
	event_free(ev_term);
	event_free(ev_int);
	rc = 0;
	cp_free(cp);
out_api:
	api_destroy(d.api);
out_daemon:
	daemon_fini(&d);
out_base:
	event_base_free(base);
	return rc;
}
