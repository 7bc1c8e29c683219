// SPDX-License-Identifier: GPL-2.0
/* daemon_ops.c — the API ops table backed by the daemon: reads go to
 * daemon_status.c, writes (certificate uploads and rotation, single-node
 * cluster creation) build a new configuration for daemon_config_commit or
 * daemon_config_apply.  See daemon.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "daemon/daemon_internal.h"
#include "pki/pki.h"

static const struct config *op_config_get(void *ctx)
{
	return ((struct daemon *)ctx)->cfg;
}

static int op_commit(void *ctx, struct api_req *req, struct config *next, char *err,
		     size_t errlen)
{
	return daemon_config_commit(ctx, req, next, err, errlen);
}

static json_t *op_certs_get(void *ctx)
{
	return daemon_status_certs(ctx);
}

/* Customer metadata replicated in the configuration (same on every node). */
static void certs_meta_from_pki(struct config *c, const struct pki_state *pki)
{
	struct pki_status st;

	pki_state_status(pki, &st);
	for (int p = 0; p < CONFIG_PLANE_N; p++) {
		struct config_cert_meta *m = &c->certs.plane[p];

		snprintf(m->subject, sizeof(m->subject), "%s", st.plane[p].subject);
		snprintf(m->serial, sizeof(m->serial), "%s", st.plane[p].serial);
		m->not_after = st.plane[p].not_after;
	}
}

static int op_certs_set(void *ctx, struct api_req *req, const struct api_cert_upload *up,
			char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct pki_customer_item items[CONFIG_PLANE_N];
	struct pki_customer *cust = NULL;
	struct pki_err perr = { "" };
	struct config *next = NULL;
	size_t n = 0;
	int rc;

	if (!d->pki) {
		snprintf(err, errlen, "this node has no PKI state (create or join a cluster)");
		return -EBUSY;
	}
	for (int p = 0; p < CONFIG_PLANE_N; p++) {
		if (!up->certificate[p])
			continue;
		items[n].name = daemon_plane_key[p];
		items[n].cert_pem = up->certificate[p];
		items[n].cert_len = strlen(up->certificate[p]);
		items[n].key_pem = up->key[p];
		items[n].key_len = strlen(up->key[p]);
		n++;
	}
	rc = pki_customer_validate(items, n, clock_now(), &cust, &perr);
	if (rc) {
		snprintf(err, errlen, "%s", perr.msg[0] ? perr.msg : strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if ((rc = config_dup(d->cfg, &next)))
		goto out;
	rc = pki_state_apply_customer(d->pki, cust, &perr);
	if (rc) {
		snprintf(err, errlen, "applying the certificates: %s", perr.msg);
		config_free(next);
		goto out;
	}
	next->certs.mode = CONFIG_CERT_CUSTOMER;
	next->certs.generation++;
	certs_meta_from_pki(next, d->pki);
	api_req_set_reply(req, daemon_status_certs(d));
	rc = daemon_config_commit(d, req, next, err, errlen);
out:
	pki_customer_free(cust);
	return rc;
}

static int op_certs_rotate(void *ctx, struct api_req *req, char *err, size_t errlen)
{
	struct daemon *d = ctx;
	struct pki_err perr = { "" };
	struct config *next;
	int rc;

	if (d->cfg->certs.mode == CONFIG_CERT_CUSTOMER) {
		snprintf(err, errlen, "customer-provided certificates are not rotated; "
			 "upload new ones with PUT /v1/cluster/certificates");
		return -EBUSY;
	}
	/* Where this node holds the CA key it re-issues its own now; every
	 * node re-issues when it sees the generation move.  With a control
	 * plane (commit hook) that includes this node, the CA holder: it
	 * re-issues when the committed generation arrives, so rotating here
	 * too would re-issue its certificates twice. */
	if (!d->commit_hook && d->pki && pki_ca_can_sign(pki_state_ca(d->pki)) &&
	    (rc = pki_state_rotate_local(d->pki, PKI_MASK_ALL, clock_now(), &perr))) {
		snprintf(err, errlen, "rotation failed: %s", perr.msg);
		return rc;
	}
	if (config_dup(d->cfg, &next))
		return -ENOMEM;
	next->certs.generation++;
	{
		json_t *reply = daemon_status_certs(d);

		json_object_set_new(reply, "generation", json_integer(next->certs.generation));
		api_req_set_reply(req, reply);
	}
	return daemon_config_commit(d, req, next, err, errlen);
}

static json_t *op_status_local(void *ctx)
{
	return daemon_status_local(ctx);
}

static json_t *op_status_peers(void *ctx)
{
	struct daemon *d = ctx;

	return d->status_peers ? d->status_peers(d->status_peers_arg) : NULL;
}

static json_t *op_alerts_get(void *ctx)
{
	return daemon_status_alerts(ctx);
}

static int op_metrics_write(void *ctx, FILE *out)
{
	return daemon_status_metrics(ctx, out);
}

/* Cluster creation on this node: CA and this node's certificates (PKI),
 * then the configuration naming it node 1.  The control plane may replace
 * this handler (join tokens, replication). */
static int op_cluster_create(void *ctx, struct api_req *req, const char *name,
			     const char *node_name, const char *address, char *err,
			     size_t errlen)
{
	struct daemon *d = ctx;
	struct config_node n = { .id = 1 };
	struct pki_state *pki = NULL;
	struct pki_err perr = { "" };
	struct config *next;
	int rc;

	if (d->pki) {
		snprintf(err, errlen, "%s already holds PKI state for cluster %s", d->pki_dir,
			 pki_state_cluster_id(d->pki));
		return -EEXIST;
	}
	if (*node_name)
		snprintf(n.name, sizeof(n.name), "%s", node_name);
	else if (gethostname(n.name, sizeof(n.name) - 1) || !n.name[0])
		snprintf(n.name, sizeof(n.name), "node1");
	snprintf(n.address, sizeof(n.address), "%s", *address ? address : "127.0.0.1");
	if ((rc = config_dup(d->cfg, &next)))
		return rc;
	if ((rc = config_node_add(next, &n)))
		goto err;
	snprintf(next->cluster_name, sizeof(next->cluster_name), "%s", name);
	rc = pki_state_create(d->pki_dir, n.id, n.name, clock_now(), &pki, &perr);
	if (rc) {
		snprintf(err, errlen, "creating the cluster CA and certificates: %s",
			 perr.msg[0] ? perr.msg : strerror(-rc));
		rc = rc == -ENOMEM ? rc : -EINVAL;
		goto err;
	}
	snprintf(next->cluster_id, sizeof(next->cluster_id), "%s", pki_state_cluster_id(pki));
	next->version = d->cfg->version + 1;
	api_req_set_reply(req, json_pack("{s:s, s:s, s:I}", "id", next->cluster_id,
					  "name", next->cluster_name, "node_uid",
					  (json_int_t)n.id));
	daemon_pki_set(d, pki);
	return daemon_config_apply(d, next, err, errlen);
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
