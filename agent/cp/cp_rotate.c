// SPDX-License-Identifier: GPL-2.0
/* cp_rotate.c — certificate rotation: the replicated rotation generation
 * (manual rotation) and the PKI plan (every 30 days, a missing
 * certificate).  The primary signs its own; the others send CSRs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"
#include "pki/rotalert.h"

/* ------------------------------------------------------------ rotation */

int cp_certs_rotate(struct cp *cp, cp_done_fn done, void *arg, char *err,
		    size_t errlen)
{
	struct config *next;
	int ret;

	if (!cp_pki_cur(cp))
		return errmsg_fail(err, errlen, -ENOTCONN,
			    "create or join a cluster before rotating certificates");
	ret = config_dup(cp_live(cp), &next);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "out of memory");
	next->certs.generation++;
	return cp_config_propose(cp, next, done, arg, err, errlen);
}

static void csr_done_cb(void *arg, int rc, const char *msg)
{
	struct cp *cp = arg;

	if (rc < 0) {
		log_warn("control plane: certificate renewal failed: %s; retrying on the "
			 "next check", msg);
		/* A requested rotation counts as done once the request is sent
		 * (cp_rotation_check); a request that then fails must be made again,
		 * or this node keeps its old certificates until the next one. */
		if (cp->rotated_gen >= cp_live(cp)->certs.generation &&
		    cp_live(cp)->certs.generation > 0) {
			cp->rotated_gen = cp_live(cp)->certs.generation - 1;
			cp_save_cpstate(cp);
		}
	} else {
		log_info("control plane: %s", msg);
	}
}

/* Ask the primary's CA for a new certificate on `plane` (new key). */
struct keyjob {
	struct cp *cp;
	enum pki_plane plane;
	EVP_PKEY *key[PKI_NPLANES];
	int ret;
	struct pki_err perr;
};

static void keygen_work(void *arg)
{
	struct keyjob *k = arg;

	for (int i = 0; i < PKI_NPLANES && !k->ret; i++)
		if (!k->plane || PKI_PIDX(k->plane) == i)
			k->ret = pki_node_keygen(&k->key[i], &k->perr);
}

static void keyjob_free(struct keyjob *k)
{
	for (int i = 0; i < PKI_NPLANES; i++)
		EVP_PKEY_free(k->key[i]);
	free(k);
}

/* On the loop with a fresh key: CSR to the primary's CA. */
static void rotate_remote_done(void *arg)
{
	struct keyjob *k = arg;
	struct cp *cp = k->cp;
	uint32_t primary = cp_primary_id(cp);
	struct cp_peer *p = primary <= CP_MAX_PEERS ? cp->peers[primary] : NULL;
	struct pki_err perr = { "" };
	struct config_node *me;
	char *csr = NULL;
	size_t csr_len = 0;
	struct cp_req *r;
	int ret;

	cp->csr_inflight[PKI_PIDX(k->plane)] = false;
	cp->csr_sent[PKI_PIDX(k->plane)] = 0;	/* until the CSR is sent */
	if (k->ret < 0 || !cp_pki_cur(cp)) {
		log_warn("control plane: cannot make a %s key: %s",
			 pki_plane_str(k->plane), k->perr.msg);
		rotalert_set(cp_pki_cur(cp), k->plane, "cannot make a key: %s", k->perr.msg);
		goto out;
	}
	if (!p || !p->up || !p->sess) {
		rotalert_set(cp_pki_cur(cp), k->plane, "primary node %u unreachable", primary);
		goto out;	/* retried on the next tick */
	}
	me = config_node_find(cp_live(cp), cp_node_id(cp));
	ret = pki_node_csr(k->key[PKI_PIDX(k->plane)], pki_state_cluster_id(cp_pki_cur(cp)),
			   cp_node_id(cp), me ? me->name : "?", k->plane, &csr,
			   &csr_len, &perr);
	if (ret < 0) {
		log_warn("control plane: cannot make a %s CSR: %s",
			 pki_plane_str(k->plane), perr.msg);
		rotalert_set(cp_pki_cur(cp), k->plane, "cannot make a CSR: %s", perr.msg);
		goto out;
	}
	r = cp_req_new(cp, REQ_CSR, primary, csr_done_cb, cp);
	if (!r)
		goto out;
	r->key = k->key[PKI_PIDX(k->plane)];
	k->key[PKI_PIDX(k->plane)] = NULL;
	r->plane = k->plane;
	cp->csr_inflight[PKI_PIDX(k->plane)] = true;
	cp->csr_sent[PKI_PIDX(k->plane)] = clock_mono();
	ret = cp_sess_send(p->sess, cpmsg_pack(CPMSG_CSR, "{s:I, s:s, s:s}",
		"id", (json_int_t)r->id, "plane", pki_plane_str(k->plane),
		"csr", csr));
	if (ret < 0)
		cp_req_finish(r, ret, "cannot send the CSR");
out:
	if (csr)
		pki_pem_free(csr, csr_len);
	keyjob_free(k);
}

