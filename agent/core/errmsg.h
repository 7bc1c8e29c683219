/* SPDX-License-Identifier: GPL-2.0 */
/* errmsg.h — the one failure formatter: most of the agent's functions
 * return a negative errno and write a sentence naming the problem into a
 * caller's buffer (char *err, size_t errlen). */
#ifndef INE_ERRMSG_H
#define INE_ERRMSG_H

#include <stddef.h>

/* Format the sentence into err (when err and errlen are non-zero) and
 * return rc, so that a failure is one line: return errmsg_fail(...). */
int errmsg_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* INE_ERRMSG_H */
