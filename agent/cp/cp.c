// SPDX-License-Identifier: GPL-2.0
/* cp.c — the control plane's lifecycle and state: cp_new/cp_free, the
 * getters, worker jobs, what the state directory holds (cp.json,
 * certs.json), and becoming a member.  See cp.h for the model and
 * cp_internal.h for the map of the other files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/token.h"
#include "inenl/inenl.h"
#include "tls/listener.h"

#define CERTS_FILE_MAX	(1024 * 1024)

/* Blocking work (RSA key generation: seconds, tens of seconds under
 * emulation) runs on a thread so the loop keeps serving; done() runs back
 * on the loop. */
struct cp_job {
	struct cp_job *next;
	pthread_t th;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	int wr;
};

/* ------------------------------------------------------------ helpers */

struct event_base *cp_base(struct cp *cp) { return cp->base; }
const char *cp_state_dir(const struct cp *cp) { return cp->dir; }
const char *cp_pki_dir(const struct cp *cp) { return cp->pki_dir; }
struct token_store *cp_tokens(struct cp *cp) { return cp->tokens; }
const struct config *cp_config(const struct cp *cp) { return cp_live(cp); }
bool cp_is_member(const struct cp *cp) { return cp_pki_cur(cp) != NULL; }
struct pki_state *cp_pki(struct cp *cp) { return cp_pki_cur(cp); }
const json_t *cp_certs_bundle(const struct cp *cp) { return cp->certs; }
int64_t cp_certs_version(const struct cp *cp) { return cp->certs_version; }
uint16_t cp_port(const struct cp *cp) { return cp->port; }

uint32_t cp_node_id(const struct cp *cp)
{
	return cp_pki_cur(cp) ? pki_state_node_id(cp_pki_cur(cp)) : 0;
}

/* The primary is the node holding the CA key: the lowest id, node 1, made
 * by cluster create. */
uint32_t cp_primary_id(const struct cp *cp)
{
	uint32_t min = 0;

	for (size_t i = 0; i < cp_live(cp)->n_nodes; i++)
		if (!min || cp_live(cp)->nodes[i].id < min)
			min = cp_live(cp)->nodes[i].id;
	return min;
}

bool cp_is_primary(const struct cp *cp)
{
	return cp_pki_cur(cp) && cp_node_id(cp) == cp_primary_id(cp) &&
	       pki_ca_can_sign(pki_state_ca(cp_pki_cur(cp)));
}

int cp_http_status(int rc)
{
	switch (rc) {
	case 0:
	case CP_PENDING:
		return 200;
	case -EINVAL:
	case -EBADMSG:
	case -ERANGE:
	case -ENAMETOOLONG:
	case -EPROTONOSUPPORT:
		return 400;
	case -EACCES:
	case -EKEYEXPIRED:
	case -EALREADY:
	case -EPERM:
		return 403;
	case -ENOENT:
		return 404;
	case -EBUSY:
	case -EEXIST:
	case -EISCONN:
	case -ENOTCONN:
		return 409;
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECONNREFUSED:
		return 503;
	default:
		return 500;
	}
}

int cp_rc_from_http(long status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EBUSY;
	case 503: return -EHOSTUNREACH;
	default: return -EIO;
	}
}

/* "host:port", bracketing IPv6 literals. */
void cp_hostport(const char *host, uint16_t port, char *out, size_t outlen)
{
	if (strchr(host, ':'))
		snprintf(out, outlen, "[%s]:%u", host, port);
	else
		snprintf(out, outlen, "%s:%u", host, port);
}

/* ------------------------------------------------------------ jobs */

static void *job_thread(void *arg)
{
	struct cp_job *j = arg;
	ssize_t w;

	j->work(j->arg);
	do
		w = write(j->wr, &j, sizeof(j));	/* < PIPE_BUF: atomic */
	while (w < 0 && errno == EINTR);
	return NULL;
}

static void job_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;
	struct cp_job *j, **pp;

	(void)what;
	while (read(fd, &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		pthread_join(j->th, NULL);
		for (pp = &cp->jobs; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		event_base_update_cache_time(cp->base);
		j->done(j->arg);
		free(j);
	}
}

int cp_job_run(struct cp *cp, void (*work)(void *), void (*done)(void *),
	       void *arg)
{
	struct cp_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->wr = cp->job_pipe[1];
	ret = pthread_create(&j->th, NULL, job_thread, j);
	if (ret) {
		free(j);
		return -ret;
	}
	j->next = cp->jobs;
	cp->jobs = j;
	return 0;
}

/* ------------------------------------------------------------ persistence */

int cp_save_json(const struct cp *cp, const char *name, const json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT);
	size_t len;
	int ret;

	if (!txt)
		return -ENOMEM;
	len = strlen(txt);
	ret = atomicfile_write(cp->dir, name, txt, len, 0600);
	OPENSSL_cleanse(txt, len);
	free(txt);
	return ret;
}

