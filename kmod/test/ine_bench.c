// SPDX-License-Identifier: GPL-2.0
/*
 * ine_bench.ko — fills a namespace's ine.ko registry with stand-in
 * sessions for the scale benchmark (`make bench`, step kscale). Built only
 * for the bench, never installed; it links to ine.ko's INE_TEST seams
 * (kmod/testing.c), which no netlink command reaches.
 *
 * debugfs (mount -t debugfs none /sys/kernel/debug):
 *   ine_bench/sessions  write N: the writer's namespace gets exactly N
 *                       stand-ins (added or deleted); read: N
 *   ine_bench/lookup    read: times the guard's lookup of stand-in keys
 *                       (hits) and of keys nobody registered (misses),
 *                       "sessions N lookups L hit_ns T found F miss_ns T
 *                       found F" (T for all L lookups), then the same for
 *                       a reference: the same keys in a fixed 1,024-bucket
 *                       hashtable, as ine.ko's by_sk was before it became
 *                       an rhashtable, "old_lookups L old_hit_ns T found F
 *                       old_miss_ns T found F"
 *
 * The stand-ins share one kernel socket of their namespace (unconnected,
 * so dumps lock and read a real socket per session) and are keyed by the
 * bytes of keys[], memory of ours that is no socket's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/hashtable.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <linux/ine.h>
#include "testing.h"

MODULE_IMPORT_NS(INE_TEST);

#define LOOKUPS 200000
#define OLD_LOOKUPS 20000	/* the old table walks ~N/1024 per lookup */

static DEFINE_MUTEX(bench_lock);	/* everything below */
static struct net *bench_net;
static struct socket *bench_sock;
/* stand-in keys, then as many keys nobody registers (the misses) */
static u8 *keys;
static unsigned int count;
static struct dentry *dir;

/* The reference: session.c's by_sk until the rhashtable, built afresh
 * for each reading over the current keys. */
struct old_entry {
	struct hlist_node node;
	const void *key;
};
static DEFINE_HASHTABLE(old_by_sk, 10);

static int setup(struct net *net)
{
	int ret;

	keys = kvzalloc(2 * INE_MAX_SESSIONS, GFP_KERNEL);
	if (!keys)
		return -ENOMEM;
	ret = sock_create_kern(net, AF_INET, SOCK_STREAM, IPPROTO_TCP,
			       &bench_sock);
	if (ret)
		goto err_sock;
	/* a kernel socket holds no reference on its namespace: we do */
	bench_net = get_net(net);
	return 0;

err_sock:
	kvfree(keys);
	keys = NULL;
	return ret;
}

static void teardown(void)
{
	/* the guard may still compare segments against a deleted key */
	synchronize_rcu();
	kvfree(keys);
	keys = NULL;
	sock_release(bench_sock);
	bench_sock = NULL;
	put_net(bench_net);
	bench_net = NULL;
}

static int set_count(struct net *net, unsigned int n)
{
	int ret = 0;

	if (n > INE_MAX_SESSIONS)
		return -ERANGE;
	if (bench_net && !net_eq(bench_net, net))
		return -EXDEV;
	if (!bench_net) {
		if (!n)
			return 0;
		ret = setup(net);
		if (ret)
			return ret;
	}
	if (n > count) {
		ret = ine_test_sessions_add(bench_net, bench_sock->sk,
					    keys + count, n - count);
		if (ret > 0) {
			count += ret;
			ret = count == n ? 0 : -ENOSPC;
		}
	} else if (n < count) {
		ine_test_sessions_del(bench_net, keys + n, count - n);
		count = n;
	}
	if (!count)
		teardown();
	return ret;
}

static ssize_t sessions_write(struct file *f, const char __user *buf,
			      size_t len, loff_t *pos)
{
	unsigned int n;
	int ret;

	ret = kstrtouint_from_user(buf, len, 10, &n);
	if (ret)
		return ret;
	mutex_lock(&bench_lock);
	ret = set_count(current->nsproxy->net_ns, n);
	mutex_unlock(&bench_lock);
	return ret ?: len;
}

