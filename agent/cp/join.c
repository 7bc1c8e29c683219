/* join.c — cluster create, join tokens, and the join conversation on both
 * ends (see join.h for the messages and the order of the checks). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/config.h"
#include "cp/cp.h"
#include "cp/cpmsg.h"
#include "daemon/daemon.h"
#include "cp/join.h"
#include "tls/listener.h"
#include "core/log.h"
#include "pki/pki.h"
#include "tls/tls.h"
#include "cp/token.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

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
static void rm_tree(const char *dir)
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

static bool valid_name(const char *s)
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

/* "host", "host:port" or "[v6]:port" → host; a port, when given, must be
 * the cluster's CP port. */
static int parse_address(const struct cp *cp, const char *in, char *host,
			 size_t hostlen, char *err, size_t errlen)
{
	uint16_t port = 0;
	size_t n = strlen(in);

	if (token_addr_split(in, host, hostlen, &port) < 0) {
		/* a bare host name or address */
		if (n == 0 || n >= hostlen || n >= CONFIG_ADDR_MAX)
			return fail(err, errlen, -EINVAL,
				    "address \"%.80s\": give a host name or IP address",
				    in);
		for (size_t i = 0; i < n; i++) {
			char c = in[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			      c == ':'))
				return fail(err, errlen, -EINVAL,
					    "address \"%.80s\": invalid character", in);
		}
		memcpy(host, in, n + 1);
		port = 0;
	}
	if (strlen(host) >= CONFIG_ADDR_MAX)
		return fail(err, errlen, -EINVAL, "address \"%.80s\" too long", in);
	if (port && port != cp_port(cp))
		return fail(err, errlen, -EINVAL,
			    "address \"%.80s\": every node listens on port %u",
			    in, cp_port(cp));
	return 0;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int ca_pin(const struct pki_ca *ca, uint8_t pin[TOKEN_PIN_LEN])
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

static bool busy;	/* a create or join is under way (one at a time) */

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
		return fail(err, errlen, c->ret, "cannot create the cluster CA: %s",
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
		rm_tree(c->pki_dir);
		return ret;
	}
	log_info("control plane: created cluster %s (%s); this node is node 1 (%s), the primary",
		 cp_config(cp)->cluster_id, c->name, c->node_name);
	return 0;
undo:
	pki_state_free(c->st);
	c->st = NULL;
	rm_tree(c->pki_dir);
	return fail(err, errlen, ret, "%s", verr);
}

