// SPDX-License-Identifier: GPL-2.0
/* store_kv.c — get, range, put, delete and compare-and-swap on etcd's
 * /v3/kv/... calls, with the revisions surfaced. */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void store_kv_clear(struct store_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void store_kvs_free(struct store_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; kvs && i < n; i++)
		store_kv_clear(&kvs[i]);
	free(kvs);
}

int store_kv_from_json(const json_t *j, struct store_kv *kv)
{
	const char *k = json_string_value(json_object_get(j, "key"));
	const char *v = json_string_value(json_object_get(j, "value"));
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!k)
		return -EPROTO;
	ret = store_unb64(k, &kv->key, &kv->key_len);
	if (ret)
		return ret;
	/* etcd omits an empty value */
	ret = store_unb64(v ? v : "", &kv->value, &kv->value_len);
	if (ret) {
		store_kv_clear(kv);
		return ret;
	}
	kv->create_rev = store_json_i64(j, "create_revision");
	kv->mod_rev = store_json_i64(j, "mod_revision");
	kv->version = store_json_i64(j, "version");
	kv->lease = store_json_i64(j, "lease");
	return 0;
}

static json_t *b64_str(const void *data, size_t len)
{
	char *b = store_b64(data, len);
	json_t *j = b ? json_string(b) : NULL;

	free(b);
	return j;
}

static int64_t header_rev(const json_t *resp)
{
	return store_json_i64(json_object_get(resp, "header"), "revision");
}

static bool key_ok(const char *key, struct store_err *err)
{
	if (!key || !*key) {
		store_err_set(err, "store: empty key");
		return false;
	}
	return true;
}

json_t *store_req_range(const char *key)
{
	return json_pack("{s:o}", "key", b64_str(key, strlen(key)));
}

json_t *store_req_put(const char *key, const void *val, size_t len, int64_t lease)
{
	json_t *j = json_pack("{s:o,s:o}", "key", b64_str(key, strlen(key)),
			      "value", b64_str(val, len));

	if (j && lease) {
		char l[24];

		snprintf(l, sizeof(l), "%lld", (long long)lease);
		json_object_set_new(j, "lease", json_string(l));
	}
	return j;
}

static int kvs_from_resp(const json_t *resp, struct store_kv **out, size_t *n)
{
	json_t *arr = json_object_get(resp, "kvs");
	size_t i, cnt = json_array_size(arr);
	struct store_kv *kvs;
	int ret;

	*out = NULL;
	*n = 0;
	if (!cnt)
		return 0;
	kvs = calloc(cnt, sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		ret = store_kv_from_json(json_array_get(arr, i), &kvs[i]);
		if (ret) {
			store_kvs_free(kvs, i);
			return ret;
		}
	}
	*out = kvs;
	*n = cnt;
	return 0;
}

/* One request (consumed, NULL meaning out of memory) and its answer, with
 * the store revision the answer was taken at. */
static int call_rev(struct store *s, const char *path, json_t *req, bool write,
		    json_t **resp, int64_t *rev, struct store_err *err)
{
	int ret;

	if (!req)
		return -ENOMEM;
	ret = store_call(s, path, req, write, resp, err);
	json_decref(req);
	if (ret)
		return ret;
	if (rev)
		*rev = header_rev(*resp);
	return 0;
}

int store_get(struct store *s, const char *key, struct store_kv **out,
	      int64_t *rev, struct store_err *err)
{
	json_t *resp = NULL;
	size_t n;
	int ret;

	if (!key_ok(key, err))
		return -EINVAL;
	ret = call_rev(s, "/v3/kv/range", store_req_range(key), false, &resp,
		       rev, err);
	if (ret)
		return ret;
	ret = kvs_from_resp(resp, out, &n);
	json_decref(resp);
	if (ret) {
		store_err_set(err, "store: malformed key or value from etcd for '%s'", key);
		return ret;
	}
	if (n == 0) {
		store_err_set(err, "store: no key '%s'", key);
		return -ENOENT;
	}
	return 0;
}

