// SPDX-License-Identifier: GPL-2.0
/*
 * inenl's transport: the socket, one request and its answer, and the
 * messages' attributes both ways.  It knows nothing of what this process
 * registered: the replay after a module reload (inenl.c) sits above it and
 * builds its guard restore from the same pieces inenl_status.c uses, so
 * arrows point down to this file from both.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include "inenl/inenl.h"
#include "inenl/inenl_internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* ---- attribute readers: lengths checked, never trust the peer ---------- */

static bool has(const struct nlattr *a, int len)
{
	return a && nla_len(a) >= len;
}

static uint8_t get8(const struct nlattr *a)
{
	return has(a, 1) ? nla_get_u8((struct nlattr *)a) : 0;
}

static uint16_t get16(const struct nlattr *a)
{
	return has(a, 2) ? nla_get_u16((struct nlattr *)a) : 0;
}

uint32_t inenl_attr_u32(const struct nlattr *a)
{
	return has(a, 4) ? nla_get_u32((struct nlattr *)a) : 0;
}

uint64_t inenl_attr_u64(const struct nlattr *a)
{
	uint64_t v;

	if (!has(a, 8))
		return 0;
	memcpy(&v, nla_data(a), sizeof(v));
	return v;
}

void inenl_attr_str(char *dst, size_t n, const struct nlattr *a)
{
	size_t len;

	dst[0] = '\0';
	if (!a || nla_len(a) <= 0)
		return;
	len = (size_t)nla_len(a);
	if (len >= n)
		len = n - 1;
	memcpy(dst, nla_data(a), len);
	dst[len] = '\0';
	dst[strnlen(dst, len)] = '\0';
}

int inenl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0: return 0;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_PERM: return -EPERM;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_INTR: return -EINTR;
	case NLE_DUMP_INTR: return -EINTR;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_INVAL: return -EINVAL;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	default: return -EIO;
	}
}

static void parse_tuple(struct nlattr **tb, struct inenl_session *s)
{
	int alen;

	s->family = get16(tb[INE_SESSION_A_FAMILY]);
	alen = s->family == AF_INET6 ? 16 : 4;
	if (has(tb[INE_SESSION_A_SADDR], alen))
		memcpy(s->saddr, nla_data(tb[INE_SESSION_A_SADDR]), alen);
	if (has(tb[INE_SESSION_A_DADDR], alen))
		memcpy(s->daddr, nla_data(tb[INE_SESSION_A_DADDR]), alen);
	s->sport = get16(tb[INE_SESSION_A_SPORT]);
	s->dport = get16(tb[INE_SESSION_A_DPORT]);
}

int inenl_parse_session(struct nlattr *nest, struct inenl_session *s)
{
	struct nlattr *tb[INE_SESSION_A_MAX + 1];

	memset(s, 0, sizeof(*s));
	if (!nest || nla_parse_nested(tb, INE_SESSION_A_MAX, nest, NULL) < 0)
		return -EINVAL;
	s->id = inenl_attr_u32(tb[INE_SESSION_A_ID]);
	s->plane = get8(tb[INE_SESSION_A_PLANE]);
	s->state = get8(tb[INE_SESSION_A_STATE]);
	s->db_id = inenl_attr_u32(tb[INE_SESSION_A_DB_ID]);
	s->peer_node_id = inenl_attr_u32(tb[INE_SESSION_A_PEER_NODE_ID]);
	inenl_attr_str(s->peer_name, sizeof(s->peer_name), tb[INE_SESSION_A_PEER_NAME]);
	inenl_attr_str(s->cert_serial, sizeof(s->cert_serial),
	       tb[INE_SESSION_A_CERT_SERIAL]);
	s->cert_expiry = inenl_attr_u64(tb[INE_SESSION_A_CERT_EXPIRY]);
	s->age_ms = inenl_attr_u64(tb[INE_SESSION_A_AGE_MS]);
	parse_tuple(tb, s);
	s->tcp_state = get8(tb[INE_SESSION_A_TCP_STATE]);
	s->bytes_sent = inenl_attr_u64(tb[INE_SESSION_A_BYTES_SENT]);
	s->bytes_received = inenl_attr_u64(tb[INE_SESSION_A_BYTES_RECEIVED]);
	s->tls_version = get16(tb[INE_SESSION_A_TLS_VERSION]);
	s->cipher = get16(tb[INE_SESSION_A_CIPHER]);
	s->tx_conf = get8(tb[INE_SESSION_A_TX_CONF]);
	s->rx_conf = get8(tb[INE_SESSION_A_RX_CONF]);
	s->has_tls = s->tls_version || s->cipher || s->tx_conf || s->rx_conf;
	s->has_tx_seq = has(tb[INE_SESSION_A_TX_REC_SEQ], 8);
	s->has_rx_seq = has(tb[INE_SESSION_A_RX_REC_SEQ], 8);
	s->tx_rec_seq = inenl_attr_u64(tb[INE_SESSION_A_TX_REC_SEQ]);
	s->rx_rec_seq = inenl_attr_u64(tb[INE_SESSION_A_RX_REC_SEQ]);
	s->key_warn = tb[INE_SESSION_A_KEY_WARN] != NULL;
	s->down_reason = get8(tb[INE_SESSION_A_DOWN_REASON]);
	return 0;
}

