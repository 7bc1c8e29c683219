/* SPDX-License-Identifier: GPL-2.0 */
/* store_internal.h — shared between the files of agent/store/ only; the rest of the
 * agent uses store.h.  One heading per file. */
#ifndef INE_STORE_INTERNAL_H
#define INE_STORE_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "store/store.h"

struct store {
	char *ep[STORE_MAX_EP];
	size_t n_ep, cur;		/* cur: the last endpoint that answered */
	char *ca_file, *cert_file, *key_file;
	long timeout_ms;
	CURL *easy;			/* reused: keeps the TLS session alive */
};

/* store_client.c */
void store_err_set(struct store_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Apply TLS and timeout options of s to a curl handle aimed at ep+path. */
int store_curl_setup(const struct store *s, CURL *c, size_t ep,
		     const char *path, const char *body);
/* POST req to path on the members, failing over; *resp the answer (new
 * reference).  write=true: a timeout is not retried elsewhere (the write
 * may have been committed). */
int store_call(struct store *s, const char *path, json_t *req, bool write,
	       json_t **resp, struct store_err *err);
/* base64 (etcd's encoding of keys and values) */
char *store_b64(const void *data, size_t len);
int store_unb64(const char *s, uint8_t **out, size_t *len);
/* etcd writes int64 as JSON strings; absent fields are 0 */
int64_t store_json_i64(const json_t *obj, const char *name);
/* The end of the range of keys starting with prefix (etcd's range_end). */
char *store_prefix_end(const char *prefix);

/* store_kv.c */
int store_kv_from_json(const json_t *j, struct store_kv *kv);
void store_kv_clear(struct store_kv *kv);
/* A txn: compare[] all hold -> success[] else failure[].  *ok whether the
 * compares held; *resp the answer (may be NULL). */
int store_txn(struct store *s, json_t *compare, json_t *success,
	      json_t *failure, bool *ok, json_t **resp, struct store_err *err);
json_t *store_req_put(const char *key, const void *val, size_t len, int64_t lease);
json_t *store_req_range(const char *key);

#endif
