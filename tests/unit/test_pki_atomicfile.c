// SPDX-License-Identifier: GPL-2.0
/* test_pki_atomicfile.c — atomic writes, secret-file checks, the movable
 * clock and the log helper (the small pieces the PKI stands on). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/log.h"
#include "testpki.h"

static char *dir;

static void setup(void)
{
	dir = tp_tmpdir();
}

static void teardown(void)
{
	atomicfile_fault_arm(0);
	tp_rmrf(dir);
	free(dir);
}

TestSuite(atomicfile, .init = setup, .fini = teardown);

static char *path(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

Test(atomicfile, write_read_and_modes)
{
	struct stat sb;
	char *buf;
	size_t len;

	cr_assert_eq(atomicfile_write(dir, "k", "secret", 6, 0600), 0);
	cr_assert_eq(stat(path("k"), &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	cr_assert_eq(atomicfile_read(path("k"), 100, true, &buf, &len, NULL, 0), 0);
	cr_expect_eq(len, 6);
	cr_expect_str_eq(buf, "secret");
	atomicfile_free(buf, len);
	cr_assert_eq(atomicfile_write(dir, "k", "other", 5, 0600), 0, "replace");
	cr_assert_eq(atomicfile_read(path("k"), 100, true, &buf, &len, NULL, 0), 0);
	cr_expect_str_eq(buf, "other");
	atomicfile_free(buf, len);
	cr_expect_eq(access(path(".k.tmp"), F_OK), -1, "no temp file left");
}

Test(atomicfile, secrets_refused_when_others_can_read)
{
	char why[256], *buf = NULL;
	size_t len;

	cr_assert_eq(atomicfile_write(dir, "k", "secret", 6, 0644), 0);
	cr_expect_eq(atomicfile_read(path("k"), 100, true, &buf, &len, why, sizeof(why)), -EACCES);
	cr_expect_not_null(strstr(why, "is accessible by group or others (mode 0644): it must be 0600"), "%s", why);
	cr_expect_null(buf);
	cr_expect_eq(atomicfile_read(path("k"), 100, false, &buf, &len, why, sizeof(why)), 0,
		     "fine for a certificate");
	atomicfile_free(buf, len);
	chmod(path("k"), 0660);
	cr_expect_eq(atomicfile_read(path("k"), 100, true, &buf, &len, why, sizeof(why)), -EACCES);
}

Test(atomicfile, secrets_refused_when_owned_by_someone_else)
{
	char why[256], *buf = NULL;
	size_t len;

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	cr_assert_eq(atomicfile_write(dir, "k", "secret", 6, 0600), 0);
	cr_assert_eq(chown(path("k"), 12345, 12345), 0);
	cr_expect_eq(atomicfile_read(path("k"), 100, true, &buf, &len, why, sizeof(why)), -EACCES);
	cr_expect_not_null(strstr(why, "is owned by uid 12345, not root or us"), "%s", why);
}

Test(atomicfile, limits_symlinks_and_missing)
{
	char why[256], *buf = NULL;
	size_t len;

	cr_assert_eq(atomicfile_write(dir, "big", "0123456789", 10, 0644), 0);
	cr_expect_eq(atomicfile_read(path("big"), 9, false, &buf, &len, why, sizeof(why)), -EFBIG);
	cr_expect_not_null(strstr(why, "is too large (10 bytes, limit 9)"));
	cr_assert_eq(symlink("big", path("link")), 0);
	cr_expect_eq(atomicfile_read(path("link"), 100, false, &buf, &len, why, sizeof(why)), -ELOOP,
		     "the final component is never followed");
	cr_expect_eq(atomicfile_read(path("none"), 100, false, &buf, &len, why, sizeof(why)), -ENOENT);
	cr_expect_not_null(strstr(why, "cannot open"));
}

Test(atomicfile, a_crash_at_any_step_keeps_old_or_new)
{
	char *buf;
	size_t len;
	int steps;

	cr_assert_eq(atomicfile_write(dir, "f", "old contents", 12, 0600), 0);
	atomicfile_fault_arm(0);
	cr_assert_eq(atomicfile_write(dir, "g", "x", 1, 0600), 0);
	steps = atomicfile_fault_steps();
	cr_expect_eq(steps, 5, "create, write, fsync, rename, fsync-dir");
	for (int n = 1; n <= steps; n++) {
		atomicfile_fault_arm(n);
		int ret = atomicfile_write(dir, "f", "new contents!", 13, 0600);

		atomicfile_fault_arm(0);
		cr_assert_eq(atomicfile_read(path("f"), 100, true, &buf, &len, NULL, 0), 0);
		if (n <= 4) {	/* up to the rename */
			cr_expect_eq(ret, -EIO);
			cr_expect_str_eq(buf, "old contents", "step %d", n);
		} else {
			cr_expect_str_eq(buf, "new contents!", "step %d", n);
		}
		atomicfile_free(buf, len);
		cr_assert_eq(atomicfile_write(dir, "f", "old contents", 12, 0600), 0,
			     "a torn temp file does not block the next write");
	}
}

Test(clock, moves_for_tests)
{
	time_t real = time(NULL);

	clock_reset();
	cr_expect_leq(labs(clock_now() - real), 2);
	clock_set_fixed(T0);
	cr_expect_eq(clock_now(), T0);
	clock_advance(45 * DAY);
	cr_expect_eq(clock_now(), T0 + 45 * DAY);
	clock_set_offset(10 * DAY);
	cr_expect_leq(labs(clock_now() - (real + 10 * DAY)), 2);
	clock_advance(DAY);
	cr_expect_leq(labs(clock_now() - (real + 11 * DAY)), 2);
	clock_reset();
	cr_expect_leq(labs(clock_now() - real), 2);
}

Test(log, plain_prefix, .init = cr_redirect_stderr)
{
	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
	log_set_level(LOG_LVL_INFO);
	log_warn("disk %s is %d%% full", "sda", 91);
	log_debug("not shown");
	fflush(stderr);
	cr_expect_stderr_eq_str("ined: warning: disk sda is 91% full\n");
}

Test(log, journald_priority_prefix, .init = cr_redirect_stderr)
{
	setenv("INVOCATION_ID", "0123", 1);
	log_err("boom");
	log_info("hello");
	fflush(stderr);
	cr_expect_stderr_eq_str("<3>boom\n<6>hello\n");
}