void inenl_parse_guard(struct nlattr *nest, struct inenl_guard *g)
{
	struct nlattr *tb[INE_GUARD_A_MAX + 1], *a;
	int rem;

	memset(g, 0, sizeof(*g));
	if (!nest || nla_parse_nested(tb, INE_GUARD_A_MAX, nest, NULL) < 0)
		return;
	g->mode = get8(tb[INE_GUARD_A_MODE]);
	g->passed = inenl_attr_u64(tb[INE_GUARD_A_PASSED]);
	g->unregistered = inenl_attr_u64(tb[INE_GUARD_A_UNREGISTERED]);
	g->dropped = inenl_attr_u64(tb[INE_GUARD_A_DROPPED]);
	g->dropped_bytes = inenl_attr_u64(tb[INE_GUARD_A_DROPPED_BYTES]);
	if (tb[INE_GUARD_A_PORTS])
		nla_for_each_nested(a, tb[INE_GUARD_A_PORTS], rem)
			if (nla_type(a) == INE_PORT_A_PORT && has(a, 2) &&
			    g->nports < INE_GUARD_MAX_PORTS)
				g->ports[g->nports++] = nla_get_u16(a);
}

/* ---- request/response ---------------------------------------------------- */

static int err_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct inenl *nl = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e -
							     NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);

	(void)who;
	nl->err = e->error;
	nl->done = true;
	if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && h->nlmsg_len >= NLMSG_HDRLEN + off) {
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if (h->nlmsg_len > NLMSG_HDRLEN + off &&
		    nla_parse(tb, NLMSGERR_ATTR_MAX,
			      (struct nlattr *)((char *)e + off),
			      (int)(h->nlmsg_len - NLMSG_HDRLEN - off), NULL) == 0)
			inenl_attr_str(nl->errmsg, sizeof(nl->errmsg),
			       tb[NLMSGERR_ATTR_MSG]);
	}
	return NL_STOP;
}

static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct inenl *nl = arg;

	(void)msg;
	nl->done = true;
	return NL_STOP;
}

static int intr_cb(struct nl_msg *msg, void *arg)
{
	struct inenl *nl = arg;

	(void)msg;
	nl->intr = true;
	return NL_OK;
}

int inenl_msg_send(struct inenl *nl, struct nl_msg *msg,
		   nl_recvmsg_msg_cb_t valid, void *arg)
{
	struct nl_cb *cb;
	int ret;

	nl->err = 0;
	nl->done = nl->intr = nl->stopped = false;
	nl->cb_ret = 0;
	nl->errmsg[0] = '\0';
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, nl);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, finish_cb, nl);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, nl);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, intr_cb, nl);
	if (valid)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	ret = nl_send_auto(nl->sk, msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return inenl_errno(ret);
	}
	while (!nl->done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !nl->done) {
			nl_cb_put(cb);
			return inenl_errno(ret);
		}
	}
	nl_cb_put(cb);
	if (nl->err)
		return nl->err;
	return nl->cb_ret;
}

struct nl_msg *inenl_msg_new(struct inenl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
				flags, cmd, INE_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

static struct nl_sock *connect_sock(int *family, int *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, ret;

	if (!sk) {
		*err = -ENOMEM;
		return NULL;
	}
	ret = genl_connect(sk);
	if (ret < 0)
		goto err;
	ret = genl_ctrl_resolve(sk, INE_GENL_NAME);
	if (ret < 0)
		goto err;
	*family = ret;
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one,
		   sizeof(one));
	nl_socket_enable_msg_peek(sk);
	return sk;
err:
	*err = inenl_errno(ret);
	if (*err == -EIO)
		*err = -EPROTONOSUPPORT;
	nl_socket_free(sk);
	return NULL;
}

