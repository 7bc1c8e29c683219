// SPDX-License-Identifier: GPL-2.0
/* join_server.c — the primary's side of ine-join/1: prove the CA, check
 * the token, sign the joiner's CSRs, commit the new node, answer with its
 * certificates and the configuration (join.h has the order of checks). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "cp/cp_internal.h"
#include "cp/cpmsg.h"
#include "cp/join.h"
#include "cp/token.h"

/* ------------------------------------------------------------ primary side */

struct jsrv {
	struct cp *cp;
	bool ca_sent;
};

static void jsrv_result(struct cp_sess *s, int rc, const char *code,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void jsrv_result(struct cp_sess *s, int rc, const char *code,
			const char *fmt, ...)
{
	char desc[CP_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	log_warn("control plane: join refused: %s", desc);
	cp_sess_send(s, cpmsg_pack(CPMSG_RESULT, "{s:i, s:b, s:i, s:s, s:s}",
				   "id", 0, "ok", 0, "status", cp_http_status(rc),
				   "error_code", code, "description", desc));
	cp_sess_close_after_flush(s);
}

static void jsrv_hello(struct cp_sess *s, struct jsrv *j, json_t *msg)
{
	struct cp *cp = j->cp;
	const char *cid = json_string_value(json_object_get(msg, "cluster_id"));
	char *pem = NULL, *kpem = NULL;
	size_t len = 0, klen = 0;
	uint32_t next = 0;

	if (!cp_is_member(cp) || !cp_is_primary(cp)) {
		jsrv_result(s, -EHOSTUNREACH, "not_primary",
			    "this node is not the cluster's primary");
		return;
	}
	if (strcmp(cid, cp_config(cp)->cluster_id) != 0) {
		jsrv_result(s, -EACCES, "wrong_cluster",
			    "this node is in cluster %s, not %s",
			    cp_config(cp)->cluster_id, cid);
		return;
	}
	if (pki_ca_export_pem(pki_state_ca(cp_pki(cp)), &pem, &len, NULL,
			      NULL) < 0) {
		jsrv_result(s, -EIO, "internal", "cannot export the CA certificate");
		return;
	}
	(void)kpem; (void)klen;
	for (size_t i = 0; i < cp_config(cp)->n_nodes; i++)
		if (cp_config(cp)->nodes[i].id > next)
			next = cp_config(cp)->nodes[i].id;
	cp_sess_send(s, cpmsg_pack(CPMSG_JOIN_CA, "{s:s, s:s, s:i}", "cluster_id",
				   cp_config(cp)->cluster_id, "ca", pem,
				   "node_id", (int)next + 1));
	pki_pem_free(pem, len);
	j->ca_sent = true;
}

static int sign(struct cp *cp, const char *csr, uint32_t id, const char *name,
		enum pki_plane plane, char **cert, size_t *len, char *err,
		size_t errlen)
{
	struct pki_err perr = { "" };
	int ret = pki_ca_sign_csr(pki_state_ca(cp_pki(cp)), csr, strlen(csr),
				  id, name, plane, clock_now(), cert, len, &perr);

	if (ret < 0)
		return errmsg_fail(err, errlen, ret, "%s CSR refused: %s",
			    pki_plane_str(plane), perr.msg);
	return 0;
}

static void jsrv_req(struct cp_sess *s, struct jsrv *j, json_t *msg)
{
	struct cp *cp = j->cp;
	const struct config *cfg = cp_config(cp);
	const char *name = json_string_value(json_object_get(msg, "node_name"));
	const char *addr = json_string_value(json_object_get(msg, "address"));
	const char *hex = json_string_value(json_object_get(msg, "secret"));
	char *cert[2] = { NULL, NULL }, *ca = NULL;
	size_t cert_len[2] = { 0, 0 }, ca_len = 0;
	char host[CONFIG_ADDR_MAX], err[CP_ERR_MAX];
	uint8_t secret[TOKEN_SECRET_LEN];
	struct config_node node = { 0 };
	struct config *next = NULL;
	json_t *certs = NULL, *cfgj;
	uint32_t id = 0;
	int ret;

	if (!j->ca_sent || !cp_is_primary(cp)) {
		jsrv_result(s, -EINVAL, "protocol", "join_req before join_hello");
		return;
	}
	if (hex_decode(hex, secret, sizeof(secret)) < 0) {
		jsrv_result(s, -EACCES, "token_invalid", "%s",
			    token_strerror(-EACCES));
		return;
	}
	ret = token_store_check(cp_tokens(cp), secret, clock_now());
	if (ret < 0) {
		jsrv_result(s, ret, ret == -EKEYEXPIRED ? "token_expired" :
				    ret == -EALREADY ? "token_used" : "token_invalid",
			    "%s", token_strerror(ret));
		goto out;
	}
	if (!join_name_valid(name)) {
		jsrv_result(s, -EINVAL, "invalid_name",
			    "node name \"%.64s\": 1-63 letters, digits, '.', '-', '_'",
			    name);
		goto out;
	}
	if (join_parse_address(cp, addr, host, sizeof(host), err, sizeof(err)) < 0) {
		jsrv_result(s, -EINVAL, "invalid_address", "%s", err);
		goto out;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		if (strcmp(cfg->nodes[i].name, name) == 0) {
			jsrv_result(s, -EEXIST, "name_in_use",
				    "node name \"%s\" is already node %u", name,
				    cfg->nodes[i].id);
			goto out;
		}
		if (strcmp(cfg->nodes[i].address, host) == 0) {
			jsrv_result(s, -EEXIST, "address_in_use",
				    "address %s is already node %u's", host,
				    cfg->nodes[i].id);
			goto out;
		}
		if (cfg->nodes[i].id > id)
			id = cfg->nodes[i].id;
	}
	id++;
	if (sign(cp, json_string_value(json_object_get(msg, "cp_csr")), id, name,
		 PKI_PLANE_CP, &cert[0], &cert_len[0], err, sizeof(err)) < 0 ||
	    sign(cp, json_string_value(json_object_get(msg, "dp_csr")), id, name,
		 PKI_PLANE_DP, &cert[1], &cert_len[1], err, sizeof(err)) < 0) {
		jsrv_result(s, -EINVAL, "bad_csr", "%s", err);
		goto out;
	}
	ret = config_dup(cfg, &next);
	node.id = id;
	snprintf(node.name, sizeof(node.name), "%s", name);
	snprintf(node.address, sizeof(node.address), "%s", host);
	if (ret == 0 && (ret = config_node_add(next, &node)) < 0)
		config_free(next);
	if (ret == 0)
		ret = cp_commit_local(cp, next, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	if (ret < 0) {
		jsrv_result(s, ret, "invalid", "%s", err);
		goto out;
	}
	/* committed: the token is spent */
	ret = token_store_consume(cp_tokens(cp), secret, clock_now());
	if (ret < 0)
		log_err("control plane: cannot record the join token as used: %s",
			strerror(-ret));
	if (pki_ca_export_pem(pki_state_ca(cp_pki(cp)), &ca, &ca_len, NULL,
			      NULL) < 0) {
		jsrv_result(s, -EIO, "internal", "cannot export the CA certificate");
		goto out;
	}
	cfgj = config_to_json(cp_config(cp));
	if (cp_certs_bundle(cp))
		certs = json_pack("{s:I, s:O}", "version",
				  (json_int_t)cp_certs_version(cp), "bundle",
				  cp_certs_bundle(cp));
	cp_sess_send(s, cpmsg_pack(CPMSG_JOIN_RESP,
		"{s:i, s:i, s:s, s:s, s:s, s:o, s:o*}",
		"node_id", (int)id, "primary_id", (int)cp_primary_id(cp),
		"cp_cert", cert[0], "dp_cert", cert[1], "ca", ca,
		"config", cfgj, "certs", certs));
	cp_sess_close_after_flush(s);
	log_info("control plane: node %u (%s, %s) joined; configuration v%llu",
		 id, name, host, (unsigned long long)cp_config(cp)->version);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	for (int i = 0; i < 2; i++)
		if (cert[i])
			pki_pem_free(cert[i], cert_len[i]);
	if (ca)
		pki_pem_free(ca, ca_len);
}

static void jsrv_msg(struct cp_sess *s, int type, json_t *msg, void *arg)
{
	struct jsrv *j = arg;

	switch (type) {
	case CPMSG_JOIN_HELLO:
		if (j->ca_sent)
			goto proto;
		jsrv_hello(s, j, msg);
		return;
	case CPMSG_JOIN_REQ:
		jsrv_req(s, j, msg);
		return;
	default:
		goto proto;
	}
proto:
	cp_sess_close(s, "protocol error on ine-join/1");
}

static unsigned jsrv_count;	/* join sessions open (anyone can start one) */

static void jsrv_closed(struct cp_sess *s, const char *why, void *arg)
{
	(void)s; (void)why;
	jsrv_count--;
	free(arg);
}

static const struct cp_sess_ops jsrv_ops = {
	.msg = jsrv_msg,
	.closed = jsrv_closed,
};

void join_accept(void *arg, struct tls_conn *c)
{
	struct jsrv *j = jsrv_count < JOIN_MAX_SESSIONS ? calloc(1, sizeof(*j)) :
							 NULL;

	if (!j) {
		if (jsrv_count >= JOIN_MAX_SESSIONS)
			log_warn("control plane: %u join sessions open: refusing another",
				 jsrv_count);
		int fd = c->fd;

		tls_conn_free(c);
		close(fd);
		return;
	}
	j->cp = arg;
	jsrv_count++;
	if (!cp_sess_accept(j->cp, c, &jsrv_ops, j)) {
		jsrv_count--;
		free(j);
	}
}

