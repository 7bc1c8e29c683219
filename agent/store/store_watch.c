// SPDX-License-Identifier: GPL-2.0
/* store_watch.c — a /v3/watch stream on a key prefix, run by libcurl's
 * multi interface on the agent's libevent loop.
 *
 * etcd's gateway answers a watch with an endless HTTP body of JSON objects,
 * one per batch of events.  When the stream breaks (member killed,
 * restarted, connection reset) the watch reconnects, to the next member,
 * from the revision after the last one delivered, so the caller sees every
 * revision once and in order.  If that revision has been compacted away,
 * etcd cancels the watch and the caller is told (-ERANGE) to re-read. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "store/store_internal.h"

#define WATCH_BUF_MAX	(64u << 20)
#define WATCH_BACKOFF_MIN_MS	100
#define WATCH_BACKOFF_MAX_MS	2000

struct store_watch {
	struct store *s;
	struct event_base *base;
	CURLM *multi;
	CURL *easy;
	struct event *timer;	/* curl's timeouts */
	struct event *retry;	/* reconnect after a break */
	char *prefix;
	int64_t next_rev;
	size_t ep;
	char *buf;
	size_t len;
	unsigned reconnects;
	int backoff_ms;
	bool broken;		/* told the caller; idle from now */
	store_watch_fn fn;
	store_watch_err_fn err_fn;
	void *arg;
};

static void start_stream(struct store_watch *w);

static void watch_fail(struct store_watch *w, int error, const char *why)
{
	w->broken = true;
	log_warn("store: watch on '%s' stopped: %s", w->prefix, why);
	w->err_fn(w->arg, error, why);
}

/* One JSON object of the stream. */
static void on_message(struct store_watch *w, json_t *msg)
{
	json_t *res = json_object_get(msg, "result"), *evs, *e;
	int64_t base_rev = w->next_rev, compact;
	size_t i;

	if (!res) {
		watch_fail(w, -EPROTO, "the watch stream sent an error instead of a result");
		return;
	}
	w->backoff_ms = WATCH_BACKOFF_MIN_MS;	/* it works again */
	compact = store_json_i64(res, "compact_revision");
	if (compact > 0) {
		char why[128];

		snprintf(why, sizeof(why), "revision %lld was compacted (oldest now %lld): re-read",
			 (long long)w->next_rev, (long long)compact);
		watch_fail(w, -ERANGE, why);
		return;
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		watch_fail(w, -ECANCELED, "etcd canceled the watch");
		return;
	}
	if (w->next_rev == 0)	/* "from now": now is the header's revision */
		w->next_rev = store_json_i64(json_object_get(res, "header"), "revision") + 1;
	evs = json_object_get(res, "events");
	json_array_foreach(evs, i, e) {
		struct store_event ev;
		const char *type = json_string_value(json_object_get(e, "type"));

		if (store_kv_from_json(json_object_get(e, "kv"), &ev.kv)) {
			watch_fail(w, -EPROTO, "malformed event in the watch stream");
			return;
		}
		/* PUT is 0, omitted on the wire */
		ev.type = type && !strcmp(type, "DELETE") ? STORE_EV_DELETE : STORE_EV_PUT;
		if (ev.kv.mod_rev >= base_rev) {
			w->fn(w->arg, &ev);
			if (ev.kv.mod_rev + 1 > w->next_rev)
				w->next_rev = ev.kv.mod_rev + 1;
		}
		store_kv_clear(&ev.kv);
		if (w->broken)
			return;
	}
}

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
	struct store_watch *w = arg;
	size_t add = sz * n, off = 0;
	char *p;

	if (w->broken)
		return 0;
	if (w->len + add > WATCH_BUF_MAX)
		return 0;
	p = realloc(w->buf, w->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + w->len, data, add);
	w->buf = p;
	w->len += add;
	while (off < w->len && !w->broken) {
		json_error_t jerr;
		json_t *msg;

		while (off < w->len && strchr(" \t\r\n", w->buf[off]))
			off++;
		if (off == w->len)
			break;
		msg = json_loadb(w->buf + off, w->len - off, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!msg) {
			if ((size_t)jerr.position < w->len - off)
				watch_fail(w, -EPROTO, "the watch stream is not JSON");
			break;	/* else: the rest of the object is still coming */
		}
		off += (size_t)jerr.position;
		on_message(w, msg);
		json_decref(msg);
	}
	memmove(w->buf, w->buf + off, w->len - off);
	w->len -= off;
	return w->broken ? 0 : add;
}

/* ---- libcurl multi on libevent ------------------------------------- */

