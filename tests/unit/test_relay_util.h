/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test fixture for the relay: two relay nodes (each a relay + a 3342-style
 * TLS listener + a plaintext listener) in one event_base on a thread, a
 * throwaway CA with node certificates made in memory, and a target server
 * (a thread per connection) speaking a tiny test protocol:
 *
 *   client sends: u8 op | u64 size | u32 seed   (big endian)
 *   'S' sink:    read to EOF, answer SHA-256 of what came, close
 *   'G' generate: send size bytes of prng(seed) in random-sized writes, close
 *   'E' echo:    echo to EOF, then half-close
 *   'R' reset:   close at once with RST
 *   'X' observe: read to EOF or error; record the outcome (tr_last_errno)
 *   'P' pause:   sleep size ms, then like 'S'
 */
#ifndef TEST_RELAY_UTIL_H
#define TEST_RELAY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "tls/listener.h"
#include "dp/relay.h"

enum tr_suite {
	TR_TLS12_AES128, TR_TLS12_AES256, TR_TLS13_AES128, TR_TLS13_AES256,
	TR_NSUITES
};
extern const char *const tr_suite_name[TR_NSUITES];

struct tr_node {
	uint32_t id;
	struct relay *r;
	struct listener *l;
	SSL_CTX *sctx, *cctx;
	uint16_t dp_port, plain_port;
};

struct tr_env {
	struct event_base *base;
	struct tr_node n[2];
	uint16_t target_port;	/* the target server, on 127.0.0.1 */
	uint16_t route_port[4];	/* node 1's route listeners (see tr_config) */
	bool enc[3];		/* db 1, 2 encryption (index by db id) */
};

/* Routes on node 1 (to node 2), by index in route_port[]:
 * 0: db 1 -> "t1" (allowed)     1: db 1 -> "nope" (not on node 2's list)
 * 2: db 2 -> "t2" (allowed)     3: db 9 -> "t9" (db unknown on node 2) */
enum { TR_RT_DB1, TR_RT_NOTALLOWED, TR_RT_DB2, TR_RT_UNKNOWNDB };

/* The last session-hook "up" per node (read via tr_call for ordering). */
struct tr_session {
	unsigned int ups, downs;
	uint32_t db, peer;
	enum relay_mode mode;
	bool tls;
	int fd;		/* the TLS (or plaintext middle) leg */
	size_t rx_secret_len;	/* TLS 1.3 RX secret still held at "up" */
};
extern struct tr_session tr_sessions[2];

/* Before tr_setup: relays that never install kernel TLS (benchmarks). */
extern bool tr_software_only;
/* Set up/tear down; suite selects node 1's client TLS version/cipher. */
void tr_setup(struct tr_env *e, enum tr_suite suite, bool db1_enc, bool db2_enc);
void tr_teardown(struct tr_env *e);
/* (Re)apply both nodes' configuration from e->enc[]; returns 0 or error. */
int tr_config(struct tr_env *e);
/* Run fn(arg) on the loop thread and wait for it. */
void tr_call(struct tr_env *e, void (*fn)(void *), void *arg);
void tr_stats(struct tr_env *e, int node, struct relay_stats *st);
/* Where node idx's data plane is said to be (takes effect at tr_config). */
void tr_set_node_dp_port(int idx, uint16_t port);

/* Client side helpers (blocking sockets). */
int tr_connect(uint16_t port);
/* From source address src (e.g. "127.0.0.2": a stranger to the listener). */
int tr_connect_from(uint16_t port, const char *src);
struct listener;
void tr_members_to(struct listener *l);
int tr_send_op(int fd, char op, uint64_t size, uint32_t seed);
int tr_write_all(int fd, const void *buf, size_t len);
ssize_t tr_read_full(int fd, void *buf, size_t len); /* until len or EOF */
void tr_prng_fill(uint64_t *state, uint8_t *buf, size_t len);
uint16_t tr_free_port(void);

/* Outcome of the last 'X' connection: 0 clean EOF, else errno; -1 none. */
int tr_last_errno(void);
void tr_reset_observed(void);

#endif