int inenl_open(struct inenl **out)
{
	struct inenl *nl = calloc(1, sizeof(*nl));
	int err = 0;

	*out = NULL;
	if (!nl)
		return -ENOMEM;
	nl->sk = connect_sock(&nl->family, &err);
	if (!nl->sk) {
		free(nl);
		return err;
	}
	*out = nl;
	return 0;
}

void inenl_close(struct inenl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

const char *inenl_last_error(const struct inenl *nl)
{
	return nl ? nl->errmsg : "";
}

/* ---- the namespace's totals and configuration --------------------------- */

/* 1 when the answer carried the guard, 0 when not, -EINVAL if unreadable. */
int inenl_parse_totals(struct nl_msg *msg, struct inenl_totals *t)
{
	struct nlattr *tb[INE_A_MAX + 1], *tt[INE_TOTALS_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, INE_A_MAX, NULL) < 0)
		return -EINVAL;
	inenl_attr_str(t->version, sizeof(t->version), tb[INE_A_VERSION]);
	t->generation = inenl_attr_u32(tb[INE_A_GENERATION]);
	t->key_warn_records = inenl_attr_u64(tb[INE_A_KEY_WARN_RECORDS]);
	t->handshake_ms = inenl_attr_u32(tb[INE_A_HANDSHAKE_MS]);
	inenl_parse_guard(tb[INE_A_GUARD], &t->guard);
	if (!tb[INE_A_TOTALS] ||
	    nla_parse_nested(tt, INE_TOTALS_A_MAX, tb[INE_A_TOTALS], NULL) < 0)
		return tb[INE_A_GUARD] != NULL;
	t->sessions = inenl_attr_u32(tt[INE_TOTALS_A_SESSIONS]);
	t->plane_control = inenl_attr_u32(tt[INE_TOTALS_A_PLANE_CONTROL]);
	t->plane_data = inenl_attr_u32(tt[INE_TOTALS_A_PLANE_DATA]);
	t->handshaking = inenl_attr_u32(tt[INE_TOTALS_A_STATE_HANDSHAKING]);
	t->offloaded = inenl_attr_u32(tt[INE_TOTALS_A_STATE_OFFLOADED]);
	t->software = inenl_attr_u32(tt[INE_TOTALS_A_STATE_SOFTWARE]);
	t->plaintext = inenl_attr_u32(tt[INE_TOTALS_A_STATE_PLAINTEXT]);
	t->tls12 = inenl_attr_u32(tt[INE_TOTALS_A_TLS12]);
	t->tls13 = inenl_attr_u32(tt[INE_TOTALS_A_TLS13]);
	t->aes_gcm_128 = inenl_attr_u32(tt[INE_TOTALS_A_AES_GCM_128]);
	t->aes_gcm_256 = inenl_attr_u32(tt[INE_TOTALS_A_AES_GCM_256]);
	t->key_warn = inenl_attr_u32(tt[INE_TOTALS_A_KEY_WARN]);
	t->added = inenl_attr_u64(tt[INE_TOTALS_A_ADDED]);
	t->removed = inenl_attr_u64(tt[INE_TOTALS_A_REMOVED]);
	return tb[INE_A_GUARD] != NULL;
}

int inenl_msg_config(struct inenl *nl, int mode, const uint16_t *ports,
		     unsigned int nports, uint64_t key_warn_records,
		     struct nl_msg **out)
{
	struct nl_msg *msg = inenl_msg_new(nl, INE_CMD_SET_CONFIG, NLM_F_ACK);
	struct nlattr *g, *p;
	unsigned int i;

	*out = NULL;
	if (!msg)
		return -ENOMEM;
	if (mode >= 0 || nports) {
		g = nla_nest_start(msg, INE_A_GUARD);
		if (!g || (mode >= 0 &&
			   nla_put_u8(msg, INE_GUARD_A_MODE, (uint8_t)mode)))
			goto err;
		if (nports) {
			p = nla_nest_start(msg, INE_GUARD_A_PORTS);
			if (!p)
				goto err;
			for (i = 0; i < nports; i++)
				if (nla_put_u16(msg, INE_PORT_A_PORT, ports[i]))
					goto err;
			nla_nest_end(msg, p);
		}
		nla_nest_end(msg, g);
	}
	if (key_warn_records &&
	    nla_put_u64(msg, INE_A_KEY_WARN_RECORDS, key_warn_records))
		goto err;
	*out = msg;
	return 0;
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}
