// SPDX-License-Identifier: GPL-2.0
/* join_client.c — the joining node's side of ine-join/1: keys on a
 * worker, connect to the token's primary, check the CA against the token's
 * pin before the secret leaves, send the CSRs, install what comes back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"
#include "cp/join.h"
#include "cp/token.h"

/* ------------------------------------------------------------ joining side */

struct jcli {
	struct cp *cp;
	struct cp_sess *sess;
	struct token tok;
	char node_name[CONFIG_NAME_MAX];
	char host[CONFIG_ADDR_MAX];
	EVP_PKEY *key[2];
	char *csr[2];
	size_t csr_len[2];
	X509 *ca;			/* from join_ca, pin-checked */
	int ret;			/* key generation (worker) */
	struct pki_err perr;
	struct event *timer;
	cp_done_fn done;
	void *arg;
	bool finished;
};

static void jcli_free(struct jcli *j)
{
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_free(j->key[i]);
		if (j->csr[i])
			pki_pem_free(j->csr[i], j->csr_len[i]);
	}
	X509_free(j->ca);
	if (j->timer)
		event_free(j->timer);
	token_wipe(&j->tok);
	free(j);
}

static void jcli_finish(struct jcli *j, int rc, const char *msg)
{
	cp_done_fn done = j->done;
	void *arg = j->arg;

	if (j->finished)
		return;
	j->finished = true;
	if (rc < 0)
		log_warn("control plane: join failed: %s", msg);
	if (j->sess) {
		struct cp_sess *s = j->sess;

		j->sess = NULL;
		cp_sess_close(s, rc < 0 ? msg : "joined");
	}
	j->cp->join_busy = false;
	jcli_free(j);
	if (done)
		done(arg, rc, msg);
}

static void jcli_up(struct cp_sess *s, void *arg)
{
	struct jcli *j = arg;

	cp_sess_send(s, cpmsg_pack(CPMSG_JOIN_HELLO, "{s:s}", "cluster_id",
				   j->tok.cluster_id));
}

/* The server's leaf must be a CP certificate of the token's cluster,
 * signed by the CA whose key the token pins. */
static int jcli_check_ca(struct jcli *j, json_t *msg, char *err, size_t errlen)
{
	const char *pem = json_string_value(json_object_get(msg, "ca"));
	uint8_t pin[TOKEN_PIN_LEN];
	char cid[PKI_CLUSTER_ID_MAX + 1];
	enum pki_plane plane;
	X509 *ca = NULL, *leaf;
	uint32_t nid;
	BIO *bio;

	bio = BIO_new_mem_buf(pem, -1);
	if (bio)
		ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!ca)
		return errmsg_fail(err, errlen, -EACCES,
			    "the primary sent an unreadable CA certificate");
	if (pki_spki_sha256(ca, pin) < 0 ||
	    CRYPTO_memcmp(pin, j->tok.ca_pin, sizeof(pin)) != 0) {
		X509_free(ca);
		return errmsg_fail(err, errlen, -EACCES,
			    "the node at %s does not hold the CA the token names: not the cluster's primary (token's pin mismatch)",
			    j->tok.primary);
	}
	leaf = SSL_get0_peer_certificate(cp_sess_ssl(j->sess));
	if (!leaf || X509_verify(leaf, X509_get0_pubkey(ca)) != 1 ||
	    pki_node_identity(leaf, cid, &nid, &plane) < 0 ||
	    strcmp(cid, j->tok.cluster_id) != 0 || plane != PKI_PLANE_CP) {
		X509_free(ca);
		return errmsg_fail(err, errlen, -EACCES,
			    "the node at %s presented a certificate not issued by the token's cluster CA",
			    j->tok.primary);
	}
	j->ca = ca;
	return 0;
}

