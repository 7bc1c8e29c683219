// SPDX-License-Identifier: GPL-2.0
/* test_pki_state.c — a node's PKI state on disk: create/load, key file
 * permissions, join flow, manual rotation, customer apply/reject, crash
 * safety at every write step, and months of ticks on a moved clock. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/log.h"
#include "pki/pki_internal.h"
#include "testpki.h"

static char *dir;

static void setup(void)
{
	dir = tp_tmpdir();
	clock_set_fixed(T0);
	log_set_level(LOG_LVL_WARN);
	tp_fast_keygen();
}

static void teardown(void)
{
	atomicfile_fault_arm(0);
	clock_reset();
	log_set_sink(NULL, NULL);
	pki_set_keygen(NULL, NULL);
	tp_rmrf(dir);
	free(dir);
}

TestSuite(pki_state, .init = setup, .fini = teardown);

static char *sub(const char *name)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static struct pki_state *create(void)
{
	struct pki_state *st = NULL;
	struct pki_err err;

	cr_assert_eq(pki_state_create(sub("s"), 1, "node-1", T0, &st, &err), 0, "%s", err.msg);
	return st;
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	return sb.st_mode & 07777;
}

static X509 *served(const struct pki_state *st, enum pki_plane p)
{
	X509 *x;
	EVP_PKEY *k;
	STACK_OF(X509) *chain;

	cr_assert_eq(pki_state_credentials(st, p, &x, &k, &chain), 0);
	EVP_PKEY_free(k);
	sk_X509_pop_free(chain, X509_free);
	return x;	/* caller frees */
}

static bool same_served(const struct pki_state *a, const struct pki_state *b,
			enum pki_plane p)
{
	X509 *x = served(a, p), *y = served(b, p);
	bool same = X509_cmp(x, y) == 0;

	X509_free(x);
	X509_free(y);
	return same;
}

