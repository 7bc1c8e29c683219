// SPDX-License-Identifier: GPL-2.0
/* inectl — subcommand dispatch, in the manner of wg(8). */
#include <stdio.h>
#include <string.h>
#include "inectl.h"

/* One line per subcommand: X(name, help). The handler is inectl_<name>,
 * in its own file, declared by INECTL_COMMANDS itself below. */
#define INECTL_COMMANDS(X)						\
	X(show, "Shows sessions, totals and the guard from ine.ko")	\
	X(guard, "Shows or sets ine.ko's plaintext guard (mode, ports)") \
	X(status, "Shows every node's certificates, offload, sessions; alerts") \
	X(tune, "Sets data_internode_encryption for a database or the cluster") \
	X(cluster, "Creates/joins a cluster; manages its certificates")	\
	X(db, "Creates, lists, shows and deletes databases")		\
	X(route, "Adds, lists and deletes relay routes")			\
	X(alerts, "Lists the cluster's alerts")

#define DECLARE(name, help) INECTL_HANDLER(name);
INECTL_COMMANDS(DECLARE)
#undef DECLARE

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
} commands[] = {
#define ENTRY(name, help) { #name, inectl_##name, help },
	INECTL_COMMANDS(ENTRY)
#undef ENTRY
};

static void usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, "Usage: %s <cmd> [<args>]\n\nAvailable subcommands:\n", prog);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nWith no subcommand, 'show' is run. '%s <cmd> --help' "
		"describes one.\n", prog);
}

int main(int argc, char *argv[])
{
	static char show[] = "show";
	static char *show_argv[] = { show, NULL };
	size_t i;

	if (argc == 1)
		return inectl_show(1, show_argv);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout, argv[0]);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "inectl: unknown subcommand '%s'\n", argv[1]);
	usage(stderr, argv[0]);
	return 2;	/* usage error, like every subcommand's */
}
