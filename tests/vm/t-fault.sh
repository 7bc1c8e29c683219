#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Faults under kernel TLS (issue 8), one 3-node cluster with ine.ko:
#  1. kill -9 of the agent mid-transfer on the sending side (node2) and on
#     the receiving side (node1) of a route: the stream that arrived is a
#     correct prefix (checked byte by byte, tests/vm/fault_xfer), never
#     corrupt; the agent restarted with the same args and state carries a
#     new transfer (time measured); the same during Redis replication
#     writes (master node1, replica node2 through a route): link up again
#     and DEBUG DIGEST equal.
#  2. node2's link down ($DOWN s) while the master keeps writing: the
#     replica catches up, digests equal.
#  3. rmmod/insmod ine.ko while a stream flows: the stream arrives whole,
#     the agents keep working; what inectl show says after the reload.
#  4. every agent restarted with --no-modules, first with tls.ko loaded
#     (what it does is reported), then with tls.ko and ine.ko removed: the
#     cluster carries encrypted data in userspace TLS, status says
#     "software", the replica is in sync.
# INE_FAULT_STRICT=0 reports instead of failing on two bugs this test found
# and that are fixed (no session registered after an ine.ko reload;
# --no-modules still using kernel TLS).
# Knobs: INE_FAULT_MB (stream killed mid-way, default 64 MiB; it only runs
# ~2 s), INE_FAULT_LINK_DOWN (default 30 s), INE_FAULT_RECOVER_MS (limit for
# a new transfer once the restarted agent logs ready, default 5000: the
# issue's 2 s is held on the host by tests/host/t-fault-restart.sh; under
# TCG a handshake alone takes up to a second and 0.8-2.0 s was measured;
# the agent's own start-up is reported and capped at 15 s).
. tests/vm/lib.sh
FX=$TOP/tests/vm/fault_xfer
[ -x "$FX" ] || fail "tests/vm/fault_xfer is not built (make tests/vm/bins)"
BIG=$(( ${INE_FAULT_MB:-64} * 1024 * 1024 ))
DOWN=${INE_FAULT_LINK_DOWN:-30}
LIMIT=${INE_FAULT_RECOVER_MS:-5000}
SMALL=65536
SPORT=7000	# the stream sink on node1
RPORT=17000	# its route on node2
now_ms() { date +%s%3N; }
link_up() { redis_link_up 2 6380; }
synced() { redis_synced 1 6379 2 6380; }
INE_LOG_TAIL=15

# An agent as systemd runs it: same arguments, same state, every time.
agent_start() { node_start_ready "$1"; }
OLDMP=
test_cleanup() {
	[ -n "$OLDMP" ] && echo "$OLDMP" >/proc/sys/kernel/modprobe
	[ -f "$T/stop" ] || touch "$T/stop"
	[ -f "$T/sinkpid" ] && kill "$(cat "$T/sinkpid")" 2>/dev/null
	for p in 6379 6380; do for n in 1 2; do R $n -p $p shutdown nosave >/dev/null 2>&1; done; done
}

load_tls; load_ine
# vm-run --nodes 3 may have made them already.
ip netns list | grep -q "^node3" || ine_mknodes 3 || fail "ine_mknodes 3"
for i in 1 2 3; do agent_start $i; done
ine_cluster_form 3 fault
step "cluster of 3 formed"
N 1 redis-server --port 6379 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --daemonize yes --logfile "$T/master.log" || fail "redis master"
N 1 "$FX" sink $SPORT "$T/sink.log" &
echo $! >"$T/sinkpid"
I 1 db create orders data_internode_encryption enabled target shard 1 127.0.0.1:6379 >/dev/null ||
	fail "db create orders"
I 1 db create stream data_internode_encryption enabled target sink 1 127.0.0.1:$SPORT >/dev/null ||
	fail "db create stream"
I 1 route add db 1 port 16379 peer 1 target shard node 2 >/dev/null || fail "route (replica)"
I 1 route add db 2 port $RPORT peer 1 target sink node 2 >/dev/null || fail "route (stream)"
small() { N 2 timeout 5 "$FX" send 127.0.0.1 $RPORT $SMALL; }
wait_for 30 small || fail "the stream route on node2 does not carry a transfer"
N 2 redis-server --port 6380 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --replicaof 127.0.0.1 16379 --daemonize yes \
	--logfile "$T/replica.log" || fail "redis replica"