Test(pki_state, create_writes_documented_layout)
{
	struct pki_state *st = create();
	char link[64];
	ssize_t n;
	struct pki_status s;

	n = readlink(sub("s/current"), link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_expect_str_eq(link, "gen-0000000000000001");
	cr_expect_eq(mode_of(sub("s")), 0700);
	cr_expect_eq(mode_of(sub("s/current/ca.key")), 0600);
	cr_expect_eq(mode_of(sub("s/current/cp.key")), 0600);
	cr_expect_eq(mode_of(sub("s/current/dp.key")), 0600);
	cr_expect_eq(mode_of(sub("s/current/ca.crt")), 0644);
	cr_expect_eq(mode_of(sub("s/current/cp.crt")), 0644);
	cr_expect_eq(mode_of(sub("s/current/meta.json")), 0644);
	cr_expect_eq(pki_state_generation(st), 1);
	cr_expect_eq(pki_state_node_id(st), 1);
	cr_expect_eq(strlen(pki_state_cluster_id(st)), 36);

	pki_state_status(st, &s);
	cr_expect_str_eq(s.cluster_id, pki_state_cluster_id(st));
	cr_expect(s.ca_key_present);
	cr_expect_eq(s.alert, PKI_ALERT_NONE);
	cr_expect_eq(s.plane[0].source, PKI_SRC_INTERNAL);
	cr_expect_eq(s.plane[1].not_after, T0 + 90 * DAY);
	cr_expect_eq(strlen(s.plane[0].serial), 32);
	cr_expect_not_null(strstr(s.plane[1].san, "/node/1/dp"));
	cr_expect_not_null(strstr(s.plane[0].subject, "CN=node-1"));
	pki_state_free(st);
}

Test(pki_state, load_roundtrip)
{
	struct pki_state *st = create(), *ld = NULL;
	struct pki_err err;

	cr_assert_eq(pki_state_load(sub("s"), &ld, &err), 0, "%s", err.msg);
	cr_expect_str_eq(pki_state_cluster_id(ld), pki_state_cluster_id(st));
	cr_expect_eq(pki_state_generation(ld), 1);
	cr_expect(same_served(st, ld, PKI_PLANE_CP));
	cr_expect(same_served(st, ld, PKI_PLANE_DP));
	cr_expect(pki_ca_can_sign(pki_state_ca(ld)));
	pki_state_free(ld);
	pki_state_free(st);
}

Test(pki_state, refuses_existing_and_missing)
{
	struct pki_state *st = create(), *b = NULL;
	struct pki_err err;

	cr_expect_eq(pki_state_create(sub("s"), 1, "node-1", T0, &b, &err), -EEXIST);
	cr_expect_not_null(strstr(err.msg, "already holds a cluster's PKI state"));
	cr_expect_eq(pki_state_load(sub("nothing"), &b, &err), -ENOENT);
	cr_expect_not_null(strstr(err.msg, "holds no PKI state"));
	cr_expect_null(b);
	pki_state_free(st);
}

Test(pki_state, key_readable_by_others_refused_at_load)
{
	struct pki_state *st = create(), *ld = NULL;
	struct pki_err err;

	cr_assert_eq(chmod(sub("s/current/dp.key"), 0640), 0);
	cr_expect_eq(pki_state_load(sub("s"), &ld, &err), -EACCES);
	cr_expect_not_null(strstr(err.msg, "dp.key is accessible by group or others (mode 0640): it must be 0600"),
			   "%s", err.msg);
	cr_assert_eq(chmod(sub("s/current/dp.key"), 0600), 0);
	cr_assert_eq(chmod(sub("s/current/ca.key"), 0604), 0);
	cr_expect_eq(pki_state_load(sub("s"), &ld, &err), -EACCES);
	cr_expect_not_null(strstr(err.msg, "ca.key is accessible by group or others"));
	cr_assert_eq(chmod(sub("s/current/ca.key"), 0600), 0);
	cr_expect_eq(pki_state_load(sub("s"), &ld, &err), 0, "%s", err.msg);
	pki_state_free(ld);
	pki_state_free(st);
}

Test(pki_state, corrupt_state_refused)
{
	struct pki_state *st = create(), *ld = NULL;
	struct pki_err err;
	FILE *f;

	f = fopen(sub("s/current/meta.json"), "w");
	fputs("{\"format\": 1", f);
	fclose(f);
	cr_expect_eq(pki_state_load(sub("s"), &ld, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "meta.json is malformed"));
	pki_state_free(st);
}

Test(pki_state, manual_rotation_of_one_plane)
{
	struct pki_state *st = create(), *old = NULL;
	struct pki_trust *t;
	struct pki_err err;
	X509 *cp0 = served(st, PKI_PLANE_CP), *dp0 = served(st, PKI_PLANE_DP), *cp1;
	uint32_t id;

	clock_advance(3 * DAY);
	cr_assert_eq(pki_state_load(sub("s"), &old, &err), 0);
	cr_assert_eq(pki_state_rotate_local(st, PKI_MASK(PKI_PLANE_CP), clock_now(), &err), 0,
		     "%s", err.msg);
	cr_expect_eq(pki_state_generation(st), 2);
	cp1 = served(st, PKI_PLANE_CP);
	cr_expect_neq(X509_cmp(cp0, cp1), 0, "cp replaced");
	cr_expect_neq(EVP_PKEY_eq(X509_get0_pubkey(cp0), X509_get0_pubkey(cp1)), 1, "new key");
	cr_expect(same_served(st, old, PKI_PLANE_DP), "dp untouched");
	/* peers still accept the certificate in-flight sessions use */
	t = pki_state_trust(st);
	cr_expect_eq(pki_verify_peer(t, cp0, NULL, PKI_PLANE_CP, clock_now(), &id, &err), 0);
	cr_expect_eq(pki_verify_peer(t, cp1, NULL, PKI_PLANE_CP, clock_now(), &id, &err), 0);
	cr_expect_eq(id, 1);
	pki_trust_put(t);
	/* and it is on disk */
	pki_state_free(old);
	cr_assert_eq(pki_state_load(sub("s"), &old, &err), 0);
	cr_expect(same_served(st, old, PKI_PLANE_CP));
	cr_expect_eq(pki_state_rotate_local(st, 0, clock_now(), &err), -EINVAL);
	X509_free(cp0);
	X509_free(cp1);
	X509_free(dp0);
	pki_state_free(old);
	pki_state_free(st);
}

Test(pki_state, join_with_remote_signing)
{
	struct pki_state *n1 = create(), *n2 = NULL;
	struct pki_ca *pubca = NULL;
	struct pki_trust *t;
	struct pki_err err;
	char *cp, *csr, *crt;
	size_t cl, csr_len, crt_len;
	EVP_PKEY *key;
	X509 *x;
	EVP_PKEY *k;
	STACK_OF(X509) *chain;
	uint32_t id = 0;
	struct pki_plan plan;

	/* node 2 learns the CA certificate only (no key) */
	cr_assert_eq(pki_ca_export_pem(pki_state_ca(n1), &cp, &cl, NULL, NULL), 0);
	cr_assert_eq(pki_ca_load_pem(cp, cl, NULL, 0, &pubca, &err), 0);
	cr_assert_eq(pki_state_join(sub("n2"), pubca, 2, "node-2", &n2, &err), 0, "%s", err.msg);
	cr_expect_eq(pki_state_credentials(n2, PKI_PLANE_DP, &x, &k, &chain), -ENOENT);
	/* its tick wants certificates but cannot sign them itself */
	cr_expect_eq(pki_state_tick(n2, T0, &plan, &err), 0);
	cr_expect_eq(plan.plane[0].action, PKI_ACT_ISSUE);
	cr_expect_eq(pki_state_rotate_local(n2, PKI_MASK_ALL, T0, &err), -ENOKEY);

	for (int p = PKI_PLANE_CP; p <= PKI_PLANE_DP; p++) {
		cr_assert_eq(pki_node_keygen(&key, &err), 0);
		cr_assert_eq(pki_node_csr(key, pki_state_cluster_id(n2), 2, "node-2", p,
					  &csr, &csr_len, &err), 0);
		/* the CSR travels; node 1 signs */
		cr_assert_eq(pki_ca_sign_csr(pki_state_ca(n1), csr, csr_len, 2, "node-2", p,
					     T0, &crt, &crt_len, &err), 0, "%s", err.msg);
		/* a certificate for somebody else's key is refused */
		if (p == PKI_PLANE_CP) {
			cr_expect_eq(pki_state_install_cert(n2, p, tp_key("rsa2048-h"), crt,
							    crt_len, &err), -EINVAL);
			cr_expect_not_null(strstr(err.msg, "does not match our cp key"));
		}
		cr_assert_eq(pki_state_install_cert(n2, p, key, crt, crt_len, &err), 0,
			     "%s", err.msg);
		free(csr);
		free(crt);
		EVP_PKEY_free(key);
	}
	/* node 1 accepts node 2 as node 2 */
	x = served(n2, PKI_PLANE_DP);
	t = pki_state_trust(n1);
	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_DP, T0, &id, &err), 0, "%s", err.msg);
	cr_expect_eq(id, 2);
	pki_trust_put(t);
	X509_free(x);
	/* a certificate naming node 3 is refused by node 2 */
	cr_assert_eq(pki_node_keygen(&key, &err), 0);
	cr_assert_eq(pki_node_csr(key, pki_state_cluster_id(n2), 3, "node-3", PKI_PLANE_CP,
				  &csr, &csr_len, &err), 0);
	cr_assert_eq(pki_ca_sign_csr(pki_state_ca(n1), csr, csr_len, 3, "node-3", PKI_PLANE_CP,
				     T0, &crt, &crt_len, &err), 0);
	cr_expect_eq(pki_state_install_cert(n2, PKI_PLANE_CP, key, crt, crt_len, &err), -EINVAL);
	cr_expect_not_null(strstr(err.msg, "names node 3, we are node 2"), "%s", err.msg);
	free(csr);
	free(crt);
	EVP_PKEY_free(key);
	free(cp);
	pki_ca_free(pubca);
	pki_state_free(n2);
	pki_state_free(n1);
}

