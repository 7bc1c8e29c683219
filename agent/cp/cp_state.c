// SPDX-License-Identifier: GPL-2.0
/* cp_state.c — the control plane's state, the bottom of agent/cp/ that
 * every other file here reads: the getters, who the primary is, the
 * status <-> errno mappings, worker jobs, and what the state directory
 * holds (cp.json, certs.json).  It calls no other file of agent/cp/. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "core/atomicfile.h"
#include "cp/cp_internal.h"

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

/* The pipe workers post finished jobs on, read by the loop. */
int cp_jobs_init(struct cp *cp, char *err, size_t errlen)
{
	cp->job_pipe[0] = cp->job_pipe[1] = -1;
	if (pipe2(cp->job_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return errmsg_fail(err, errlen, -errno, "pipe: %s", strerror(errno));
	cp->job_ev = event_new(cp->base, cp->job_pipe[0], EV_READ | EV_PERSIST,
			       job_ev_cb, cp);
	if (!cp->job_ev)
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	event_add(cp->job_ev, NULL);
	return 0;
}

void cp_jobs_free(struct cp *cp)
{
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

int cp_load_cpstate(struct cp *cp, char *err, size_t errlen)
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
