// SPDX-License-Identifier: GPL-2.0
/* test_inenl_reg.c — the record inenl keeps to register sessions again
 * after an ine.ko reload: merges, deletes, and never mistakes a reused fd
 * number for the socket that was registered. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inenl/inenl_reg.h"

static int sock(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	return fd;
}

Test(inenl_reg, add_update_replay_fields)
{
	struct inenl_reg r = { 0 };
	struct inenl_session_add a = { .plane = 2, .state = 1, .db_id = 7,
				       .peer_node_id = 3, .peer_name = "n3" };
	struct inenl_session_add out;
	int fd = sock();

	a.fd = fd;
	cr_assert_eq(inenl_reg_add(&r, &a, 41), 0);
	/* A later update names only what changed. */
	struct inenl_session_add u = { .fd = fd, .state = 2, .cert_serial = "AB12",
				       .cert_expiry = 1800000000 };
	inenl_reg_update(&r, 0, fd, &u);
	cr_assert_eq(r.n, 1);
	cr_assert(inenl_reg_alive(&r.e[0]));
	inenl_reg_as_add(&r.e[0], &out);
	cr_expect_eq(out.fd, fd);
	cr_expect_eq(out.plane, 2);
	cr_expect_eq(out.state, 2);
	cr_expect_eq(out.db_id, 7);
	cr_expect_eq(out.peer_node_id, 3);
	cr_expect_str_eq(out.peer_name, "n3");
	cr_expect_str_eq(out.cert_serial, "AB12");
	cr_expect_eq(out.cert_expiry, 1800000000);
	/* By id too (the kernel's id, refreshed on replay). */
	struct inenl_session_add u2 = { .peer_node_id = 4 };
	inenl_reg_update(&r, 41, -1, &u2);
	cr_expect_eq(r.e[0].peer_node_id, 4);
	inenl_reg_del(&r, 0, fd);
	cr_expect_eq(r.n, 0);
	close(fd);
	inenl_reg_free(&r);
}

Test(inenl_reg, reused_fd_number_is_not_alive)
{
	struct inenl_reg r = { 0 };
	struct inenl_session_add a = { .plane = 1 };
	int fd = sock(), fd2;

	a.fd = fd;
	cr_assert_eq(inenl_reg_add(&r, &a, 1), 0);
	close(fd);
	cr_expect(!inenl_reg_alive(&r.e[0]), "a closed fd is not alive");
	/* The lowest free number comes back: another socket, same fd. */
	fd2 = sock();
	cr_assert_eq(fd2, fd);
	cr_expect(!inenl_reg_alive(&r.e[0]),
		  "the same number for another socket must not count as the registered one");
	/* A non-socket under the number is not alive either. */
	close(fd2);
	cr_assert_eq(dup2(STDIN_FILENO, fd), fd);
	cr_expect(!inenl_reg_alive(&r.e[0]));
	close(fd);
	inenl_reg_free(&r);
}

Test(inenl_reg, add_replaces_stale_entry_and_grows)
{
	struct inenl_reg r = { 0 };
	struct inenl_session_add a = { .plane = 1, .peer_name = "old" };
	int fds[200];

	for (int i = 0; i < 200; i++) {
		fds[i] = sock();
		a.fd = fds[i];
		cr_assert_eq(inenl_reg_add(&r, &a, (uint32_t)i + 1), 0);
	}
	cr_assert_eq(r.n, 200);
	/* Same fd registered again (the old socket closed without a delete):
	 * one entry, the new fields only. */
	struct inenl_session_add b = { .fd = fds[5], .plane = 2 };
	cr_assert_eq(inenl_reg_add(&r, &b, 999), 0);
	cr_expect_eq(r.n, 200);
	for (size_t i = 0; i < r.n; i++)
		if (r.e[i].fd == fds[5]) {
			cr_expect_eq(r.e[i].id, 999);
			cr_expect_eq(r.e[i].plane, 2);
			cr_expect_str_eq(r.e[i].peer_name, "");
		}
	inenl_reg_drop(&r, 0);
	cr_expect_eq(r.n, 199);
	for (int i = 0; i < 200; i++)
		close(fds[i]);
	inenl_reg_free(&r);
}