/* ---- customer */

static struct pki_customer *upload(const char *leafkey, time_t na)
{
	struct tp_buf cert = {0}, key = {0};
	struct pki_customer_item it = { .name = PKI_NAME_CP };
	struct pki_customer *c = NULL;
	struct pki_err err;
	struct tp_chain ch;

	tp_chain_make(&ch, leafkey, T0 - DAY, na, 0);
	tp_chain_pem(&ch, &cert);
	tp_buf_key(&key, ch.leaf_key);
	it.cert_pem = cert.p;
	it.cert_len = cert.len;
	it.key_pem = key.p;
	it.key_len = key.len;
	cr_assert_eq(pki_customer_validate(&it, 1, clock_now(), &c, &err), 0, "%s", err.msg);
	tp_chain_free(&ch);
	tp_buf_free(&cert);
	tp_buf_free(&key);
	return c;
}

Test(pki_state, customer_apply_serves_and_pins)
{
	struct pki_state *st = create(), *ld = NULL;
	struct pki_customer *c = upload("rsa2048-c", T0 + 200 * DAY), *c2;
	struct pki_trust *t;
	struct pki_err err;
	X509 *leaf, *x;
	EVP_PKEY *k;
	STACK_OF(X509) *chain;
	uint32_t id = 9;

	char *pem;
	size_t pem_len;

	cr_assert_eq(pki_state_cert_pem(st, PKI_PLANE_DP, &pem, &pem_len), 0);
	cr_expect_eq(strstr(strstr(pem, "BEGIN CERTIFICATE") + 1, "BEGIN CERTIFICATE"), NULL,
		     "internal: the leaf alone");
	free(pem);
	cr_assert_eq(pki_state_apply_customer(st, c, &err), 0, "%s", err.msg);
	cr_assert_eq(pki_state_cert_pem(st, PKI_PLANE_DP, &pem, &pem_len), 0);
	cr_expect_eq(pem_len, strlen(pem));
	{
		int n = 0;

		for (char *q = pem; (q = strstr(q, "BEGIN CERTIFICATE")); q++)
			n++;
		cr_expect_eq(n, 3, "customer: leaf + intermediate + root");
	}
	cr_expect_null(strstr(pem, "PRIVATE"));
	free(pem);
	cr_assert_eq(pki_state_credentials(st, PKI_PLANE_DP, &leaf, &k, &chain), 0);
	cr_expect_eq(EVP_PKEY_eq(k, tp_key("rsa2048-c")), 1);
	cr_expect_eq(sk_X509_num(chain), 2, "intermediate and root are sent");
	t = pki_state_trust(st);
	cr_expect_eq(pki_verify_peer(t, leaf, chain, PKI_PLANE_CP, T0, &id, &err), 0);
	cr_expect_eq(id, 0);
	pki_trust_put(t);
	/* survives a restart */
	cr_assert_eq(pki_state_load(sub("s"), &ld, &err), 0, "%s", err.msg);
	cr_expect(same_served(st, ld, PKI_PLANE_CP));
	cr_expect_eq(mode_of(sub("s/current/cp-customer.key")), 0600);
	pki_state_free(ld);
	/* a new upload replaces it; the previous one stays trusted */
	c2 = upload("rsa2048-d", T0 + 300 * DAY);
	cr_assert_eq(pki_state_apply_customer(st, c2, &err), 0);
	x = served(st, PKI_PLANE_CP);
	cr_expect_eq(EVP_PKEY_eq(X509_get0_pubkey(x), tp_key("rsa2048-d")), 1);
	t = pki_state_trust(st);
	cr_expect_eq(pki_verify_peer(t, leaf, chain, PKI_PLANE_CP, T0, &id, &err), 0,
		     "previous upload still accepted: %s", err.msg);
	pki_trust_put(t);
	cr_assert_eq(pki_state_load(sub("s"), &ld, &err), 0, "%s", err.msg);
	t = pki_state_trust(ld);
	cr_expect_eq(pki_verify_peer(t, leaf, chain, PKI_PLANE_CP, T0, &id, &err), 0,
		     "previous pin persisted");
	pki_trust_put(t);
	pki_state_free(ld);
	X509_free(x);
	X509_free(leaf);
	EVP_PKEY_free(k);
	sk_X509_pop_free(chain, X509_free);
	pki_customer_free(c);
	pki_customer_free(c2);
	pki_state_free(st);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under the state dir, with contents, as one string. */
static void snapshot(const char *path, struct tp_buf *out)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[1024];
	char **names = NULL;
	size_t n = 0;

	cr_assert_not_null(d, "%s", path);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;

		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		lstat(p, &sb);
		tp_buf_add(out, p, strlen(p));
		if (S_ISDIR(sb.st_mode)) {
			snapshot(p, out);
		} else if (S_ISLNK(sb.st_mode)) {
			char l[256];
			ssize_t m = readlink(p, l, sizeof(l));

			tp_buf_add(out, l, (size_t)m);
		} else {
			size_t len;
			char *buf;

			if (atomicfile_read(p, 1 << 20, false, &buf, &len, NULL, 0) == 0) {
				tp_buf_add(out, buf, len);
				atomicfile_free(buf, len);
			}
		}
		free(names[i]);
	}
	free(names);
}

