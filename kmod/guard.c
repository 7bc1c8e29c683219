// SPDX-License-Identifier: GPL-2.0
/*
 * The plaintext guard. With the mode at audit or enforce, a LOCAL_OUT hook
 * (IPv4 and IPv6) looks at every TCP segment that leaves the namespace with
 * payload and a guarded port at either end. It checks state, it does not
 * trust registration: a segment passes only if its socket is a registered
 * session and
 *  - the socket's kernel TLS transmit is installed (tls ULP live, TX conf
 *    SW or HW), seen now or latched earlier (a closed session's queued,
 *    already encrypted tail still leaves after close() detached the ULP), or
 *  - the session is younger than the handshake window (the handshake
 *    records go out before TLS_TX can be installed), or
 *  - it was registered PLAINTEXT on the data plane for a database (db id
 *    not 0): the explicit exception for a database with encryption off.
 * Any other is counted, and dropped when enforcing, so the peer never
 * receives it: a registered socket that never installs TLS_TX (a failed
 * setsockopt, a bug writing application data first, a process holding a
 * passed fd) is stopped once its window ends.
 *
 * Forwarded segments are judged too (NF_INET_FORWARD): a container behind
 * a bridge or veth sends through this namespace with no socket here, so
 * its payload on a guarded port counts as unregistered. A namespace that
 * forwards encrypted internode traffic of containers must therefore leave
 * its own guard off and let each container's namespace guard itself.
 * Non-first IP fragments of TCP are dropped under enforce (fragment()).
 *
 * Only outgoing traffic is judged: plaintext that reaches the wire is a leak
 * of the sender's data, and every node guards its own sends. Judging
 * incoming segments would also drop a client's first handshake record that
 * arrives before the agent accepts and registers the connection.
 *
 * The hooks are registered only while the mode is not off, so a namespace
 * that does not use the guard pays nothing. With it on, a segment costs one
 * rhashtable lookup (flat in the number of sessions) and a per-CPU counter;
 * an offender adds its tuple to its CPU's slot and, at most once a second,
 * queues the event: no lock or shared write in the path.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/moduleparam.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/inet_connection_sock.h>
#include <net/tls.h>
#include "netns.h"
#include "guard.h"
#include "event.h"

static bool port_guarded(const struct ine_guard *g, u16 port)
{
	const struct ine_guard_ports *p = rcu_dereference(g->ports);
	unsigned int i;

	for (i = 0; p && i < p->n; i++)
		if (p->port[i] == port)
			return true;
	return false;
}

/* Kernel TLS TX installed on sk right now; under RCU (the hook's). The
 * context is freed after a grace period (tls_ctx_free()), and close puts
 * the original proto back before it frees anything. */
static bool tx_tls_installed(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct tcp_ulp_ops *ulp = READ_ONCE(icsk->icsk_ulp_ops);
	const struct tls_context *ctx;

	if (!ulp || strcmp(ulp->name, "tls"))
		return false;
	ctx = rcu_dereference(icsk->icsk_ulp_data);
	if (!ctx || READ_ONCE(sk->sk_prot) == ctx->sk_proto)
		return false;
	return ctx->tx_conf == TLS_SW || ctx->tx_conf == TLS_HW;
}

static bool may_pass(const struct ine_guard *g, struct ine_session *s,
		     const struct sock *sk)
{
	u64 window_ns;

	if (!s || !sk_fullsock(sk))
		return false;
	if (READ_ONCE(s->tx_seen))
		return true;
	if (tx_tls_installed(sk)) {
		WRITE_ONCE(s->tx_seen, true);
		return true;
	}
	if (READ_ONCE(s->state) == INE_STATE_PLAINTEXT &&
	    READ_ONCE(s->plane) == INE_PLANE_DATA && READ_ONCE(s->db_id))
		return true;
	window_ns = (u64)READ_ONCE(g->handshake_ms) * NSEC_PER_MSEC;
	return ktime_get_boottime_ns() - s->added_ns < window_ns;
}