static int jcli_send_req(struct jcli *j, uint32_t node_id, char *err,
			 size_t errlen)
{
	char hex[2 * TOKEN_SECRET_LEN + 1];
	struct pki_err perr = { "" };

	for (int i = 0; i < 2; i++) {
		enum pki_plane plane = i ? PKI_PLANE_DP : PKI_PLANE_CP;
		int ret = pki_node_csr(j->key[i], j->tok.cluster_id, node_id,
				       j->node_name, plane, &j->csr[i],
				       &j->csr_len[i], &perr);

		if (ret < 0)
			return errmsg_fail(err, errlen, ret, "cannot make the %s CSR: %s",
				    pki_plane_str(plane), perr.msg);
	}

	hex_encode(j->tok.secret, TOKEN_SECRET_LEN, hex);
	cp_sess_send(j->sess, cpmsg_pack(CPMSG_JOIN_REQ,
		"{s:s, s:s, s:s, s:s, s:s}", "secret", hex, "node_name",
		j->node_name, "address", j->host, "cp_csr", j->csr[0],
		"dp_csr", j->csr[1]));
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

static int jcli_complete(struct jcli *j, json_t *msg, char *err, size_t errlen)
{
	struct cp *cp = j->cp;
	const char *ca_pem = json_string_value(json_object_get(msg, "ca"));
	const char *pem[2] = {
		json_string_value(json_object_get(msg, "cp_cert")),
		json_string_value(json_object_get(msg, "dp_cert")),
	};
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "node_id"));
	json_t *certs = json_object_get(msg, "certs");
	struct pki_err perr = { "" };
	struct pki_state *st = NULL;
	struct pki_ca *ca = NULL;
	struct config *cfg = NULL;
	struct config_node *me;
	char cerr[CONFIG_ERR_MAX];
	uint8_t pin[TOKEN_PIN_LEN];
	int ret;

	ret = pki_ca_load_pem(ca_pem, strlen(ca_pem), NULL, 0, &ca, &perr);
	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "CA from the primary: %s", perr.msg);
	if (join_ca_pin(ca, pin) < 0 || CRYPTO_memcmp(pin, j->tok.ca_pin, sizeof(pin))) {
		pki_ca_free(ca);
		return errmsg_fail(err, errlen, -EACCES,
			    "the primary's CA changed during the join (pin mismatch)");
	}
	ret = config_from_json(json_object_get(msg, "config"), &cfg, cerr,
			       sizeof(cerr));
	if (ret < 0) {
		pki_ca_free(ca);
		return errmsg_fail(err, errlen, ret, "configuration from the primary: %s",
			    cerr);
	}
	me = config_node_find(cfg, id);
	if (strcmp(cfg->cluster_id, j->tok.cluster_id) != 0 || !me ||
	    strcmp(me->name, j->node_name) != 0) {
		ret = errmsg_fail(err, errlen, -EPROTO,
			   "the primary's configuration does not name this node as node %u",
			   id);
		goto fail;
	}
	ret = pki_state_join(cp_pki_dir(cp), ca, id, j->node_name, &st, &perr);
	if (ret < 0) {
		errmsg_fail(err, errlen, ret, "cannot store the PKI state: %s", perr.msg);
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		enum pki_plane plane = i ? PKI_PLANE_DP : PKI_PLANE_CP;

		ret = pki_state_install_cert(st, plane, j->key[i], pem[i],
					     strlen(pem[i]), &perr);
		if (ret < 0) {
			errmsg_fail(err, errlen, ret, "%s certificate from the primary: %s",
			     pki_plane_str(plane), perr.msg);
			goto fail_state;
		}
	}
	pki_ca_free(ca);
	ca = NULL;
	ret = cp_install_membership(cp, st, cfg, err, errlen);
	cfg = NULL;
	st = NULL;
	if (ret < 0)
		goto fail_dir;
	if (json_is_object(certs)) {
		json_t *ver = json_object_get(certs, "version");
		json_t *bundle = json_object_get(certs, "bundle");

		if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
		    cp_certs_install(cp, bundle, json_integer_value(ver), cerr,
				     sizeof(cerr)) < 0)
			log_warn("control plane: customer certificates from the primary not installed: %s",
				 cerr);
	}
	return 0;

fail_state:
	pki_state_free(st);
fail_dir:
	join_rm_tree(cp_pki_dir(cp));
fail:
	config_free(cfg);
	pki_ca_free(ca);
	return ret;
}

static void jcli_msg(struct cp_sess *s, int type, json_t *msg, void *arg)
{
	struct jcli *j = arg;
	char err[CP_ERR_MAX], done[CP_ERR_MAX];
	int ret;

	(void)s;
	switch (type) {
	case CPMSG_JOIN_CA:
		if (j->ca) {
			jcli_finish(j, -EPROTO, "primary sent its CA twice");
			return;
		}
		ret = jcli_check_ca(j, msg, err, sizeof(err));
		if (ret == 0)
			ret = jcli_send_req(j, (uint32_t)json_integer_value(
					json_object_get(msg, "node_id")), err, sizeof(err));
		if (ret < 0)
			jcli_finish(j, ret, err);
		return;
	case CPMSG_JOIN_RESP:
		if (!j->ca) {
			jcli_finish(j, -EPROTO, "primary answered before proving its CA");
			return;
		}
		ret = jcli_complete(j, msg, err, sizeof(err));
		if (ret < 0) {
			jcli_finish(j, ret, err);
			return;
		}
		snprintf(done, sizeof(done), "joined cluster %s as node %u",
			 cp_config(j->cp)->cluster_id, cp_node_id(j->cp));
		log_info("control plane: %s", done);
		jcli_finish(j, 0, done);
		return;
	case CPMSG_RESULT: {
		const char *d = json_string_value(json_object_get(msg, "description"));
		json_t *st = json_object_get(msg, "status");

		snprintf(err, sizeof(err), "primary refused the join: %s",
			 d ? d : "no reason given");
		jcli_finish(j, json_is_true(json_object_get(msg, "ok")) ? -EPROTO :
			    cp_rc_from_http(st ? json_integer_value(st) : 500), err);
		return;
	}
	default:
		jcli_finish(j, -EPROTO, "protocol error: unexpected message from the primary");
	}
}

