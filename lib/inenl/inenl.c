// SPDX-License-Identifier: GPL-2.0
/* inenl — userspace client of ine.ko's generic netlink family. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/tls.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include "inenl/inenl.h"
#include "inenl/inenl_reg.h"
#include "inenl/inenl_internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif


/* One record for the whole process, not one per handle: the control plane
 * and the data plane use separate handles, and a socket registered through
 * one (the listener's provisional entry) is often updated or replaced
 * through the other.  ine.ko's registry is per namespace; so is an agent. */
static struct inenl_reg reg;
static bool replaying;

bool inenl_replaying(void)
{
	return replaying;
}
static unsigned long replays;

static void replay(struct inenl *nl);
void inenl_guard_remember(int mode, const uint16_t *ports, unsigned int n);

/* The last guard this process saw or set, for the replay after a reload. */
static struct {
	bool known;
	uint8_t mode;
	unsigned int nports;
	uint16_t ports[INE_GUARD_MAX_PORTS];
} guard_seen;

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

/* Sends msg and reads until the ACK, error or dump end. */
static int request_once(struct inenl *nl, struct nl_msg *msg,
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

/*
 * Sends msg (consumed).  Generic netlink answers ENOENT for a family id it
 * does not know: after `rmmod ine; modprobe ine` the family comes back under
 * a new id, so look the name up again and, if the id moved, resend once.
 * (ENOENT is also "no such session"; then the id has not moved and the
 * answer stands.)  A new family is a new, empty registry: what this process
 * had registered is registered again first (replay()), so a request about
 * one of those sessions finds it.
 */
int inenl_request(struct inenl *nl, struct nl_msg *msg,
		   nl_recvmsg_msg_cb_t valid, void *arg)
{
	int ret = request_once(nl, msg, valid, arg), fam;

	if (ret == -ENOENT && !nl->stopped && !nl->cb_ret) {
		fam = genl_ctrl_resolve(nl->sk, INE_GENL_NAME);
		if (fam >= 0 && fam != nl->family) {
			nl->family = fam;
			replay(nl);
			nlmsg_hdr(msg)->nlmsg_type = (uint16_t)fam;
			nlmsg_hdr(msg)->nlmsg_seq = NL_AUTO_SEQ;
			ret = request_once(nl, msg, valid, arg);
		}
	}
	nlmsg_free(msg);
	return ret;
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

/* ---- sessions -------------------------------------------------------------- */

static int put_fields(struct nl_msg *msg, const struct inenl_session_add *a)
{
	if (a->plane && nla_put_u8(msg, INE_SESSION_A_PLANE, a->plane))
		return -EMSGSIZE;
	if (a->state && nla_put_u8(msg, INE_SESSION_A_STATE, a->state))
		return -EMSGSIZE;
	if (a->db_id && nla_put_u32(msg, INE_SESSION_A_DB_ID, a->db_id))
		return -EMSGSIZE;
	if (a->peer_node_id &&
	    nla_put_u32(msg, INE_SESSION_A_PEER_NODE_ID, a->peer_node_id))
		return -EMSGSIZE;
	if (a->peer_name &&
	    nla_put_string(msg, INE_SESSION_A_PEER_NAME, a->peer_name))
		return -EMSGSIZE;
	if (a->cert_serial &&
	    nla_put_string(msg, INE_SESSION_A_CERT_SERIAL, a->cert_serial))
		return -EMSGSIZE;
	if (a->cert_expiry &&
	    nla_put_u64(msg, INE_SESSION_A_CERT_EXPIRY, a->cert_expiry))
		return -EMSGSIZE;
	return 0;
}

/* Builds cmd with an INE_A_SESSION nest naming the session by id or fd. */
static struct nl_msg *session_msg(struct inenl *nl, uint8_t cmd, int flags,
				  uint32_t id, int fd,
				  const struct inenl_session_add *fields)
{
	struct nl_msg *msg = inenl_msg_new(nl, cmd, flags);
	struct nlattr *nest;

	if (!msg)
		return NULL;
	nest = nla_nest_start(msg, INE_A_SESSION);
	if (!nest)
		goto err;
	if (id ? nla_put_u32(msg, INE_SESSION_A_ID, id) :
		 nla_put_u32(msg, INE_SESSION_A_FD, (uint32_t)fd))
		goto err;
	if (fields && put_fields(msg, fields))
		goto err;
	nla_nest_end(msg, nest);
	return msg;
err:
	nlmsg_free(msg);
	return NULL;
}

static int add_reply(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[INE_A_MAX + 1];
	struct inenl_session s;
	uint32_t *id = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, INE_A_MAX, NULL) == 0 &&
	    inenl_parse_session(tb[INE_A_SESSION], &s) == 0)
		*id = s.id;
	return NL_OK;
}

