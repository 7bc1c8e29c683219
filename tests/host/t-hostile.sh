#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-hostile.sh — hostile clients on a running ined's internode port (host,
# userspace TLS): see hostile_clients.py.  Two agents, each its own cluster; the
# second one's node certificate is the "other cluster" client.  Then REST:
# a non-root user is refused on the API socket, malformed JSON gets 400.
set -u
. tests/lib/ine.sh
P=$((24000 + $$ % 4000))
[ -x ./ined ] && [ -x ./inectl ] || fail "build ined and inectl first"
start() {
	node_start $1 --no-modules --port $2
	I $1 cluster create name=c$1 node_name=n1 address=127.0.0.1 >/dev/null ||
		fail "cluster create $1"
}
start 1 $P
start 2 $((P + 1))
python3 tests/host/hostile_clients.py $P "$T/s1/pki/current" "$T/s2/pki/current" "$T/n1.sock" ./inectl ||
	fail "hostile clients"
kill -0 "$(node_pid 1)" || fail "ined died"
# What the operator sees of it: the listener's counters on /metrics and in
# inectl status moved with the attack (the slowloris phases cannot finish
# without evictions and ClientHello timeouts; every bad client failed).
curl -s --unix-socket "$T/n1.sock" http://ine/metrics >"$T/metrics" || fail "GET /metrics"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
for k in ine_listener_failed_total ine_listener_evicted_total \
	'ine_listener_timeouts_total{stage="client_hello"}' ine_listener_handed_off_total; do
	v=$(metric "$k")
	[ -n "$v" ] && [ "$v" -gt 0 ] || fail "/metrics: $k is '${v}' after the attack"
done
echo "  /metrics: failed $(metric ine_listener_failed_total)," \
	"evicted $(metric ine_listener_evicted_total)," \
	"ClientHello timeouts $(metric 'ine_listener_timeouts_total{stage="client_hello"}')," \
	"handed off $(metric ine_listener_handed_off_total)"
I 1 status >"$T/status" || fail "inectl status"
grep -q "handshakes on the internode port: .* evicted" "$T/status" ||
	fail "inectl status has no listener line: $(cat "$T/status")"
# REST: the socket is root-only; a non-root user cannot even connect.
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups curl -s -o /dev/null -w '%{http_code}' \
	--unix-socket "$T/n1.sock" http://ine/v1/cluster 2>&1)
[ "$out" = 000 ] || fail "non-root REST request: HTTP $out"
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$T/n1.sock" -X POST \
	-H 'Content-Type: application/json' -d '{"name":' http://ine/v1/bdbs)
[ "$code" = 400 ] || fail "malformed JSON: HTTP $code $(cat "$T/out")"
head -c 300000 /dev/zero | tr '\0' a >"$T/big"
code=$(curl -s -o "$T/out" -w '%{http_code}' --unix-socket "$T/n1.sock" -X POST \
	-H 'Content-Type: application/json' --data-binary @"$T/big" http://ine/v1/bdbs)
[ "$code" = 413 ] || fail "300 KB body: HTTP $code"
echo "  REST: non-root refused at connect, malformed JSON 400, 300 KB body 413"
echo "t-hostile: pass"
