#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-keyguard.sh — kernel TLS keys never reach an application (issue 20).
# Two ined nodes, db 1 encrypted with target "snap" on node 2. A libine app
# on node 1 (tests/vm/keyguard_app) gets its brokered socket — kernel TLS,
# TCP_ULP "tls", mode offloaded — and reads getsockopt(SOL_TLS, TLS_TX)
# and (TLS_RX) into a buffer pre-filled with 0xa5. Asserted: not one byte
# of key, salt, IV or sequence comes back (the agent's cgroup getsockopt
# program zeroes the answer: agent/dp/tls_keyguard.c); the agent's data
# path keeps working (what the app writes after the probe arrives on node
# 2); the agent logged the guard.
. tests/vm/lib.sh
load_tls
load_ine
for b in ined inectl tools/ine-recv tests/vm/keyguard_app; do
	[ -x "$TOP/$b" ] || fail "$b not built"
done
for c in jq curl; do command -v $c >/dev/null || fail "$c is required"; done
# The guard links to the cgroup v2 root; the VM's init mounts none. Not
# under /sys: `ip netns exec` mounts a fresh /sys for the node's agent.
ip netns list | grep -q "^node2" || ine_mknodes 2 || fail "ine_mknodes 2"
ip netns exec node1 grep -q " cgroup2 " /proc/mounts || { mkdir -p /run/ine-cgroup2 &&
	mount -t cgroup2 none /run/ine-cgroup2; } || fail "cannot mount cgroup2"
ip netns exec node1 grep -q " cgroup2 " /proc/mounts || fail "no cgroup2 inside the node namespaces"
ip netns list | grep -q "^node2" || ine_mknodes 2 || fail "ine_mknodes 2"
INE_API_TIMEOUT=300
start() {
	NODE_ENV="INE_BROKER_SOCKET=$T/b$1.sock" node_start $1
	wait_for 30 test -S "$T/b$1.sock" || fail "node $1 did not start"
}
start 1
api_ok 1 POST /v1/cluster '{"name":"vm","node_name":"n1","address":"10.77.0.1"}'
api_ok 1 POST /v1/cluster/join-token '{}'
tok=$(jq -r .token "$T/out")
start 2
api_ok 2 POST /v1/cluster/join "{\"token\":\"$tok\",\"node_name\":\"n2\",\"address\":\"10.77.0.2\"}"
api_ok 1 POST /v1/bdbs '{"name":"db1","data_internode_encryption":true,
	"targets":[{"name":"snap","node":2,"address":"10.77.0.2:17101"}]}'
wait_for 30 sh -c "curl -s --unix-socket '$T/n2.sock' http://ine/v1/bdbs/1 | grep -q snap" ||
	fail "db 1 did not reach node 2"
ip netns exec node2 env INE_BROKER_SOCKET="$T/b2.sock" "$TOP/tools/ine-recv" \
	1 snap "$T/outf" >"$T/recv.out" 2>&1 &
RPID=$!
wait_for 20 grep -q listening "$T/recv.out" || fail "ine-recv: $(cat "$T/recv.out")"
ip netns exec node1 env INE_BROKER_SOCKET="$T/b1.sock" "$TOP/tests/vm/keyguard_app" 2 1 snap \
	>"$T/app.out" 2>&1
rc=$?
sed 's/^/  app: /' "$T/app.out"
wait $RPID || fail "ine-recv: $(cat "$T/recv.out")"
grep -q "^mode offloaded, TCP_ULP 'tls'" "$T/app.out" ||
	fail "the app did not get a kernel TLS socket: $(head -1 "$T/app.out")"
grep -q "^leaked 0$" "$T/app.out" || fail "key state readable by the application (exit $rc)"
[ "$rc" = 0 ] || fail "keyguard_app exit $rc"
[ "$(cat "$T/outf")" = "keyguard ok" ] || fail "node 2 got '$(cat "$T/outf")' after the probe"
note "ok: getsockopt(SOL_TLS) on the brokered kTLS socket gave no key bytes; the data path still works"
grep -q "keyguard: SOL_TLS crypto state hidden" "$T/n1.log" || fail "node1's agent did not log the guard"
step "pass"
