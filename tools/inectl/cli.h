/* SPDX-License-Identifier: GPL-2.0 */
/* cli.h — inectl subcommands that talk to the agent's REST API, and the
 * helpers they share.  Each cmd_* gets argv[0] = its own name, returns the
 * process exit status: 0 ok, 1 error, 2 usage. */
#ifndef INECTL_CLI_H
#define INECTL_CLI_H

#include <stdbool.h>
#include <jansson.h>

#define CLI_OK    0
#define CLI_ERR   1
#define CLI_USAGE 2

int inectl_tune(int argc, char **argv);     /* tune db|cluster ... */
int inectl_cluster(int argc, char **argv);  /* cluster create|join|certificate|... */
int inectl_status(int argc, char **argv);   /* status [--json] */
int inectl_db(int argc, char **argv);       /* db create|list|show|delete */
int inectl_route(int argc, char **argv);    /* route add|list|delete */
int inectl_alerts(int argc, char **argv);   /* alerts [--json] */

/* Prints "inectl: <msg>" and the usage text to stderr; returns CLI_USAGE. */
int cli_usage(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Removes every `flag` from argv; true if it was there. */
bool cli_flag(int *argc, char **argv, const char *flag);
/* True (and usage printed to stdout) when -h/--help/help is among argv. */
bool cli_help(int argc, char **argv, const char *usage);
/* "enabled"/"disabled" → 1/0, anything else -1. */
int cli_onoff(const char *s);
/* A positive 32-bit decimal id, or 0 if s is not one. */
unsigned int cli_id(const char *s);
void cli_print_json(const json_t *j);
/* key=value arguments → JSON object (all-digit values become integers). */
json_t *cli_kv_object(int argc, char **argv, const char *usage, int *rc);

#endif /* INECTL_CLI_H */
