// SPDX-License-Identifier: GPL-2.0
/* token.c — join tokens: encoding, and the primary's single-use store.
 * See token.h for the format and the rules. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <systemd/sd-id128.h>

#include "core/atomicfile.h"
#include "core/hex.h"
#include "cp/token.h"

#define TOKEN_VERSION	1
#define FIXED_LEN	(1 + 16 + 8 + TOKEN_PIN_LEN + TOKEN_SECRET_LEN + 1)
#define BIN_MAX		(FIXED_LEN + TOKEN_ADDR_MAX)

/* ---------------------------------------------------------------- UUID */

/* Only the canonical 36-character form (sd_id128 also takes 32 digits). */
static int uuid_parse(const char *s, uint8_t out[16])
{
	sd_id128_t id;

	if (strlen(s) != 36 || sd_id128_from_string(s, &id) < 0)
		return -EINVAL;
	memcpy(out, id.bytes, 16);
	return 0;
}

static void uuid_format(const uint8_t in[16], char out[37])
{
	sd_id128_t id;

	memcpy(id.bytes, in, 16);
	sd_id128_to_uuid_string(id, out);	/* lower case, with dashes */
}

/* ---------------------------------------------------------------- address */

int token_addr_split(const char *addr, char *host, size_t hostlen,
		     uint16_t *port)
{
	const char *colon, *h = addr, *hend;
	size_t n = strlen(addr), hl;
	char *end;
	long p;

	if (n == 0 || n > TOKEN_ADDR_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = addr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':' || c == '[' || c == ']' || c == '_'))
			return -EINVAL;
	}
	if (addr[0] == '[') {
		hend = strchr(addr, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		h = addr + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -EINVAL;	/* bare IPv6 needs brackets */
		hend = colon;
	}
	hl = (size_t)(hend - h);
	if (hl == 0 || strchr(colon + 1, '[') || strchr(colon + 1, ']'))
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 1 || p > 65535 || colon[1] == '0')
		return -EINVAL;
	if (host) {
		if (hl >= hostlen)
			return -ENAMETOOLONG;
		memcpy(host, h, hl);
		host[hl] = '\0';
	}
	if (port)
		*port = (uint16_t)p;
	return 0;
}

/* ---------------------------------------------------------------- codec */

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int token_encode(const struct token *t, char *out, size_t outlen)
{
	uint8_t bin[BIN_MAX], *p = bin;
	size_t alen = strlen(t->primary), blen, plen = strlen(TOKEN_PREFIX);
	int n, ret = -EINVAL;

	if (token_addr_split(t->primary, NULL, 0, NULL) < 0 || t->expires < 0)
		goto out;
	*p++ = TOKEN_VERSION;
	if (uuid_parse(t->cluster_id, p) < 0)
		goto out;
	p += 16;
	be64_put(p, (uint64_t)t->expires);
	p += 8;
	memcpy(p, t->ca_pin, TOKEN_PIN_LEN);
	p += TOKEN_PIN_LEN;
	memcpy(p, t->secret, TOKEN_SECRET_LEN);
	p += TOKEN_SECRET_LEN;
	*p++ = (uint8_t)alen;
	memcpy(p, t->primary, alen);
	blen = FIXED_LEN + alen;

	ret = -ENOSPC;
	if (outlen < plen + 4 * ((blen + 2) / 3) + 1)
		goto out;
	memcpy(out, TOKEN_PREFIX, plen);
	n = EVP_EncodeBlock((unsigned char *)out + plen, bin, (int)blen);
	/* base64 → base64url, no padding */
	while (n > 0 && out[plen + n - 1] == '=')
		n--;
	out[plen + n] = '\0';
	for (char *c = out + plen; *c; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
	}
	ret = (int)(plen + n);
out:
	OPENSSL_cleanse(bin, sizeof(bin));
	return ret;
}

