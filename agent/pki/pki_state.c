// SPDX-License-Identifier: GPL-2.0
/* pki_state.c — a node's PKI state: what it serves, what it trusts, and
 * the changes to it (issue, rotate, upload, fallback).
 *
 * Every change is made on a copy ("candidate"), saved as a new generation
 * on disk, and only then swapped in: a failure at any point leaves both
 * memory and disk as they were. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/clock.h"
#include "core/log.h"
#include "pki/pki_internal.h"

static void slot_clear(struct pki_slot *s)
{
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	pki_customer_cert_free(s->cust);
	memset(s, 0, sizeof(*s));
}

static void state_clear(struct pki_state *st)
{
	for (int i = 0; i < PKI_NPLANES; i++)
		slot_clear(&st->slot[i]);
	pki_ca_free(st->ca);
	pki_trust_put(st->trust);
	free(st->dir);
	memset(st, 0, sizeof(*st));
}

void pki_state_free(struct pki_state *st)
{
	if (!st)
		return;
	state_clear(st);
	free(st);
}

static struct pki_state *state_new(const char *dir)
{
	struct pki_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->dir = strdup(dir ? dir : PKI_STATE_DIR_DEFAULT);
	if (!st->dir) {
		free(st);
		return NULL;
	}
	return st;
}

static int rebuild_trust(struct pki_state *st)
{
	struct pki_trust *t = pki_trust_new(pki_ca_cert(st->ca), st->cluster_id);

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < PKI_NPLANES; i++) {
		struct pki_slot *s = &st->slot[i];
		enum pki_plane p = (enum pki_plane)(i + 1);

		if ((s->cust && pki_trust_add_pin(t, p, s->cust->pin)) ||
		    (s->has_prev_pin && pki_trust_add_pin(t, p, s->prev_pin))) {
			pki_trust_put(t);
			return -ENOMEM;
		}
	}
	pki_trust_put(st->trust);
	st->trust = t;
	return 0;
}

/* A copy sharing the (immutable) OpenSSL objects by reference. */
static struct pki_state *state_clone(const struct pki_state *st)
{
	struct pki_state *c = state_new(st->dir);

	if (!c)
		return NULL;
	memcpy(c->cluster_id, st->cluster_id, sizeof(c->cluster_id));
	memcpy(c->node_name, st->node_name, sizeof(c->node_name));
	c->node_id = st->node_id;
	c->generation = st->generation;
	c->ca = pki_ca_dup(st->ca);
	if (!c->ca)
		goto err;
	for (int i = 0; i < PKI_NPLANES; i++) {
		const struct pki_slot *s = &st->slot[i];
		struct pki_slot *d = &c->slot[i];

		*d = *s;
		d->cust = NULL;
		if (d->cert)
			X509_up_ref(d->cert);
		if (d->key)
			EVP_PKEY_up_ref(d->key);
		if (s->cust && !(d->cust = pki_customer_cert_dup(s->cust)))
			goto err;
	}
	return c;
err:
	pki_state_free(c);
	return NULL;
}

/* Save cand as the next generation; on success it becomes *st. */
static int commit(struct pki_state *st, struct pki_state *cand,
		  struct pki_err *err)
{
	struct pki_state tmp;
	int ret;

	ret = rebuild_trust(cand);
	if (ret) {
		pki_err_set(err, "out of memory building the trust store");
		goto out;
	}
	cand->generation = st->generation;
	ret = pki_store_save(cand, err);
	if (ret)
		goto out;
	cand->generation++;
	tmp = *st;
	*st = *cand;
	*cand = tmp;
out:
	pki_state_free(cand);
	return ret;
}

/* Check a CA-signed certificate for our key, plane and identity, and put
 * it in the slot (taking references). */