static void create_done(void *arg)
{
	struct create *c = arg;
	char err[CP_ERR_MAX] = "", msg[CP_ERR_MAX];
	int ret;

	busy = false;
	if (cp_is_member(c->cp))	/* a join won the race */
		ret = fail(err, sizeof(err), -EEXIST, "this node joined a cluster meanwhile");
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

	if (cp_is_member(cp))
		return fail(err, errlen, -EEXIST,
			    "this node is already node %u of cluster %s",
			    cp_node_id(cp), cp_config(cp)->cluster_id);
	if (busy)
		return fail(err, errlen, -EALREADY,
			    "a cluster create or join is already under way");
	if (!valid_name(name))
		return fail(err, errlen, -EINVAL,
			    "cluster name \"%.80s\": 1-63 letters, digits, '.', '-', '_'",
			    name);
	if (!valid_name(node_name))
		return fail(err, errlen, -EINVAL,
			    "node name \"%.80s\": 1-63 letters, digits, '.', '-', '_'",
			    node_name);
	if (cp_config(cp)->n_nodes || cp_config(cp)->n_routes)
		return fail(err, errlen, -EINVAL,
			    "the standalone configuration already names nodes or routes");
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, errlen, -ENOMEM, "out of memory");
	ret = parse_address(cp, address, c->host, sizeof(c->host), err, errlen);
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
		return fail(err, errlen, ret, "cannot start key generation: %s",
			    strerror(-ret));
	}
	busy = true;
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
		return fail(err, errlen, -ENOTCONN,
			    "create a cluster first (inectl cluster create)");
	if (!cp_is_primary(cp))
		return fail(err, errlen, -EPERM,
			    "join tokens are issued by the primary, node %u",
			    cp_primary_id(cp));
	if (ttl < 0 || ttl > TOKEN_TTL_MAX)
		return fail(err, errlen, -ERANGE,
			    "ttl %ld s out of range 1..%d (0: default %d)", ttl,
			    TOKEN_TTL_MAX, TOKEN_TTL_DEFAULT);
	memset(&t, 0, sizeof(t));
	primary = config_node_find(cp_config(cp), cp_node_id(cp));
	snprintf(t.cluster_id, sizeof(t.cluster_id), "%.36s",
		 cp_config(cp)->cluster_id);
	cp_hostport(primary->address, cp_port(cp), t.primary, sizeof(t.primary));
	ret = ca_pin(pki_state_ca(cp_pki(cp)), t.ca_pin);
	if (ret < 0)
		return fail(err, errlen, ret, "cannot read the CA certificate");
	ret = token_store_issue(cp_tokens(cp), &t, clock_now(), ttl);
	if (ret < 0) {
		token_wipe(&t);
		return fail(err, errlen, ret, "cannot record the token: %s",
			    strerror(-ret));
	}
	ret = token_encode(&t, out, outlen);
	token_wipe(&t);
	if (ret < 0)
		return fail(err, errlen, ret, "cannot encode the token");
	log_info("control plane: join token issued (valid %ld s)",
		 ttl ? ttl : (long)TOKEN_TTL_DEFAULT);
	return 0;
}

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
		return fail(err, errlen, ret, "%s CSR refused: %s",
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
	if (!valid_name(name)) {
		jsrv_result(s, -EINVAL, "invalid_name",
			    "node name \"%.64s\": 1-63 letters, digits, '.', '-', '_'",
			    name);
		goto out;
	}
	if (parse_address(cp, addr, host, sizeof(host), err, sizeof(err)) < 0) {
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
	busy = false;
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
		return fail(err, errlen, -EACCES,
			    "the primary sent an unreadable CA certificate");
	if (pki_spki_sha256(ca, pin) < 0 ||
	    CRYPTO_memcmp(pin, j->tok.ca_pin, sizeof(pin)) != 0) {
		X509_free(ca);
		return fail(err, errlen, -EACCES,
			    "the node at %s does not hold the CA the token names: not the cluster's primary (token's pin mismatch)",
			    j->tok.primary);
	}
	leaf = SSL_get0_peer_certificate(cp_sess_ssl(j->sess));
	if (!leaf || X509_verify(leaf, X509_get0_pubkey(ca)) != 1 ||
	    pki_node_identity(leaf, cid, &nid, &plane) < 0 ||
	    strcmp(cid, j->tok.cluster_id) != 0 || plane != PKI_PLANE_CP) {
		X509_free(ca);
		return fail(err, errlen, -EACCES,
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
			return fail(err, errlen, ret, "cannot make the %s CSR: %s",
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
		return fail(err, errlen, ret, "CA from the primary: %s", perr.msg);
	if (ca_pin(ca, pin) < 0 || CRYPTO_memcmp(pin, j->tok.ca_pin, sizeof(pin))) {
		pki_ca_free(ca);
		return fail(err, errlen, -EACCES,
			    "the primary's CA changed during the join (pin mismatch)");
	}
	ret = config_from_json(json_object_get(msg, "config"), &cfg, cerr,
			       sizeof(cerr));
	if (ret < 0) {
		pki_ca_free(ca);
		return fail(err, errlen, ret, "configuration from the primary: %s",
			    cerr);
	}
	me = config_node_find(cfg, id);
	if (strcmp(cfg->cluster_id, j->tok.cluster_id) != 0 || !me ||
	    strcmp(me->name, j->node_name) != 0) {
		ret = fail(err, errlen, -EPROTO,
			   "the primary's configuration does not name this node as node %u",
			   id);
		goto fail;
	}
	ret = pki_state_join(cp_pki_dir(cp), ca, id, j->node_name, &st, &perr);
	if (ret < 0) {
		fail(err, errlen, ret, "cannot store the PKI state: %s", perr.msg);
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		enum pki_plane plane = i ? PKI_PLANE_DP : PKI_PLANE_CP;

		ret = pki_state_install_cert(st, plane, j->key[i], pem[i],
					     strlen(pem[i]), &perr);
		if (ret < 0) {
			fail(err, errlen, ret, "%s certificate from the primary: %s",
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
	rm_tree(cp_pki_dir(cp));
fail:
	config_free(cfg);
	pki_ca_free(ca);
	return ret;
}

static int rc_from_status(json_int_t status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 403: return -EACCES;
	case 409: return -EEXIST;
	case 503: return -EHOSTUNREACH;
	default: return -EIO;
	}
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
			    rc_from_status(st ? json_integer_value(st) : 500), err);
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

	if (cp_is_member(cp))
		return fail(err, errlen, -EISCONN,
			    "this node is already node %u of cluster %s",
			    cp_node_id(cp), cp_config(cp)->cluster_id);
	if (busy)
		return fail(err, errlen, -EALREADY,
			    "a cluster create or join is already under way");
	if (cp_config(cp)->version > 0 || cp_config(cp)->n_bdbs ||
	    cp_config(cp)->n_routes)
		return fail(err, errlen, -EEXIST,
			    "this node has a local configuration (version %llu): only a fresh node (empty state directory) can join",
			    (unsigned long long)cp_config(cp)->version);
	if (!valid_name(node_name))
		return fail(err, errlen, -EINVAL,
			    "node name \"%.80s\": 1-63 letters, digits, '.', '-', '_'",
			    node_name);
	j = calloc(1, sizeof(*j));
	if (!j)
		return fail(err, errlen, -ENOMEM, "out of memory");
	j->cp = cp;
	j->done = done;
	j->arg = arg;
	snprintf(j->node_name, sizeof(j->node_name), "%s", node_name);
	ret = parse_address(cp, address, j->host, sizeof(j->host), err, errlen);
	if (ret < 0)
		goto fail;
	ret = token_decode(token, &j->tok);
	if (ret < 0) {
		fail(err, errlen, ret, "%s", token_strerror(ret));
		goto fail;
	}
	if (j->tok.expires <= clock_now()) {
		ret = fail(err, errlen, -EKEYEXPIRED, "%s",
			   token_strerror(-EKEYEXPIRED));
		goto fail;
	}
	ret = cp_job_run(cp, jcli_keys_work, jcli_keys_done, j);
	if (ret < 0) {
		fail(err, errlen, ret, "cannot start key generation: %s",
		     strerror(-ret));
		goto fail;
	}
	busy = true;
	log_info("control plane: joining cluster %s via %s as %s (making keys)",
		 j->tok.cluster_id, j->tok.primary, node_name);
	return CP_PENDING;
fail:
	jcli_free(j);
	return ret;
}

/* ------------------------------------------------------------ ined glue */

static const struct config *hk_config_get(void *arg)
{
	return daemon_config(arg);
}

static int hk_config_apply(void *arg, struct config *next, char *err,
			   size_t errlen)
{
	return daemon_config_apply(arg, next, err, errlen);
}

static struct pki_state *hk_pki_get(void *arg)
{
	return daemon_pki(arg);
}

static void hk_pki_set(void *arg, struct pki_state *st)
{
	daemon_pki_set(arg, st);
}

static json_t *hk_status_local(void *arg)
{
	return daemon_api_ops.status_local ? daemon_api_ops.status_local(arg) :
	       NULL;
}

void cp_hooks_daemon(struct cp_hooks *h, struct daemon *d)
{
	memset(h, 0, sizeof(*h));
	h->config_get = hk_config_get;
	h->config_apply = hk_config_apply;
	h->pki_get = hk_pki_get;
	h->pki_set = hk_pki_set;
	h->status_local = hk_status_local;
	h->arg = d;
}

/* The API's conventions: 503 is -EAGAIN, 409 is -EBUSY/-EEXIST. */
static int api_rc(int rc)
{
	switch (cp_http_status(rc)) {
	case 503: return -EAGAIN;
	case 409: return -EBUSY;
	case 400: return -EINVAL;
	default: return rc;
	}
}

static void api_done(void *arg, int rc, const char *msg)
{
	api_req_done(arg, rc < 0 ? api_rc(rc) : 0, msg);
}

static int commit_hook(void *arg, struct api_req *req, struct config *next,
		       char *err, size_t errlen)
{
	int rc = cp_config_propose(arg, next, api_done, req, err, errlen);

	return rc < 0 ? api_rc(rc) : rc;
}

static json_t *peers_hook(void *arg)
{
	return cp_status_peers(arg);
}

static void reply_err(struct api_req *req, int rc, const char *code,
		      const char *msg)
{
	api_req_error(req, cp_http_status(rc), code, "%s", msg);
}

/* Body fields: strings, except the listed integer ones; nothing else. */
static bool body_fields(struct api_req *req, json_t *body,
			const char *const *strs, const char *intf)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		bool known = false;

		for (const char *const *k = strs; *k; k++)
			if (!strcmp(key, *k)) {
				known = true;
				if (!json_is_string(v)) {
					api_req_error(req, 400, "invalid_parameter",
						      "body.%s: expected a string", key);
					return false;
				}
			}
		if (intf && !strcmp(key, intf)) {
			known = true;
			if (!json_is_integer(v)) {
				api_req_error(req, 400, "invalid_parameter",
					      "body.%s: expected an integer", key);
				return false;
			}
		}
		if (!known) {
			api_req_error(req, 400, "invalid_parameter",
				      "body.%.64s: unknown field", key);
			return false;
		}
	}
	return true;
}

static const char *body_str(json_t *body, const char *k)
{
	return json_string_value(json_object_get(body, k));
}

struct join_wait {
	struct api_req *req;
	struct cp *cp;
};

/* create / join finished: reply to the waiting request */
static void member_done(void *arg, int rc, const char *msg)
{
	struct join_wait *w = arg;

	if (rc < 0)
		reply_err(w->req, rc,
			  rc == -EKEYEXPIRED ? "token_expired" :
			  rc == -EALREADY ? "token_used" :
			  rc == -EACCES ? "join_refused" :
			  rc == -EHOSTUNREACH ? "primary_unreachable" : "join_failed",
			  msg);
	else
		api_req_reply(w->req, 200, json_pack("{s:s, s:s, s:i}", "id",
			      cp_config(w->cp)->cluster_id, "name",
			      cp_config(w->cp)->cluster_name, "node_uid",
			      (int)cp_node_id(w->cp)));
	free(w);
}

/* POST /v1/cluster {name, node_name?, address?} */
static void route_create(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "name", "node_name", "address", NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", host[256];
	const char *name, *node, *addr;
	json_t *body = api_req_body(req);
	struct join_wait *w;
	int rc;

	if (!body || !body_fields(req, body, keys, NULL))
		return;
	name = body_str(body, "name");
	if (!name) {
		api_req_error(req, 400, "invalid_parameter", "body.name: missing");
		return;
	}
	node = body_str(body, "node_name");
	if (!node) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "node1");
		host[sizeof(host) - 1] = '\0';
		node = host;
	}
	addr = body_str(body, "address");
	if (!addr) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.address: missing (where the other nodes reach this one)");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		api_req_error(req, 500, "internal", "out of memory");
		return;
	}
	w->req = req;
	w->cp = cp;
	rc = cp_cluster_create(cp, name, node, addr, member_done, w, err,
			       sizeof(err));
	if (rc == CP_PENDING)
		return;
	free(w);
	reply_err(req, rc, rc == -EEXIST ? "already_member" : "invalid_parameter",
		  err);
}

