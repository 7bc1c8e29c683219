// SPDX-License-Identifier: GPL-2.0
/* store_lease.c — etcd leases (/v3/lease/...) and the keeper that renews
 * one from a libevent timer.  A leader holds its leader key under a lease;
 * when the keeper cannot renew it in time, the holder is told it is
 * deposed before etcd expires the key, so it stops acting first. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_internal.h"

static json_t *id_json(int64_t id)
{
	char b[24];

	snprintf(b, sizeof(b), "%lld", (long long)id);
	return json_string(b);
}

int store_lease_grant(struct store *s, int ttl, int64_t *id,
		      struct store_err *err)
{
	json_t *resp = NULL, *req;
	int ret;

	if (ttl < 1 || ttl > 3600) {
		store_err_set(err, "store: lease TTL %d s out of range 1..3600", ttl);
		return -EINVAL;
	}
	req = json_pack("{s:i}", "TTL", ttl);
	if (!req)
		return -ENOMEM;
	ret = store_call(s, "/v3/lease/grant", req, true, &resp, err);
	json_decref(req);
	if (ret)
		return ret;
	*id = store_json_i64(resp, "ID");
	json_decref(resp);
	if (*id == 0) {
		store_err_set(err, "store: lease grant answered without an ID");
		return -EPROTO;
	}
	return 0;
}

int store_lease_keepalive(struct store *s, int64_t id, int *ttl,
			  struct store_err *err)
{
	json_t *resp = NULL, *req = json_pack("{s:o}", "ID", id_json(id)), *res;
	int64_t left;
	int ret;

	if (!req)
		return -ENOMEM;
	ret = store_call(s, "/v3/lease/keepalive", req, false, &resp, err);
	json_decref(req);
	if (ret)
		return ret;
	/* the gateway streams: {"result":{"ID":..,"TTL":..}}; an expired lease
	 * comes back with no TTL (0 omitted) */
	res = json_object_get(resp, "result");
	left = store_json_i64(res ? res : resp, "TTL");
	json_decref(resp);
	if (left <= 0) {
		store_err_set(err, "store: lease %llx expired", (unsigned long long)id);
		return -ENOENT;
	}
	if (ttl)
		*ttl = (int)left;
	return 0;
}

int store_lease_revoke(struct store *s, int64_t id, struct store_err *err)
{
	json_t *resp = NULL, *req = json_pack("{s:o}", "ID", id_json(id));
	int ret;

	if (!req)
		return -ENOMEM;
	ret = store_call(s, "/v3/lease/revoke", req, true, &resp, err);
	json_decref(req);
	json_decref(resp);
	return ret;
}

struct store_keeper {
	struct store *s;
	struct event *tick;
	int64_t lease;
	int ttl;
	time_t expires;		/* clock_mono(): our pessimistic view */
	store_lost_fn lost;
	void *arg;
	bool dead;
};

static void keeper_lost(struct store_keeper *k, int error, const char *why)
{
	k->dead = true;
	event_del(k->tick);
	log_warn("store: lease %llx lost: %s", (unsigned long long)k->lease, why);
	k->lost(k->arg, error, why);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct store_keeper *k = arg;
	struct store_err err = { "" };
	time_t sent = clock_mono();
	int left = 0, ret;

	(void)fd;
	(void)what;
	ret = store_lease_keepalive(k->s, k->lease, &left, &err);
	if (ret == 0) {
		/* counted from when we asked, not when etcd answered */
		k->expires = sent + left;
		return;
	}
	if (ret == -ENOENT) {
		keeper_lost(k, ret, err.msg);
		return;
	}
	/* transient (member down, quorum lost): keep trying while the lease
	 * may still be alive, give up one tick before it surely is not */
	if (clock_mono() + (k->ttl + 2) / 3 >= k->expires)
		keeper_lost(k, ret, err.msg);
}

struct store_keeper *store_keeper_new(struct store *s, struct event_base *base,
				      int64_t lease, int ttl,
				      store_lost_fn lost, void *arg)
{
	struct store_keeper *k = calloc(1, sizeof(*k));
	/* three renewals per TTL; under 3 s, every 500 ms */
	struct timeval tv = { ttl / 3, ttl < 3 ? 500000 : 0 };

	if (!k)
		return NULL;
	k->s = s;
	k->lease = lease;
	k->ttl = ttl;
	k->lost = lost;
	k->arg = arg;
	k->expires = clock_mono() + ttl;
	k->tick = event_new(base, -1, EV_PERSIST, on_tick, k);
	if (!k->tick || event_add(k->tick, &tv)) {
		store_keeper_free(k);
		return NULL;
	}
	return k;
}

void store_keeper_free(struct store_keeper *k)
{
	if (!k)
		return;
	if (k->tick)
		event_free(k->tick);
	free(k);
}
