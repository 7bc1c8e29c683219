// SPDX-License-Identifier: GPL-2.0
/* VM test helper for ine.ko's netlink API: every command, every error path,
 * kernel TLS for TLS 1.2/1.3 x AES-GCM-128/256, events, namespaces.
 *
 *   kmod_api all VERSION        as root: everything below; VERSION is the
 *                               module version the status query must report
 *   kmod_api unpriv             as an unprivileged user: mutations get EPERM,
 *                               queries work
 *   kmod_api xns NETNS_PATH     isolation between this namespace and another
 *   kmod_api userns             as root of a user namespace owning a fresh
 *                               network namespace: mutations allowed there
 *   kmod_api hold VER BITS CMD  keep a live kTLS pair registered (offloaded,
 *                               some bytes moved) while running CMD (sh -c)
 * Exit 0 only if every check passed.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>
#include <time.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include "inenl/inenl.h"
#include "kmod_util.h"

/* ---- raw requests, for malformed input inenl would never send ------------ */

static struct nl_sock *raw_sk;
static int raw_family;

static int raw_err_cb(struct sockaddr_nl *w, struct nlmsgerr *e, void *arg)
{
	(void)w;
	*(int *)arg = e->error;
	return NL_STOP;
}

static int raw_ack_cb(struct nl_msg *m, void *arg)
{
	(void)m;
	*(int *)arg = 0;
	return NL_STOP;
}

static void raw_open(void)
{
	raw_sk = nl_socket_alloc();
	MUST(raw_sk && genl_connect(raw_sk) == 0, "genl_connect");
	raw_family = genl_ctrl_resolve(raw_sk, INE_GENL_NAME);
	MUST(raw_family > 0, "resolve family ine");
}

static struct nl_msg *raw_msg(uint8_t cmd)
{
	struct nl_msg *msg = nlmsg_alloc();

	MUST(msg && genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, raw_family, 0,
				NLM_F_ACK, cmd, INE_GENL_VERSION), "genlmsg_put");
	return msg;
}

static int raw_send(struct nl_msg *msg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int err = 1;

	nl_cb_err(cb, NL_CB_CUSTOM, raw_err_cb, &err);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, raw_ack_cb, &err);
	MUST(nl_send_auto(raw_sk, msg) >= 0, "nl_send_auto");
	nlmsg_free(msg);
	while (err == 1)
		if (nl_recvmsgs(raw_sk, cb) < 0 && err == 1)
			err = -EIO;
	nl_cb_put(cb);
	return err;
}

/* A SESSION_ADD whose nest holds fd, plane and one extra attribute. */
static int raw_add_with(int fd, int type, const void *data, int len)
{
	struct nl_msg *msg = raw_msg(INE_CMD_SESSION_ADD);
	struct nlattr *n = nla_nest_start(msg, INE_A_SESSION);

	nla_put_u32(msg, INE_SESSION_A_FD, (uint32_t)fd);
	if (type != INE_SESSION_A_PLANE)
		nla_put_u8(msg, INE_SESSION_A_PLANE, INE_PLANE_DATA);
	if (type)
		nla_put(msg, type, len, data);
	nla_nest_end(msg, n);
	return raw_send(msg);
}