Test(pki_state, rejected_upload_changes_nothing)
{
	struct pki_state *st = create();
	struct tp_buf before = {0}, after = {0}, cert = {0}, key = {0};
	struct pki_customer_item it = { .name = PKI_NAME_DP };
	struct pki_customer *c = NULL;
	struct pki_err err;
	struct tp_chain ch;
	X509 *cp0 = served(st, PKI_PLANE_CP);
	uint64_t gen = pki_state_generation(st);

	snapshot(sub("s"), &before);
	tp_chain_make(&ch, "ec-p256", T0 - DAY, T0 + 100 * DAY, 0);
	tp_chain_pem(&ch, &cert);
	tp_buf_key(&key, ch.leaf_key);
	it.cert_pem = cert.p;
	it.cert_len = cert.len;
	it.key_pem = key.p;
	it.key_len = key.len;
	cr_expect_lt(pki_customer_validate(&it, 1, T0, &c, &err), 0);
	cr_expect_str_eq(err.msg, "data_internode_encryption: certificate: ECDSA keys are not supported: internode encryption requires RSA keys");
	cr_expect_null(c);
	cr_expect_eq(pki_state_apply_customer(st, NULL, &err), -EINVAL);
	snapshot(sub("s"), &after);
	cr_expect_eq(before.len, after.len);
	cr_expect(before.len == after.len && !memcmp(before.p, after.p, before.len), "disk changed");
	cr_expect_eq(pki_state_generation(st), gen);
	X509 *cp1 = served(st, PKI_PLANE_CP);
	cr_expect_eq(X509_cmp(cp0, cp1), 0);
	X509_free(cp0);
	X509_free(cp1);
	tp_chain_free(&ch);
	tp_buf_free(&cert); tp_buf_free(&key); tp_buf_free(&before); tp_buf_free(&after);
	pki_state_free(st);
}