static void check_done(struct store_watch *w)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(w->multi, &left))) {
		struct timeval tv;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_multi_remove_handle(w->multi, w->easy);
		if (w->broken)
			return;
		log_info("store: watch stream from %s ended (%s), resuming at revision %lld",
			 w->s->ep[w->ep], curl_easy_strerror(m->data.result),
			 (long long)w->next_rev);
		w->ep = (w->ep + 1) % w->s->n_ep;
		w->len = 0;
		tv.tv_sec = w->backoff_ms / 1000;
		tv.tv_usec = (w->backoff_ms % 1000) * 1000;
		w->backoff_ms *= 2;
		if (w->backoff_ms > WATCH_BACKOFF_MAX_MS)
			w->backoff_ms = WATCH_BACKOFF_MAX_MS;
		evtimer_add(w->retry, &tv);
		return;
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct store_watch *w = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
		    (what & EV_WRITE ? CURL_CSELECT_OUT : 0), running;

	curl_multi_socket_action(w->multi, fd, flags, &running);
	check_done(w);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct store_watch *w = userp;
	struct event *ev = sockp;
	short kind = (what & CURL_POLL_IN ? EV_READ : 0) |
		     (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ev)
			event_free(ev);
		curl_multi_assign(w->multi, fd, NULL);
		return 0;
	}
	if (ev)
		event_free(ev);
	ev = event_new(w->base, fd, kind | EV_PERSIST, on_sock_event, w);
	if (!ev || event_add(ev, NULL))
		return -1;
	curl_multi_assign(w->multi, fd, ev);
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct store_watch *w = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(w);
}

static int on_curl_timer(CURLM *m, long ms, void *userp)
{
	struct store_watch *w = userp;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)m;
	if (ms < 0)
		evtimer_del(w->timer);
	else
		evtimer_add(w->timer, &tv);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_stream(arg);
}

static void start_stream(struct store_watch *w)
{
	char *key = store_b64(w->prefix, strlen(w->prefix));
	char *end = store_prefix_end(w->prefix), *end64 = NULL, *body = NULL, rev[24];
	json_t *req;
	struct timeval tv = { 0, WATCH_BACKOFF_MAX_MS * 1000 };

	if (end)
		end64 = store_b64(end, strlen(end));
	snprintf(rev, sizeof(rev), "%lld", (long long)w->next_rev);
	req = json_pack("{s:{s:s?,s:s?,s:s}}", "create_request", "key", key,
			"range_end", end64, "start_revision", rev);
	if (req)
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(key);
	free(end);
	free(end64);
	w->reconnects++;	/* the first start is not a reconnect: see below */
	curl_easy_reset(w->easy);
	if (!body || store_curl_setup(w->s, w->easy, w->ep, "/v3/watch", body)) {
		free(body);
		evtimer_add(w->retry, &tv);	/* out of memory: try again later */
		return;
	}
	free(body);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_multi_add_handle(w->multi, w->easy);
}

struct store_watch *store_watch_new(struct store *s, struct event_base *base,
				    const char *prefix, int64_t start_rev,
				    store_watch_fn fn, store_watch_err_fn err_fn,
				    void *arg, struct store_err *err)
{
	struct store_watch *w;

	if (!prefix || !*prefix || !fn || !err_fn || start_rev < 0) {
		store_err_set(err, "store: a watch needs a prefix, callbacks and a revision >= 0");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->s = s;
	w->base = base;
	w->next_rev = start_rev;
	w->ep = s->cur;
	w->backoff_ms = WATCH_BACKOFF_MIN_MS;
	w->fn = fn;
	w->err_fn = err_fn;
	w->arg = arg;
	w->prefix = strdup(prefix);
	w->multi = curl_multi_init();
	w->easy = curl_easy_init();
	w->timer = evtimer_new(base, on_timer, w);
	w->retry = evtimer_new(base, on_retry, w);
	if (!w->prefix || !w->multi || !w->easy || !w->timer || !w->retry)
		goto nomem;
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	start_stream(w);
	return w;
nomem:
	store_watch_free(w);
	store_err_set(err, "store: out of memory starting a watch on '%s'", prefix);
	return NULL;
}

void store_watch_free(struct store_watch *w)
{
	if (!w)
		return;
	if (w->multi && w->easy)
		curl_multi_remove_handle(w->multi, w->easy);	/* frees socket events */
	if (w->easy)
		curl_easy_cleanup(w->easy);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->timer)
		event_free(w->timer);
	if (w->retry)
		event_free(w->retry);
	free(w->buf);
	free(w->prefix);
	free(w);
}

int64_t store_watch_next_rev(const struct store_watch *w)
{
	return w->next_rev;
}

unsigned store_watch_reconnects(const struct store_watch *w)
{
	return w->reconnects ? w->reconnects - 1 : 0;
}
