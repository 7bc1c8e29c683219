// SPDX-License-Identifier: GPL-2.0
/* join.c — cluster create, join tokens, and what both ends of the join
 * conversation share (names, addresses, the CA pin, undoing a half-made
 * PKI state).  join_server.c is the primary's side of ine-join/1,
 * join_client.c the joining node's; join.h has the messages. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/token.h"

/* ------------------------------------------------------------ helpers */

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/* Undo a half-made PKI state (create/join failed after it was written):
 * its generation directories and the "current" link, nothing else (the
 * directory may be the daemon's state directory). */
void join_rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "gen-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/current", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/current.tmp", dir);
	unlink(path);
}

bool join_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

int join_name_check(const char *what, const char *s, char *err, size_t errlen)
{
	if (join_name_valid(s))
		return 0;
	return errmsg_fail(err, errlen, -EINVAL,
			   "%s \"%.80s\": 1-63 letters, digits, '.', '-', '_'",
			   what, s);
}

int join_start_check(const struct cp *cp, int member_rc, char *err,
		     size_t errlen)
{
	if (cp_is_member(cp))
		return errmsg_fail(err, errlen, member_rc,
			    "this node is already node %u of cluster %s",
			    cp_node_id(cp), cp_config(cp)->cluster_id);
	if (cp->join_busy)
		return errmsg_fail(err, errlen, -EALREADY,
			    "a cluster create or join is already under way");
	return 0;
}

/* "host", "host:port" or "[v6]:port" → host; a port, when given, must be
 * the cluster's CP port. */
int join_parse_address(const struct cp *cp, const char *in, char *host,
			 size_t hostlen, char *err, size_t errlen)
{
	uint16_t port = 0;
	size_t n = strlen(in);

	if (token_addr_split(in, host, hostlen, &port) < 0) {
		/* a bare host name or address */
		if (n == 0 || n >= hostlen || n >= CONFIG_ADDR_MAX)
			return errmsg_fail(err, errlen, -EINVAL,
				    "address \"%.80s\": give a host name or IP address",
				    in);
		for (size_t i = 0; i < n; i++) {
			char c = in[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			      c == ':'))
				return errmsg_fail(err, errlen, -EINVAL,
					    "address \"%.80s\": invalid character", in);
		}
		memcpy(host, in, n + 1);
		port = 0;
	}
	if (strlen(host) >= CONFIG_ADDR_MAX)
		return errmsg_fail(err, errlen, -EINVAL, "address \"%.80s\" too long", in);
	if (port && port != cp_port(cp))
		return errmsg_fail(err, errlen, -EINVAL,
			    "address \"%.80s\": every node listens on port %u",
			    in, cp_port(cp));
	return 0;
}

int join_ca_pin(const struct pki_ca *ca, uint8_t pin[TOKEN_PIN_LEN])
{
	return pki_spki_sha256(pki_ca_cert(ca), pin);
}

/* ------------------------------------------------------------ create */

struct create {
	struct cp *cp;
	char name[CONFIG_NAME_MAX];
	char node_name[CONFIG_NAME_MAX];
	char host[CONFIG_ADDR_MAX];
	char pki_dir[PATH_MAX];
	time_t now;
	struct pki_state *st;		/* made by the worker */
	struct pki_err perr;
	int ret;
	cp_done_fn done;
	void *arg;
};

/* On a worker thread: the CA (RSA-3072) and node keys take a while. */
static void create_work(void *arg)
{
	struct create *c = arg;

	c->ret = pki_state_create(c->pki_dir, 1, c->node_name, c->now, &c->st,
				  &c->perr);
}

static int create_finish(struct create *c, char *err, size_t errlen)
{
	struct cp *cp = c->cp;
	struct config_node node = { 0 };
	char verr[CONFIG_ERR_MAX];
	struct config *next = NULL;
	int ret;

	if (c->ret < 0)
		return errmsg_fail(err, errlen, c->ret, "cannot create the cluster CA: %s",
			    c->perr.msg);
	ret = config_dup(cp_config(cp), &next);
	if (ret < 0) {
		snprintf(verr, sizeof(verr), "out of memory");
		goto undo;
	}
	snprintf(next->cluster_id, sizeof(next->cluster_id), "%s",
		 pki_state_cluster_id(c->st));
	snprintf(next->cluster_name, sizeof(next->cluster_name), "%s", c->name);
	node.id = 1;
	snprintf(node.name, sizeof(node.name), "%s", c->node_name);
	snprintf(node.address, sizeof(node.address), "%s", c->host);
	ret = config_node_add(next, &node);
	next->version = cp_config(cp)->version + 1;
	if (ret == 0)
		ret = config_validate(next, verr, sizeof(verr));
	else
		snprintf(verr, sizeof(verr), "out of memory");
	if (ret < 0) {
		config_free(next);
		goto undo;
	}
	ret = cp_install_membership(cp, c->st, next, err, errlen);
	c->st = NULL;
	if (ret < 0) {
		join_rm_tree(c->pki_dir);
		return ret;
	}
	log_info("control plane: created cluster %s (%s); this node is node 1 (%s), the primary",
		 cp_config(cp)->cluster_id, c->name, c->node_name);
	return 0;
undo:
	pki_state_free(c->st);
	c->st = NULL;
	join_rm_tree(c->pki_dir);
	return errmsg_fail(err, errlen, ret, "%s", verr);
}