#define bump(g, field)		this_cpu_inc((g)->pcpu->field)

static void note_offender(struct ine_guard *g, const struct sk_buff *skb,
			  const struct tcphdr *th, u8 pf)
{
	struct ine_guard_pcpu *pc;
	struct ine_tuple *t;
	long delay;

	/* LOCAL_OUT runs in process context too: BHs off keep a softirq's
	 * segment on this CPU out of the slot while it is written. */
	local_bh_disable();
	pc = this_cpu_ptr(g->pcpu);
	write_seqcount_begin(&pc->seq);
	t = &pc->last;
	memset(t, 0, sizeof(*t));
	t->sport = ntohs(th->source);
	t->dport = ntohs(th->dest);
	if (pf == NFPROTO_IPV4) {
		t->family = AF_INET;
		memcpy(t->saddr, &ip_hdr(skb)->saddr, 4);
		memcpy(t->daddr, &ip_hdr(skb)->daddr, 4);
	} else {
		t->family = AF_INET6;
		memcpy(t->saddr, &ipv6_hdr(skb)->saddr, 16);
		memcpy(t->daddr, &ipv6_hdr(skb)->daddr, 16);
	}
	pc->stamp = local_clock() ?: 1;
	write_seqcount_end(&pc->seq);
	local_bh_enable();

	/* At most one event a second: the work stamps last_event. A plain
	 * read first, so that while an event is pending every CPU keeps the
	 * line shared instead of bouncing it with a locked write. The barrier
	 * (pairs with event_work's): if the bit still reads set, the work
	 * that clears it reads this segment's counts and slot. */
	smp_mb();
	if (test_bit(0, &g->event_pending) ||
	    test_and_set_bit(0, &g->event_pending))
		return;
	delay = (long)(READ_ONCE(g->last_event) + HZ - jiffies);
	if (delay < 0 || delay > HZ)
		delay = 0;
	schedule_delayed_work(&g->event_work, delay);
}

/*
 * A non-first fragment of a TCP datagram has no TCP header, so its ports
 * are unknown. Linux's TCP sets DF, so only a path that fragments anyway
 * (forwarded traffic without conntrack's reassembly) produces these; the
 * guard fails closed and drops them under enforce whatever the port
 * (counted as unregistered in audit).
 */
static unsigned int fragment(struct ine_guard *g, u8 mode)
{
	bump(g, unregistered);
	if (mode != INE_GUARD_ENFORCE)
		return NF_ACCEPT;
	bump(g, dropped);
	return NF_DROP;
}

static unsigned int guard_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	struct ine_net *in = ine_net(state->net);
	struct ine_guard *g = &in->guard;
	u8 mode = READ_ONCE(g->mode);
	const struct tcphdr *th;
	struct tcphdr _th;
	struct sock *sk;
	unsigned int hl;
	bool more = false;
	int thoff;

	if (mode == INE_GUARD_OFF)
		return NF_ACCEPT;
	if (state->pf == NFPROTO_IPV4) {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_TCP)
			return NF_ACCEPT;
		if (iph->frag_off & htons(IP_OFFSET))
			return fragment(g, mode);
		more = iph->frag_off & htons(IP_MF);
		thoff = skb_network_offset(skb) + ip_hdrlen(skb);
	} else {
		u8 nexthdr = ipv6_hdr(skb)->nexthdr;
		__be16 frag_off = 0;

		thoff = ipv6_skip_exthdr(skb, skb_network_offset(skb) +
					 sizeof(struct ipv6hdr), &nexthdr,
					 &frag_off);
		if (thoff < 0)
			return NF_ACCEPT;
		if (frag_off & htons(IP6_OFFSET))
			return nexthdr == IPPROTO_TCP ? fragment(g, mode) :
							NF_ACCEPT;
		if (nexthdr != IPPROTO_TCP)
			return NF_ACCEPT;
		/* ipv6_skip_exthdr() does not say whether a fragment header
		 * had M set; a first fragment is judged as payload below
		 * only when it carries some, the rest by fragment(). */
	}
	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (!th)
		return NF_ACCEPT;
	hl = thoff + th->doff * 4;
	if (skb->len <= hl && !more)
		return NF_ACCEPT;	/* no payload: SYN, ACK, FIN, RST */
	if (!port_guarded(g, ntohs(th->source)) &&
	    !port_guarded(g, ntohs(th->dest)))
		return NF_ACCEPT;

	/* Forwarded segments (a container behind a bridge or veth) have no
	 * socket of this namespace: they are judged as unregistered. */
	sk = state->hook == NF_INET_FORWARD ? NULL : skb_to_full_sk(skb);
	if (sk && may_pass(g, ine_registry_find_rcu(in, sk), sk)) {
		bump(g, passed);
		return NF_ACCEPT;
	}
	/* counted before the event can be queued, so that it carries them */
	bump(g, unregistered);
	if (mode == INE_GUARD_ENFORCE) {
		bump(g, dropped);
		this_cpu_add(g->pcpu->dropped_bytes, skb->len - hl);
	}
	note_offender(g, skb, th, state->pf);
	return mode == INE_GUARD_ENFORCE ? NF_DROP : NF_ACCEPT;
}

