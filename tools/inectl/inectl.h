/* SPDX-License-Identifier: GPL-2.0 */
/* inectl — the operator's CLI. Every subcommand is one file exporting
 *
 *	int inectl_<name>(int argc, char *argv[]);
 *
 * (argv[0] is the subcommand's name; returns the exit status), and one line
 * in INECTL_COMMANDS in main.c registers it. */
#ifndef INE_INECTL_H
#define INE_INECTL_H

#include <stdbool.h>
#include <stdint.h>

#define INECTL_HANDLER(name) int inectl_##name(int argc, char *argv[])

/* show.c */
INECTL_HANDLER(show);

/* Formatting shared by subcommands (show.c). */
bool inectl_color(void);	/* stdout is a terminal and NO_COLOR unset */
const char *inectl_bytes(uint64_t n, char *buf, unsigned long len);
const char *inectl_duration(uint64_t secs, char *buf, unsigned long len);

#endif
