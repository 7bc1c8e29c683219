// SPDX-License-Identifier: GPL-2.0
/* cp_repl.c — replication: configuration writes (committed by the
 * primary, forwarded to it from any other node, pushed to every member)
 * and the customer certificate bundle, replicated the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"

/* ------------------------------------------------------------ config */

json_t *cp_config_msg(const struct cp *cp)
{
	json_t *j = config_to_json(cp_live(cp));

	if (!j)
		return NULL;
	return cpmsg_pack(CPMSG_CONFIG, "{s:I, s:o}", "version",
			  (json_int_t)cp_live(cp)->version, "config", j);
}

json_t *cp_certs_msg(const struct cp *cp)
{
	if (!cp->certs || cp->certs_version < 1)
		return NULL;
	return cpmsg_pack(CPMSG_CERTS, "{s:I, s:O}", "version",
			  (json_int_t)cp->certs_version, "certs", cp->certs);
}

void cp_broadcast(struct cp *cp, json_t *(*make)(const struct cp *))
{
	for (uint32_t id = 1; id <= CP_MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (p && p->up && p->sess)
			cp_sess_send(p->sess, make(cp));
	}
}

/* Save, swap (the daemon's hook does both), push: the one way a new
 * version becomes live here. */
int cp_config_install(struct cp *cp, struct config *next, bool push,
			  char *err, size_t errlen)
{
	uint64_t ver = next->version;
	int ret = cp->hooks.config_apply(cp->hooks.arg, next, err, errlen);

	if (ret < 0)
		return ret;
	log_info("control plane: configuration version %llu is live",
		 (unsigned long long)ver);
	if (push)
		cp_broadcast(cp, cp_config_msg);
	if (cp->config_live)
		cp->config_live(cp);
	return 0;
}

int cp_commit_local(struct cp *cp, struct config *next, char *err,
		    size_t errlen)
{
	char verr[CONFIG_ERR_MAX];
	int ret;

	next->version = cp_live(cp)->version + 1;
	ret = config_validate(next, verr, sizeof(verr));
	if (ret < 0) {
		config_free(next);
		return errmsg_fail(err, errlen, -EINVAL, "%s", verr);
	}
	return cp_config_install(cp, next, true, err, errlen);
}

static void propose_done_cb(void *arg, int rc, const char *msg)
{
	(void)arg; (void)rc; (void)msg;
}

/* A write made here goes to the primary as a request {id, base_version,
 * key: payload} (payload stolen); done follows its answer (CP_PENDING). */
static int forward(struct cp *cp, struct cp_peer *p, enum cpmsg_type type,
		   int64_t base, const char *key, json_t *payload,
		   cp_done_fn done, void *arg, char *err, size_t errlen)
{
	struct cp_req *r = cp_req_new(cp, REQ_PROPOSE, p->id,
				      done ? done : propose_done_cb, arg);
	int ret;

	if (!r) {
		json_decref(payload);
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	}
	ret = cp_sess_send(p->sess, cpmsg_pack(type, "{s:I, s:I, s:o}", "id",
		(json_int_t)r->id, "base_version", (json_int_t)base, key,
		payload));
	if (ret < 0) {
		cp_req_free(cp, r);
		return errmsg_fail(err, errlen, -EHOSTUNREACH,
				   "primary node %u unreachable: %s", p->id,
				   strerror(-ret));
	}
	return CP_PENDING;
}

int cp_config_propose(struct cp *cp, struct config *next, cp_done_fn done,
		      void *arg, char *err, size_t errlen)
{
	char verr[CONFIG_ERR_MAX];
	uint32_t primary;
	struct cp_peer *p;
	json_t *j;
	int ret;

	if (next->version != cp_live(cp)->version &&
	    next->version != cp_live(cp)->version + 1) {
		config_free(next);
		return errmsg_fail(err, errlen, -EBUSY,
			    "the configuration changed meanwhile (now version %llu): retry",
			    (unsigned long long)cp_live(cp)->version);
	}
	ret = config_validate(next, verr, sizeof(verr));
	if (ret < 0) {
		config_free(next);
		return errmsg_fail(err, errlen, -EINVAL, "%s", verr);
	}
	if (!cp_pki_cur(cp) || cp_is_primary(cp))
		return cp_commit_local(cp, next, err, errlen);

	primary = cp_primary_id(cp);
	p = primary <= CP_MAX_PEERS ? cp->peers[primary] : NULL;
	if (!p || !p->up || !p->sess) {
		config_free(next);
		return errmsg_fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: configuration writes need it; every node keeps serving its last configuration",
			    primary);
	}
	j = config_to_json(next);
	config_free(next);
	if (!j)
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	return forward(cp, p, CPMSG_PROPOSE, (int64_t)cp_live(cp)->version,
		       "config", j, done, arg, err, errlen);
}

/* ------------------------------------------------------------ customer certs */

/* Parse the REST body's "certificates" array into pki items (borrowed
 * strings).  Strict: names known, no duplicates, key+certificate strings. */