static const struct nf_hook_ops guard_ops[] = {
	{
		.hook = guard_hook,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_FILTER + 10,	/* after NAT */
	},
	{
		.hook = guard_hook,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_FILTER + 10,
	},
	{
		.hook = guard_hook,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_FORWARD,
		.priority = NF_IP_PRI_FILTER + 10,
	},
	{
		.hook = guard_hook,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_FORWARD,
		.priority = NF_IP6_PRI_FILTER + 10,
	},
};

/* The newest of the CPUs' last offenders (local_clock() is close enough
 * across CPUs to order segments a second apart). */
static void last_offender(struct ine_guard *g, struct ine_tuple *t)
{
	u64 newest = 0, stamp;
	struct ine_tuple cur;
	unsigned int seq;
	int cpu;

	memset(t, 0, sizeof(*t));
	for_each_possible_cpu(cpu) {
		struct ine_guard_pcpu *pc = per_cpu_ptr(g->pcpu, cpu);

		do {
			seq = read_seqcount_begin(&pc->seq);
			stamp = pc->stamp;
			cur = pc->last;
		} while (read_seqcount_retry(&pc->seq, seq));
		if (stamp > newest) {
			newest = stamp;
			*t = cur;
		}
	}
}

static void event_work(struct work_struct *work)
{
	struct ine_guard *g = container_of(to_delayed_work(work),
					   struct ine_guard, event_work);
	struct ine_net *in = container_of(g, struct ine_net, guard);
	struct ine_guard_counts c;
	struct ine_tuple t;

	WRITE_ONCE(g->last_event, jiffies);
	/* Cleared before the slots are read: an offender from now on queues
	 * the next event, so none is missed between the read and the clear. */
	clear_bit(0, &g->event_pending);
	smp_mb__after_atomic();
	last_offender(g, &t);
	ine_guard_read_counts(g, &c);
	ine_event_guard_drop(in, READ_ONCE(g->mode), &c, &t);
}

/* Sums of the CPUs' counters. Each CPU's word is read whole on 64-bit; on
 * 32-bit a sum may be off by a carry while a CPU is counting. */
void ine_guard_read_counts(struct ine_guard *g, struct ine_guard_counts *c)
{
	int cpu;

	memset(c, 0, sizeof(*c));
	for_each_possible_cpu(cpu) {
		const struct ine_guard_pcpu *pc = per_cpu_ptr(g->pcpu, cpu);

		c->passed += READ_ONCE(pc->passed);
		c->unregistered += READ_ONCE(pc->unregistered);
		c->dropped += READ_ONCE(pc->dropped);
		c->dropped_bytes += READ_ONCE(pc->dropped_bytes);
	}
}