wait_for 60 synced || fail "replica did not come up through the route"
off=$(N 2 ./inectl show dump | awk -F'\t' '$1 == "session" && $3 == "data" && $4 == "offloaded"' | wc -l)
[ "$off" -gt 0 ] || fail "no offloaded data session on node2: the faults would not be under kernel TLS"
step "routes up, replica in sync, $off data session(s) on kTLS on node2"

# ---- 1a. kill -9 mid-stream ----
# Node2's agent is the sending side (the client is on node2), node1's the
# receiving side (the sink is on node1).
kill_mid_stream() { # NODE SIDE
	lines=$(wc -l <"$T/sink.log")
	N 2 "$FX" send 127.0.0.1 $RPORT $BIG >"$T/send.out" 2>&1 &
	spid=$!
	sleep 2
	kill -0 $spid 2>/dev/null || fail "$2: the stream ended before the kill: $(cat "$T/send.out")"
	node_kill9 $1
	wait $spid && fail "$2: the sender got a confirmation of $BIG bytes after the agent was killed"
	sleep 0.5
	t0=$(now_ms)
	agent_start $1
	tr=$(now_ms)
	wait_for 20 small || fail "$2: no transfer through the route within 20 s of the restart"
	tx=$(now_ms)
	ms=$((tx - tr)) boot=$((tr - t0))
	new=$(tail -n +$((lines + 1)) "$T/sink.log")
	echo "$new" | grep -q corrupt && fail "$2: corrupt bytes at the sink: $new"
	cut=$(echo "$new" | awk -v s=$SMALL '$1 != s {print $1; exit}')
	[ -n "$cut" ] && [ "$cut" -gt 0 ] && [ "$cut" -lt $BIG ] ||
		fail "$2: no short stream at the sink (lines: $new)"
	how=$(echo "$new" | awk -v s=$SMALL '$1 != s {print $3; exit}')
	note "$2: sender saw '$(cat "$T/send.out")'; sink got a correct prefix of $cut bytes ($how);"
	# a killed agent's relay sockets close with a reset, never a FIN that
	# makes a cut-off stream look complete (SO_LINGER 0 while streaming)
	[ "$how" = reset ] || fail "$2: the sink saw '$how' for a stream cut by a killed agent, not a reset"
	note "   restarted agent: ready ${boot} ms after exec, a new ${SMALL}-byte transfer confirmed ${ms} ms later ($((boot + ms)) ms in all)"
	echo "$2 boot=${boot}ms xfer=${ms}ms prefix=$cut $how" >>"$T/fig"
	[ "$ms" -le "$LIMIT" ] || fail "$2: the route took $ms ms (> $LIMIT) after the agent was ready to carry a transfer"
	[ "$boot" -le 15000 ] || fail "$2: the agent took $boot ms to come up"
}
kill_mid_stream 2 "kill -9 sending side (node2)"
kill_mid_stream 1 "kill -9 receiving side (node1)"
step "stream kills done"

# ---- 1b. kill -9 during Redis writes ----
ROUND=0
writer() { # batches of 100 new keys on the master until $T/stop exists
	b=0
	while [ ! -e "$T/stop" ]; do
		awk -v r=$ROUND -v b=$b 'BEGIN { for (i = 0; i < 100; i++) printf "SET f:%d:%d:%d v-%d-%d\r\n", r, b, i, b, i }' |
			R 1 -p 6379 --pipe >/dev/null 2>&1
		b=$((b + 1)); sleep 0.1
	done
	echo $b >"$T/batches"
}
writes_start() { ROUND=$((ROUND + 1)); rm -f "$T/stop"; writer & WPID=$!; }
writes_stop() { touch "$T/stop"; wait $WPID; }
kill_during_writes() { # NODE WHAT
	writes_start
	sleep 2
	node_kill9 $1
	sleep 1
	t0=$(now_ms)
	agent_start $1
	wait_for 60 link_up || fail "$2: replica link not up 60 s after the restart"
	up=$(( $(now_ms) - t0 ))
	sleep 1
	writes_stop
	t1=$(now_ms)
	wait_for 60 synced || fail "$2: digests differ 60 s after the writes stopped"
	sync=$(( $(now_ms) - t1 ))
	note "$2: replica link up ${up} ms after the restart; digests equal ${sync} ms after writes stopped ($(R 1 -p 6379 dbsize) keys, $(cat "$T/batches") batches)"
	echo "$2 $up $sync $(R 1 -p 6379 dbsize)" >>"$T/fig"
}
kill_during_writes 1 "redis: kill -9 master side (node1)"
kill_during_writes 2 "redis: kill -9 replica side (node2)"
step "redis kills done"