/* Ask the primary's CA for a new certificate on `plane` (new key). */
static int rotate_remote(struct cp *cp, enum pki_plane plane)
{
	uint32_t primary = cp_primary_id(cp);
	struct cp_peer *p = primary <= CP_MAX_PEERS ? cp->peers[primary] : NULL;
	struct keyjob *k;
	int ret;

	if (cp->csr_inflight[PKI_PIDX(plane)])
		return 0;
	if (!p || !p->up || !p->sess)
		return -EHOSTUNREACH;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cp = cp;
	k->plane = plane;
	ret = cp_job_run(cp, keygen_work, rotate_remote_done, k);
	if (ret < 0) {
		free(k);
		return ret;
	}
	cp->csr_inflight[PKI_PIDX(plane)] = true;
	return 0;
}

/* The CA holder: new keys on a thread, then sign and install here. */
static void rotate_local_done(void *arg)
{
	struct keyjob *k = arg;
	struct cp *cp = k->cp;
	struct pki_err perr = { "" };
	struct config_node *me;
	uint64_t gen;
	int failed = 0;

	cp->rotating_local = false;
	if (k->ret < 0 || !cp_pki_cur(cp)) {
		log_warn("control plane: rotation: cannot make keys: %s", k->perr.msg);
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++)
			rotalert_set(cp_pki_cur(cp), (enum pki_plane)pl, "cannot make keys: %s",
				     k->perr.msg);
		failed = 1;
		goto out;
	}
	gen = pki_state_generation(cp_pki_cur(cp));
	me = config_node_find(cp_live(cp), cp_node_id(cp));
	for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++) {
		char *csr = NULL, *cert = NULL;
		size_t csr_len = 0, cert_len = 0;
		int ret;

		ret = pki_node_csr(k->key[PKI_PIDX(pl)], pki_state_cluster_id(cp_pki_cur(cp)),
				   cp_node_id(cp), me ? me->name : "?",
				   (enum pki_plane)pl, &csr, &csr_len, &perr);
		if (!ret)
			ret = pki_ca_sign_csr(pki_state_ca(cp_pki_cur(cp)), csr, csr_len,
					      cp_node_id(cp), me ? me->name : "?",
					      (enum pki_plane)pl, clock_now(), &cert,
					      &cert_len, &perr);
		if (!ret)
			ret = pki_state_install_cert(cp_pki_cur(cp), (enum pki_plane)pl,
						     k->key[PKI_PIDX(pl)], cert,
						     cert_len, &perr);
		if (csr)
			pki_pem_free(csr, csr_len);
		if (cert)
			pki_pem_free(cert, cert_len);
		if (ret < 0) {
			log_warn("control plane: rotation of the %s certificate failed: %s",
				 pki_plane_str((enum pki_plane)pl), perr.msg);
			rotalert_set(cp_pki_cur(cp), (enum pki_plane)pl, "%s", perr.msg);
			failed = 1;
			break;
		}
	}
	if (!failed)
		log_info("control plane: certificates rotated (generation %u)",
			 cp_live(cp)->certs.generation);
	if (pki_state_generation(cp_pki_cur(cp)) != gen)
		cp_notify_pki(cp);
