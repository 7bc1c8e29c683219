// SPDX-License-Identifier: GPL-2.0
/* inectl show — what ine.ko knows: sessions, totals, the guard.
 *
 *   inectl show            pretty, for people (colour on a terminal)
 *   inectl show dump       tab-separated, one line per record, stable
 *   inectl show --json     one JSON object
 *
 * Reads the kernel module only, so it works without the agent. A dump that
 * the module marks interrupted (the session set changed under it) is
 * retried, so the output is one consistent snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "inenl/inenl.h"
#include "inectl.h"

#define DUMP_TRIES 10

struct snapshot {
	struct inenl_totals totals;
	struct inenl_session *s;
	size_t n, cap;
	bool interrupted;	/* still changing after DUMP_TRIES */
};

static int collect(const struct inenl_session *s, void *arg)
{
	struct snapshot *snap = arg;
	struct inenl_session *grown;

	if (snap->n == snap->cap) {
		snap->cap = snap->cap ? snap->cap * 2 : 64;
		grown = realloc(snap->s, snap->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		snap->s = grown;
	}
	snap->s[snap->n++] = *s;
	return 0;
}

static int take_snapshot(struct inenl *nl, struct snapshot *snap)
{
	int ret = -EINTR, tries;

	for (tries = 0; tries < DUMP_TRIES && ret == -EINTR; tries++) {
		snap->n = 0;
		ret = inenl_session_dump(nl, collect, snap);
	}
	if (ret == -EINTR) {
		snap->interrupted = true;
		ret = 0;
	}
	if (ret)
		return ret;
	return inenl_totals_get(nl, &snap->totals);
}

/* ---- formatting ------------------------------------------------------------ */

bool inectl_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && *nc);
}

const char *inectl_bytes(uint64_t n, char *buf, unsigned long len)
{
	static const char *unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", n);
		return buf;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", v, unit[u]);
	return buf;
}

const char *inectl_duration(uint64_t secs, char *buf, unsigned long len)
{
	static const struct { uint64_t s; const char *name; } part[] = {
		{ 86400 * 365, "year" }, { 86400, "day" }, { 3600, "hour" },
		{ 60, "minute" }, { 1, "second" },
	};
	size_t i, off = 0;
	uint64_t k;

	buf[0] = '\0';
	if (!secs) {
		snprintf(buf, len, "now");
		return buf;
	}
	for (i = 0; i < sizeof(part) / sizeof(part[0]) && off < len; i++) {
		k = secs / part[i].s;
		if (!k)
			continue;
		secs %= part[i].s;
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64 " %s%s",
					off ? ", " : "", k, part[i].name,
					k == 1 ? "" : "s");
	}
	return buf;
}

