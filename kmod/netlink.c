// SPDX-License-Identifier: GPL-2.0
/*
 * The "ine" generic netlink family: every command of include/uapi/linux/ine.h
 * and the "events" multicast group.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/net.h>
#include <linux/timekeeping.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <net/tls.h>
#include <linux/ine.h>
#include "netns.h"
#include "session.h"
#include "guard.h"
#include "netlink.h"
#include "attrs.h"
#include "event.h"
#include "version.h"

static struct genl_family ine_family;

/*
 * Types and lengths are checked by these policies; value ranges by
 * check_ranges() below, so that an out-of-range value gets -EINVAL (the
 * policy range checks would answer -ERANGE) with a message naming it.
 */
static const struct nla_policy port_policy[INE_PORT_A_MAX + 1] = {
	[INE_PORT_A_PORT] = { .type = NLA_U16 },
};

static const struct nla_policy guard_policy[INE_GUARD_A_MAX + 1] = {
	[INE_GUARD_A_MODE] = { .type = NLA_U8 },
	[INE_GUARD_A_PORTS] = NLA_POLICY_NESTED(port_policy),
};

static const struct nla_policy session_policy[INE_SESSION_A_MAX + 1] = {
	[INE_SESSION_A_ID] = { .type = NLA_U32 },
	[INE_SESSION_A_FD] = { .type = NLA_U32 },
	[INE_SESSION_A_PLANE] = { .type = NLA_U8 },
	[INE_SESSION_A_STATE] = { .type = NLA_U8 },
	[INE_SESSION_A_DB_ID] = { .type = NLA_U32 },
	[INE_SESSION_A_PEER_NODE_ID] = { .type = NLA_U32 },
	[INE_SESSION_A_PEER_NAME] = { .type = NLA_NUL_STRING,
				      .len = INE_NAME_LEN - 1 },
	[INE_SESSION_A_CERT_SERIAL] = { .type = NLA_NUL_STRING,
					.len = INE_SERIAL_LEN - 1 },
	[INE_SESSION_A_CERT_EXPIRY] = { .type = NLA_U64 },
};

static const struct nla_policy ine_policy[INE_A_MAX + 1] = {
	[INE_A_SESSION] = NLA_POLICY_NESTED(session_policy),
	[INE_A_GUARD] = NLA_POLICY_NESTED(guard_policy),
	[INE_A_KEY_WARN_RECORDS] = { .type = NLA_U64 },
	[INE_A_HANDSHAKE_MS] = { .type = NLA_U32 },
};

static bool out_of_range(struct genl_info *info, const struct nlattr *a,
			 u64 v, u64 min, u64 max, const char *msg)
{
	if (v >= min && v <= max)
		return false;
	if (info->extack) {
		info->extack->_msg = msg;
		info->extack->bad_attr = a;
	}
	return true;
}

#define RANGE_U8(tb, t, min, max, msg)					\
	((tb)[t] && out_of_range(info, (tb)[t], nla_get_u8((tb)[t]), min, max, msg))
#define RANGE_U32(tb, t, min, max, msg)					\
	((tb)[t] && out_of_range(info, (tb)[t], nla_get_u32((tb)[t]), min, max, msg))

