#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-linkflap.sh — a route comes back within 2 s of a link returning (issue 20).
#
# Two nodes; a Redis master on node1, its replica on node2 through a kTLS
# route. While the master keeps writing, node2's link goes down for $DOWN s
# (INE_FLAP_DOWN, default 30) and comes back. Asserted, each within
# $LIMIT ms of `ip link set up` (INE_FLAP_LIMIT_MS, default 2000):
#   1. the route carries a new connection (redis-cli PING through it);
#   2. the replica has caught up: link up, DEBUG DIGEST and dbsize equal.
# Before the fix a relay connection survived the outage in TCP's
# retransmission back-off and the replica caught up only 24-29 s after the
# link returned (t-fault step 2).
. tests/vm/lib.sh
for c in redis-server redis-cli; do command -v $c >/dev/null || fail "$c is required"; done
DOWN=${INE_FLAP_DOWN:-30}
LIMIT=${INE_FLAP_LIMIT_MS:-2000}
now_ms() { date +%s%3N; }
synced() { redis_synced 1 6383 2 6384; }
route_ok() { [ "$(N 2 timeout 2 redis-cli -p 16383 ping 2>/dev/null)" = PONG ]; }
INE_LOG_TAIL=15
test_cleanup() {
	[ -f "$T/stop" ] || touch "$T/stop"
	ip link set veth2 up 2>/dev/null
	R 1 -p 6383 shutdown nosave >/dev/null 2>&1; R 2 -p 6384 shutdown nosave >/dev/null 2>&1
}

load_tls; load_ine
ip netns list | grep -q "^node2" || ine_mknodes 2 || fail "ine_mknodes 2"
for i in 1 2; do node_start_ready $i; done
ine_cluster_form 2 flap
N 1 redis-server --port 6383 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --daemonize yes --logfile "$T/master.log" || fail "redis master"
I 1 db create orders data_internode_encryption enabled target shard 1 127.0.0.1:6383 >/dev/null ||
	fail "db create orders"
I 1 route add db 1 port 16383 peer 1 target shard node 2 >/dev/null || fail "route add"
wait_for 30 route_ok || fail "the route on node2 does not reach the master"
N 2 redis-server --port 6384 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --replicaof 127.0.0.1 16383 --daemonize yes \
	--logfile "$T/replica.log" || fail "redis replica"
wait_for 60 synced || fail "replica did not come up through the route"
off=$(N 2 ./inectl show dump | awk -F'\t' '$1 == "session" && $3 == "data" && $4 == "offloaded"' | wc -l)
[ "$off" -gt 0 ] || fail "no offloaded data session on node2"
step "replica in sync through a kTLS route ($off offloaded data session(s) on node2)"

writer() { # batches of 100 new keys on the master until $T/stop exists
	b=0
	while [ ! -e "$T/stop" ]; do
		awk -v b=$b 'BEGIN { for (i = 0; i < 100; i++) printf "SET k:%d:%d v-%d-%d\r\n", b, i, b, i }' |
			R 1 -p 6383 --pipe >/dev/null 2>&1
		b=$((b + 1)); sleep 0.1
	done
}
rm -f "$T/stop"; writer & WPID=$!
sleep 2
ip link set veth2 down || fail "link down"
t0=$(now_ms)
sleep "$DOWN"
during=$(R 2 -p 6384 info replication | sed -n 's/^master_link_status:\([a-z]*\).*/\1/p')
ip link set veth2 up || fail "link up"
t1=$(now_ms)
monitor() { # what node2's sockets and neighbour do after link up, for a failure's report
	while [ $(( $(now_ms) - t1 )) -lt 15000 ] && [ ! -e "$T/mon.stop" ]; do
		echo "+$(( $(now_ms) - t1 )) ms: $(N 2 ip neigh show 10.77.0.1 | tr '\n' ' ')"
		N 2 ss -tn state all '( dport = :3342 or sport = :16383 )' | sed 1d | sed 's/^/    /'
		sleep 0.3
	done >"$T/mon"
}
monitor & MPID=$!
touch "$T/stop"; wait $WPID
wait_for 120 route_ok || fail "the route did not come back within 120 s of link up"
route=$(( $(now_ms) - t1 ))
wait_for 120 synced || fail "the replica did not catch up within 120 s of link up"
catch=$(( $(now_ms) - t1 ))
keys=$(R 1 -p 6383 dbsize)
touch "$T/mon.stop"; wait $MPID
if [ "$route" -gt "$LIMIT" ] || [ "$catch" -gt "$LIMIT" ]; then
	echo "node2 after link up:"; sed 's/^/  /' "$T/mon" | head -150
fi
note "link down $(( (t1 - t0) / 1000 )) s during writes (replica link status at the end: $during);" \
	"route back ${route} ms, replica caught up ${catch} ms after link up ($keys keys, digests equal)"
[ "$route" -le "$LIMIT" ] || fail "the route came back ${route} ms after link up (> $LIMIT)"
[ "$catch" -le "$LIMIT" ] || fail "the replica caught up ${catch} ms after link up (> $LIMIT)"
step "pass"