int store_range(struct store *s, const char *prefix, struct store_kv **out,
		size_t *n, int64_t *rev, struct store_err *err)
{
	char *end;
	json_t *req, *resp = NULL;
	int ret;

	if (!key_ok(prefix, err))
		return -EINVAL;
	end = store_prefix_end(prefix);
	req = store_req_range(prefix);
	if (!end || !req || json_object_set_new(req, "range_end", b64_str(end, strlen(end)))) {
		free(end);
		json_decref(req);
		return -ENOMEM;
	}
	free(end);
	ret = call_rev(s, "/v3/kv/range", req, false, &resp, rev, err);
	if (ret)
		return ret;
	ret = kvs_from_resp(resp, out, n);
	json_decref(resp);
	if (ret)
		store_err_set(err, "store: malformed key or value from etcd under '%s'", prefix);
	return ret;
}

int store_put(struct store *s, const char *key, const void *val, size_t len,
	      int64_t lease, int64_t *rev, struct store_err *err)
{
	json_t *resp = NULL;
	int ret;

	if (!key_ok(key, err))
		return -EINVAL;
	ret = call_rev(s, "/v3/kv/put", store_req_put(key, val, len, lease),
		       true, &resp, rev, err);
	if (!ret)
		json_decref(resp);
	return ret;
}

int store_delete(struct store *s, const char *key, int64_t *rev,
		 struct store_err *err)
{
	json_t *resp = NULL;
	int ret;

	if (!key_ok(key, err))
		return -EINVAL;
	ret = call_rev(s, "/v3/kv/deleterange", store_req_range(key), true,
		       &resp, rev, err);
	if (!ret)
		json_decref(resp);
	return ret;
}