static int slot_set_internal(struct pki_state *st, enum pki_plane plane,
			     EVP_PKEY *key, const char *cert_pem,
			     size_t cert_len, struct pki_err *err)
{
	struct pki_slot *s = &st->slot[PKI_PIDX(plane)];
	struct pki_trust *t;
	uint32_t id = 0;
	time_t nb;
	X509 *x;
	int ret;

	x = pki_x509_from_pem(cert_pem, cert_len);
	if (!x) {
		pki_err_set(err, "issued certificate is not PEM");
		return -EINVAL;
	}
	if (X509_check_private_key(x, key) != 1) {
		ERR_clear_error();
		pki_err_set(err, "issued certificate does not match our %s key",
			    pki_plane_str(plane));
		X509_free(x);
		return -EINVAL;
	}
	t = pki_trust_new(pki_ca_cert(st->ca), st->cluster_id);
	ret = t ? pki_asn1_time(X509_get0_notBefore(x), &nb) : -ENOMEM;
	if (!ret)
		ret = pki_verify_peer(t, x, NULL, plane, nb + PKI_BACKDATE_SECS,
				      &id, err);
	pki_trust_put(t);
	if (!ret && id != st->node_id) {
		pki_err_set(err, "issued certificate names node %u, we are node %u",
			    id, st->node_id);
		ret = -EINVAL;
	}
	if (ret) {
		pki_err_prefix(err, "issued certificate refused");
		X509_free(x);
		return ret;
	}
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	EVP_PKEY_up_ref(key);
	s->cert = x;
	s->key = key;
	if (s->source == PKI_SRC_NONE)
		s->source = PKI_SRC_INTERNAL;
	return 0;
}

/* keygen + CSR + sign + install, all on this node. */
static int issue_local(struct pki_state *st, enum pki_plane plane, time_t now,
		       struct pki_err *err)
{
	EVP_PKEY *key = NULL;
	char *csr = NULL, *crt = NULL;
	size_t csr_len = 0, crt_len = 0;
	int ret;

	ret = pki_node_keygen(&key, err);
	if (!ret)
		ret = pki_node_csr(key, st->cluster_id, st->node_id, st->node_name,
				   plane, &csr, &csr_len, err);
	if (!ret)
		ret = pki_ca_sign_csr(st->ca, csr, csr_len, st->node_id,
				      st->node_name, plane, now, &crt, &crt_len, err);
	if (!ret)
		ret = slot_set_internal(st, plane, key, crt, crt_len, err);
	free(csr);
	free(crt);
	EVP_PKEY_free(key);
	return ret;
}

int pki_state_create(const char *dir, uint32_t node_id, const char *node_name,
		     time_t now, struct pki_state **out, struct pki_err *err)
{
	struct pki_state *st, *cand;
	char cid[37];
	int ret;

	if (pki_store_exists(dir ? dir : PKI_STATE_DIR_DEFAULT)) {
		pki_err_set(err, "%s already holds a cluster's PKI state", dir);
		return -EEXIST;
	}
	if (node_id == 0 || node_id > INT32_MAX || !pki_node_name_valid(node_name)) {
		pki_err_set(err, "invalid node id or node name");
		return -EINVAL;
	}
	st = state_new(dir);
	cand = state_new(dir);
	if (!st || !cand) {
		ret = -ENOMEM;
		goto err;
	}
	ret = pki_cluster_id_new(cid);
	if (!ret)
		ret = pki_ca_create(cid, now, &cand->ca, err);
	if (ret)
		goto err;
	snprintf(cand->cluster_id, sizeof(cand->cluster_id), "%s", cid);
	snprintf(cand->node_name, sizeof(cand->node_name), "%s", node_name);
	cand->node_id = node_id;
	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP && !ret; p++)
		ret = issue_local(cand, (enum pki_plane)p, now, err);
	if (ret)
		goto err;
	ret = commit(st, cand, err);
	cand = NULL;
	if (ret)
		goto err;
	log_info("pki: created cluster %s CA and node %u certificates in %s",
		 st->cluster_id, node_id, st->dir);
	*out = st;
	return 0;
err:
	pki_state_free(cand);
	pki_state_free(st);
	return ret;
}

int pki_state_join(const char *dir, const struct pki_ca *ca, uint32_t node_id,
		   const char *node_name, struct pki_state **out,
		   struct pki_err *err)
{
	struct pki_state *st, *cand;
	int ret;

