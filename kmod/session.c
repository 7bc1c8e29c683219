// SPDX-License-Identifier: GPL-2.0
/*
 * The session registry.
 *
 * Lifetimes. A session holds a counted reference on its struct sock
 * (sock_hold), never on the file: the agent's close(2) still closes the
 * socket. Nothing of ours is installed into the socket (no callback, no
 * destructor), so a socket never points into this module and unloading it
 * only has to drop our references.
 *
 * close(2) of the last fd runs sock_orphan(), which sets SOCK_DEAD before
 * it returns. Every reader treats a SOCK_DEAD socket as gone, so no query
 * made after close() shows it. The reaper (a delayed work, once a second
 * while sessions exist; reads change no state) then takes it out of the id
 * index, counts it removed and announces it down. Until the orphaned socket reaches
 * TCP_CLOSE it may still be sending its queued (already encrypted) bytes;
 * it stays in the by_sk hash meanwhile ("closing") so the guard lets those
 * bytes out, then our reference is dropped.
 *
 * Locking. in->lock (a mutex) covers every change and every reader but the
 * guard; lock_sock() nests inside it to read a socket. The guard reads the
 * by_sk hash under RCU only and compares pointers, so an entry and its
 * socket reference are released only after a grace period.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/net.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/tls.h>
#include <asm/unaligned.h>
#include "netns.h"
#include "session.h"
#include "event.h"

#define INE_REAP_INTERVAL	HZ
#define INE_KEY_CHECK_EVERY	5	/* reaper runs */

static void generation_bump(struct ine_net *in)
{
	if (!++in->generation)
		in->generation = 1;
}

void ine_session_changed(struct ine_net *in)
{
	lockdep_assert_held(&in->lock);
	generation_bump(in);
}

struct ine_session *ine_session_create(struct sock *sk)
{
	struct ine_session *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	sock_hold(sk);
	s->sk = sk;
	s->state = INE_STATE_HANDSHAKING;
	s->added_ns = ktime_get_boottime_ns();
	INIT_LIST_HEAD(&s->closing);
	return s;
}

static void session_free_rcu(struct rcu_head *rcu)
{
	struct ine_session *s = container_of(rcu, struct ine_session, rcu);

	sock_put(s->sk);
	kfree(s);
}

/*
 * For a session that was never inserted or is out of every index. The
 * socket reference is dropped only after a grace period: until then a guard
 * reader may still hold the entry, and the socket's memory must not be
 * reused by a new (unregistered) socket that would then match it.
 * main.c's exit waits for these callbacks (rcu_barrier).
 */
void ine_session_destroy(struct ine_session *s)
{
	if (s)
		call_rcu(&s->rcu, session_free_rcu);
}

bool ine_session_dead(const struct ine_session *s)
{
	return sock_flag(s->sk, SOCK_DEAD);
}

static struct ine_session *by_sk_find(struct ine_net *in, const struct sock *sk)
{
	struct ine_session *s;

	hash_for_each_possible_rcu(in->by_sk, s, by_sk_node, (unsigned long)sk,
				   lockdep_is_held(&in->lock))
		if (s->sk == sk)
			return s;
	return NULL;
}

static void reaper_kick(struct ine_net *in)
{
	schedule_delayed_work(&in->reaper, INE_REAP_INTERVAL);
}

int ine_session_insert(struct ine_net *in, struct ine_session *s)
{
	int ret;

	lockdep_assert_held(&in->lock);
	if (by_sk_find(in, s->sk))
		return -EEXIST;
	if (in->count >= INE_MAX_SESSIONS)
		return -ENOSPC;
	ret = xa_alloc_cyclic(&in->sessions, &s->id, s,
			      XA_LIMIT(1, U32_MAX), &in->next_id, GFP_KERNEL);
	if (ret < 0)
		return ret;
	hash_add_rcu(in->by_sk, &s->by_sk_node, (unsigned long)s->sk);
	in->count++;
	in->added++;
	generation_bump(in);
	reaper_kick(in);
	ine_session_announce(in, s, INE_CMD_EVENT_SESSION_UP, 0);
	return 0;
}

static void release(struct ine_session *s)
{
	hash_del_rcu(&s->by_sk_node);
	list_del(&s->closing);
	ine_session_destroy(s);
}

/* Out of the queries at once; out of the guard's hash at once if deleted
 * (the socket lives on unregistered) or when the socket is done sending. */
void ine_session_remove(struct ine_net *in, struct ine_session *s, u8 reason)
{
	lockdep_assert_held(&in->lock);
	xa_erase(&in->sessions, s->id);
	in->count--;
	in->removed++;
	generation_bump(in);
	ine_event_session(in, s, NULL, INE_CMD_EVENT_SESSION_DOWN, reason);
	if (reason == INE_DOWN_CLOSED && READ_ONCE(s->sk->sk_state) != TCP_CLOSE)
		list_add_tail(&s->closing, &in->closing);
	else
		release(s);
}

