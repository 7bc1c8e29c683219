/* SPDX-License-Identifier: GPL-2.0 */
/* testpki.c — throw-away certificates for the tests (see testpki.h). */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"
#include "testpki.h"

/* A fixture that cannot be built: say why and stop the test. */
static void need(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	fputs("testpki: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

EVP_PKEY *tp_rsa(int bits)
{
	return EVP_RSA_gen((unsigned int)bits);
}

static const char *data_dir(void)
{
	static const char *dirs[] = {
		"tests/unit/data/pki/keys", "data/pki/keys", "../tests/unit/data/pki/keys",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (access(dirs[i], R_OK) == 0)
			return dirs[i];
	need(false, "test keys not found: run from the repository top");
	return NULL;
}

char *tp_file(const char *stem, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s.pem", data_dir(), stem);
	f = fopen(path, "rb");
	need(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	need(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

struct cached {
	char stem[32];
	EVP_PKEY *key;
};
static struct cached cache[32];

EVP_PKEY *tp_key(const char *stem)
{
	size_t len;
	char *text;
	BIO *b;
	int i;

	for (i = 0; i < 32 && cache[i].key; i++)
		if (!strcmp(cache[i].stem, stem))
			return cache[i].key;
	need(i < 32, "more than 32 fixed keys");
	text = tp_file(stem, &len);
	b = BIO_new_mem_buf(text, (int)len);
	cache[i].key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	free(text);
	need(cache[i].key, "key %s does not parse", stem);
	snprintf(cache[i].stem, sizeof(cache[i].stem), "%s", stem);
	return cache[i].key;
}

static EVP_PKEY *pool_key(int bits, void *arg)
{
	static const char *pool[] = { "rsa2048-e", "rsa2048-f", "rsa2048-g", "rsa2048-h" };
	static unsigned next;
	EVP_PKEY *k;

	(void)arg;
	k = bits == 3072 ? tp_key("rsa3072") : tp_key(pool[next++ % 4]);
	need(EVP_PKEY_get_bits(k) == bits, "no fixed %d-bit key", bits);
	EVP_PKEY_up_ref(k);
	return k;
}

void tp_fast_keygen(void)
{
	pki_set_keygen(pool_key, NULL);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	need(ext && X509_add_ext(x, ext, -1), "extension %s", value);
	X509_EXTENSION_free(ext);
}

static void add_name(X509_NAME *name, const char *field, const char *value)
{
	need(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
					(const unsigned char *)value, -1, -1, 0),
	     "subject %s=%s", field, value);
}

X509 *tp_cert(const char *cn, const char *ou, EVP_PKEY *pub, X509 *issuer,
	      EVP_PKEY *issuer_key, time_t nb, time_t na, int flags, const char *san)
{
	X509 *x = X509_new(), *iss;
	X509_NAME *name;
	unsigned char serial[12];
	BIGNUM *bn;

	need(x, "X509_new");
	iss = issuer ? issuer : x;
	/* random, positive: two certificates from one issuer never collide */
	need(RAND_bytes(serial, sizeof(serial)) == 1, "RAND_bytes");
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	need(bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)), "serial");
	BN_free(bn);
	X509_set_version(x, X509_VERSION_3);
	name = X509_get_subject_name(x);
	if (ou) {
		add_name(name, "O", "ine");
		add_name(name, "OU", ou);
	}
	add_name(name, "CN", cn);
	X509_set_issuer_name(x, X509_get_subject_name(iss));
	need(ASN1_TIME_set(X509_getm_notBefore(x), nb) && ASN1_TIME_set(X509_getm_notAfter(x), na) &&
	     X509_set_pubkey(x, pub), "dates or key of %s", cn);
	add_ext(x, iss, NID_subject_key_identifier, "hash");
	if (flags & TP_CA) {
		add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
		if (flags & TP_KU)
			add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		if (flags & TP_EKU_SERVER_ONLY)
			add_ext(x, iss, NID_ext_key_usage, "serverAuth");
		else if (!(flags & TP_NO_EKU))
			add_ext(x, iss, NID_ext_key_usage, "serverAuth,clientAuth");
	}
	add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
	if (san)
		add_ext(x, iss, NID_subject_alt_name, san);
	need(X509_sign(x, issuer ? issuer_key : pub, EVP_sha256()) > 0, "signing %s", cn);
	return x;
}

X509_STORE *tp_store(X509 *ca)
{
	X509_STORE *st = X509_STORE_new();

	if (st && !X509_STORE_add_cert(st, ca)) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

int tp_write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* The SAN URI of a leaf, or 0 chars. */
static int leaf_uri(X509 *leaf, char *out, size_t n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	out[0] = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_URI) {
			const ASN1_STRING *s = g->d.uniformResourceIdentifier;
			int len = ASN1_STRING_length(s);

			if ((size_t)len >= n)
				break;
			memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
			out[len] = 0;
			found = 1;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	return found;
}

int tp_verify_peer(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
		   long *peer_node_id)
{
	const char *cluster = arg;
	char uri[256], want[128], pl[8];
	long id;
	int used = 0;

	(void)chain;
	if (!leaf_uri(leaf, uri, sizeof(uri)))
		return -EACCES;
	snprintf(want, sizeof(want), "ine://%s/node/", cluster);
	if (strncmp(uri, want, strlen(want)))
		return -EACCES;
	if (sscanf(uri + strlen(want), "%ld/%3[a-z]%n", &id, pl, &used) != 2 || id <= 0 ||
	    uri[strlen(want) + (size_t)used] != 0)
		return -EACCES;
	if (strcmp(pl, plane == 2 ? "dp" : "cp"))
		return -EPROTO;
	*peer_node_id = id;
	return 0;
}

int tp_verify_pinned(void *arg, X509 *leaf, STACK_OF(X509) *chain, int plane,
		     long *peer_node_id)
{
	(void)chain;
	(void)plane;
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), X509_get0_pubkey(arg)) != 1)
		return -EKEYREJECTED;
	*peer_node_id = 99;
	return 0;
}

void tp_set_free(struct tp_set *s)
{
	X509 **xs[] = { &s->ca, &s->other_ca, &s->srv, &s->srv_cp, &s->cli, &s->cli_cp, &s->cli_expired,
			&s->cli_foreign, &s->cli_other_cluster, &s->cli_nouri };

	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		X509_free(*xs[i]);
		*xs[i] = NULL;
	}
	EVP_PKEY_free(s->ca_key);
	EVP_PKEY_free(s->other_ca_key);
	EVP_PKEY_free(s->key);
	X509_STORE_free(s->store);
	X509_STORE_free(s->other_store);
	memset(s, 0, sizeof(*s));
}