	if (pki_store_exists(dir ? dir : PKI_STATE_DIR_DEFAULT)) {
		pki_err_set(err, "%s already holds a cluster's PKI state", dir);
		return -EEXIST;
	}
	if (!ca || node_id == 0 || node_id > INT32_MAX ||
	    !pki_node_name_valid(node_name)) {
		pki_err_set(err, "invalid CA, node id or node name");
		return -EINVAL;
	}
	st = state_new(dir);
	cand = state_new(dir);
	if (!st || !cand || !(cand->ca = pki_ca_dup(ca))) {
		pki_state_free(st);
		pki_state_free(cand);
		return -ENOMEM;
	}
	snprintf(cand->cluster_id, sizeof(cand->cluster_id), "%s", pki_ca_cluster_id(ca));
	snprintf(cand->node_name, sizeof(cand->node_name), "%s", node_name);
	cand->node_id = node_id;
	ret = commit(st, cand, err);
	if (ret) {
		pki_state_free(st);
		return ret;
	}
	*out = st;
	return 0;
}

int pki_state_load(const char *dir, struct pki_state **out, struct pki_err *err)
{
	struct pki_state *st = state_new(dir);
	int ret;

	if (!st)
		return -ENOMEM;
	ret = pki_store_load(st, err);
	if (!ret && rebuild_trust(st))
		ret = -ENOMEM;
	if (ret) {
		pki_state_free(st);
		return ret;
	}
	*out = st;
	return 0;
}

const char *pki_state_cluster_id(const struct pki_state *st)
{
	return st->cluster_id;
}

uint32_t pki_state_node_id(const struct pki_state *st)
{
	return st->node_id;
}

const struct pki_ca *pki_state_ca(const struct pki_state *st)
{
	return st->ca;
}

uint64_t pki_state_generation(const struct pki_state *st)
{
	return st->generation;
}

int pki_state_credentials(const struct pki_state *st, enum pki_plane plane,
			  X509 **cert, EVP_PKEY **key, STACK_OF(X509) **chain)
{
	const struct pki_slot *s;

	if (!pki_plane_str(plane))
		return -EINVAL;
	s = &st->slot[PKI_PIDX(plane)];
	if (s->source == PKI_SRC_CUSTOMER && s->cust) {
		*chain = X509_chain_up_ref(s->cust->chain);
		if (!*chain)
			return -ENOMEM;
		X509_up_ref(s->cust->leaf);
		EVP_PKEY_up_ref(s->cust->key);
		*cert = s->cust->leaf;
		*key = s->cust->key;
		return 0;
	}
	if (!s->cert)
		return -ENOENT;
	*chain = sk_X509_new_null();
	if (!*chain)
		return -ENOMEM;
	X509_up_ref(s->cert);
	EVP_PKEY_up_ref(s->key);
	*cert = s->cert;
	*key = s->key;
	return 0;
}

int pki_state_cert_pem(const struct pki_state *st, enum pki_plane plane,
		       char **pem, size_t *len)
{
	const struct pki_slot *s;

	if (!pki_plane_str(plane))
		return -EINVAL;
	s = &st->slot[PKI_PIDX(plane)];
	if (s->source == PKI_SRC_CUSTOMER && s->cust)
		return pki_customer_cert_chain_pem(s->cust, pem, len);
	if (!s->cert)
		return -ENOENT;
	return pki_x509_to_pem(s->cert, pem, len);
}

struct pki_trust *pki_state_trust(const struct pki_state *st)
{
	return pki_trust_get(st->trust);
}

int pki_state_install_cert(struct pki_state *st, enum pki_plane plane,
			   EVP_PKEY *key, const char *cert_pem,
			   size_t cert_len, struct pki_err *err)
{
	struct pki_state *cand;
	int ret;

	if (!pki_plane_str(plane) || !key) {
		pki_err_set(err, "invalid plane or key");
		return -EINVAL;
	}
	cand = state_clone(st);
	if (!cand)
		return -ENOMEM;
	ret = slot_set_internal(cand, plane, key, cert_pem, cert_len, err);
	if (ret) {
		pki_state_free(cand);
		return ret;
	}
	ret = commit(st, cand, err);
	if (!ret)
		log_info("pki: installed new %s certificate", pki_plane_str(plane));
	return ret;
}

