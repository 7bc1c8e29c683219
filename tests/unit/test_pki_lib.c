/* test_pki_lib.c — fixtures for the PKI suites (see test_pki_lib.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_pki_lib.h"

static const char *data_dir(void)
{
	static const char *dirs[] = {
		"tests/unit/data/pki/keys", "data/pki/keys", "../tests/unit/data/pki/keys",
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (access(dirs[i], R_OK) == 0)
			return dirs[i];
	cr_assert_fail("test keys not found: run from the repository top");
	return NULL;
}

char *tk_file(const char *stem, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s.pem", data_dir(), stem);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
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

EVP_PKEY *tk_key(const char *stem)
{
	size_t len;
	char *text;
	BIO *b;
	int i;

	for (i = 0; i < 32 && cache[i].key; i++)
		if (!strcmp(cache[i].stem, stem))
			return cache[i].key;
	cr_assert(i < 32);
	text = tk_file(stem, &len);
	b = BIO_new_mem_buf(text, (int)len);
	cache[i].key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	free(text);
	cr_assert_not_null(cache[i].key, "key %s does not parse", stem);
	snprintf(cache[i].stem, sizeof(cache[i].stem), "%s", stem);
	return cache[i].key;
}

static void add_ext(X509 *x, X509 *iss, int nid, const char *v)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, iss, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
	cr_assert_not_null(e, "extension %s", v);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

X509 *tk_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
	      time_t nb, time_t na, int flags, const char *san)
{
	static long serial = 1000;
	X509 *x = X509_new();

	cr_assert_not_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	ASN1_TIME_set(X509_getm_notBefore(x), nb);
	ASN1_TIME_set(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, pub);
	if (flags & TK_CA) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:FALSE");
		if (flags & TK_EKU_SERVER_ONLY)
			add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		else if (!(flags & TK_NO_EKU))
			add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
	}
	add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
	if (san)
		add_ext(x, issuer ? issuer : x, NID_subject_alt_name, san);
	cr_assert(X509_sign(x, issuer ? issuer_key : pub, EVP_sha256()) > 0);
	return x;
}

void tk_buf_add(struct tk_buf *b, const void *data, size_t len)
{
	b->p = realloc(b->p, b->len + len + 1);
	cr_assert_not_null(b->p);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void add_bio(struct tk_buf *b, BIO *bio)
{
	char *d;
	long n = BIO_get_mem_data(bio, &d);

	tk_buf_add(b, d, (size_t)n);
	BIO_free(bio);
}

void tk_buf_x509(struct tk_buf *b, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());

	PEM_write_bio_X509(bio, x);
	add_bio(b, bio);
}

void tk_buf_key(struct tk_buf *b, EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	add_bio(b, bio);
}

void tk_buf_free(struct tk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

void tk_chain_make(struct tk_chain *c, const char *leaf_key, time_t nb,
		   time_t na, int leaf_flags)
{
	EVP_PKEY *rk = tk_key("rsa2048-a"), *ik = tk_key("rsa2048-b");

	c->root = tk_cert("Customer Root", rk, NULL, NULL, T0 - 3650 * DAY,
			  T0 + 3650 * DAY, TK_CA, NULL);
	c->inter = tk_cert("Customer Intermediate", ik, c->root, rk,
			   T0 - 3650 * DAY, T0 + 3650 * DAY, TK_CA, NULL);
	c->leaf_key = tk_key(leaf_key);
	c->leaf = tk_cert("db.example.com", c->leaf_key, c->inter, ik, nb, na,
			  leaf_flags, "DNS:db.example.com");
}

void tk_chain_free(struct tk_chain *c)
{
	X509_free(c->root);
	X509_free(c->inter);
	X509_free(c->leaf);
	memset(c, 0, sizeof(*c));
}

void tk_chain_pem(const struct tk_chain *c, struct tk_buf *b)
{
	tk_buf_x509(b, c->leaf);
	tk_buf_x509(b, c->inter);
	tk_buf_x509(b, c->root);
}

char *tk_tmpdir(void)
{
	/* tmpfs when there is one: the state code fsyncs a lot */
	char tmpl[64];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "%s/ine-pki-test.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	d = mkdtemp(tmpl);

	cr_assert_not_null(d);
	return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb; (void)type; (void)f;
	return remove(p);
}

void tk_rmrf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static EVP_PKEY *pool_key(int bits, void *arg)
{
	static const char *pool[] = { "rsa2048-e", "rsa2048-f", "rsa2048-g", "rsa2048-h" };
	static unsigned next;
	EVP_PKEY *k;

	(void)arg;
	k = bits == 3072 ? tk_key("rsa3072") : tk_key(pool[next++ % 4]);
	cr_assert_eq(EVP_PKEY_get_bits(k), bits);
	EVP_PKEY_up_ref(k);
	return k;
}

void tk_fast_keygen(void)
{
	pki_set_keygen(pool_key, NULL);
}
