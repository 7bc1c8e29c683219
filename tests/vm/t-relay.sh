#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The relay between two nodes with kernel TLS (tests/vm/relay_node drives it):
# every suite moves a stream both ways and thousands of random-sized writes,
# offloaded in both directions (/proc/net/tls_stat, relay stats); half-close,
# reset, 200 concurrent connections, a not-allowed target, a plaintext db on
# 3343 and an encrypted db refused there, an encryption toggle; a capture on
# inebr0 shows no payload marker on 3342. Then kTLS vs plaintext vs software
# TLS throughput and CPU, same run.
#   INE_RELAY_VM_MB   stream size per suite (default 8)
#   INE_RELAY_PERF_MB size per path for the measurement (default 16)
#   INE_RELAY_PERF_ONLY=1 skips straight to the measurement
. tests/vm/lib.sh
RN=$TOP/tests/vm/relay_node
[ -x "$RN" ] || fail "tests/vm/relay_node is not built (make tests/vm/bins)"
MB=${INE_RELAY_VM_MB:-4}
PMB=${INE_RELAY_PERF_MB:-16}

load_tls
load_ine
# No udev in the VM to load the CPU's AES module: without it kernel TLS runs
# aes-generic while OpenSSL uses AES-NI, and the comparison is unfair.
modprobe aesni_intel 2>/dev/null || note "aesni_intel not loadable: kernel AES is generic"
ine_mknodes 2 || fail "ine_mknodes 2"
n1() { ip netns exec node1 "$@"; }
n2() { ip netns exec node2 "$@"; }

# ---- certificates: a throwaway CA, node<i> certificates ----
cd "$T" || fail "cd $T"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	-subj /CN=ine-test-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null ||
	fail "make CA"
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
for i in 1 2; do
	openssl req -newkey rsa:2048 -nodes -keyout n$i.key -out n$i.csr \
		-subj "/CN=node$i/O=ine" 2>/dev/null &&
	openssl x509 -req -in n$i.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out n$i.pem -days 2 -extfile ext 2>/dev/null || fail "make node$i cert"
done
cd "$TOP" || exit 1

# ---- configuration (db 1 encrypted; db 2 per $1) ----
conf() {
	nodes='[{"id":1,"name":"node1","addr":"10.77.0.1"},{"id":2,"name":"node2","addr":"10.77.0.2"}]'
	dbs="[{\"id\":1,\"encryption\":true},{\"id\":2,\"encryption\":$1}]"
	cat >"$T/n1.json" <<EOF
{"self":1,"nodes":$nodes,"dbs":$dbs,
 "routes":[{"db":1,"port":7001,"peer":2,"target":"t1"},
           {"db":2,"port":7002,"peer":2,"target":"t2"},
           {"db":1,"port":7003,"peer":2,"target":"nope"}]}
EOF
	cat >"$T/n2.json" <<EOF
{"self":2,"nodes":$nodes,"dbs":$dbs,
 "targets":[{"db":1,"name":"t1","addr":"127.0.0.1","port":6001},
            {"db":2,"name":"t2","addr":"127.0.0.1","port":6001}]}
EOF
}

start_agents() {
	rm -f "$T/n1.stats" "$T/n2.stats"
	for i in 2 1; do
		ip netns exec node$i "$RN" agent --config "$T/n$i.json" --ca "$T/ca.pem" \
			--cert "$T/n$i.pem" --key "$T/n$i.key" --stats "$T/n$i.stats" "$@" \
			2>>"$T/agent$i.log" &
		echo $! >"$T/n$i.pid"
	done
	for _ in $(seq 50); do
		[ -s "$T/n1.stats" ] && [ -s "$T/n2.stats" ] && return 0
		sleep 0.1
	done
	cat "$T"/agent*.log >&2
	fail "agents did not start"
}
stop_agents() {
	for i in 1 2; do kill -TERM "$(cat "$T/n$i.pid")"; done
	for i in 1 2; do
		while kill -0 "$(cat "$T/n$i.pid")" 2>/dev/null; do sleep 0.1; done
	done
}
# rstat NODE KEY: the relay's counter, fresh
rstat() {
	rm -f "$T/n$1.stats"
	kill -USR1 "$(cat "$T/n$1.pid")"
	for _ in $(seq 50); do
		[ -s "$T/n$1.stats" ] && break
		sleep 0.1
	done
	awk -v k="$2" '$1 == k {print $2}' "$T/n$1.stats"
}
agent_logs() { for i in 1 2; do echo "--- node$i agent log (tail)"; tail -n 15 "$T/agent$i.log"; done >&2; }
client() { n1 "$RN" client "$@" || { agent_logs; fail "client $*"; }; }