int pki_state_rotate_local(struct pki_state *st, unsigned mask, time_t now,
			   struct pki_err *err)
{
	struct pki_state *cand;
	int ret = 0;

	if (!mask || (mask & ~PKI_MASK_ALL)) {
		pki_err_set(err, "no valid plane to rotate");
		return -EINVAL;
	}
	if (!pki_ca_can_sign(st->ca)) {
		pki_err_set(err, "this node does not hold the cluster CA key: ask the CA holder to sign");
		return -ENOKEY;
	}
	cand = state_clone(st);
	if (!cand)
		return -ENOMEM;
	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP && !ret; p++)
		if (mask & PKI_MASK(p))
			ret = issue_local(cand, (enum pki_plane)p, now, err);
	if (ret) {
		pki_state_free(cand);
		return ret;
	}
	ret = commit(st, cand, err);
	if (!ret)
		log_info("pki: rotated internal certificates (%s%s)",
			 mask & PKI_MASK(PKI_PLANE_CP) ? "cp " : "",
			 mask & PKI_MASK(PKI_PLANE_DP) ? "dp" : "");
	return ret;
}

int pki_state_apply_customer(struct pki_state *st, const struct pki_customer *c,
			     struct pki_err *err)
{
	struct pki_state *cand;
	int ret;

	if (!c || !c->plane[0] || !c->plane[1]) {
		pki_err_set(err, "no validated certificates to apply");
		return -EINVAL;
	}
	cand = state_clone(st);
	if (!cand)
		return -ENOMEM;
	for (int i = 0; i < PKI_NPLANES; i++) {
		struct pki_slot *s = &cand->slot[i];

		if (s->cust && memcmp(s->cust->pin, c->plane[i]->pin, 32)) {
			/* peers may still present the previous upload */
			memcpy(s->prev_pin, s->cust->pin, 32);
			s->has_prev_pin = true;
		}
		pki_customer_cert_free(s->cust);
		s->cust = pki_customer_cert_dup(c->plane[i]);
		if (!s->cust) {
			pki_state_free(cand);
			return -ENOMEM;
		}
		s->source = PKI_SRC_CUSTOMER;
		s->customer_replaced = false;
	}
	ret = commit(st, cand, err);
	if (ret)
		return ret;
	log_info("pki: customer certificates applied (generation %llu)",
		 (unsigned long long)st->generation);
	return 0;
}

int pki_state_use_internal(struct pki_state *st, unsigned mask,
			   bool customer_replaced, struct pki_err *err)
{
	struct pki_state *cand;

	if (!mask || (mask & ~PKI_MASK_ALL)) {
		pki_err_set(err, "no valid plane");
		return -EINVAL;
	}
	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP; p++)
		if ((mask & PKI_MASK(p)) && !st->slot[PKI_PIDX(p)].cert) {
			pki_err_set(err, "%s: no internal certificate to switch to",
				    pki_plane_str((enum pki_plane)p));
			return -ENOENT;
		}
	cand = state_clone(st);
	if (!cand)
		return -ENOMEM;
	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP; p++) {
		struct pki_slot *s = &cand->slot[PKI_PIDX(p)];

		if (!(mask & PKI_MASK(p)))
			continue;
		s->customer_replaced = customer_replaced;
		s->source = PKI_SRC_INTERNAL;
	}
	return commit(st, cand, err);
}

void pki_state_dates(const struct pki_state *st,
		     struct pki_plane_dates dates[PKI_NPLANES])
{
	memset(dates, 0, sizeof(*dates) * PKI_NPLANES);
	for (int i = 0; i < PKI_NPLANES; i++) {
		const struct pki_slot *s = &st->slot[i];
		struct pki_plane_dates *d = &dates[i];

		if (s->cert && !pki_asn1_time(X509_get0_notBefore(s->cert), &d->int_not_before) &&
		    !pki_asn1_time(X509_get0_notAfter(s->cert), &d->int_not_after))
			d->internal = true;
		if (s->cust) {
			d->customer = true;
			d->cust_not_before = s->cust->not_before;
			d->cust_not_after = s->cust->not_after;
		}
		d->source = s->source;
		d->customer_replaced = s->customer_replaced;
	}
}

