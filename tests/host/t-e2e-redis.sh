#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# End to end on this host (no kernel TLS): the demo's scenario with the
# agents' userspace TLS fallback — 3 nodes in network namespaces, Redis
# replication and a client through ine routes, digests equal, no plaintext
# on the wire, toggle and rotation.  Needs root (namespaces).
[ "$(id -u)" = 0 ] || { echo "t-e2e-redis: needs root for network namespaces"; exit 77; }
if [ -e /proc/net/tls_stat ]; then
	echo "t-e2e-redis: this kernel has TLS; the VM suite covers that path"; exit 77
fi
INE_E2E_HOST=1 INE_DEMO_KEYS=${INE_E2E_KEYS:-5000} exec sh tools/demo-guest