static int check_session_ranges(struct genl_info *info, struct nlattr **tb)
{
	if (RANGE_U32(tb, INE_SESSION_A_ID, 1, U32_MAX, "session id 0 is invalid") ||
	    RANGE_U32(tb, INE_SESSION_A_FD, 0, INT_MAX, "fd out of range") ||
	    RANGE_U8(tb, INE_SESSION_A_PLANE, INE_PLANE_CONTROL, INE_PLANE_MAX,
		     "plane must be 1 (control) or 2 (data)") ||
	    RANGE_U8(tb, INE_SESSION_A_STATE, INE_STATE_HANDSHAKING,
		     INE_STATE_MAX, "unknown session state"))
		return -EINVAL;
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

static int parse_session(struct genl_info *info, struct nlattr **tb)
{
	if (!info->attrs[INE_A_SESSION]) {
		NL_SET_ERR_MSG(info->extack, "INE_A_SESSION is required");
		return -EINVAL;
	}
	return nla_parse_nested(tb, INE_SESSION_A_MAX,
				info->attrs[INE_A_SESSION], session_policy,
				info->extack) ?: check_session_ranges(info, tb);
}

/* A TCP socket of the caller's namespace, by fd in the caller's file
 * table; the file reference is the caller's to drop (sockfd_put). */
static struct socket *tcp_socket_of(struct genl_info *info,
				    const struct nlattr *attr, int *err)
{
	u32 fd = nla_get_u32(attr);
	struct socket *sock;
	struct sock *sk;

	sock = sockfd_lookup(fd, err);
	if (!sock) {
		if (*err == -ENOTSOCK)
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "fd is not a socket");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "fd is not open in the caller");
		return NULL;
	}
	sk = sock->sk;
	if (!sk || sk->sk_type != SOCK_STREAM ||
	    sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "fd is not a TCP socket");
		*err = -EPROTONOSUPPORT;
	} else if (!net_eq(sock_net(sk), genl_info_net(info))) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "socket belongs to another network namespace");
		*err = -EXDEV;
	} else if (READ_ONCE(sk->sk_state) == TCP_LISTEN) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "a listening socket cannot be a session");
		*err = -EINVAL;
	} else {
		return sock;
	}
	sockfd_put(sock);
	return NULL;
}

/* The session named by exactly one of ID and FD; under in->lock. */
static struct ine_session *session_of(struct ine_net *in,
				      struct genl_info *info,
				      struct nlattr **tb, int *err)
{
	struct ine_session *s = NULL;
	struct socket *sock;

	if (!!tb[INE_SESSION_A_ID] == !!tb[INE_SESSION_A_FD]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[INE_A_SESSION],
				    "give exactly one of session id and fd");
		*err = -EINVAL;
		return NULL;
	}
	*err = 0;
	if (tb[INE_SESSION_A_ID]) {
		s = ine_session_by_id(in, nla_get_u32(tb[INE_SESSION_A_ID]));
	} else {
		sock = tcp_socket_of(info, tb[INE_SESSION_A_FD], err);
		if (!sock)
			return NULL;
		s = ine_session_by_sk(in, sock->sk);
		sockfd_put(sock);
	}
	if (!s) {
		NL_SET_ERR_MSG(info->extack, "no such session");
		*err = -ENOENT;
	}
	return s;
}

/* The registered fields a request may set (ADD and SET). */
static void apply_fields(struct ine_session *s, struct nlattr **tb)
{
	if (tb[INE_SESSION_A_PLANE])
		s->plane = nla_get_u8(tb[INE_SESSION_A_PLANE]);
	if (tb[INE_SESSION_A_STATE])
		s->state = nla_get_u8(tb[INE_SESSION_A_STATE]);
	if (tb[INE_SESSION_A_DB_ID])
		s->db_id = nla_get_u32(tb[INE_SESSION_A_DB_ID]);
	if (tb[INE_SESSION_A_PEER_NODE_ID])
		s->peer_node_id = nla_get_u32(tb[INE_SESSION_A_PEER_NODE_ID]);
	if (tb[INE_SESSION_A_PEER_NAME])
		nla_strscpy(s->peer_name, tb[INE_SESSION_A_PEER_NAME],
			    sizeof(s->peer_name));
	if (tb[INE_SESSION_A_CERT_SERIAL])
		nla_strscpy(s->cert_serial, tb[INE_SESSION_A_CERT_SERIAL],
			    sizeof(s->cert_serial));
	if (tb[INE_SESSION_A_CERT_EXPIRY])
		s->cert_expiry = nla_get_u64(tb[INE_SESSION_A_CERT_EXPIRY]);
}

