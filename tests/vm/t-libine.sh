#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# libine under kernel TLS: two ined nodes (netns node1/node2, 10.77.0.<i>),
# db 1 encrypted with target "snap" on node 2.  ine-send (node 1) sendfile()s
# a file onto the socket its agent brokered; ine-recv (node 2) writes it.
# Checks: checksum equal; ine-send reports mode offloaded; ine.ko on node 1
# lists the data-plane session offloaded (kernel TLS both ways) while it
# flows; node 1's agent reads/writes (rchar/wchar) and CPU time stay near
# zero while it flows (the payload never passes through it); toggling the
# db's encryption closes the brokered connection.
# INE_LIBINE_MB sets the size (default 32; the issue's 512 for a full run).
. tests/vm/lib.sh
load_tls
load_ine
MB=${INE_LIBINE_MB:-32}
for c in jq curl; do command -v $c >/dev/null || fail "$c is required"; done
for b in ined inectl tools/ine-send tools/ine-recv; do
	[ -x "$TOP/$b" ] || fail "$b not built"
done
ine_mknodes 2 || fail "cannot make the node namespaces"

INE_API_TIMEOUT=300
start() {
	NODE_ENV="INE_BROKER_SOCKET=$T/b$1.sock" node_start $1
	wait_for 10 test -S "$T/b$1.sock" || fail "node $1 did not start"
}
send() { ip netns exec node1 env INE_BROKER_SOCKET="$T/b1.sock" "$TOP/tools/ine-send" "$@"; }
recv_bg() {
	ip netns exec node2 env INE_BROKER_SOCKET="$T/b2.sock" "$TOP/tools/ine-recv" \
		1 snap "$1" >"$T/recv.out" 2>&1 &
	RPID=$!
	k=0
	until grep -q listening "$T/recv.out"; do
		k=$((k + 1)); [ $k -gt 200 ] && fail "ine-recv: $(cat "$T/recv.out")"
		sleep 0.05
	done
}
# cpu PID: utime+stime ticks; io PID: rchar+wchar
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
io() { awk '$1 == "rchar:" || $1 == "wchar:" {s += $2} END {print s}' /proc/$1/io; }
tick() { expr "$(date +%s%N)" / 10000000; }

start 1
api_ok 1 POST /v1/cluster '{"name":"vm","node_name":"n1","address":"10.77.0.1"}'
api_ok 1 POST /v1/cluster/join-token '{}'
tok=$(jq -r .token "$T/out")
start 2
api_ok 2 POST /v1/cluster/join "{\"token\":\"$tok\",\"node_name\":\"n2\",\"address\":\"10.77.0.2\"}"
api_ok 1 POST /v1/bdbs '{"name":"db1","data_internode_encryption":true,
	"targets":[{"name":"snap","node":2,"address":"10.77.0.2:17101"}]}'
k=0
until curl -s --unix-socket "$T/n2.sock" http://ine/v1/bdbs/1 | grep -q snap; do
	k=$((k + 1)); [ $k -gt 300 ] && { fail "db 1 did not reach node 2"; }
	sleep 0.1
done
note "cluster of 2 up, db 1 encrypted, target snap on node 2"

head -c $((MB * 1048576)) /dev/urandom >"$T/in"
A=$(cat "$T/n1.pid")
recv_bg "$T/outf"
c0=$(cpu $A); i0=$(io $A); t0=$(tick)
send 2 1 snap "$T/in" >"$T/send.out" 2>&1 &
SPID=$!
# While it flows: ine.ko lists the brokered session offloaded.
sleep 1
ip netns exec node1 "$TOP/inectl" show dump >"$T/show1" || fail "inectl show dump"
ip netns exec node2 "$TOP/inectl" show dump >"$T/show2" || fail "inectl show dump"
wait $SPID || { fail "ine-send: $(cat "$T/send.out")"; }
c1=$(cpu $A); i1=$(io $A); t1=$(tick)
wait $RPID || fail "ine-recv: $(cat "$T/recv.out")"
sed 's/^/  /' "$T/send.out" "$T/recv.out"
grep -q "mode offloaded" "$T/send.out" || fail "not offloaded: $(cat "$T/send.out")"
[ "$(sha256sum <"$T/in" | cut -d' ' -f1)" = "$(sha256sum <"$T/outf" | cut -d' ' -f1)" ] ||
	fail "checksum differs"
