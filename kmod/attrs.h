/* SPDX-License-Identifier: GPL-2.0 */
/* Attribute writers shared by command replies and events: pure functions
 * of the data they are given, so both netlink.c and event.c can use them
 * without calling into the registry or the guard. */
#ifndef INE_ATTRS_H
#define INE_ATTRS_H

#include <linux/types.h>

struct sk_buff;
struct ine_tuple;
struct ine_session;
struct ine_live;
struct ine_guard_counts;
struct ine_guard_ports;

/* Each returns 0 or -EMSGSIZE; a nest it opened is cancelled on failure. */
int ine_put_tuple(struct sk_buff *skb, const struct ine_tuple *t);
/* One INE_A_SESSION nest: the registered fields, the live ones if l. */
int ine_put_session(struct sk_buff *skb, const struct ine_session *s,
		    const struct ine_live *l, bool warn, u8 reason);
/* One INE_A_GUARD nest: mode and counters, the port list if ports. */
int ine_put_guard(struct sk_buff *skb, u8 mode,
		  const struct ine_guard_counts *c,
		  const struct ine_guard_ports *ports);

#endif
