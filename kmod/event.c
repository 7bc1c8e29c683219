// SPDX-License-Identifier: GPL-2.0
/*
 * Events: multicast to the namespace's "events" listeners, no-ops without
 * any. Every sender runs in process context (command handlers, the
 * reaper, the guard's event work).
 *
 * Unload: the reaper and the guard's event work may still run after the
 * last command while netlink.c unregisters the family. ine_event_stop()
 * takes the semaphore for writing, so it waits for a sender in flight and
 * every later sender sees no family; multicasting to an unregistered
 * family is thereby impossible.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/rwsem.h>
#include <net/genetlink.h>
#include <linux/ine.h>
#include "netns.h"
#include "session.h"
#include "guard.h"
#include "attrs.h"
#include "event.h"

static DECLARE_RWSEM(family_sem);
static struct genl_family *family;	/* under family_sem */

void ine_event_start(struct genl_family *f)
{
	down_write(&family_sem);
	family = f;
	up_write(&family_sem);
}

void ine_event_stop(void)
{
	down_write(&family_sem);
	family = NULL;
	up_write(&family_sem);
}

bool ine_event_listening(struct ine_net *in)
{
	bool ret;

	down_read(&family_sem);
	ret = family && genl_has_listeners(family, in->net, 0);
	up_read(&family_sem);
	return ret;
}

/* A message for cmd, or NULL when nobody listens; on success the caller
 * holds family_sem for reading until send() or drop(). */
static struct sk_buff *begin(struct ine_net *in, u8 cmd, void **hdr)
{
	struct sk_buff *msg;

	down_read(&family_sem);
	if (!family || !genl_has_listeners(family, in->net, 0))
		goto out;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	*hdr = genlmsg_put(msg, 0, 0, family, 0, cmd);
	if (*hdr)
		return msg;
	nlmsg_free(msg);
out:
	up_read(&family_sem);
	return NULL;
}

static void send(struct ine_net *in, struct sk_buff *msg, void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(family, in->net, msg, 0, 0, GFP_KERNEL);
	up_read(&family_sem);
}

static void drop(struct sk_buff *msg)
{
	nlmsg_free(msg);
	up_read(&family_sem);
}

void ine_event_session(struct ine_net *in, const struct ine_session *s,
		       const struct ine_live *l, u8 cmd, u8 reason)
{
	struct sk_buff *msg;
	void *hdr;

	msg = begin(in, cmd, &hdr);
	if (!msg)
		return;
	if (ine_put_session(msg, s, l, false, reason))
		drop(msg);
	else
		send(in, msg, hdr);
}

void ine_event_key_usage(struct ine_net *in, const struct ine_session *s,
			 u64 tx_seq, u64 rx_seq)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	pr_debug("session %u: %llu/%llu records under one key\n", s->id,
		 tx_seq, rx_seq);
	msg = begin(in, INE_CMD_EVENT_KEY_USAGE, &hdr);
	if (!msg)
		return;
	nest = nla_nest_start(msg, INE_A_SESSION);
	if (!nest ||
	    nla_put_u32(msg, INE_SESSION_A_ID, s->id) ||
	    nla_put_u8(msg, INE_SESSION_A_PLANE, s->plane) ||
	    nla_put_u32(msg, INE_SESSION_A_DB_ID, s->db_id) ||
	    nla_put_u32(msg, INE_SESSION_A_PEER_NODE_ID, s->peer_node_id) ||
	    nla_put_u64_64bit(msg, INE_SESSION_A_TX_REC_SEQ, tx_seq,
			      INE_SESSION_A_UNSPEC) ||
	    nla_put_u64_64bit(msg, INE_SESSION_A_RX_REC_SEQ, rx_seq,
			      INE_SESSION_A_UNSPEC))
		goto err;
	nla_nest_end(msg, nest);
	if (nla_put_u64_64bit(msg, INE_A_KEY_WARN_RECORDS, in->key_warn_records,
			      INE_A_UNSPEC))
		goto err;
	send(in, msg, hdr);
	return;
err:
	drop(msg);
}

void ine_event_guard_drop(struct ine_net *in, u8 mode,
			  const struct ine_guard_counts *c,
			  const struct ine_tuple *t)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = begin(in, INE_CMD_EVENT_GUARD_DROP, &hdr);
	if (!msg)
		return;
	if (ine_put_guard(msg, mode, c, NULL))
		goto err;
	nest = nla_nest_start(msg, INE_A_SESSION);
	if (!nest || ine_put_tuple(msg, t))
		goto err;
	nla_nest_end(msg, nest);
	send(in, msg, hdr);
	return;
err:
	drop(msg);
}
