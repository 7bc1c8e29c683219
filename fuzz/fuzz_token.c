// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: join tokens are pasted by operators and carried in argv. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[TOKEN_STR_MAX * 2], again[TOKEN_STR_MAX];
	struct token t, u;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (token_decode(s, &t) != 0)
		return 0;
	/* accepted tokens are canonical: they re-encode to the same text */
	if (token_encode(&t, again, sizeof(again)) != (int)strlen(s) ||
	    strcmp(again, s) != 0)
		abort();
	if (token_decode(again, &u) != 0 || memcmp(&t, &u, sizeof(t)) != 0)
		abort();
	return 0;
}