int tp_set_make(struct tp_set *s, int ca_bits)
{
	const time_t now = time(NULL);
	const char *c = TP_CLUSTER, *o = TP_OTHER_CLUSTER;
	const char *dp2 = "URI:ine://" TP_CLUSTER "/node/2/dp";

	memset(s, 0, sizeof(*s));
	s->ca_key = tp_rsa(ca_bits);
	s->other_ca_key = tp_rsa(ca_bits);
	s->key = tp_rsa(2048);	/* every leaf shares it: keygen is the slow part */
	if (!s->ca_key || !s->other_ca_key || !s->key)
		goto err;
	s->ca = tp_cert("ine cluster CA", c, s->ca_key, NULL, NULL, now - DAY, now + 365 * DAY,
			TP_CA, NULL);
	s->other_ca = tp_cert("ine cluster CA", o, s->other_ca_key, NULL, NULL, now - DAY,
			      now + 365 * DAY, TP_CA, NULL);
	s->srv = tp_cert("node1", c, s->key, s->ca, s->ca_key, now - DAY, now + 90 * DAY, TP_KU,
			 "URI:ine://" TP_CLUSTER "/node/1/dp");
	s->srv_cp = tp_cert("node1", c, s->key, s->ca, s->ca_key, now - DAY, now + 90 * DAY, TP_KU,
			    "URI:ine://" TP_CLUSTER "/node/1/cp");
	s->cli = tp_cert("node2", c, s->key, s->ca, s->ca_key, now - DAY, now + 90 * DAY, TP_KU, dp2);
	s->cli_cp = tp_cert("node2", c, s->key, s->ca, s->ca_key, now - DAY, now + 90 * DAY, TP_KU,
			    "URI:ine://" TP_CLUSTER "/node/2/cp");
	s->cli_expired = tp_cert("node2", c, s->key, s->ca, s->ca_key, now - 91 * DAY, now - DAY,
				 TP_KU, dp2);
	s->cli_foreign = tp_cert("node2", o, s->key, s->other_ca, s->other_ca_key, now - DAY,
				 now + 90 * DAY, TP_KU, "URI:ine://" TP_OTHER_CLUSTER "/node/2/dp");
	s->cli_other_cluster = tp_cert("node2", o, s->key, s->ca, s->ca_key, now - DAY,
				       now + 90 * DAY, TP_KU, "URI:ine://" TP_OTHER_CLUSTER "/node/2/dp");
	s->cli_nouri = tp_cert("node2", c, s->key, s->ca, s->ca_key, now - DAY, now + 90 * DAY, TP_KU,
			       NULL);
	s->store = tp_store(s->ca);
	s->other_store = tp_store(s->other_ca);
	if (!s->store || !s->other_store)
		goto err;
	return 0;
err:
	tp_set_free(s);
	return -ENOMEM;
}