static bool wants_offloaded(struct nlattr **tb)
{
	return tb[INE_SESSION_A_STATE] &&
	       nla_get_u8(tb[INE_SESSION_A_STATE]) == INE_STATE_OFFLOADED;
}

static int session_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct nlattr *tb[INE_SESSION_A_MAX + 1];
	struct ine_session *s;
	struct socket *sock;
	struct nlattr *nest, *id_attr;
	struct sk_buff *reply;
	void *hdr;
	u32 id;
	int ret;

	ret = parse_session(info, tb);
	if (ret)
		return ret;
	if (!tb[INE_SESSION_A_FD] || !tb[INE_SESSION_A_PLANE]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[INE_A_SESSION],
				    "fd and plane are required");
		return -EINVAL;
	}
	if (tb[INE_SESSION_A_ID]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[INE_SESSION_A_ID],
				    "the session id is assigned by the module");
		return -EINVAL;
	}
	sock = tcp_socket_of(info, tb[INE_SESSION_A_FD], &ret);
	if (!sock)
		return ret;
	s = ine_session_create(sock->sk);
	sockfd_put(sock);
	if (!s)
		return -ENOMEM;
	apply_fields(s, tb);
	if (wants_offloaded(tb)) {
		ret = ine_session_verify_ktls(s->sk, info->extack);
		if (ret)
			goto err_session;
	}
	/* The whole reply is built before the socket is registered, its id
	 * written in afterwards: once registered nothing can fail. */
	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply) {
		ret = -ENOMEM;
		goto err_session;
	}
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(reply, info, &ine_family, 0, INE_CMD_SESSION_ADD);
	if (!hdr)
		goto err_reply;
	nest = nla_nest_start(reply, INE_A_SESSION);
	if (!nest)
		goto err_reply;
	id_attr = __nla_reserve(reply, INE_SESSION_A_ID, sizeof(u32));
	nla_nest_end(reply, nest);
	genlmsg_end(reply, hdr);

	mutex_lock(&in->lock);
	ret = ine_session_insert(in, s);
	id = s->id;
	mutex_unlock(&in->lock);
	if (ret) {
		if (ret == -EEXIST)
			NL_SET_ERR_MSG(info->extack, "socket is already registered");
		else if (ret == -ENOSPC)
			NL_SET_ERR_MSG(info->extack, "too many sessions");
		goto err_reply;
	}
	*(u32 *)nla_data(id_attr) = id;
	return genlmsg_reply(reply, info);

err_reply:
	nlmsg_free(reply);
err_session:
	ine_session_destroy(s);
	return ret;
}

static int session_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct nlattr *tb[INE_SESSION_A_MAX + 1];
	struct ine_session *s;
	u8 old_state;
	int ret;

	ret = parse_session(info, tb);
	if (ret)
		return ret;
	mutex_lock(&in->lock);
	s = session_of(in, info, tb, &ret);
	if (!s)
		goto out;
	if (wants_offloaded(tb)) {
		ret = ine_session_verify_ktls(s->sk, info->extack);
		if (ret)
			goto out;
	}
	old_state = s->state;
	apply_fields(s, tb);
	ine_session_changed(in);
	if (s->state != old_state)
		ine_session_announce(in, s, INE_CMD_EVENT_SESSION_STATE, 0);
out:
	mutex_unlock(&in->lock);
	return ret;
}

static int session_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct nlattr *tb[INE_SESSION_A_MAX + 1];
	struct ine_session *s;
	int ret;

	ret = parse_session(info, tb);
	if (ret)
		return ret;
	mutex_lock(&in->lock);
	s = session_of(in, info, tb, &ret);
	if (s)
		ine_session_remove(in, s, INE_DOWN_DELETED);
	mutex_unlock(&in->lock);
	return ret;
}