static void test_malformed(int fd)
{
	struct nl_msg *msg;
	struct nlattr *n, *p;
	uint8_t u8;
	uint16_t u16;
	uint64_t u64;
	char longname[200];
	int i;

	raw_open();
	/* no INE_A_SESSION at all */
	CHECK_ERR(raw_send(raw_msg(INE_CMD_SESSION_ADD)), -EINVAL);
	/* plane out of range */
	u8 = 3;
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_PLANE, &u8, 1), -EINVAL);
	u8 = 0;
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_PLANE, &u8, 1), -EINVAL);
	/* state out of range */
	u8 = INE_STATE_MAX + 1;
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_STATE, &u8, 1), -EINVAL);
	/* unknown attribute in the nest */
	u8 = 1;
	CHECK_ERR(raw_add_with(fd, 200, &u8, 1), -EINVAL);
	/* reply-only attribute in a request */
	u64 = 5;
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_AGE_MS, &u64, 8), -EINVAL);
	/* u32 attribute of the wrong size */
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_DB_ID, &u8, 1), -EINVAL);
	/* name too long */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_ERR(raw_add_with(fd, INE_SESSION_A_PEER_NAME, longname,
			       sizeof(longname)), -EINVAL);
	/* id is not for the caller to choose */
	{
		uint32_t id = 5;

		CHECK_ERR(raw_add_with(fd, INE_SESSION_A_ID, &id, 4), -EINVAL);
	}
	/* unknown top-level attribute */
	msg = raw_msg(INE_CMD_GET_TOTALS);
	nla_put_u32(msg, 99, 1);
	CHECK_ERR(raw_send(msg), -EINVAL);
	/* session id 0 */
	msg = raw_msg(INE_CMD_SESSION_GET);
	n = nla_nest_start(msg, INE_A_SESSION);
	nla_put_u32(msg, INE_SESSION_A_ID, 0);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	/* both id and fd */
	msg = raw_msg(INE_CMD_SESSION_GET);
	n = nla_nest_start(msg, INE_A_SESSION);
	nla_put_u32(msg, INE_SESSION_A_ID, 1);
	nla_put_u32(msg, INE_SESSION_A_FD, (uint32_t)fd);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	/* guard mode out of range, port 0, empty and overlong port lists */
	msg = raw_msg(INE_CMD_SET_CONFIG);
	n = nla_nest_start(msg, INE_A_GUARD);
	nla_put_u8(msg, INE_GUARD_A_MODE, 3);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	msg = raw_msg(INE_CMD_SET_CONFIG);
	n = nla_nest_start(msg, INE_A_GUARD);
	p = nla_nest_start(msg, INE_GUARD_A_PORTS);
	u16 = 0;
	nla_put(msg, INE_PORT_A_PORT, 2, &u16);
	nla_nest_end(msg, p);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	msg = raw_msg(INE_CMD_SET_CONFIG);
	n = nla_nest_start(msg, INE_A_GUARD);
	nla_put(msg, INE_GUARD_A_PORTS | NLA_F_NESTED, 0, NULL); /* empty */
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	msg = raw_msg(INE_CMD_SET_CONFIG);
	n = nla_nest_start(msg, INE_A_GUARD);
	p = nla_nest_start(msg, INE_GUARD_A_PORTS);
	for (i = 0; i <= INE_GUARD_MAX_PORTS; i++)
		nla_put_u16(msg, INE_PORT_A_PORT, (uint16_t)(1000 + i));
	nla_nest_end(msg, p);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	/* counters are not settable */
	msg = raw_msg(INE_CMD_SET_CONFIG);
	n = nla_nest_start(msg, INE_A_GUARD);
	nla_put_u64(msg, INE_GUARD_A_DROPPED, 0);
	nla_nest_end(msg, n);
	CHECK_ERR(raw_send(msg), -EINVAL);
	/* key-usage threshold 0 and above 2^48 */
	msg = raw_msg(INE_CMD_SET_CONFIG);
	nla_put_u64(msg, INE_A_KEY_WARN_RECORDS, 0);
	CHECK_ERR(raw_send(msg), -EINVAL);
	msg = raw_msg(INE_CMD_SET_CONFIG);
	nla_put_u64(msg, INE_A_KEY_WARN_RECORDS, (1ULL << 48) + 1);
	CHECK_ERR(raw_send(msg), -EINVAL);
	nl_socket_free(raw_sk);
}

/* ---- events ----------------------------------------------------------------- */

#define MAX_EV 256
static struct inenl_event evs[MAX_EV];
static int nev;

static void on_event(const struct inenl_event *ev, void *arg)
{
	(void)arg;
	if (nev < MAX_EV)
		evs[nev++] = *ev;
}