/* POST /v1/cluster/join-token {ttl?} */
static void route_token(struct api_req *req, void *arg)
{
	static const char *const keys[] = { NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", tok[TOKEN_STR_MAX];
	json_t *body = api_req_body(req);
	long ttl = 0;
	int rc;

	if (!body || !body_fields(req, body, keys, "ttl"))
		return;
	if (json_object_get(body, "ttl"))
		ttl = (long)json_integer_value(json_object_get(body, "ttl"));
	if (ttl <= 0 && json_object_get(body, "ttl")) {
		api_req_error(req, 400, "invalid_parameter",
			      "body.ttl: seconds, 1..%d", TOKEN_TTL_MAX);
		return;
	}
	rc = cp_join_token_new(cp, ttl, tok, sizeof(tok), err, sizeof(err));
	if (rc < 0) {
		reply_err(req, rc, rc == -EPERM ? "not_primary" :
			  rc == -ENOTCONN ? "no_cluster" : "invalid_parameter", err);
		return;
	}
	api_req_reply(req, 200, json_pack("{s:s, s:I}", "token", tok, "ttl",
		      (json_int_t)(ttl ? ttl : TOKEN_TTL_DEFAULT)));
	OPENSSL_cleanse(tok, sizeof(tok));
}

/* POST /v1/cluster/join {token, node_name?, address} */
static void route_join(struct api_req *req, void *arg)
{
	static const char *const keys[] = { "token", "node_name", "address", NULL };
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "", host[256];
	const char *tok, *node, *addr;
	json_t *body = api_req_body(req);
	struct join_wait *w;
	int rc;

	if (!body || !body_fields(req, body, keys, NULL))
		return;
	tok = body_str(body, "token");
	addr = body_str(body, "address");
	if (!tok || !addr) {
		api_req_error(req, 400, "invalid_parameter", "body.%s: missing",
			      tok ? "address" : "token");
		return;
	}
	node = body_str(body, "node_name");
	if (!node) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = '\0';
		node = host;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		api_req_error(req, 500, "internal", "out of memory");
		return;
	}
	w->req = req;
	w->cp = cp;
	rc = cp_cluster_join(cp, tok, node, addr, member_done, w, err, sizeof(err));
	if (rc == CP_PENDING)
		return;
	free(w);
	reply_err(req, rc, rc == -EKEYEXPIRED ? "token_expired" :
		  rc == -EISCONN ? "already_member" : "invalid_parameter", err);
}

