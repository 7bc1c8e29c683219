# SPDX-License-Identifier: GPL-2.0
# ine's own paths for tools/bench/suite (sourced after lib.sh, with the
# suite's variables: ENV, N1, N2, FAR, LO, W, T, B, P, port(), bg, xfer_path).
# Each function measures through ine's code, or says what was not measured
# and why when that piece is not built.
#
# The relay is driven by the relay work's test driver (tests/vm/relay_node
# agent): one agent per node, configured with routes on node1 and targets on
# node2.  An agent pair per (suite, mode): kernel TLS (VM only) and the
# software fallback (--software), each on its own pair of addresses since an
# agent listens on <addr>:3342/3343.  Database 1 is encrypted, database 2
# has encryption off (the plaintext route).

RELAY_NODE=${INE_BENCH_RELAY_NODE:-tests/vm/relay_node}
# A/B: with INE_BENCH_RELAY_NODE_B (another build's relay_node) the software
# relay is measured through both, interleaved in the same rounds, the second
# labelled ine-sw-relay-b/SUITE.
RELAY_NODE_B=${INE_BENCH_RELAY_NODE_B:-}
HANDSHAKE=${INE_BENCH_HANDSHAKE:-tools/bench/handshake}
INE_PIDS=""		# every agent, stopped at the very end
INE_PAIRS=""		# "K:label:pid1,pid2" per agent pair

suite_index() {
	case $1 in tls12-aes128) echo 0 ;; tls12-aes256) echo 1 ;;
	tls13-aes128) echo 2 ;; tls13-aes256) echo 3 ;; esac
}
# route port of pair K: j = 0 sink, 1 echo, 2 redis (db 1, encrypted);
# 3, 4, 5 the same with encryption off (db 2)
rport() { port $((600 + 10 * $1 + $2)); }
pair_addr() {	# K NODE(1|2)
	if [ "$ENV" = vm ]; then echo 10.77.0.$((10 * $1 + $2)); else echo 127.0.9.$((10 * $1 + $2)); fi
}

ine_conf() {	# FILE SELF K
	local a1 a2 j db
	a1=$(pair_addr $3 1) a2=$(pair_addr $3 2)
	{
		printf '{"self":%d,"nodes":[{"id":1,"name":"node1","addr":"%s"},' $2 $a1
		printf '{"id":2,"name":"node2","addr":"%s"}],' $a2
		printf '"dbs":[{"id":1,"encryption":true},{"id":2,"encryption":false}],'
		if [ $2 = 1 ]; then
			printf '"routes":['
			for j in 0 1 2 3 4 5; do
				[ $j = 0 ] || printf ','
				printf '{"db":%d,"port":%d,"peer":2,"target":"%s"}' \
					$((j < 3 ? 1 : 2)) $(rport $3 $j) "$(echo sink echo redis | cut -d' ' -f$((j % 3 + 1)))"
			done
			printf '],"targets":[]}\n'
		else
			printf '"routes":[],"targets":['
			for db in 1 2; do
				[ $db = 1 ] || printf ','
				printf '{"db":%d,"name":"sink","addr":"127.0.0.1","port":%d},' $db $(port 103)
				printf '{"db":%d,"name":"echo","addr":"127.0.0.1","port":%d},' $db $(port 403)
				printf '{"db":%d,"name":"redis","addr":"%s","port":%d}' $db $FAR $(port 379)
			done
			printf ']}\n'
		fi
	} >"$1"
}

# ine_pair_up K SUITE MODE(ktls|sw) [RELAY_NODE]: two agents; sets PAIR_PIDS
ine_pair_up() {
	local k=$1 sidx sw="" p1 p2 rn=${4:-$RELAY_NODE}
	sidx=$(suite_index $2)
	[ "$3" = sw ] && sw=--software
	if [ "$ENV" = vm ]; then
		ip -n node1 addr add $(pair_addr $k 1)/24 dev eth0 2>/dev/null
		ip -n node2 addr add $(pair_addr $k 2)/24 dev eth0 2>/dev/null
	fi
	ine_conf $W/ine$k-n1.json 1 $k
	ine_conf $W/ine$k-n2.json 2 $k
	$N2 $rn agent --config $W/ine$k-n2.json --ca $P/ca.crt --cert $P/node2.crt \
		--key $P/node2.key --stats $W/ine$k-n2.stats --suite $sidx $sw >>$W/ine$k.log 2>&1 &
	p2=$!
	$N1 $rn agent --config $W/ine$k-n1.json --ca $P/ca.crt --cert $P/node1.crt \
		--key $P/node1.key --stats $W/ine$k-n1.stats --suite $sidx $sw >>$W/ine$k.log 2>&1 &
	p1=$!
	INE_PIDS="$INE_PIDS $p1 $p2"
	PAIR_PIDS="$p1,$p2"
	INE_PAIRS="$INE_PAIRS $k:$3-$2:$p1,$p2"
	wait_port $LO $(rport $k 0) || { sed 's/^/  agent: /' $W/ine$k.log >&2; return 1; }
}

ine_have() {	# WHAT
	[ -x $RELAY_NODE ] && return 0
	missing "$1" "$RELAY_NODE is not built (relay work not landed)"
	return 1
}

