// SPDX-License-Identifier: GPL-2.0
/*
 * inenl: the namespace's totals, guard and key-usage configuration, the
 * events group, and names for the uAPI's enums. Requests go through
 * inenl.c's inenl_request() (which replays after a module reload); their
 * messages are built and read by inenl_msg.c.
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
	int ret = inenl_parse_totals(msg, t);

	if (ret < 0)
		return NL_SKIP;
	if (ret > 0)
		inenl_guard_remember(t->guard.mode, t->guard.ports, t->guard.nports);
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
	struct nl_msg *msg;
	int ret = inenl_msg_config(nl, mode, ports, nports, key_warn_records, &msg);

	if (ret)
		return ret;
	ret = inenl_request(nl, msg, NULL, NULL);
	if (ret == 0)
		inenl_guard_remember(mode, ports, nports);
	return ret;
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
