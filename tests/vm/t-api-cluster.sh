#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Three ined in network namespaces node1..3 (10.77.0.<i>), kernel TLS and
# ine.ko loaded, operated only with inectl: create, join twice; a database
# with a Redis target on node 2 and a route on node 1; Redis traffic through
# the route on kernel TLS (ine.ko shows an offloaded data-plane session);
# encryption disabled from node 3 → the next connection runs plaintext;
# `inectl status` on node 1 shows all three nodes' certificates.
. tests/vm/lib.sh
load_tls
load_ine
for c in jq redis-server redis-cli; do command -v $c >/dev/null || fail "$c is required"; done
ine_mknodes 3 || fail "cannot make the node namespaces"

INE_LOG_TAIL=15
for i in 1 2 3; do node_start $i; done

ine_cluster_form 3 vm
note "cluster of 3 made with inectl"

ip netns exec node2 redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize yes --logfile "$T/redis.log" || fail "redis-server"
I 3 db create db1 data_internode_encryption enabled target r 2 127.0.0.1:6390 >/dev/null ||
	fail "db create"
I 3 route add db 1 port 16390 peer 2 target r node 1 >/dev/null || fail "route add"
R() { ip netns exec node1 redis-cli -p 16390 "$@"; }
wait_eq 30 PONG R PING
R SET k hello >/dev/null
expect_eq "GET through the route" "$(R GET k)" hello

# A connection held open (BLPOP waits) while node 1 reports it; the
# emulated VM is slow to set one up, so poll.
session_state() {
	R BLPOP nolist 15 >/dev/null 2>&1 &
	bp=$!
	k=0 got=
	while [ -z "$got" ] && [ $k -lt 100 ]; do
		sleep 0.1; k=$((k + 1))
		I 1 status --json >"$T/st.json"
		got=$(jq -r '[.nodes[0].sessions[] | select(.plane == "data") | .state] | unique | join(",")' "$T/st.json")
	done
	kill $bp 2>/dev/null; wait $bp 2>/dev/null
	echo "$got"
}
st=$(session_state)
[ "$st" = offloaded ] || { cat "$T/st.json"; fail "encrypted data plane: '$st', want offloaded"; }
expect_eq "source" "$(jq -r '.nodes[0].sessions_source' "$T/st.json")" ine.ko
note "Redis through the route on kernel TLS"

I 3 tune db 1 data_internode_encryption disabled >/dev/null || fail "tune db"
dbenc() { I 1 db show 1 --json | jq -r .data_internode_encryption; }
wait_eq 20 false dbenc
wait_eq 20 PONG R PING
st=$(session_state)
[ "$st" = plaintext ] || { cat "$T/st.json"; fail "plaintext data plane: '$st', want plaintext"; }
expect_eq "GET after the toggle" "$(R GET k)" hello
note "encryption disabled on node 3: node 1's next connection is plaintext"

I 1 status --json >"$T/st.json" || fail "status"
expect_eq "nodes with certificates" \
	"$(jq '[.nodes[] | select(.certificates.data_internode_encryption.seconds_left > 86400)] | length' "$T/st.json")" 3
ip netns exec node2 redis-cli -p 6390 shutdown nosave >/dev/null 2>&1
exit 0
