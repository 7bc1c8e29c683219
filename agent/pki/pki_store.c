// SPDX-License-Identifier: GPL-2.0
/* pki_store.c — the state directory.
 *
 *   <dir>/current -> gen-<16 hex>     the live generation (symlink)
 *   <dir>/gen-<N>/meta.json           ids, per-plane source and flags
 *   <dir>/gen-<N>/ca.crt [ca.key]     cluster CA (key only where held)
 *   <dir>/gen-<N>/{cp,dp}.{crt,key}   internal node certificates
 *   <dir>/gen-<N>/{cp,dp}-customer.{crt,key}   uploaded leaf+chain, key
 *
 * A change is written as a whole new generation directory (every file
 * through atomicfile_write, then the directory fsynced); then one
 * rename() of a fresh symlink over "current" switches to it, and the state
 * directory is fsynced.  A crash before the rename leaves "current" on the
 * old complete generation, after it on the new one: never a mix.  Older
 * generations beyond the previous one are removed after a switch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>

#include "core/atomicfile.h"
#include "core/log.h"
#include "pki/pki_internal.h"

#define META_MAX (64 * 1024)
#define FILE_MAX (PKI_UPLOAD_MAX + 4096)
#define GEN_LEN 20	/* "gen-" + 16 hex */

static bool gen_name_valid(const char *s)
{
	if (strlen(s) != GEN_LEN || strncmp(s, "gen-", 4))
		return false;
	for (int i = 4; i < GEN_LEN; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* Target of <dir>/current, "" when absent. */
static int current_gen(const char *dir, char out[GEN_LEN + 1])
{
	char path[PATH_MAX], buf[64];
	ssize_t n;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/current", dir);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	buf[n] = '\0';
	if (!gen_name_valid(buf))
		return -EINVAL;
	memcpy(out, buf, GEN_LEN + 1);
	return 0;
}

bool pki_store_exists(const char *dir)
{
	char g[GEN_LEN + 1];

	return current_gen(dir, g) == 0 && g[0];
}

static void remove_gen(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd;

	if (!gen_name_valid(name))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	d = opendir(path);
	if (!d)
		return;
	fd = dirfd(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
	rmdir(path);
}

/* Keep the live generation and the one before it; drop the rest. */
static void prune(const char *dir, const char *keep1, const char *keep2)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!gen_name_valid(de->d_name) || !strcmp(de->d_name, keep1) ||
		    !strcmp(de->d_name, keep2))
			continue;
		remove_gen(dir, de->d_name);
	}
	closedir(d);
}

static int put_x509(const char *g, const char *name, X509 *x)
{
	char *pem;
	size_t len;
	int ret = pki_x509_to_pem(x, &pem, &len);

	if (ret)
		return ret;
	ret = atomicfile_write(g, name, pem, len, 0644);
	free(pem);
	return ret;
}

static int put_key(const char *g, const char *name, EVP_PKEY *k)
{
	char *pem;
	size_t len;
	int ret = pki_key_to_pem(k, &pem, &len);

	if (ret)
		return ret;
	ret = atomicfile_write(g, name, pem, len, 0600);
	pki_pem_free(pem, len);
	return ret;
}

