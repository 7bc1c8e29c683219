/* SPDX-License-Identifier: GPL-2.0 */
/* Per network namespace state: every node in a cluster test is a netns,
 * so the registry, its counters and the guard live here. */
#ifndef INE_NETNS_H
#define INE_NETNS_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include "guard.h"

#define INE_BY_SK_BITS 10

struct ine_net {
	struct net *net;
	/* Serialises every registry change, dump chunk and config change.
	 * Taken in process context only; lock_sock() nests inside it. */
	struct mutex lock;
	struct xarray sessions;		/* id -> live session (queries) */
	u32 next_id;
	/* sk -> session, live and closing ones; RCU readers: the guard. */
	DECLARE_HASHTABLE(by_sk, INE_BY_SK_BITS);
	struct list_head closing;	/* closed, socket still sending */
	u32 count;			/* live sessions */
	u32 generation;			/* never 0 */
	u64 added, removed;
	u64 key_warn_records;
	unsigned int reaper_runs;
	bool key_check_due;		/* a new threshold: check now */
	struct delayed_work reaper;
	struct ine_guard guard;
};

struct ine_net *ine_net(const struct net *net);
int ine_netns_init(void);
void ine_netns_exit(void);

#endif