static int certs_items(const json_t *bundle, struct pki_customer_item *items,
		       size_t *n, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(bundle, "certificates"), *v;
	size_t i;

	if (!json_is_object(bundle) || json_object_size(bundle) != 1 ||
	    !json_is_array(arr))
		return errmsg_fail(err, errlen, -EINVAL,
			    "body must be {\"certificates\": [...]}");
	if (json_array_size(arr) < 1 || json_array_size(arr) > 2)
		return errmsg_fail(err, errlen, -EINVAL,
			    "certificates: give 1 or 2 entries (%s, %s)",
			    PKI_NAME_CP, PKI_NAME_DP);
	json_array_foreach(arr, i, v) {
		const char *name, *cert, *key;

		if (json_unpack((json_t *)v, "{s:s, s:s, s:s !}", "name", &name,
				"certificate", &cert, "key", &key) < 0)
			return errmsg_fail(err, errlen, -EINVAL,
				    "certificates[%zu]: needs exactly name, certificate and key (strings)",
				    i);
		if (strcmp(name, PKI_NAME_CP) && strcmp(name, PKI_NAME_DP))
			return errmsg_fail(err, errlen, -EINVAL,
				    "certificates[%zu].name: unknown \"%.64s\" (use %s or %s)",
				    i, name, PKI_NAME_CP, PKI_NAME_DP);
		if (i == 1 && strcmp(name, items[0].name) == 0)
			return errmsg_fail(err, errlen, -EINVAL,
				    "certificates: %s given twice", name);
		items[i].name = name;
		items[i].cert_pem = cert;
		items[i].cert_len = strlen(cert);
		items[i].key_pem = key;
		items[i].key_len = strlen(key);
	}
	*n = json_array_size(arr);
	return 0;
}

static int certs_validate(const json_t *bundle, struct pki_customer **out,
			  char *err, size_t errlen)
{
	struct pki_customer_item items[2];
	struct pki_err perr = { "" };
	size_t n = 0;
	int ret = certs_items(bundle, items, &n, err, errlen);

	if (ret < 0)
		return ret;
	ret = pki_customer_validate(items, n, clock_now(), out, &perr);
	if (ret < 0)
		return errmsg_fail(err, errlen, -EINVAL, "%s", perr.msg);
	return 0;
}

/* Serve a bundle here and remember it (any node, on receipt or commit). */
int cp_certs_install(struct cp *cp, const json_t *bundle, int64_t version,
		     char *err, size_t errlen)
{
	struct pki_customer *c = NULL;
	struct pki_err perr = { "" };
	int ret;

	if (!cp_pki_cur(cp))
		return errmsg_fail(err, errlen, -ENOTCONN, "not a cluster member");
	ret = certs_validate(bundle, &c, err, errlen);
	if (ret < 0)
		return ret;
	ret = cp_save_json(cp, "certs.json", bundle);
	if (ret < 0) {
		pki_customer_free(c);
		return errmsg_fail(err, errlen, ret, "cannot save certificates: %s",
			    strerror(-ret));
	}
	ret = pki_state_apply_customer(cp_pki_cur(cp), c, &perr);
	pki_customer_free(c);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "%s", perr.msg);
	json_decref(cp->certs);
	cp->certs = json_deep_copy(bundle);
	cp->certs_version = version;
	cp_save_cpstate(cp);
	log_info("control plane: customer certificates version %lld installed",
		 (long long)version);
	cp_notify_pki(cp);
	return 0;
}

/* Primary: commit a bundle (version+1), and the metadata in the config. */
int cp_certs_commit(struct cp *cp, const json_t *bundle, char *err,
			size_t errlen)
{
	struct pki_status st;
	struct config *next;
	int ret;

	ret = cp_certs_install(cp, bundle, cp->certs_version + 1, err, errlen);
	if (ret < 0)
		return ret;
	cp_broadcast(cp, cp_certs_msg);
	ret = config_dup(cp_live(cp), &next);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "out of memory");
	pki_state_status(cp_pki_cur(cp), &st);
	next->certs.mode = CONFIG_CERT_CUSTOMER;
	next->certs.generation++;
	for (int i = 0; i < CONFIG_PLANE_N; i++) {
		struct config_cert_meta *m = &next->certs.plane[i];
		const struct pki_plane_status *ps = &st.plane[i];

		snprintf(m->subject, sizeof(m->subject), "%s", ps->subject);
		snprintf(m->serial, sizeof(m->serial), "%s", ps->serial);
		m->not_after = ps->not_after;
	}
	return cp_commit_local(cp, next, err, errlen);
}

int cp_certs_propose(struct cp *cp, const json_t *body, cp_done_fn done,
		     void *arg, char *err, size_t errlen)
{
	struct pki_customer *c = NULL;
	uint32_t primary;
	struct cp_peer *p;
	int ret;

	ret = certs_validate(body, &c, err, errlen);
	pki_customer_free(c);
	if (ret < 0)
		return ret;
	if (!cp_pki_cur(cp))
		return errmsg_fail(err, errlen, -ENOTCONN,
			    "create or join a cluster before uploading certificates");
	if (cp_is_primary(cp))
		return cp_certs_commit(cp, body, err, errlen);
	primary = cp_primary_id(cp);
	p = primary <= CP_MAX_PEERS ? cp->peers[primary] : NULL;
	if (!p || !p->up || !p->sess)
		return errmsg_fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: certificate uploads need it",
			    primary);
	return forward(cp, p, CPMSG_CERTS_PROPOSE, cp->certs_version, "certs",
		       json_incref((json_t *)body), done, arg, err, errlen);
}

