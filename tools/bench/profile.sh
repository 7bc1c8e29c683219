# SPDX-License-Identifier: GPL-2.0
# Where the CPU goes on a path (sourced by tools/bench/suite, VM only):
# one extra transfer under `perf record -a -e cpu-clock` (the VM has no
# PMU), then the top symbols, system-wide, as "PROFILE <label>\t<line>"
# lines that tools/bench/report files under build/bench/profiles.txt and
# summarises in BENCHMARKS.md.  INE_BENCH_PROFILE=0 skips it.

# profile_xfer LABEL CONNECT [xfer send options]
profile_xfer() {
	local label=$1 to=$2 data
	shift 2
	command -v perf >/dev/null || { missing "profile $label" "perf is not installed"; return 0; }
	data=$W/perf-$(echo $label | tr / _).data
	$T perf record -q -a -e cpu-clock -F 499 -o $data -- \
		$N1 $B/xfer send --connect $to --file $W/data --bytes ${PMIB}M \
		--label profile-$label "$@" >/dev/null 2>>$W/perf.log || {
		echo "bench: profiling $label failed" >&2
		return 0
	}
	perf report -i $data --kallsyms=/proc/kallsyms --stdio --no-children --sort dso,sym --percent-limit 1 2>/dev/null |
		awk -v l="$label" '/%/ && !/^#/ {sub(/^ +/, ""); printf "PROFILE %s\t%s\n", l, $0}' | head -n 25
	rm -f $data
}
