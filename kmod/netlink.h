/* SPDX-License-Identifier: GPL-2.0 */
#ifndef INE_NETLINK_H
#define INE_NETLINK_H

#include <linux/types.h>

struct ine_net;
struct ine_session;
struct ine_tuple;

int ine_genl_init(void);
void ine_genl_uninit(void);

/* Multicast to the namespace's "events" listeners; no-ops without any. */
void ine_notify_session(struct ine_net *in, struct ine_session *s, u8 cmd,
			u8 reason);
void ine_notify_key_usage(struct ine_net *in, struct ine_session *s,
			  u64 tx_seq, u64 rx_seq);
void ine_notify_guard(struct ine_net *in, const struct ine_tuple *t);

#endif
