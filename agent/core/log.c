// SPDX-License-Identifier: GPL-2.0
/* log.c — stderr logging with journald priority prefixes (see log.h). */
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

static int max_level = LOG_LVL_INFO;
static const char *ident = "ined";
static log_sink_fn sink;
static void *sink_arg;

static const char *level_name(int level)
{
	switch (level) {
	case LOG_LVL_ERR:	return "error";
	case LOG_LVL_WARN:	return "warning";
	case LOG_LVL_INFO:	return "info";
	default:		return "debug";
	}
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level > max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (sink) {
		sink(level, line, sink_arg);
		return;
	}
	if (getenv("INVOCATION_ID") || getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "%s: %s: %s\n", ident, level_name(level), line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_set_level(int level)
{
	max_level = level;
}

void log_set_ident(const char *name)
{
	ident = name ? name : "ined";
}

void log_set_sink(log_sink_fn fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}