/* ---- crash safety: fail at every step of a write, then reload */

static void crash_every_step(const char *what,
			     int (*op)(struct pki_state *, void *), void *arg)
{
	struct pki_state *tmpl = create(), *st, *ld, *want_old, *want_new;
	struct pki_err err;
	char cmd[2048];
	int steps, n, olds = 0, news = 0;

	/* how many steps does a clean run take? */
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", sub("s"), sub("ref"));
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(pki_state_load(sub("ref"), &want_old, &err), 0);
	cr_assert_eq(pki_state_load(sub("ref"), &want_new, &err), 0);
	atomicfile_fault_arm(0);
	cr_assert_eq(op(want_new, arg), 0, "%s: clean run", what);
	steps = atomicfile_fault_steps();
	cr_assert_gt(steps, 10, "%s: %d steps", what, steps);

	for (n = 1; n <= steps + 1; n++) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", sub("w"), sub("s"), sub("w"));
		cr_assert_eq(system(cmd), 0);
		cr_assert_eq(pki_state_load(sub("w"), &st, &err), 0);
		atomicfile_fault_arm(n);
		int ret = op(st, arg);

		atomicfile_fault_arm(0);
		/* memory follows disk: failed -> old, succeeded -> new */
		cr_assert_eq(pki_state_load(sub("w"), &ld, &err), 0,
			     "%s: step %d: state does not load: %s", what, n, err.msg);
		if (pki_state_generation(ld) == 1) {
			olds++;
			cr_expect_neq(ret, 0, "%s: step %d succeeded but disk is old", what, n);
			cr_expect(same_served(ld, want_old, PKI_PLANE_CP) &&
				  same_served(ld, want_old, PKI_PLANE_DP), "%s: step %d: mix", what, n);
			cr_expect_eq(pki_state_generation(st), 1);
		} else {
			news++;
			cr_expect_eq(pki_state_generation(ld), 2);
			cr_expect_eq(ret, 0, "%s: step %d: disk is new but the call failed", what, n);
			cr_expect_eq(pki_state_generation(st), 2);
			cr_expect(same_served(ld, st, PKI_PLANE_CP) &&
				  same_served(ld, st, PKI_PLANE_DP), "%s: step %d: mix", what, n);
		}
		/* the next write after a crash works */
		cr_expect_eq(pki_state_use_internal(ld, PKI_MASK_ALL, false, &err), 0,
			     "%s: step %d: write after crash: %s", what, n, err.msg);
		pki_state_free(ld);
		pki_state_free(st);
	}
	cr_log_info("%s: %d steps: %d crashes left the old state, %d the new", what,
		    steps, olds, news);
	cr_expect_gt(olds, 5);
	cr_expect_geq(news, 2, "the final fsync and the disarmed run land new");
	pki_state_free(want_old);
	pki_state_free(want_new);
	pki_state_free(tmpl);
}

