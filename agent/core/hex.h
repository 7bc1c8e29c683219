/* SPDX-License-Identifier: GPL-2.0 */
/* hex.h — bytes to and from hexadecimal text, for the formats that carry
 * binary values as hex (join secrets on the wire, token hashes on disk). */
#ifndef INE_HEX_H
#define INE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes → 2n lower-case hex digits and a NUL (out holds 2n + 1).
 * Lower case because that is what the stored files and the join protocol
 * have always carried (OpenSSL's encoder writes upper case). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Exactly 2n hex digits (either case) → n bytes; -EINVAL on anything else
 * (wrong length, a non-hex character).  Decoding is OpenSSL's. */
int hex_decode(const char *s, uint8_t *out, size_t n);

#endif /* INE_HEX_H */
