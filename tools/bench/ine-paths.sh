# ine's own paths for tools/bench/suite (sourced after lib.sh).  Each
# function measures one thing through ine's relay / TLS code, or says it
# was not measured and why, when that piece is not built.
# $ENV is "vm" (kernel TLS) or "host" (software fallback only).

RELAY_NODE=tests/vm/relay_node
HANDSHAKE=$B/handshake

ine_bulk_paths() {
	[ -x $RELAY_NODE ] || { missing ine-relay "tests/vm/relay_node is not built (relay work not landed)"; return 0; }
	missing ine-relay "relay_node present but the benchmark does not drive it yet"
}
ine_latency() { [ -x $RELAY_NODE ] || missing ine-relay-latency "relay not landed"; }
ine_redis() { [ -x $RELAY_NODE ] || missing ine-relay-redis "relay not landed"; }
ine_handshakes() {
	[ -x $HANDSHAKE ] || { missing handshakes "tools/bench/handshake is not built (TLS work not landed)"; return 0; }
}
ine_idle() { [ -x $RELAY_NODE ] || missing ine-idle "relay not landed"; }
