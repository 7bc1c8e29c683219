// SPDX-License-Identifier: GPL-2.0
/*
 * Attribute writers for replies and events (see include/uapi/linux/ine.h
 * for the trees they build). They read only what they are handed.
 */
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <net/netlink.h>
#include <linux/ine.h>
#include "session.h"
#include "guard.h"
#include "attrs.h"

int ine_put_tuple(struct sk_buff *skb, const struct ine_tuple *t)
{
	int alen = t->family == AF_INET6 ? 16 : 4;

	return nla_put_u16(skb, INE_SESSION_A_FAMILY, t->family) ||
	       nla_put(skb, INE_SESSION_A_SADDR, alen, t->saddr) ||
	       nla_put(skb, INE_SESSION_A_DADDR, alen, t->daddr) ||
	       nla_put_u16(skb, INE_SESSION_A_SPORT, t->sport) ||
	       nla_put_u16(skb, INE_SESSION_A_DPORT, t->dport) ? -EMSGSIZE : 0;
}

static int put_live(struct sk_buff *skb, const struct ine_live *l, bool warn)
{
	if (ine_put_tuple(skb, &l->t) ||
	    nla_put_u8(skb, INE_SESSION_A_TCP_STATE, l->tcp_state) ||
	    nla_put_u64_64bit(skb, INE_SESSION_A_BYTES_SENT, l->bytes_sent,
			      INE_SESSION_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, INE_SESSION_A_BYTES_RECEIVED,
			      l->bytes_received, INE_SESSION_A_UNSPEC) ||
	    nla_put_u8(skb, INE_SESSION_A_TX_CONF, l->tx_conf) ||
	    nla_put_u8(skb, INE_SESSION_A_RX_CONF, l->rx_conf) ||
	    (l->version &&
	     nla_put_u16(skb, INE_SESSION_A_TLS_VERSION, l->version)) ||
	    (l->cipher && nla_put_u16(skb, INE_SESSION_A_CIPHER, l->cipher)) ||
	    (l->has_tx_seq &&
	     nla_put_u64_64bit(skb, INE_SESSION_A_TX_REC_SEQ, l->tx_seq,
			       INE_SESSION_A_UNSPEC)) ||
	    (l->has_rx_seq &&
	     nla_put_u64_64bit(skb, INE_SESSION_A_RX_REC_SEQ, l->rx_seq,
			       INE_SESSION_A_UNSPEC)) ||
	    (warn && nla_put_flag(skb, INE_SESSION_A_KEY_WARN)))
		return -EMSGSIZE;
	return 0;
}

int ine_put_session(struct sk_buff *skb, const struct ine_session *s,
		       const struct ine_live *l, bool warn, u8 reason)
{
	struct nlattr *nest = nla_nest_start(skb, INE_A_SESSION);
	u64 age_ms = div_u64(ktime_get_boottime_ns() - s->added_ns,
			     NSEC_PER_MSEC);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, INE_SESSION_A_ID, s->id) ||
	    nla_put_u8(skb, INE_SESSION_A_PLANE, s->plane) ||
	    nla_put_u8(skb, INE_SESSION_A_STATE, s->state) ||
	    nla_put_u32(skb, INE_SESSION_A_DB_ID, s->db_id) ||
	    nla_put_u32(skb, INE_SESSION_A_PEER_NODE_ID, s->peer_node_id) ||
	    (s->peer_name[0] &&
	     nla_put_string(skb, INE_SESSION_A_PEER_NAME, s->peer_name)) ||
	    (s->cert_serial[0] &&
	     nla_put_string(skb, INE_SESSION_A_CERT_SERIAL, s->cert_serial)) ||
	    (s->cert_expiry &&
	     nla_put_u64_64bit(skb, INE_SESSION_A_CERT_EXPIRY, s->cert_expiry,
			       INE_SESSION_A_UNSPEC)) ||
	    nla_put_u64_64bit(skb, INE_SESSION_A_AGE_MS, age_ms,
			      INE_SESSION_A_UNSPEC) ||
	    (l && put_live(skb, l, warn)) ||
	    (reason && nla_put_u8(skb, INE_SESSION_A_DOWN_REASON, reason)))
		goto err;
	nla_nest_end(skb, nest);
	return 0;
err:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

int ine_put_guard(struct sk_buff *skb, u8 mode,
		  const struct ine_guard_counts *c,
		  const struct ine_guard_ports *p)
{
	struct nlattr *nest = nla_nest_start(skb, INE_A_GUARD), *pn;
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(skb, INE_GUARD_A_MODE, mode) ||
	    nla_put_u64_64bit(skb, INE_GUARD_A_PASSED, c->passed,
			      INE_GUARD_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, INE_GUARD_A_UNREGISTERED, c->unregistered,
			      INE_GUARD_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, INE_GUARD_A_DROPPED, c->dropped,
			      INE_GUARD_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, INE_GUARD_A_DROPPED_BYTES, c->dropped_bytes,
			      INE_GUARD_A_UNSPEC))
		goto err;
	if (p) {
		pn = nla_nest_start(skb, INE_GUARD_A_PORTS);
		if (!pn)
			goto err;
		for (i = 0; i < p->n; i++)
			if (nla_put_u16(skb, INE_PORT_A_PORT, p->port[i]))
				goto err;
		nla_nest_end(skb, pn);
	}
	nla_nest_end(skb, nest);
	return 0;
err:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}
