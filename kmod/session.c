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
 * made after close() shows it. The reaper (a delayed work while sessions
 * exist; reads change no state) then takes it out of the id index, counts
 * it removed and announces it down.
 *
 * The reaper polls, in bounded slices. Nothing tells a module that a socket
 * closed: we install no callback into sockets (see above), and Linux 6.1
 * exports no socket state tracepoint to modules (inet_sock_set_state is not
 * in Module.symvers); a close of a socket already in TCP_CLOSE changes no
 * state anyway. So each run looks at no more than INE_REAP_SLICE sessions
 * (a flag read each) and locks no more than INE_KEY_SLICE sockets for the
 * key-usage check, resuming from a cursor, and holds in->lock that long
 * only. A pass over every session starts a second after the previous one
 * ended, a key-usage pass every INE_KEY_PASS_EVERY; slices of a pass run
 * INE_REAP_SLICE_GAP apart. The latencies this gives are in the uAPI header
 * (INE_TOTALS_A_REMOVED, INE_CMD_EVENT_KEY_USAGE). Until the orphaned socket reaches
 * TCP_CLOSE it may still be sending its queued (already encrypted) bytes;
 * it stays in the by_sk hash meanwhile ("closing") so the guard lets those
 * bytes out, then our reference is dropped.
 *
 * Locking. in->lock (a mutex) covers every change and every reader but the
 * guard; lock_sock() nests inside it to read a socket. The guard reads the
 * by_sk rhashtable under RCU only and compares pointers, so an entry and its
 * socket reference are released only after a grace period. The table
 * resizes itself (a deferred work of rhashtable's own), so a lookup walks
 * about one entry whatever the number of sessions.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/net.h>
#include <linux/rhashtable.h>
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

#define INE_REAP_INTERVAL	HZ		/* between passes */
#define INE_REAP_SLICE_GAP	(HZ / 10)	/* between slices of a pass */
#define INE_REAP_SLICE		16384		/* sessions per run */
#define INE_KEY_SLICE		4096		/* sockets locked per run */
#define INE_KEY_PASS_EVERY	(5 * HZ)

static const struct rhashtable_params by_sk_params = {
	.key_len = sizeof(void *),
	.key_offset = offsetof(struct ine_session, key),
	.head_offset = offsetof(struct ine_session, by_sk_node),
	.automatic_shrinking = true,
};

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
	s->key = sk;
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

/* Under in->lock (the only writer, so the entry stays) or RCU. */
static struct ine_session *by_sk_find(struct ine_net *in, const void *key)
{
	return rhashtable_lookup_fast(&in->by_sk, &key, by_sk_params);
}

static void reaper_kick(struct ine_net *in)
{
	schedule_delayed_work(&in->reaper, INE_REAP_INTERVAL);
}

int ine_session_insert(struct ine_net *in, struct ine_session *s)
{
	int ret;

	lockdep_assert_held(&in->lock);
	if (by_sk_find(in, s->key))
		return -EEXIST;
	if (in->count >= INE_MAX_SESSIONS)
		return -ENOSPC;
	ret = xa_alloc_cyclic(&in->sessions, &s->id, s,
			      XA_LIMIT(1, U32_MAX), &in->next_id, GFP_KERNEL);
	if (ret < 0)
		return ret;
	/* Can fail while the table grows (-ENOMEM, -EBUSY): nothing of the
	 * session is visible yet, so undo the id and report it. */
	ret = rhashtable_insert_fast(&in->by_sk, &s->by_sk_node, by_sk_params);
	if (ret) {
		xa_erase(&in->sessions, s->id);
		return ret == -EBUSY ? -ENOMEM : ret;
	}
	in->count++;
	in->added++;
	generation_bump(in);
	reaper_kick(in);
	ine_session_announce(in, s, INE_CMD_EVENT_SESSION_UP, 0);
	return 0;
}

static void release(struct ine_net *in, struct ine_session *s)
{
	rhashtable_remove_fast(&in->by_sk, &s->by_sk_node, by_sk_params);
	if (!list_empty(&s->closing)) {
		list_del(&s->closing);
		in->n_closing--;
	}
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
	if (reason == INE_DOWN_CLOSED && READ_ONCE(s->sk->sk_state) != TCP_CLOSE) {
		list_add_tail(&s->closing, &in->closing);
		in->n_closing++;
	} else {
		release(in, s);
	}
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

struct ine_session *ine_registry_find_rcu(struct ine_net *in, const void *key)
{
	return rhashtable_lookup(&in->by_sk, &key, by_sk_params);
}

struct ine_session *ine_registry_find_key(struct ine_net *in, const void *key)
{
	lockdep_assert_held(&in->lock);
	return by_sk_find(in, key);
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

/* One slice of the pass over closed sockets; whether the pass goes on. */
static bool reap_slice(struct ine_net *in)
{
	unsigned long id;
	unsigned int n = 0;
	struct ine_session *s;

	xa_for_each_start(&in->sessions, id, s, in->reap_cursor) {
		if (ine_session_dead(s))
			ine_session_remove(in, s, INE_DOWN_CLOSED);
		if (++n == INE_REAP_SLICE) {
			in->reap_cursor = id + 1;
			return true;
		}
	}
	in->reap_cursor = 0;
	return false;
}

/* Closed sessions whose socket is done sending leave the guard's hash;
 * the ones still sending go to the back, so a slice sees each in turn. */
static bool closing_slice(struct ine_net *in)
{
	unsigned int n = min(in->n_closing, (unsigned int)INE_REAP_SLICE);
	struct ine_session *s;

	while (n--) {
		s = list_first_entry(&in->closing, struct ine_session, closing);
		if (READ_ONCE(s->sk->sk_state) == TCP_CLOSE)
			release(in, s);
		else
			list_move_tail(&s->closing, &in->closing);
	}
	return in->n_closing > INE_REAP_SLICE;
}

/* One slice of the key-usage pass (a socket lock each, for the record
 * sequence numbers); whether the pass goes on. */
static bool key_slice(struct ine_net *in)
{
	unsigned long id;
	unsigned int n = 0;
	struct ine_session *s;
	struct ine_live l;

	xa_for_each_start(&in->sessions, id, s, in->key_cursor) {
		if (!s->key_warned && !ine_session_read_live(s, &l))
			ine_session_key_check(in, s, &l);
		if (++n == INE_KEY_SLICE) {
			in->key_cursor = id + 1;
			return true;
		}
	}
	in->key_cursor = 0;
	return false;
}

/*
 * A new threshold is checked against every session now rather than at the
 * next periodic pass (a pass under way starts over); the reaper does it so
 * that the command that set it does not lock every socket while holding
 * in->lock.
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
	bool more;

	mutex_lock(&in->lock);
	more = reap_slice(in);
	more |= closing_slice(in);
	if (in->key_check_due ||
	    (!in->key_pass && time_after_eq(jiffies, in->key_next))) {
		in->key_check_due = false;
		in->key_pass = true;
		in->key_cursor = 0;
		in->key_next = jiffies + INE_KEY_PASS_EVERY;
	}
	if (in->key_pass)
		in->key_pass = key_slice(in);
	more |= in->key_pass;
	if (in->count || in->n_closing)
		schedule_delayed_work(&in->reaper, more ? INE_REAP_SLICE_GAP :
							  INE_REAP_INTERVAL);
	mutex_unlock(&in->lock);
}

int ine_registry_init(struct ine_net *in)
{
	int ret = rhashtable_init(&in->by_sk, &by_sk_params);

	if (ret)
		return ret;
	mutex_init(&in->lock);
	xa_init_flags(&in->sessions, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&in->closing);
	in->generation = 1;
	in->key_warn_records = INE_KEY_WARN_RECORDS_DEFAULT;
	in->key_next = jiffies + INE_KEY_PASS_EVERY;
	INIT_DELAYED_WORK(&in->reaper, reaper_work);
	return 0;
}

static void free_entry(void *ptr, void *arg)
{
	ine_session_destroy(ptr);
}

/*
 * Namespace going away or module unloading: the genl family and the guard
 * hooks are gone (nf_unregister_net_hooks() waited for the hook's readers),
 * so only the reaper can still touch the registry. Every session, live or
 * closing, is in by_sk; freeing the table frees them (after a grace period,
 * ine_session_destroy()).
 */
void ine_registry_exit(struct ine_net *in)
{
	struct ine_session *s, *tmp;
	unsigned long id;

	cancel_delayed_work_sync(&in->reaper);
	mutex_lock(&in->lock);
	xa_for_each(&in->sessions, id, s)
		xa_erase(&in->sessions, id);
	list_for_each_entry_safe(s, tmp, &in->closing, closing)
		list_del_init(&s->closing);
	in->n_closing = 0;
	in->count = 0;
	mutex_unlock(&in->lock);
	rhashtable_free_and_destroy(&in->by_sk, free_entry, NULL);
	xa_destroy(&in->sessions);
	mutex_destroy(&in->lock);
}
