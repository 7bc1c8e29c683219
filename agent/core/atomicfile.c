// SPDX-License-Identifier: GPL-2.0
/* atomicfile.c — temp file + fsync + rename + fsync dir (see atomicfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/atomicfile.h"

static int fault_at;	/* fail the fault_at-th step; 0 = never */
static int fault_steps;

void atomicfile_fault_arm(int n)
{
	fault_at = n;
	fault_steps = 0;
}

int atomicfile_fault_steps(void)
{
	return fault_steps;
}

int atomicfile_step(const char *what)
{
	(void)what;
	fault_steps++;
	if (fault_at && fault_steps == fault_at)
		return -EIO;
	return 0;
}

int atomicfile_fsync_dir(const char *dir)
{
	int fd, ret = 0;

	if (atomicfile_step("fsync-dir"))
		return -EIO;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int atomicfile_write(const char *dir, const char *name, const void *data,
		     size_t len, mode_t mode)
{
	char tmp[4096], dst[4096];
	int fd, ret;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;

	if (atomicfile_step("create"))
		return -EIO;
	/* A leftover from a crashed writer is ours to replace. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	if (atomicfile_step("write")) {
		/* simulated crash mid-write: leave a torn temp file */
		write_all(fd, data, len / 2);
		close(fd);
		return -EIO;
	}
	ret = write_all(fd, data, len);
	if (ret)
		goto err_unlink;
	if (atomicfile_step("fsync")) {
		close(fd);
		return -EIO;
	}
	if (fsync(fd) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	if (close(fd) < 0) {
		ret = -errno;
		fd = -1;
		goto err_unlink;
	}
	fd = -1;
	if (atomicfile_step("rename"))
		return -EIO;
	if (rename(tmp, dst) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	return atomicfile_fsync_dir(dir);

err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

int atomicfile_write_path(const char *path, const void *data, size_t len,
			  mode_t mode)
{
	char *dup = strdup(path), *slash = dup ? strrchr(dup, '/') : NULL;
	int rc;

	if (!dup)
		rc = -ENOMEM;
	else if (!slash)
		rc = atomicfile_write(".", dup, data, len, mode);
	else if (slash == dup)
		rc = atomicfile_write("/", slash + 1, data, len, mode);
	else {
		*slash = '\0';
		rc = atomicfile_write(dup, slash + 1, data, len, mode);
	}
	free(dup);
	return rc;
}

int atomicfile_read(const char *path, size_t max, bool secret, char **bufp,
		    size_t *lenp, char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	if (why && whylen)
		why[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		if (why)
			snprintf(why, whylen, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		if (why)
			snprintf(why, whylen, "%s is not a regular file", path);
		goto out;
	}
	if (secret && (st.st_mode & 077)) {
		ret = -EACCES;
		if (why)
			snprintf(why, whylen,
				 "private key %s is accessible by group or others (mode %04o): it must be 0600",
				 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (secret && st.st_uid != 0 && st.st_uid != geteuid()) {
		ret = -EACCES;
		if (why)
			snprintf(why, whylen,
				 "private key %s is owned by uid %u, not root or us",
				 path, (unsigned)st.st_uid);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		ret = -EFBIG;
		if (why)
			snprintf(why, whylen, "%s is too large (%lld bytes, limit %zu)",
				 path, (long long)st.st_size, max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	close(fd);
	return 0;

out_free:
	atomicfile_free(buf, len);
out:
	close(fd);
	return ret;
}

void atomicfile_free(char *buf, size_t len)
{
	if (!buf)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}
