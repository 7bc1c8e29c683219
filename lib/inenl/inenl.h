/* SPDX-License-Identifier: GPL-2.0 */
/* inenl — userspace client of ine.ko's generic netlink family (libnl-genl-3).
 *
 * Used by the agent (register/update/remove its sessions, configure the
 * guard, follow events) and by inectl (read-only queries). The protocol is
 * documented in <linux/ine.h>.
 *
 * Every function returns 0 or a negative errno. inenl_open() returns
 * -ENOENT or -EPROTONOSUPPORT when ine.ko is not loaded: callers carry on
 * without the module (and say so). After a failed command,
 * inenl_last_error() gives the kernel's extack message ("" if none).
 *
 * A handle is blocking and not thread-safe; kernel replies are immediate,
 * so an event loop may call the command functions directly. Events use a
 * separate handle (inenl_events_open) whose fd is non-blocking.
 */
#ifndef INE_AGENT_INENL_H
#define INE_AGENT_INENL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/ine.h>

struct inenl;

int inenl_open(struct inenl **out);
void inenl_close(struct inenl *nl);	/* NULL is fine */
const char *inenl_last_error(const struct inenl *nl);

/* What the agent tells the module when it registers a session. */
struct inenl_session_add {
	int fd;			/* in the caller's own file table */
	uint8_t plane;		/* INE_PLANE_* */
	uint8_t state;		/* INE_STATE_*, 0 = HANDSHAKING */
	uint32_t db_id;		/* 0 = none */
	uint32_t peer_node_id;	/* 0 = unknown */
	const char *peer_name;	/* NULL = unset */
	const char *cert_serial;	/* hex, NULL = unset */
	uint64_t cert_expiry;	/* unix seconds, 0 = unset */
};

/* Registers; *id (may be NULL) receives the session id. */
int inenl_session_add(struct inenl *nl, const struct inenl_session_add *a,
		      uint32_t *id);
/* State change by id (or by fd with id 0 and fd >= 0). OFFLOADED is refused
 * (-EINVAL) unless kernel TLS is installed both ways on the socket. */
int inenl_session_set_state(struct inenl *nl, uint32_t id, int fd,
			    uint8_t state);
/* Full update: fields of a (fd ignored) replace the registered ones;
 * strings NULL and numbers 0 are left as they are. */
int inenl_session_update(struct inenl *nl, uint32_t id,
			 const struct inenl_session_add *a);
int inenl_session_del(struct inenl *nl, uint32_t id, int fd);

/* ine.ko reloaded?  Looks the family up again; if it came back under a new
 * id (rmmod + modprobe), every live session this process registered is
 * registered again.  1 after a replay, 0 if nothing moved, -errno while the
 * module is absent.  Any request notices a reload too; this is for callers
 * that want it noticed when idle (a timer). */
int inenl_check(struct inenl *nl);
/* How many replays this process has done (status, tests). */
unsigned long inenl_replays(void);
/* The fd in this process of session `id` (as events and dumps name it), if
 * this process registered it and the socket is still the one registered;
 * else -ENOENT. */
int inenl_session_fd(uint32_t id);

/* One session as the module reports it (see INE_CMD_SESSION_GET). */
struct inenl_session {
	uint32_t id;
	uint8_t plane, state;
	uint32_t db_id, peer_node_id;
	char peer_name[INE_NAME_LEN];
	char cert_serial[INE_SERIAL_LEN];
	uint64_t cert_expiry;	/* unix seconds, 0 = unset */
	uint64_t age_ms;
	uint16_t family;	/* AF_INET / AF_INET6 */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t tcp_state;
	uint64_t bytes_sent, bytes_received;
	bool has_tls;		/* the tls ULP is attached */
	uint16_t tls_version;	/* 0x0303, 0x0304; 0 = none */
	uint16_t cipher;	/* TLS_CIPHER_*; 0 = none */
	uint8_t tx_conf, rx_conf;	/* INE_CONF_* */
	bool has_tx_seq, has_rx_seq;
	uint64_t tx_rec_seq, rx_rec_seq;
	bool key_warn;
	uint8_t down_reason;	/* events only */
	uint32_t generation;	/* dumps only */
};