# ---- 2. link down while writing ----
writes_start
sleep 1
ip link set veth2 down || fail "link down"
t0=$(now_ms)
sleep "$DOWN"
during=$(R 2 -p 6380 info replication | sed -n 's/^master_link_status:\([a-z]*\).*/\1/p')
ip link set veth2 up || fail "link up"
writes_stop
t1=$(now_ms)
wait_for 120 synced || fail "link down ${DOWN}s: replica did not catch up in 120 s"
catch=$(( $(now_ms) - t1 ))
note "link veth2 down $(( (t1 - t0) / 1000 )) s during writes (link status at the end: $during): caught up ${catch} ms after link up, $(R 1 -p 6379 dbsize) keys, digests equal"
echo "linkdown $DOWN $during $catch $(R 1 -p 6379 dbsize)" >>"$T/fig"
step "link down done"

# ---- 3. rmmod/insmod ine.ko under a stream ----
sessions() { N $1 ./inectl show dump 2>/dev/null | awk -F'\t' '$1 == "session"' | wc -l; }
guard() { N $1 ./inectl show dump 2>/dev/null | awk -F'\t' '$1 == "guard"'; }
# Control-plane sessions are long-lived links between the agents: the same
# ones must be registered again after the reload (inenl replays them).
ctl() { N $1 ./inectl show dump 2>/dev/null | awk -F'\t' '$1 == "session" && $3 == "control"' | wc -l; }
ctl_back() { [ "$(ctl 1)" -ge "$c1" ] && [ "$(ctl 2)" -ge "$c2" ]; }
c1=$(ctl 1); c2=$(ctl 2)
[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || fail "reload: no control-plane sessions registered before rmmod ($c1, $c2)"
echo "before: node1 $(sessions 1) node2 $(sessions 2) sessions; node2 guard: $(guard 2)" >"$T/kmod"
lines=$(wc -l <"$T/sink.log")
MID=$((16 * 1024 * 1024))
N 2 "$FX" send 127.0.0.1 $RPORT $MID >"$T/send.out" 2>&1 &
spid=$!
sleep 1
kill -0 $spid 2>/dev/null || fail "reload: the stream ended before rmmod"
rmmod ine || fail "rmmod ine with live sessions and a stream flowing"
sleep 1
insmod "$TOP/ine.ko" || fail "insmod ine.ko again"
t0=$(now_ms)
wait_for 10 ctl_back || fail "reload: the agents' control-plane sessions were not registered again (node1 $(ctl 1)/$c1, node2 $(ctl 2)/$c2)"
treg=$(( $(now_ms) - t0 ))
for i in 1 2 3; do
	wait_for 5 grep -q "ine.ko was reloaded" "$T/n$i.log" || fail "reload: node$i's agent did not log the reload"
done
note "reload: control-plane sessions registered again ${treg} ms after insmod (node1 $c1, node2 $c2)"
wait $spid || fail "reload: stream of $MID bytes not confirmed: $(cat "$T/send.out") sink: $(tail -n +$((lines + 1)) "$T/sink.log")"
tail -n +$((lines + 1)) "$T/sink.log" | grep -q "^$MID ok eof" || fail "reload: the sink did not get $MID correct bytes"
note "reload: $MID-byte stream across rmmod/insmod arrived whole ($(cat "$T/send.out"))"
echo "after reload: node1 $(sessions 1) node2 $(sessions 2) sessions; node2 guard: $(guard 2)" >>"$T/kmod"
# New traffic after the reload: the stream route, and the replica reconnected.
small >/dev/null || fail "reload: the route does not carry a transfer after insmod"
N 2 "$FX" send 127.0.0.1 $RPORT $BIG >"$T/send.out" 2>&1 &
spid=$!
sleep 2
during2=$(sessions 2)
echo "during a new stream: node1 $(sessions 1) node2 $during2 sessions" >>"$T/kmod"
N 2 ./inectl show >"$T/show.after" 2>&1
kill $spid; wait $spid 2>/dev/null
R 1 -p 6379 set after:reload 1 >/dev/null
wait_for 60 synced || fail "reload: replica not in sync after the reload"
sed 's/^/  /' "$T/kmod"
# Sessions opened after the reload are registered with the reloaded module
# (inenl finds the family under its new id); those from before were
# registered again above.
if [ "$during2" = 0 ]; then
	note "FINDING: after the reload the agents registered no session with ine.ko"
	[ "${INE_FAULT_STRICT:-1}" = 1 ] && fail "reload: no session registered with the reloaded ine.ko"
fi
note "inectl show on node2 after the reload, a stream flowing:"
sed 's/^/    /' "$T/show.after"
step "reload done"

# ---- 4. --no-modules ----
INE_ARGS=--no-modules
restart_all() { for i in 1 2 3; do node_stop $i; done
	for i in 1 2 3; do agent_start $i; done; }
states() { I 2 status --json | jq -r '[.nodes[0].sessions[].state] | group_by(.) | map("\(.[0]) \(length)") | join(", ")'; }
# 4a. tls.ko still loaded: --no-modules promises not to use it.
restart_all
wait_for 30 small || fail "--no-modules (tls loaded): the route does not carry a transfer"
R 1 -p 6379 set nomod:a 1 >/dev/null
wait_for 60 synced || fail "--no-modules (tls loaded): replica not in sync"
st=$(states)
note "--no-modules with tls.ko loaded: node2 sessions: $st"
case "$st" in *offloaded*)
	note "FINDING: ined --no-modules still hands sessions to kernel TLS when tls.ko is loaded"
	[ "${INE_FAULT_STRICT:-1}" = 1 ] && fail "--no-modules used kernel TLS ($st)" ;;
