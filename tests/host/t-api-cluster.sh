#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-api-cluster.sh — three real ined processes on this host (loopback
# addresses 127.78.0.<i>, userspace TLS), driven only through inectl:
# create, join twice, a change made on node 3 seen on nodes 1 and 2, a
# database created after a policy change inheriting it, and `inectl
# status` on any node showing every node's certificates and expiry.
set -u
. tests/lib/ine.sh
PORT=$((20000 + ($$ + 7) % 20000))
INE_ARGS="--no-modules --port $PORT"
INE_LOG_TAIL=15
command -v jq >/dev/null || fail "jq is required"
"$INED" --help | grep -q -- --port || fail "ined without the control plane"

for i in 1 2 3; do node_start $i --bind 127.78.0.$i; done

I 1 cluster create name=c1 node_name=n1 address=127.78.0.1 --json >"$T/out" || fail "create"
CID=$(jq -r .id "$T/out")
for i in 2 3; do
	TOK=$(I 1 cluster join-token) || fail "join-token"
	I $i cluster join token="$TOK" node_name=n$i address=127.78.0.$i --json >"$T/out" ||
		fail "join node $i"
	expect_eq "node $i joined" "$(jq -r .id "$T/out")" "$CID"
done
I 2 cluster join token="$TOK" node_name=x address=127.78.0.2 2>"$T/err" && fail "a reused token was accepted"

dbenc() { I "$1" db show "$2" --json | jq -r .data_internode_encryption; }

I 3 db create db1 target s1 1 127.0.0.1:6379 >/dev/null || fail "db create on node 3"
I 3 tune db 1 data_internode_encryption enabled >/dev/null || fail "tune db on node 3"
wait_eq 15 true dbenc 1 1
wait_eq 15 true dbenc 2 1
I 2 tune cluster data_internode_encryption enabled >/dev/null || fail "tune cluster on node 2"
policy() { I "$1" cluster show --json | jq -r .policy.data_internode_encryption; }
wait_eq 15 true policy 3
I 3 db create db2 --json >"$T/out" || fail "db2"
expect_eq "db2 inherits the policy" "$(jq -r .data_internode_encryption "$T/out")" true
wait_eq 15 true dbenc 1 2

# Every node's certificates and expiry, from any node.
nodes_with_certs() {
	I "$1" status --json | jq '[.nodes[] | select(.certificates.data_internode_encryption.seconds_left > 86400 and .certificates.ccs_internode_encryption.serial != null)] | length'
}
for i in 1 2 3; do wait_eq 15 3 nodes_with_certs $i; done
I 2 status >"$T/out" || fail "status"
for i in 1 2 3; do grep -q "^node $i (n$i)" "$T/out" || fail "status on node 2 lacks node $i: $(cat "$T/out")"; done
[ "$(grep -c 'expires' "$T/out")" = 6 ] || fail "status: want 6 certificate lines: $(cat "$T/out")"
echo "t-api-cluster: ok"