# The relay's own counters: which mode its sessions really ran in.
ine_stats() {
	local pr k rest lbl pids p n f
	for pr in $INE_PAIRS; do
		k=${pr%%:*} rest=${pr#*:}
		lbl=${rest%%:*} pids=${rest#*:}
		for p in $(echo $pids | tr , ' '); do kill -USR1 $p 2>/dev/null; done
		sleep 0.5
		for n in 1 2; do
			f=$W/ine$k-n$n.stats
			[ -s $f ] || continue
			awk -v l="$lbl" -v n=node$n 'BEGIN {printf "BENCH {\"kind\":\"relay_stats\",\"label\":\"%s\",\"node\":\"%s\"", l, n}
				{printf ",\"%s\":%s", $1, $2} END {print "}"}' $f
		done
	done
}

ine_bulk_paths() {
	local k=0 s
	ine_have ine-relay || return 0
	for s in $BENCH_SUITES; do
		k=$((k + 1))
		if [ "$ENV" = vm ]; then
			ine_pair_up $k $s ktls && xfer_path ine-ktls-relay/$s $LO:$(rport $k 0) "$PAIR_PIDS"
			[ $k = 1 ] && xfer_path ine-plain-relay/plain $LO:$(rport $k 3) "$PAIR_PIDS"
		fi
		ine_pair_up $((k + 10)) $s sw && xfer_path ine-sw-relay/$s $LO:$(rport $((k + 10)) 0) "$PAIR_PIDS"
		[ "$ENV" = host ] && [ $k = 1 ] && xfer_path ine-plain-relay/plain $LO:$(rport 11 3) "$PAIR_PIDS"
		if [ -n "$RELAY_NODE_B" ]; then
			ine_pair_up $((k + 20)) $s sw "$RELAY_NODE_B" &&
				xfer_path ine-sw-relay-b/$s $LO:$(rport $((k + 20)) 0) "$PAIR_PIDS"
		fi
	done
}

# the first suite's pairs: K=1 kernel TLS (VM), K=11 software
ine_latency() {
	local s
	ine_have ine-relay-latency || return 0
	s=${BENCH_SUITES%% *}
	bg $N2 $B/lat echo --listen $LO:$(port 403)
	wait_port $LO $(port 403) || return 1
	if [ "$ENV" = vm ]; then
		ping $LO:$(rport 1 1) ine-route/$s
		ping $LO:$(rport 1 4) ine-route/plain
	else
		ping $LO:$(rport 11 4) ine-route/plain
	fi
	ping $LO:$(rport 11 1) ine-sw-route/$s
}

ine_redis() {
	local s
	ine_have ine-relay-redis || return 0
	s=${BENCH_SUITES%% *}
	if [ "$ENV" = vm ]; then
		redis_bench ine-route/$s $LO $(rport 1 2)
		redis_bench ine-route/plain $LO $(rport 1 5)
	else
		redis_bench ine-route/plain $LO $(rport 11 5)
	fi
	redis_bench ine-sw-route/$s $LO $(rport 11 2)
}

ine_handshakes() {
	local n
	if [ ! -x $HANDSHAKE ]; then
		missing handshakes "$HANDSHAKE is not built (TLS work not landed)"
		return 0
	fi
	n=${INE_BENCH_HANDSHAKES:-1000}
	[ "$ENV" = vm ] && n=${INE_BENCH_VM_HANDSHAKES:-20}
	[ "${INE_BENCH_QUICK:-0}" = 1 ] && n=10
	# "TLSv1.2 CIPHER n=N  wall X/s  server A ms CPU (B/s per core)  client C ms CPU (D/s per core)"
	$T $HANDSHAKE -n $n | awk '/ n=[0-9]+ / {
		gsub(/[()\/]/, " ")
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^n=/) n = substr($i, 3)
			if ($i == "wall") w = $(i + 1)
			if ($i == "server") { sm = $(i + 1); sc = $(i + 4) }
			if ($i == "client") { cm = $(i + 1); cc = $(i + 4) }
		}
		printf "BENCH {\"kind\":\"handshake\",\"label\":\"%s %s\",\"n\":%d,\"wall_per_s\":%s,\"server_cpu_ms\":%s,\"client_cpu_ms\":%s,\"per_s_per_core\":%s}\n",
			$1, $2, n, w, sm, cm, (sc < cc ? sc : cc) }'
}

ine_idle() {
	if [ "$ENV" = vm ]; then
		if [ -x $B/kmodmem ] && [ -f ine.ko ] && insmod ine.ko 2>/dev/null || lsmod | grep -q '^ine '; then
			$T $N1 $B/kmodmem --count $KMOD_IDLE --label ine.ko
		else
			missing ine.ko-memory "ine.ko or tools/bench/kmodmem not built (kmod work not landed)"
		fi
	fi
	local k=11 pids
	ine_have ine-idle || return 0
	k=11; [ "$ENV" = vm ] && k=1
	bg $N2 $B/lat echo --listen $LO:$(port 403)
	wait_port $LO $(port 403) || return 1
	pids=$(echo $INE_PAIRS | tr ' ' '\n' | awk -F: -v k=$k '$1 == k {print $3}' | tr , ' ')
	hold_idle ine-route $LO:$(rport $k 1) "$pids"
	bg_stop
}

ine_stop() {
	ine_stats
	for p in $INE_PIDS; do kill $p 2>/dev/null; done
	for p in $INE_PIDS; do wait $p 2>/dev/null; done
	INE_PIDS=""
}
