/* SPDX-License-Identifier: GPL-2.0 */
/* metrics.h — Prometheus text exposition (format 0.0.4) of the agent's
 * counters.  The agent fills a snapshot from ine.ko (inenl totals) or its
 * own session table, PKI and the alert list; metrics_write only formats, so
 * the numbers on /metrics are exactly what the snapshot holds. */
#ifndef INE_METRICS_H
#define INE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "tls/listener.h"

enum metrics_state {
	METRICS_STATE_HANDSHAKING = 0,
	METRICS_STATE_OFFLOADED,
	METRICS_STATE_SOFTWARE,
	METRICS_STATE_PLAINTEXT,
	METRICS_STATE_N
};

struct metrics_snapshot {
	uint64_t sessions[CONFIG_PLANE_N][METRICS_STATE_N];
	uint64_t bytes_tx[CONFIG_PLANE_N];
	uint64_t bytes_rx[CONFIG_PLANE_N];
	bool cert_known[CONFIG_PLANE_N];
	int64_t cert_seconds_left[CONFIG_PLANE_N]; /* negative once expired */
	uint64_t alerts;                 /* currently raised */
	uint64_t guard_dropped;          /* enforce-mode drops */
	uint64_t guard_audited;          /* audit-mode plaintext seen */
	uint64_t config_version;
	bool kmod_loaded;                /* ine.ko answered */
	/* Sessions past the key-usage threshold (keylimit.c). */
	uint64_t key_limit_replaced, key_limit_kept;
	/* Port 3342's handshakes (listener.c), when it listens. */
	bool listener_known;
	struct listener_stats listener;
};

const char *metrics_state_name(enum metrics_state s);
const char *metrics_plane_name(enum config_plane p);

/* 0, or -EIO when the stream failed. */
int metrics_write(const struct metrics_snapshot *m, FILE *out);

#endif /* INE_METRICS_H */