static int op_rotate(struct pki_state *st, void *arg)
{
	(void)arg;
	return pki_state_rotate_local(st, PKI_MASK_ALL, T0 + DAY, NULL);
}

static int op_customer(struct pki_state *st, void *arg)
{
	return pki_state_apply_customer(st, arg, NULL);
}

Test(pki_state, crash_at_every_step_of_rotation)
{
	crash_every_step("rotate", op_rotate, NULL);
}

Test(pki_state, crash_at_every_step_of_customer_upload)
{
	struct pki_customer *c = upload("rsa2048-c", T0 + 200 * DAY);

	crash_every_step("customer", op_customer, c);
	pki_customer_free(c);
}

/* ---- months on a moved clock */

struct logcap {
	int warn, err, info;
	char last[512];
};

static void sink(int level, const char *line, void *arg)
{
	struct logcap *lc = arg;

	if (strncmp(line, "pki: alert", 10) && !strstr(line, "alert cleared"))
		return;
	if (level == LOG_LVL_WARN)
		lc->warn++;
	else if (level == LOG_LVL_ERR)
		lc->err++;
	else
		lc->info++;
	snprintf(lc->last, sizeof(lc->last), "%s", line);
}

Test(pki_state, six_months_of_ticks_rotate_every_30_days)
{
	struct pki_state *st = create();
	struct logcap lc = {0};
	struct pki_plan plan;
	struct pki_err err;
	uint64_t gen = pki_state_generation(st);
	int rotations = 0;
	time_t last = T0;

	log_set_sink(sink, &lc);
	for (int h = 0; h < 180 * 24; h += 6) {
		clock_set_fixed(T0 + (time_t)h * 3600);
		cr_assert_eq(pki_state_tick(st, clock_now(), &plan, &err), 0, "%s", err.msg);
		if (pki_state_generation(st) != gen) {
			rotations++;
			cr_expect_geq(clock_now() - last, 30 * DAY - PKI_BACKDATE_SECS);
			cr_expect_leq(clock_now() - last, 30 * DAY + 6 * 3600);
			last = clock_now();
			gen = pki_state_generation(st);
		}
		cr_expect_eq(plan.alert, PKI_ALERT_NONE);
		cr_expect_eq(plan.plane[0].action, PKI_ACT_NONE, "tick left work undone");
	}
	cr_expect_eq(rotations, 5, "%d rotations in 180 days", rotations);
	cr_expect_eq(lc.warn + lc.err, 0, "no alerts logged");
	pki_state_free(st);
}

