/* daemon.c — live configuration, the commit/apply path, and the API ops
 * backed by them.  See daemon.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "daemon.h"
#include "metrics.h"

#define ALERT_CERT_DAYS 45

/* One line per event on stderr; under systemd (JOURNAL_STREAM set) with a
 * <prio> prefix so the journal keeps the priority. */
void daemon_log(int prio, const char *fmt, ...)
{
	static int journal = -1;
	va_list ap;

	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		fprintf(stderr, "<%d>", prio);
	else
		fputs("ined: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int path_join(char **out, const char *dir, const char *name)
{
	return asprintf(out, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

static int self_load(struct daemon *d)
{
	char *p;
	json_t *j;
	json_error_t jerr;
	int rc = 0;

	if (path_join(&p, d->state_dir, "node.json"))
		return -ENOMEM;
	j = json_load_file(p, 0, &jerr);
	if (j) {
		json_t *v = json_object_get(j, "node_uid");

		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) <= UINT32_MAX)
			d->self_node = (uint32_t)json_integer_value(v);
		else
			rc = -EINVAL;
		json_decref(j);
	} else if (access(p, F_OK) == 0) {
		rc = -EINVAL;
	}
	free(p);
	return rc;
}

int daemon_self_set(struct daemon *d, uint32_t node_uid)
{
	char *p, *tmp;
	json_t *j = json_pack("{s:I}", "node_uid", (json_int_t)node_uid);
	int rc = 0;

	if (!j)
		return -ENOMEM;
	if (path_join(&p, d->state_dir, "node.json")) {
		json_decref(j);
		return -ENOMEM;
	}
	if (asprintf(&tmp, "%s.tmp", p) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_dump_file(j, tmp, 0) || rename(tmp, p))
		rc = -errno ? -errno : -EIO;
	else
		d->self_node = node_uid;
	free(tmp);
out:
	free(p);
	json_decref(j);
	return rc;
}

static void probe_kernel(struct daemon *d)
{
	d->kmod_loaded = access("/sys/module/ine", F_OK) == 0;
	d->ktls_available = access("/sys/module/tls", F_OK) == 0 ||
			    access("/proc/net/tls_stat", F_OK) == 0;
}

int daemon_init(struct daemon *d, struct event_base *base, const char *state_dir,
		char *err, size_t errlen)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->base = base;
	if (!(d->state_dir = strdup(state_dir)) ||
	    path_join(&d->config_path, state_dir, "config.json")) {
		rc = -ENOMEM;
		goto err;
	}
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state directory %s: %s", state_dir, strerror(errno));
		goto err;
	}
	rc = config_load(d->config_path, &d->cfg, err, errlen);
	if (rc == -ENOENT) {
		d->cfg = config_new();
		rc = d->cfg ? 0 : -ENOMEM;
	}
	if (rc)
		goto err;
	if ((rc = self_load(d))) {
		snprintf(err, errlen, "%s/node.json: not valid", state_dir);
		goto err;
	}
	probe_kernel(d);
	return 0;
err:
	daemon_fini(d);
	return rc;
}

void daemon_fini(struct daemon *d)
{
	config_free(d->cfg);
	free(d->config_path);
	free(d->state_dir);
	d->cfg = NULL;
	d->config_path = d->state_dir = NULL;
}

int daemon_watch_add(struct daemon *d, daemon_watch_fn fn, void *arg)
{
	if (d->n_watch >= DAEMON_MAX_WATCH)
		return -ENOSPC;
	d->watch[d->n_watch].fn = fn;
	d->watch[d->n_watch].arg = arg;
	d->n_watch++;
	return 0;
}

/* One journal line per change an operator cares about. */
static void log_changes(const struct config *o, const struct config *n)
{
	size_t i;

	if (strcmp(o->cluster_id, n->cluster_id))
		daemon_log(LOG_NOTICE, "cluster %s (%s) configured", n->cluster_name,
			   n->cluster_id);
	if (o->policy_encrypt != n->policy_encrypt)
		daemon_log(LOG_NOTICE, "policy data_internode_encryption %s",
			   n->policy_encrypt ? "enabled" : "disabled");
	for (i = 0; i < n->n_nodes; i++)
		if (!config_node_find(o, n->nodes[i].id))
			daemon_log(LOG_NOTICE, "node %u (%s) added", n->nodes[i].id,
				   n->nodes[i].name);
	for (i = 0; i < o->n_nodes; i++)
		if (!config_node_find(n, o->nodes[i].id))
			daemon_log(LOG_NOTICE, "node %u (%s) removed", o->nodes[i].id,
				   o->nodes[i].name);
	for (i = 0; i < n->n_bdbs; i++) {
		const struct config_bdb *nb = &n->bdbs[i], *ob = config_bdb_find(o, nb->id);

		if (!ob)
			daemon_log(LOG_NOTICE, "bdb %u (%s) created, data_internode_encryption %s",
				   nb->id, nb->name, nb->encrypt ? "enabled" : "disabled");
		else if (ob->encrypt != nb->encrypt)
			daemon_log(LOG_NOTICE, "bdb %u (%s) data_internode_encryption %s",
				   nb->id, nb->name, nb->encrypt ? "enabled" : "disabled");
	}
	for (i = 0; i < o->n_bdbs; i++)
		if (!config_bdb_find(n, o->bdbs[i].id))
			daemon_log(LOG_NOTICE, "bdb %u (%s) deleted", o->bdbs[i].id,
				   o->bdbs[i].name);
	for (i = 0; i < n->n_routes; i++)
		if (!config_route_find(o, n->routes[i].id))
			daemon_log(LOG_NOTICE, "route %u added: port %u -> node %u target %s",
				   n->routes[i].id, n->routes[i].listen_port,
				   n->routes[i].peer_node, n->routes[i].target);
	for (i = 0; i < o->n_routes; i++)
		if (!config_route_find(n, o->routes[i].id))
			daemon_log(LOG_NOTICE, "route %u removed", o->routes[i].id);
	if (o->certs.mode != n->certs.mode)
		daemon_log(LOG_NOTICE, "certificates now %s", config_cert_mode_name(n->certs.mode));
	else if (o->certs.generation != n->certs.generation)
		daemon_log(LOG_NOTICE, "certificates rotated (generation %u)",
			   n->certs.generation);
}

