/* SPDX-License-Identifier: GPL-2.0 */
/* inenl's private map.  Calls point one way, down:
 *   inenl_status.c  totals, configuration, events, names
 *   inenl.c         sessions; what this process registered and the replay
 *                   after a module reload (inenl_reg.c keeps the record)
 *   inenl_msg.c     the socket, one request and its answer, attributes
 * inenl_status.c uses inenl.c (requests that survive a reload, the guard
 * it remembers) and inenl_msg.c; inenl.c uses inenl_msg.c only. */
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

/* inenl_msg.c: attribute readers (lengths checked; 0 or "" when absent) */
uint32_t inenl_attr_u32(const struct nlattr *a);
uint64_t inenl_attr_u64(const struct nlattr *a);
void inenl_attr_str(char *dst, size_t n, const struct nlattr *a);
int inenl_parse_session(struct nlattr *nest, struct inenl_session *s);
void inenl_parse_guard(struct nlattr *nest, struct inenl_guard *g);
/* inenl_msg.c: a GET_TOTALS answer into *t: 1 if it carried the guard,
 * 0 if not, -EINVAL if unreadable */
int inenl_parse_totals(struct nl_msg *msg, struct inenl_totals *t);
/* inenl_msg.c: libnl error -> negative errno */
int inenl_errno(int nlerr);
/* inenl_msg.c: a request for cmd, and one send of it (not freed) read to
 * its ACK, error or dump end; the kernel's errno or the callback's stop */
struct nl_msg *inenl_msg_new(struct inenl *nl, uint8_t cmd, int flags);
int inenl_msg_send(struct inenl *nl, struct nl_msg *msg,
		   nl_recvmsg_msg_cb_t valid, void *arg);
/* inenl_msg.c: SET_CONFIG with the guard's mode (-1: unchanged) and ports
 * and the key-usage threshold (0: unchanged); -ENOMEM or -EMSGSIZE */
int inenl_msg_config(struct inenl *nl, int mode, const uint16_t *ports,
		     unsigned int nports, uint64_t key_warn_records,
		     struct nl_msg **out);

/* inenl.c: sends msg (consumed) through inenl_msg_send(), and re-sends
 * once after a replay if the family changed (module reload) */
int inenl_request(struct inenl *nl, struct nl_msg *msg,
		  nl_recvmsg_msg_cb_t valid, void *arg);
/* inenl.c: the guard this process last saw or set, for the replay */
void inenl_guard_remember(int mode, const uint16_t *ports, unsigned int n);

#endif
