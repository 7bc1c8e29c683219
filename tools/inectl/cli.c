// SPDX-License-Identifier: GPL-2.0
/* cli.c — helpers shared by inectl's API subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("inectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return CLI_USAGE;
}

bool cli_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int i, o;

	for (i = o = 0; i < *argc; i++) {
		if (i > 0 && !strcmp(argv[i], flag)) {
			found = true;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	argv[o] = NULL;
	return found;
}

bool cli_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
		    !strcmp(argv[i], "help")) {
			fputs(usage, stdout);
			return true;
		}
	return false;
}

int cli_onoff(const char *s)
{
	if (!strcmp(s, "enabled"))
		return 1;
	if (!strcmp(s, "disabled"))
		return 0;
	return -1;
}

unsigned int cli_id(const char *s)
{
	unsigned long v;
	char *end;

	if (!s || *s < '1' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return 0;
	return (unsigned int)v;
}

void cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

json_t *cli_kv_object(int argc, char **argv, const char *usage, int *rc)
{
	json_t *o = json_object();

	for (int i = 0; o && i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[64];
		size_t kl;

		if (!eq || eq == argv[i] || (kl = (size_t)(eq - argv[i])) >= sizeof(key)) {
			json_decref(o);
			*rc = cli_usage(usage, "expected key=value, got '%s'", argv[i]);
			return NULL;
		}
		memcpy(key, argv[i], kl);
		key[kl] = '\0';
		if (json_object_get(o, key)) {
			json_decref(o);
			*rc = cli_usage(usage, "'%s' given twice", key);
			return NULL;
		}
		eq++;
		if (*eq && strspn(eq, "0123456789") == strlen(eq) && strlen(eq) < 10)
			json_object_set_new(o, key, json_integer(strtol(eq, NULL, 10)));
		else
			json_object_set_new(o, key, json_string(eq));
	}
	if (!o)
		*rc = CLI_ERR;
	return o;
}
