// SPDX-License-Identifier: GPL-2.0
/* store_client.c — one HTTP round trip to etcd's v3 JSON gateway, with
 * failover across members, mutual TLS, and the one place where etcd's and
 * libcurl's failures become errnos. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "store/store_internal.h"

#define STORE_BODY_MAX	(64u << 20)	/* one answer; a range of a big config */

void store_err_set(struct store_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* etcd's text is a remote peer's: printable ASCII only into our messages. */
static void escape(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in && *in && i + 1 < outlen; in++)
		out[i++] = isprint((unsigned char)*in) ? *in : '?';
	out[i] = 0;
}

static bool opt_set(const char *a)
{
	return a && *a;
}

int store_open(const struct store_opts *o, struct store **out,
	       struct store_err *err)
{
	struct store *s;
	int tls = opt_set(o->ca_file) + opt_set(o->cert_file) + opt_set(o->key_file);
	size_t i;

	if (o->n_endpoints == 0 || o->n_endpoints > STORE_MAX_EP) {
		store_err_set(err, "store: %zu endpoints given, need 1 to %d",
			      o->n_endpoints, STORE_MAX_EP);
		return -EINVAL;
	}
	if (tls != 0 && tls != 3) {
		store_err_set(err, "store: TLS needs a CA, a certificate and a key (all three)");
		return -EINVAL;
	}
	for (i = 0; i < o->n_endpoints; i++) {
		const char *e = o->endpoints[i];
		bool https = e && !strncmp(e, "https://", 8);

		if (!e || (!https && strncmp(e, "http://", 7))) {
			store_err_set(err, "store: endpoint %zu is not an http(s):// URL", i + 1);
			return -EINVAL;
		}
		if (https != (tls == 3)) {
			store_err_set(err, "store: endpoint '%s' %s", e,
				      https ? "is https but no certificates were given"
					    : "is plain http but certificates were given");
			return -EINVAL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < o->n_endpoints; i++) {
		size_t l = strlen(o->endpoints[i]);

		s->ep[i] = strdup(o->endpoints[i]);
		if (!s->ep[i])
			goto nomem;
		if (l && s->ep[i][l - 1] == '/')	/* paths start with '/' */
			s->ep[i][l - 1] = 0;
		s->n_ep++;
	}
	if (tls == 3 && (!(s->ca_file = strdup(o->ca_file)) ||
			 !(s->cert_file = strdup(o->cert_file)) ||
			 !(s->key_file = strdup(o->key_file))))
		goto nomem;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	s->easy = curl_easy_init();
	if (!s->easy)
		goto nomem;
	*out = s;
	return 0;
nomem:
	store_close(s);
	return -ENOMEM;
}

void store_close(struct store *s)
{
	size_t i;

	if (!s)
		return;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	for (i = 0; i < s->n_ep; i++)
		free(s->ep[i]);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

const char *store_endpoint(const struct store *s)
{
	return s->ep[s->cur];
}

int store_curl_setup(const struct store *s, CURL *c, size_t ep,
		     const char *path, const char *body)
{
	char url[512];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->ep[ep], path) >= sizeof(url))
		return -ENAMETOOLONG;
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		return -EINVAL;
	if (s->ca_file &&
	    (curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert_file) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_SSLKEY, s->key_file) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2) != CURLE_OK))
		return -EINVAL;
	return 0;
}

struct buf {
	char *p;
	size_t len;
	bool over;
};

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = sz * n;
	char *p;

	if (b->len + add > STORE_BODY_MAX) {
		b->over = true;
		return 0;
	}
	p = realloc(b->p, b->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	p[b->len] = 0;
	return add;
}

/* etcd's answers that mean "this member cannot commit anything now". */
static bool quorum_msg(const char *m)
{
	static const char *const pat[] = {
		"no leader", "request timed out", "leader changed",
		"proposal dropped", "unhealthy cluster", "not capable",
		/* the gateway's own deadline on its call into etcd: the
		 * proposal waited for a commit that never came */
		"deadline exceeded",
	};
	size_t i;

	for (i = 0; m && i < sizeof(pat) / sizeof(pat[0]); i++)
		if (strstr(m, pat[i]))
			return true;
	return false;
}

/* Connection-level failures: this member is down, try the next. */
static bool down_code(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_SEND_ERROR;
}

/* One request to endpoint ep.  1: try the next endpoint. */
static int call_one(struct store *s, size_t ep, const char *path,
		    const char *body, bool write, json_t **resp,
		    struct store_err *err, bool *saw_quorum)
{
	struct buf b = { 0 };
	CURLcode rc;
	long code = 0;
	json_t *j = NULL;
	const char *m;
	char esc[160];
	int ret;