static void drain_events(struct inenl *ev)
{
	struct pollfd p = { .fd = inenl_events_fd(ev), .events = POLLIN };

	while (poll(&p, 1, 300) > 0)
		CHECK_ERR(inenl_events_read(ev, on_event, NULL), 0);
}

static const struct inenl_event *find_event(int type, uint32_t id)
{
	int i;

	for (i = 0; i < nev; i++)
		if ((int)evs[i].type == type && evs[i].session.id == id)
			return &evs[i];
	return NULL;
}

/* Events the reaper sends (DOWN of a closed socket, KEY_USAGE) come from a
 * work item, not from the command: read until one is there or ms pass. */
static const struct inenl_event *wait_event(struct inenl *ev, int type,
					    uint32_t id, int ms)
{
	struct pollfd p = { .fd = inenl_events_fd(ev), .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!find_event(type, id)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			break;
		if (poll(&p, 1, 100) > 0)
			CHECK_ERR(inenl_events_read(ev, on_event, NULL), 0);
	}
	return find_event(type, id);
}

/* Totals once the reaper has counted removed >= want, or after ms. */
static void wait_removed(struct inenl *nl, uint64_t want, int ms,
			 struct inenl_totals *t)
{
	int waited;

	for (waited = 0;; waited += 50) {
		CHECK_ERR(inenl_totals_get(nl, t), 0);
		if (t->removed >= want || waited >= ms)
			return;
		usleep(50000);
	}
}

/* ---- sessions ------------------------------------------------------------------ */

static uint32_t add(struct inenl *nl, int fd, uint8_t plane, uint8_t state)
{
	struct inenl_session_add a = { .fd = fd, .plane = plane, .state = state };
	uint32_t id = 0;
	int ret = inenl_session_add(nl, &a, &id);

	CHECK(ret == 0 && id, "session_add fd %d: %s (%s)", fd, strerror(-ret),
	      inenl_last_error(nl));
	return id;
}

struct seen {
	uint32_t ids[64];
	int n;
};

static int collect(const struct inenl_session *s, void *arg)
{
	struct seen *seen = arg;

	if (seen->n < 64)
		seen->ids[seen->n++] = s->id;
	return 0;
}

static int count_id(const struct seen *seen, uint32_t id)
{
	int i, k = 0;

	for (i = 0; i < seen->n; i++)
		k += seen->ids[i] == id;
	return k;
}

static void test_fds(struct inenl *nl)
{
	struct inenl_session_add a = { .plane = INE_PLANE_CONTROL };
	int p[2], l;

	MUST(pipe(p) == 0, "pipe");
	a.fd = p[0];
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -ENOTSOCK);
	CHECK(strstr(inenl_last_error(nl), "not a socket"), "extack '%s'",
	      inenl_last_error(nl));
	close(p[0]);
	close(p[1]);
	a.fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EPROTONOSUPPORT);
	CHECK(strstr(inenl_last_error(nl), "not a TCP socket"), "extack '%s'",
	      inenl_last_error(nl));
	close(a.fd);
	a.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EPROTONOSUPPORT);
	close(a.fd);
	a.fd = 9999;
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EBADF);
	l = kt_listen("127.0.0.1", 0);
	a.fd = l;
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EINVAL);
	close(l);
}

