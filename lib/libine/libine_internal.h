/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libine_internal.h - libine's private map.
 *
 *   ine.c  the broker client: ine_connect, ine_listen, ine_accept,
 *          ine_shutdown, ine_close, errors
 *   io.c   ine_read/ine_recv/ine_write: one meaning of "the end" in every
 *          mode (clean close_notify, truncation, TLS error)
 */
#ifndef INE_LIBINE_INTERNAL_H
#define INE_LIBINE_INTERNAL_H

/* io.c: forget what io.c learnt about fd (a new socket, or closed). */
void ine_fdstate_reset(int fd);

#endif
