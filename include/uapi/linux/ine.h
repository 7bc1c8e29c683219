/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * ine — internode encryption: the generic netlink protocol of ine.ko.
 *
 * This header is the one copy of the contract between the kernel module
 * (kmod/), the agent (lib/inenl/inenl.c) and the operator CLI (inectl).
 *
 * Family name INE_GENL_NAME ("ine"), version INE_GENL_VERSION; the module
 * carries MODULE_ALIAS_GENL_FAMILY("ine"), so resolving the family loads it
 * where module autoloading is available.
 *
 * Everything is per network namespace: a command acts on the sessions,
 * counters and guard of the namespace of the netlink socket that sent it,
 * and an event is delivered only to listeners in the namespace it concerns.
 *
 * Who may call: commands marked [admin] need CAP_NET_ADMIN in the user
 * namespace owning the network namespace (GENL_UNS_ADMIN_PERM) and fail with
 * -EPERM otherwise, and so does joining the "events" group. Queries are open
 * to every user, like /proc/net/tcp: they carry addresses, peer names and
 * counters, never keys (the module stores no key material at all). Queries
 * change no state: they neither reap closed sessions nor send events.
 * Requests run in parallel (parallel_ops): each takes only its namespace's
 * lock, never the host-wide genetlink mutex.
 *
 * Errors: negative errno in the netlink ACK; the ACK also carries an extack
 * message (NLMSGERR_ATTR_MSG) naming the problem. Unknown attributes,
 * attributes of the wrong type or length, reply-only attributes in a
 * request and out-of-range values all get -EINVAL (strict validation).
 *
 * Conventions: integers are host byte order (ports too); addresses are
 * network order, 4 bytes for AF_INET, 16 for AF_INET6. Times: unix seconds
 * for certificate expiry, milliseconds for ages. "records" are TLS records.
 *
 * ------------------------------------------------------------------------
 * INE_CMD_SESSION_ADD [admin]  register a socket as an internode session
 *   INE_A_SESSION: NLA_NESTED
 *     INE_SESSION_A_FD: NLA_U32            required: an fd in the CALLER's file
 *                                          table; must be a connected-or-
 *                                          connecting TCP socket (IPv4/IPv6) of
 *                                          the caller's network namespace
 *                                          (-EBADF if not open, -ENOTSOCK
 *                                          if not a socket, -EPROTONOSUPPORT
 *                                          if not TCP, -EXDEV if another
 *                                          namespace's, -EINVAL if listening)
 *     INE_SESSION_A_PLANE: NLA_U8          required: enum ine_plane
 *     INE_SESSION_A_STATE: NLA_U8          optional, default HANDSHAKING;
 *                                          enum ine_state (OFFLOADED is
 *                                          verified, see SESSION_SET)
 *     INE_SESSION_A_DB_ID: NLA_U32         database id, 0 = none (control plane)
 *     INE_SESSION_A_PEER_NODE_ID: NLA_U32  peer node id (1, 2, ...), 0 = unknown
 *     INE_SESSION_A_PEER_NAME: NLA_NUL_STRING  peer node name, < INE_NAME_LEN
 *     INE_SESSION_A_CERT_SERIAL: NLA_NUL_STRING  peer cert serial, hex,
 *                                          < INE_SERIAL_LEN
 *     INE_SESSION_A_CERT_EXPIRY: NLA_U64   peer cert notAfter, unix seconds
 *   Reply: INE_CMD_SESSION_ADD carrying INE_A_SESSION { INE_SESSION_A_ID }.
 *   The reply is built before the socket is registered: an error means
 *   nothing was registered, success always carries the id.
 *   A socket can be registered once: -EEXIST for the second time. The
 *   registry keeps a reference on the socket (struct sock, not the file):
 *   closing the last fd ends the session by itself (it disappears from every
 *   query at once and an INE_CMD_EVENT_SESSION_DOWN follows).
 *   Register before the first byte is written when the guard is enforcing.
 *   At most INE_MAX_SESSIONS per namespace (-ENOSPC).
 *
 * INE_CMD_SESSION_SET [admin]  change a session in place
 *   INE_A_SESSION: NLA_NESTED
 *     INE_SESSION_A_ID: NLA_U32  or  INE_SESSION_A_FD: NLA_U32  (exactly one;
 *                                          -ENOENT if no such session)
 *     INE_SESSION_A_PLANE, _STATE, _DB_ID, _PEER_NODE_ID, _PEER_NAME,
 *     _CERT_SERIAL, _CERT_EXPIRY: as for SESSION_ADD, each optional; given
 *     ones replace. The socket stays registered throughout (the agent
 *     learns the plane from ALPN after registering: no DEL/ADD gap).
 *   Setting INE_STATE_OFFLOADED is refused with -EINVAL unless the socket's
 *   "tls" ULP is attached and both TX and RX are configured (software or
 *   device offload).
 *
 * INE_CMD_SESSION_DEL [admin]  unregister a session (the socket is untouched)
 *   INE_A_SESSION: NLA_NESTED { INE_SESSION_A_ID or INE_SESSION_A_FD }
 *
 * INE_CMD_SESSION_GET  (doit: one session; dump: all of the namespace)
 *   doit request:  INE_A_SESSION { INE_SESSION_A_ID or INE_SESSION_A_FD }
 *   dump request:  no attributes
 *   Each reply message (one per session):
 *     INE_A_GENERATION: NLA_U32            registry generation, see below
 *     INE_A_SESSION: NLA_NESTED
 *       INE_SESSION_A_ID: NLA_U32          unique in the namespace, never 0
 *       INE_SESSION_A_PLANE: NLA_U8
 *       INE_SESSION_A_STATE: NLA_U8
 *       INE_SESSION_A_DB_ID, _PEER_NODE_ID: NLA_U32
 *       INE_SESSION_A_PEER_NAME, _CERT_SERIAL: NLA_NUL_STRING (if set)
 *       INE_SESSION_A_CERT_EXPIRY: NLA_U64 (if set)
 *       INE_SESSION_A_AGE_MS: NLA_U64      milliseconds since registration
 *     and read live from the socket at query time:
 *       INE_SESSION_A_FAMILY: NLA_U16      AF_INET or AF_INET6
 *       INE_SESSION_A_SADDR, _DADDR: NLA_BINARY  local/remote address
 *       INE_SESSION_A_SPORT, _DPORT: NLA_U16     local/remote port
 *       INE_SESSION_A_TCP_STATE: NLA_U8    TCP_ESTABLISHED (1) ... as in
 *                                          <netinet/tcp.h>
 *       INE_SESSION_A_BYTES_SENT: NLA_U64  bytes of the TCP stream sent and
 *                                          acknowledged by the peer, as
 *                                          tcpi_bytes_acked (the SYN counts
 *                                          as one); TLS record overhead
 *                                          included
 *       INE_SESSION_A_BYTES_RECEIVED: NLA_U64  (tcpi_bytes_received)
 *       INE_SESSION_A_TX_CONF, _RX_CONF: NLA_U8  enum ine_conf
 *     present only when the tls ULP is attached:
 *       INE_SESSION_A_TLS_VERSION: NLA_U16 0x0303 (1.2) or 0x0304 (1.3)
 *       INE_SESSION_A_CIPHER: NLA_U16      TLS_CIPHER_* of <linux/tls.h>
 *                                          (51 AES-GCM-128, 52 AES-GCM-256)
 *       INE_SESSION_A_TX_REC_SEQ: NLA_U64  next TLS record sequence number
 *                                          to send = records sent under the
 *                                          current key (if TX is configured)
 *       INE_SESSION_A_RX_REC_SEQ: NLA_U64  likewise received (if RX is)
 *       INE_SESSION_A_KEY_WARN: NLA_FLAG   a record sequence number reached
 *                                          the namespace's key-usage threshold
 *   Dumps are resumable and visit sessions in increasing id order: every
 *   session registered for the whole dump appears exactly once, a closed
 *   socket never appears. The generation changes on every add, set and
 *   removal; a dump that saw it change carries NLM_F_DUMP_INTR (readers that
 *   need a consistent snapshot retry).
 *
 * INE_CMD_GET_TOTALS  the namespace at a glance (doit, no attributes)
 *   Reply:
 *     INE_A_VERSION: NLA_NUL_STRING        module version, e.g. "0.1.0"
 *     INE_A_GENERATION: NLA_U32
 *     INE_A_KEY_WARN_RECORDS: NLA_U64      key-usage warning threshold
 *     INE_A_HANDSHAKE_MS: NLA_U32          the guard's handshake window
 *     INE_A_TOTALS: NLA_NESTED
 *       INE_TOTALS_A_SESSIONS: NLA_U32     live sessions
 *       INE_TOTALS_A_PLANE_CONTROL, _PLANE_DATA: NLA_U32
 *       INE_TOTALS_A_STATE_HANDSHAKING, _STATE_OFFLOADED, _STATE_SOFTWARE,
 *       _STATE_PLAINTEXT: NLA_U32
 *       INE_TOTALS_A_TLS12, _TLS13: NLA_U32          sessions by TLS version
 *       INE_TOTALS_A_AES_GCM_128, _AES_GCM_256: NLA_U32  by cipher
 *       INE_TOTALS_A_KEY_WARN: NLA_U32     sessions past the threshold
 *       INE_TOTALS_A_ADDED, _REMOVED: NLA_U64  registrations/removals ever;
 *                                          a closed socket leaves SESSIONS
 *                                          at once and is counted REMOVED
 *                                          (and announced DOWN) by the
 *                                          reaper (see "Reaper latency")
 *     INE_A_GUARD: NLA_NESTED
 *       INE_GUARD_A_MODE: NLA_U8           enum ine_guard_mode
 *       INE_GUARD_A_PORTS: NLA_NESTED      { INE_PORT_A_PORT: NLA_U16 }...
 *       INE_GUARD_A_PASSED: NLA_U64        payload segments on guarded ports
 *                                          that passed (see SET_CONFIG)
 *       INE_GUARD_A_UNREGISTERED: NLA_U64  payload segments that did not:
 *                                          unregistered sockets, and
 *                                          registered ones past their
 *                                          handshake window without kernel
 *                                          TLS TX (audit or enforce)
 *       INE_GUARD_A_DROPPED: NLA_U64       of those, dropped (enforce)
 *       INE_GUARD_A_DROPPED_BYTES: NLA_U64 TCP payload bytes dropped
 *
 * INE_CMD_SET_CONFIG [admin]  guard and key-usage settings (all optional)
 *   INE_A_GUARD: NLA_NESTED
 *     INE_GUARD_A_MODE: NLA_U8             enum ine_guard_mode
 *     INE_GUARD_A_PORTS: NLA_NESTED        replaces the port list: 1 to
 *                                          INE_GUARD_MAX_PORTS nested
 *                                          INE_PORT_A_PORT: NLA_U16 (1-65535)
 *   INE_A_KEY_WARN_RECORDS: NLA_U64        1 .. 2^48; default
 *                                          INE_KEY_WARN_RECORDS_DEFAULT
 *   INE_A_HANDSHAKE_MS: NLA_U32            1 .. INE_HANDSHAKE_MS_MAX; default
 *                                          INE_HANDSHAKE_MS_DEFAULT (10 s)
 *   The guard is all or nothing: if its hooks cannot be installed the
 *   request fails and neither mode nor ports change.
 *   Defaults for a new namespace: mode OFF (or the module parameter
 *   `guard=off|audit|enforce`, e.g. from /etc/modprobe.d), ports { 3342 }.
 *   A module reload resets them; the agent (lib/inenl) remembers the guard
 *   it last saw and restores it, before its sessions, when it replays.
 *   The guard looks at TCP segments leaving this namespace (NF_INET_LOCAL_OUT,
 *   IPv4 and IPv6) whose source or destination port is a guarded port and
 *   which carry payload. It checks state, not registration: a segment passes
 *   only if its socket is a registered session and its kernel TLS TX is
 *   installed (tls ULP with TX conf SW or HW; latched, so a closed session's
 *   already encrypted tail still leaves), or the session is younger than the
 *   handshake window (its handshake records), or it is registered PLAINTEXT
 *   on the data plane with a database id (a database with encryption off).
 *   Userspace-TLS (SOFTWARE) sessions therefore pass only within the window:
 *   enforce requires kernel TLS. Any other segment is counted in AUDIT and
 *   counted and dropped in ENFORCE: the peer receives none of its bytes.
 *
 * Multicast group INE_MCGRP_EVENTS ("events"), messages:
 *   INE_CMD_EVENT_SESSION_UP      INE_A_SESSION as in SESSION_GET
 *   INE_CMD_EVENT_SESSION_STATE   INE_A_SESSION as in SESSION_GET, after
 *                                 the change (sent when the state changes)
 *   INE_CMD_EVENT_SESSION_DOWN    INE_A_SESSION with the registered fields
 *                                 (no live ones) and DOWN_REASON
 *   INE_CMD_EVENT_GUARD_DROP      INE_A_GUARD { MODE, UNREGISTERED, DROPPED,
 *                                 DROPPED_BYTES } and INE_A_SESSION { FAMILY,
 *                                 SADDR, DADDR, SPORT, DPORT } of the last
 *                                 offending segment; at most one a second
 *                                 per namespace, counters are cumulative
 *   INE_CMD_EVENT_KEY_USAGE       INE_A_SESSION { ID, PLANE, DB_ID,
 *                                 PEER_NODE_ID, TX_REC_SEQ, RX_REC_SEQ } and
 *                                 INE_A_KEY_WARN_RECORDS; once per session
 *                                 when it crosses the threshold (checked
 *                                 by the reaper, see "Reaper latency", and
 *                                 at once after SET_CONFIG changes the
 *                                 threshold)
 *
 * Reaper latency. The module learns that a socket closed, and how many
 * records it has sent, by looking (no hook into the socket; Linux 6.1 lets
 * a module see no socket state change). The reaper's work per run is
 * bounded, so that no run holds the namespace's lock long at any number of
 * sessions: a run looks at up to 16384 sessions for closed sockets and locks
 * up to 4096 sockets to read their record counters, runs 0.1 s apart while
 * a pass is under way. With N sessions in the namespace:
 *   - a closed socket is counted REMOVED and announced DOWN within
 *     1 s + ceil(N / 16384) x 0.1 s: 1.1 s up to 16384 sessions, about
 *     7.4 s at INE_MAX_SESSIONS (queries stop showing it at once);
 *   - a session past the key-usage threshold is announced (KEY_USAGE)
 *     within max(5 s, 1 s + ceil(N / 4096) x 0.1 s): 5 s up to 163840
 *     sessions, about 27 s at INE_MAX_SESSIONS (the default threshold
 *     leaves ~2.4 million records, over 30 s of a 10 Gbit/s stream of full
 *     records, before the AES-GCM limit). SESSION_GET and dumps report
 *     KEY_WARN from the live counters at once.
 * ------------------------------------------------------------------------
 */
#ifndef _UAPI_LINUX_INE_H
#define _UAPI_LINUX_INE_H

#define INE_GENL_NAME		"ine"
#define INE_GENL_VERSION	1
#define INE_MCGRP_EVENTS	"events"

#define INE_GUARD_PORT_DEFAULT	3342
#define INE_GUARD_MAX_PORTS	16
#define INE_NAME_LEN		64	/* peer name buffer, NUL included */
#define INE_SERIAL_LEN		68	/* 20-octet serial in hex, NUL, slack */
#define INE_MAX_SESSIONS	(1U << 20)
/* AES-GCM: ~2^24.5 full records per key (RFC 8446 section 5.5) */
#define INE_KEY_LIMIT_RECORDS	23726566ULL
/* warn at 90% of the limit by default */
#define INE_KEY_WARN_RECORDS_DEFAULT	21353909ULL
#define INE_KEY_WARN_RECORDS_MAX	(1ULL << 48)
/* the guard's handshake window: how long a registered socket may send
 * without kernel TLS TX installed */
#define INE_HANDSHAKE_MS_DEFAULT	10000
#define INE_HANDSHAKE_MS_MAX		600000

enum ine_plane {
	INE_PLANE_UNSPEC,
	INE_PLANE_CONTROL = 1,
	INE_PLANE_DATA = 2,
	__INE_PLANE_LAST
};
#define INE_PLANE_MAX (__INE_PLANE_LAST - 1)

enum ine_state {
	INE_STATE_UNSPEC,
	INE_STATE_HANDSHAKING,	/* registered, TLS handshake under way */
	INE_STATE_OFFLOADED,	/* kernel TLS installed for TX and RX */
	INE_STATE_SOFTWARE,	/* userspace TLS (no kernel TLS) */
	INE_STATE_PLAINTEXT,	/* database with encryption off */
	__INE_STATE_LAST
};
#define INE_STATE_MAX (__INE_STATE_LAST - 1)

/* Where one direction's TLS runs (the kernel's TLS_BASE/SW/HW/HW_RECORD). */
enum ine_conf {
	INE_CONF_NONE,		/* no kernel TLS this direction */
	INE_CONF_SW,		/* kernel software crypto */
	INE_CONF_HW,		/* NIC inline crypto (device offload) */
	INE_CONF_HW_RECORD,	/* NIC does the whole record layer */
	__INE_CONF_LAST
};
#define INE_CONF_MAX (__INE_CONF_LAST - 1)

enum ine_guard_mode {
	INE_GUARD_OFF,
	INE_GUARD_AUDIT,
	INE_GUARD_ENFORCE,
	__INE_GUARD_LAST
};
#define INE_GUARD_MODE_MAX (__INE_GUARD_LAST - 1)

enum ine_down_reason {
	INE_DOWN_UNSPEC,
	INE_DOWN_CLOSED,	/* the socket was closed */
	INE_DOWN_DELETED,	/* INE_CMD_SESSION_DEL */
	__INE_DOWN_LAST
};
#define INE_DOWN_MAX (__INE_DOWN_LAST - 1)

enum ine_cmd {
	INE_CMD_UNSPEC,
	INE_CMD_SESSION_ADD,
	INE_CMD_SESSION_SET,
	INE_CMD_SESSION_DEL,
	INE_CMD_SESSION_GET,
	INE_CMD_GET_TOTALS,
	INE_CMD_SET_CONFIG,
	INE_CMD_EVENT_SESSION_UP,
	INE_CMD_EVENT_SESSION_STATE,
	INE_CMD_EVENT_SESSION_DOWN,
	INE_CMD_EVENT_GUARD_DROP,
	INE_CMD_EVENT_KEY_USAGE,
	__INE_CMD_LAST
};
#define INE_CMD_MAX (__INE_CMD_LAST - 1)

enum ine_attr {
	INE_A_UNSPEC,
	INE_A_SESSION,		/* NLA_NESTED: enum ine_session_attr */
	INE_A_GUARD,		/* NLA_NESTED: enum ine_guard_attr */
	INE_A_TOTALS,		/* NLA_NESTED: enum ine_totals_attr */
	INE_A_VERSION,		/* NLA_NUL_STRING */
	INE_A_GENERATION,	/* NLA_U32 */
	INE_A_KEY_WARN_RECORDS,	/* NLA_U64 */
	INE_A_HANDSHAKE_MS,	/* NLA_U32, the guard's handshake window */
	__INE_A_LAST
};
#define INE_A_MAX (__INE_A_LAST - 1)

enum ine_session_attr {
	INE_SESSION_A_UNSPEC,
	INE_SESSION_A_ID,		/* NLA_U32 */
	INE_SESSION_A_FD,		/* NLA_U32, requests only */
	INE_SESSION_A_PLANE,		/* NLA_U8, enum ine_plane */
	INE_SESSION_A_STATE,		/* NLA_U8, enum ine_state */
	INE_SESSION_A_DB_ID,		/* NLA_U32 */
	INE_SESSION_A_PEER_NODE_ID,	/* NLA_U32 */
	INE_SESSION_A_PEER_NAME,	/* NLA_NUL_STRING */
	INE_SESSION_A_CERT_SERIAL,	/* NLA_NUL_STRING, hex */
	INE_SESSION_A_CERT_EXPIRY,	/* NLA_U64, unix seconds */
	INE_SESSION_A_AGE_MS,		/* NLA_U64 */
	INE_SESSION_A_FAMILY,		/* NLA_U16 */
	INE_SESSION_A_SADDR,		/* NLA_BINARY, 4 or 16 bytes */
	INE_SESSION_A_DADDR,		/* NLA_BINARY */
	INE_SESSION_A_SPORT,		/* NLA_U16 */
	INE_SESSION_A_DPORT,		/* NLA_U16 */
	INE_SESSION_A_TCP_STATE,	/* NLA_U8 */
	INE_SESSION_A_BYTES_SENT,	/* NLA_U64 */
	INE_SESSION_A_BYTES_RECEIVED,	/* NLA_U64 */
	INE_SESSION_A_TLS_VERSION,	/* NLA_U16 */
	INE_SESSION_A_CIPHER,		/* NLA_U16 */
	INE_SESSION_A_TX_CONF,		/* NLA_U8, enum ine_conf */
	INE_SESSION_A_RX_CONF,		/* NLA_U8, enum ine_conf */
	INE_SESSION_A_TX_REC_SEQ,	/* NLA_U64 */
	INE_SESSION_A_RX_REC_SEQ,	/* NLA_U64 */
	INE_SESSION_A_KEY_WARN,		/* NLA_FLAG */
	INE_SESSION_A_DOWN_REASON,	/* NLA_U8, enum ine_down_reason */
	__INE_SESSION_A_LAST
};
#define INE_SESSION_A_MAX (__INE_SESSION_A_LAST - 1)

enum ine_guard_attr {
	INE_GUARD_A_UNSPEC,
	INE_GUARD_A_MODE,		/* NLA_U8, enum ine_guard_mode */
	INE_GUARD_A_PORTS,		/* NLA_NESTED: enum ine_port_attr */
	INE_GUARD_A_PASSED,		/* NLA_U64 */
	INE_GUARD_A_UNREGISTERED,	/* NLA_U64 */
	INE_GUARD_A_DROPPED,		/* NLA_U64 */
	INE_GUARD_A_DROPPED_BYTES,	/* NLA_U64 */
	__INE_GUARD_A_LAST
};
#define INE_GUARD_A_MAX (__INE_GUARD_A_LAST - 1)

enum ine_port_attr {
	INE_PORT_A_UNSPEC,
	INE_PORT_A_PORT,		/* NLA_U16, repeated */
	__INE_PORT_A_LAST
};
#define INE_PORT_A_MAX (__INE_PORT_A_LAST - 1)

enum ine_totals_attr {
	INE_TOTALS_A_UNSPEC,
	INE_TOTALS_A_SESSIONS,		/* NLA_U32 */
	INE_TOTALS_A_PLANE_CONTROL,	/* NLA_U32 */
	INE_TOTALS_A_PLANE_DATA,	/* NLA_U32 */
	INE_TOTALS_A_STATE_HANDSHAKING,	/* NLA_U32 */
	INE_TOTALS_A_STATE_OFFLOADED,	/* NLA_U32 */
	INE_TOTALS_A_STATE_SOFTWARE,	/* NLA_U32 */
	INE_TOTALS_A_STATE_PLAINTEXT,	/* NLA_U32 */
	INE_TOTALS_A_TLS12,		/* NLA_U32 */
	INE_TOTALS_A_TLS13,		/* NLA_U32 */
	INE_TOTALS_A_AES_GCM_128,	/* NLA_U32 */
	INE_TOTALS_A_AES_GCM_256,	/* NLA_U32 */
	INE_TOTALS_A_KEY_WARN,		/* NLA_U32 */
	INE_TOTALS_A_ADDED,		/* NLA_U64 */
	INE_TOTALS_A_REMOVED,		/* NLA_U64 */
	__INE_TOTALS_A_LAST
};
#define INE_TOTALS_A_MAX (__INE_TOTALS_A_LAST - 1)

#endif /* _UAPI_LINUX_INE_H */