void tp_buf_add(struct tp_buf *b, const void *data, size_t len)
{
	b->p = realloc(b->p, b->len + len + 1);
	need(b->p, "out of memory");
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void add_bio(struct tp_buf *b, BIO *bio)
{
	char *d;
	long n = BIO_get_mem_data(bio, &d);

	tp_buf_add(b, d, (size_t)n);
	BIO_free(bio);
}

void tp_buf_x509(struct tp_buf *b, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());

	PEM_write_bio_X509(bio, x);
	add_bio(b, bio);
}

void tp_buf_key(struct tp_buf *b, EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	add_bio(b, bio);
}

void tp_buf_free(struct tp_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

void tp_chain_make(struct tp_chain *c, const char *leaf_key, time_t nb,
		   time_t na, int leaf_flags)
{
	EVP_PKEY *rk = tp_key("rsa2048-a"), *ik = tp_key("rsa2048-b");

	c->root = tp_cert("Customer Root", NULL, rk, NULL, NULL, T0 - 3650 * DAY,
			  T0 + 3650 * DAY, TP_CA, NULL);
	c->inter = tp_cert("Customer Intermediate", NULL, ik, c->root, rk,
			   T0 - 3650 * DAY, T0 + 3650 * DAY, TP_CA, NULL);
	c->leaf_key = tp_key(leaf_key);
	c->leaf = tp_cert("db.example.com", NULL, c->leaf_key, c->inter, ik, nb, na,
			  leaf_flags, "DNS:db.example.com");
}

void tp_chain_free(struct tp_chain *c)
{
	X509_free(c->root);
	X509_free(c->inter);
	X509_free(c->leaf);
	memset(c, 0, sizeof(*c));
}

void tp_chain_pem(const struct tp_chain *c, struct tp_buf *b)
{
	tp_buf_x509(b, c->leaf);
	tp_buf_x509(b, c->inter);
	tp_buf_x509(b, c->root);
}

char *tp_tmpdir(void)
{
	/* tmpfs when there is one: the state code fsyncs a lot */
	char tmpl[64];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "%s/ine-pki-test.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	d = mkdtemp(tmpl);
	need(d, "mkdtemp %s", tmpl);
	return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)type;
	(void)f;
	return remove(p);
}

void tp_rmrf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
