/* SPDX-License-Identifier: GPL-2.0 */
/* The session registry: which sockets of a namespace are internode
 * sessions, and what their sockets say about them right now. */
#ifndef INE_SESSION_H
#define INE_SESSION_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable-types.h>
#include <linux/ine.h>

struct ine_net;
struct sock;
struct netlink_ext_ack;

struct ine_tuple {
	u16 family;
	u16 sport, dport;
	u8 saddr[16], daddr[16];
};

/* Read from the socket at query time, never stored. */
struct ine_live {
	struct ine_tuple t;
	u8 tcp_state;
	u64 bytes_sent, bytes_received;
	bool tls;
	u16 version, cipher;
	u8 tx_conf, rx_conf;
	bool has_tx_seq, has_rx_seq;
	u64 tx_seq, rx_seq;
};

struct ine_session {
	struct rhash_head by_sk_node;	/* ine_net.by_sk */
	/* by_sk's key: sk itself, but for the bench's stand-ins (testing.c),
	 * which share one socket and so need keys of their own */
	const void *key;
	struct list_head closing;	/* ine_net.closing, once closed */
	struct sock *sk;		/* counted reference (sock_hold) */
	u32 id;
	u8 plane, state;
	bool key_warned;
	bool tx_seen;			/* guard saw kernel TLS TX: latched */
	u32 db_id, peer_node_id;
	u64 cert_expiry;
	u64 added_ns;			/* boottime */
	char peer_name[INE_NAME_LEN];
	char cert_serial[INE_SERIAL_LEN];
	struct rcu_head rcu;
};

int ine_registry_init(struct ine_net *in);
void ine_registry_exit(struct ine_net *in);

struct ine_session *ine_session_create(struct sock *sk);
void ine_session_destroy(struct ine_session *s);
int ine_session_insert(struct ine_net *in, struct ine_session *s);
void ine_session_remove(struct ine_net *in, struct ine_session *s, u8 reason);
void ine_session_changed(struct ine_net *in);
struct ine_session *ine_session_by_id(struct ine_net *in, u32 id);
struct ine_session *ine_session_by_sk(struct ine_net *in, struct sock *sk);
bool ine_session_dead(const struct ine_session *s);
int ine_session_read_live(struct ine_session *s, struct ine_live *l);
bool ine_session_key_check(struct ine_net *in, struct ine_session *s,
			   const struct ine_live *l);
void ine_session_announce(struct ine_net *in, struct ine_session *s, u8 cmd,
			  u8 reason);
bool ine_session_key_past(const struct ine_net *in, const struct ine_live *l);
int ine_session_verify_ktls(struct sock *sk, struct netlink_ext_ack *extack);
void ine_registry_key_recheck(struct ine_net *in);
/* By by_sk key (the socket, for every session but the bench's stand-ins):
 * under RCU (the guard), or under in->lock, live or closing. */
struct ine_session *ine_registry_find_rcu(struct ine_net *in, const void *key);
struct ine_session *ine_registry_find_key(struct ine_net *in, const void *key);

#endif