struct ine_session *ine_session_by_id(struct ine_net *in, u32 id)
{
	struct ine_session *s;

	lockdep_assert_held(&in->lock);
	s = xa_load(&in->sessions, id);
	return s && !ine_session_dead(s) ? s : NULL;
}

struct ine_session *ine_session_by_sk(struct ine_net *in, struct sock *sk)
{
	struct ine_session *s;

	lockdep_assert_held(&in->lock);
	s = by_sk_find(in, sk);
	if (!s || !list_empty(&s->closing) || ine_session_dead(s))
		return NULL;
	return s;
}

struct ine_session *ine_registry_find_rcu(struct ine_net *in,
					  const struct sock *sk)
{
	return by_sk_find(in, sk);
}

static u8 conf_of(u8 kconf)
{
	switch (kconf) {
	case TLS_SW:
		return INE_CONF_SW;
	case TLS_HW:
		return INE_CONF_HW;
	case TLS_HW_RECORD:
		return INE_CONF_HW_RECORD;
	default:
		return INE_CONF_NONE;
	}
}

static bool is_tls_ulp(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);

	return icsk->icsk_ulp_ops && !strcmp(icsk->icsk_ulp_ops->name, "tls");
}

static bool rec_seq(const struct tls_context *ctx, const struct cipher_context *c,
		    u8 conf, u64 *seq)
{
	if ((conf != TLS_SW && conf != TLS_HW) || !c->rec_seq ||
	    ctx->prot_info.rec_seq_size != sizeof(u64))
		return false;
	*seq = get_unaligned_be64(c->rec_seq);
	return true;
}

static void read_tuple(const struct sock *sk, struct ine_tuple *t)
{
	const struct inet_sock *inet = inet_sk(sk);

	t->family = sk->sk_family;
	t->sport = ntohs(inet->inet_sport);
	t->dport = ntohs(sk->sk_dport);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		memcpy(t->saddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(t->daddr, &sk->sk_v6_daddr, 16);
		return;
	}
#endif
	memcpy(t->saddr, &inet->inet_saddr, 4);
	memcpy(t->daddr, &sk->sk_daddr, 4);
}

/*
 * The tls context of sk if its ULP is live, under lock_sock(); else NULL.
 *
 * tls_sk_proto_close() frees the record sequence and IV buffers of every
 * software direction (tls_sk_proto_cleanup()) and, in the same lock_sock()
 * section, puts the socket's original proto back (sk_prot = ctx->sk_proto).
 * It clears icsk_ulp_data too, but only when neither direction is device
 * offloaded: with TX on a NIC the context stays attached until the socket
 * is destroyed while its software RX buffers are already freed. So a
 * non-NULL context is not enough; the proto tells whether close has run.
 * The context itself outlives close as long as our reference on the socket
 * (device case) or is no longer reachable (software case).
 */
static const struct tls_context *live_tls_ctx(struct sock *sk)
{
	const struct tls_context *ctx;

	sock_owned_by_me(sk);
	if (!is_tls_ulp(sk))
		return NULL;
	ctx = tls_get_ctx(sk);
	if (!ctx || READ_ONCE(sk->sk_prot) == ctx->sk_proto)
		return NULL;
	return ctx;
}

int ine_session_read_live(struct ine_session *s, struct ine_live *l)
{
	struct sock *sk = s->sk;
	const struct tls_context *ctx;
	const struct tcp_sock *tp;

	memset(l, 0, sizeof(*l));
	lock_sock(sk);
	if (sock_flag(sk, SOCK_DEAD)) {
		release_sock(sk);
		return -ENOENT;
	}
	read_tuple(sk, &l->t);
	tp = tcp_sk(sk);
	l->tcp_state = sk->sk_state;
	l->bytes_sent = tp->bytes_acked;
	l->bytes_received = tp->bytes_received;
	ctx = live_tls_ctx(sk);
	if (ctx) {
		l->tls = true;
		l->version = ctx->prot_info.version;
		l->cipher = ctx->prot_info.cipher_type;
		l->tx_conf = conf_of(ctx->tx_conf);
		l->rx_conf = conf_of(ctx->rx_conf);
		l->has_tx_seq = rec_seq(ctx, &ctx->tx, ctx->tx_conf, &l->tx_seq);
		l->has_rx_seq = rec_seq(ctx, &ctx->rx, ctx->rx_conf, &l->rx_seq);
	}
	release_sock(sk);
	return 0;
}

/* An UP or STATE event with the live fields, if anyone listens. */
void ine_session_announce(struct ine_net *in, struct ine_session *s, u8 cmd,
			  u8 reason)
{
	struct ine_live l;

	if (ine_event_listening(in) && !ine_session_read_live(s, &l))
		ine_event_session(in, s, &l, cmd, reason);
}

