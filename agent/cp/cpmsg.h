/* SPDX-License-Identifier: GPL-2.0 */
/* cpmsg.h — control-plane messages: framing and strict validation.
 *
 * On the wire a message is a frame: a 4-byte big-endian length, then that
 * many bytes of one JSON object (UTF-8, no NUL, no duplicate keys).  The
 * length is capped (CPMSG_MAX); a bigger frame is a protocol error and the
 * session is closed — nothing is buffered past the cap.
 *
 * Every object has "t" (the type name) and exactly the fields its type
 * allows, each of the right JSON type and within its bounds (see the table
 * in cpmsg.c); an unknown type or field is refused, so a peer speaking a
 * different version fails loudly instead of being half-understood.
 *
 * Types, by flow (→ = joiner/node to primary/peer):
 *  join (ALPN ine-join/1, no client certificate):
 *    join_hello {cluster_id} → ; ← join_ca {cluster_id, ca, node_id}
 *    join_req {secret, node_name, address, cp_csr, dp_csr} →
 *    ← join_resp {node_id, primary_id, cp_cert, dp_cert, ca, config[, certs]}
 *       or ← result {ok:false, error_code, description}
 *  member session (ALPN ine-cp/1, mutual TLS):
 *    hello {cluster_id, node_id, version, certs_version} both ways
 *    config {version, config}           newer configuration, pushed
 *    certs {version, certs}             customer certificates, pushed
 *    propose {id, base_version, config} write forwarded to the primary
 *    certs_propose {id, base_version, certs}
 *    status_req {id} ; status {id, status}
 *    csr {id, plane, csr} ; cert {id, plane, cert}   rotation via the CA
 *    result {id, ok, [version], [error_code], [description]}
 *    ping {} ; pong {}
 */
#ifndef INE_CPMSG_H
#define INE_CPMSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CPMSG_MAX	(1024 * 1024)	/* bytes of JSON in one frame */
#define CPMSG_HDR	4
#define CPMSG_ERR_MAX	160

enum cpmsg_type {
	CPMSG_NONE = 0,
	CPMSG_JOIN_HELLO,
	CPMSG_JOIN_CA,
	CPMSG_JOIN_REQ,
	CPMSG_JOIN_RESP,
	CPMSG_HELLO,
	CPMSG_CONFIG,
	CPMSG_CERTS,
	CPMSG_PROPOSE,
	CPMSG_CERTS_PROPOSE,
	CPMSG_STATUS_REQ,
	CPMSG_STATUS,
	CPMSG_CSR,
	CPMSG_CERT,
	CPMSG_RESULT,
	CPMSG_PING,
	CPMSG_PONG,
	__CPMSG_MAX
};

const char *cpmsg_type_str(enum cpmsg_type t);

/* Check msg against its type's schema.  Returns the type, or -EBADMSG
 * with err (may be NULL) naming the offending field. */
int cpmsg_validate(const json_t *msg, char *err, size_t errlen);

/* Validate msg, then serialize it as one frame into a malloc'd buffer.
 * -EMSGSIZE if over CPMSG_MAX, -EBADMSG if it does not validate. */
int cpmsg_encode(const json_t *msg, uint8_t **out, size_t *outlen);

/* Look at the start of a byte stream.  Returns 0 when more bytes are
 * needed, 1 with *msg (new reference), *type and *consumed set when a
 * whole valid frame is there, or a negative errno (-EMSGSIZE: length over
 * the cap or zero; -EBADMSG: not a valid message) with err set.  After an
 * error the stream cannot be resynchronised: close it. */
int cpmsg_decode(const uint8_t *buf, size_t avail, size_t *consumed,
		 json_t **msg, int *type, char *err, size_t errlen);

/* Build a message: json_pack format for the fields after "t", e.g.
 * cpmsg_pack(CPMSG_PING, "{}") or cpmsg_pack(CPMSG_STATUS_REQ, "{s:I}",
 * "id", id).  Returns NULL when it does not validate (a bug). */
json_t *cpmsg_pack(enum cpmsg_type t, const char *fmt, ...);

#endif /* INE_CPMSG_H */