static int session_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct nlattr *tb[INE_SESSION_A_MAX + 1];
	struct ine_session *s;
	struct sk_buff *reply;
	struct ine_live l;
	void *hdr;
	bool warn;
	int ret;

	ret = parse_session(info, tb);
	if (ret)
		return ret;
	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	mutex_lock(&in->lock);
	s = session_of(in, info, tb, &ret);
	if (!s)
		goto err;
	ret = ine_session_read_live(s, &l);
	if (ret)
		goto err;
	warn = ine_session_key_past(in, &l);
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(reply, info, &ine_family, 0, INE_CMD_SESSION_GET);
	if (!hdr || nla_put_u32(reply, INE_A_GENERATION, in->generation) ||
	    ine_put_session(reply, s, &l, warn, 0))
		goto err;
	mutex_unlock(&in->lock);
	genlmsg_end(reply, hdr);
	return genlmsg_reply(reply, info);
err:
	mutex_unlock(&in->lock);
	nlmsg_free(reply);
	return ret;
}

static int session_dump_start(struct netlink_callback *cb)
{
	cb->args[0] = 0;	/* next session id to visit */
	return 0;
}

/* Sessions in increasing id order, resuming after the last one sent: one
 * that stays registered is seen exactly once whatever else comes and goes,
 * and the generation in cb->seq flags such changes (NLM_F_DUMP_INTR). */
static int session_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct ine_net *in = ine_net(sock_net(cb->skb->sk));
	unsigned long index = cb->args[0];
	struct ine_session *s;
	struct ine_live l;
	void *hdr;
	bool warn;

	mutex_lock(&in->lock);
	cb->seq = in->generation;
	xa_for_each_start(&in->sessions, index, s, index) {
		if (ine_session_read_live(s, &l))
			continue;	/* closed: never shown */
		warn = ine_session_key_past(in, &l);
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &ine_family, NLM_F_MULTI,
				  INE_CMD_SESSION_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (nla_put_u32(skb, INE_A_GENERATION, in->generation) ||
		    ine_put_session(skb, s, &l, warn, 0)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = index + 1;
	}
	mutex_unlock(&in->lock);
	return skb->len;
}

struct totals {
	u32 sessions, control, data, state[INE_STATE_MAX + 1];
	u32 tls12, tls13, gcm128, gcm256, warn;
};

static void count(struct ine_net *in, struct totals *t)
{
	struct ine_session *s;
	struct ine_live l;
	unsigned long id;

	memset(t, 0, sizeof(*t));
	xa_for_each(&in->sessions, id, s) {
		if (ine_session_read_live(s, &l))
			continue;
		t->sessions++;
		t->control += s->plane == INE_PLANE_CONTROL;
		t->data += s->plane == INE_PLANE_DATA;
		if (s->state <= INE_STATE_MAX)
			t->state[s->state]++;
		t->tls12 += l.version == TLS_1_2_VERSION;
		t->tls13 += l.version == TLS_1_3_VERSION;
		t->gcm128 += l.cipher == TLS_CIPHER_AES_GCM_128;
		t->gcm256 += l.cipher == TLS_CIPHER_AES_GCM_256;
		t->warn += ine_session_key_past(in, &l);
	}
}