static void test_lifecycle(struct inenl *nl, struct inenl *ev)
{
	struct inenl_session_add a = {
		.plane = INE_PLANE_DATA, .db_id = 7, .peer_node_id = 2,
		.peer_name = "node2", .cert_serial = "0A1B2C",
		.cert_expiry = (uint64_t)time(NULL) + 86400,
	};
	struct inenl_session s, s2;
	struct inenl_totals t0, t;
	struct seen seen = { .n = 0 };
	uint32_t id, id2;
	int c, sv, c2, s2fd, ret;

	CHECK_ERR(inenl_totals_get(nl, &t0), 0);
	kt_pair(-1, &c, &sv);
	a.fd = c;
	ret = inenl_session_add(nl, &a, &id);
	CHECK(ret == 0 && id > 0, "add: %d %s", ret, inenl_last_error(nl));
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EEXIST);
	CHECK(strstr(inenl_last_error(nl), "already registered"), "extack '%s'",
	      inenl_last_error(nl));

	CHECK_ERR(inenl_session_get(nl, id, -1, &s), 0);
	CHECK(s.id == id && s.plane == INE_PLANE_DATA && s.db_id == 7 &&
	      s.peer_node_id == 2 && !strcmp(s.peer_name, "node2") &&
	      !strcmp(s.cert_serial, "0A1B2C") && s.cert_expiry == a.cert_expiry,
	      "registered fields read back wrong");
	CHECK(s.state == INE_STATE_HANDSHAKING, "default state %u", s.state);
	CHECK(s.family == AF_INET && s.sport == kt_port(c) &&
	      s.saddr[0] == 127 && s.daddr[0] == 127 && s.tcp_state == 1,
	      "tuple/state wrong: fam %u sport %u tcp %u", s.family, s.sport,
	      s.tcp_state);
	CHECK(!s.has_tls && s.tx_conf == INE_CONF_NONE, "no tls expected");
	CHECK(s.age_ms < 10000, "age %llu", (unsigned long long)s.age_ms);
	CHECK_ERR(inenl_session_get(nl, 0, c, &s2), 0);
	CHECK(s2.id == id, "get by fd gave id %u want %u", s2.id, id);
	CHECK_ERR(inenl_session_get(nl, 0, sv, &s2), -ENOENT);

	CHECK_ERR(inenl_session_set_state(nl, id, -1, INE_STATE_SOFTWARE), 0);
	CHECK_ERR(inenl_session_get(nl, id, -1, &s), 0);
	CHECK(s.state == INE_STATE_SOFTWARE, "state %u", s.state);
	CHECK_ERR(inenl_session_set_state(nl, 0, c, INE_STATE_PLAINTEXT), 0);
	/* offloaded is verified against the socket */
	CHECK_ERR(inenl_session_set_state(nl, id, -1, INE_STATE_OFFLOADED), -EINVAL);
	CHECK(strstr(inenl_last_error(nl), "tls ULP"), "extack '%s'",
	      inenl_last_error(nl));
	MUST(kt_ulp(c) == 0, "ULP");
	CHECK_ERR(inenl_session_set_state(nl, id, -1, INE_STATE_OFFLOADED), -EINVAL);
	CHECK(strstr(inenl_last_error(nl), "TLS_TX"), "extack '%s'",
	      inenl_last_error(nl));
	MUST(kt_ktls_dir(c, TLS_TX, TLS_1_3_VERSION, 128, 0) == 0, "TX");
	CHECK_ERR(inenl_session_set_state(nl, id, -1, INE_STATE_OFFLOADED), -EINVAL);
	CHECK(strstr(inenl_last_error(nl), "TLS_RX"), "extack '%s'",
	      inenl_last_error(nl));
	CHECK_ERR(inenl_session_get(nl, id, -1, &s), 0);
	CHECK(s.state == INE_STATE_PLAINTEXT && s.has_tls &&
	      s.tx_conf == INE_CONF_SW && s.rx_conf == INE_CONF_NONE &&
	      s.has_tx_seq && !s.has_rx_seq, "tx-only tls state wrong");
	/* an add that asks for OFFLOADED is verified too */
	kt_pair(-1, &c2, &s2fd);
	a.fd = c2;
	a.state = INE_STATE_OFFLOADED;
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EINVAL);
	a.state = 0;
	CHECK_ERR(inenl_session_update(nl, 0, &a), -ENOENT);
	id2 = add(nl, c2, INE_PLANE_CONTROL, 0);
	a.fd = -1;
	a.db_id = 9;
	a.peer_name = "node3";
	CHECK_ERR(inenl_session_update(nl, id2, &a), 0);
	CHECK_ERR(inenl_session_get(nl, id2, -1, &s), 0);
	CHECK(s.db_id == 9 && !strcmp(s.peer_name, "node3") &&
	      s.plane == INE_PLANE_DATA, "update not applied");

	CHECK_ERR(inenl_session_dump(nl, collect, &seen), 0);
	CHECK(count_id(&seen, id) == 1 && count_id(&seen, id2) == 1,
	      "dump saw %d/%d", count_id(&seen, id), count_id(&seen, id2));
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.sessions == t0.sessions + 2 && t.added == t0.added + 2,
	      "totals sessions %u added %llu", t.sessions,
	      (unsigned long long)t.added);
	CHECK(t.plaintext == t0.plaintext + 1 &&
	      t.handshaking == t0.handshaking + 1,
	      "state totals");

	/* delete by id; a second delete finds nothing */
	CHECK_ERR(inenl_session_del(nl, id2, -1), 0);
	CHECK_ERR(inenl_session_del(nl, id2, -1), -ENOENT);
	CHECK_ERR(inenl_session_get(nl, id2, -1, &s), -ENOENT);
	CHECK_ERR(inenl_session_set_state(nl, id2, -1, INE_STATE_SOFTWARE), -ENOENT);

	/* close: gone from every query at once */
	close(c);
	seen.n = 0;
	CHECK_ERR(inenl_session_dump(nl, collect, &seen), 0);
	CHECK(count_id(&seen, id) == 0, "closed session still dumped");
	CHECK_ERR(inenl_session_get(nl, id, -1, &s), -ENOENT);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.sessions == t0.sessions, "after close: sessions %u", t.sessions);
	/* counted removed by the reaper, which runs once a second */
	wait_removed(nl, t0.removed + 2, 5000, &t);
	CHECK(t.sessions == t0.sessions && t.removed == t0.removed + 2,
	      "after close and a reaper run: sessions %u removed %llu",
	      t.sessions, (unsigned long long)t.removed);

	drain_events(ev);
	CHECK(find_event(INENL_EV_SESSION_UP, id), "no UP event");
	CHECK(find_event(INENL_EV_SESSION_STATE, id), "no STATE event");
	CHECK(wait_event(ev, INENL_EV_SESSION_DOWN, id, 3000) &&
	      find_event(INENL_EV_SESSION_DOWN, id)->session.down_reason ==
	      INE_DOWN_CLOSED, "no DOWN(closed) event");
	CHECK(find_event(INENL_EV_SESSION_DOWN, id2) &&
	      find_event(INENL_EV_SESSION_DOWN, id2)->session.down_reason ==
	      INE_DOWN_DELETED, "no DOWN(deleted) event");
	close(sv);
	close(c2);
	close(s2fd);
}