/* PUT /v1/cluster/certificates: replicated through the primary. */
static void route_certs(struct api_req *req, void *arg)
{
	struct cp *cp = arg;
	char err[CP_ERR_MAX] = "";
	json_t *body = api_req_body(req);
	int rc;

	if (!body)
		return;
	if (!cp_is_member(cp)) {
		/* single node: the daemon's own handler */
		rc = -ENOTCONN;
		reply_err(req, rc, "no_cluster",
			  "create or join a cluster before uploading certificates");
		return;
	}
	rc = cp_certs_propose(cp, body, api_done, req, err, sizeof(err));
	if (rc == CP_PENDING)
		return;
	if (rc < 0) {
		reply_err(req, rc, rc == -EINVAL ? "invalid_certificate" :
			  "primary_unreachable", err);
		return;
	}
	api_req_reply(req, 200, json_pack("{s:b}", "ok", 1));
}

static int listener_stats_hook(void *arg, struct listener_stats *st)
{
	struct listener *l = cp_listener(arg);

	if (!l)
		return -ENOENT;
	listener_get_stats(l, st);
	return 0;
}

int cp_attach(struct cp *cp, struct daemon *d, struct api *api)
{
	int rc;

	daemon_set_listener_stats(d, listener_stats_hook, cp);
	daemon_set_commit_hook(d, commit_hook, cp);
	daemon_set_status_peers(d, peers_hook, cp);
	if ((rc = api_route_add(api, API_POST, "/v1/cluster", route_create, cp)) ||
	    (rc = api_route_add(api, API_POST, "/v1/cluster/join-token",
				route_token, cp)) ||
	    (rc = api_route_add(api, API_POST, "/v1/cluster/join", route_join,
				cp)) ||
	    (rc = api_route_add(api, API_PUT, "/v1/cluster/certificates",
				route_certs, cp)))
		return rc;
	return 0;
}