int token_decode(const char *s, struct token *t)
{
	char b64[4 * ((BIN_MAX + 2) / 3) + 1];
	uint8_t bin[4 * ((BIN_MAX + 2) / 3)];
	size_t plen = strlen(TOKEN_PREFIX), n, pad, blen, alen;
	const uint8_t *p;
	int dl, ret = -EINVAL;

	memset(t, 0, sizeof(*t));
	if (strncmp(s, TOKEN_PREFIX, plen) != 0)
		return -EINVAL;
	s += plen;
	n = strnlen(s, sizeof(b64));
	if (n >= sizeof(b64) || n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z') b64[i] = c;
		else if (c >= 'a' && c <= 'z') b64[i] = c;
		else if (c >= '0' && c <= '9') b64[i] = c;
		else if (c == '-') b64[i] = '+';
		else if (c == '_') b64[i] = '/';
		else return -EINVAL;
	}
	pad = (4 - n % 4) % 4;
	memset(b64 + n, '=', pad);
	b64[n + pad] = '\0';
	dl = EVP_DecodeBlock(bin, (unsigned char *)b64, (int)(n + pad));
	if (dl < 0)
		goto out;
	blen = (size_t)dl - pad;
	/* canonical encoding only: re-encoding must give the same text
	 * (unused low bits of the last character must be zero) */
	{
		char again[sizeof(b64) + 1];
		int m = EVP_EncodeBlock((unsigned char *)again, bin, (int)blen);

		if (m != (int)(n + pad) || memcmp(again, b64, n + pad) != 0)
			goto out;
	}
	if (blen < 1)
		goto out;
	if (bin[0] != TOKEN_VERSION) {
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	if (blen < FIXED_LEN + 1)
		goto out;
	p = bin + 1;
	uuid_format(p, t->cluster_id);
	p += 16;
	{
		uint64_t e = be64_get(p);

		if (e > (uint64_t)INT64_MAX / 2)
			goto out;
		t->expires = (time_t)e;
	}
	p += 8;
	memcpy(t->ca_pin, p, TOKEN_PIN_LEN);
	p += TOKEN_PIN_LEN;
	memcpy(t->secret, p, TOKEN_SECRET_LEN);
	p += TOKEN_SECRET_LEN;
	alen = *p++;
	if (alen == 0 || blen != FIXED_LEN + alen)
		goto out;
	memcpy(t->primary, p, alen);
	t->primary[alen] = '\0';
	if (memchr(t->primary, '\0', alen) ||
	    token_addr_split(t->primary, NULL, 0, NULL) < 0)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(bin, sizeof(bin));
	OPENSSL_cleanse(b64, sizeof(b64));
	if (ret < 0)
		token_wipe(t);
	return ret;
}

void token_wipe(struct token *t)
{
	OPENSSL_cleanse(t, sizeof(*t));
}

/* ---------------------------------------------------------------- store */

struct token_entry {
	uint8_t hash[32];
	time_t expires;
	bool used;
};

struct token_store {
	char *path;
	size_t n;
	struct token_entry e[TOKEN_STORE_MAX];
};

/* Used tokens are remembered this long after they expire so a reuse is
 * reported as "already used" rather than "unknown". */
#define REMEMBER_SECS	(7 * 24 * 3600)

static int secret_hash(const uint8_t secret[TOKEN_SECRET_LEN], uint8_t out[32])
{
	unsigned int len = 32;

	return EVP_Digest(secret, TOKEN_SECRET_LEN, out, &len, EVP_sha256(),
			  NULL) == 1 ? 0 : -EIO;
}

static int store_save(const struct token_store *s)
{
	json_t *root, *arr;
	char *txt = NULL;
	int ret = -ENOMEM;

	if (!s->path)
		return 0;
	root = json_object();
	arr = json_array();
	if (!root || !arr)
		goto out;
	json_object_set_new(root, "tokens", arr);
	for (size_t i = 0; i < s->n; i++) {
		char hex[65];

		hex_encode(s->e[i].hash, 32, hex);
		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:b}",
			"hash", hex, "expires", (json_int_t)s->e[i].expires,
			"used", s->e[i].used)) < 0)
			goto out;
	}
	txt = json_dumps(root, JSON_COMPACT);
	if (!txt)
		goto out;
	ret = atomicfile_write_path(s->path, txt, strlen(txt), 0600);
out:
	free(txt);
	json_decref(root);
	return ret;
}

