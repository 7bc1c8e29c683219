#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-fault-restart.sh — kill -9 of ined, then restart from the same state:
# the internode port serves a member's TLS handshake again within 2 s of the
# restart, and the configuration (database) survived.  Host, userspace TLS.
set -u
. tests/lib/ine.sh
P=$((28000 + $$ % 2000))
INE_ARGS="--no-modules --port $P"
export INE_API_SOCKET="$T/n1.sock"
node_start 1
./inectl cluster create name=c node_name=n1 address=127.0.0.1 >/dev/null || fail "create"
./inectl db create d1 target s 1 127.0.0.1:1 >/dev/null || fail "db create"
for i in 1 2 3; do
	node_kill9 1; sleep 0.2
	t0=$(date +%s.%N)
	node_spawn 1	# the handshake below is timed from here, not from the socket
	ms=$(python3 - "$P" "$T/s1/pki/current" <<'PY'
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
c.set_alpn_protocols(["ine-dp/1"]); c.load_cert_chain(d + "/dp.crt", d + "/dp.key")
t0 = time.time()
while time.time() - t0 < 10:
    try:
        with c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=2)) as t:
            print(int((time.time() - t0) * 1000)); sys.exit(0)
    except OSError:
        time.sleep(0.02)
print(-1)
PY
)
	[ "$ms" -ge 0 ] && [ "$ms" -le 2000 ] || fail "restart $i: port not serving within 2 s ($ms ms)"
	./inectl db show 1 >/dev/null || fail "restart $i: database lost"
	echo "  kill -9 #$i: member handshake ${ms} ms after restart; database kept"
done
echo "t-fault-restart: pass"
