// SPDX-License-Identifier: MIT
/*
 * inenl: the namespace's totals, guard and key-usage configuration, the
 * events group, and names for the uAPI's enums. Requests go through
 * inenl.c's inenl_request() (which replays after a module reload).
 */
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
#include "inenl/inenl_internal.h"

/* ---- totals and configuration ------------------------------------------------ */

static int totals_reply(struct nl_msg *msg, void *arg)
{
	struct inenl_totals *t = arg;
	struct nlattr *tb[INE_A_MAX + 1], *tt[INE_TOTALS_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, INE_A_MAX, NULL) < 0)
		return NL_SKIP;
	inenl_attr_str(t->version, sizeof(t->version), tb[INE_A_VERSION]);
	t->generation = inenl_attr_u32(tb[INE_A_GENERATION]);
	t->key_warn_records = inenl_attr_u64(tb[INE_A_KEY_WARN_RECORDS]);
	t->handshake_ms = inenl_attr_u32(tb[INE_A_HANDSHAKE_MS]);
	inenl_parse_guard(tb[INE_A_GUARD], &t->guard);
	if (tb[INE_A_GUARD] && !inenl_replaying())
		inenl_guard_remember(t->guard.mode, t->guard.ports, t->guard.nports);
	if (!tb[INE_A_TOTALS] ||
	    nla_parse_nested(tt, INE_TOTALS_A_MAX, tb[INE_A_TOTALS], NULL) < 0)
		return NL_OK;
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
	return NL_OK;
}

int inenl_totals_get(struct inenl *nl, struct inenl_totals *t)
{
	struct nl_msg *msg = inenl_msg_new(nl, INE_CMD_GET_TOTALS, NLM_F_ACK);

	memset(t, 0, sizeof(*t));
	return msg ? inenl_request(nl, msg, totals_reply, t) : -ENOMEM;
}

int inenl_config_set(struct inenl *nl, int mode, const uint16_t *ports,
		     unsigned int nports, uint64_t key_warn_records)
{
	struct nl_msg *msg = inenl_msg_new(nl, INE_CMD_SET_CONFIG, NLM_F_ACK);
	struct nlattr *g, *p;
	unsigned int i;
	int ret;

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
	ret = inenl_request(nl, msg, NULL, NULL);
	if (ret == 0 && !inenl_replaying())
		inenl_guard_remember(mode, ports, nports);
	return ret;
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int inenl_handshake_window_set(struct inenl *nl, uint32_t ms)
{
	struct nl_msg *msg = inenl_msg_new(nl, INE_CMD_SET_CONFIG, NLM_F_ACK);

	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, INE_A_HANDSHAKE_MS, ms) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return inenl_request(nl, msg, NULL, NULL);
}

/* ---- events ----------------------------------------------------------------- */

int inenl_events_open(struct inenl **out)
{
	struct inenl *nl;
	int ret, grp;

	ret = inenl_open(&nl);
	if (ret)
		return ret;
	grp = genl_ctrl_resolve_grp(nl->sk, INE_GENL_NAME, INE_MCGRP_EVENTS);
	if (grp < 0) {
		ret = inenl_errno(grp);
		goto err;
	}
	ret = nl_socket_add_membership(nl->sk, grp);
	if (ret < 0) {
		ret = inenl_errno(ret);
		goto err;
	}
	nl_socket_disable_seq_check(nl->sk);
	nl_socket_set_buffer_size(nl->sk, 1 << 20, 0);
	ret = nl_socket_set_nonblocking(nl->sk);
	if (ret < 0) {
		ret = inenl_errno(ret);
		goto err;
	}
	*out = nl;
	return 0;
err:
	inenl_close(nl);
	return ret;
}

int inenl_events_fd(const struct inenl *nl)
{
	return nl_socket_get_fd(nl->sk);
}

struct ev_walk {
	inenl_event_fn fn;
	void *arg;
};

static int event_msg(struct nl_msg *msg, void *arg)
{
	struct ev_walk *w = arg;
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[INE_A_MAX + 1];
	struct inenl_event ev;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, INE_A_MAX, NULL) < 0)
		return NL_SKIP;
	if (gh->cmd < INE_CMD_EVENT_SESSION_UP || gh->cmd > INE_CMD_MAX)
		return NL_SKIP;
	memset(&ev, 0, sizeof(ev));
	ev.type = (enum inenl_event_type)gh->cmd;
	if (tb[INE_A_SESSION])
		inenl_parse_session(tb[INE_A_SESSION], &ev.session);
	inenl_parse_guard(tb[INE_A_GUARD], &ev.guard);
	ev.key_warn_records = inenl_attr_u64(tb[INE_A_KEY_WARN_RECORDS]);
	w->fn(&ev, w->arg);
	return NL_OK;
}

static int any_seq(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;	/* multicast messages carry no request's sequence */
}

int inenl_events_read(struct inenl *nl, inenl_event_fn fn, void *arg)
{
	struct ev_walk w = { fn, arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_msg, &w);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, any_seq, NULL);
	do
		ret = nl_recvmsgs(nl->sk, cb);
	while (ret >= 0);
	nl_cb_put(cb);
	if (ret == -NLE_AGAIN)
		return 0;
	if (ret == -NLE_NOMEM)
		return -ENOBUFS;
	return inenl_errno(ret);
}

/* ---- names -------------------------------------------------------------------- */

const char *inenl_plane_name(uint8_t plane)
{
	switch (plane) {
	case INE_PLANE_CONTROL: return "control";
	case INE_PLANE_DATA: return "data";
	default: return "unknown";
	}
}

const char *inenl_state_name(uint8_t state)
{
	switch (state) {
	case INE_STATE_HANDSHAKING: return "handshaking";
	case INE_STATE_OFFLOADED: return "offloaded";
	case INE_STATE_SOFTWARE: return "software";
	case INE_STATE_PLAINTEXT: return "plaintext";
	default: return "unknown";
	}
}

const char *inenl_conf_name(uint8_t conf)
{
	switch (conf) {
	case INE_CONF_NONE: return "none";
	case INE_CONF_SW: return "sw";
	case INE_CONF_HW: return "hw";
	case INE_CONF_HW_RECORD: return "hw-record";
	default: return "unknown";
	}
}

const char *inenl_guard_mode_name(uint8_t mode)
{
	switch (mode) {
	case INE_GUARD_OFF: return "off";
	case INE_GUARD_AUDIT: return "audit";
	case INE_GUARD_ENFORCE: return "enforce";
	default: return "unknown";
	}
}

const char *inenl_cipher_name(uint16_t cipher)
{
	switch (cipher) {
	case 0: return "none";
	case TLS_CIPHER_AES_GCM_128: return "aes-128-gcm";
	case TLS_CIPHER_AES_GCM_256: return "aes-256-gcm";
	case TLS_CIPHER_CHACHA20_POLY1305: return "chacha20-poly1305";
	default: return "other";
	}
}

const char *inenl_version_name(uint16_t version)
{
	switch (version) {
	case 0: return "none";
	case TLS_1_2_VERSION: return "TLS1.2";
	case TLS_1_3_VERSION: return "TLS1.3";
	default: return "other";
	}
}
