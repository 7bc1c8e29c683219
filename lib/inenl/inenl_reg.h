/* SPDX-License-Identifier: GPL-2.0 */
/* inenl_reg.h — what this process registered with ine.ko, so it can be
 * registered again after the module is reloaded.  `rmmod ine; modprobe ine`
 * empties the kernel's registry while the agent's sockets stay up; without
 * a replay they would vanish from status and, in software mode, a guard in
 * enforce mode would drop them.  Keyed by fd, with the socket's inode so a
 * number reused for another socket is never registered in its place.
 * Internal to inenl.c. */
#ifndef INE_INENL_REG_H
#define INE_INENL_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "inenl/inenl.h"

struct inenl_reg_entry {
	int fd;
	ino_t ino;		/* the socket's inode when registered */
	uint32_t id;		/* ine.ko's id for it (changes on replay) */
	uint8_t plane, state;
	uint32_t db_id, peer_node_id;
	uint64_t cert_expiry;
	char peer_name[INE_NAME_LEN];
	char cert_serial[INE_SERIAL_LEN];
};

struct inenl_reg {
	struct inenl_reg_entry *e;
	size_t n, cap;
};

/* Remember a successful add (replaces a stale entry for the same fd).
 * -ENOMEM leaves the registry as it was; the session is registered in the
 * kernel regardless, it only would not survive a reload. */
int inenl_reg_add(struct inenl_reg *r, const struct inenl_session_add *a, uint32_t id);
/* Merge a successful update (id, or fd when id is 0): given fields replace. */
void inenl_reg_update(struct inenl_reg *r, uint32_t id, int fd,
		      const struct inenl_session_add *a);
void inenl_reg_del(struct inenl_reg *r, uint32_t id, int fd);
/* The entry's socket is still the one registered (same fd, same inode). */
bool inenl_reg_alive(const struct inenl_reg_entry *e);
/* Entry i as the add request that registers it again. */
void inenl_reg_as_add(const struct inenl_reg_entry *e, struct inenl_session_add *a);
/* Drop entry i (the order of the rest may change). */
void inenl_reg_drop(struct inenl_reg *r, size_t i);
void inenl_reg_free(struct inenl_reg *r);

#endif
