#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# End to end (issue 7): the demo's scenario with a smaller data set — a
# 3-node cluster, Redis replication node1 -> node2 and a client on node3
# through ine routes on kernel TLS, digests equal, no plaintext marker on the
# wire, sessions offloaded both ways, toggle and rotation during writes,
# redis-benchmark through a route.  tools/demo-guest asserts every claim.
INE_DEMO_KEYS=${INE_E2E_KEYS:-5000} exec sh tools/demo-guest