static int put_totals(struct sk_buff *skb, const struct totals *t,
		      const struct ine_net *in)
{
	struct nlattr *nest = nla_nest_start(skb, INE_A_TOTALS);

	if (!nest ||
	    nla_put_u32(skb, INE_TOTALS_A_SESSIONS, t->sessions) ||
	    nla_put_u32(skb, INE_TOTALS_A_PLANE_CONTROL, t->control) ||
	    nla_put_u32(skb, INE_TOTALS_A_PLANE_DATA, t->data) ||
	    nla_put_u32(skb, INE_TOTALS_A_STATE_HANDSHAKING,
			t->state[INE_STATE_HANDSHAKING]) ||
	    nla_put_u32(skb, INE_TOTALS_A_STATE_OFFLOADED,
			t->state[INE_STATE_OFFLOADED]) ||
	    nla_put_u32(skb, INE_TOTALS_A_STATE_SOFTWARE,
			t->state[INE_STATE_SOFTWARE]) ||
	    nla_put_u32(skb, INE_TOTALS_A_STATE_PLAINTEXT,
			t->state[INE_STATE_PLAINTEXT]) ||
	    nla_put_u32(skb, INE_TOTALS_A_TLS12, t->tls12) ||
	    nla_put_u32(skb, INE_TOTALS_A_TLS13, t->tls13) ||
	    nla_put_u32(skb, INE_TOTALS_A_AES_GCM_128, t->gcm128) ||
	    nla_put_u32(skb, INE_TOTALS_A_AES_GCM_256, t->gcm256) ||
	    nla_put_u32(skb, INE_TOTALS_A_KEY_WARN, t->warn) ||
	    nla_put_u64_64bit(skb, INE_TOTALS_A_ADDED, in->added,
			      INE_TOTALS_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, INE_TOTALS_A_REMOVED, in->removed,
			      INE_TOTALS_A_UNSPEC))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int put_guard_config(struct sk_buff *skb, struct ine_guard *g)
{
	struct ine_guard_counts c;
	int ret;

	ine_guard_read_counts(g, &c);
	rcu_read_lock();
	ret = ine_put_guard(skb, READ_ONCE(g->mode), &c,
			    rcu_dereference(g->ports));
	rcu_read_unlock();
	return ret;
}

static int get_totals_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct sk_buff *reply;
	struct totals t;
	void *hdr;

	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	mutex_lock(&in->lock);
	count(in, &t);
	hdr = genlmsg_put_reply(reply, info, &ine_family, 0, INE_CMD_GET_TOTALS);
	if (!hdr ||
	    nla_put_string(reply, INE_A_VERSION, INE_VERSION) ||
	    nla_put_u32(reply, INE_A_GENERATION, in->generation) ||
	    nla_put_u64_64bit(reply, INE_A_KEY_WARN_RECORDS,
			      in->key_warn_records, INE_A_UNSPEC) ||
	    nla_put_u32(reply, INE_A_HANDSHAKE_MS,
			READ_ONCE(in->guard.handshake_ms)) ||
	    put_totals(reply, &t, in) ||
	    put_guard_config(reply, &in->guard)) {
		mutex_unlock(&in->lock);
		nlmsg_free(reply);
		return -EMSGSIZE;
	}
	mutex_unlock(&in->lock);
	genlmsg_end(reply, hdr);
	return genlmsg_reply(reply, info);
}