/* Called once per session; a non-zero return stops the walk and is
 * returned by inenl_session_dump. */
typedef int (*inenl_session_fn)(const struct inenl_session *s, void *arg);

/* Walks every session of the caller's namespace. Returns -EINTR (after the
 * walk) if the registry changed during it (NLM_F_DUMP_INTR): every session
 * present throughout was still seen exactly once, but the set is not a
 * snapshot; retry if one is needed. */
int inenl_session_dump(struct inenl *nl, inenl_session_fn fn, void *arg);
/* One session by id (or by fd with id 0). */
int inenl_session_get(struct inenl *nl, uint32_t id, int fd,
		      struct inenl_session *out);

struct inenl_guard {
	uint8_t mode;		/* INE_GUARD_* */
	unsigned int nports;
	uint16_t ports[INE_GUARD_MAX_PORTS];
	uint64_t passed, unregistered, dropped, dropped_bytes;
};

struct inenl_totals {
	char version[32];
	uint32_t generation;
	uint64_t key_warn_records;
	uint32_t handshake_ms;		/* the guard's handshake window */
	uint32_t sessions, plane_control, plane_data;
	uint32_t handshaking, offloaded, software, plaintext;
	uint32_t tls12, tls13, aes_gcm_128, aes_gcm_256, key_warn;
	uint64_t added, removed;
	struct inenl_guard guard;
};

int inenl_totals_get(struct inenl *nl, struct inenl_totals *t);

/* Guard configuration: mode < 0 leaves the mode, nports == 0 leaves the
 * ports, key_warn_records == 0 leaves the threshold. */
int inenl_config_set(struct inenl *nl, int mode, const uint16_t *ports,
		     unsigned int nports, uint64_t key_warn_records);
/* The guard's handshake window: how long a registered socket may send
 * before its kernel TLS TX must be installed (1 .. INE_HANDSHAKE_MS_MAX). */
int inenl_handshake_window_set(struct inenl *nl, uint32_t ms);

/* The guard's mode and ports are module memory, so a reload of ine.ko would
 * reset them. This process remembers the last ones it saw (totals_get) or
 * set (config_set), and its replay after a reload restores them before it
 * registers its sessions again, never loosening what the new module has
 * (a stricter `options ine guard=` stays). */

/* Events: a handle subscribed to the "events" group. Poll inenl_events_fd()
 * for reading, then call inenl_events_read(), which hands every pending
 * event to fn and returns 0 when none is left (-ENOBUFS if the socket
 * overflowed and events were lost: re-read state with a dump). */
enum inenl_event_type {
	INENL_EV_SESSION_UP = INE_CMD_EVENT_SESSION_UP,
	INENL_EV_SESSION_STATE = INE_CMD_EVENT_SESSION_STATE,
	INENL_EV_SESSION_DOWN = INE_CMD_EVENT_SESSION_DOWN,
	INENL_EV_GUARD_DROP = INE_CMD_EVENT_GUARD_DROP,
	INENL_EV_KEY_USAGE = INE_CMD_EVENT_KEY_USAGE,
};

struct inenl_event {
	enum inenl_event_type type;
	struct inenl_session session;	/* fields the event carries */
	struct inenl_guard guard;	/* GUARD_DROP */
	uint64_t key_warn_records;	/* KEY_USAGE */
};

typedef void (*inenl_event_fn)(const struct inenl_event *ev, void *arg);

int inenl_events_open(struct inenl **out);
int inenl_events_fd(const struct inenl *nl);
int inenl_events_read(struct inenl *nl, inenl_event_fn fn, void *arg);

/* Names for printing ("control", "offloaded", "sw", "enforce", ...). */
const char *inenl_plane_name(uint8_t plane);
const char *inenl_state_name(uint8_t state);
const char *inenl_conf_name(uint8_t conf);
const char *inenl_guard_mode_name(uint8_t mode);
const char *inenl_cipher_name(uint16_t cipher);
const char *inenl_version_name(uint16_t version);

#endif /* INE_AGENT_INENL_H */