static ssize_t sessions_read(struct file *f, char __user *buf, size_t len,
			     loff_t *pos)
{
	char out[16];
	int n;

	mutex_lock(&bench_lock);
	n = scnprintf(out, sizeof(out), "%u\n", count);
	mutex_unlock(&bench_lock);
	return simple_read_from_buffer(buf, len, pos, out, n);
}

static bool old_lookup(struct net *net, const void *key)
{
	struct old_entry *e;
	bool found = false;

	rcu_read_lock();
	hash_for_each_possible_rcu(old_by_sk, e, node, (unsigned long)key)
		if (e->key == key) {
			found = true;
			break;
		}
	rcu_read_unlock();
	return found;
}

/* n lookups of pseudo-random keys in base[0..span): a spread of keys, as
 * many flows give, not one hot cache line. */
static u64 time_lookups(bool (*lookup)(struct net *, const void *),
			unsigned int n, const u8 *base, unsigned int span,
			unsigned int *found)
{
	u32 x = 2463534242u;
	unsigned int i;
	u64 t0, took = 0;

	*found = 0;
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		*found += lookup(bench_net, base + x % span);
		if (i % 4096 == 4095) {
			took += ktime_get_ns() - t0;
			cond_resched();
			t0 = ktime_get_ns();
		}
	}
	return took + ktime_get_ns() - t0;
}

static ssize_t lookup_read(struct file *f, char __user *buf, size_t len,
			   loff_t *pos)
{
	unsigned int hits, misses, old_hits, old_misses, i;
	u64 hit_ns, miss_ns, old_hit_ns, old_miss_ns;
	struct old_entry *old;
	char out[320];
	int n;

	if (*pos)
		return 0;
	mutex_lock(&bench_lock);
	if (!count) {
		mutex_unlock(&bench_lock);
		return -ENOENT;
	}
	old = kvmalloc_array(count, sizeof(*old), GFP_KERNEL);
	if (!old) {
		mutex_unlock(&bench_lock);
		return -ENOMEM;
	}
	hit_ns = time_lookups(ine_test_lookup, LOOKUPS, keys, count, &hits);
	miss_ns = time_lookups(ine_test_lookup, LOOKUPS,
			       keys + INE_MAX_SESSIONS, INE_MAX_SESSIONS,
			       &misses);
	hash_init(old_by_sk);
	for (i = 0; i < count; i++) {
		old[i].key = &keys[i];
		hash_add(old_by_sk, &old[i].node, (unsigned long)&keys[i]);
	}
	old_hit_ns = time_lookups(old_lookup, OLD_LOOKUPS, keys, count,
				  &old_hits);
	old_miss_ns = time_lookups(old_lookup, OLD_LOOKUPS,
				   keys + INE_MAX_SESSIONS, INE_MAX_SESSIONS,
				   &old_misses);
	hash_init(old_by_sk);
	kvfree(old);
	n = scnprintf(out, sizeof(out),
		      "sessions %u lookups %u hit_ns %llu found %u miss_ns %llu found %u "
		      "old_lookups %u old_hit_ns %llu found %u old_miss_ns %llu found %u\n",
		      count, LOOKUPS, hit_ns, hits, miss_ns, misses,
		      OLD_LOOKUPS, old_hit_ns, old_hits, old_miss_ns, old_misses);
	mutex_unlock(&bench_lock);
	return simple_read_from_buffer(buf, len, pos, out, n);
}

static const struct file_operations sessions_fops = {
	.owner = THIS_MODULE,
	.read = sessions_read,
	.write = sessions_write,
	.llseek = default_llseek,
};

static const struct file_operations lookup_fops = {
	.owner = THIS_MODULE,
	.read = lookup_read,
	.llseek = default_llseek,
};

static int __init ine_bench_init(void)
{
	dir = debugfs_create_dir("ine_bench", NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	debugfs_create_file("sessions", 0600, dir, NULL, &sessions_fops);
	debugfs_create_file("lookup", 0400, dir, NULL, &lookup_fops);
	return 0;
}

static void __exit ine_bench_exit(void)
{
	debugfs_remove_recursive(dir);
	mutex_lock(&bench_lock);
	if (bench_net)
		set_count(bench_net, 0);
	mutex_unlock(&bench_lock);
}

module_init(ine_bench_init);
module_exit(ine_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ine.ko scale benchmark: stand-in sessions (bench builds only)");