static void create_done(void *arg)
{
	struct create *c = arg;
	char err[CP_ERR_MAX] = "", msg[CP_ERR_MAX];
	int ret;

	c->cp->join_busy = false;
	if (cp_is_member(c->cp))	/* a join won the race */
		ret = errmsg_fail(err, sizeof(err), -EEXIST, "this node joined a cluster meanwhile");
	else
		ret = create_finish(c, err, sizeof(err));
	if (ret == 0)
		snprintf(msg, sizeof(msg), "created cluster %s",
			 cp_config(c->cp)->cluster_id);
	if (c->done)
		c->done(c->arg, ret, ret ? err : msg);
	pki_state_free(c->st);
	free(c);
}

int cp_cluster_create(struct cp *cp, const char *name, const char *node_name,
		      const char *address, cp_done_fn done, void *arg,
		      char *err, size_t errlen)
{
	struct create *c;
	int ret;

	ret = join_start_check(cp, -EEXIST, err, errlen);
	if (ret == 0)
		ret = join_name_check("cluster name", name, err, errlen);
	if (ret == 0)
		ret = join_name_check("node name", node_name, err, errlen);
	if (ret < 0)
		return ret;
	if (cp_config(cp)->n_nodes || cp_config(cp)->n_routes)
		return errmsg_fail(err, errlen, -EINVAL,
			    "the standalone configuration already names nodes or routes");
	c = calloc(1, sizeof(*c));
	if (!c)
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	ret = join_parse_address(cp, address, c->host, sizeof(c->host), err, errlen);
	if (ret < 0) {
		free(c);
		return ret;
	}
	c->cp = cp;
	c->done = done;
	c->arg = arg;
	c->now = clock_now();
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->node_name, sizeof(c->node_name), "%s", node_name);
	snprintf(c->pki_dir, sizeof(c->pki_dir), "%s", cp_pki_dir(cp));
	ret = cp_job_run(cp, create_work, create_done, c);
	if (ret < 0) {
		free(c);
		return errmsg_fail(err, errlen, ret, "cannot start key generation: %s",
			    strerror(-ret));
	}
	cp->join_busy = true;
	return CP_PENDING;
}

/* ------------------------------------------------------------ tokens */

int cp_join_token_new(struct cp *cp, long ttl, char *out, size_t outlen,
		      char *err, size_t errlen)
{
	const struct config_node *primary;
	struct token t;
	int ret;

	if (!cp_is_member(cp))
		return errmsg_fail(err, errlen, -ENOTCONN,
			    "create a cluster first (inectl cluster create)");
	if (!cp_is_primary(cp))
		return errmsg_fail(err, errlen, -EPERM,
			    "join tokens are issued by the primary, node %u",
			    cp_primary_id(cp));
	if (ttl < 0 || ttl > TOKEN_TTL_MAX)
		return errmsg_fail(err, errlen, -ERANGE,
			    "ttl %ld s out of range 1..%d (0: default %d)", ttl,
			    TOKEN_TTL_MAX, TOKEN_TTL_DEFAULT);
	memset(&t, 0, sizeof(t));
	primary = config_node_find(cp_config(cp), cp_node_id(cp));
	snprintf(t.cluster_id, sizeof(t.cluster_id), "%.36s",
		 cp_config(cp)->cluster_id);
	cp_hostport(primary->address, cp_port(cp), t.primary, sizeof(t.primary));
	ret = join_ca_pin(pki_state_ca(cp_pki(cp)), t.ca_pin);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "cannot read the CA certificate");
	ret = token_store_issue(cp_tokens(cp), &t, clock_now(), ttl);
	if (ret < 0) {
		token_wipe(&t);
		return errmsg_fail(err, errlen, ret, "cannot record the token: %s",
			    strerror(-ret));
	}
	ret = token_encode(&t, out, outlen);
	token_wipe(&t);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "cannot encode the token");
	log_info("control plane: join token issued (valid %ld s)",
		 ttl ? ttl : (long)TOKEN_TTL_DEFAULT);
	return 0;
}