out:
	/* cp_rotation_check counted the requested rotation as done when it
	 * started it: make it due again so the next check retries. */
	if (failed && cp->rotated_gen >= cp_live(cp)->certs.generation &&
	    cp_live(cp)->certs.generation > 0) {
		cp->rotated_gen = cp_live(cp)->certs.generation - 1;
		cp_save_cpstate(cp);
	}
	keyjob_free(k);
}

static int rotate_local(struct cp *cp)
{
	struct keyjob *k;
	int ret;

	if (cp->rotating_local)
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cp = cp;
	ret = cp_job_run(cp, keygen_work, rotate_local_done, k);
	if (ret < 0) {
		free(k);
		return ret;
	}
	cp->rotating_local = true;
	return 0;
}

#define CP_RENEW_MIN_S	3600	/* plan-driven CSRs per plane, at most */

/* Rotate what is due: the replicated rotation generation moved (manual
 * rotation) or the PKI plan says so (every 30 days / missing cert). */
void cp_rotation_check(struct cp *cp)
{
	struct pki_plane_dates dates[PKI_NPLANES];
	struct pki_err perr = { "" };
	struct pki_plan plan;
	unsigned mask = 0;
	uint64_t gen;
	bool manual;
	int ret;

	if (!cp_pki_cur(cp))
		return;
	gen = pki_state_generation(cp_pki_cur(cp));
	manual = cp_live(cp)->certs.generation > cp->rotated_gen;
	if (pki_ca_can_sign(pki_state_ca(cp_pki_cur(cp)))) {
		if (manual && rotate_local(cp) < 0)
			return;
		if (pki_state_tick(cp_pki_cur(cp), clock_now(), &plan, &perr) < 0) {
			log_warn("control plane: certificate check: %s", perr.msg);
			rotalert_tick_failed(cp_pki_cur(cp), clock_now(), perr.msg);
		}
	} else {
		pki_state_tick(cp_pki_cur(cp), clock_now(), &plan, &perr);
		pki_state_dates(cp_pki_cur(cp), dates);
		pki_plan(dates, clock_now(), &plan);
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++) {
			enum pki_action a = plan.plane[PKI_PIDX(pl)].action;
			time_t sent = cp->csr_sent[PKI_PIDX(pl)];

			/* The primary signs with its own clock: when ours is
			 * off, the certificate it returns can look due again
			 * (too old, or not yet valid).  Such a plan-driven
			 * renewal is asked for at most once per CP_RENEW_MIN_S
			 * (monotonic), never in a loop. */
			if (manual || a == PKI_ACT_ISSUE ||
			    (a == PKI_ACT_ROTATE &&
			     (!sent || clock_mono() - sent >= CP_RENEW_MIN_S)))
				mask |= PKI_MASK(pl);
		}
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++)
			if ((mask & PKI_MASK(pl)) &&
			    (ret = rotate_remote(cp, (enum pki_plane)pl)) < 0) {
				rotalert_set(cp_pki_cur(cp), (enum pki_plane)pl, "%s",
					     ret == -EHOSTUNREACH ?
					     "the primary (the CA) is unreachable" :
					     strerror(-ret));
				return;	/* retried on the next tick */
			}
	}
	if (manual) {
		cp->rotated_gen = cp_live(cp)->certs.generation;
		cp_save_cpstate(cp);
	}
	/* The daemon's PKI timer rotates the same state (on a clock jump
	 * both run at once, in either order): publish what it did too, or
	 * the port keeps serving the old, maybe expired, certificates. */
	if (pki_state_generation(cp_pki_cur(cp)) != gen ||
	    pki_state_generation(cp_pki_cur(cp)) != cp->published_gen)
		cp_notify_pki(cp);
}

