# SPDX-License-Identifier: GPL-2.0
# tests/lib/ine.sh — the one shell kit of the host and VM tests (sourced by
# tests/host/t-*.sh, tests/vm/lib.sh and the tools that drive a cluster).
# Run from the repository top.  It gives:
#   $TOP, $T          the repository, a fresh scratch directory (removed at exit)
#   fail note step expect_eq wait_for wait_eq   assertions, notes and polling
#   node_start node_start_ready node_spawn node_stop node_kill9 node_pid
#                     an ined per node, see below
#   N I               a command in node I's place, inectl against node I
#   api api_ok api_refused api_eventually json  the REST API over node I's socket
#   ine_cluster_form  node 1 creates a cluster, the others join and connect
# Node I is an ined with state $T/sI, API socket $T/nI.sock, log $T/nI.log
# (appended) and pid $T/nI.pid.  Settings, given before a call:
#   INED         the agent ($TOP/ined)          INE_ARGS  its flags for every node
#   NODE_ENV     "VAR=value ..." for the agent  NODE_NS=1 node I runs in netns nodeI
#   NODE_NET     nodes' address prefix (10.77.0.: node I is 10.77.0.I)
#   INE_START_SECS  how long a start may take (10)   INE_API_TIMEOUT curl's limit (20)
# A test's own die() (which may dump more) is what the kit calls to fail,
# when there is one; a test's test_cleanup() runs at exit, after the nodes
# and $T/pids are stopped and before $T is removed ($INE_RC: the exit status).
TOP=$(pwd)
T=$(mktemp -d "/tmp/ine-$(basename "$0" .sh).XXXXXX")
INED=${INED:-$TOP/ined}
INE_ARGS=${INE_ARGS:-}
NODE_ENV=${NODE_ENV:-}
NODE_NS=${NODE_NS:-0}
NODE_NET=${NODE_NET:-10.77.0.}