int store_txn(struct store *s, json_t *compare, json_t *success,
	      json_t *failure, bool *ok, json_t **resp, struct store_err *err)
{
	json_t *req = json_pack("{s:o,s:o,s:o}", "compare", compare,
				"success", success, "failure",
				failure ? failure : json_array());
	json_t *r = NULL;
	int ret;

	ret = call_rev(s, "/v3/kv/txn", req, true, &r, NULL, err);
	if (ret)
		return ret;
	/* false is omitted on the wire: only an explicit true is success */
	*ok = json_is_true(json_object_get(r, "succeeded"));
	if (resp)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

static json_t *cmp_rev(const char *key, const char *target, int64_t rev)
{
	char r[24];
	char *b = store_b64(key, strlen(key));
	json_t *j;
	const char *field = !strcmp(target, "MOD") ? "mod_revision" : "create_revision";

	if (!b)
		return NULL;
	snprintf(r, sizeof(r), "%lld", (long long)rev);
	j = json_pack("{s:s,s:s,s:s,s:s}", "key", b, "target", target,
		      "result", "EQUAL", field, r);
	free(b);
	return j;
}

int store_cas(struct store *s, const char *key, int64_t expect_mod_rev,
	      const void *val, size_t len, int64_t *rev, struct store_err *err)
{
	json_t *resp = NULL;
	bool ok = false;
	int ret;

	if (!key_ok(key, err))
		return -EINVAL;
	/* mod_revision 0 compares equal only for a key that does not exist */
	ret = store_txn(s, json_pack("[o]", cmp_rev(key, "MOD", expect_mod_rev)),
			json_pack("[{s:o}]", "request_put", store_req_put(key, val, len, 0)),
			NULL, &ok, &resp, err);
	if (ret)
		return ret;
	if (rev)
		*rev = header_rev(resp);
	json_decref(resp);
	if (!ok) {
		store_err_set(err, "store: '%s' changed since revision %lld (compare-and-swap lost)",
			      key, (long long)expect_mod_rev);
		return -ECANCELED;
	}
	return 0;
}

/* ---- election: a leader key under a lease, its create_revision the fence */

int store_elect_campaign(struct store *s, const char *key, const char *id,
			 int64_t lease, int64_t *fence, struct store_err *err)
{
	json_t *resp = NULL, *rr;
	struct store_kv kv;
	bool ok = false;
	int ret;

	if (!key_ok(key, err) || !id || !*id || !lease) {
		store_err_set(err, "store: a campaign needs a key, an id and a lease");
		return -EINVAL;
	}
	/* create if absent; else read who holds it, in the same revision */
	ret = store_txn(s, json_pack("[o]", cmp_rev(key, "CREATE", 0)),
			json_pack("[{s:o},{s:o}]",
				  "request_put", store_req_put(key, id, strlen(id), lease),
				  "request_range", store_req_range(key)),
			json_pack("[{s:o}]", "request_range", store_req_range(key)),
			&ok, &resp, err);
	if (ret)
		return ret;
	rr = json_object_get(json_array_get(json_object_get(resp, "responses"), ok ? 1 : 0),
			     "response_range");
	ret = store_kv_from_json(json_array_get(json_object_get(rr, "kvs"), 0), &kv);
	json_decref(resp);
	if (ret) {
		/* held, but the holder's lease ran out between compare and read */
		store_err_set(err, "store: leader key '%s' unreadable, try again", key);
		return ok ? -EPROTO : -EBUSY;
	}
	if (!ok || strcmp((char *)kv.value, id)) {
		char esc[64];
		size_t i;

		for (i = 0; i < kv.value_len && i + 1 < sizeof(esc); i++)
			esc[i] = kv.value[i] >= 0x20 && kv.value[i] < 0x7f ? (char)kv.value[i] : '?';
		esc[i] = 0;
		store_err_set(err, "store: '%s' is led by '%s' (term %lld)", key, esc,
			      (long long)kv.create_rev);
		store_kv_clear(&kv);
		return -EBUSY;
	}
	*fence = kv.create_rev;
	store_kv_clear(&kv);
	return 0;
}

int store_elect_leader(struct store *s, const char *key, char **id,
		       int64_t *fence, struct store_err *err)
{
	struct store_kv *kv = NULL;
	int ret = store_get(s, key, &kv, NULL, err);

	if (ret == -ENOENT)
		store_err_set(err, "store: nobody leads '%s'", key);
	if (ret)
		return ret;
	*fence = kv->create_rev;
	*id = (char *)kv->value;	/* NUL-terminated by store_unb64 */
	kv->value = NULL;
	store_kvs_free(kv, 1);
	return 0;
}

int store_elect_resign(struct store *s, const char *key, int64_t fence,
		       struct store_err *err)
{
	bool ok = false;
	int ret = store_txn(s, json_pack("[o]", cmp_rev(key, "CREATE", fence)),
			    json_pack("[{s:o}]", "request_delete_range", store_req_range(key)),
			    NULL, &ok, NULL, err);

	if (!ret && !ok) {
		store_err_set(err, "store: not the leader of '%s' (term %lld) any more",
			      key, (long long)fence);
		ret = -ESTALE;
	}
	return ret;
}

int store_put_fenced(struct store *s, const char *leader_key, int64_t fence,
		     const char *key, const void *val, size_t len,
		     int64_t *rev, struct store_err *err)
{
	json_t *resp = NULL;
	bool ok = false;
	int ret;

	if (!key_ok(leader_key, err) || !key_ok(key, err) || fence <= 0) {
		store_err_set(err, "store: a fenced write needs a leader key, a key and a term");
		return -EINVAL;
	}
	ret = store_txn(s, json_pack("[o]", cmp_rev(leader_key, "CREATE", fence)),
			json_pack("[{s:o}]", "request_put", store_req_put(key, val, len, 0)),
			NULL, &ok, &resp, err);
	if (ret)
		return ret;
	if (rev)
		*rev = header_rev(resp);
	json_decref(resp);
	if (!ok) {
		store_err_set(err, "store: write to '%s' refused: term %lld of '%s' is over "
			      "(a newer leader was elected)", key, (long long)fence, leader_key);
		return -ESTALE;
	}
	return 0;
}
