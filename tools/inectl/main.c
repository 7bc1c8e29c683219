/* inectl — placeholder until the subcommand table lands. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "inectl: not yet implemented\n");
	return 1;
}
