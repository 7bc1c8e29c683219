#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Host benchmark of the relay (no kernel TLS here: the TLS path is the
# OpenSSL fallback): two relay_node agents on 127.0.0.1 / 127.0.0.2, one
# target; moves SIZE MiB up and down per path and reports throughput and
# the agents' CPU seconds (getrusage). Usage: tests/host/relay-perf.sh [MiB]
set -e
cd "$(dirname "$0")/../.."
RN=$PWD/tests/vm/relay_node
[ -x "$RN" ] || { echo "build tests/vm/relay_node first" >&2; exit 1; }
MB=${1:-1024}
T=$(mktemp -d /tmp/relay-perf.XXXXXX)
trap 'kill $(cat $T/*.pid 2>/dev/null) 2>/dev/null; rm -rf $T' EXIT
cd "$T"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	-subj /CN=ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
for i in 1 2; do
	openssl req -newkey rsa:2048 -nodes -keyout n$i.key -out n$i.csr -subj "/CN=node$i/O=ine" 2>/dev/null
	openssl x509 -req -in n$i.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out n$i.pem \
		-days 2 -extfile ext 2>/dev/null
done
nodes='[{"id":1,"name":"node1","addr":"127.0.0.1"},{"id":2,"name":"node2","addr":"127.0.0.2"}]'
dbs='[{"id":1,"encryption":true},{"id":2,"encryption":false}]'
echo "{\"self\":1,\"nodes\":$nodes,\"dbs\":$dbs,\"routes\":[{\"db\":1,\"port\":17001,\"peer\":2,\"target\":\"t1\"},{\"db\":2,\"port\":17002,\"peer\":2,\"target\":\"t2\"}]}" >n1.json
echo "{\"self\":2,\"nodes\":$nodes,\"dbs\":$dbs,\"targets\":[{\"db\":1,\"name\":\"t1\",\"addr\":\"127.0.0.1\",\"port\":16001},{\"db\":2,\"name\":\"t2\",\"addr\":\"127.0.0.1\",\"port\":16001}]}" >n2.json
"$RN" target --port 16001 & echo $! >target.pid
for mode in plaintext software; do
	port=17001; [ $mode = plaintext ] && port=17002
	rm -f n1.stats n2.stats
	for i in 2 1; do
		"$RN" agent --config n$i.json --ca ca.pem --cert n$i.pem --key n$i.key \
			--stats n$i.stats 2>>agent.log & echo $! >n$i.pid
	done
	while [ ! -s n1.stats ] || [ ! -s n2.stats ]; do sleep 0.1; done
	up=$("$RN" client --port $port --op S --size $((MB << 20)) | awk '{print $3}')
	down=$("$RN" client --port $port --op G --size $((MB << 20)) | awk '{print $3}')
	for i in 1 2; do kill -TERM $(cat n$i.pid); done
	for i in 1 2; do while kill -0 $(cat n$i.pid) 2>/dev/null; do sleep 0.1; done; rm n$i.pid; done
	c1=$(awk '$1 ~ /^cpu_/ {s += $2} END {print s}' n1.stats)
	c2=$(awk '$1 ~ /^cpu_/ {s += $2} END {print s}' n2.stats)
	echo "host-perf: $mode ${MB}MiB up ${up}s ($(awk -v m=$MB -v t=$up 'BEGIN{printf "%.0f", m*1.048576/t}') MB/s)" \
		"down ${down}s ($(awk -v m=$MB -v t=$down 'BEGIN{printf "%.0f", m*1.048576/t}') MB/s)" \
		"agent-cpu node1 ${c1}s node2 ${c2}s"
done
