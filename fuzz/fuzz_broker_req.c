// SPDX-License-Identifier: GPL-2.0
/*
 * The broker's request parser reads datagrams from local applications.
 * Invariants: never reads past size; a success re-encodes to the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dp/broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker_req r;
	uint8_t re[BROKER_REQ_MAX];
	int n;

	if (broker_req_parse(data, size, &r))
		return 0;
	n = broker_req_encode(&r, re, sizeof(re));
	assert(n > 0 && (size_t)n == size && !memcmp(re, data, size));
	return 0;
}