	curl_easy_reset(s->easy);
	ret = store_curl_setup(s, s->easy, ep, path, body);
	if (ret) {
		store_err_set(err, "store: cannot set up a request to %s%s", s->ep[ep], path);
		return ret;
	}
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(s->easy);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		free(b.p);
		store_err_set(err, "store: %s gave no answer to %s in %ld ms%s",
			      s->ep[ep], path, s->timeout_ms,
			      write ? " (the write may have been committed)" : "");
		return write ? -ETIMEDOUT : 1;
	}
	if (rc != CURLE_OK) {
		free(b.p);
		store_err_set(err, "store: %s: %s%s", s->ep[ep], curl_easy_strerror(rc),
			      b.over ? " (answer too large)" : "");
		if (down_code(rc))
			return 1;
		/* TLS and the like: the member is up but we cannot talk to it */
		return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM ||
		       rc == CURLE_SSL_CACERT_BADFILE ? -EACCES : 1;
	}
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	if (b.p)
		j = json_loadb(b.p, b.len, 0, NULL);
	free(b.p);
	if (!json_is_object(j)) {
		json_decref(j);
		store_err_set(err, "store: %s%s answered HTTP %ld without a JSON object",
			      s->ep[ep], path, code);
		return code >= 500 ? 1 : -EPROTO;
	}
	if (code == 200 && !json_object_get(j, "error")) {
		s->cur = ep;
		*resp = j;
		return 0;
	}
	m = json_string_value(json_object_get(j, "error"));
	if (!m)
		m = json_string_value(json_object_get(j, "message"));
	escape(m ? m : "(no message)", esc, sizeof(esc));
	/* gRPC codes 14 (unavailable) and 4 (deadline exceeded) */
	ret = quorum_msg(m) || store_json_i64(j, "code") == 14 || store_json_i64(j, "code") == 4;
	json_decref(j);
	if (ret) {
		*saw_quorum = true;
		store_err_set(err, "store: quorum lost: %s says '%s'", s->ep[ep], esc);
		return 1;	/* the other side of a partition may have it */
	}
	store_err_set(err, "store: %s%s refused the request (HTTP %ld): %s",
		      s->ep[ep], path, code, esc);
	if (strstr(esc, "lease not found"))
		return -ENOENT;
	if (strstr(esc, "compacted"))
		return -ERANGE;
	return code >= 500 ? -EIO : -EINVAL;
}

int store_call(struct store *s, const char *path, json_t *req, bool write,
	       json_t **resp, struct store_err *err)
{
	char *body = json_dumps(req, JSON_COMPACT);
	bool saw_quorum = false;
	char qmsg[STORE_ERR_MAX] = "";
	size_t k, ep;
	int ret = -ECONNREFUSED;

	if (!body) {
		store_err_set(err, "store: out of memory encoding a request");
		return -ENOMEM;
	}
	for (k = 0; k < s->n_ep; k++) {
		ep = (s->cur + k) % s->n_ep;
		ret = call_one(s, ep, path, body, write, resp, err, &saw_quorum);
		if (ret <= 0)
			break;
		if (saw_quorum && !qmsg[0] && err)
			snprintf(qmsg, sizeof(qmsg), "%s", err->msg);
	}
	free(body);
	if (ret == 1) {
		if (saw_quorum) {
			/* the first member that answered says why */
			store_err_set(err, "%s (no member of %zu can commit)",
				      qmsg[0] ? qmsg : "store: quorum lost", s->n_ep);
			return -STORE_EQUORUM;
		}
		store_err_set(err, "store: no etcd member reachable (%zu tried, first %s)",
			      s->n_ep, s->ep[0]);
		return -ECONNREFUSED;
	}
	return ret;
}

char *store_b64(const void *data, size_t len)
{
	char *out;

	if (len > (1u << 28))
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

int store_unb64(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *p;
	int got;

	if (n % 4 || n > (1u << 29))
		return -EPROTO;
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	p = malloc(n / 4 * 3 + 1);
	if (!p)
		return -ENOMEM;
	got = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
	if (got < 0 || (size_t)got < pad) {
		free(p);
		return -EPROTO;
	}
	*len = (size_t)got - pad;	/* EVP_DecodeBlock counts the padding */
	p[*len] = 0;
	*out = p;
	return 0;
}

int64_t store_json_i64(const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

char *store_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *e = strdup(prefix);

	if (!e)
		return NULL;
	/* the first key after every key with this prefix: bump the last byte
	 * that is not 0xff (an all-0xff prefix ranges to the end: "\0") */
	while (n > 0) {
		if ((unsigned char)e[n - 1] != 0xff) {
			e[n - 1]++;
			e[n] = 0;
			return e;
		}
		n--;
	}
	e[0] = 0;
	return e;
}