int daemon_config_apply(struct daemon *d, struct config *next, char *err, size_t errlen)
{
	struct config *old = d->cfg;
	int rc;

	if ((rc = config_validate(next, err, errlen)))
		goto refuse;
	if (next->version < old->version) {
		snprintf(err, errlen, "configuration version %llu is older than %llu in force",
			 (unsigned long long)next->version, (unsigned long long)old->version);
		rc = -ESTALE;
		goto refuse;
	}
	if ((rc = config_save(next, d->config_path))) {
		snprintf(err, errlen, "writing %s: %s", d->config_path, strerror(-rc));
		goto refuse;
	}
	d->cfg = next;
	log_changes(old, next);
	daemon_log(LOG_INFO, "configuration version %llu in force",
		   (unsigned long long)next->version);
	for (int i = 0; i < d->n_watch; i++)
		d->watch[i].fn(d->watch[i].arg, old, next);
	config_free(old);
	return 0;
refuse:
	config_free(next);
	return rc;
}

int daemon_config_commit(struct daemon *d, struct api_req *req, struct config *next,
			 char *err, size_t errlen)
{
	next->version = d->cfg->version + 1;
	if (d->commit_hook)
		return d->commit_hook(d->commit_arg, req, next, err, errlen);
	return daemon_config_apply(d, next, err, errlen);
}

int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config *next = NULL;
	int rc;

	probe_kernel(d);
	rc = config_load(d->config_path, &next, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "%s: missing", d->config_path);
		return rc;
	}
	if (rc)
		return rc;
	/* Same path as any change, minus the version check: an operator
	 * restoring an older file on purpose is obeyed. */
	if ((rc = config_validate(next, err, errlen))) {
		config_free(next);
		return rc;
	}
	{
		struct config *old = d->cfg;

		d->cfg = next;
		log_changes(old, next);
		for (int i = 0; i < d->n_watch; i++)
			d->watch[i].fn(d->watch[i].arg, old, next);
		config_free(old);
	}
	return 0;
}

/* ---- API ops --------------------------------------------------------- */

static const struct config *op_config_get(void *ctx)
{
	return ((struct daemon *)ctx)->cfg;
}

static int op_commit(void *ctx, struct api_req *req, struct config *next, char *err,
		     size_t errlen)
{
	return daemon_config_commit(ctx, req, next, err, errlen);
}

static const char *const plane_key[CONFIG_PLANE_N] = {
	"ccs_internode_encryption", "data_internode_encryption"
};

static json_t *op_certs_get(void *ctx)
{
	struct daemon *d = ctx;
	json_t *o = config_certs_to_json(&d->cfg->certs);
	time_t now = time(NULL);

	/* Add seconds_left next to each plane's not_after. */
	for (int p = 0; o && p < CONFIG_PLANE_N; p++) {
		json_t *m = json_object_get(o, plane_key[p]);
		json_t *na = m ? json_object_get(m, "not_after") : NULL;

		if (na && json_integer_value(na) > 0)
			json_object_set_new(m, "seconds_left",
					    json_integer(json_integer_value(na) - now));
	}
	return o;
}

static int op_certs_set(void *ctx, struct api_req *req, const struct api_cert_upload *up,
			char *err, size_t errlen)
{
	(void)ctx;
	(void)req;
	(void)up;
	snprintf(err, errlen, "customer certificates need the PKI module, "
		 "which is not built into this agent yet");
	return -ENOSYS;
}

static int op_certs_rotate(void *ctx, struct api_req *req, char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct config *next;

	if (d->cfg->certs.mode == CONFIG_CERT_CUSTOMER) {
		snprintf(err, errlen, "customer-provided certificates are not rotated; "
			 "upload new ones with PUT /v1/cluster/certificates");
		return -EBUSY;
	}
	if (config_dup(d->cfg, &next))
		return -ENOMEM;
	/* Every node re-issues its internal certificates when it sees the
	 * generation move. */
	next->certs.generation++;
	api_req_set_reply(req, json_pack("{s:I}", "generation",
					 (json_int_t)next->certs.generation));
	return daemon_config_commit(d, req, next, err, errlen);
}