static int set_config_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ine_net *in = ine_net(genl_info_net(info));
	struct nlattr *tb[INE_GUARD_A_MAX + 1] = { NULL };
	u16 ports[INE_GUARD_MAX_PORTS];
	struct ine_session *s;
	unsigned int n = 0;
	struct nlattr *a;
	unsigned long id;
	int mode = -1;
	int rem, ret;

	if (info->attrs[INE_A_GUARD]) {
		ret = nla_parse_nested(tb, INE_GUARD_A_MAX,
				       info->attrs[INE_A_GUARD], guard_policy,
				       info->extack);
		if (ret)
			return ret;
	}
	if (RANGE_U8(tb, INE_GUARD_A_MODE, INE_GUARD_OFF, INE_GUARD_MODE_MAX,
		     "guard mode must be 0 (off), 1 (audit) or 2 (enforce)"))
		return -EINVAL;
	if (tb[INE_GUARD_A_MODE])
		mode = nla_get_u8(tb[INE_GUARD_A_MODE]);
	a = info->attrs[INE_A_KEY_WARN_RECORDS];
	if (a && out_of_range(info, a, nla_get_u64(a), 1,
			      INE_KEY_WARN_RECORDS_MAX,
			      "key-usage threshold must be 1 .. 2^48 records"))
		return -EINVAL;
	a = info->attrs[INE_A_HANDSHAKE_MS];
	if (a && out_of_range(info, a, nla_get_u32(a), 1, INE_HANDSHAKE_MS_MAX,
			      "handshake window must be 1 .. 600000 ms"))
		return -EINVAL;
	if (tb[INE_GUARD_A_PORTS]) {
		nla_for_each_nested(a, tb[INE_GUARD_A_PORTS], rem) {
			if (n == INE_GUARD_MAX_PORTS) {
				NL_SET_ERR_MSG_ATTR(info->extack, a,
						    "too many guarded ports");
				return -EINVAL;
			}
			if (out_of_range(info, a, nla_get_u16(a), 1, U16_MAX,
					 "guarded port 0 is invalid"))
				return -EINVAL;
			ports[n++] = nla_get_u16(a);
		}
		if (!n) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[INE_GUARD_A_PORTS],
					    "empty guarded port list");
			return -EINVAL;
		}
	}

	mutex_lock(&in->lock);
	ret = ine_guard_set(in, mode, ports, n);
	if (ret) {
		NL_SET_ERR_MSG(info->extack, "cannot install the guard hooks");
		goto out;
	}
	if (info->attrs[INE_A_HANDSHAKE_MS])
		WRITE_ONCE(in->guard.handshake_ms,
			   nla_get_u32(info->attrs[INE_A_HANDSHAKE_MS]));
	if (info->attrs[INE_A_KEY_WARN_RECORDS]) {
		in->key_warn_records =
			nla_get_u64(info->attrs[INE_A_KEY_WARN_RECORDS]);
		/* warn afresh against the new threshold */
		xa_for_each(&in->sessions, id, s)
			s->key_warned = false;
		ine_registry_key_recheck(in);
	}
out:
	mutex_unlock(&in->lock);
	return ret;
}

static const struct genl_ops ine_ops[] = {
	{
		.cmd = INE_CMD_SESSION_ADD,
		.doit = session_add_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = INE_CMD_SESSION_SET,
		.doit = session_set_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = INE_CMD_SESSION_DEL,
		.doit = session_del_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = INE_CMD_SESSION_GET,
		.doit = session_get_doit,
		.start = session_dump_start,
		.dumpit = session_dump,
	}, {
		.cmd = INE_CMD_GET_TOTALS,
		.doit = get_totals_doit,
	}, {
		.cmd = INE_CMD_SET_CONFIG,
		.doit = set_config_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

/* Events carry peer names, serials and addresses: listeners need
 * CAP_NET_ADMIN over the namespace, like the commands that change them. */
#ifndef GENL_MCAST_CAP_NET_ADMIN
#error "ine.ko needs GENL_MCAST_CAP_NET_ADMIN (Linux 6.1.66 or later)"
#endif
static const struct genl_multicast_group ine_mcgrps[] = {
	{ .name = INE_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family ine_family __ro_after_init = {
	.ops = ine_ops,
	.n_ops = ARRAY_SIZE(ine_ops),
	.mcgrps = ine_mcgrps,
	.n_mcgrps = ARRAY_SIZE(ine_mcgrps),
	.name = INE_GENL_NAME,
	.version = INE_GENL_VERSION,
	.maxattr = INE_A_MAX,
	.policy = ine_policy,
	.module = THIS_MODULE,
	.netnsok = true,
	/* Every handler takes its namespace's in->lock itself: a slow or
	 * looping reader in one namespace must not hold the global genl
	 * mutex that every family on the host shares. */
	.parallel_ops = true,
};

int __init ine_genl_init(void)
{
	int ret = genl_register_family(&ine_family);

	if (!ret)
		ine_event_start(&ine_family);
	return ret;
}

void __exit ine_genl_uninit(void)
{
	ine_event_stop();	/* no multicast after the family is gone */
	genl_unregister_family(&ine_family);
}
