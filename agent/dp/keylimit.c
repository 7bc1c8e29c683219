// SPDX-License-Identifier: GPL-2.0
/* keylimit.c — see keylimit.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "inenl/inenl.h"
#include "dp/keylimit.h"
#include "core/log.h"

struct keylimit {
	struct event_base *base;
	struct inenl *nl;	/* requests (dumps); the owner's */
	keylimit_retire_fn retire;
	void *retire_arg;
	struct inenl *ev_nl;	/* subscribed to the events group */
	struct event *ev;
	struct keylimit_stats st;
};

static void retire(struct keylimit *k, const struct inenl_session *s)
{
	char why[160];
	int fd = inenl_session_fd(s->id), rc = -ENOENT;

	snprintf(why, sizeof(why), "TLS record count reached the key limit (%s %s)",
		 inenl_plane_name(s->plane), s->peer_name[0] ? s->peer_name : "peer");
	if (fd >= 0 && k->retire)
		rc = k->retire(k->retire_arg, fd, why);
	if (rc == 0) {
		k->st.replaced++;
		log_msg(LOG_LVL_WARN, "session %u (%s plane, db %u, node %u %s) reached the "
			"AES-GCM key usage threshold: reset so it reconnects with fresh keys",
			s->id, inenl_plane_name(s->plane), s->db_id, s->peer_node_id,
			s->peer_name);
		return;
	}
	/* Control-plane links carry kilobytes a day and libine sockets belong
	 * to the application: say so loudly rather than cut them. */
	k->st.kept++;
	log_msg(LOG_LVL_WARN, "session %u (%s plane, node %u %s) reached the AES-GCM key "
		"usage threshold and is not a relayed connection: its owner must reconnect it",
		s->id, inenl_plane_name(s->plane), s->peer_node_id, s->peer_name);
}

static void on_event(const struct inenl_event *e, void *arg)
{
	if (e->type == INENL_EV_KEY_USAGE)
		retire(arg, &e->session);
}

/* Events were lost: the registry still flags every session past the
 * threshold, so a dump finds what the lost announcements said. */
static int on_dumped(const struct inenl_session *s, void *arg)
{
	if (s->key_warn && inenl_session_fd(s->id) >= 0)
		retire(arg, s);
	return 0;
}

static void readable(evutil_socket_t fd, short what, void *arg)
{
	struct keylimit *k = arg;

	(void)fd;
	(void)what;
	if (inenl_events_read(k->ev_nl, on_event, k) == -ENOBUFS) {
		k->st.lost++;
		if (k->nl)
			inenl_session_dump(k->nl, on_dumped, k);
	}
}

/* A fresh subscription to ine.ko's events group, replacing the old one
 * only once the new one works (a reload moves the group's id). */
static int subscribe(struct keylimit *k)
{
	struct inenl *nl;
	struct event *ev;
	int rc = inenl_events_open(&nl);

	if (rc)
		return rc;
	ev = event_new(k->base, inenl_events_fd(nl), EV_READ | EV_PERSIST, readable, k);
	if (!ev || event_add(ev, NULL)) {
		if (ev)
			event_free(ev);
		inenl_close(nl);
		return -ENOMEM;
	}
	if (k->ev)
		event_free(k->ev);
	inenl_close(k->ev_nl);
	k->ev = ev;
	k->ev_nl = nl;
	return 0;
}

int keylimit_start(struct event_base *base, struct inenl *nl, keylimit_retire_fn retire_fn,
		   void *arg, struct keylimit **out)
{
	struct keylimit *k = calloc(1, sizeof(*k));
	int rc;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	k->base = base;
	k->nl = nl;
	k->retire = retire_fn;
	k->retire_arg = arg;
	rc = subscribe(k);
	if (rc) {
		free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int keylimit_resubscribe(struct keylimit *k)
{
	int rc;

	if (!k)
		return -EINVAL;
	rc = subscribe(k);
	if (rc)
		return rc;
	/* Flags raised while nobody listened are still in the registry. */
	if (k->nl)
		inenl_session_dump(k->nl, on_dumped, k);
	return 0;
}

void keylimit_get_stats(const struct keylimit *k, struct keylimit_stats *st)
{
	if (k)
		*st = k->st;
	else
		memset(st, 0, sizeof(*st));
}

void keylimit_free(struct keylimit *k)
{
	if (!k)
		return;
	event_free(k->ev);
	inenl_close(k->ev_nl);
	free(k);
}
