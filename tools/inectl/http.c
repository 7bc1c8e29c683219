// SPDX-License-Identifier: GPL-2.0
/* http.c — REST client over the agent's Unix socket (libcurl). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "http.h"

#define API_SOCKET_DEFAULT "/run/ine/api.sock"
#define RESP_MAX (16u << 20)

struct sink {
	char *buf;
	size_t len;
};

const char *http_socket_path(void)
{
	const char *s = getenv("INE_API_SOCKET");

	return s && *s ? s : API_SOCKET_DEFAULT;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;
	char *b;

	if (s->len + add + 1 > RESP_MAX)
		return 0;  /* aborts the transfer */
	b = realloc(s->buf, s->len + add + 1);
	if (!b)
		return 0;
	memcpy(b + s->len, p, add);
	s->buf = b;
	s->len += add;
	b[s->len] = '\0';
	return add;
}

int http_request(const char *sock, const char *method, const char *path,
		 const char *body, long *status, char **resp, size_t *resp_len,
		 char *err, size_t errlen)
{
	static int inited;
	struct sink s = { NULL, 0 };
	struct curl_slist *hdr = NULL;
	char url[1024];
	CURLcode cc;
	CURL *c;
	int rc = 0;

	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_NOTHING))
			return -ENOMEM;
		inited = 1;
	}
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 180L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	hdr = curl_slist_append(hdr, "Expect:");
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (err)
			snprintf(err, errlen, "cannot reach the agent on %s: %s", sock,
				 curl_easy_strerror(cc));
		rc = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
		free(s.buf);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (!s.buf && !(s.buf = calloc(1, 1))) {
		rc = -ENOMEM;
		goto out;
	}
	*resp = s.buf;
	if (resp_len)
		*resp_len = s.len;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc;
}

int http_json(const char *method, const char *path, const json_t *body, json_t **out)
{
	char err[512], *req = NULL, *resp = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	long status = 0;
	int rc = 1;

	if (body && !(req = json_dumps(body, JSON_COMPACT))) {
		fprintf(stderr, "inectl: out of memory\n");
		return 1;
	}
	if (http_request(http_socket_path(), method, path, req, &status, &resp, NULL, err,
			 sizeof(err))) {
		fprintf(stderr, "inectl: %s (is ined running?)\n", err);
		goto out;
	}
	j = json_loads(resp, JSON_DECODE_ANY, &jerr);
	if (status < 200 || status > 299) {
		const char *d = json_string_value(json_object_get(j, "description"));
		const char *e = json_string_value(json_object_get(j, "error_code"));

		if (d)
			fprintf(stderr, "inectl: %s (%s)\n", d, e ? e : "error");
		else
			fprintf(stderr, "inectl: %s %s: HTTP %ld\n", method, path, status);
		goto out;
	}
	if (!j) {
		fprintf(stderr, "inectl: %s %s: reply is not JSON: %s\n", method, path, jerr.text);
		goto out;
	}
	if (out) {
		*out = j;
		j = NULL;
	}
	rc = 0;
out:
	json_decref(j);
	free(req);
	free(resp);
	return rc;
}