# The tail of every node's log, then exit 1.
fail() {
	echo "FAIL: $*" >&2
	for _f in "$T"/n*.log; do
		[ -f "$_f" ] && tail -n "${INE_LOG_TAIL:-20}" "$_f" | sed "s|^|  $(basename "$_f" .log): |" >&2
	done
	exit 1
}
ine_die() { if command -v die >/dev/null 2>&1; then die "$@"; else fail "$@"; fi; }
note() { echo "  $*"; }
# step TEXT: a note stamped with the seconds since the kit was sourced
INE_T0=$(date +%s)
step() { note "[$(( $(date +%s) - INE_T0 ))s] $*"; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || ine_die "$1: got '$2', want '$3'"; }
# wait_for SECS CMD...: until CMD succeeds (1 if it never does)
wait_for() {
	local s=$1 k=0
	shift
	until "$@" >/dev/null 2>&1; do
		k=$((k + 1)); [ $k -gt $((s * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}
# wait_eq SECS WANT CMD...: until CMD prints WANT, else fail saying what it printed
wait_eq() {
	local s=$1 want=$2 k=0 got
	shift 2
	while :; do
		got=$("$@" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		k=$((k + 1)); [ $k -gt $((s * 10)) ] && ine_die "$*: got '$got', want '$want' after ${s}s"
		sleep 0.1
	done
}

ine_cleanup() {
	local rc=$? f
	for f in "$T"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	[ -f "$T/pids" ] && kill $(cat "$T/pids") 2>/dev/null
	sleep 0.2
	INE_RC=$rc	# for test_cleanup: how the test ended
	command -v test_cleanup >/dev/null 2>&1 && test_cleanup
	rm -rf "$T"
	exit $rc
}
trap ine_cleanup EXIT

# ---- nodes ------------------------------------------------------------------
# N I CMD...: CMD where node I lives (its namespace when NODE_NS=1)
N() {
	local n=$1
	shift
	if [ "$NODE_NS" = 1 ]; then ip netns exec node$n "$@"; else "$@"; fi
}
# I I ARGS...: inectl against node I's agent
I() {
	local n=$1
	shift
	N $n env INE_API_SOCKET="$T/n$n.sock" "$TOP/inectl" "$@"
}
node_pid() { cat "$T/n$1.pid"; }
node_addr() { echo "$NODE_NET$1"; }
# node_spawn I [ARG...]: start node I's agent with $INE_ARGS and ARGs
# (not waiting for it); node_start also waits until its API socket is
# there, and fails if the agent exits first.
node_spawn() {
	local i=$1
	shift
	rm -f "$T/n$i.sock"
	# NODE_ENV is split into words on purpose: "A=1 B=2".
	set -- env $NODE_ENV "$INED" $INE_ARGS --state-dir "$T/s$i" --api-socket "$T/n$i.sock" "$@"
	[ "$NODE_NS" = 1 ] && set -- ip netns exec node$i "$@"
	# A simple command, not the function N: sh execs it in the background
	# job itself, so $! is the agent (ip and env exec it), not a subshell.
	"$@" >>"$T/n$i.log" 2>&1 &
	echo $! >"$T/n$i.pid"
}
node_start() {
	local k=0 p
	node_spawn "$@"
	p=$(node_pid $1)
	while [ ! -S "$T/n$1.sock" ]; do
		k=$((k + 1)); [ $k -gt $((${INE_START_SECS:-10} * 20)) ] && ine_die "node $1 did not start"
		kill -0 $p 2>/dev/null || ine_die "node $1 exited at start"
		sleep 0.05
	done
}
# node_start_ready I [ARG...]: node_start, then wait until the agent logs
# one more " ready: " line (the control plane and relay are up; the API
# socket exists earlier, before the state is loaded).
node_start_ready() {
	local r0
	r0=$(node_ready_count $1)
	node_start "$@"
	wait_for "${INE_START_SECS:-10}" node_ready_more $1 $r0 ||
		ine_die "ined on node$1 did not become ready"
}
node_ready_count() { local c; c=$(grep -c ' ready: ' "$T/n$1.log" 2>/dev/null); echo "${c:-0}"; }
node_ready_more() { [ "$(node_ready_count $1)" -gt "$2" ]; }
# node_stop I: SIGTERM, wait until it is gone; returns its exit status.
node_stop() {
	local p k=0 st
	p=$(node_pid $1)
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	st=$?
	while kill -0 "$p" 2>/dev/null; do
		k=$((k + 1)); [ $k -gt 200 ] && ine_die "node $1 did not stop"
		sleep 0.05
	done
	rm -f "$T/n$1.pid"
	return $st
}
node_kill9() { kill -9 "$(node_pid $1)"; wait "$(node_pid $1)" 2>/dev/null; rm -f "$T/n$1.pid"; }

# ---- the REST API -------------------------------------------------------------
# api I METHOD PATH [BODY]: response body in $T/out, HTTP status in $CODE
api() {
	local n=$1 m=$2 p=$3
	shift 3
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --max-time "${INE_API_TIMEOUT:-20}" \
		--unix-socket "$T/n$n.sock" -X "$m" \
		${1+-H 'Content-Type: application/json' -d "$1"} "http://ine$p")
}
json() { jq -r "$1" "$T/out"; }
# api_ok I METHOD PATH [BODY]: must answer 200
api_ok() { api "$@"; [ "$CODE" = 200 ] || ine_die "$2 $3 on node $1: HTTP $CODE $(cat "$T/out")"; }
# api_refused I WANT_CODE TEXT METHOD PATH [BODY]: that status, the body naming TEXT
api_refused() {
	local n=$1 want=$2 text=$3
	shift 3
	api "$n" "$@"
	[ "$CODE" = "$want" ] || ine_die "$1 $2 on node $n: HTTP $CODE, want $want: $(cat "$T/out")"
	grep -q -- "$text" "$T/out" || ine_die "$1 $2 on node $n: error lacks '$text': $(cat "$T/out")"
}
# api_eventually SECS I JQ WANT PATH: poll GET PATH until the field is WANT
api_eventually() {
	local k=0
	while :; do
		api "$2" GET "$5"
		[ "$CODE" = 200 ] && [ "$(json "$3")" = "$4" ] && return 0
		k=$((k + 1))
		[ $k -gt $(($1 * 10)) ] && ine_die "node $2: $5 $3 is '$(json "$3")' after $1 s, want '$4'"
		sleep 0.1
	done
}

# ---- a cluster ----------------------------------------------------------------
# ine_cluster_form NODES NAME: node 1 creates the cluster, nodes 2..NODES
# join it with a fresh token each (addresses from node_addr).
ine_cluster_form() {
	local i tok
	I 1 cluster create name=$2 node_name=n1 address=$(node_addr 1) >/dev/null ||
		ine_die "cluster create on node1"
	i=2
	while [ $i -le $1 ]; do
		tok=$(I 1 cluster join-token) || ine_die "join token for node$i"
		I $i cluster join token="$tok" node_name=n$i address=$(node_addr $i) >/dev/null ||
			ine_die "node$i join"
		i=$((i + 1))
	done
	# Joined is not yet connected: a write on node N right after its join
	# may find the link to the primary still coming up.  Wait until every
	# node has a control-plane session with every other.
	i=1
	while [ $i -le $1 ]; do
		wait_for 60 ine_all_connected $i $1 ||
			ine_die "node$i is not connected to every other node: $(I $i status --json |
				jq -c '[.nodes[] | {uid, connected}]')"
		i=$((i + 1))
	done
}
ine_all_connected() { # NODE NODES
	[ "$(I $1 status --json | jq '[.nodes[] | select(.connected == true)] | length')" = \
		$(($2 - 1)) ]
}
