# SPDX-License-Identifier: GPL-2.0
# Cluster nodes inside the VM: network namespaces node1..nodeN, each with
# eth0 on the bridge inebr0 in the initial namespace, address 10.77.0.<i>/24
# (the bridge itself is 10.77.0.254).  tcpdump -i inebr0 sees everything
# that crosses between nodes.  Sourced by the guest preamble and tests.
ine_mknodes() {
	n=$1
	[ "$n" -gt 0 ] || return 0
	# Modules in the VM; built in (or absent, and then ip fails) on a host.
	modprobe veth 2>/dev/null; modprobe bridge 2>/dev/null
	if ! ip link show inebr0 >/dev/null 2>&1; then
		ip link add inebr0 type bridge && ip link set inebr0 up &&
		ip addr add 10.77.0.254/24 dev inebr0 || return 1
	fi
	i=1
	while [ "$i" -le "$n" ]; do
		# A veth left by a namespace still being torn down would make
		# the add below fail with EEXIST.
		ip link del veth$i 2>/dev/null
		ip netns add node$i &&
		ip link add veth$i type veth peer name eth0 netns node$i &&
		ip link set veth$i master inebr0 up &&
		ip -n node$i link set lo up &&
		ip -n node$i addr add 10.77.0.$i/24 dev eth0 &&
		ip -n node$i link set eth0 up || return 1
		i=$((i + 1))
	done
}

# Remove every node (killing what still runs in them) and the bridge.
ine_rmnodes() {
	for ns in $(ip netns list 2>/dev/null | awk '/^node[0-9]+/ {print $1}'); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns"
	done
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^veth[0-9]+@/ {sub(/@.*/, "", $2); print $2}'); do
		ip link del "$l" 2>/dev/null
	done
	ip link del inebr0 2>/dev/null
	return 0
}