static int store_load(struct token_store *s)
{
	json_error_t jerr;
	json_t *root, *arr, *v;
	size_t i;
	int ret = -EBADMSG;

	root = json_load_file(s->path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (access(s->path, F_OK) < 0 && errno == ENOENT)
			return 0;
		return -EBADMSG;
	}
	arr = json_object_get(root, "tokens");
	if (!json_is_object(root) || json_object_size(root) != 1 ||
	    !json_is_array(arr) || json_array_size(arr) > TOKEN_STORE_MAX)
		goto out;
	json_array_foreach(arr, i, v) {
		const char *hash;
		json_int_t exp;
		int used;

		if (json_unpack(v, "{s:s, s:I, s:b !}", "hash", &hash,
				"expires", &exp, "used", &used) < 0 ||
		    hex_decode(hash, s->e[i].hash, 32) < 0 || exp < 0)
			goto out;
		s->e[i].expires = (time_t)exp;
		s->e[i].used = used;
	}
	s->n = json_array_size(arr);
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int token_store_open(const char *path, struct token_store **out)
{
	struct token_store *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	if (path) {
		s->path = strdup(path);
		if (!s->path) {
			free(s);
			return -ENOMEM;
		}
		ret = store_load(s);
		if (ret < 0) {
			token_store_free(s);
			return ret;
		}
	}
	*out = s;
	return 0;
}

void token_store_free(struct token_store *s)
{
	if (!s)
		return;
	free(s->path);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* Drop entries nobody can use or be told about any more. */
static void store_prune(struct token_store *s, time_t now)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].expires + REMEMBER_SECS < now)
			continue;
		s->e[j++] = s->e[i];
	}
	s->n = j;
}

int token_store_issue(struct token_store *s, struct token *t, time_t now,
		      long ttl)
{
	struct token_entry *e;
	size_t saved_n;
	int ret;

	if (ttl == 0)
		ttl = TOKEN_TTL_DEFAULT;
	if (ttl < 0 || ttl > TOKEN_TTL_MAX)
		return -ERANGE;
	store_prune(s, now);
	if (s->n >= TOKEN_STORE_MAX) {
		/* forget the oldest used/expired entries first */
		size_t j = 0;

		for (size_t i = 0; i < s->n; i++)
			if (!s->e[i].used && s->e[i].expires > now)
				s->e[j++] = s->e[i];
		s->n = j;
		if (s->n >= TOKEN_STORE_MAX)
			return -ENOSPC;
	}
	if (RAND_priv_bytes(t->secret, TOKEN_SECRET_LEN) != 1)
		return -EIO;
	t->expires = now + ttl;
	saved_n = s->n;
	e = &s->e[s->n++];
	e->expires = t->expires;
	e->used = false;
	ret = secret_hash(t->secret, e->hash);
	if (!ret)
		ret = store_save(s);
	if (ret < 0) {
		s->n = saved_n;
		OPENSSL_cleanse(t->secret, TOKEN_SECRET_LEN);
	}
	return ret;
}

static struct token_entry *store_find(const struct token_store *s,
				      const uint8_t secret[TOKEN_SECRET_LEN])
{
	uint8_t h[32];
	struct token_entry *found = NULL;

	if (secret_hash(secret, h) < 0)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (CRYPTO_memcmp(h, s->e[i].hash, 32) == 0)
			found = (struct token_entry *)&s->e[i];
	return found;
}

int token_store_check(const struct token_store *s,
		      const uint8_t secret[TOKEN_SECRET_LEN], time_t now)
{
	const struct token_entry *e = store_find(s, secret);

	if (!e)
		return -EACCES;
	if (e->used)
		return -EALREADY;
	if (now >= e->expires)
		return -EKEYEXPIRED;
	return 0;
}

int token_store_consume(struct token_store *s,
			const uint8_t secret[TOKEN_SECRET_LEN], time_t now)
{
	struct token_entry *e;
	int ret = token_store_check(s, secret, now);

	if (ret < 0)
		return ret;
	e = store_find(s, secret);
	e->used = true;
	ret = store_save(s);
	if (ret < 0)
		e->used = false;
	return ret;
}

size_t token_store_active(const struct token_store *s, time_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (!s->e[i].used && s->e[i].expires > now)
			n++;
	return n;
}

const char *token_strerror(int err)
{
	switch (err) {
	case 0:
		return "token accepted";
	case -EACCES:
		return "join token not recognised by the primary (wrong token, or one for another cluster)";
	case -EKEYEXPIRED:
		return "join token expired: ask the primary for a new one (inectl cluster token)";
	case -EALREADY:
		return "join token already used: each token admits one node";
	case -EINVAL:
		return "malformed join token";
	case -EPROTONOSUPPORT:
		return "join token of an unsupported version";
	default:
		return "join token refused";
	}
}