static uint64_t record_overhead(unsigned version)
{
	return version == TLS_1_2_VERSION ? 5 + 8 + 16 : 5 + 1 + 16;
}

/* One kTLS pair, both ends registered; returns after moving data. */
static void ktls_pair(struct inenl *nl, unsigned version, int bits, int *c,
		      int *s, uint32_t *idc, uint32_t *ids)
{
	char buf[1000];
	int i;

	kt_pair(-1, c, s);
	*idc = add(nl, *c, INE_PLANE_DATA, 0);
	*ids = add(nl, *s, INE_PLANE_DATA, 0);
	kt_ktls(*c, true, version, bits);
	kt_ktls(*s, false, version, bits);
	CHECK_ERR(inenl_session_set_state(nl, *idc, -1, INE_STATE_OFFLOADED), 0);
	CHECK_ERR(inenl_session_set_state(nl, 0, *s, INE_STATE_OFFLOADED), 0);
	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < 5; i++)
		kt_write_all(*c, buf, 1000);
	for (i = 0; i < 5; i++)
		kt_read_all(*s, buf, 1000);
	for (i = 0; i < 3; i++)
		kt_write_all(*s, buf, 500);
	for (i = 0; i < 3; i++)
		kt_read_all(*c, buf, 500);
}

static void test_ktls(struct inenl *nl, struct inenl *ev, unsigned version,
		      int bits)
{
	uint16_t cipher = bits == 128 ? TLS_CIPHER_AES_GCM_128 :
					TLS_CIPHER_AES_GCM_256;
	uint64_t want_c = 5 * (1000 + record_overhead(version));
	struct inenl_session sc, ss;
	struct inenl_totals t;
	uint32_t idc, ids;
	int c, s, tries;

	fprintf(stderr, "  ktls %s aes-%d-gcm\n", inenl_version_name((uint16_t)version), bits);
	ktls_pair(nl, version, bits, &c, &s, &idc, &ids);
	for (tries = 0; tries < 50; tries++) {	/* wait for the ACKs */
		CHECK_ERR(inenl_session_get(nl, idc, -1, &sc), 0);
		if (sc.bytes_sent > want_c)
			break;
		usleep(20000);
	}
	CHECK_ERR(inenl_session_get(nl, ids, -1, &ss), 0);
	CHECK(sc.state == INE_STATE_OFFLOADED && sc.has_tls &&
	      sc.tls_version == version && sc.cipher == cipher &&
	      sc.tx_conf == INE_CONF_SW && sc.rx_conf == INE_CONF_SW,
	      "client tls: state %u ver %x cipher %u tx %u rx %u", sc.state,
	      sc.tls_version, sc.cipher, sc.tx_conf, sc.rx_conf);
	CHECK(sc.has_tx_seq && sc.tx_rec_seq == 5 && sc.has_rx_seq &&
	      sc.rx_rec_seq == 3, "client records tx %llu rx %llu",
	      (unsigned long long)sc.tx_rec_seq, (unsigned long long)sc.rx_rec_seq);
	CHECK(ss.tx_rec_seq == 3 && ss.rx_rec_seq == 5, "server records tx %llu rx %llu",
	      (unsigned long long)ss.tx_rec_seq, (unsigned long long)ss.rx_rec_seq);
	/* bytes_sent is tcpi_bytes_acked: the SYN counts as one */
	CHECK(sc.bytes_sent == want_c + 1 && ss.bytes_received == want_c,
	      "bytes: client sent %llu, server received %llu, want %llu",
	      (unsigned long long)sc.bytes_sent,
	      (unsigned long long)ss.bytes_received, (unsigned long long)want_c);
	CHECK(sc.bytes_received == 3 * (500 + record_overhead(version)),
	      "client received %llu", (unsigned long long)sc.bytes_received);
	CHECK(!sc.key_warn, "key warning too early");
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.offloaded == 2 && t.sessions == 2 &&
	      (version == TLS_1_2_VERSION ? t.tls12 : t.tls13) == 2 &&
	      (bits == 128 ? t.aes_gcm_128 : t.aes_gcm_256) == 2,
	      "totals: offloaded %u tls12 %u tls13 %u 128 %u 256 %u", t.offloaded,
	      t.tls12, t.tls13, t.aes_gcm_128, t.aes_gcm_256);

	/* key usage: a threshold of 4 records is crossed by 5 sent */
	nev = 0;
	CHECK_ERR(inenl_config_set(nl, -1, NULL, 0, 4), 0);
	CHECK_ERR(inenl_session_get(nl, idc, -1, &sc), 0);
	CHECK(sc.key_warn, "no key warning past the threshold");
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.key_warn == 2 && t.key_warn_records == 4, "key_warn total %u",
	      t.key_warn);
	/* the new threshold is checked at once (not at the next 5 s check) */
	CHECK(wait_event(ev, INENL_EV_KEY_USAGE, idc, 2000) &&
	      find_event(INENL_EV_KEY_USAGE, idc)->session.tx_rec_seq == 5,
	      "no key-usage event for the client within 2 s");
	CHECK(wait_event(ev, INENL_EV_KEY_USAGE, ids, 2000),
	      "no key-usage event for the server within 2 s");
	CHECK_ERR(inenl_config_set(nl, -1, NULL, 0, INE_KEY_WARN_RECORDS_DEFAULT), 0);
	close(c);
	close(s);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.sessions == 0, "sessions left: %u", t.sessions);
}

