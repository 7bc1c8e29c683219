# SPDX-License-Identifier: GPL-2.0
# Step kscale of tools/bench/suite (VM): ine.ko with 1k, 100k and 1M
# registered sessions, the guard's cost per segment and a dump's time
# (tools/bench/kscale.c; stand-in sessions from kmod/test/ine_bench.ko).
# Sourced by the suite; INE_BENCH_KSCALE_N overrides the session counts.
ine_kscale() {
	local n dbg=/sys/kernel/debug ns
	ns=${INE_BENCH_KSCALE_N:-1000 100000 1000000}
	[ "${INE_BENCH_QUICK:-0}" = 1 ] && ns="1000 10000"
	if ! [ -x $B/kscale ] || ! [ -f kmod/test/ine_bench.ko ] || ! [ -f ine.ko ]; then
		missing ine.ko-scale "ine.ko, kmod/test/ine_bench.ko or $B/kscale not built (make bench-module)"
		return 0
	fi
	lsmod | grep -q '^ine ' || insmod ine.ko || { missing ine.ko-scale "insmod ine.ko failed"; return 0; }
	insmod kmod/test/ine_bench.ko || { missing ine.ko-scale "insmod ine_bench.ko failed"; return 0; }
	mountpoint -q $dbg || mount -t debugfs none $dbg
	# one data segment per small write (TCP_NODELAY alone still corks
	# behind a segment in the device queue)
	sysctl -qw net.ipv4.tcp_autocorking=0
	meta vm_kscale_sessions "$ns"
	for n in $ns; do
		section "ine.ko with $n sessions"
		timeout -k 5 ${INE_BENCH_KSCALE_TIMEOUT:-900} $B/kscale --sessions $n \
			--segments ${INE_BENCH_KSCALE_SEGMENTS:-500} --rounds ${INE_BENCH_KSCALE_ROUNDS:-30} ||
			echo "bench: kscale with $n sessions failed" >&2
	done
	echo 0 >$dbg/ine_bench/sessions
	rmmod ine_bench
	sysctl -qw net.ipv4.tcp_autocorking=1
}
