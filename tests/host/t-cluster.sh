#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-cluster.sh — a 3-node cluster on this host (no kernel TLS: the control
# plane runs on userspace TLS), each node an agent process with its own
# state directory, API socket and loopback address 127.77.0.<i>, all on
# port $CP_PORT.  Driven through the REST API (curl on the Unix socket):
#   create, join twice; wrong / expired / reused token refused with nothing
#   changed; a write on node 3 takes effect on nodes 1 and 2; a stopped node
#   catches up when it returns; with the primary down writes fail with 503
#   and every node keeps its configuration; a certificate from another
#   cluster is refused; rotation re-issues every node's certificates;
#   customer certificates uploaded on node 2 are served by every node.
# Run from the repository top after `make ined` (needs jq, curl, openssl,
# python3).  INED overrides the agent.
set -u
. tests/lib/ine.sh
CP_PORT=${CP_PORT:-$((13000 + $$ % 3000))}	# not fixed: other runs of this test may share the host
INE_ARGS="--no-modules --port $CP_PORT"
INE_LOG_TAIL=25

for c in jq curl openssl; do
	command -v $c >/dev/null || fail "$c is required"
done
[ -x "$INED" ] || fail "build $INED first (make ined)"
note "agent: $INED"

start() { node_start "$1"; }
stop() { node_stop "$1"; }
token() { api_ok 1 POST /v1/cluster/join-token "${1:-{\}}"; TOKEN=$(json .token); }
join() { api "$1" POST /v1/cluster/join "{\"token\":\"$2\",\"node_name\":\"n$1\",\"address\":\"127.77.0.$1\"}"; }
version() { api "$1" GET /v1/cluster; json .version; }

# --- create and join twice ------------------------------------------------
start 1
api_ok 1 POST /v1/cluster '{"name":"c1","node_name":"n1","address":"127.77.0.1"}'
CID=$(json .id)
expect_eq "creator's node id" "$(json .node_uid)" 1
api_refused 1 409 "already node 1" POST /v1/cluster \
	'{"name":"c2","node_name":"n1","address":"127.77.0.1"}'
note "created cluster $CID"

start 2
token
case "$TOKEN" in ine1.*) ;; *) fail "token format: $TOKEN" ;; esac
join 2 "$TOKEN"
[ "$CODE" = 200 ] || fail "join node 2: HTTP $CODE $(cat "$T/out")"
expect_eq "node 2 id" "$(json .node_uid)" 2
expect_eq "node 2 cluster" "$(json .id)" "$CID"
start 3
token
TOKEN3=$TOKEN
join 3 "$TOKEN3"
[ "$CODE" = 200 ] || fail "join node 3: HTTP $CODE $(cat "$T/out")"
expect_eq "node 3 id" "$(json .node_uid)" 3
V=$(version 1)
note "3 nodes, configuration version $V"