static void test_config(struct inenl *nl, const char *version)
{
	static const uint16_t ports[] = { 3342, 4000 };
	struct inenl_totals t;

	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(!strcmp(t.version, version), "version '%s' want '%s'", t.version,
	      version);
	CHECK(t.generation > 0, "generation 0");
	CHECK(t.guard.mode == INE_GUARD_OFF && t.guard.nports == 1 &&
	      t.guard.ports[0] == 3342, "default guard: mode %u nports %u",
	      t.guard.mode, t.guard.nports);
	CHECK(t.key_warn_records == INE_KEY_WARN_RECORDS_DEFAULT, "key warn %llu",
	      (unsigned long long)t.key_warn_records);
	CHECK_ERR(inenl_config_set(nl, INE_GUARD_AUDIT, ports, 2, 1000), 0);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.guard.mode == INE_GUARD_AUDIT && t.guard.nports == 2 &&
	      t.guard.ports[1] == 4000 && t.key_warn_records == 1000,
	      "config not applied");
	CHECK_ERR(inenl_config_set(nl, INE_GUARD_OFF, ports, 1,
				   INE_KEY_WARN_RECORDS_DEFAULT), 0);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.guard.mode == INE_GUARD_OFF && t.guard.nports == 1,
	      "config not restored");
}

