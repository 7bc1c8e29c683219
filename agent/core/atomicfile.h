/* SPDX-License-Identifier: GPL-2.0 */
/* atomicfile.h — crash-safe small files.
 *
 * atomicfile_write() never leaves a half-written file under the final name:
 * it writes a temporary file in the same directory, fsyncs it, renames it
 * over the target and fsyncs the directory.  atomicfile_read() refuses
 * secrets (private keys) that others could read or that someone else owns.
 *
 * Crash tests: atomicfile_fault_arm(n) makes the n-th following "step"
 * (create, write, fsync, rename, fsync dir — and any step a caller declares
 * with atomicfile_step()) fail with -EIO without cleaning up, as if the
 * process died there.  A "write" step that fails writes half the data
 * first (a torn write). */
#ifndef INE_ATOMICFILE_H
#define INE_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int atomicfile_write(const char *dir, const char *name, const void *data,
		     size_t len, mode_t mode);
/* The same for a path: its directory ("." when it names none) and name. */
int atomicfile_write_path(const char *path, const void *data, size_t len,
			  mode_t mode);
/* fsync a directory (after creating/renaming entries in it). */
int atomicfile_fsync_dir(const char *dir);

/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated
 * buffer.  secret: refuse (-EACCES) unless a regular file owned by root or
 * our euid with no group/other permission bits.  why (optional) receives a
 * sentence naming the problem. */
int atomicfile_read(const char *path, size_t max, bool secret, char **buf,
		    size_t *len, char *why, size_t whylen);
/* Wipe and free a buffer from atomicfile_read(). */
void atomicfile_free(char *buf, size_t len);

/* Fault injection for crash-safety tests (see above).  n = 0 disarms. */
void atomicfile_fault_arm(int n);
/* Steps counted since the last arm (to learn how many a write takes). */
int atomicfile_fault_steps(void);
/* Declare a step; returns -EIO if it is the armed one. */
int atomicfile_step(const char *what);

#endif