/* All or nothing: the hooks are registered first, and only then are the
 * ports and the mode swapped in. */
int ine_guard_set(struct ine_net *in, int mode, const u16 *ports,
		  unsigned int n)
{
	struct ine_guard *g = &in->guard;
	struct ine_guard_ports *p = NULL, *old;
	int ret;

	lockdep_assert_held(&in->lock);
	if (n) {
		p = kzalloc(sizeof(*p), GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		p->n = n;
		memcpy(p->port, ports, n * sizeof(*ports));
	}
	if (mode > INE_GUARD_OFF && !g->hooked) {
		ret = nf_register_net_hooks(in->net, guard_ops,
					    ARRAY_SIZE(guard_ops));
		if (ret) {
			kfree(p);
			return ret;
		}
		g->hooked = true;
	}
	if (p) {
		old = rcu_replace_pointer(g->ports, p, lockdep_is_held(&in->lock));
		kfree_rcu(old, rcu);
	}
	if (mode < 0)
		return 0;
	WRITE_ONCE(g->mode, mode);
	if (mode == INE_GUARD_OFF && g->hooked) {
		nf_unregister_net_hooks(in->net, guard_ops,
					ARRAY_SIZE(guard_ops));
		g->hooked = false;
	}
	return 0;
}

/*
 * The guard's mode lives in module memory, so `rmmod`/`modprobe` or a reboot
 * would turn an enforcing guard off until someone set it again.  An operator
 * who wants it on from the first packet says so where modules are configured:
 * `options ine guard=enforce` in /etc/modprobe.d/ine.conf.
 */
static char *guard = "off";
module_param(guard, charp, 0444);
MODULE_PARM_DESC(guard, "mode of the plaintext guard in every network namespace from the start: off, audit or enforce (ports as INE_GUARD_PORT_DEFAULT until set)");

const char *ine_guard_param_name(void)
{
	return guard;
}

int ine_guard_param_mode(void)
{
	if (!strcmp(guard, "off"))
		return INE_GUARD_OFF;
	if (!strcmp(guard, "audit"))
		return INE_GUARD_AUDIT;
	if (!strcmp(guard, "enforce"))
		return INE_GUARD_ENFORCE;
	return -EINVAL;
}

int ine_guard_init(struct ine_net *in)
{
	struct ine_guard *g = &in->guard;
	struct ine_guard_ports *p;
	int cpu, mode, ret;

	g->pcpu = alloc_percpu(struct ine_guard_pcpu);
	if (!g->pcpu)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		seqcount_init(&per_cpu_ptr(g->pcpu, cpu)->seq);
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		ret = -ENOMEM;
		goto err_ports;
	}
	p->n = 1;
	p->port[0] = INE_GUARD_PORT_DEFAULT;
	RCU_INIT_POINTER(g->ports, p);
	g->mode = INE_GUARD_OFF;
	g->handshake_ms = INE_HANDSHAKE_MS_DEFAULT;
	INIT_DELAYED_WORK(&g->event_work, event_work);
	mode = ine_guard_param_mode();
	if (mode > INE_GUARD_OFF) {
		mutex_lock(&in->lock);
		ret = ine_guard_set(in, mode, NULL, 0);
		mutex_unlock(&in->lock);
		if (ret)
			goto err_set;
	}
	return 0;

err_set:
	RCU_INIT_POINTER(g->ports, NULL);
	kfree(p);
err_ports:
	free_percpu(g->pcpu);
	return ret;
}

void ine_guard_exit(struct ine_net *in)
{
	struct ine_guard *g = &in->guard;

	if (g->hooked) {
		nf_unregister_net_hooks(in->net, guard_ops,
					ARRAY_SIZE(guard_ops));
		g->hooked = false;
	}
	cancel_delayed_work_sync(&g->event_work);
	kfree(rcu_dereference_protected(g->ports, true));
	free_percpu(g->pcpu);
}
