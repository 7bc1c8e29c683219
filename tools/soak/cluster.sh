# SPDX-License-Identifier: GPL-2.0
# Sourced by tools/soak/soak-guest and tools/soak/soak-rate inside the VM:
# a 3-node ined cluster (kernel TLS, ine.ko), one database "soak" whose
# target is a soakgen echo server on node1, and a route to it on node2 and
# node3 (127.0.0.1:$PORT_ROUTE there), checked to carry a verified stream.
# Needs tests/vm/lib.sh sourced first (the kit: node_start, I, wait_for...)
# and $START set; node i's ined is the kit's (node_pid i), everything else
# to kill is in $T/pids.
GEN=$TOP/tools/soak/soakgen
PORT_ECHO=7000 PORT_ROUTE=17000
say() { echo "[$(( $(date +%s) - START ))s] $*"; }
rss() { awk '/^VmRSS/ {print $2}' /proc/"$(node_pid $1)"/status; }
# CPU time (utime + stime) of node i's ined, in clock ticks
cpu() { awk '{print $14 + $15}' /proc/"$(node_pid $1)"/stat; }

soak_cluster() {
	[ -x "$GEN" ] || fail "tools/soak/soakgen is not built (make tools/soak/soakgen)"
	load_tls
	load_ine
	ip netns list | grep -q '^node3' || ine_mknodes 3 || fail "cannot make 3 nodes"
	# 1000 routed connections are ~6000 fds in node1's agent (TLS and
	# target sockets, two pipes each) and 1000 in the echo server.
	ulimit -n 65536 || fail "cannot raise RLIMIT_NOFILE"
	for i in 1 2 3; do node_start $i; done
	ine_cluster_form 3 soak
	say "cluster of 3 formed"
	ip netns exec node1 "$GEN" echo --port $PORT_ECHO 2>"$T/echo.log" &
	echo $! >>"$T/pids"
	I 1 db create soak data_internode_encryption enabled target shard 1 \
		127.0.0.1:$PORT_ECHO >/dev/null || fail "db create"
	for i in 2 3; do
		I 1 route add db 1 port $PORT_ROUTE peer 1 target shard node $i >/dev/null ||
			fail "route on node$i"
	done
	for i in 2 3; do
		wait_for 60 ip netns exec node$i "$GEN" client --port $PORT_ROUTE --conns 1 \
			--seconds 1 || fail "route on node$i does not carry a verified stream"
	done
	say "routes on node2 and node3 carry verified streams to node1's echo server"
}
