/* SPDX-License-Identifier: GPL-2.0 */
/* join.h — cluster create and join: the primary's side of "ine-join/1"
 * and the joining node's client.  The public entry points
 * (cp_cluster_create, cp_join_token_new, cp_cluster_join) are declared in
 * cp.h; this header is what port 3342's listener (cp_tls.c) needs of
 * join_server.c.
 *
 * The join conversation (docs/cluster.md):
 *   joiner → primary  TLS, ALPN ine-join/1, no client certificate
 *   → join_hello {cluster_id}
 *   ← join_ca {cluster_id, ca, node_id}  joiner checks SHA-256(CA SPKI) equals
 *                                     the token's pin and that the server's
 *                                     leaf is the CA's node certificate —
 *                                     only then does the secret leave it;
 *                                     node_id is the id it will likely get
 *                                     (its CSRs name it; the CA signs the
 *                                     id it really assigns)
 *   → join_req {secret, node_name, address, cp_csr, dp_csr}
 *   ← join_resp {node_id, primary_id, cp_cert, dp_cert, ca, config[, certs]}
 *     or result {ok:false, status, error_code, description}
 * A refused join changes nothing on either side; the token is consumed
 * only when the node was committed to the configuration.
 */
#ifndef INE_JOIN_H
#define INE_JOIN_H

struct tls_conn;

#define JOIN_TIMEOUT_MS	30000
#define JOIN_MAX_SESSIONS	16	/* ine-join/1 sessions open at once */

/* Listener handler for ALPN "ine-join/1" (arg: struct cp *). */
void join_accept(void *arg, struct tls_conn *c);

#endif /* INE_JOIN_H */