note "ok: $MB MiB by sendfile through libine, checksum equal"
n=$(awk -F'\t' '$1 == "session" && $3 == "data" && $4 == "offloaded"' "$T/show1" | wc -l)
[ "$n" -ge 1 ] || { cat "$T/show1"; fail "node 1: no offloaded data-plane session in ine.ko"; }
awk -F'\t' '$1 == "session" && $3 == "data"' "$T/show1" "$T/show2" | sed 's/^/  show: /'
note "ok: inectl show lists the brokered session offloaded (kernel TLS both ways)"
dc=$((c1 - c0)); di=$((i1 - i0)); dt=$((t1 - t0))
note "node 1 agent while $MB MiB flowed (${dt}0 ms): cpu $dc ticks, rchar+wchar $di bytes"
[ "$di" -lt $((MB * 1048576 / 64)) ] || fail "agent moved $di bytes of I/O: payload went through it"
[ "$dc" -le $((dt / 20 + 5)) ] || fail "agent used $dc ticks of CPU in ${dt}0 ms: payload went through it"

# INE_LIBINE_BENCH=1: CPU per GiB (all CPUs, /proc/stat) for brokered
# sendfile vs the relay (plain client -> route -> relay) vs plaintext.
busy() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
bench() {	# NAME CMD...
	recv_bg "$T/outb"
	b0=$(busy); w0=$(tick)
	"$@" >"$T/bench.out" 2>&1 || fail "bench $1: $(cat "$T/bench.out")"
	wait $RPID
	b1=$(busy); w1=$(tick)
	cmp -s "$T/in" "$T/outb" || fail "bench $1: data differs"
	note "bench $BN: $MB MiB in $((w1 - w0))0 ms, CPU $(( (b1 - b0) * 1024 / MB ))0 ms/GiB"
}
if [ -n "${INE_LIBINE_BENCH:-}" ]; then
	BN=brokered-sendfile bench send 2 1 snap "$T/in"
	api_ok 1 POST /v1/routes '{"bdb":1,"listen_port":16379,"peer_node":2,"target":"snap","node":1}'
	sleep 1
	BN=relay bench ip netns exec node1 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", 16379))
f = open(sys.argv[1], "rb"); s.sendfile(f); s.shutdown(socket.SHUT_WR); s.recv(1)' "$T/in"
	api_ok 1 PUT /v1/bdbs/1 '{"data_internode_encryption": false}'
	sleep 1
	BN=plaintext-sendfile bench send 2 1 snap "$T/in"
	api_ok 1 PUT /v1/bdbs/1 '{"data_internode_encryption": true}'
	sleep 1
fi

# A policy toggle closes the brokered connection.
head -c $((64 * 1048576)) /dev/zero >"$T/big"
recv_bg "$T/outf2"
send 2 1 snap "$T/big" >"$T/send.out" 2>&1 &
SPID=$!
sleep 1
api_ok 1 PUT /v1/bdbs/1 '{"data_internode_encryption": false}'
wait $SPID && fail "ine-send survived the toggle: $(cat "$T/send.out")"
wait $RPID
note "ok: toggling db 1's encryption closed the brokered connection: $(cat "$T/send.out")"
# How a stream ends, read with ine_read on the kernel-TLS socket (issue 20):
# a bare read() returns EIO on the close_notify and 0 on a bare FIN.
[ -x "$TOP/tests/vm/libine_read" ] || fail "tests/vm/libine_read not built"
lread() { ip netns exec node1 env INE_BROKER_SOCKET="$T/b1.sock" "$TOP/tests/vm/libine_read" "$@"; }
api_ok 1 PUT /v1/bdbs/1 '{"data_internode_encryption": true}'
sleep 1
recv_bg "$T/outr"
lread 2 1 snap shut >"$T/lread.out" 2>&1 || fail "libine_read: $(cat "$T/lread.out")"
wait $RPID
grep -q "mode offloaded" "$T/lread.out" || fail "libine_read not offloaded: $(cat "$T/lread.out")"
grep -q "^end 0$" "$T/lread.out" || fail "clean end (close_notify) not 0: $(cat "$T/lread.out")"
note "ok: ine_read on kernel TLS: the peer's close_notify reads as a clean end (0)"
recv_bg "$T/outr2"
lread 2 1 snap wait >"$T/lread.out" 2>&1 &
LPID=$!
sleep 1
api_ok 1 PUT /v1/bdbs/1 '{"data_internode_encryption": false}'
wait $LPID || fail "libine_read: $(cat "$T/lread.out")"
kill $RPID 2>/dev/null; wait $RPID 2>/dev/null
grep -q "^end -104$" "$T/lread.out" || fail "toggle teardown not -ECONNRESET: $(cat "$T/lread.out")"
note "ok: ine_read on kernel TLS: the policy teardown reads as a cut (-ECONNRESET), not a clean end"
kill "$(cat "$T/n1.pid")" "$(cat "$T/n2.pid")"
echo "PASS t-libine (vm)"
