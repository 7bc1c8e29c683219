// SPDX-License-Identifier: GPL-2.0
/* cp.c — the control plane's lifecycle, the top of agent/cp/'s core:
 * cp_new and cp_free, the timers, which protocol serves which ALPN on port
 * 3342, and what a configuration going live sets off.  See cp.h for the model and cp_internal.h for the
 * map of the other files. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/join.h"
#include "cp/token.h"
#include "inenl/inenl.h"
#include "tls/listener.h"

/* ------------------------------------------------------------ lifecycle */

/* Port 3342's protocols, by ALPN. */
static const struct cp_proto protos[] = {
	{ "ine-cp/1", cp_member_accept },
	{ "ine-join/1", join_accept },
	{ NULL, NULL },
};

/* A configuration went live (cp_repl.c): dial the members it added, and
 * rotate if it moved the manual rotation generation. */
static void config_live(struct cp *cp)
{
	cp_peers_sync(cp);
	cp_rotation_check(cp);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	cp_sess_reap(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	cp_member_tick(arg);
}

static void cert_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	cp_rotation_check(arg);
}

/* The wall clock jumped: what is due changed now, not at the next tick. */
static void cert_clock_jumped(void *arg, time_t jump)
{
	(void)jump;
	cp_rotation_check(arg);
}

int cp_new(struct event_base *base, const struct cp_opts *opts,
	   struct cp **out, char *err, size_t errlen)
{
	struct timeval tick = { CP_PING_MS / 1000, (CP_PING_MS % 1000) * 1000 };
	struct timeval ctick = { CP_CERT_CHECK_MS / 1000, 0 };
	struct pki_err perr = { "" };
	char tpath[PATH_MAX + 16];
	struct cp *cp;
	int ret;

	if (!opts->hooks.config_get || !opts->hooks.config_apply)
		return errmsg_fail(err, errlen, -EINVAL, "control plane needs the config hooks");
	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	cp->job_pipe[0] = cp->job_pipe[1] = -1;
	cp->base = base;
	cp->hooks = opts->hooks;
	cp->protos = protos;
	cp->config_live = config_live;
	cp->port = opts->port ? opts->port : CONFIG_INE_PORT;
	if (opts->bind_addr)
		snprintf(cp->bind_addr, sizeof(cp->bind_addr), "%s", opts->bind_addr);
	if (snprintf(cp->dir, sizeof(cp->dir), "%s", opts->state_dir) >=
	    (int)sizeof(cp->dir)) {
		ret = errmsg_fail(err, errlen, -ENAMETOOLONG, "state directory name too long");
		goto fail;
	}
	if (opts->pki_dir)
		snprintf(cp->pki_dir, sizeof(cp->pki_dir), "%s", opts->pki_dir);
	else
		snprintf(cp->pki_dir, sizeof(cp->pki_dir), "%s/pki", cp->dir);
	snprintf(tpath, sizeof(tpath), "%s/tokens.json", cp->dir);
	if (mkdir(cp->dir, 0700) < 0 && errno != EEXIST) {
		ret = errmsg_fail(err, errlen, -errno, "%s: %s", cp->dir, strerror(errno));
		goto fail;
	}
	ret = token_store_open(tpath, &cp->tokens);
	if (ret < 0) {
		errmsg_fail(err, errlen, ret, "%s: %s", tpath, strerror(-ret));
		goto fail;
	}
	ret = cp_load_cpstate(cp, err, errlen);
	if (ret < 0)
		goto fail;
	if (cp->hooks.pki_get) {
		ret = cp->hooks.pki_get(cp->hooks.arg) ? 0 : -ENOENT;
	} else {
		ret = pki_state_load(cp->pki_dir, &cp->pki_mine, &perr);
		cp->pki_owned = ret == 0;
	}
	if (ret == -ENOENT) {
		cp->pki_mine = NULL;
	} else if (ret < 0) {
		errmsg_fail(err, errlen, ret, "%s", perr.msg);
		goto fail;
	} else if (strcmp(pki_state_cluster_id(cp_pki_cur(cp)), cp_live(cp)->cluster_id) ||
		   !config_node_find(cp_live(cp), pki_state_node_id(cp_pki_cur(cp)))) {
		ret = errmsg_fail(err, errlen, -EINVAL,
			   "%s: certificates are for cluster %s node %u, the configuration does not match",
			   cp->dir, pki_state_cluster_id(cp_pki_cur(cp)),
			   pki_state_node_id(cp_pki_cur(cp)));
		goto fail;
	}
	ret = inenl_open(&cp->nl);
	if (ret < 0) {
		cp->nl = NULL;
		log_info("control plane: ine.ko not available (%s): sessions not registered with the kernel",
			 strerror(-ret));
	}
	ret = cp_jobs_init(cp, err, errlen);
	if (ret < 0)
		goto fail;
	cp->reaper = event_new(base, -1, 0, reaper_cb, cp);
	cp->tick = event_new(base, -1, EV_PERSIST, tick_cb, cp);
	cp->cert_tick = event_new(base, -1, EV_PERSIST, cert_tick_cb, cp);
	cp->clock_watch = clock_watch_new(base, cert_clock_jumped, cp);
	if (!cp->reaper || !cp->tick || !cp->cert_tick || !cp->clock_watch) {
		ret = errmsg_fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	evtimer_add(cp->tick, &tick);
	evtimer_add(cp->cert_tick, &ctick);
	if (cp_pki_cur(cp)) {
		log_info("control plane: node %u of cluster %s, configuration v%llu",
			 cp_node_id(cp), cp_live(cp)->cluster_id,
			 (unsigned long long)cp_live(cp)->version);
		cp_listener_sync(cp);
		cp_peers_sync(cp);
		cp->published_gen = pki_state_generation(cp_pki_cur(cp));
	}
	*out = cp;
	return 0;
fail:
	cp_free(cp);
	return ret;
}

void cp_free(struct cp *cp)
{
	struct cp_req *r;

	if (!cp)
		return;
	cp_jobs_free(cp);
	while ((r = cp->reqs))
		cp_req_finish(r, -ECANCELED, "agent shutting down");
	for (uint32_t id = 1; id <= CP_MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (!p)
			continue;
		p->sess = NULL;
		if (p->redial)
			event_free(p->redial);
		json_decref(p->status);
		free(p);
		cp->peers[id] = NULL;
	}
	while (cp->sessions) {
		cp->sessions->ops = NULL;
		cp_sess_close(cp->sessions, "shutting down");
	}
	if (cp->reaper)
		cp_sess_reap(cp);
	if (cp->reaper)
		event_free(cp->reaper);
	if (cp->tick)
		event_free(cp->tick);
	if (cp->cert_tick)
		event_free(cp->cert_tick);
	clock_watch_free(cp->clock_watch);
	cp_listener_drop(cp);
	tls_ctx_free(cp->server_ctx);
	tls_ctx_free(cp->client_ctx);
	inenl_close(cp->nl);
	if (cp->pki_owned)
		pki_state_free(cp->pki_mine);
	token_store_free(cp->tokens);
	json_decref(cp->certs);
	free(cp);
}
