/* ined — placeholder until the agent's init chain lands (issue 6). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "ined: not yet implemented\n");
	return 1;
}