static json_t *op_status_local(void *ctx)
{
	struct daemon *d = ctx;
	const struct config_node *n = config_node_find(d->cfg, d->self_node);

	probe_kernel(d);
	return json_pack("{s:I, s:s, s:b, s:b, s:s, s:s, s:[], s:o, s:I}",
			 "uid", (json_int_t)d->self_node, "name", n ? n->name : "local",
			 "kernel_module_loaded", d->kmod_loaded,
			 "kernel_tls_available", d->ktls_available,
			 "offload", d->ktls_available ? "kernel" : "software",
			 "sessions_source", d->kmod_loaded ? "ine.ko" : "agent",
			 "sessions", "certificates", op_certs_get(d),
			 "config_version", (json_int_t)d->cfg->version);
}

static json_t *op_status_peers(void *ctx)
{
	struct daemon *d = ctx;

	return d->status_peers ? d->status_peers(d->status_peers_arg) : NULL;
}

static json_t *op_alerts_get(void *ctx)
{
	struct daemon *d = ctx;
	json_t *a = json_array(), *c = op_certs_get(d);

	for (int p = 0; a && c && p < CONFIG_PLANE_N; p++) {
		json_t *left = json_object_get(json_object_get(c, plane_key[p]), "seconds_left");
		json_int_t s;

		if (!left)
			continue;
		s = json_integer_value(left);
		if (s <= 0)
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:s, s:s}", "name", "certificate_expired",
				"severity", "critical", "plane", plane_key[p],
				"description", "the certificate has expired"));
		else if (s < ALERT_CERT_DAYS * 86400)
			json_array_append_new(a, json_pack(
				"{s:s, s:s, s:s, s:s, s:I}", "name", "certificate_expiring",
				"severity", "warning", "plane", plane_key[p], "description",
				"the certificate expires in less than 45 days",
				"seconds_left", s));
	}
	json_decref(c);
	if (a && !d->ktls_available)
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s}", "name", "kernel_tls_unavailable", "severity",
			"warning", "description",
			"the kernel has no TLS (modprobe tls failed): sessions use "
			"userspace TLS"));
	return a;
}

static int op_metrics_write(void *ctx, FILE *out)
{
	struct daemon *d = ctx;
	struct metrics_snapshot m;
	json_t *c = op_certs_get(d), *a = op_alerts_get(d);

	memset(&m, 0, sizeof(m));
	for (int p = 0; p < CONFIG_PLANE_N; p++) {
		json_t *left = json_object_get(json_object_get(c, plane_key[p]), "seconds_left");

		if (left) {
			m.cert_known[p] = true;
			m.cert_seconds_left[p] = json_integer_value(left);
		}
	}
	m.alerts = json_array_size(a);
	m.config_version = d->cfg->version;
	m.kmod_loaded = d->kmod_loaded;
	json_decref(c);
	json_decref(a);
	return metrics_write(&m, out);
}

static int uuid_new(char *out, size_t len)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		 b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* Single-node cluster creation; the control plane replaces this with the
 * real thing (CA, certificates, join tokens). */
static int op_cluster_create(void *ctx, struct api_req *req, const char *name,
			     const char *node_name, const char *address, char *err,
			     size_t errlen)
{
	struct daemon *d = ctx;
	struct config_node n = { .id = 1 };
	struct config *next;
	int rc;

	if ((rc = config_dup(d->cfg, &next)))
		return rc;
	if ((rc = uuid_new(next->cluster_id, sizeof(next->cluster_id))))
		goto err;
	snprintf(next->cluster_name, sizeof(next->cluster_name), "%s", name);
	if (*node_name)
		snprintf(n.name, sizeof(n.name), "%s", node_name);
	else if (gethostname(n.name, sizeof(n.name) - 1) || !n.name[0])
		snprintf(n.name, sizeof(n.name), "node1");
	snprintf(n.address, sizeof(n.address), "%s", *address ? address : "127.0.0.1");
	if ((rc = config_node_add(next, &n)))
		goto err;
	next->version = d->cfg->version + 1;
	api_req_set_reply(req, json_pack("{s:s, s:s, s:I}", "id", next->cluster_id,
					  "name", next->cluster_name, "node_uid",
					  (json_int_t)n.id));
	if ((rc = daemon_config_apply(d, next, err, errlen)))
		return rc;
	if ((rc = daemon_self_set(d, n.id)))
		snprintf(err, errlen, "recording this node's id: %s", strerror(-rc));
	return rc;
err:
	config_free(next);
	return rc;
}

const struct api_ops daemon_api_ops = {
	.config_get = op_config_get,
	.config_commit = op_commit,
	.certs_set = op_certs_set,
	.certs_rotate = op_certs_rotate,
	.certs_get = op_certs_get,
	.status_local = op_status_local,
	.status_peers = op_status_peers,
	.alerts_get = op_alerts_get,
	.metrics_write = op_metrics_write,
	.cluster_create = op_cluster_create,
};
