// SPDX-License-Identifier: GPL-2.0
/* hex.c — see hex.h. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/hex.h"

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t len = 0;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	/* no separator ('\0'): digits only */
	if (OPENSSL_hexstr2buf_ex(out, n, &len, s, '\0') != 1 || len != n)
		return -EINVAL;
	return 0;
}
