// SPDX-License-Identifier: GPL-2.0
/* store_member.c — the local etcd member ined starts and supervises.
 *
 * Its data lives in <state_dir>/etcd (0700, as etcd wants); its peer and
 * client URLs are loopback addresses (docs/store.md: the relay carries
 * them between nodes).  When the member exits for any reason but our own
 * stop, it is started again after a backoff that doubles from 200 ms to
 * 10 s and resets once a run lasted 30 s; the exit is seen through a
 * pidfd on the libevent loop, so there is no SIGCHLD handler to share. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_internal.h"

#define MEMBER_BACKOFF_MIN_MS	200
#define MEMBER_BACKOFF_MAX_MS	10000
#define MEMBER_STABLE_SECS	30
#define MEMBER_ARGS_MAX		40

struct store_member {
	struct event_base *base;
	char *argv[MEMBER_ARGS_MAX];
	int argc;
	char *log_path;
	pid_t pid;
	int pidfd;
	struct event *exit_ev, *restart_ev;
	time_t started;
	int backoff_ms;
	unsigned restarts;
};

/* argv gets opt followed by v: "--name=" "n1" */
static int add_arg(struct store_member *m, const char *opt, const char *v)
{
	char *a;

	if (m->argc + 1 >= MEMBER_ARGS_MAX || asprintf(&a, "%s%s", opt, v) < 0)
		return -ENOMEM;
	m->argv[m->argc++] = a;
	return 0;
}

static int spawn(struct store_member *m, struct store_err *err)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0) {
		store_err_set(err, "store: cannot fork etcd: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int out = open(m->log_path ? m->log_path : "/dev/null",
			       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execvp(m->argv[0], m->argv);
		_exit(127);
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		int e = errno;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		store_err_set(err, "store: pidfd_open for etcd: %s", strerror(e));
		return -e;
	}
	m->pid = pid;
	m->pidfd = fd;
	m->started = clock_mono();
	return 0;
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg);

static int watch_exit(struct store_member *m)
{
	if (m->exit_ev)
		event_free(m->exit_ev);
	m->exit_ev = event_new(m->base, m->pidfd, EV_READ, on_exit_ev, m);
	return m->exit_ev && !event_add(m->exit_ev, NULL) ? 0 : -ENOMEM;
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct store_member *m = arg;
	struct store_err err = { "" };
	struct timeval tv;

	(void)fd;
	(void)what;
	if (spawn(m, &err) == 0 && watch_exit(m) == 0) {
		m->restarts++;
		log_info("store: etcd member restarted (pid %d, restart %u)", (int)m->pid,
			 m->restarts);
		return;
	}
	log_err("%s; trying again", err.msg[0] ? err.msg : "store: cannot restart etcd");
	tv.tv_sec = m->backoff_ms / 1000;
	tv.tv_usec = (m->backoff_ms % 1000) * 1000;
	evtimer_add(m->restart_ev, &tv);
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct store_member *m = arg;
	struct timeval tv;
	int st = 0;

	(void)fd;
	(void)what;
	waitpid(m->pid, &st, 0);
	if (clock_mono() - m->started >= MEMBER_STABLE_SECS)
		m->backoff_ms = MEMBER_BACKOFF_MIN_MS;
	if (WIFSIGNALED(st))
		log_warn("store: etcd member (pid %d) killed by signal %d; restart in %d ms",
			 (int)m->pid, WTERMSIG(st), m->backoff_ms);
	else
		log_warn("store: etcd member (pid %d) exited with status %d; restart in %d ms",
			 (int)m->pid, WEXITSTATUS(st), m->backoff_ms);
	close(m->pidfd);
	m->pidfd = -1;
	m->pid = 0;
	tv.tv_sec = m->backoff_ms / 1000;
	tv.tv_usec = (m->backoff_ms % 1000) * 1000;
	m->backoff_ms *= 2;
	if (m->backoff_ms > MEMBER_BACKOFF_MAX_MS)
		m->backoff_ms = MEMBER_BACKOFF_MAX_MS;
	evtimer_add(m->restart_ev, &tv);
}

