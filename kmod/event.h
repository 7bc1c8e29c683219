/* SPDX-License-Identifier: GPL-2.0 */
/* Events on the "events" multicast group. The registry, the guard and the
 * command handlers call these; this file calls only attrs.c, so every
 * arrow points one way (netlink.c registers the family and hands it here). */
#ifndef INE_EVENT_H
#define INE_EVENT_H

#include <linux/types.h>

struct genl_family;
struct ine_net;
struct ine_session;
struct ine_live;
struct ine_tuple;
struct ine_guard_counts;

/* netlink.c, once the family is registered / before it is unregistered:
 * after ine_event_stop() returns no event is being or will be sent. */
void ine_event_start(struct genl_family *family);
void ine_event_stop(void);

/* Whether the namespace has listeners (to skip the work of an event). */
bool ine_event_listening(struct ine_net *in);
/* l: the live fields (SESSION_UP, SESSION_STATE), NULL for SESSION_DOWN. */
void ine_event_session(struct ine_net *in, const struct ine_session *s,
		       const struct ine_live *l, u8 cmd, u8 reason);
void ine_event_key_usage(struct ine_net *in, const struct ine_session *s,
			 u64 tx_seq, u64 rx_seq);
void ine_event_guard_drop(struct ine_net *in, u8 mode,
			  const struct ine_guard_counts *c,
			  const struct ine_tuple *t);

#endif
