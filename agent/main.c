// SPDX-License-Identifier: GPL-2.0
/* ined — the ine agent: options, then an init chain unwound in reverse.
 * Everything else lives in the library (daemon.c, api.c, ...). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "tls/tls.h"
#include "api/api.h"
#include "api/api_routes.h"
#include "core/config.h"
#include "cp/cp.h"
#include "daemon/daemon.h"
#include "daemon/daemon_relay.h"
#include "dp/broker.h"
#include "core/harden.h"
#include "dp/tls_keyguard.h"
#include "core/log.h"

extern char **environ;

struct opts {
	const char *state_dir;
	const char *api_socket;
	const char *bind_addr;
	long port;
	bool no_modules;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ined [options]\n"
		"  -s, --state-dir DIR    cluster state (default %s)\n"
		"  -a, --api-socket PATH  REST API socket (default %s)\n"
		"  -M, --no-modules       do not load or use the tls and ine kernel modules\n"
		"  -p, --port N           internode port (default 3342; tests)\n"
		"  -b, --bind ADDR        internode address (default: this node's)\n"
		"  -h, --help             this text\n"
		"Signals: SIGHUP reloads the configuration, SIGTERM stops.\n",
		DAEMON_STATE_DIR, API_SOCKET_DEFAULT);
}

static int opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "api-socket", required_argument, NULL, 'a' },
		{ "no-modules", no_argument, NULL, 'M' },
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->state_dir = DAEMON_STATE_DIR;
	o->api_socket = API_SOCKET_DEFAULT;
	while ((c = getopt_long(argc, argv, "s:a:Mp:b:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's': o->state_dir = optarg; break;
		case 'a': o->api_socket = optarg; break;
		case 'M': o->no_modules = true; break;
		case 'b': o->bind_addr = optarg; break;
		case 'p':
			o->port = strtol(optarg, &end, 10);
			if (*end || o->port < 1 || o->port > 65535) {
				fprintf(stderr, "ined: --port: '%s' is not a port\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ined: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* modprobe each module; the agent runs without them (software TLS, no
 * kernel registry) and says so. */
static void modules_load(void)
{
	static const char *const mods[] = { "tls", "ine" };

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		char *argv[] = { "modprobe", "-q", (char *)mods[i], NULL };
		char sys[64];
		int status = -1;
		pid_t pid;

		snprintf(sys, sizeof(sys), "/sys/module/%s", mods[i]);
		if (access(sys, F_OK) == 0) {
			log_msg(LOG_LVL_INFO, "kernel module %s already loaded", mods[i]);
			continue;
		}
		if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ) ||
		    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			log_msg(LOG_LVL_WARN, "could not load kernel module %s: running "
				   "without it (%s)", mods[i], !strcmp(mods[i], "tls") ?
				   "userspace TLS fallback" : "no kernel session registry");
		else
			log_msg(LOG_LVL_INFO, "kernel module %s loaded", mods[i]);
	}
}

static int mkdir_parent(const char *path)
{
	char *copy = strdup(path), *dir;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0755) && errno != EEXIST)
		rc = -errno;
	free(copy);
	return rc;
}

/* Control plane → data plane: the relay comes up with port 3342. */

static SSL_CTX *relay_ctx(void *arg)
{
	return cp_tls_ctx_new(arg, false);
}

/* The data-plane glue main() made; the control plane's hooks carry the
 * daemon as their argument, so the glue is found here. */
static struct daemon_relay *relay_glue;

static void on_listener(void *arg, struct listener *l)
{
	(void)arg;
	if (relay_glue)
		daemon_relay_listener(relay_glue, l);
}

static void on_pki_changed(void *arg)
{
	(void)arg;
	if (relay_glue)
		daemon_relay_pki_changed(relay_glue);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char err[CONFIG_ERR_MAX] = "";

	(void)sig;
	(void)what;
	sd_notify(0, "RELOADING=1");
	if (daemon_reload(d, err, sizeof(err)))
		log_msg(LOG_LVL_ERR, "reload refused, previous configuration kept: %s", err);
	else
		log_msg(LOG_LVL_INFO, "reloaded configuration version %llu",
			   (unsigned long long)daemon_config(d)->version);
	sd_notify(0, "READY=1");
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_msg(LOG_LVL_INFO, "signal %d: stopping", (int)sig);
	sd_notify(0, "STOPPING=1");
	event_base_loopbreak(daemon_base(d));
}

/*
 * One descriptor per session socket, per relay leg and per splice pipe:
 * 10,000 sessions need far more than the 1024 soft default. Raise the soft
 * limit to the hard one (systemd's LimitNOFILE= sets that) and say the figure,
 * so an EMFILE later can be read against it.
 */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		log_warn("open-file limit: getrlimit: %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			log_warn("open-file limit: cannot raise %llu to %llu: %s",
				 (unsigned long long)was,
				 (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = was;
		}
	}
	log_info("open-file limit %llu (hard %llu): at least %llu relayed sessions (6 descriptors each)",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
		 (unsigned long long)rl.rlim_cur / 6);
}

