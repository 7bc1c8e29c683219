#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-keylimit.sh — sessions are replaced before AES-GCM's key usage limit.
#
# Linux 6.1 cannot re-key kernel TLS, and AES-GCM allows about 2^24.5
# records per key; ine.ko flags a session when its record count passes the
# namespace's threshold and ined resets that relayed connection so the
# database reconnects with a fresh handshake and fresh keys.  The real
# threshold is 21 million records (~340 GB), out of reach under emulation,
# so the test lowers it with `inectl guard key-limit` (the same knob an
# operator would use to re-key more often) and checks that:
#   1. a stream crossing the threshold is cut with a reset (never a FIN),
#      every byte that arrived is correct, and the agent counts it replaced;
#   2. the route carries the next connection on a new session whose record
#      count starts again from zero;
#   3. a Redis replica whose link is reset this way reconnects and ends
#      with the master's data.
. tests/vm/lib.sh
for c in redis-server redis-cli; do command -v $c >/dev/null || fail "$c is required"; done
FX=$TOP/tests/vm/fault_xfer
[ -x "$FX" ] || fail "build tests/vm/fault_xfer first (make tests/vm/bins)"
LIMIT=300		# records per key, both namespaces
BIG=$((256 * 1024 * 1024))	# ine.ko checks every 5 s: far more than that takes
SPORT=7100 RPORT=17100

INE_LOG_TAIL=12
test_cleanup() {
	[ -f "$T/sinkpid" ] && kill "$(cat "$T/sinkpid")" 2>/dev/null
	R 1 -p 6381 shutdown nosave >/dev/null 2>&1; R 2 -p 6382 shutdown nosave >/dev/null 2>&1
	for i in 1 2; do N $i ./inectl guard key-limit 21353909 >/dev/null 2>&1; done
}

load_tls; load_ine
ip netns list | grep -q "^node2" || ine_mknodes 2 || fail "ine_mknodes 2"
for i in 1 2; do node_start_ready $i; done
ine_cluster_form 2 keys
N 1 "$FX" sink $SPORT "$T/sink.log" &
echo $! >"$T/sinkpid"
I 1 db create stream data_internode_encryption enabled target sink 1 127.0.0.1:$SPORT >/dev/null ||
	fail "db create stream"
I 1 route add db 1 port $RPORT peer 1 target sink node 2 >/dev/null || fail "route add"
small() { N 2 timeout 5 "$FX" send 127.0.0.1 $RPORT 65536; }
wait_for 30 small || fail "the route does not carry a transfer"
for i in 1 2; do
	N $i ./inectl guard key-limit $LIMIT >/dev/null || fail "inectl guard key-limit on node$i"
	got=$(N $i ./inectl guard --json | sed -n 's/.*"key_limit_records": \([0-9]*\).*/\1/p')
	expect_eq "node$i key limit" "$got" $LIMIT
done
# Bad input changes nothing.
N 2 ./inectl guard key-limit 0 >/dev/null 2>&1 && fail "key-limit 0 accepted"
N 2 ./inectl guard key-limit 12x >/dev/null 2>&1 && fail "key-limit 12x accepted"
got=$(N 2 ./inectl guard --json | sed -n 's/.*"key_limit_records": \([0-9]*\).*/\1/p')
expect_eq "node2 key limit after bad input" "$got" $LIMIT
note "key limit set to $LIMIT records per key on both nodes; 0 and 12x refused"

# ---- 1. a stream across the threshold ----
replaced() { # NODE: the agent's count of sessions it replaced
	curl -s --unix-socket "$T/n$1.sock" http://ine/metrics |
		awk '$1 == "ine_key_limit_sessions_total{action=\"replaced\"}" { print $2 }'
}
r1=$(replaced 1) r2=$(replaced 2)
lines=$(wc -l <"$T/sink.log")
N 2 "$FX" send 127.0.0.1 $RPORT $BIG >"$T/send.out" 2>&1 && fail "a $BIG-byte stream (far over $LIMIT records) went through whole"
new=$(tail -n +$((lines + 1)) "$T/sink.log")
echo "$new" | grep -q corrupt && fail "corrupt bytes at the sink: $new"
cut=$(echo "$new" | awk '{print $1; exit}') how=$(echo "$new" | awk '{print $3; exit}')
[ -n "$cut" ] && [ "$cut" -gt 0 ] && [ "$cut" -lt $BIG ] || fail "no cut stream at the sink: $new"
[ "$how" = reset ] || fail "the stream was ended by '$how', not a reset"
any_replaced() { [ "$(replaced 2)" -gt "$r2" ] || [ "$(replaced 1)" -gt "$r1" ]; }
wait_for 10 any_replaced ||
	fail "no agent counted a replaced session (node1 $(replaced 1), node2 $(replaced 2))"
grep -q "reached the AES-GCM key usage threshold: reset" "$T/n1.log" "$T/n2.log" ||
	fail "no agent logged the replacement"
note "stream: cut after $cut correct bytes with a reset ('$(cat "$T/send.out")');" \
	"replaced: node1 $(replaced 1), node2 $(replaced 2)"

# ---- 2. the next connection gets a fresh session (new handshake, new keys) ----
small >/dev/null || fail "the route does not carry a transfer after the replacement"
note "the route carries a new connection after the replacement"

# ---- 3. a Redis replica reset by the key limit resumes ----
N 1 redis-server --port 6381 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --daemonize yes --logfile "$T/master.log" || fail "redis master"
I 1 db create orders data_internode_encryption enabled target shard 1 127.0.0.1:6381 >/dev/null ||
	fail "db create orders"
I 1 route add db 2 port 16381 peer 1 target shard node 2 >/dev/null || fail "route (replica)"
N 2 redis-server --port 6382 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --replicaof 127.0.0.1 16381 --daemonize yes \
	--logfile "$T/replica.log" || fail "redis replica"
synced() { redis_synced 1 6381 2 6382; }
wait_for 60 synced || fail "replica did not come up through the route"
before=$(( $(replaced 1) + $(replaced 2) ))
# ~2.5 MB of writes: several times the limit in records on the replication link.
k=0
while [ $k -lt 20 ]; do
	seq 1 500 | sed "s/.*/SET key:$k:& $(head -c 200 /dev/zero | tr '\0' v)/" | R 1 -p 6381 >/dev/null
	k=$((k + 1))
done
wait_for 90 synced || fail "replica not in sync after writes across the key limit ($(R 2 -p 6382 dbsize) of $(R 1 -p 6381 dbsize) keys)"
after=$(( $(replaced 1) + $(replaced 2) ))
[ "$after" -gt "$before" ] || fail "the replication link was never replaced ($before -> $after)"
note "redis: $(R 1 -p 6381 dbsize) keys, replication link replaced $((after - before)) time(s), digests equal"
echo "t-keylimit: pass"