static int run_all(const char *version)
{
	static const unsigned versions[] = { TLS_1_2_VERSION, TLS_1_3_VERSION };
	static const int bits[] = { 128, 256 };
	struct inenl *nl, *ev;
	int c, s, i, j;

	MUST(inenl_open(&nl) == 0, "inenl_open");
	MUST(inenl_events_open(&ev) == 0, "inenl_events_open");
	test_config(nl, version);
	kt_pair(-1, &c, &s);
	test_malformed(c);
	close(c);
	close(s);
	test_fds(nl);
	test_lifecycle(nl, ev);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			test_ktls(nl, ev, versions[i], bits[j]);
	inenl_close(ev);
	inenl_close(nl);
	return kt_failures ? 1 : 0;
}

static int run_unpriv(void)
{
	struct inenl_session_add a = { .plane = INE_PLANE_DATA };
	struct seen seen = { .n = 0 };
	struct inenl_totals t;
	struct inenl_session s;
	struct inenl *nl, *ev;
	int c, sv;

	MUST(getuid() != 0 && geteuid() != 0, "must run unprivileged");
	MUST(inenl_open(&nl) == 0, "inenl_open");
	kt_pair(-1, &c, &sv);
	a.fd = c;
	CHECK_ERR(inenl_session_add(nl, &a, NULL), -EPERM);
	CHECK_ERR(inenl_session_set_state(nl, 1, -1, INE_STATE_SOFTWARE), -EPERM);
	CHECK_ERR(inenl_session_del(nl, 1, -1), -EPERM);
	CHECK_ERR(inenl_config_set(nl, INE_GUARD_OFF, NULL, 0, 0), -EPERM);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK_ERR(inenl_session_dump(nl, collect, &seen), 0);
	CHECK(seen.n >= 1, "unprivileged dump saw %d sessions", seen.n);
	CHECK_ERR(inenl_session_get(nl, 0, c, &s), -ENOENT);
	/* events carry peer names and addresses: CAP_NET_ADMIN only */
	CHECK_ERR(inenl_events_open(&ev), -EPERM);
	inenl_close(nl);
	return kt_failures ? 1 : 0;
}