static json_t *meta_build(const struct pki_state *st, uint64_t gen)
{
	json_t *planes = json_object();
	json_t *m = json_pack("{s:i, s:I, s:s, s:I, s:s}", "format", 1,
			      "generation", (json_int_t)gen,
			      "cluster_id", st->cluster_id,
			      "node_id", (json_int_t)st->node_id,
			      "node_name", st->node_name);

	if (!m || !planes)
		goto err;
	for (int i = 0; i < PKI_NPLANES; i++) {
		const struct pki_slot *s = &st->slot[i];
		char hex[65] = "";
		json_t *p;

		for (int j = 0; s->has_prev_pin && j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", s->prev_pin[j]);
		p = json_pack("{s:s, s:b, s:b, s:s*}",
			      "source", pki_source_str(s->source),
			      "customer", s->cust != NULL,
			      "customer_replaced", s->customer_replaced,
			      "prev_pin", s->has_prev_pin ? hex : NULL);
		if (!p || json_object_set_new(planes, pki_plane_str((enum pki_plane)(i + 1)), p))
			goto err;
	}
	if (json_object_set_new(m, "planes", planes))
		goto err_m;
	return m;
err:
	json_decref(planes);
err_m:
	json_decref(m);
	return NULL;
}

static int save_files(const struct pki_state *st, const char *g, uint64_t gen)
{
	char name[32], *text;
	json_t *meta;
	int ret;

	ret = put_x509(g, "ca.crt", pki_ca_cert(st->ca));
	if (!ret && pki_ca_key(st->ca))
		ret = put_key(g, "ca.key", pki_ca_key(st->ca));
	for (int i = 0; !ret && i < PKI_NPLANES; i++) {
		const struct pki_slot *s = &st->slot[i];
		const char *pl = pki_plane_str((enum pki_plane)(i + 1));

		if (s->cert) {
			snprintf(name, sizeof(name), "%s.crt", pl);
			ret = put_x509(g, name, s->cert);
			snprintf(name, sizeof(name), "%s.key", pl);
			if (!ret)
				ret = put_key(g, name, s->key);
		}
		if (!ret && s->cust) {
			size_t len;

			ret = pki_customer_cert_chain_pem(s->cust, &text, &len);
			snprintf(name, sizeof(name), "%s-customer.crt", pl);
			if (!ret) {
				ret = atomicfile_write(g, name, text, len, 0644);
				free(text);
			}
			snprintf(name, sizeof(name), "%s-customer.key", pl);
			if (!ret)
				ret = put_key(g, name, s->cust->key);
		}
	}
	if (ret)
		return ret;
	meta = meta_build(st, gen);
	text = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(meta);
	if (!text)
		return -ENOMEM;
	ret = atomicfile_write(g, "meta.json", text, strlen(text), 0644);
	free(text);
	if (ret)
		return ret;
	return atomicfile_fsync_dir(g);
}

int pki_store_save(const struct pki_state *st, struct pki_err *err)
{
	char cur[GEN_LEN + 1], name[GEN_LEN + 1], g[PATH_MAX], link[PATH_MAX],
	     tmp[PATH_MAX];
	uint64_t gen = st->generation + 1;
	int ret;

	if (mkdir(st->dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		pki_err_set(err, "cannot create state directory %s: %s", st->dir,
			    strerror(-ret));
		return ret;
	}
	ret = current_gen(st->dir, cur);
	if (ret) {
		pki_err_set(err, "state directory %s: unreadable \"current\" link", st->dir);
		return ret;
	}
	snprintf(name, sizeof(name), "gen-%016llx", (unsigned long long)gen);
	/* Only ever move forward: a writer holding an older copy of the
	 * state must reload instead of overwriting a newer generation. */
	if (cur[0] && strtoull(cur + 4, NULL, 16) >= gen) {
		pki_err_set(err, "state directory %s changed under us (%s is live, we hold generation %llu): reload",
			    st->dir, cur, (unsigned long long)st->generation);
		return -ESTALE;
	}
	snprintf(g, sizeof(g), "%s/%s", st->dir, name);
	snprintf(link, sizeof(link), "%s/current", st->dir);
	snprintf(tmp, sizeof(tmp), "%s/current.tmp", st->dir);
	remove_gen(st->dir, name);	/* leftover of a crashed attempt */

	ret = atomicfile_step("mkdir");
	if (ret)
		goto fail;
	if (mkdir(g, 0700) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = save_files(st, g, gen);
	if (ret)
		goto fail;
	ret = atomicfile_step("symlink");
	if (ret)
		goto fail;
	unlink(tmp);
	if (symlink(name, tmp) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = atomicfile_step("switch");
	if (ret)
		goto fail;
	if (rename(tmp, link) < 0) {
		ret = -errno;
		goto fail;
	}
	/* Committed: from here the new generation is the state, so a late
	 * fsync failure is reported but not returned (memory must follow
	 * disk, or the next save would collide with this generation). */
	ret = atomicfile_fsync_dir(st->dir);
	if (ret)
		log_warn("pki: state directory %s: fsync after switching to %s failed: %s",
			 st->dir, name, strerror(-ret));
	prune(st->dir, name, cur);
	return 0;
fail:
	pki_err_set(err, "cannot write state generation %s in %s: %s", name,
		    st->dir, strerror(-ret));
	return ret;
}

/* ---- load */

static int get_file(const char *g, const char *name, bool secret, bool optional,
		    char **buf, size_t *len, struct pki_err *err)
{
	char path[PATH_MAX], why[PKI_ERR_MAX];
	int ret;

	*buf = NULL;
	snprintf(path, sizeof(path), "%s/%s", g, name);
	ret = atomicfile_read(path, FILE_MAX, secret, buf, len, why, sizeof(why));
	if (ret == -ENOENT && optional)
		return 0;
	if (ret)
		pki_err_set(err, "%s", why[0] ? why : strerror(-ret));
	return ret;
}

static int load_pair(const char *g, const char *pl, struct pki_slot *s,
		     struct pki_err *err)
{
	char name[32], *crt = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	int ret;

	snprintf(name, sizeof(name), "%s.crt", pl);
	ret = get_file(g, name, false, true, &crt, &clen, err);
	if (ret || !crt)
		return ret;
	snprintf(name, sizeof(name), "%s.key", pl);
	ret = get_file(g, name, true, false, &key, &klen, err);
	if (ret)
		goto out;
	ret = -EINVAL;
	s->cert = pki_x509_from_pem(crt, clen);
	s->key = pki_key_from_pem(key, klen);
	if (!s->cert || !s->key) {
		pki_err_set(err, "%s/%s.crt or .key does not parse", g, pl);
		goto out;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		pki_err_set(err, "%s/%s.key does not match %s.crt", g, pl, pl);
		goto out;
	}
	ret = 0;
out:
	atomicfile_free(crt, clen);
	atomicfile_free(key, klen);
	return ret;
}

static int load_customer(const char *g, const char *pl, struct pki_slot *s,
			 struct pki_err *err)
{
	char name[32], *crt = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	int ret;

	snprintf(name, sizeof(name), "%s-customer.crt", pl);
	ret = get_file(g, name, false, false, &crt, &clen, err);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s-customer.key", pl);
	ret = get_file(g, name, true, false, &key, &klen, err);
	if (!ret) {
		ret = pki_customer_cert_parse_ex(crt, clen, key, klen, 0, false,
						 &s->cust, err);
		if (ret)
			pki_err_prefix(err, name);
	}
	atomicfile_free(crt, clen);
	atomicfile_free(key, klen);
	return ret;
}

static int hex_pin(const char *hex, uint8_t out[32])
{
	if (strlen(hex) != 64)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int load_meta(struct pki_state *st, const char *g, struct pki_err *err)
{
	json_t *m, *planes;
	json_error_t je;
	const char *cid, *nname;
	json_int_t fmt, gen, nid;
	char *text;
	size_t len;
	int ret;

	ret = get_file(g, "meta.json", false, false, &text, &len, err);
	if (ret)
		return ret;
	m = json_loadb(text, len, 0, &je);
	atomicfile_free(text, len);
	if (!m || json_unpack(m, "{s:I, s:I, s:s, s:I, s:s, s:o}", "format", &fmt,
			      "generation", &gen, "cluster_id", &cid, "node_id", &nid,
			      "node_name", &nname, "planes", &planes) ||
	    fmt != 1 || gen <= 0 || nid < 0 || nid > INT32_MAX ||
	    !pki_cluster_id_valid(cid) || strlen(nname) > PKI_NODE_NAME_MAX) {
		pki_err_set(err, "%s/meta.json is malformed", g);
		ret = -EINVAL;
		goto out;
	}
	st->generation = (uint64_t)gen;
	snprintf(st->cluster_id, sizeof(st->cluster_id), "%s", cid);
	st->node_id = (uint32_t)nid;
	snprintf(st->node_name, sizeof(st->node_name), "%s", nname);
	for (int i = 0; i < PKI_NPLANES; i++) {
		const char *pl = pki_plane_str((enum pki_plane)(i + 1));
		struct pki_slot *s = &st->slot[i];
		const char *src, *pin = NULL;
		int cust = 0, repl = 0;

		if (json_unpack(json_object_get(planes, pl), "{s:s, s:b, s:b, s?s}",
				"source", &src, "customer", &cust,
				"customer_replaced", &repl, "prev_pin", &pin) ||
		    (pin && hex_pin(pin, s->prev_pin))) {
			pki_err_set(err, "%s/meta.json: plane %s is malformed", g, pl);
			ret = -EINVAL;
			goto out;
		}
		s->has_prev_pin = pin != NULL;
		s->customer_replaced = repl;
		s->source = !strcmp(src, "customer") ? PKI_SRC_CUSTOMER :
			    !strcmp(src, "internal") ? PKI_SRC_INTERNAL : PKI_SRC_NONE;
		if (cust) {
			ret = load_customer(g, pl, s, err);
			if (ret)
				goto out;
		}
		ret = load_pair(g, pl, s, err);
		if (ret)
			goto out;
		if ((s->source == PKI_SRC_CUSTOMER && !s->cust) ||
		    (s->source == PKI_SRC_INTERNAL && !s->cert)) {
			pki_err_set(err, "%s: plane %s serves a %s certificate that is not stored",
				    g, pl, src);
			ret = -EINVAL;
			goto out;
		}
	}
out:
	json_decref(m);
	return ret;
}

int pki_store_load(struct pki_state *st, struct pki_err *err)
{
	char cur[GEN_LEN + 1], g[PATH_MAX], *crt = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	int ret;

	ret = current_gen(st->dir, cur);
	if (ret) {
		pki_err_set(err, "state directory %s: bad \"current\" link", st->dir);
		return ret;
	}
	if (!cur[0]) {
		pki_err_set(err, "state directory %s holds no PKI state", st->dir);
		return -ENOENT;
	}
	snprintf(g, sizeof(g), "%s/%s", st->dir, cur);
	ret = get_file(g, "ca.crt", false, false, &crt, &clen, err);
	if (!ret)
		ret = get_file(g, "ca.key", true, true, &key, &klen, err);
	if (!ret)
		ret = pki_ca_load_pem(crt, clen, key, klen, &st->ca, err);
	atomicfile_free(crt, clen);
	atomicfile_free(key, klen);
	if (ret)
		return ret;
	ret = load_meta(st, g, err);
	if (ret)
		return ret;
	if (strcmp(st->cluster_id, pki_ca_cluster_id(st->ca))) {
		pki_err_set(err, "%s: meta.json names cluster %s but the CA is for %s",
			    g, st->cluster_id, pki_ca_cluster_id(st->ca));
		return -EINVAL;
	}
	return 0;
}
