/* SPDX-License-Identifier: GPL-2.0 */
/* Per network namespace state: every node in a cluster test is a netns,
 * so the registry, its counters and the guard live here. */
#ifndef INE_NETNS_H
#define INE_NETNS_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rhashtable-types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include "guard.h"

struct ine_net {
	struct net *net;
	/* Serialises every registry change, dump chunk and config change.
	 * Taken in process context only; lock_sock() nests inside it. */
	struct mutex lock;
	struct xarray sessions;		/* id -> live session (queries) */
	u32 next_id;
	/* sk -> session, live and closing ones; RCU readers: the guard.
	 * Resizable, so a lookup costs the same at 10 or 2^20 sessions. */
	struct rhashtable by_sk;
	struct list_head closing;	/* closed, socket still sending */
	u32 count;			/* live sessions */
	u32 generation;			/* never 0 */
	u64 added, removed;
	u64 key_warn_records;
	unsigned int n_closing;		/* entries on closing */
	/* The reaper's passes, a slice per run (session.c). */
	unsigned long reap_cursor;	/* next id of the closed-socket pass */
	unsigned long key_cursor;	/* next id of the key-usage pass */
	bool key_pass;			/* a key-usage pass is under way */
	bool key_check_due;		/* a new threshold: check now */
	unsigned long key_next;		/* jiffies: the next key pass */
	struct delayed_work reaper;
	struct ine_guard guard;
};

/* netns.c: the lookup every file uses */
extern unsigned int ine_net_id;	/* net_generic slot, registered by pernet.c */
struct ine_net *ine_net(const struct net *net);
/* pernet.c: the state's life with its namespace (registry, then guard) */
int ine_netns_init(void);
void ine_netns_exit(void);

#endif
