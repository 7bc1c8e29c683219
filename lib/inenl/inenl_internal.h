/* SPDX-License-Identifier: MIT */
/* inenl's private map: what inenl.c (requests, sessions, the replay after
 * a module reload) gives inenl_status.c (totals, config, events, names). */
#ifndef INENL_INTERNAL_H
#define INENL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netlink/netlink.h>
#include "inenl/inenl.h"

struct inenl {
	struct nl_sock *sk;
	int family;
	/* state of the request in flight */
	int err;		/* kernel's errno (negative) from the ACK */
	bool done, intr, stopped;
	int cb_ret;
	char errmsg[256];
};

/* inenl.c: attribute readers (lengths checked; 0 or "" when absent) */
uint32_t inenl_attr_u32(const struct nlattr *a);
uint64_t inenl_attr_u64(const struct nlattr *a);
void inenl_attr_str(char *dst, size_t n, const struct nlattr *a);
int inenl_parse_session(struct nlattr *nest, struct inenl_session *s);
void inenl_parse_guard(struct nlattr *nest, struct inenl_guard *g);
/* inenl.c: libnl error -> negative errno */
int inenl_errno(int nlerr);
/* inenl.c: a request for cmd; inenl_request() sends it, frees it, and
 * re-sends once after a replay if the family changed (module reload). */
struct nl_msg *inenl_msg_new(struct inenl *nl, uint8_t cmd, int flags);
int inenl_request(struct inenl *nl, struct nl_msg *msg,
		  nl_recvmsg_msg_cb_t valid, void *arg);
/* inenl.c: the guard this process last saw or set, for the replay */
void inenl_guard_remember(int mode, const uint16_t *ports, unsigned int n);
bool inenl_replaying(void);

#endif