int cp_save_cpstate(const struct cp *cp)
{
	json_t *j = json_pack("{s:I, s:I}", "rotated_generation",
			      (json_int_t)cp->rotated_gen, "certs_version",
			      (json_int_t)cp->certs_version);
	int ret = j ? cp_save_json(cp, "cp.json", j) : -ENOMEM;

	json_decref(j);
	return ret;
}

static int load_cpstate(struct cp *cp, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], *buf = NULL, why[128] = "";
	json_error_t jerr;
	json_int_t gen, cver;
	size_t len = 0;
	json_t *j;
	int ret;

	snprintf(path, sizeof(path), "%s/cp.json", cp->dir);
	if (access(path, F_OK) == 0) {
		j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (!j || json_unpack(j, "{s:I, s:I !}", "rotated_generation",
				      &gen, "certs_version", &cver) < 0 ||
		    gen < 0 || gen > UINT32_MAX || cver < 0) {
			json_decref(j);
			return errmsg_fail(err, errlen, -EBADMSG, "%s: malformed", path);
		}
		cp->rotated_gen = (uint32_t)gen;
		cp->certs_version = cver;
		json_decref(j);
	}
	snprintf(path, sizeof(path), "%s/certs.json", cp->dir);
	if (access(path, F_OK) == 0) {
		ret = atomicfile_read(path, CERTS_FILE_MAX, true, &buf, &len,
				      why, sizeof(why));
		if (ret < 0)
			return errmsg_fail(err, errlen, ret, "%s: %s", path, why);
		cp->certs = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		atomicfile_free(buf, len);
		if (!json_is_object(cp->certs))
			return errmsg_fail(err, errlen, -EBADMSG, "%s: malformed", path);
	}
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

int cp_install_membership(struct cp *cp, struct pki_state *st,
			  struct config *cfg, char *err, size_t errlen)
{
	uint32_t gen = cfg->certs.generation;
	int ret;

	/* the PKI first: the daemon learns its node id before the
	 * configuration naming it goes live */
	if (cp->hooks.pki_set) {
		cp->hooks.pki_set(cp->hooks.arg, st);
	} else {
		if (cp->pki_owned)
			pki_state_free(cp->pki_mine);
		cp->pki_mine = st;
		cp->pki_owned = true;
	}
	ret = cp->hooks.config_apply(cp->hooks.arg, cfg, err, errlen);
	if (ret < 0) {
		if (cp->hooks.pki_set) {
			cp->hooks.pki_set(cp->hooks.arg, NULL);	/* frees st */
		} else {
			pki_state_free(cp->pki_mine);
			cp->pki_mine = NULL;
			cp->pki_owned = false;
		}
		return ret;
	}
	cp->rotated_gen = gen;
	cp_save_cpstate(cp);
	log_info("control plane: node %u of cluster %s (%s)",
		 pki_state_node_id(st), cp_live(cp)->cluster_id,
		 cp_live(cp)->cluster_name);
	if (cp->hooks.member_changed)
		cp->hooks.member_changed(cp->hooks.arg, pki_state_node_id(st));
	cp_listener_sync(cp);
	cp_notify_pki(cp);
	cp_peers_sync(cp);
	return 0;
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
	ret = load_cpstate(cp, err, errlen);
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
	cp->job_pipe[0] = cp->job_pipe[1] = -1;
	if (pipe2(cp->job_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = errmsg_fail(err, errlen, -errno, "pipe: %s", strerror(errno));
		goto fail;
	}
	cp->job_ev = event_new(base, cp->job_pipe[0], EV_READ | EV_PERSIST,
			       job_ev_cb, cp);
	if (!cp->job_ev) {
		ret = errmsg_fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	event_add(cp->job_ev, NULL);
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
	/* let running workers finish (their results are still wanted only if
	 * the loop runs; here we just collect them) */
	while (cp->jobs) {
		struct cp_job *j = cp->jobs;

		cp->jobs = j->next;
		pthread_join(j->th, NULL);
		free(j);	/* its arg leaks: only at shutdown */
	}
	if (cp->job_ev)
		event_free(cp->job_ev);
	if (cp->job_pipe[0] >= 0)
		close(cp->job_pipe[0]);
	if (cp->job_pipe[1] >= 0)
		close(cp->job_pipe[1]);
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