static bool set(const char *s)
{
	return s && *s;
}

struct store_member *store_member_start(struct event_base *base,
					const struct store_member_opts *o,
					struct store_err *err)
{
	struct store_member *m;
	char dir[4096], num[16];
	int tls = set(o->ca_file) + set(o->cert_file) + set(o->key_file), ret;

	if (!set(o->state_dir) || !set(o->name) || !set(o->peer_url) ||
	    !set(o->client_url) || !set(o->initial_cluster)) {
		store_err_set(err, "store: an etcd member needs a state directory, a name, "
			      "peer and client URLs and the initial cluster");
		return NULL;
	}
	if (tls != 0 && tls != 3) {
		store_err_set(err, "store: etcd TLS needs a CA, a certificate and a key");
		return NULL;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/etcd", o->state_dir) >= sizeof(dir)) {
		store_err_set(err, "store: state directory path too long");
		return NULL;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		store_err_set(err, "store: cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	chmod(dir, 0700);	/* etcd refuses a data directory others can read */
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->base = base;
	m->pidfd = -1;
	m->backoff_ms = MEMBER_BACKOFF_MIN_MS;
	ret = add_arg(m, "", set(o->etcd_bin) ? o->etcd_bin : "etcd") ||
	      add_arg(m, "--name=", o->name) ||
	      add_arg(m, "--data-dir=", dir) ||
	      add_arg(m, "--listen-peer-urls=", o->peer_url) ||
	      add_arg(m, "--initial-advertise-peer-urls=", o->peer_url) ||
	      add_arg(m, "--listen-client-urls=", o->client_url) ||
	      add_arg(m, "--advertise-client-urls=", o->client_url) ||
	      add_arg(m, "--initial-cluster=", o->initial_cluster) ||
	      add_arg(m, "--initial-cluster-state=", o->join_existing ? "existing" : "new");
	snprintf(num, sizeof(num), "%d", o->heartbeat_ms > 0 ? o->heartbeat_ms : 100);
	ret = ret || add_arg(m, "--heartbeat-interval=", num);
	snprintf(num, sizeof(num), "%d", o->election_ms > 0 ? o->election_ms : 1000);
	ret = ret || add_arg(m, "--election-timeout=", num);
	if (tls == 3)
		ret = ret || add_arg(m, "--cert-file=", o->cert_file) ||
		      add_arg(m, "--key-file=", o->key_file) ||
		      add_arg(m, "--trusted-ca-file=", o->ca_file) ||
		      add_arg(m, "--client-cert-auth=", "true") ||
		      add_arg(m, "--peer-cert-file=", o->cert_file) ||
		      add_arg(m, "--peer-key-file=", o->key_file) ||
		      add_arg(m, "--peer-trusted-ca-file=", o->ca_file) ||
		      add_arg(m, "--peer-client-cert-auth=", "true");
	if (ret || (o->log_path && !(m->log_path = strdup(o->log_path))))
		goto nomem;
	m->restart_ev = evtimer_new(base, on_restart, m);
	if (!m->restart_ev)
		goto nomem;
	if (spawn(m, err))
		goto fail;
	if (watch_exit(m))
		goto nomem;
	log_info("store: etcd member %s started (pid %d, data %s)", o->name, (int)m->pid, dir);
	return m;
nomem:
	store_err_set(err, "store: out of memory starting etcd member %s", o->name);
fail:
	store_member_stop(m);
	return NULL;
}

void store_member_stop(struct store_member *m)
{
	int i;

	if (!m)
		return;
	if (m->restart_ev)
		event_free(m->restart_ev);
	if (m->exit_ev)
		event_free(m->exit_ev);
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		for (i = 0; i < 50 && waitpid(m->pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		if (i == 50) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, NULL, 0);
		}
	}
	if (m->pidfd >= 0)
		close(m->pidfd);
	for (i = 0; i < m->argc; i++)
		free(m->argv[i]);
	free(m->log_path);
	free(m);
}

pid_t store_member_pid(const struct store_member *m)
{
	return m->pid;
}

unsigned store_member_restarts(const struct store_member *m)
{
	return m->restarts;
}
