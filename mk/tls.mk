# TLS / kTLS area: the handshake benchmark (tools/bench/handshake.c) and the
# host s_client policy probe.
tools/bench/handshake: tools/bench/handshake.c agent/libine-agent.a
	$(CC) $(CPPFLAGS) -Itests/vm $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Handshakes per second per core, TLS 1.2 and 1.3 (host).
bench-tls: tools/bench/handshake
	tools/bench/handshake -n $(or $(BENCH_N),1000)

# `openssl s_client` against the policy: only the four suites, two versions.
tls-hostcheck: tests/vm/ktls_srv
	tests/host/t-tls-ciphers.sh

clean: tls-clean
tls-clean:
	rm -f tools/bench/handshake tools/bench/*.d

.PHONY: bench-tls tls-hostcheck tls-clean