int inenl_session_add(struct inenl *nl, const struct inenl_session_add *a,
		      uint32_t *id)
{
	struct nl_msg *msg;
	uint32_t got = 0;
	int ret;

	if (a->fd < 0)
		return -EBADF;
	msg = session_msg(nl, INE_CMD_SESSION_ADD, NLM_F_ACK, 0, a->fd, a);
	if (!msg)
		return -ENOMEM;
	ret = inenl_request(nl, msg, add_reply, &got);
	if (ret == 0 && !replaying)
		inenl_reg_add(&reg, a, got);
	if (ret == 0 && id)
		*id = got;
	return ret;
}

int inenl_session_set_state(struct inenl *nl, uint32_t id, int fd,
			    uint8_t state)
{
	struct inenl_session_add f = { .state = state };
	struct nl_msg *msg;
	int ret;

	if (!id && fd < 0)
		return -EINVAL;
	msg = session_msg(nl, INE_CMD_SESSION_SET, NLM_F_ACK, id, fd, &f);
	if (!msg)
		return -ENOMEM;
	ret = inenl_request(nl, msg, NULL, NULL);
	if (ret == 0)
		inenl_reg_update(&reg, id, fd, &f);
	return ret;
}

int inenl_session_update(struct inenl *nl, uint32_t id,
			 const struct inenl_session_add *a)
{
	struct nl_msg *msg;
	int ret;

	if (!id && a->fd < 0)
		return -EINVAL;
	msg = session_msg(nl, INE_CMD_SESSION_SET, NLM_F_ACK, id, a->fd, a);
	if (!msg)
		return -ENOMEM;
	ret = inenl_request(nl, msg, NULL, NULL);
	if (ret == 0)
		inenl_reg_update(&reg, id, a->fd, a);
	return ret;
}

int inenl_session_del(struct inenl *nl, uint32_t id, int fd)
{
	struct nl_msg *msg;
	int ret;

	if (!id && fd < 0)
		return -EINVAL;
	msg = session_msg(nl, INE_CMD_SESSION_DEL, NLM_F_ACK, id, fd, NULL);
	if (!msg)
		return -ENOMEM;
	ret = inenl_request(nl, msg, NULL, NULL);
	if (ret == 0 || ret == -ENOENT)
		inenl_reg_del(&reg, id, fd);
	return ret;
}

/* Registers every remembered session again under the new family.  A socket
 * closed since (or its fd number now someone else's) is forgotten, never
 * registered: registration is what lets traffic past the guard. */
void inenl_guard_remember(int mode, const uint16_t *ports, unsigned int n)
{
	if (mode >= 0)
		guard_seen.mode = (uint8_t)mode;
	if (n && n <= INE_GUARD_MAX_PORTS) {
		memcpy(guard_seen.ports, ports, n * sizeof(*ports));
		guard_seen.nports = n;
	}
	guard_seen.known = true;
}

/* The remembered guard onto a freshly loaded module, before any session:
 * failing closed means the mode comes back first. */