conf false
n2 "$RN" target --port 6001 &
tcpdump -i inebr0 -U -s 0 -w "$T/cap.pcap" 'tcp port 3342 or tcp port 3343' \
	2>"$T/tcpdump.log" &
TCPDUMP=$!
sleep 1

if [ -z "${INE_RELAY_PERF_ONLY:-}" ]; then
# ---- every suite, kernel TLS both ways ----
for suite in 0 1 2 3; do
	start_agents --suite $suite
	for i in 1 2; do
		eval tx$i=$(ns_tls_stat $i TlsTxSw) rx$i=$(ns_tls_stat $i TlsRxSw)
	done
	client --port 7001 --op S --size $((MB << 20)) --marker >/dev/null
	client --port 7001 --op G --size $((MB << 20)) >/dev/null
	client --port 7001 --op S --size 6000000 --random >/dev/null	# ~3000 writes
	expect_eq "suite $suite: node1 sessions offloaded" "$(rstat 1 sessions_offloaded)" 3
	expect_eq "suite $suite: node2 sessions offloaded" "$(rstat 2 sessions_offloaded)" 3
	expect_eq "suite $suite: software sessions" \
		"$(rstat 1 sessions_software)$(rstat 2 sessions_software)" 00
	# ine.ko accepts OFFLOADED only with kernel TLS on TX and RX
	expect_eq "suite $suite: ine.ko registrations (node1)" "$(rstat 1 ine_reg_ok)" 3
	expect_eq "suite $suite: ine.ko refusals" "$(rstat 1 ine_reg_fail)$(rstat 2 ine_reg_fail)" 00
	for i in 1 2; do
		eval t0=\$tx$i r0=\$rx$i
		expect_eq "suite $suite: node$i TlsTxSw rise" $(( $(ns_tls_stat $i TlsTxSw) - t0 )) 3
		expect_eq "suite $suite: node$i TlsRxSw rise" $(( $(ns_tls_stat $i TlsRxSw) - r0 )) 3
	done
	step "suite $suite: ${MB} MiB each way + random writes, kTLS TX+RX on both nodes"
	stop_agents
done

start_agents
# ---- half-close and 200 concurrent connections, reset ----
client --port 7001 --op E --conns 200 >/dev/null
expect_eq "200 connections all kTLS" "$(rstat 1 sessions_offloaded)" 200
client --port 7001 --op R >/dev/null
step "200 concurrent echo with half-close; target reset reaches the client"

# ---- not allowed ----
n1 "$RN" client --port 7003 --op R >/dev/null || fail "refused route not reset"
expect_eq "refused by node2" "$(rstat 2 refused)" 1
grep -q "target 'nope' is not allowed for db 1" "$T/agent2.log" "$T/agent1.log" ||
	step "(reason is logged via syslog)"

# ---- plaintext db on 3343; an encrypted db is refused there ----
client --port 7002 --op S --size $((2 << 20)) --marker >/dev/null
expect_eq "plaintext session" "$(rstat 1 sessions_plaintext)" 1
out=$(n1 "$RN" probe --addr 10.77.0.2 --port 3343 --db 1 --name t1)
case "$out" in "encryption mode mismatch"*) ;; *) fail "3343 accepted encrypted db 1: $out" ;; esac
out=$(n1 "$RN" probe --addr 10.77.0.2 --port 3343 --db 2 --name t2)
case "$out" in ok*) ;; *) fail "3343 refused plaintext db 2: $out" ;; esac
step "plaintext db carried on 3343; encrypted db refused there ($out)"