static const char *tcp_state_name(uint8_t st)
{
	static const char *names[] = {
		"unknown", "established", "syn-sent", "syn-recv", "fin-wait1",
		"fin-wait2", "time-wait", "close", "close-wait", "last-ack",
		"listen", "closing", "new-syn-recv",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

static const char *addr(const uint8_t *a, uint16_t family, char *buf,
			size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static const char *endpoint(const uint8_t *a, uint16_t port, uint16_t family,
			    char *buf, size_t len)
{
	char ip[64];

	addr(a, family, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	return buf;
}

static void ports_str(const struct inenl_guard *g, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < g->nports && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u",
					i ? "," : "", g->ports[i]);
}

/* ---- pretty ---------------------------------------------------------------- */

static const char *B, *G, *Y, *R, *N;

static void pretty_session(const struct inenl_session *s)
{
	char e1[80], e2[80], b1[32], b2[32], d[96];
	time_t now = time(NULL);

	printf("\n%ssession%s %s%" PRIu32 "%s: %s plane", B, N, G, s->id, N,
	       inenl_plane_name(s->plane));
	if (s->db_id)
		printf(", db %" PRIu32, s->db_id);
	if (s->peer_name[0] || s->peer_node_id)
		printf(", peer %s (node %" PRIu32 ")",
		       s->peer_name[0] ? s->peer_name : "?", s->peer_node_id);
	printf("\n  %sendpoint%s: %s -> %s (%s)\n", B, N,
	       endpoint(s->saddr, s->sport, s->family, e1, sizeof(e1)),
	       endpoint(s->daddr, s->dport, s->family, e2, sizeof(e2)),
	       tcp_state_name(s->tcp_state));
	printf("  %sstate%s: %s%s%s", B, N,
	       s->state == INE_STATE_OFFLOADED ? G :
	       s->state == INE_STATE_PLAINTEXT ? R : Y,
	       inenl_state_name(s->state), N);
	if (s->has_tls)
		printf(", %s %s, tx %s, rx %s", inenl_version_name(s->tls_version),
		       inenl_cipher_name(s->cipher), inenl_conf_name(s->tx_conf),
		       inenl_conf_name(s->rx_conf));
	else
		printf(", no kernel TLS");
	printf("\n  %stransfer%s: %s sent, %s received\n", B, N,
	       inectl_bytes(s->bytes_sent, b1, sizeof(b1)),
	       inectl_bytes(s->bytes_received, b2, sizeof(b2)));
	if (s->has_tx_seq || s->has_rx_seq) {
		printf("  %srecords%s:", B, N);
		if (s->has_tx_seq)
			printf(" %" PRIu64 " sent", s->tx_rec_seq);
		if (s->has_rx_seq)
			printf("%s %" PRIu64 " received", s->has_tx_seq ? "," : "",
			       s->rx_rec_seq);
		printf(" (key usage %.4f%% of the AES-GCM limit)%s%s%s\n",
		       100.0 * (double)(s->tx_rec_seq > s->rx_rec_seq ?
					s->tx_rec_seq : s->rx_rec_seq) /
		       (double)INE_KEY_LIMIT_RECORDS,
		       s->key_warn ? R : "", s->key_warn ? " NEAR LIMIT" : "", N);
	}
	if (s->cert_serial[0] || s->cert_expiry) {
		printf("  %scertificate%s: serial %s", B, N,
		       s->cert_serial[0] ? s->cert_serial : "?");
		if (s->cert_expiry > (uint64_t)now)
			printf(", expires in %s", inectl_duration(s->cert_expiry -
					(uint64_t)now, d, sizeof(d)));
		else if (s->cert_expiry)
			printf(", %sEXPIRED%s", R, N);
		printf("\n");
	}
	printf("  %sage%s: %s\n", B, N,
	       inectl_duration(s->age_ms / 1000, d, sizeof(d)));
}

static void pretty(const struct snapshot *snap)
{
	const struct inenl_totals *t = &snap->totals;
	const struct inenl_guard *g = &t->guard;
	char ports[128], b[32];
	size_t i;

	if (inectl_color()) {
		B = "\x1b[1m"; G = "\x1b[32m"; Y = "\x1b[33m"; R = "\x1b[31m";
		N = "\x1b[0m";
	} else {
		B = G = Y = R = N = "";
	}
	ports_str(g, ports, sizeof(ports));
	printf("%sine.ko%s: version %s\n", B, N, t->version);
	printf("  %sguard%s: %s%s%s on port%s %s", B, N,
	       g->mode == INE_GUARD_ENFORCE ? G : Y,
	       inenl_guard_mode_name(g->mode), N, g->nports == 1 ? "" : "s",
	       ports);
	printf("; %" PRIu64 " passed, %" PRIu64 " unregistered, %" PRIu64
	       " dropped (%s)\n", g->passed, g->unregistered, g->dropped,
	       inectl_bytes(g->dropped_bytes, b, sizeof(b)));
	printf("  %ssessions%s: %" PRIu32 " (control %" PRIu32 ", data %" PRIu32
	       "); offloaded %" PRIu32 ", software %" PRIu32 ", handshaking %"
	       PRIu32 ", plaintext %" PRIu32 "\n", B, N, t->sessions,
	       t->plane_control, t->plane_data, t->offloaded, t->software,
	       t->handshaking, t->plaintext);
	printf("  %skernel tls%s: TLS1.2 %" PRIu32 ", TLS1.3 %" PRIu32
	       "; aes-128-gcm %" PRIu32 ", aes-256-gcm %" PRIu32
	       "; %" PRIu32 " near the key limit\n", B, N, t->tls12, t->tls13,
	       t->aes_gcm_128, t->aes_gcm_256, t->key_warn);
	if (snap->interrupted)
		printf("  (sessions kept changing; the list below is not one snapshot)\n");
	for (i = 0; i < snap->n; i++)
		pretty_session(&snap->s[i]);
}

/* ---- dump (stable, tab-separated; documented in docs/kmod.md) -------------- */

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static void dump(const struct snapshot *snap)
{
	const struct inenl_totals *t = &snap->totals;
	const struct inenl_guard *g = &t->guard;
	char ports[128], a1[64], a2[64];
	size_t i;

	ports_str(g, ports, sizeof(ports));
	printf("module\t%s\t%" PRIu32 "\t%" PRIu64 "\n", t->version,
	       t->generation, t->key_warn_records);
	printf("guard\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
	       "\n", inenl_guard_mode_name(g->mode), dash(ports), g->passed,
	       g->unregistered, g->dropped, g->dropped_bytes);
	printf("totals\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%"
	       PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%"
	       PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%" PRIu64 "\n",
	       t->sessions, t->plane_control, t->plane_data, t->handshaking,
	       t->offloaded, t->software, t->plaintext, t->tls12, t->tls13,
	       t->aes_gcm_128, t->aes_gcm_256, t->key_warn, t->added,
	       t->removed);
	for (i = 0; i < snap->n; i++) {
		const struct inenl_session *s = &snap->s[i];
		char tx[24] = "-", rx[24] = "-";

		if (s->has_tx_seq)
			snprintf(tx, sizeof(tx), "%" PRIu64, s->tx_rec_seq);
		if (s->has_rx_seq)
			snprintf(rx, sizeof(rx), "%" PRIu64, s->rx_rec_seq);
		printf("session\t%" PRIu32 "\t%s\t%s\t%" PRIu32 "\t%" PRIu32
		       "\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%"
		       PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%" PRIu64 "\t%d\n",
		       s->id, inenl_plane_name(s->plane),
		       inenl_state_name(s->state), s->db_id, s->peer_node_id,
		       dash(s->peer_name),
		       addr(s->saddr, s->family, a1, sizeof(a1)), s->sport,
		       addr(s->daddr, s->family, a2, sizeof(a2)), s->dport,
		       tcp_state_name(s->tcp_state),
		       inenl_version_name(s->tls_version),
		       inenl_cipher_name(s->cipher), inenl_conf_name(s->tx_conf),
		       inenl_conf_name(s->rx_conf), tx, rx, s->bytes_sent,
		       s->bytes_received, s->age_ms, dash(s->cert_serial),
		       s->cert_expiry, s->key_warn);
	}
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *json_session(const struct inenl_session *s)
{
	char a1[64], a2[64];
	json_t *o = json_pack(
		"{s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:I,"
		" s:I, s:b}",
		"id", (json_int_t)s->id, "plane", inenl_plane_name(s->plane),
		"state", inenl_state_name(s->state), "db_id", (json_int_t)s->db_id,
		"peer_node_id", (json_int_t)s->peer_node_id,
		"peer_name", s->peer_name,
		"local_address", addr(s->saddr, s->family, a1, sizeof(a1)),
		"local_port", (json_int_t)s->sport,
		"remote_address", addr(s->daddr, s->family, a2, sizeof(a2)),
		"remote_port", (json_int_t)s->dport,
		"tcp_state", tcp_state_name(s->tcp_state),
		"bytes_sent", (json_int_t)s->bytes_sent,
		"bytes_received", (json_int_t)s->bytes_received,
		"age_ms", (json_int_t)s->age_ms, "key_warn", s->key_warn);

	if (!o)
		return NULL;
	json_object_set_new(o, "cert_serial", s->cert_serial[0] ?
			    json_string(s->cert_serial) : json_null());
	json_object_set_new(o, "cert_expiry", s->cert_expiry ?
			    json_integer((json_int_t)s->cert_expiry) : json_null());
	if (s->has_tls) {
		json_object_set_new(o, "tls", json_pack("{s:s, s:s, s:s, s:s}",
			"version", inenl_version_name(s->tls_version),
			"cipher", inenl_cipher_name(s->cipher),
			"tx", inenl_conf_name(s->tx_conf),
			"rx", inenl_conf_name(s->rx_conf)));
		json_object_set_new(json_object_get(o, "tls"), "tx_records",
				    s->has_tx_seq ? json_integer((json_int_t)s->tx_rec_seq)
						  : json_null());
		json_object_set_new(json_object_get(o, "tls"), "rx_records",
				    s->has_rx_seq ? json_integer((json_int_t)s->rx_rec_seq)
						  : json_null());
	} else {
		json_object_set_new(o, "tls", json_null());
	}
	return o;
}

static int print_json(const struct snapshot *snap)
{
	const struct inenl_totals *t = &snap->totals;
	const struct inenl_guard *g = &t->guard;
	json_t *root, *ports, *list;
	unsigned int i;
	size_t k;
	int ret;

	ports = json_array();
	for (i = 0; i < g->nports; i++)
		json_array_append_new(ports, json_integer(g->ports[i]));
	list = json_array();
	for (k = 0; k < snap->n; k++)
		json_array_append_new(list, json_session(&snap->s[k]));
	root = json_pack(
		"{s:{s:s, s:I, s:I}, s:{s:s, s:o, s:I, s:I, s:I, s:I},"
		" s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
		" s:I, s:I}, s:o, s:b}",
		"module", "version", t->version,
		"generation", (json_int_t)t->generation,
		"key_warn_records", (json_int_t)t->key_warn_records,
		"guard", "mode", inenl_guard_mode_name(g->mode), "ports", ports,
		"passed", (json_int_t)g->passed,
		"unregistered", (json_int_t)g->unregistered,
		"dropped", (json_int_t)g->dropped,
		"dropped_bytes", (json_int_t)g->dropped_bytes,
		"totals", "sessions", (json_int_t)t->sessions,
		"control", (json_int_t)t->plane_control,
		"data", (json_int_t)t->plane_data,
		"handshaking", (json_int_t)t->handshaking,
		"offloaded", (json_int_t)t->offloaded,
		"software", (json_int_t)t->software,
		"plaintext", (json_int_t)t->plaintext,
		"tls12", (json_int_t)t->tls12, "tls13", (json_int_t)t->tls13,
		"aes_gcm_128", (json_int_t)t->aes_gcm_128,
		"aes_gcm_256", (json_int_t)t->aes_gcm_256,
		"key_warn", (json_int_t)t->key_warn,
		"added", (json_int_t)t->added, "removed", (json_int_t)t->removed,
		"sessions", list, "interrupted", snap->interrupted);
	if (!root)
		return -ENOMEM;
	ret = json_dumpf(root, stdout, JSON_INDENT(2)) ? -EIO : 0;
	putchar('\n');
	json_decref(root);
	return ret;
}

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: inectl show [dump] [--json]\n"
		"  (no argument)  sessions, totals and guard, for people\n"
		"  dump           tab-separated: module, guard, totals lines, then\n"
		"                 one 'session' line each (see docs/kmod.md)\n"
		"  --json         one JSON object\n");
}

INECTL_HANDLER(show)
{
	struct snapshot snap = { 0 };
	struct inenl *nl;
	enum { PRETTY, DUMP, JSON } how = PRETTY;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "dump"))
			how = DUMP;
		else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "json"))
			how = JSON;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			show_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "inectl show: unknown argument '%s'\n",
				argv[i]);
			show_usage(stderr);
			return 2;
		}
	}
	ret = inenl_open(&nl);
	if (ret) {
		fprintf(stderr, "inectl show: ine.ko is not loaded (%s)\n",
			strerror(-ret));
		return 1;
	}
	ret = take_snapshot(nl, &snap);
	if (ret) {
		fprintf(stderr, "inectl show: reading ine.ko: %s%s%s\n",
			strerror(-ret), *inenl_last_error(nl) ? ": " : "",
			inenl_last_error(nl));
		goto out;
	}
	if (how == DUMP)
		dump(&snap);
	else if (how == JSON)
		ret = print_json(&snap);
	else
		pretty(&snap);
	if (fflush(stdout) || ferror(stdout))
		ret = -EIO;
out:
	free(snap.s);
	inenl_close(nl);
	return ret ? 1 : 0;
}