static void log_alert_changes(struct pki_state *st, const struct pki_plan *plan)
{
	for (int i = 0; i < PKI_NPLANES; i++) {
		const struct pki_plane_plan *pp = &plan->plane[i];
		struct pki_slot *s = &st->slot[i];

		if (pp->alert == s->logged_alert)
			continue;
		if (pp->alert == PKI_ALERT_NONE)
			log_info("pki: %s: certificate alert cleared", pki_plane_str((enum pki_plane)(i + 1)));
		else if (pp->alert == PKI_ALERT_EXPIRED)
			log_err("pki: alert %s: %s", pki_alert_str(pp->alert), pp->message);
		else
			log_warn("pki: alert %s: %s", pki_alert_str(pp->alert), pp->message);
		s->logged_alert = pp->alert;
	}
}

int pki_state_tick(struct pki_state *st, time_t now, struct pki_plan *plan,
		   struct pki_err *err)
{
	struct pki_plane_dates d[PKI_NPLANES];
	int ret = 0;

	/* Fallback may uncover a rotation; a few rounds settle it. */
	for (int round = 0; round < 3 && !ret; round++) {
		unsigned rot = 0, fb = 0;

		pki_state_dates(st, d);
		pki_plan(d, now, plan);
		for (int i = 0; i < PKI_NPLANES; i++) {
			enum pki_action a = plan->plane[i].action;

			if ((a == PKI_ACT_ISSUE || a == PKI_ACT_ROTATE) &&
			    pki_ca_can_sign(st->ca))
				rot |= PKI_MASK(i + 1);
			else if (a == PKI_ACT_FALLBACK)
				fb |= PKI_MASK(i + 1);
		}
		if (fb) {
			ret = pki_state_use_internal(st, fb, true, err);
			if (!ret)
				log_warn("pki: customer certificates near expiry replaced by internal certificates");
		} else if (rot) {
			ret = pki_state_rotate_local(st, rot, now, err);
		} else {
			break;
		}
	}
	pki_state_dates(st, d);
	pki_plan(d, now, plan);
	log_alert_changes(st, plan);
	return ret;
}

static void cert_fields(X509 *x, struct pki_plane_status *ps)
{
	char cid[PKI_CLUSTER_ID_MAX + 1];
	enum pki_plane p;
	uint32_t id;

	pki_cert_serial(x, ps->serial, sizeof(ps->serial));
	X509_NAME_oneline(X509_get_subject_name(x), ps->subject, sizeof(ps->subject));
	if (!pki_node_identity(x, cid, &id, &p))
		snprintf(ps->san, sizeof(ps->san), "ine://%s/node/%u/%s", cid, id,
			 pki_plane_str(p));
	pki_asn1_time(X509_get0_notBefore(x), &ps->not_before);
	pki_asn1_time(X509_get0_notAfter(x), &ps->not_after);
	ERR_clear_error();
}

void pki_state_status(const struct pki_state *st, struct pki_status *out)
{
	struct pki_plane_dates d[PKI_NPLANES];
	struct pki_plan plan;

	memset(out, 0, sizeof(*out));
	snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", st->cluster_id);
	out->node_id = st->node_id;
	out->generation = st->generation;
	out->ca_key_present = pki_ca_can_sign(st->ca);
	pki_asn1_time(X509_get0_notAfter(pki_ca_cert(st->ca)), &out->ca_not_after);
	pki_state_dates(st, d);
	pki_plan(d, clock_now(), &plan);
	out->alert = plan.alert;
	for (int i = 0; i < PKI_NPLANES; i++) {
		const struct pki_slot *s = &st->slot[i];
		struct pki_plane_status *ps = &out->plane[i];

		ps->source = s->source;
		if (s->source == PKI_SRC_CUSTOMER && s->cust)
			cert_fields(s->cust->leaf, ps);
		else if (s->cert)
			cert_fields(s->cert, ps);
		ps->alert = plan.plane[i].alert;
		snprintf(ps->message, sizeof(ps->message), "%s", plan.plane[i].message);
	}
}
