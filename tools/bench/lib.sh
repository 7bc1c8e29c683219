# SPDX-License-Identifier: GPL-2.0
# Shared by tools/bench/vm-suite and tools/bench/host-suite (sourced, sh).
# Every result is one "BENCH {json}" line on stdout (see bench.h); this
# file adds the bookkeeping: background processes, suites, stunnel.

B=${INE_BENCH_BIN:-build/bench/bin}
P=${INE_BENCH_PKI:-build/bench/pki}
REPS=${INE_BENCH_REPS:-3}
BG=""

# The four suites of ine's policy: name, TLS version, OpenSSL name, key bits.
SUITES="tls12-aes128 tls13-aes128 tls12-aes256 tls13-aes256"
suite_version() { case $1 in tls12-*) echo 1.2 ;; *) echo 1.3 ;; esac; }
suite_cipher() {
	case $1 in
	tls12-aes128) echo ECDHE-RSA-AES128-GCM-SHA256 ;;
	tls12-aes256) echo ECDHE-RSA-AES256-GCM-SHA384 ;;
	tls13-aes128) echo TLS_AES_128_GCM_SHA256 ;;
	tls13-aes256) echo TLS_AES_256_GCM_SHA384 ;;
	esac
}
suite_bits() { case $1 in *aes128) echo 128 ;; *) echo 256 ;; esac; }

# meta KEY VALUE: a fact about the run, recorded with the results.
meta() {
	printf 'BENCH {"kind":"meta","key":"%s","value":"%s"}\n' "$1" \
		"$(printf '%s' "$2" | tr '\n"\\' '   ')"
}
# missing WHAT WHY: a path that could not be measured, said out loud.
missing() {
	printf 'BENCH {"kind":"missing","what":"%s","why":"%s"}\n' "$1" \
		"$(printf '%s' "$2" | tr '\n"\\' '   ')"
	echo "bench: NOT MEASURED: $1: $2" >&2
}

# bg CMD...: start in the background, remember the pid in $LAST and BG.
bg() {
	"$@" &
	LAST=$!
	BG="$BG $LAST"
}
bg_stop() {
	for p in $BG; do kill "$p" 2>/dev/null; done
	for p in $BG; do wait "$p" 2>/dev/null; done
	BG=""
}

# wait_port HOST PORT: until something listens there (in the VM: in either
# node), 30 s at most.
wait_port() {
	local i=0 n
	while [ $i -lt ${INE_BENCH_WAIT:-600} ]; do
		if [ "${ENV:-}" = vm ]; then
			for n in node1 node2; do
				ip netns exec $n ss -Hltn "src $1:$2" 2>/dev/null | grep -q . && return 0
			done
		else
			ss -Hltn "src $1:$2" 2>/dev/null | grep -q . && return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	echo "bench: nothing listens on $1:$2" >&2
	return 1
}

# stunnel_conf FILE ROLE(client|server) ACCEPT CONNECT NODE SUITE
stunnel_conf() {
	local v
	v=$(suite_version "$6")
	{
		echo "foreground = yes"
		echo "pid ="
		echo "syslog = no"
		echo "debug = 4"
		echo "output = $1.log"
		echo "[bench]"
		[ "$2" = client ] && echo "client = yes"
		echo "accept = $3"
		echo "connect = $4"
		echo "cert = $P/$5.crt"
		echo "key = $P/$5.key"
		echo "CAfile = $P/ca.crt"
		echo "verifyChain = yes"
		echo "options = NO_TICKET"
		if [ "$v" = 1.2 ]; then
			echo "sslVersion = TLSv1.2"
			echo "ciphers = $(suite_cipher "$6")"
		else
			echo "sslVersion = TLSv1.3"
			echo "ciphersuites = $(suite_cipher "$6")"
		fi
	} >"$1"
}

# tls_args NODE SUITE: xfer's TLS options for a node's certificate.
tls_args() {
	echo "--tls $(suite_version "$2") --cipher $(suite_cipher "$2")" \
	     "--cert $P/$1.crt --key $P/$1.key --ca $P/ca.crt"
}

# Memory facts (kB) for the idle-session measurement.
meminfo_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null; }
