# SPDX-License-Identifier: GPL-2.0
# Stage 2 (PID 1 in the host root, inside the VM).  tools/vm-run appends
# the environment, the working directory and the command after this.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
OUT=/ine-vm-out
finish() {
	echo "$1" >"$OUT/rc"
	dmesg >"$OUT/dmesg" 2>/dev/null
	sync
	echo o >/proc/sysrq-trigger
	while :; do sleep 1; done
}
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname ine-vm
ip link set lo up
for t in /dev/ttyS1 /dev/ttyS2; do stty -F $t raw -echo 2>/dev/null; done
