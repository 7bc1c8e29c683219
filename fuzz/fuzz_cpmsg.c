// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: the control-plane frame decoder takes bytes from any peer
 * that completed a TLS handshake (and, for ine-join/1, from anyone). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp/cpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, used;
	json_t *m;
	int type, ret;
	char err[CPMSG_ERR_MAX];

	/* a stream of frames, as a session reads them */
	while (off < size) {
		ret = cpmsg_decode(data + off, size - off, &used, &m, &type,
				   err, sizeof(err));
		if (ret <= 0)
			break;
		if (used < CPMSG_HDR + 1 || used > size - off)
			abort();
		/* a decoded message re-encodes and decodes to the same */
		uint8_t *buf;
		size_t len, used2;
		json_t *m2;
		int type2;

		if (cpmsg_encode(m, &buf, &len) != 0)
			abort();
		if (cpmsg_decode(buf, len, &used2, &m2, &type2, NULL, 0) != 1 ||
		    type2 != type || used2 != len || !json_equal(m, m2))
			abort();
		json_decref(m2);
		free(buf);
		json_decref(m);
		off += used;
	}
	return 0;
}