static int run_xns(const char *path)
{
	struct inenl_session_add a = { .plane = INE_PLANE_DATA };
	struct seen seen = { .n = 0 };
	struct inenl *here, *there;
	struct inenl_session s;
	struct inenl_totals t;
	uint32_t id;
	int c, sv, nsfd;

	MUST(inenl_open(&here) == 0, "inenl_open");
	kt_pair(-1, &c, &sv);
	id = add(here, c, INE_PLANE_DATA, 0);
	CHECK_ERR(inenl_config_set(here, INE_GUARD_AUDIT, NULL, 0, 0), 0);
	nsfd = open(path, O_RDONLY);
	MUST(nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0, "setns %s", path);
	MUST(inenl_open(&there) == 0, "inenl_open there");
	/* a socket of another namespace cannot be registered here */
	a.fd = sv;
	CHECK_ERR(inenl_session_add(there, &a, NULL), -EXDEV);
	CHECK(strstr(inenl_last_error(there), "another network namespace"),
	      "extack '%s'", inenl_last_error(there));
	/* nothing of the first namespace is visible or reachable */
	CHECK_ERR(inenl_session_dump(there, collect, &seen), 0);
	CHECK(seen.n == 0, "other namespace sees %d sessions", seen.n);
	CHECK_ERR(inenl_session_get(there, id, -1, &s), -ENOENT);
	CHECK_ERR(inenl_session_del(there, id, -1), -ENOENT);
	CHECK_ERR(inenl_totals_get(there, &t), 0);
	CHECK(t.sessions == 0 && t.guard.mode == INE_GUARD_OFF,
	      "other namespace totals: %u sessions, guard %u", t.sessions,
	      t.guard.mode);
	/* and the first namespace is untouched by the second's config */
	CHECK_ERR(inenl_config_set(there, INE_GUARD_ENFORCE, NULL, 0, 0), 0);
	CHECK_ERR(inenl_totals_get(here, &t), 0);
	CHECK(t.sessions == 1 && t.guard.mode == INE_GUARD_AUDIT,
	      "first namespace: %u sessions, guard %u", t.sessions, t.guard.mode);
	CHECK_ERR(inenl_session_get(here, id, -1, &s), 0);
	CHECK_ERR(inenl_config_set(there, INE_GUARD_OFF, NULL, 0, 0), 0);
	CHECK_ERR(inenl_config_set(here, INE_GUARD_OFF, NULL, 0, 0), 0);
	inenl_close(there);
	inenl_close(here);
	return kt_failures ? 1 : 0;
}

/* Root of a user namespace that owns its network namespace manages that
 * namespace's sessions (GENL_UNS_ADMIN_PERM), and only that one. */
static int run_userns(void)
{
	struct seen seen = { .n = 0 };
	struct inenl_totals t;
	struct inenl *nl;
	int c, sv;

	MUST(inenl_open(&nl) == 0, "inenl_open");
	kt_pair(-1, &c, &sv);
	add(nl, c, INE_PLANE_DATA, 0);
	CHECK_ERR(inenl_config_set(nl, INE_GUARD_AUDIT, NULL, 0, 0), 0);
	CHECK_ERR(inenl_totals_get(nl, &t), 0);
	CHECK(t.sessions == 1 && t.guard.mode == INE_GUARD_AUDIT,
	      "userns: %u sessions, guard %u", t.sessions, t.guard.mode);
	CHECK_ERR(inenl_session_dump(nl, collect, &seen), 0);
	CHECK(seen.n == 1, "userns dump saw %d", seen.n);
	inenl_close(nl);
	return kt_failures ? 1 : 0;
}

static int run_hold(unsigned version, int bits, const char *cmd)
{
	struct inenl *nl;
	uint32_t idc, ids;
	int c, s, st;

	MUST(inenl_open(&nl) == 0, "inenl_open");
	ktls_pair(nl, version, bits, &c, &s, &idc, &ids);
	usleep(100000);
	st = system(cmd);
	close(c);
	close(s);
	inenl_close(nl);
	return kt_failures ? 1 : WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "all"))
		return run_all(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "unpriv"))
		return run_unpriv();
	if (argc == 2 && !strcmp(argv[1], "userns"))
		return run_userns();
	if (argc == 3 && !strcmp(argv[1], "xns"))
		return run_xns(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "hold"))
		return run_hold(!strcmp(argv[2], "12") ? TLS_1_2_VERSION :
				TLS_1_3_VERSION, atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: kmod_api all VERSION | unpriv | xns PATH | "
		"hold 12|13 128|256 CMD\n");
	return 2;
}