esac
# 4b. No kernel TLS at all: tls.ko and ine.ko removed, module autoload off.
for i in 1 2 3; do node_stop $i; done
R 2 -p 6380 replicaof no one >/dev/null	# its route is down; reconnect later
OLDMP=$(cat /proc/sys/kernel/modprobe)
echo /bin/false >/proc/sys/kernel/modprobe
rmmod ine 2>/dev/null
wait_for 20 rmmod tls || fail "--no-modules: cannot unload tls.ko ($(lsmod | grep '^tls'))"
for i in 1 2 3; do agent_start $i; done
R 2 -p 6380 replicaof 127.0.0.1 16379 >/dev/null
t0=$(now_ms)
wait_for 30 small || fail "--no-modules: the route does not carry a transfer without kernel TLS"
note "--no-modules, no tls.ko: first transfer $(( $(now_ms) - t0 )) ms after the restarts"
lines=$(wc -l <"$T/sink.log")
N 2 "$FX" send 127.0.0.1 $RPORT $MID >"$T/send.out" 2>&1 || fail "--no-modules: $(cat "$T/send.out")"
tail -n +$((lines + 1)) "$T/sink.log" | grep -q "^$MID ok eof" || fail "--no-modules: the sink did not get $MID correct bytes"
R 1 -p 6379 set nomod:b 1 >/dev/null
wait_for 90 synced || fail "--no-modules: replica not in sync"
I 2 status --json >"$T/st.json" || fail "--no-modules: status"
sw=$(jq '[.nodes[0].sessions[] | select(.state == "software")] | length' "$T/st.json")
kt=$(jq '[.nodes[0].sessions[] | select(.state == "offloaded" or .state == "plaintext")] | length' "$T/st.json")
[ "$sw" -gt 0 ] && [ "$kt" = 0 ] || fail "--no-modules: node2 status: $sw software, $kt offloaded/plaintext sessions"
[ ! -e /proc/net/tls_stat ] || fail "--no-modules: tls.ko came back"
note "--no-modules, no tls.ko: $MID bytes confirmed, replica in sync ($(R 2 -p 6380 dbsize) keys); node2 status: $sw software, 0 offloaded"
I 2 status | sed 's/^/    /'
echo "$OLDMP" >/proc/sys/kernel/modprobe; OLDMP=
modprobe tls
step "pass"
echo "figures:"; sed 's/^/  /' "$T/fig"
