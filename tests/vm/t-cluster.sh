#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A 3-node cluster in network namespaces node1..3 (10.77.0.<i>, port 3342)
# with kernel TLS on the control-plane sessions: create, join twice, a
# reused token refused, a change on node 3 seen on nodes 1 and 2, a
# restarted node catching up; /proc/net/tls_stat in each namespace must
# show the sessions in the kernel both ways, and ine.ko must list them as
# offloaded control-plane sessions with their peer (fails, never skips).
. tests/vm/lib.sh
load_tls
load_ine
for c in jq curl; do command -v $c >/dev/null || fail "$c is required"; done
ine_mknodes 4 || fail "cannot make the node namespaces"
start() { node_start "$1"; }
stop() { node_stop "$1"; }

start 1
api_ok 1 POST /v1/cluster '{"name":"vm","node_name":"n1","address":"10.77.0.1"}'
for i in 2 3; do
	api_ok 1 POST /v1/cluster/join-token '{}'
	tok=$(json .token)
	start $i
	api_ok $i POST /v1/cluster/join "{\"token\":\"$tok\",\"node_name\":\"n$i\",\"address\":\"10.77.0.$i\"}"
	expect_eq "node $i id" "$(json .node_uid)" $i
done
start 4
api 4 POST /v1/cluster/join "{\"token\":\"$tok\",\"node_name\":\"n4\",\"address\":\"10.77.0.4\"}"
expect_eq "reused token" "$CODE" 403
grep -q "already used" "$T/out" || fail "reused token: $(cat "$T/out")"
stop 4
note "created, joined nodes 2 and 3; reused token refused"

api_eventually 120 3 '[.nodes[] | select(.connected == true)] | length' 2 /v1/status
api_ok 3 PUT /v1/cluster/policy '{"data_internode_encryption": true}'
api_eventually 60 1 .data_internode_encryption true /v1/cluster/policy
api_eventually 60 2 .data_internode_encryption true /v1/cluster/policy
note "change on node 3 reached nodes 1 and 2"

# every control-plane session is in the kernel both ways: node 1 has two
# (nodes 2, 3), node 2 two (1, 3), node 3 two (1, 2)
for i in 1 2 3; do
	tx=$(ns_tls_stat $i TlsCurrTxSw) rx=$(ns_tls_stat $i TlsCurrRxSw)
	note "node $i: TlsCurrTxSw $tx TlsCurrRxSw $rx"
	[ "${tx:-0}" -ge 2 ] && [ "${rx:-0}" -ge 2 ] ||
		fail "node $i: control-plane sessions not in kernel TLS both ways (tx $tx rx $rx)"
done

# ... and registered with ine.ko: two offloaded control-plane sessions per
# node, each naming its peer node
for i in 1 2 3; do
	ip netns exec node$i "$TOP/inectl" show dump >"$T/show$i" ||
		fail "inectl show dump in node $i"
	n=$(awk -F'\t' '$1 == "session" && $3 == "control" && $4 == "offloaded" &&
		$6 > 0 && $6 != '$i'' "$T/show$i" | wc -l)
	[ "$n" -ge 2 ] || { cat "$T/show$i"; fail "node $i: $n offloaded control-plane sessions in ine.ko, want 2"; }
done
note "ine.ko lists every control-plane session, offloaded, with its peer"

stop 2
api_ok 3 POST /v1/bdbs '{"name":"db1"}'
api 1 GET /v1/cluster
v=$(json .version)
start 2
api_eventually 120 2 .version "$v" /v1/cluster
note "node 2 caught up to version $v after a restart"
for i in 1 2 3; do stop $i; done
exit 0