static void guard_restore(struct inenl *nl)
{
	struct inenl_totals now;
	int mode = -1;

	if (!guard_seen.known || inenl_totals_get(nl, &now) < 0)
		return;
	if (guard_seen.mode > now.guard.mode)
		mode = guard_seen.mode;
	if (mode < 0 && now.guard.nports == guard_seen.nports &&
	    !memcmp(now.guard.ports, guard_seen.ports,
		    guard_seen.nports * sizeof(guard_seen.ports[0])))
		return;
	inenl_config_set(nl, mode, guard_seen.ports, guard_seen.nports, 0);
}

static void replay(struct inenl *nl)
{
	struct inenl_session_add a;
	size_t i = 0;
	uint32_t id;

	if (replaying)
		return;
	replaying = true;
	guard_restore(nl);
	while (i < reg.n) {
		struct inenl_reg_entry *e = &reg.e[i];

		if (!inenl_reg_alive(e)) {
			inenl_reg_drop(&reg, i);
			continue;
		}
		inenl_reg_as_add(e, &a);
		id = 0;
		/* OFFLOADED is checked against the socket again: it still
		 * holds, kernel TLS stays on the socket.  On failure (-EEXIST:
		 * another handle replayed it first) it stays remembered. */
		if (inenl_session_add(nl, &a, &id) == 0)
			e->id = id;
		i++;
	}
	replays++;
	replaying = false;
}

int inenl_check(struct inenl *nl)
{
	int fam;

	if (!nl)
		return -ENOENT;
	fam = genl_ctrl_resolve(nl->sk, INE_GENL_NAME);
	if (fam < 0)
		return inenl_errno(fam);
	if (fam == nl->family)
		return 0;
	nl->family = fam;
	replay(nl);
	return 1;
}

unsigned long inenl_replays(void)
{
	return replays;
}

int inenl_session_fd(uint32_t id)
{
	for (size_t i = 0; id && i < reg.n; i++)
		if (reg.e[i].id == id)
			return inenl_reg_alive(&reg.e[i]) ? reg.e[i].fd : -ENOENT;
	return -ENOENT;
}

struct walk {
	struct inenl *nl;
	inenl_session_fn fn;
	void *arg;
};

static int session_reply(struct nl_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct nlattr *tb[INE_A_MAX + 1];
	struct inenl_session s;
	int ret;

	if (w->nl->stopped)
		return NL_SKIP;	/* drain the rest of the dump */
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, INE_A_MAX, NULL) < 0 ||
	    inenl_parse_session(tb[INE_A_SESSION], &s) < 0)
		return NL_SKIP;
	s.generation = inenl_attr_u32(tb[INE_A_GENERATION]);
	ret = w->fn(&s, w->arg);
	if (ret) {
		w->nl->cb_ret = ret;
		w->nl->stopped = true;
	}
	return NL_OK;
}

int inenl_session_dump(struct inenl *nl, inenl_session_fn fn, void *arg)
{
	struct walk w = { nl, fn, arg };
	struct nl_msg *msg = inenl_msg_new(nl, INE_CMD_SESSION_GET, NLM_F_DUMP);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = inenl_request(nl, msg, session_reply, &w);
	if (ret == 0 && nl->intr)
		ret = -EINTR;
	return ret;
}

static int copy_one(const struct inenl_session *s, void *arg)
{
	*(struct inenl_session *)arg = *s;
	return 0;
}

int inenl_session_get(struct inenl *nl, uint32_t id, int fd,
		      struct inenl_session *out)
{
	struct walk w = { nl, copy_one, out };
	struct nl_msg *msg;

	if (!id && fd < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	msg = session_msg(nl, INE_CMD_SESSION_GET, NLM_F_ACK, id, fd, NULL);
	if (!msg)
		return -ENOMEM;
	return inenl_request(nl, msg, session_reply, &w);
}