int ine_session_verify_ktls(struct sock *sk, struct netlink_ext_ack *extack)
{
	const struct tls_context *ctx;
	int ret = 0;

	lock_sock(sk);
	ctx = live_tls_ctx(sk);
	if (!ctx) {
		NL_SET_ERR_MSG(extack, "socket has no kernel TLS (tls ULP not attached)");
		ret = -EINVAL;
	} else if (ctx->tx_conf != TLS_SW && ctx->tx_conf != TLS_HW) {
		NL_SET_ERR_MSG(extack, "kernel TLS transmit (TLS_TX) is not configured");
		ret = -EINVAL;
	} else if (ctx->rx_conf != TLS_SW && ctx->rx_conf != TLS_HW) {
		NL_SET_ERR_MSG(extack, "kernel TLS receive (TLS_RX) is not configured");
		ret = -EINVAL;
	}
	release_sock(sk);
	return ret;
}

/* Whether either direction's record count reached the threshold; no
 * state changes, no event (for queries). */
bool ine_session_key_past(const struct ine_net *in, const struct ine_live *l)
{
	u64 thr = READ_ONCE(in->key_warn_records);

	return (l->has_tx_seq && l->tx_seq >= thr) ||
	       (l->has_rx_seq && l->rx_seq >= thr);
}

/* Announces a session once when either direction's record count reaches
 * the namespace's threshold. Returns whether it is past it. */
bool ine_session_key_check(struct ine_net *in, struct ine_session *s,
			   const struct ine_live *l)
{
	u64 thr = in->key_warn_records;
	bool warn = (l->has_tx_seq && l->tx_seq >= thr) ||
		    (l->has_rx_seq && l->rx_seq >= thr);

	lockdep_assert_held(&in->lock);
	if (warn && !s->key_warned) {
		s->key_warned = true;
		ine_event_key_usage(in, s, l->tx_seq, l->rx_seq);
	}
	return warn;
}

void ine_registry_reap(struct ine_net *in)
{
	struct ine_session *s, *tmp;
	unsigned long id;

	lockdep_assert_held(&in->lock);
	xa_for_each(&in->sessions, id, s)
		if (ine_session_dead(s))
			ine_session_remove(in, s, INE_DOWN_CLOSED);
	list_for_each_entry_safe(s, tmp, &in->closing, closing)
		if (READ_ONCE(s->sk->sk_state) == TCP_CLOSE)
			release(s);
}

static void key_check_all(struct ine_net *in)
{
	struct ine_session *s;
	struct ine_live l;
	unsigned long id;

	xa_for_each(&in->sessions, id, s)
		if (!s->key_warned && !ine_session_read_live(s, &l))
			ine_session_key_check(in, s, &l);
}

/*
 * A new threshold is checked against every session now rather than at the
 * next periodic check; the reaper does it so that the command that set it
 * does not lock every socket while holding in->lock.
 */
void ine_registry_key_recheck(struct ine_net *in)
{
	lockdep_assert_held(&in->lock);
	in->key_check_due = true;
	mod_delayed_work(system_wq, &in->reaper, 0);
}

static void reaper_work(struct work_struct *work)
{
	struct ine_net *in = container_of(to_delayed_work(work),
					  struct ine_net, reaper);

	mutex_lock(&in->lock);
	ine_registry_reap(in);
	if (++in->reaper_runs % INE_KEY_CHECK_EVERY == 0 || in->key_check_due) {
		in->key_check_due = false;
		key_check_all(in);
	}
	if (in->count || !list_empty(&in->closing))
		reaper_kick(in);
	mutex_unlock(&in->lock);
}

void ine_registry_init(struct ine_net *in)
{
	mutex_init(&in->lock);
	xa_init_flags(&in->sessions, XA_FLAGS_ALLOC1);
	hash_init(in->by_sk);
	INIT_LIST_HEAD(&in->closing);
	in->generation = 1;
	in->key_warn_records = INE_KEY_WARN_RECORDS_DEFAULT;
	INIT_DELAYED_WORK(&in->reaper, reaper_work);
}

/* Namespace going away or module unloading: the genl family and the guard
 * hooks are gone, so only the reaper can still touch the registry. */
void ine_registry_exit(struct ine_net *in)
{
	struct ine_session *s, *tmp;
	struct hlist_node *n;
	unsigned long id;
	int bkt;

	cancel_delayed_work_sync(&in->reaper);
	mutex_lock(&in->lock);
	xa_for_each(&in->sessions, id, s)
		xa_erase(&in->sessions, id);
	list_for_each_entry_safe(s, tmp, &in->closing, closing)
		list_del_init(&s->closing);
	hash_for_each_safe(in->by_sk, bkt, n, s, by_sk_node) {
		hash_del_rcu(&s->by_sk_node);
		ine_session_destroy(s);
	}
	in->count = 0;
	mutex_unlock(&in->lock);
	xa_destroy(&in->sessions);
}