Test(pki_state, customer_expiry_alert_and_fallback_logged_once)
{
	struct pki_state *st = create(), *ld = NULL;
	struct pki_customer *c = upload("rsa2048-c", T0 + 100 * DAY);
	struct logcap lc = {0};
	struct pki_plan plan;
	struct pki_err err;
	time_t fell = 0, alerted = 0;

	cr_assert_eq(pki_state_apply_customer(st, c, &err), 0);
	log_set_sink(sink, &lc);
	log_set_level(LOG_LVL_INFO);
	for (int d = 0; d <= 120; d++) {
		clock_set_fixed(T0 + (time_t)d * DAY);
		cr_assert_eq(pki_state_tick(st, clock_now(), &plan, &err), 0, "%s", err.msg);
		if (!alerted && plan.alert == PKI_ALERT_EXPIRING)
			alerted = clock_now();
		if (!fell && st->slot[0].source == PKI_SRC_INTERNAL)
			fell = clock_now();
		cr_expect_neq(plan.alert, PKI_ALERT_EXPIRED, "day %d", d);
	}
	cr_expect_eq(alerted, T0 + 56 * DAY, "first day with < 45 days left");
	cr_expect_eq(fell, T0 + 95 * DAY, "replaced 5 days before expiry");
	/* two alert changes (expiring, then replaced) per plane, each once */
	cr_expect_eq(lc.warn, 4, "%d warnings, last: %s", lc.warn, lc.last);
	cr_expect_not_null(strstr(lc.last, "customer-replaced"));
	/* the served certificate is internal and fresh, the state says why */
	X509 *x = served(st, PKI_PLANE_DP);
	uint32_t id;
	struct pki_trust *t = pki_state_trust(st);

	cr_expect_eq(pki_verify_peer(t, x, NULL, PKI_PLANE_DP, clock_now(), &id, &err), 0);
	cr_expect_eq(id, 1);
	pki_trust_put(t);
	X509_free(x);
	struct pki_status s;

	pki_state_status(st, &s);
	cr_expect_eq(s.plane[0].source, PKI_SRC_INTERNAL);
	cr_expect_eq(s.plane[0].alert, PKI_ALERT_CUSTOMER_REPLACED);
	cr_expect_not_null(strstr(s.plane[0].message, "upload a new one"));
	cr_assert_eq(pki_state_load(sub("s"), &ld, &err), 0);
	cr_expect(ld->slot[1].customer_replaced, "persisted");
	pki_state_free(ld);
	/* the operator choosing internal certificates clears the alert */
	cr_assert_eq(pki_state_use_internal(st, PKI_MASK(PKI_PLANE_CP), false, &err), 0);
	pki_state_status(st, &s);
	cr_expect_eq(s.plane[0].alert, PKI_ALERT_NONE);
	cr_expect_eq(s.plane[1].alert, PKI_ALERT_CUSTOMER_REPLACED);
	/* a new upload clears it */
	pki_customer_free(c);
	c = upload("rsa2048-d", clock_now() + 300 * DAY);
	cr_assert_eq(pki_state_apply_customer(st, c, &err), 0);
	cr_assert_eq(pki_state_tick(st, clock_now(), &plan, &err), 0);
	cr_expect_eq(plan.alert, PKI_ALERT_NONE);
	cr_expect_eq(lc.info, 2, "cleared, once per plane");
	/* a writer working from a stale copy cannot overwrite newer state */
	cr_assert_eq(pki_state_load(sub("s"), &ld, &err), 0);
	cr_assert_eq(pki_state_use_internal(st, PKI_MASK_ALL, false, &err), 0);
	cr_assert_eq(pki_state_use_internal(st, PKI_MASK_ALL, false, &err), 0);
	cr_expect_eq(pki_state_use_internal(ld, PKI_MASK_ALL, false, &err), -ESTALE);
	cr_expect_not_null(strstr(err.msg, "changed under us"), "%s", err.msg);
	pki_state_free(ld);
	pki_customer_free(c);
	pki_state_free(st);
}
