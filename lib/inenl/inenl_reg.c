// SPDX-License-Identifier: GPL-2.0
/* inenl_reg.c — the process's own record of its ine.ko registrations
 * (see inenl_reg.h).  A flat array: an agent holds at most a few thousand
 * sessions per handle and every operation is already a netlink round trip,
 * which costs far more than the scan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inenl/inenl_reg.h"

static struct inenl_reg_entry *find(struct inenl_reg *r, uint32_t id, int fd)
{
	for (size_t i = 0; i < r->n; i++)
		if (id ? r->e[i].id == id : r->e[i].fd == fd)
			return &r->e[i];
	return NULL;
}

static void merge(struct inenl_reg_entry *e, const struct inenl_session_add *a)
{
	if (a->plane)
		e->plane = a->plane;
	if (a->state)
		e->state = a->state;
	if (a->db_id)
		e->db_id = a->db_id;
	if (a->peer_node_id)
		e->peer_node_id = a->peer_node_id;
	if (a->cert_expiry)
		e->cert_expiry = a->cert_expiry;
	if (a->peer_name)
		snprintf(e->peer_name, sizeof(e->peer_name), "%s", a->peer_name);
	if (a->cert_serial)
		snprintf(e->cert_serial, sizeof(e->cert_serial), "%s", a->cert_serial);
}

static ino_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

int inenl_reg_add(struct inenl_reg *r, const struct inenl_session_add *a, uint32_t id)
{
	struct inenl_reg_entry *e = find(r, 0, a->fd);

	if (!e) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 64;
			struct inenl_reg_entry *ne = realloc(r->e, cap * sizeof(*ne));

			if (!ne)
				return -ENOMEM;
			r->e = ne;
			r->cap = cap;
		}
		e = &r->e[r->n++];
	}
	memset(e, 0, sizeof(*e));
	e->fd = a->fd;
	e->ino = fd_ino(a->fd);
	e->id = id;
	merge(e, a);
	return 0;
}

void inenl_reg_update(struct inenl_reg *r, uint32_t id, int fd,
		      const struct inenl_session_add *a)
{
	struct inenl_reg_entry *e = find(r, id, fd);

	if (e)
		merge(e, a);
}

void inenl_reg_drop(struct inenl_reg *r, size_t i)
{
	r->e[i] = r->e[--r->n];
}

void inenl_reg_del(struct inenl_reg *r, uint32_t id, int fd)
{
	struct inenl_reg_entry *e = find(r, id, fd);

	if (e)
		inenl_reg_drop(r, (size_t)(e - r->e));
}

bool inenl_reg_alive(const struct inenl_reg_entry *e)
{
	return e->ino && fd_ino(e->fd) == e->ino;
}

void inenl_reg_as_add(const struct inenl_reg_entry *e, struct inenl_session_add *a)
{
	memset(a, 0, sizeof(*a));
	a->fd = e->fd;
	a->plane = e->plane;
	a->state = e->state;
	a->db_id = e->db_id;
	a->peer_node_id = e->peer_node_id;
	a->cert_expiry = e->cert_expiry;
	a->peer_name = e->peer_name[0] ? e->peer_name : NULL;
	a->cert_serial = e->cert_serial[0] ? e->cert_serial : NULL;
}

void inenl_reg_free(struct inenl_reg *r)
{
	free(r->e);
	memset(r, 0, sizeof(*r));
}