int main(int argc, char **argv)
{
	struct api_options ao = { 0 };
	struct daemon_relay *dr = NULL;
	struct broker *br = NULL;
	struct cp_opts co = { 0 };
	struct cp *cp = NULL;
	struct event *ev_hup, *ev_term, *ev_int;
	struct event_base *base;
	struct daemon *d = NULL;
	struct api *api = NULL;
	struct api_routes rt = { &daemon_api_ops, NULL };
	const struct config *cfg;
	struct opts o;
	char err[CONFIG_ERR_MAX] = "";
	int rc;

	if (opts_parse(argc, argv, &o))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	harden_process();
	nofile_raise();
	if (!o.no_modules)
		modules_load();
	else
		tls_kernel_tls_off();
	keyguard_start(NULL);	/* brokered kTLS sockets keep their keys (tls_keyguard.h) */

	base = event_base_new();
	if (!base) {
		log_msg(LOG_LVL_ERR, "event_base_new failed");
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = daemon_new(base, o.state_dir, &d, err, sizeof(err)))) {
		log_msg(LOG_LVL_ERR, "loading state from %s: %s", o.state_dir,
			   *err ? err : strerror(-rc));
		goto err_base;
	}
	if (!o.no_modules)
		daemon_kmod_open(d);
	ev_hup = evsignal_new(base, SIGHUP, on_hup, d);
	ev_term = evsignal_new(base, SIGTERM, on_term, d);
	ev_int = evsignal_new(base, SIGINT, on_term, d);
	if (!ev_hup || !ev_term || !ev_int || evsignal_add(ev_hup, NULL) ||
	    evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL)) {
		log_msg(LOG_LVL_ERR, "installing signal handlers failed");
		rc = -ENOMEM;
		goto err_sig;
	}
	ao.socket_path = o.api_socket;
	if ((rc = mkdir_parent(o.api_socket)) ||
	    (rc = api_create(base, &ao, &daemon_api_ops, d, &api))) {
		log_msg(LOG_LVL_ERR, "REST API on %s: %s", o.api_socket,
			   rc == -EADDRINUSE ? "another ined is serving it" : strerror(-rc));
		goto err_sig;
	}
	rt.ctx = d;
	if ((rc = api_routes_register(api, &rt))) {
		log_msg(LOG_LVL_ERR, "REST API routes: %s", strerror(-rc));
		goto err_api;
	}
	if ((rc = daemon_relay_new(d, &dr))) {
		log_msg(LOG_LVL_ERR, "data plane: %s", strerror(-rc));
		goto err_api;
	}
	co.state_dir = o.state_dir;
	relay_glue = dr;
	co.pki_dir = daemon_pki_dir(d);
	co.port = (uint16_t)o.port;
	co.bind_addr = o.bind_addr;
	cp_hooks_daemon(&co.hooks, d);
	co.hooks.listener_changed = on_listener;
	co.hooks.pki_changed = on_pki_changed;
	if ((rc = cp_new(base, &co, &cp, err, sizeof(err))) < 0) {
		log_msg(LOG_LVL_ERR, "control plane: %s", *err ? err : strerror(-rc));
		goto err_relay;
	}
	daemon_relay_ctx_source(dr, relay_ctx, cp);
	br = broker_start(d, relay_ctx, cp, cp_port(cp));	/* libine; optional */
	if ((rc = cp_attach(cp, d, api)) < 0) {
		log_msg(LOG_LVL_ERR, "control plane: REST routes: %s", strerror(-rc));
		goto err_cp;
	}
	if (cp_listener(cp))
		on_listener(d, cp_listener(cp));
	cfg = daemon_config(d);
	log_msg(LOG_LVL_INFO, "ready: cluster %s, configuration version %llu, API on %s, "
		   "kernel TLS %s, ine.ko %s",
		   cfg->cluster_id[0] ? cfg->cluster_name : "(none)",
		   (unsigned long long)cfg->version, o.api_socket,
		   daemon_ktls_available(d) ? "available" : "unavailable",
		   daemon_nl(d) ? "loaded" : "not loaded");
	sd_notify(0, "READY=1");

	event_base_dispatch(base);
	rc = 0;

err_cp:
	broker_free(br);
	cp_free(cp);
err_relay:
	relay_glue = NULL;
	daemon_relay_free(dr);
err_api:
	api_destroy(api);
err_sig:
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	if (ev_hup)
		event_free(ev_hup);
	daemon_free(d);
err_base:
	event_base_free(base);
out:
	return rc ? 1 : 0;
}
