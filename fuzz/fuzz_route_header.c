// SPDX-License-Identifier: GPL-2.0
/*
 * The relay's route header and reply parsers take bytes from a peer.
 * Feed them the way the relay does (growing prefixes, exactly as many
 * bytes as *_need() asks for) and check the invariants: never more than
 * the maximum size, a success re-encodes to the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dp/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void header(const uint8_t *data, size_t size)
{
	struct route_header h;
	uint8_t re[ROUTE_HDR_MAX];
	size_t have = 0;
	int n = 0;

	while (have < size) {
		size_t need = route_header_need(data, have);

		assert(need <= ROUTE_HDR_MAX);
		if (need <= have)
			break;
		have = need < size ? need : size;
		n = route_header_parse(data, have, &h);
		if (n != 0)
			break;
	}
	if (n > 0) {
		assert((size_t)n == have);
		assert(route_name_valid(h.name, strlen(h.name)));
		assert(route_header_encode(&h, re, sizeof(re)) == n);
		assert(!memcmp(re, data, n));
	}
	/* any length at once: the same verdict or "more", never a crash */
	route_header_parse(data, size < ROUTE_HDR_MAX ? size : ROUTE_HDR_MAX, &h);
}

static void reply(const uint8_t *data, size_t size)
{
	char msg[256];
	uint8_t st;
	size_t have = 0;
	int n = 0;

	while (have < size) {
		size_t need = route_reply_need(data, have);

		assert(need <= ROUTE_REPLY_MAX);
		if (need <= have)
			break;
		have = need < size ? need : size;
		n = route_reply_parse(data, have, &st, msg);
		if (n != 0)
			break;
	}
	if (n > 0) {
		size_t i;

		assert(st < __ROUTE_STATUS_MAX);
		for (i = 0; msg[i]; i++)
			assert(msg[i] >= 0x20 && msg[i] < 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	/* first byte picks the parser, so one corpus covers both */
	if (data[0] & 1)
		reply(data + 1, size - 1);
	else
		header(data + 1, size - 1);
	return 0;
}