static void jcli_closed(struct cp_sess *s, const char *why, void *arg)
{
	struct jcli *j = arg;
	char msg[2 * CP_ERR_MAX];

	(void)s;
	if (j->finished)
		return;
	j->sess = NULL;
	snprintf(msg, sizeof(msg), "primary %.80s unreachable: %.160s", j->tok.primary,
		 why);
	jcli_finish(j, -EHOSTUNREACH, msg);
}

static void jcli_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jcli *j = arg;
	char msg[CP_ERR_MAX];

	(void)fd; (void)what;
	snprintf(msg, sizeof(msg), "primary %.80s did not complete the join within %d s",
		 j->tok.primary, JOIN_TIMEOUT_MS / 1000);
	jcli_finish(j, -ETIMEDOUT, msg);
}

static const struct cp_sess_ops jcli_ops = {
	.up = jcli_up,
	.msg = jcli_msg,
	.closed = jcli_closed,
};

/* On a worker thread: the two RSA keys (the CSRs follow join_ca). */
static void jcli_keys_work(void *arg)
{
	struct jcli *j = arg;

	for (int i = 0; i < 2 && !j->ret; i++)
		j->ret = pki_node_keygen(&j->key[i], &j->perr);
}

/* Back on the loop: connect to the primary. */
static void jcli_keys_done(void *arg)
{
	struct timeval tv = { JOIN_TIMEOUT_MS / 1000, 0 };
	char err[CP_ERR_MAX], msg[2 * CP_ERR_MAX];
	struct jcli *j = arg;
	SSL_CTX *ctx;

	if (j->ret < 0) {
		snprintf(msg, sizeof(msg), "cannot make the keys: %s",
			 j->perr.msg);
		jcli_finish(j, j->ret, msg);
		return;
	}
	if (cp_is_member(j->cp)) {
		jcli_finish(j, -EISCONN, "this node became a member meanwhile");
		return;
	}
	j->timer = evtimer_new(cp_base(j->cp), jcli_timeout, j);
	ctx = cp_tls_join_ctx_new();
	if (!j->timer || !ctx) {
		SSL_CTX_free(ctx);
		jcli_finish(j, -ENOMEM, "cannot set up TLS for the join");
		return;
	}
	j->sess = cp_sess_dial(j->cp, j->tok.primary, ctx, TLS_ALPN_JOIN,
			       &jcli_ops, j, err, sizeof(err));
	tls_ctx_free(ctx);
	if (!j->sess) {
		snprintf(msg, sizeof(msg), "primary %.80s unreachable: %s",
			 j->tok.primary, err);
		jcli_finish(j, -EHOSTUNREACH, msg);
		return;
	}
	evtimer_add(j->timer, &tv);
}

int cp_cluster_join(struct cp *cp, const char *token, const char *node_name,
		    const char *address, cp_done_fn done, void *arg,
		    char *err, size_t errlen)
{
	struct jcli *j;
	int ret;

	ret = join_start_check(cp, -EISCONN, err, errlen);
	if (ret < 0)
		return ret;
	if (cp_config(cp)->version > 0 || cp_config(cp)->n_bdbs ||
	    cp_config(cp)->n_routes)
		return errmsg_fail(err, errlen, -EEXIST,
			    "this node has a local configuration (version %llu): only a fresh node (empty state directory) can join",
			    (unsigned long long)cp_config(cp)->version);
	ret = join_name_check("node name", node_name, err, errlen);
	if (ret < 0)
		return ret;
	j = calloc(1, sizeof(*j));
	if (!j)
		return errmsg_fail(err, errlen, -ENOMEM, "out of memory");
	j->cp = cp;
	j->done = done;
	j->arg = arg;
	snprintf(j->node_name, sizeof(j->node_name), "%s", node_name);
	ret = join_parse_address(cp, address, j->host, sizeof(j->host), err, errlen);
	if (ret < 0)
		goto fail;
	ret = token_decode(token, &j->tok);
	if (ret < 0) {
		errmsg_fail(err, errlen, ret, "%s", token_strerror(ret));
		goto fail;
	}
	if (j->tok.expires <= clock_now()) {
		ret = errmsg_fail(err, errlen, -EKEYEXPIRED, "%s",
			   token_strerror(-EKEYEXPIRED));
		goto fail;
	}
	ret = cp_job_run(cp, jcli_keys_work, jcli_keys_done, j);
	if (ret < 0) {
		errmsg_fail(err, errlen, ret, "cannot start key generation: %s",
		     strerror(-ret));
		goto fail;
	}
	cp->join_busy = true;
	log_info("control plane: joining cluster %s via %s as %s (making keys)",
		 j->tok.cluster_id, j->tok.primary, node_name);
	return CP_PENDING;
fail:
	jcli_free(j);
	return ret;
}

