#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The plaintext guard in enforce mode on every node of a 3-node cluster
# (network namespaces node1..3, kernel TLS, ine.ko): ined registers every
# socket on 3342 before its first byte (outgoing before the ClientHello,
# accepted ones right after accept(), before the ServerHello), so the
# cluster forms, joins work and a route carries Redis traffic with no
# segment dropped; a plaintext writer that is not registered gets nothing
# through (node 1's drop counter rises).
. tests/vm/lib.sh
load_tls
load_ine
for c in jq redis-server redis-cli python3; do command -v $c >/dev/null || fail "$c is required"; done
ine_mknodes 3 || fail "cannot make the node namespaces"

INE_LOG_TAIL=15
dump() {
	for i in 1 2 3; do
		sed "s/^/  n$i events: /" "$T/ev$i" 2>/dev/null
		I $i show dump 2>/dev/null | sed "s/^/  n$i ine.ko: /"
	done
}
die() { dump; fail "$*"; }
guard() { I "$1" guard --json | jq -r ".$2"; }

for i in 1 2 3; do
	I $i guard enforce ports 3342 >/dev/null || fail "guard enforce on node $i"
	expect_eq "node $i guard mode" "$(guard $i mode)" enforce
done
# guard_drop events (sport dport) to say which socket was dropped, if any
for i in 1 2 3; do
	ip netns exec node$i tests/vm/kmod_guard events 600 >"$T/ev$i" 2>&1 &
	echo $! >>"$T/pids"
done
for i in 1 2 3; do node_start $i; done

ine_cluster_form 3 vm	# joins must get through the enforcing guard
note "cluster of 3 formed with the guard enforcing on every node"

ip netns exec node2 redis-server --port 6391 --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize yes --logfile "$T/redis.log" || fail "redis-server"
I 1 db create db1 data_internode_encryption enabled target r 2 127.0.0.1:6391 >/dev/null ||
	die "db create"
I 1 route add db 1 port 16391 peer 2 target r node 1 >/dev/null || die "route add"
R() { ip netns exec node1 redis-cli -p 16391 "$@"; }
wait_eq 30 PONG R PING
R SET k guarded >/dev/null
expect_eq "GET through the route" "$(R GET k)" guarded
# node 3 (a member, not the primary) sees the change over the control plane
dbs() { I 3 db list --json | jq length; }
wait_eq 20 1 dbs
for i in 1 2 3; do
	[ "$(guard $i dropped)" = 0 ] ||
		die "node $i dropped $(guard $i dropped) segments while the cluster worked"
	[ "$(guard $i passed)" -gt 0 ] || die "node $i: the guard saw no registered payload"
done
note "a route carried data; no segment dropped on any node"

# An unregistered plaintext writer from node 1 to node 2's 3342.
before=$(guard 1 dropped)
ip netns exec node1 python3 - <<'PY' || die "plaintext writer"
import socket, time
s = socket.create_connection(("10.77.0.2", 3342), timeout=5)
s.sendall(b"PLAINTEXT-MARKER " * 64)
s.settimeout(2)
try:
    got = s.recv(100)
except socket.timeout:
    got = None
# a byte through would make node 2's TLS listener answer (alert) or close
assert not got, "node 2 answered the plaintext writer: %r" % (got,)
PY
after=$(guard 1 dropped)
[ "$after" -gt "$before" ] || die "node 1 dropped nothing of the plaintext writer ($before -> $after)"
[ "$(guard 1 unregistered)" -gt 0 ] || die "no unregistered segment counted"
note "an unregistered plaintext writer got nothing through (node 1 dropped $((after - before)))"
expect_eq "GET after" "$(R GET k)" guarded
ip netns exec node2 redis-cli -p 6391 shutdown nosave >/dev/null 2>&1
for i in 1 2 3; do I $i guard off >/dev/null; done
exit 0