# ---- toggle db 2's encryption: its connection drops, the next is kTLS ----
n1 "$RN" client --port 7002 --hold 30 >"$T/hold.out" &
HOLD=$!
for _ in $(seq 50); do grep -q up "$T/hold.out" && break; sleep 0.1; done
grep -q up "$T/hold.out" || fail "held connection not up"
expect_eq "ine.ko: held db 2 session registered plaintext" "$(rstat 1 ine_plaintext)" 1
conf true
for i in 1 2; do kill -HUP "$(cat "$T/n$i.pid")"; done
wait $HOLD
expect_eq "toggled connection" "$(tail -n 1 "$T/hold.out")" reset
expect_eq "ine.ko sessions left after the toggle" "$(rstat 1 ine_sessions)" 0
before=$(rstat 1 sessions_offloaded)
client --port 7002 --op S --size $((1 << 20)) >/dev/null
expect_eq "after toggle db 2 is kTLS" "$(rstat 1 sessions_offloaded)" $((before + 1))
# node2's end went too (by its own config change or by node1's reset)
expect_eq "connections left on node2" "$(rstat 2 conns)" 0
stop_agents
conf false

# ---- capture: the marker never crosses 3342, and does cross 3343 ----
sleep 1
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null
tcpdump -r "$T/cap.pcap" -w "$T/tls.pcap" 'tcp port 3342' 2>/dev/null
tcpdump -r "$T/cap.pcap" -w "$T/plain.pcap" 'tcp port 3343' 2>/dev/null
expect_eq "marker on 3342 (TLS)" "$(grep -a -c INE-PLAINTEXT-MARKER "$T/tls.pcap")" 0
[ "$(grep -a -c INE-PLAINTEXT-MARKER "$T/plain.pcap")" -gt 0 ] ||
	fail "capture saw no marker on 3343 either: capture broken, proves nothing"
[ "$(stat -c %s "$T/tls.pcap")" -gt $((MB << 20)) ] || fail "capture of 3342 too small"
step "capture: no payload marker on 3342; marker visible on plaintext 3343"
else
	kill "$TCPDUMP"
fi

# ---- measurement: same run, same sizes ----
cpu_total() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK)
for mode in ktls plaintext software; do
	case $mode in
	ktls) conf false; port=7001; args= ;;
	plaintext) conf false; port=7002; args= ;;
	software) conf false; port=7001; args=--software ;;
	esac
	start_agents $args
	c0=$(cpu_total)
	up=$(n1 "$RN" client --port $port --op S --size $((PMB << 20)) | awk '{print $3}')
	down=$(n1 "$RN" client --port $port --op G --size $((PMB << 20)) | awk '{print $3}')
	c1=$(cpu_total)
	[ $mode = ktls ] && note "kernel AES-GCM driver: $(awk '/^name/ {n = $3} /^driver/ && n == "gcm(aes)" {print $3; exit}' /proc/crypto)"
	stop_agents
	a1=$(awk '$1 ~ /^cpu_/ {s += $2} END {print s}' "$T/n1.stats")
	a2=$(awk '$1 ~ /^cpu_/ {s += $2} END {print s}' "$T/n2.stats")
	echo "perf: $mode ${PMB}MiB up ${up}s down ${down}s" \
		"MB/s $(awk -v m=$PMB -v u="$up" -v d="$down" 'BEGIN {printf "%.1f", 2 * m * 1.048576 / (u + d)}')" \
		"agent-cpu node1 ${a1}s node2 ${a2}s" \
		"vm-cpu $(awk -v a="$c0" -v b="$c1" -v h="$hz" 'BEGIN {printf "%.2f", (b - a) / h}')s"
done
exit 0
