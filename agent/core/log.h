/* SPDX-License-Identifier: GPL-2.0 */
/* log.h — tiny printf-style logging to stderr.
 *
 * Under systemd (INVOCATION_ID or JOURNAL_STREAM set) each line starts with
 * a "<N>" syslog priority prefix, which journald turns into the entry's
 * priority; otherwise lines read "ined: warning: ...".  Never pass secrets. */
#ifndef INE_LOG_H
#define INE_LOG_H

#include <stdarg.h>

/* syslog priorities */
#define LOG_LVL_ERR	3
#define LOG_LVL_WARN	4
#define LOG_LVL_INFO	6
#define LOG_LVL_DEBUG	7

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Lines above this level are dropped (default LOG_LVL_INFO). */
void log_set_level(int level);
/* Program name for non-journal output (default "ined"). */
void log_set_ident(const char *ident);
/* Tests / embedding: receive each formatted line instead of stderr
 * (NULL restores stderr). */
typedef void (*log_sink_fn)(int level, const char *line, void *arg);
void log_set_sink(log_sink_fn fn, void *arg);

#endif
