// SPDX-License-Identifier: GPL-2.0
/* inenl — userspace client of ine.ko's generic netlink family: sessions,
 * and what this process registered, replayed after a module reload.
 * inenl_msg.c below carries the messages; inenl_status.c beside this file
 * has totals, configuration and events. */
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


/* One record for the whole process, not one per handle: the control plane
 * and the data plane use separate handles, and a socket registered through
 * one (the listener's provisional entry) is often updated or replaced
 * through the other.  ine.ko's registry is per namespace; so is an agent. */
static struct inenl_reg reg;
static bool replaying;
static unsigned long replays;

static void replay(struct inenl *nl);

/* The last guard this process saw or set, for the replay after a reload. */
static struct {
	bool known;
	uint8_t mode;
	unsigned int nports;
	uint16_t ports[INE_GUARD_MAX_PORTS];
} guard_seen;

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
	int ret = inenl_msg_send(nl, msg, valid, arg), fam;

	if (ret == -ENOENT && !nl->stopped && !nl->cb_ret) {
		fam = genl_ctrl_resolve(nl->sk, INE_GENL_NAME);
		if (fam >= 0 && fam != nl->family) {
			nl->family = fam;
			replay(nl);
			nlmsg_hdr(msg)->nlmsg_type = (uint16_t)fam;
			nlmsg_hdr(msg)->nlmsg_seq = NL_AUTO_SEQ;
			ret = inenl_msg_send(nl, msg, valid, arg);
		}
	}
	nlmsg_free(msg);
	return ret;
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

static int totals_seen(struct nl_msg *msg, void *arg)
{
	return inenl_parse_totals(msg, arg) < 0 ? NL_SKIP : NL_OK;
}

/* The remembered guard onto a freshly loaded module, before any session:
 * failing closed means the mode comes back first.  Built from the message
 * layer, not through inenl_status.c: what the module says or is told here
 * is this process's own memory going back, not something new to remember. */
static void guard_restore(struct inenl *nl)
{
	struct inenl_totals now;
	struct nl_msg *msg;
	int mode = -1;

	if (!guard_seen.known)
		return;
	memset(&now, 0, sizeof(now));
	msg = inenl_msg_new(nl, INE_CMD_GET_TOTALS, NLM_F_ACK);
	if (!msg || inenl_request(nl, msg, totals_seen, &now) < 0)
		return;
	if (guard_seen.mode > now.guard.mode)
		mode = guard_seen.mode;
	if (mode < 0 && now.guard.nports == guard_seen.nports &&
	    !memcmp(now.guard.ports, guard_seen.ports,
		    guard_seen.nports * sizeof(guard_seen.ports[0])))
		return;
	if (inenl_msg_config(nl, mode, guard_seen.ports, guard_seen.nports, 0, &msg) == 0)
		inenl_request(nl, msg, NULL, NULL);
}

/* Registers every remembered session again under the new family.  A socket
 * closed since (or its fd number now someone else's) is forgotten, never
 * registered: registration is what lets traffic past the guard. */
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

