// SPDX-License-Identifier: GPL-2.0
/*
 * Seams for the scale benchmark only (kmod/test/ine_bench.c, built by
 * `make bench`, never installed): stand-in sessions, many on one socket,
 * to fill a namespace's registry to INE_MAX_SESSIONS without a million
 * real connections. They are exported in the INE_TEST symbol namespace, so
 * only a module that says MODULE_IMPORT_NS(INE_TEST) links to them; no
 * netlink command reaches them.
 *
 * A stand-in is a whole session on the caller's socket (which it holds a
 * reference on, as every session does), so dumps, totals and the reaper
 * treat it like any other: what the benchmark times is the real code.
 * Only its by_sk key differs: keys[i], an address in memory the caller
 * owns, which therefore is no socket's, so the guard never matches a
 * segment to a stand-in. The caller keeps that memory until a grace period
 * after it deleted them (the guard may still be comparing against a key).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/sched.h>
#include <net/sock.h>
#include "netns.h"
#include "session.h"
#include "testing.h"

#define BATCH 1024	/* sessions per in->lock section */

int ine_test_sessions_add(struct net *net, struct sock *sk, const u8 *keys,
			  unsigned int n)
{
	struct ine_net *in = ine_net(net);
	struct ine_session *s;
	unsigned int i = 0, j;
	int ret = 0;

	while (i < n && !ret) {
		mutex_lock(&in->lock);
		for (j = 0; j < BATCH && i < n; j++, i++) {
			s = ine_session_create(sk);
			if (!s) {
				ret = -ENOMEM;
				break;
			}
			s->key = &keys[i];
			s->plane = INE_PLANE_DATA;
			s->db_id = 1;
			ret = ine_session_insert(in, s);
			if (ret) {
				ine_session_destroy(s);
				break;
			}
		}
		mutex_unlock(&in->lock);
		cond_resched();
	}
	return i ? i : ret;
}
EXPORT_SYMBOL_NS_GPL(ine_test_sessions_add, INE_TEST);

int ine_test_sessions_del(struct net *net, const u8 *keys, unsigned int n)
{
	struct ine_net *in = ine_net(net);
	struct ine_session *s;
	unsigned int i = 0, j, gone = 0;

	while (i < n) {
		mutex_lock(&in->lock);
		for (j = 0; j < BATCH && i < n; j++, i++) {
			s = ine_registry_find_key(in, &keys[i]);
			if (s && list_empty(&s->closing)) {
				ine_session_remove(in, s, INE_DOWN_DELETED);
				gone++;
			}
		}
		mutex_unlock(&in->lock);
		cond_resched();
	}
	return gone;
}
EXPORT_SYMBOL_NS_GPL(ine_test_sessions_del, INE_TEST);

/* The guard's lookup, as its hook does it (under RCU, by key). */
bool ine_test_lookup(struct net *net, const void *key)
{
	bool found;

	rcu_read_lock();
	found = ine_registry_find_rcu(ine_net(net), key);
	rcu_read_unlock();
	return found;
}
EXPORT_SYMBOL_NS_GPL(ine_test_lookup, INE_TEST);
