#!/bin/sh
# Faults under kernel TLS (issue 8), 3 nodes with ine.ko:
#  1. kill -9 of the agent mid-transfer on the sending and on the receiving
#     side of a route: the sink gets a short stream, never a wrong byte; the
#     agent restarted with the same arguments carries a new transfer in < 2 s.
#     The same during Redis writes (master node1, replica node2 via a route).
#  2. node2's link down 30 s during writes, then up: the replica catches up.
#  3. rmmod/insmod of ine.ko while the route carries data.
#  4. every agent restarted with --no-modules: data still flows, encrypted by
#     the agent in userspace, and inectl status says "software".
# Figures are printed as "figure: ..." lines.  INE_FAULT_MB sizes the streams.
. tests/vm/lib.sh
MB=${INE_FAULT_MB:-8}
LINKDOWN=${INE_FAULT_LINKDOWN:-30}
I() { n=$1; shift; INE_API_SOCKET="$T/n$n.sock" ip netns exec node$n ./inectl "$@"; }
R() { n=$1; shift; ip netns exec node$n redis-cli "$@"; }
fig() { echo "figure: $*"; }
wait_for() { # SECS CMD...
	s=$1; shift; k=0
	until "$@" >/dev/null 2>&1; do
		k=$((k + 1)); [ $k -gt $((s * 10)) ] && return 1
		sleep 0.1
	done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
die() { for i in 1 2 3; do [ -f "$T/n$i.log" ] && tail -n 15 "$T/n$i.log" | sed "s/^/node$i: /" >&2; done; fail "$*"; }
cleanup() {
	for i in 1 2 3; do [ -f "$T/pid$i" ] && kill -9 "$(cat "$T/pid$i")" 2>/dev/null; done
	[ -f "$T/sinkpid" ] && kill "$(cat "$T/sinkpid")" 2>/dev/null
	[ -f "$T/wpid" ] && kill "$(cat "$T/wpid")" 2>/dev/null
	for p in 6379 6380; do for n in 1 2; do R $n -p $p shutdown nosave >/dev/null 2>&1; done; done
	rm -rf "$T"
}
trap cleanup EXIT

# start_agent N [ARGS]: how systemd would (re)start it: same state, same socket.
start_agent() {
	n=$1; shift
	rm -f "$T/n$n.sock"
	ip netns exec node$n ./ined "$@" --state-dir "$T/s$n" --api-socket "$T/n$n.sock" >>"$T/n$n.log" 2>&1 &
	echo $! >"$T/pid$n"
}
kill9_agent() { kill -9 "$(cat "$T/pid$1")"; wait "$(cat "$T/pid$1")" 2>/dev/null; }

cat >"$T/pat.py" <<'PY'
# Known byte pattern through a route: send, sink (checks every byte), probe.
import hashlib, os, socket, sys, threading, time
BLK = 4096
def block(i):
    return hashlib.sha256(i.to_bytes(8, "little")).digest() * (BLK // 32)
def pattern(off, n):
    out = bytearray()
    b, r = divmod(off, BLK)
    while len(out) < n + r:
        out += block(b); b += 1
    return bytes(out[r:r + n])
def first_bad(data):
    for off in range(0, len(data), BLK):
        chunk = data[off:off + BLK]
        want = pattern(off, len(chunk))
        if chunk != want:
            return off + next(i for i in range(len(chunk)) if chunk[i] != want[i])
    return -1
def sink(port, d):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(64); n = 0
    open(os.path.join(d, "ready"), "w").close()
    def serve(c, k):
        data = bytearray(); end = "eof"
        try:
            while True:
                b = c.recv(262144)
                if not b: break
                data += b
        except ConnectionResetError: end = "reset"
        except OSError as e: end = "error-%d" % e.errno
        c.close()
        bad = first_bad(bytes(data))
        tmp = os.path.join(d, "c%03d.tmp" % k)
        with open(tmp, "w") as f:
            f.write("%d %s %s\n" % (len(data), end, "ok" if bad < 0 else "CORRUPT@%d" % bad))
        os.rename(tmp, os.path.join(d, "c%03d.res" % k))
    while True:
        c, _ = ls.accept(); n += 1
        threading.Thread(target=serve, args=(c, n), daemon=True).start()
def send(port, total, chunk, delay):
    sent = 0; end = "done"
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        while sent < total:
            n = min(chunk, total - sent)
            s.sendall(pattern(sent, n)); sent += n
            if delay: time.sleep(delay)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536): pass
    except ConnectionResetError: end = "reset"
    except BrokenPipeError: end = "epipe"
    except socket.timeout: end = "timeout"
    except OSError as e: end = "error-%d" % e.errno
    print("%d %s" % (sent, end), flush=True)
def results(d):
    return set(f for f in os.listdir(d) if f.endswith(".res"))
def probe(port, d, total, limit):
    # Retry whole transfers until one arrives complete and intact at the sink;
    # print the milliseconds it took from the start.
    t0 = time.time()
    while time.time() - t0 < limit:
        before = results(d)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            s.sendall(pattern(0, total)); s.shutdown(socket.SHUT_WR)
            while s.recv(65536): pass
            s.close()
        except OSError:
            time.sleep(0.05); continue
        t1 = time.time()
        while time.time() - t1 < 3:
            for f in results(d) - before:
                v = open(os.path.join(d, f)).read().split()
                if int(v[0]) == total and v[2] == "ok":
                    print(int((time.time() - t0) * 1000)); return
            time.sleep(0.02)
    print(-1)
m = sys.argv[1]
if m == "sink": sink(int(sys.argv[2]), sys.argv[3])
elif m == "send": send(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
elif m == "probe": probe(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
PY
P() { n=$1; shift; ip netns exec node$n python3 "$T/pat.py" "$@"; }
# A result file of the sink: "<bytes> <eof|reset|...> <ok|CORRUPT@offset>".
res_of() { cat "$T/sink/$(ls "$T/sink" | grep '\.res$' | sort | tail -n 1)"; }
nres() { ls "$T/sink" | grep -c '\.res$'; }

load_tls; load_ine
ine_mknodes 3 || fail "cannot make the nodes"
for i in 1 2 3; do start_agent $i; done
for i in 1 2 3; do wait_for 30 test -S "$T/n$i.sock" || die "ined on node$i did not start"; done
t0=$(date +%s)
I 1 cluster create name=fault node_name=n1 address=10.77.0.1 >/dev/null || die "cluster create"
for i in 2 3; do
	tok=$(I 1 cluster join-token) || die "join token"
	I $i cluster join token="$tok" node_name=n$i address=10.77.0.$i >/dev/null || die "node$i join"
done
note "cluster of 3 formed in $(( $(date +%s) - t0 )) s"

# db 1: a byte sink on node2; node1's route port 19000 leads to it.
# db 2: Redis master on node1; node2's route port 16379 leads to it.
mkdir "$T/sink"
ip netns exec node2 python3 "$T/pat.py" sink 9000 "$T/sink" &
echo $! >"$T/sinkpid"
ip netns exec node1 redis-server --port 6379 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --daemonize yes --logfile "$T/master.log" || fail "redis master"
I 1 db create sink data_internode_encryption enabled target sink 2 127.0.0.1:9000 >/dev/null || die "db sink"
I 1 db create orders data_internode_encryption enabled target shard 1 127.0.0.1:6379 >/dev/null || die "db orders"
I 1 route add db 1 port 19000 peer 2 target sink node 1 >/dev/null || die "route to sink"
I 1 route add db 2 port 16379 peer 1 target shard node 2 >/dev/null || die "route to master"
wait_for 10 test -e "$T/sink/ready" || fail "sink did not start"
ms=$(P 1 probe 19000 "$T/sink" 65536 30)
[ "$ms" -ge 0 ] || die "route node1:19000 -> node2 sink never carried 64 KiB"
note "route node1 -> node2 sink carries data (first transfer after ${ms} ms of polling)"
ip netns exec node2 redis-server --port 6380 --bind 127.0.0.1 --dir "$T" --save '' --appendonly no \
	--enable-debug-command yes --replicaof 127.0.0.1 16379 --daemonize yes \
	--logfile "$T/replica.log" || fail "redis replica"
link_up() { R 2 -p 6380 info replication | grep -q 'master_link_status:up'; }
synced() {
	link_up && [ "$(R 1 -p 6379 debug digest)" = "$(R 2 -p 6380 debug digest)" ] &&
	[ "$(R 1 -p 6379 dbsize)" = "$(R 2 -p 6380 dbsize)" ]
}
wait_for 60 synced || die "replica did not come up through the route"
offl=$(ip netns exec node2 ./inectl show dump | awk -F'\t' '$1 == "session" && $3 == "data" && $4 == "offloaded"' | wc -l)
[ "$offl" -ge 2 ] || die "node2: $offl offloaded data sessions in ine.ko, want >= 2 (sink + replication)"

# ---- 1. kill -9 mid-transfer, sending side (node1) and receiving side (node2)
for side in 1 2; do
	before=$(nres)
	P 1 send 19000 $((MB * 1048576)) 65536 0.05 >"$T/send.out" &
	spid=$!
	sleep 2
	[ -s "$T/send.out" ] && die "side $side: the transfer ended before the kill: $(cat "$T/send.out")"
	kill9_agent $side
	wait $spid
	wait_for 15 test "$(nres)" -gt "$before" || die "side $side: the sink never saw its connection end"
	set -- $(res_of); got=$1 end=$2 check=$3
	set -- $(cat "$T/send.out"); sent=$1 send_end=$2
	expect_eq "kill -9 node$side: bytes at the sink are the source's" "$check" ok
	[ "$got" -gt 0 ] || die "kill -9 node$side: nothing arrived before the kill"
	[ "$got" -le "$sent" ] || die "kill -9 node$side: sink got $got bytes, client sent only $sent"
	[ "$got" -lt $((MB * 1048576)) ] || die "kill -9 node$side: whole stream arrived, the kill was not mid-transfer"
	fig "kill -9 node$side agent mid-transfer: client sent $sent B and saw '$send_end'; sink got $got B ($end), prefix intact"
	t0=$(now_ms)
	start_agent $side
	ms=$(P 1 probe 19000 "$T/sink" 65536 10)
	took=$(( $(now_ms) - t0 ))
	[ "$ms" -ge 0 ] || die "after restarting node$side the route never carried a new transfer"
	fig "node$side agent restarted: new 64 KiB transfer complete and intact ${took} ms after the restart"
	[ "$took" -le 2000 ] || die "node$side: route back after $took ms (want <= 2000)"
done

# Writes on the master for as long as $T/writing exists.
writer() {
	b=0
	while [ -e "$T/writing" ]; do
		awk -v b=$b 'BEGIN { for (i = 0; i < 100; i++) printf "SET f:%d:%d v%0200d\r\n", b, i, b * 100 + i }' |
			R 1 -p 6379 --pipe >/dev/null 2>&1
		b=$((b + 1)); sleep 0.05
	done
}
start_writes() { touch "$T/writing"; writer & echo $! >"$T/wpid"; }
stop_writes() { rm -f "$T/writing"; wait "$(cat "$T/wpid")"; rm -f "$T/wpid"; }
for side in 2 1; do
	start_writes
	sleep 2
	kill9_agent $side
	sleep 1
	t0=$(now_ms)
	start_agent $side
	wait_for 60 link_up || die "redis: replica not reconnected after node$side's agent was killed"
	up=$(( $(now_ms) - t0 ))
	sleep 1
	stop_writes
	wait_for 60 synced || die "redis: digests differ after node$side's agent kill"
	fig "redis, kill -9 node$side agent during writes: master_link_status:up ${up} ms after restart; $(R 1 -p 6379 dbsize) keys, digests equal $(( $(now_ms) - t0 )) ms after restart"
done

# ---- 2. node2's link down during writes
start_writes
sleep 1
ip link set veth2 down
sleep "$LINKDOWN"
k0=$(R 1 -p 6379 dbsize)
ip link set veth2 up
t0=$(now_ms)
stop_writes
wait_for 120 synced || die "redis: replica did not catch up after the link came back"
fig "node2 link down ${LINKDOWN} s during writes (master at $k0 keys when it came up): replica in sync $(( $(now_ms) - t0 )) ms after link up, $(R 2 -p 6380 dbsize) keys, digests equal"

# ---- 3. rmmod / insmod of ine.ko while data flows through the route
I 1 guard audit ports 3342 >/dev/null || die "guard audit"
ip netns exec node1 ./inectl show dump | awk -F'\t' '$1 == "session"' >"$T/show.before"
before=$(nres)
P 1 send 19000 $((MB * 1048576)) 65536 0.05 >"$T/send.out" &
spid=$!
sleep 2
[ -s "$T/send.out" ] && die "rmmod: the transfer ended before the unload: $(cat "$T/send.out")"
rmmod ine || die "rmmod ine with live sessions"
sleep 1
insmod "$TOP/ine.ko" || die "insmod ine.ko again"
wait $spid
wait_for 30 test "$(nres)" -gt "$before" || die "rmmod: the sink never saw the stream end"
set -- $(res_of); got=$1 end=$2 check=$3
set -- $(cat "$T/send.out"); sent=$1 send_end=$2
expect_eq "rmmod/insmod during a transfer: bytes" "$check" ok
expect_eq "rmmod/insmod during a transfer: client ending" "$send_end" done
expect_eq "rmmod/insmod during a transfer: sink bytes" "$got" $((MB * 1048576))
fig "rmmod+insmod ine during a ${MB} MiB transfer: $got B arrived intact ($end)"
ms=$(P 1 probe 19000 "$T/sink" 65536 10)
[ "$ms" -ge 0 ] || die "route after reload"
sleep 1
for i in 1 2; do
	ip netns exec node$i ./inectl show dump | awk -F'\t' '$1 == "session"' >"$T/show.after$i"
done
g=$(I 1 guard --json | jq -r .mode)
fig "ine.ko sessions before reload (node1): $(wc -l <"$T/show.before"); after reload and a new transfer: node1 $(wc -l <"$T/show.after1"), node2 $(wc -l <"$T/show.after2"); guard on node1 was audit, after reload: $g"
ip netns exec node1 ./inectl show | sed 's/^/  show node1 after reload: /'
grep -h 'ine.ko\|netlink\|inenl' "$T/n1.log" | tail -n 3 | sed 's/^/  node1 log: /'

# ---- 4. every agent restarted with --no-modules (ine.ko and kernel TLS unused)
for i in 1 2 3; do kill "$(cat "$T/pid$i")"; wait "$(cat "$T/pid$i")" 2>/dev/null; done
for i in 1 2 3; do start_agent $i --no-modules; done
for i in 1 2 3; do wait_for 30 test -S "$T/n$i.sock" || die "ined --no-modules on node$i did not start"; done
t0=$(now_ms)
ms=$(P 1 probe 19000 "$T/sink" 65536 30)
[ "$ms" -ge 0 ] || die "--no-modules: route does not carry data"
before=$(nres)
P 1 send 19000 $((MB * 1048576)) 262144 0 >"$T/send.out" &
spid=$!
sleep 1
sw=$(I 1 status --json | jq '[.nodes[0].sessions[] | select(.plane == "data" and .state == "software")] | length')
ktx=$(ip netns exec node1 cat /proc/net/tls_stat | awk '$1 == "TlsCurrTxSw" {print $2}')
wait $spid
wait_for 30 test "$(nres)" -gt "$before" || die "--no-modules: sink never saw the stream end"
set -- $(res_of); expect_eq "--no-modules transfer" "$1 $3" "$((MB * 1048576)) ok"
[ "$sw" -ge 1 ] || die "--no-modules: inectl status shows $sw data sessions in software"
expect_eq "--no-modules: kernel TLS TX sockets in node1" "$ktx" 0
kses=$(ip netns exec node1 ./inectl show dump | awk -F'\t' '$1 == "session"' | wc -l)
expect_eq "--no-modules: sessions registered with ine.ko on node1" "$kses" 0
wait_for 60 synced || die "--no-modules: replication not back"
fig "--no-modules on all 3: route back ${ms} ms after start; ${MB} MiB intact; $sw data sessions 'software' in status, TlsCurrTxSw 0, 0 in ine.ko; replica in sync"
I 1 status | grep -i 'software\|offload' | head -n 4 | sed 's/^/  status: /'
exit 0