# --- bad tokens: refused, nothing changes on either side -------------------
start 4
join 4 "$TOKEN3"
[ "$CODE" = 403 ] || fail "reused token: HTTP $CODE $(cat "$T/out")"
grep -q "already used" "$T/out" || fail "reused token: $(cat "$T/out")"
token '{"ttl":1}'
sleep 2
join 4 "$TOKEN"
[ "$CODE" = 403 ] || fail "expired token: HTTP $CODE $(cat "$T/out")"
grep -q "expired" "$T/out" || fail "expired token: $(cat "$T/out")"
# right cluster, primary and pin, but a secret the primary never issued
token
WRONG=$(python3 -c '
import base64, os, sys
t = sys.argv[1][5:]
b = bytearray(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
b[57:89] = os.urandom(32)	# the secret: version, id, expiry, pin kept
print("ine1." + base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))
' "$TOKEN") || fail "python3 is required"
join 4 "$WRONG"
[ "$CODE" = 403 ] || fail "wrong token: HTTP $CODE $(cat "$T/out")"
grep -q "not recognised" "$T/out" || fail "wrong token: $(cat "$T/out")"
join 4 "ine1.not-a-token"
[ "$CODE" = 400 ] || fail "malformed token: HTTP $CODE $(cat "$T/out")"
api 4 GET /v1/cluster
expect_eq "node 4 after refused joins" "$CODE" 404
[ -e "$T/s4/pki/current" ] && fail "refused join left PKI state on node 4"
expect_eq "primary's version after refused joins" "$(version 1)" "$V"
api 1 GET /v1/nodes
expect_eq "nodes after refused joins" "$(json length)" 3
# the unused token still works afterwards: refusals did not consume it
join 4 "$TOKEN"
[ "$CODE" = 200 ] || fail "fresh token after refusals: HTTP $CODE $(cat "$T/out")"
expect_eq "node 4 id" "$(json .node_uid)" 4
stop 4
note "reused, expired, wrong and malformed tokens refused"

# --- a write on node 3 takes effect on nodes 1 and 2 -----------------------
# sessions up: node 3 sees nodes 1 and 2 connected (node 4 is stopped)
api_eventually 15 3 '[.nodes[] | select(.connected == true)] | length' 2 /v1/status
api_ok 3 PUT /v1/cluster/policy '{"data_internode_encryption": true}'
for n in 1 2 3; do
	api_eventually 5 $n .data_internode_encryption true /v1/cluster/policy
done
api_ok 3 POST /v1/bdbs '{"name":"db1"}'
DB=$(json .uid)
expect_eq "new db inherits the policy" "$(json .data_internode_encryption)" true
api_ok 3 PUT "/v1/bdbs/$DB" '{"data_internode_encryption": false}'
for n in 1 2; do
	api_eventually 5 $n .data_internode_encryption false "/v1/bdbs/$DB"
done
note "policy and database changes made on node 3 reached nodes 1 and 2"

# --- status on any node shows every node ------------------------------------
api_ok 3 GET /v1/status
expect_eq "nodes in node 3's status" "$(json '.nodes | length')" 4
for n in 1 2; do
	[ "$(json ".nodes[] | select(.node_id == $n) | .connected")" = true ] ||
		fail "node 3 not connected to node $n: $(cat "$T/out")"
done
# node 3 shows nodes 1 and 2's own certificates (as they report them)
for n in 1 2; do
	api_ok $n GET /v1/status
	q=".nodes[] | select(.uid == $n) | .certificates.ccs_internode_encryption.serial"
	s=$(json "$q")
	[ -n "$s" ] && [ "$s" != null ] || fail "node $n reports no certificate: $(cat "$T/out")"
	api_eventually 10 3 "$q" "$s" /v1/status
done
note "status on node 3 shows every node's certificates"

# --- a node that was down catches up ----------------------------------------
stop 2
api_ok 3 PUT "/v1/bdbs/$DB" '{"data_internode_encryption": true}'
api_ok 1 POST /v1/bdbs '{"name":"db2"}'
V=$(version 1)
start 2
api_eventually 20 2 .version "$V" /v1/cluster
api_eventually 2 2 .data_internode_encryption true "/v1/bdbs/$DB"
note "node 2 caught up to version $V after a restart"

# --- primary down: writes fail clearly, every node keeps serving ------------
stop 1
api_refused 3 503 "primary node 1 unreachable" PUT /v1/cluster/policy \
	'{"data_internode_encryption": false}'
api_refused 2 503 "primary node 1 unreachable" POST /v1/bdbs '{"name":"db3"}'
for n in 2 3; do
	api_ok $n GET /v1/cluster/policy
	expect_eq "node $n policy with the primary down" "$(json .data_internode_encryption)" true
	expect_eq "node $n version with the primary down" "$(version $n)" "$V"
done
start 1
k=0
while :; do
	api 3 PUT /v1/cluster/policy '{"data_internode_encryption": false}'
	[ "$CODE" = 200 ] && break
	k=$((k + 1)); [ $k -gt 150 ] && fail "writes still failing 15 s after the primary returned: $(cat "$T/out")"
	sleep 0.1
done
api_eventually 5 2 .data_internode_encryption false /v1/cluster/policy
note "with the primary down writes got 503; after it returned they worked"

# --- another cluster's certificate is refused -------------------------------
start 5
api_ok 5 POST /v1/cluster '{"name":"other","node_name":"x1","address":"127.77.0.5"}'
probe() { # probe CERTDIR: does node 1 accept a CP session with it?
	timeout 10 openssl s_client -connect "127.77.0.1:$CP_PORT" -alpn ine-cp/1 \
		-tls1_2 -cert "$1/pki/current/cp.crt" -key "$1/pki/current/cp.key" \
		</dev/null >"$T/probe" 2>&1
}
probe "$T/s3" || fail "control: node 3's certificate refused by node 1: $(tail -5 "$T/probe")"
probe "$T/s5" && fail "node 1 accepted a certificate of another cluster: $(tail -5 "$T/probe")"
grep -qi "alert\|error" "$T/probe" || fail "foreign certificate: no TLS failure seen: $(tail -5 "$T/probe")"
stop 5
note "a certificate from another cluster's CA is refused"

# --- an impostor primary never sees the token's secret ----------------------
# A TLS server on 127.77.0.6 speaking ine-join/1 with its own CA; the token
# is ours but points there.  The joiner must stop at the CA pin check and
# never send join_req.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/imp.key" -out "$T/imp.crt" \
	-days 2 -subj "/CN=impostor" >/dev/null 2>&1 || fail "openssl impostor cert"
cat >"$T/impostor.py" <<'PY'
import json, socket, ssl, struct, sys
port, crt, key, cid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
ctx.set_alpn_protocols(["ine-join/1"])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.77.0.6", port)); srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
s = ctx.wrap_socket(conn, server_side=True)
def frames():
    buf = b""
    while True:
        d = s.recv(65536)
        if not d: return
        buf += d
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            yield json.loads(buf[4:4 + n]); buf = buf[4 + n:]
for m in frames():
    print("got", m["t"], flush=True)
    if m["t"] == "join_hello":
        out = json.dumps({"t": "join_ca", "cluster_id": cid, "ca": open(crt).read(),
                          "node_id": 9}).encode()
        s.sendall(struct.pack(">I", len(out)) + out)
PY
python3 "$T/impostor.py" "$CP_PORT" "$T/imp.crt" "$T/imp.key" "$CID" >"$T/impostor.out" 2>&1 &
IMP=$!
k=0
until grep -q listening "$T/impostor.out"; do
	k=$((k + 1)); [ $k -gt 100 ] && fail "impostor did not start: $(cat "$T/impostor.out")"
	sleep 0.05
done
token
BAD=$(python3 -c '
import base64, sys
t = sys.argv[1][5:]
b = bytearray(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
addr = ("127.77.0.6:" + sys.argv[2]).encode()
b = b[:89] + bytes([len(addr)]) + addr	# same secret and pin, other primary
print("ine1." + base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))
' "$TOKEN" "$CP_PORT")
start 6
join 6 "$BAD"
[ "$CODE" = 403 ] || fail "join via an impostor: HTTP $CODE $(cat "$T/out")"
grep -q "pin" "$T/out" || fail "join via an impostor: $(cat "$T/out")"
kill $IMP 2>/dev/null
wait $IMP 2>/dev/null
grep -q "got join_hello" "$T/impostor.out" || fail "impostor saw no join: $(cat "$T/impostor.out")"
grep -q "join_req" "$T/impostor.out" && fail "the joiner sent its secret to an impostor"
[ -e "$T/s6/pki/current" ] && fail "join via an impostor left PKI state"
# the token itself is still good with the real primary
api 6 GET /v1/cluster
expect_eq "node 6 after the impostor" "$CODE" 404
stop 6
note "a primary that does not hold the token's CA never sees the secret"

# --- rotation from node 3 re-issues every node's certificates ---------------
serial() { api "$1" GET /v1/status; json ".nodes[] | select(.uid == $1) | .certificates.ccs_internode_encryption.serial"; }
S1=$(serial 1) S2=$(serial 2) S3=$(serial 3)
[ -n "$S2" ] && [ "$S2" != null ] || fail "no serial in node 2's status: $(cat "$T/out")"
api_ok 3 POST /v1/cluster/certificates/rotate
for n in 1 2 3; do
	k=0
	eval old=\$S$n
	while [ "$(serial $n)" = "$old" ]; do
		k=$((k + 1)); [ $k -gt 100 ] && fail "node $n did not rotate (serial $old)"
		sleep 0.1
	done
done
note "rotation requested on node 3 re-issued the certificates of nodes 1, 2, 3"

# --- rotation on the primary re-issues its certificates once ----------------
# (the control plane re-issues when the generation arrives; the API handler
# must not rotate locally as well)
L1=$(grep -c "pki: rotated internal certificates" "$T/n1.log")
C1=$(grep -c "control plane: certificates rotated" "$T/n1.log")
S1=$(serial 1) S2=$(serial 2) S3=$(serial 3)
api_ok 1 POST /v1/cluster/certificates/rotate
for n in 1 2 3; do
	k=0
	eval old=\$S$n
	while [ "$(serial $n)" = "$old" ]; do
		k=$((k + 1)); [ $k -gt 100 ] && fail "node $n did not rotate (serial $old)"
		sleep 0.1
	done
done
k=0
while [ "$(grep -c "control plane: certificates rotated" "$T/n1.log")" = "$C1" ]; do
	k=$((k + 1)); [ $k -gt 100 ] && fail "node 1: no control-plane rotation logged"
	sleep 0.1
done
sleep 1
expect_eq "node 1 local rotations by the API handler" \
	"$(grep -c "pki: rotated internal certificates" "$T/n1.log")" "$L1"
expect_eq "node 1 control-plane rotations" \
	"$(grep -c "control plane: certificates rotated" "$T/n1.log")" "$((C1 + 1))"
note "rotation requested on the primary re-issued its certificates once"

# --- customer certificates uploaded on node 2 reach every node --------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" \
	-days 30 -subj "/CN=customer CA" >/dev/null 2>&1 || fail "openssl CA"
openssl req -newkey rsa:2048 -nodes -keyout "$T/leaf.key" -out "$T/leaf.csr" \
	-subj "/CN=ine nodes" >/dev/null 2>&1 || fail "openssl CSR"
printf 'extendedKeyUsage=serverAuth,clientAuth\n' >"$T/ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
	-CAcreateserial -days 20 -extfile "$T/ext" -out "$T/leaf.crt" >/dev/null 2>&1 ||
	fail "openssl sign"
cat "$T/leaf.crt" "$T/ca.crt" >"$T/chain.pem"
BODY=$(jq -n --rawfile c "$T/chain.pem" --rawfile k "$T/leaf.key" \
	'{certificates: [{name: "ccs_internode_encryption", certificate: $c, key: $k},
			 {name: "data_internode_encryption", certificate: $c, key: $k}]}')
api_refused 2 400 "" PUT /v1/cluster/certificates '{"certificates":[{"name":"bogus","certificate":"x","key":"y"}]}'
api_ok 2 PUT /v1/cluster/certificates "$BODY"
CSER=$(openssl x509 -in "$T/leaf.crt" -noout -serial | cut -d= -f2)
for n in 1 2 3; do
	k=0
	while :; do
		api $n GET /v1/status
		src=$(json ".nodes[] | select(.uid == $n) | .certificates.data_internode_encryption.source")
		ser=$(json ".nodes[] | select(.uid == $n) | .certificates.data_internode_encryption.serial")
		[ "$src" = customer ] && [ "$ser" = "$CSER" ] && break
		k=$((k + 1)); [ $k -gt 100 ] && fail "node $n serves $src $ser, want customer $CSER"
		sleep 0.1
	done
done
note "customer certificates uploaded on node 2 are served by nodes 1, 2, 3"
# sessions re-established with the customer certificates still work
stop 2
start 2
api_ok 3 PUT /v1/cluster/policy '{"data_internode_encryption": true}'
api_eventually 20 2 .data_internode_encryption true /v1/cluster/policy
note "control plane sessions work with customer certificates"
exit 0
