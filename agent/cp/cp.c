/* cp.c — control-plane sessions (framed messages over TLS), configuration
 * replication, status exchange and certificate signing between the agents.
 * See cp.h for the model; join.c holds cluster create/join and tokens. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/config.h"
#include "cp/cp.h"
#include "cp/cpmsg.h"
#include "cp/join.h"
#include "tls/listener.h"
#include "core/log.h"
#include "pki/pki.h"
#include "pki/rotalert.h"
#include "tls/ktls.h"
#include "tls/tls.h"
#include "tls/tlsio.h"
#include "inenl/inenl.h"
#include <linux/ine.h>
#include "cp/token.h"

#define CERTS_FILE_MAX	(1024 * 1024)
#define RBUF_INIT	(16 * 1024)
#define WCHUNK		(16 * 1024)

/* ------------------------------------------------------------ structures */

enum sess_state { S_CONNECTING = 1, S_HANDSHAKE, S_OPEN, S_DEAD };

struct cp_sess {
	struct cp *cp;
	struct cp_sess *next;
	enum sess_state state;
	bool outgoing;
	int fd;
	SSL *ssl;			/* owned (via tc when outgoing) */
	struct tls_conn *tc;		/* outgoing only */
	SSL_CTX *ctx;			/* outgoing: ref held during handshake */
	enum tls_alpn alpn;
	struct event *rev, *wev, *idle;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct evbuffer *out;
	bool close_after_flush;
	char why[CP_ERR_MAX];
	const struct cp_sess_ops *ops;
	void *arg;
	uint32_t peer_id;		/* member sessions: the node */
	long cert_node_id;		/* from its certificate (0: pinned) */
	uint32_t nl_id;			/* ine.ko session id, 0: not registered */
};

enum req_kind { REQ_PROPOSE = 1, REQ_CSR };

struct cp_req {
	struct cp_req *next;
	struct cp *cp;
	int64_t id;
	enum req_kind kind;
	uint32_t peer;
	cp_done_fn done;
	void *arg;
	struct event *timer;
	EVP_PKEY *key;			/* REQ_CSR: the pending key */
	enum pki_plane plane;
};

struct cp_peer {
	struct cp *cp;
	uint32_t id;
	struct cp_sess *sess;		/* live session (outgoing or incoming) */
	bool up;			/* hello received */
	struct event *redial;
	int backoff_ms;
	json_t *status;			/* last status object it sent */
	time_t status_at;
	int64_t version;		/* its config version (from hello) */
	char last_error[CP_ERR_MAX];
};

#define MAX_PEERS 1024

struct cp {
	struct event_base *base;
	struct cp_hooks hooks;
	char dir[PATH_MAX];
	char pki_dir[PATH_MAX + 8];
	uint16_t port;
	char bind_addr[CONFIG_ADDR_MAX];

	struct pki_state *pki_mine;	/* without pki hooks: ours */
	bool pki_owned;
	struct token_store *tokens;
	json_t *certs;			/* customer bundle, or NULL */
	int64_t certs_version;
	uint32_t rotated_gen;

	SSL_CTX *client_ctx;
	uint64_t client_ctx_gen;
	SSL_CTX *server_ctx;
	uint64_t server_ctx_gen;
	char listen_addr[CONFIG_ADDR_MAX];	/* what cp->listener is bound to */
	struct listener *listener;
	struct inenl *nl;		/* ine.ko, NULL when absent */

	struct cp_sess *sessions;
	struct cp_peer *peers[MAX_PEERS + 1];
	struct cp_req *reqs;
	int64_t next_req_id;
	bool csr_inflight[PKI_NPLANES];
	/* clock_mono() of the last scheduled CSR per plane (0: none or it
	 * failed): see CP_RENEW_MIN_S. */
	time_t csr_sent[PKI_NPLANES];

	struct event *tick;
	struct event *cert_tick;
	struct clock_watch *clock_watch;	/* jumps: rotation_check now */
	uint64_t published_gen;		/* PKI generation port 3342 and the
					 * relay were last told about */
	struct event *reaper;
	struct cp_sess *dead;

	int job_pipe[2];		/* workers post finished jobs here */
	struct event *job_ev;
	struct cp_job *jobs;		/* running */
	bool rotating_local;
};

/* Blocking work (RSA key generation: seconds, tens of seconds under
 * emulation) runs on a thread so the loop keeps serving; done() runs back
 * on the loop. */
struct cp_job {
	struct cp_job *next;
	pthread_t th;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	int wr;
};

/* ------------------------------------------------------------ helpers */

/* The PKI state: the daemon's when it owns it (read through the hook every
 * time, it may replace it), else ours.  NULL until member. */
static struct pki_state *PKI(const struct cp *cp)
{
	return cp->hooks.pki_get ? cp->hooks.pki_get(cp->hooks.arg) :
				   cp->pki_mine;
}

/* The live configuration is the daemon's; we read it through the hook. */
static const struct config *live(const struct cp *cp)
{
	return cp->hooks.config_get(cp->hooks.arg);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

struct event_base *cp_base(struct cp *cp) { return cp->base; }
const char *cp_state_dir(const struct cp *cp) { return cp->dir; }
const char *cp_pki_dir(const struct cp *cp) { return cp->pki_dir; }
struct token_store *cp_tokens(struct cp *cp) { return cp->tokens; }
const struct config *cp_config(const struct cp *cp) { return live(cp); }
bool cp_is_member(const struct cp *cp) { return PKI(cp) != NULL; }
struct pki_state *cp_pki(struct cp *cp) { return PKI(cp); }
const json_t *cp_certs_bundle(const struct cp *cp) { return cp->certs; }
int64_t cp_certs_version(const struct cp *cp) { return cp->certs_version; }
uint16_t cp_port(const struct cp *cp) { return cp->port; }

uint32_t cp_node_id(const struct cp *cp)
{
	return PKI(cp) ? pki_state_node_id(PKI(cp)) : 0;
}

/* The primary is the node holding the CA key: the lowest id, node 1, made
 * by cluster create. */
uint32_t cp_primary_id(const struct cp *cp)
{
	uint32_t min = 0;

	for (size_t i = 0; i < live(cp)->n_nodes; i++)
		if (!min || live(cp)->nodes[i].id < min)
			min = live(cp)->nodes[i].id;
	return min;
}

bool cp_is_primary(const struct cp *cp)
{
	return PKI(cp) && cp_node_id(cp) == cp_primary_id(cp) &&
	       pki_ca_can_sign(pki_state_ca(PKI(cp)));
}

int cp_http_status(int rc)
{
	switch (rc) {
	case 0:
	case CP_PENDING:
		return 200;
	case -EINVAL:
	case -EBADMSG:
	case -ERANGE:
	case -ENAMETOOLONG:
	case -EPROTONOSUPPORT:
		return 400;
	case -EACCES:
	case -EKEYEXPIRED:
	case -EALREADY:
	case -EPERM:
		return 403;
	case -ENOENT:
		return 404;
	case -EBUSY:
	case -EEXIST:
	case -EISCONN:
	case -ENOTCONN:
		return 409;
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECONNREFUSED:
		return 503;
	default:
		return 500;
	}
}

static int rc_from_status(json_int_t status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EBUSY;
	case 503: return -EHOSTUNREACH;
	default: return -EIO;
	}
}

/* "host:port", bracketing IPv6 literals. */
void cp_hostport(const char *host, uint16_t port, char *out, size_t outlen)
{
	if (strchr(host, ':'))
		snprintf(out, outlen, "[%s]:%u", host, port);
	else
		snprintf(out, outlen, "%s:%u", host, port);
}

/* ------------------------------------------------------------ jobs */

static void *job_thread(void *arg)
{
	struct cp_job *j = arg;
	ssize_t w;

	j->work(j->arg);
	do
		w = write(j->wr, &j, sizeof(j));	/* < PIPE_BUF: atomic */
	while (w < 0 && errno == EINTR);
	return NULL;
}

static void job_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;
	struct cp_job *j, **pp;

	(void)what;
	while (read(fd, &j, sizeof(j)) == (ssize_t)sizeof(j)) {
		pthread_join(j->th, NULL);
		for (pp = &cp->jobs; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		event_base_update_cache_time(cp->base);
		j->done(j->arg);
		free(j);
	}
}

int cp_job_run(struct cp *cp, void (*work)(void *), void (*done)(void *),
	       void *arg)
{
	struct cp_job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->wr = cp->job_pipe[1];
	ret = pthread_create(&j->th, NULL, job_thread, j);
	if (ret) {
		free(j);
		return -ret;
	}
	j->next = cp->jobs;
	cp->jobs = j;
	return 0;
}

/* ------------------------------------------------------------ persistence */

static int save_json(const struct cp *cp, const char *name, const json_t *j)
{
	char *txt = json_dumps(j, JSON_COMPACT);
	size_t len;
	int ret;

	if (!txt)
		return -ENOMEM;
	len = strlen(txt);
	ret = atomicfile_write(cp->dir, name, txt, len, 0600);
	OPENSSL_cleanse(txt, len);
	free(txt);
	return ret;
}

static int save_cpstate(const struct cp *cp)
{
	json_t *j = json_pack("{s:I, s:I}", "rotated_generation",
			      (json_int_t)cp->rotated_gen, "certs_version",
			      (json_int_t)cp->certs_version);
	int ret = j ? save_json(cp, "cp.json", j) : -ENOMEM;

	json_decref(j);
	return ret;
}

static int load_cpstate(struct cp *cp, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], *buf = NULL, why[128] = "";
	json_error_t jerr;
	json_int_t gen, cver;
	size_t len = 0;
	json_t *j;
	int ret;

	snprintf(path, sizeof(path), "%s/cp.json", cp->dir);
	if (access(path, F_OK) == 0) {
		j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (!j || json_unpack(j, "{s:I, s:I !}", "rotated_generation",
				      &gen, "certs_version", &cver) < 0 ||
		    gen < 0 || gen > UINT32_MAX || cver < 0) {
			json_decref(j);
			return fail(err, errlen, -EBADMSG, "%s: malformed", path);
		}
		cp->rotated_gen = (uint32_t)gen;
		cp->certs_version = cver;
		json_decref(j);
	}
	snprintf(path, sizeof(path), "%s/certs.json", cp->dir);
	if (access(path, F_OK) == 0) {
		ret = atomicfile_read(path, CERTS_FILE_MAX, true, &buf, &len,
				      why, sizeof(why));
		if (ret < 0)
			return fail(err, errlen, ret, "%s: %s", path, why);
		cp->certs = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		atomicfile_free(buf, len);
		if (!json_is_object(cp->certs))
			return fail(err, errlen, -EBADMSG, "%s: malformed", path);
	}
	return 0;
}

/* ------------------------------------------------------------ TLS contexts */

static int verify_peer_cb(void *arg, X509 *leaf, STACK_OF(X509) *chain,
			  int plane, long *peer_node_id)
{
	struct cp *cp = arg;
	struct pki_err perr = { "" };
	struct pki_trust *t;
	uint32_t id = 0;
	int ret;

	if (!PKI(cp))
		return -EACCES;
	t = pki_state_trust(PKI(cp));
	if (!t)
		return -EACCES;
	ret = pki_verify_peer(t, leaf, chain, (enum pki_plane)plane,
			      clock_now(), &id, &perr);
	pki_trust_put(t);
	if (ret < 0) {
		log_warn("control plane: peer refused: %s", perr.msg);
		return ret;
	}
	*peer_node_id = id;
	return 0;
}

SSL_CTX *cp_tls_ctx_new(struct cp *cp, bool server)
{
	STACK_OF(X509) *chain = NULL, *dp_chain = NULL;
	EVP_PKEY *key = NULL, *dp_key = NULL;
	X509 *cert = NULL, *dp_cert = NULL;
	struct tls_config cfg = { 0 };
	SSL_CTX *ctx = NULL;

	if (!PKI(cp) ||
	    pki_state_credentials(PKI(cp), PKI_PLANE_CP, &cert, &key, &chain) < 0 ||
	    pki_state_credentials(PKI(cp), PKI_PLANE_DP, &dp_cert, &dp_key,
				  &dp_chain) < 0)
		goto out;
	cfg.cert = cert;
	cfg.key = key;
	cfg.chain = chain && sk_X509_num(chain) ? chain : NULL;
	cfg.dp_cert = dp_cert;
	cfg.dp_key = dp_key;
	cfg.dp_chain = dp_chain && sk_X509_num(dp_chain) ? dp_chain : NULL;
	cfg.trust = NULL;	/* pki_verify_peer checks CA or pins itself */
	cfg.verify_peer = verify_peer_cb;
	cfg.verify_arg = cp;
	cfg.accept_alpn = TLS_ALPN_BIT(TLS_ALPN_CP) | TLS_ALPN_BIT(TLS_ALPN_DP) |
			  TLS_ALPN_BIT(TLS_ALPN_JOIN);
	ctx = tls_ctx_new(&cfg, server);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	X509_free(dp_cert);
	EVP_PKEY_free(dp_key);
	sk_X509_pop_free(dp_chain, X509_free);
	return ctx;
}

SSL_CTX *cp_tls_join_ctx_new(void)
{
	struct tls_config cfg = { 0 };

	return tls_ctx_new(&cfg, false);
}

/* The member client context follows the PKI generation. */
static SSL_CTX *client_ctx(struct cp *cp)
{
	uint64_t gen;

	if (!PKI(cp))
		return NULL;
	gen = pki_state_generation(PKI(cp));
	if (!cp->client_ctx || cp->client_ctx_gen != gen) {
		SSL_CTX *ctx = cp_tls_ctx_new(cp, false);

		if (!ctx)
			return cp->client_ctx;	/* keep the previous one */
		tls_ctx_free(cp->client_ctx);
		cp->client_ctx = ctx;
		cp->client_ctx_gen = gen;
	}
	return cp->client_ctx;
}

static void listener_sync(struct cp *cp);

static void notify_pki(struct cp *cp)
{
	cp->published_gen = pki_state_generation(PKI(cp));
	listener_sync(cp);
	if (cp->hooks.pki_changed)
		cp->hooks.pki_changed(cp->hooks.arg);
}

/* ------------------------------------------------------------ sessions */

static const struct cp_sess_ops member_ops;

static void sess_arm_idle(struct cp_sess *s)
{
	struct timeval tv = { CP_IDLE_TIMEOUT_MS / 1000,
			      (CP_IDLE_TIMEOUT_MS % 1000) * 1000 };

	event_base_update_cache_time(s->cp->base);
	evtimer_add(s->idle, &tv);
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;
	struct cp_sess *s;

	(void)fd; (void)what;
	while ((s = cp->dead)) {
		cp->dead = s->next;
		free(s);
	}
}

/* Close now; the struct is freed from the loop, so callers up the stack
 * (a message handler) can still look at s->state. */
void cp_sess_close(struct cp_sess *s, const char *why)
{
	struct cp *cp = s->cp;
	struct cp_sess **pp;
	bool notify = s->state != S_DEAD;

	if (s->state == S_DEAD)
		return;
	if (why && !s->why[0])
		snprintf(s->why, sizeof(s->why), "%s", why);
	s->state = S_DEAD;
	event_free(s->rev);
	event_free(s->wev);
	event_free(s->idle);
	s->rev = s->wev = s->idle = NULL;
	/* No SESSION_DEL: closing the fd below ends the ine.ko session, which
	 * then stays known to the guard while the socket flushes its queued
	 * bytes (close_notify included); deleting first would get those
	 * dropped by a guard in enforce mode. */
	s->nl_id = 0;
	if (s->tc && s->tc->done && s->fd >= 0)
		tlsio_shutdown(s->tc);	/* close_notify, best effort */
	if (s->tc)
		tls_conn_free(s->tc);	/* frees s->ssl */
	else if (s->ssl)
		SSL_free(s->ssl);
	s->tc = NULL;
	s->ssl = NULL;
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->rbuf)
		OPENSSL_cleanse(s->rbuf, s->rcap);
	free(s->rbuf);
	s->rbuf = NULL;
	evbuffer_free(s->out);
	s->out = NULL;
	for (pp = &cp->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = cp->dead;
	cp->dead = s;
	if (cp->reaper)
		event_active(cp->reaper, 0, 0);
	if (notify && s->ops && s->ops->closed)
		s->ops->closed(s, s->why, s->arg);
}

/* Tell ine.ko about the session (status, and the plaintext guard lets
 * registered sockets pass).  Without the module: nothing to do. */
static void sess_register(struct cp_sess *s)
{
	struct inenl_session_add a = { 0 };
	const struct config_node *n;
	X509 *peer = SSL_get0_peer_certificate(s->ssl);
	char serial[INE_SERIAL_LEN] = "";
	uint32_t peer_id;
	int ret;

	if (!s->cp->nl)
		return;
	peer_id = s->cert_node_id > 0 ? (uint32_t)s->cert_node_id : s->peer_id;
	n = peer_id ? config_node_find(live(s->cp), peer_id) : NULL;
	a.fd = s->fd;
	a.plane = INE_PLANE_CONTROL;
	a.state = s->tc->ktls_tx && s->tc->ktls_rx ? INE_STATE_OFFLOADED :
		  INE_STATE_SOFTWARE;
	a.peer_node_id = peer_id;
	a.peer_name = n ? n->name : NULL;
	if (peer) {
		ASN1_INTEGER *sn = X509_get_serialNumber(peer);
		BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		const ASN1_TIME *na = X509_get0_notAfter(peer);
		struct tm tm;

		if (hex)
			snprintf(serial, sizeof(serial), "%s", hex);
		OPENSSL_free(hex);
		BN_free(bn);
		if (na && ASN1_TIME_to_tm(na, &tm) == 1)
			a.cert_expiry = (uint64_t)timegm(&tm);
		a.cert_serial = serial[0] ? serial : NULL;
	}
	/* registered already: by us before the handshake (outgoing), or by
	 * the listener (incoming) — then update it */
	if (!s->nl_id) {
		ret = inenl_session_add(s->cp->nl, &a, &s->nl_id);
		if (ret == -EEXIST) {
			struct inenl_session info;

			if (inenl_session_get(s->cp->nl, 0, s->fd, &info) == 0)
				s->nl_id = info.id;
		} else if (ret < 0) {
			log_warn("control plane: ine.ko refused the session: %s",
				 inenl_last_error(s->cp->nl));
			s->nl_id = 0;
			return;
		}
	}
	/* By fd: the id changes if ine.ko is reloaded (inenl replays). */
	if (s->nl_id && inenl_session_update(s->cp->nl, 0, &a) < 0)
		log_warn("control plane: ine.ko: cannot update session %u: %s",
			 s->nl_id, inenl_last_error(s->cp->nl));
}

/* Outgoing: register before the first byte (the ClientHello) so that a
 * guard in enforce mode lets the handshake through. */
static void sess_register_early(struct cp_sess *s)
{
	struct inenl_session_add a = { 0 };
	const struct config_node *n;

	if (!s->cp->nl)
		return;
	n = s->peer_id ? config_node_find(live(s->cp), s->peer_id) : NULL;
	a.fd = s->fd;
	a.plane = INE_PLANE_CONTROL;
	a.state = INE_STATE_HANDSHAKING;
	a.peer_node_id = s->peer_id;
	a.peer_name = n ? n->name : NULL;
	if (inenl_session_add(s->cp->nl, &a, &s->nl_id) < 0) {
		log_warn("control plane: ine.ko refused the session: %s",
			 inenl_last_error(s->cp->nl));
		s->nl_id = 0;
	}
}

static void sess_flush(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	while (s->state == S_OPEN && evbuffer_get_length(s->out)) {
		size_t n = evbuffer_get_length(s->out);
		unsigned char *p;
		ssize_t w;

		if (n > WCHUNK)
			n = WCHUNK;
		p = evbuffer_pullup(s->out, (ssize_t)n);
		w = tlsio_write(s->tc, p, n);
		if (w > 0) {
			evbuffer_drain(s->out, (size_t)w);
			continue;
		}
		if (w == -EAGAIN) {
			/* WANT_READ: the read event brings us back here */
			if (s->tc->want == TLS_WANT_WRITE)
				event_add(s->wev, NULL);
			return;
		}
		snprintf(why, sizeof(why), "write failed: %s",
			 s->tc->reason[0] ? s->tc->reason : strerror((int)-w));
		cp_sess_close(s, why);
		return;
	}
	if (s->state != S_OPEN)
		return;
	event_del(s->wev);
	if (s->close_after_flush)
		cp_sess_close(s, "done");
}

int cp_sess_send(struct cp_sess *s, json_t *msg)
{
	uint8_t *buf;
	size_t len;
	int ret;

	if (!msg)
		return -ENOMEM;
	if (s->state == S_DEAD) {
		json_decref(msg);
		return -ENOTCONN;
	}
	ret = cpmsg_encode(msg, &buf, &len);
	json_decref(msg);
	if (ret < 0) {
		log_err("control plane: cannot encode a message: %s",
			strerror(-ret));
		return ret;
	}
	ret = evbuffer_add(s->out, buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (ret < 0)
		return -ENOMEM;
	if (s->state == S_OPEN)
		sess_flush(s);
	return 0;
}

void cp_sess_close_after_flush(struct cp_sess *s)
{
	s->close_after_flush = true;
	if (s->state == S_OPEN && !evbuffer_get_length(s->out))
		cp_sess_close(s, "done");
}

static void sess_dispatch(struct cp_sess *s)
{
	char err[CPMSG_ERR_MAX], why[CP_ERR_MAX];
	size_t used = 0;
	json_t *msg;
	int type, ret;

	while (s->state == S_OPEN) {
		ret = cpmsg_decode(s->rbuf, s->rlen, &used, &msg, &type, err,
				   sizeof(err));
		if (ret == 0)
			return;
		if (ret < 0) {
			snprintf(why, sizeof(why), "protocol error: %s", err);
			cp_sess_close(s, why);
			return;
		}
		memmove(s->rbuf, s->rbuf + used, s->rlen - used);
		s->rlen -= used;
		sess_arm_idle(s);
		s->ops->msg(s, type, msg, s->arg);
		json_decref(msg);
	}
}

static void sess_read(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	while (s->state == S_OPEN) {
		ssize_t r;

		if (s->rlen == s->rcap) {
			size_t ncap = s->rcap * 2;
			uint8_t *n;

			if (ncap > CPMSG_HDR + CPMSG_MAX)
				ncap = CPMSG_HDR + CPMSG_MAX;
			if (ncap <= s->rcap) {
				cp_sess_close(s, "protocol error: frame too large");
				return;
			}
			n = realloc(s->rbuf, ncap);
			if (!n) {
				cp_sess_close(s, "out of memory");
				return;
			}
			s->rbuf = n;
			s->rcap = ncap;
		}
		r = tlsio_read(s->tc, s->rbuf + s->rlen, s->rcap - s->rlen);
		if (r > 0) {
			s->rlen += (size_t)r;
			sess_dispatch(s);
			continue;
		}
		if (r == -EAGAIN) {
			if (s->tc->want == TLS_WANT_WRITE)
				event_add(s->wev, NULL);
			return;
		}
		if (r == 0)
			cp_sess_close(s, "peer closed the session");
		else if (r == -ECONNABORTED)
			cp_sess_close(s, "connection closed by peer");
		else {
			snprintf(why, sizeof(why), "TLS error: %s",
				 s->tc->reason[0] ? s->tc->reason : strerror((int)-r));
			cp_sess_close(s, why);
		}
		return;
	}
}

static void sess_open(struct cp_sess *s)
{
	char why[CP_ERR_MAX];

	s->state = S_OPEN;
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* kernel TLS both ways where the kernel has it; else OpenSSL */
	if (ktls_conn_install(s->tc) < 0) {
		snprintf(why, sizeof(why), "kernel TLS install failed: %s",
			 s->tc->reason);
		cp_sess_close(s, why);
		return;
	}
	sess_register(s);
	event_add(s->rev, NULL);
	sess_arm_idle(s);
	if (s->ops->up)
		s->ops->up(s, s->arg);
	if (s->state != S_OPEN)
		return;
	sess_flush(s);
	/* the handshake may have left application data in OpenSSL */
	if (s->state == S_OPEN && tlsio_pending(s->tc))
		sess_read(s);
}

static void sess_handshake(struct cp_sess *s)
{
	char why[CP_ERR_MAX];
	int ret = tls_conn_handshake(s->tc);

	if (ret == -EAGAIN) {
		if (s->tc->want == TLS_WANT_WRITE)
			event_add(s->wev, NULL);
		else
			event_del(s->wev);
		return;
	}
	if (ret < 0) {
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
			 s->tc->reason[0] ? s->tc->reason : strerror(-ret));
		cp_sess_close(s, why);
		return;
	}
	event_del(s->wev);
	s->ssl = s->tc->ssl;
	s->cert_node_id = s->tc->peer_node_id;
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	sess_open(s);
}

static void sess_connected(struct cp_sess *s)
{
	char why[CP_ERR_MAX];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
		cp_sess_close(s, why);
		return;
	}
	sess_register_early(s);
	s->tc = tls_conn_new(s->ctx, s->fd, false, s->alpn);
	if (!s->tc) {
		cp_sess_close(s, "TLS setup failed");
		return;
	}
	s->state = S_HANDSHAKE;
	event_add(s->rev, NULL);
	sess_handshake(s);
}

static void sess_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;

	(void)fd; (void)what;
	if (s->state == S_HANDSHAKE)
		sess_handshake(s);
	else if (s->state == S_OPEN) {
		sess_read(s);
		if (s->state == S_OPEN && evbuffer_get_length(s->out))
			sess_flush(s);
	}
}

static void sess_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;

	(void)fd; (void)what;
	if (s->state == S_CONNECTING)
		sess_connected(s);
	else if (s->state == S_HANDSHAKE)
		sess_handshake(s);
	else if (s->state == S_OPEN) {
		sess_flush(s);
		/* a read may have been waiting on this write */
		if (s->state == S_OPEN)
			sess_read(s);
	}
}

static void sess_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_sess *s = arg;
	char why[64];

	(void)fd; (void)what;
	snprintf(why, sizeof(why), "%s (nothing heard for %d s)",
		 s->state == S_OPEN ? "peer silent" : "connect/handshake timed out",
		 CP_IDLE_TIMEOUT_MS / 1000);
	cp_sess_close(s, why);
}

static struct cp_sess *sess_alloc(struct cp *cp, int fd,
				  const struct cp_sess_ops *ops, void *arg)
{
	struct cp_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cp = cp;
	s->fd = fd;
	s->ops = ops;
	s->arg = arg;
	s->rcap = RBUF_INIT;
	s->rbuf = malloc(s->rcap);
	s->out = evbuffer_new();
	s->rev = event_new(cp->base, fd, EV_READ | EV_PERSIST, sess_read_cb, s);
	s->wev = event_new(cp->base, fd, EV_WRITE | EV_PERSIST, sess_write_cb, s);
	s->idle = evtimer_new(cp->base, sess_idle_cb, s);
	if (!s->rbuf || !s->out || !s->rev || !s->wev || !s->idle) {
		free(s->rbuf);
		if (s->out)
			evbuffer_free(s->out);
		if (s->rev)
			event_free(s->rev);
		if (s->wev)
			event_free(s->wev);
		if (s->idle)
			event_free(s->idle);
		free(s);
		return NULL;
	}
	s->next = cp->sessions;
	cp->sessions = s;
	return s;
}

struct cp_sess *cp_sess_accept(struct cp *cp, struct tls_conn *c,
			       const struct cp_sess_ops *ops, void *arg)
{
	struct cp_sess *s = sess_alloc(cp, c->fd, ops, arg);

	if (!s) {
		int fd = c->fd;

		tls_conn_free(c);
		close(fd);
		return NULL;
	}
	s->tc = c;
	s->ssl = c->ssl;
	/* the listener's handshake ran our verify hook: for ine-cp/1 this is
	 * the node id from the certificate (0 for pinned customer certs) */
	s->cert_node_id = c->peer_node_id;
	if (ops == &member_ops && s->cert_node_id < 0) {
		s->state = S_OPEN;	/* so that close runs its course */
		cp_sess_close(s, "peer certificate is not one of this cluster's");
		return NULL;
	}
	sess_open(s);
	return s;
}

struct cp_sess *cp_sess_dial(struct cp *cp, const char *hostport,
			     SSL_CTX *ctx, enum tls_alpn alpn,
			     const struct cp_sess_ops *ops, void *arg,
			     char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[TOKEN_ADDR_MAX + 1], portstr[8];
	struct cp_sess *s;
	uint16_t port;
	int fd, ret, one = 1;

	if (token_addr_split(hostport, host, sizeof(host), &port) < 0) {
		fail(err, errlen, -EINVAL, "bad address \"%s\"", hostport);
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* literal addresses never block; names use the system resolver */
	ret = getaddrinfo(host, portstr, &hints, &ai);
	if (ret || !ai) {
		fail(err, errlen, -EHOSTUNREACH, "cannot resolve %s: %s", host,
		     gai_strerror(ret));
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(err, errlen, -errno, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ret < 0 && errno != EINPROGRESS) {
		fail(err, errlen, -errno, "connect to %s: %s", hostport,
		     strerror(errno));
		close(fd);
		return NULL;
	}
	s = sess_alloc(cp, fd, ops, arg);
	if (!s) {
		close(fd);
		fail(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	s->outgoing = true;
	s->alpn = alpn;
	s->ctx = ctx;
	SSL_CTX_up_ref(ctx);
	s->state = S_CONNECTING;
	s->cert_node_id = -1;
	event_add(s->wev, NULL);
	sess_arm_idle(s);
	return s;
}

SSL *cp_sess_ssl(struct cp_sess *s) { return s->ssl; }
long cp_sess_cert_node(const struct cp_sess *s) { return s->cert_node_id; }

/* ------------------------------------------------------------ requests */

static void req_free(struct cp *cp, struct cp_req *r)
{
	struct cp_req **pp;

	for (pp = &cp->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->timer)
		event_free(r->timer);
	EVP_PKEY_free(r->key);
	free(r);
}

static void req_finish(struct cp_req *r, int rc, const char *msg)
{
	struct cp *cp = r->cp;
	cp_done_fn done = r->done;
	void *arg = r->arg;

	if (r->kind == REQ_CSR) {
		cp->csr_inflight[PKI_PIDX(r->plane)] = false;
		if (rc < 0) {
			cp->csr_sent[PKI_PIDX(r->plane)] = 0;	/* retry next check */
			rotalert_set(PKI(cp), r->plane, "%s", msg);
		}
	}
	req_free(cp, r);
	if (done)
		done(arg, rc, msg);
}

static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp_req *r = arg;
	char msg[CP_ERR_MAX];

	(void)fd; (void)what;
	snprintf(msg, sizeof(msg), "primary node %u unreachable (no answer within %d s)",
		 r->peer, CP_REQUEST_TIMEOUT_MS / 1000);
	req_finish(r, -EHOSTUNREACH, msg);
}

static struct cp_req *req_new(struct cp *cp, enum req_kind kind, uint32_t peer,
			      cp_done_fn done, void *arg)
{
	struct timeval tv = { CP_REQUEST_TIMEOUT_MS / 1000, 0 };
	struct cp_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cp = cp;
	r->id = ++cp->next_req_id;
	r->kind = kind;
	r->peer = peer;
	r->done = done;
	r->arg = arg;
	r->timer = evtimer_new(cp->base, req_timeout_cb, r);
	if (!r->timer) {
		free(r);
		return NULL;
	}
	evtimer_add(r->timer, &tv);
	r->next = cp->reqs;
	cp->reqs = r;
	return r;
}

static struct cp_req *req_find(struct cp *cp, int64_t id)
{
	for (struct cp_req *r = cp->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void reqs_fail_peer(struct cp *cp, uint32_t peer)
{
	char msg[CP_ERR_MAX];
	struct cp_req *r, *next;

	snprintf(msg, sizeof(msg), "primary node %u unreachable (connection lost)",
		 peer);
	for (r = cp->reqs; r; r = next) {
		next = r->next;
		if (r->peer == peer)
			req_finish(r, -EHOSTUNREACH, msg);
	}
}

/* ------------------------------------------------------------ config */

static void peers_sync(struct cp *cp);
static void rotation_check(struct cp *cp);

static json_t *config_msg(const struct cp *cp)
{
	json_t *j = config_to_json(live(cp));

	if (!j)
		return NULL;
	return cpmsg_pack(CPMSG_CONFIG, "{s:I, s:o}", "version",
			  (json_int_t)live(cp)->version, "config", j);
}

static json_t *certs_msg(const struct cp *cp)
{
	if (!cp->certs || cp->certs_version < 1)
		return NULL;
	return cpmsg_pack(CPMSG_CERTS, "{s:I, s:O}", "version",
			  (json_int_t)cp->certs_version, "certs", cp->certs);
}

static void broadcast(struct cp *cp, json_t *(*make)(const struct cp *))
{
	for (uint32_t id = 1; id <= MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (p && p->up && p->sess)
			cp_sess_send(p->sess, make(cp));
	}
}

/* Save, swap (the daemon's hook does both), push: the one way a new
 * version becomes live here. */
static int config_install(struct cp *cp, struct config *next, bool push,
			  char *err, size_t errlen)
{
	uint64_t ver = next->version;
	int ret = cp->hooks.config_apply(cp->hooks.arg, next, err, errlen);

	if (ret < 0)
		return ret;
	log_info("control plane: configuration version %llu is live",
		 (unsigned long long)ver);
	if (push)
		broadcast(cp, config_msg);
	peers_sync(cp);
	rotation_check(cp);
	return 0;
}

int cp_commit_local(struct cp *cp, struct config *next, char *err,
		    size_t errlen)
{
	char verr[CONFIG_ERR_MAX];
	int ret;

	next->version = live(cp)->version + 1;
	ret = config_validate(next, verr, sizeof(verr));
	if (ret < 0) {
		config_free(next);
		return fail(err, errlen, -EINVAL, "%s", verr);
	}
	return config_install(cp, next, true, err, errlen);
}

static void propose_done_cb(void *arg, int rc, const char *msg)
{
	(void)arg; (void)rc; (void)msg;
}

int cp_config_propose(struct cp *cp, struct config *next, cp_done_fn done,
		      void *arg, char *err, size_t errlen)
{
	char verr[CONFIG_ERR_MAX];
	uint32_t primary;
	struct cp_peer *p;
	struct cp_req *r;
	json_t *j;
	int ret;

	if (next->version != live(cp)->version &&
	    next->version != live(cp)->version + 1) {
		config_free(next);
		return fail(err, errlen, -EBUSY,
			    "the configuration changed meanwhile (now version %llu): retry",
			    (unsigned long long)live(cp)->version);
	}
	ret = config_validate(next, verr, sizeof(verr));
	if (ret < 0) {
		config_free(next);
		return fail(err, errlen, -EINVAL, "%s", verr);
	}
	if (!PKI(cp) || cp_is_primary(cp))
		return cp_commit_local(cp, next, err, errlen);

	primary = cp_primary_id(cp);
	p = primary <= MAX_PEERS ? cp->peers[primary] : NULL;
	if (!p || !p->up || !p->sess) {
		config_free(next);
		return fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: configuration writes need it; every node keeps serving its last configuration",
			    primary);
	}
	j = config_to_json(next);
	config_free(next);
	r = j ? req_new(cp, REQ_PROPOSE, primary, done ? done : propose_done_cb,
			arg) : NULL;
	if (!r) {
		json_decref(j);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ret = cp_sess_send(p->sess, cpmsg_pack(CPMSG_PROPOSE, "{s:I, s:I, s:o}",
		"id", (json_int_t)r->id, "base_version",
		(json_int_t)live(cp)->version, "config", j));
	if (ret < 0) {
		req_free(cp, r);
		return fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: %s", primary,
			    strerror(-ret));
	}
	return CP_PENDING;
}

/* ------------------------------------------------------------ customer certs */

/* Parse the REST body's "certificates" array into pki items (borrowed
 * strings).  Strict: names known, no duplicates, key+certificate strings. */
static int certs_items(const json_t *bundle, struct pki_customer_item *items,
		       size_t *n, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(bundle, "certificates"), *v;
	size_t i;

	if (!json_is_object(bundle) || json_object_size(bundle) != 1 ||
	    !json_is_array(arr))
		return fail(err, errlen, -EINVAL,
			    "body must be {\"certificates\": [...]}");
	if (json_array_size(arr) < 1 || json_array_size(arr) > 2)
		return fail(err, errlen, -EINVAL,
			    "certificates: give 1 or 2 entries (%s, %s)",
			    PKI_NAME_CP, PKI_NAME_DP);
	json_array_foreach(arr, i, v) {
		const char *name, *cert, *key;

		if (json_unpack((json_t *)v, "{s:s, s:s, s:s !}", "name", &name,
				"certificate", &cert, "key", &key) < 0)
			return fail(err, errlen, -EINVAL,
				    "certificates[%zu]: needs exactly name, certificate and key (strings)",
				    i);
		if (strcmp(name, PKI_NAME_CP) && strcmp(name, PKI_NAME_DP))
			return fail(err, errlen, -EINVAL,
				    "certificates[%zu].name: unknown \"%.64s\" (use %s or %s)",
				    i, name, PKI_NAME_CP, PKI_NAME_DP);
		if (i == 1 && strcmp(name, items[0].name) == 0)
			return fail(err, errlen, -EINVAL,
				    "certificates: %s given twice", name);
		items[i].name = name;
		items[i].cert_pem = cert;
		items[i].cert_len = strlen(cert);
		items[i].key_pem = key;
		items[i].key_len = strlen(key);
	}
	*n = json_array_size(arr);
	return 0;
}

static int certs_validate(const json_t *bundle, struct pki_customer **out,
			  char *err, size_t errlen)
{
	struct pki_customer_item items[2];
	struct pki_err perr = { "" };
	size_t n = 0;
	int ret = certs_items(bundle, items, &n, err, errlen);

	if (ret < 0)
		return ret;
	ret = pki_customer_validate(items, n, clock_now(), out, &perr);
	if (ret < 0)
		return fail(err, errlen, -EINVAL, "%s", perr.msg);
	return 0;
}

/* Serve a bundle here and remember it (any node, on receipt or commit). */
int cp_certs_install(struct cp *cp, const json_t *bundle, int64_t version,
		     char *err, size_t errlen)
{
	struct pki_customer *c = NULL;
	struct pki_err perr = { "" };
	int ret;

	if (!PKI(cp))
		return fail(err, errlen, -ENOTCONN, "not a cluster member");
	ret = certs_validate(bundle, &c, err, errlen);
	if (ret < 0)
		return ret;
	ret = save_json(cp, "certs.json", bundle);
	if (ret < 0) {
		pki_customer_free(c);
		return fail(err, errlen, ret, "cannot save certificates: %s",
			    strerror(-ret));
	}
	ret = pki_state_apply_customer(PKI(cp), c, &perr);
	pki_customer_free(c);
	if (ret < 0)
		return fail(err, errlen, ret, "%s", perr.msg);
	json_decref(cp->certs);
	cp->certs = json_deep_copy(bundle);
	cp->certs_version = version;
	save_cpstate(cp);
	log_info("control plane: customer certificates version %lld installed",
		 (long long)version);
	notify_pki(cp);
	return 0;
}

/* Primary: commit a bundle (version+1), and the metadata in the config. */
static int certs_commit(struct cp *cp, const json_t *bundle, char *err,
			size_t errlen)
{
	struct pki_status st;
	struct config *next;
	int ret;

	ret = cp_certs_install(cp, bundle, cp->certs_version + 1, err, errlen);
	if (ret < 0)
		return ret;
	broadcast(cp, certs_msg);
	ret = config_dup(live(cp), &next);
	if (ret < 0)
		return fail(err, errlen, ret, "out of memory");
	pki_state_status(PKI(cp), &st);
	next->certs.mode = CONFIG_CERT_CUSTOMER;
	next->certs.generation++;
	for (int i = 0; i < CONFIG_PLANE_N; i++) {
		struct config_cert_meta *m = &next->certs.plane[i];
		const struct pki_plane_status *ps = &st.plane[i];

		snprintf(m->subject, sizeof(m->subject), "%s", ps->subject);
		snprintf(m->serial, sizeof(m->serial), "%s", ps->serial);
		m->not_after = ps->not_after;
	}
	return cp_commit_local(cp, next, err, errlen);
}

int cp_certs_propose(struct cp *cp, const json_t *body, cp_done_fn done,
		     void *arg, char *err, size_t errlen)
{
	struct pki_customer *c = NULL;
	uint32_t primary;
	struct cp_peer *p;
	struct cp_req *r;
	int ret;

	ret = certs_validate(body, &c, err, errlen);
	pki_customer_free(c);
	if (ret < 0)
		return ret;
	if (!PKI(cp))
		return fail(err, errlen, -ENOTCONN,
			    "create or join a cluster before uploading certificates");
	if (cp_is_primary(cp))
		return certs_commit(cp, body, err, errlen);
	primary = cp_primary_id(cp);
	p = primary <= MAX_PEERS ? cp->peers[primary] : NULL;
	if (!p || !p->up || !p->sess)
		return fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: certificate uploads need it",
			    primary);
	r = req_new(cp, REQ_PROPOSE, primary, done ? done : propose_done_cb, arg);
	if (!r)
		return fail(err, errlen, -ENOMEM, "out of memory");
	ret = cp_sess_send(p->sess, cpmsg_pack(CPMSG_CERTS_PROPOSE,
		"{s:I, s:I, s:O}", "id", (json_int_t)r->id, "base_version",
		(json_int_t)cp->certs_version, "certs", body));
	if (ret < 0) {
		req_free(cp, r);
		return fail(err, errlen, -EHOSTUNREACH,
			    "primary node %u unreachable: %s", primary,
			    strerror(-ret));
	}
	return CP_PENDING;
}

/* ------------------------------------------------------------ rotation */

int cp_certs_rotate(struct cp *cp, cp_done_fn done, void *arg, char *err,
		    size_t errlen)
{
	struct config *next;
	int ret;

	if (!PKI(cp))
		return fail(err, errlen, -ENOTCONN,
			    "create or join a cluster before rotating certificates");
	ret = config_dup(live(cp), &next);
	if (ret < 0)
		return fail(err, errlen, ret, "out of memory");
	next->certs.generation++;
	return cp_config_propose(cp, next, done, arg, err, errlen);
}

static void csr_done_cb(void *arg, int rc, const char *msg)
{
	struct cp *cp = arg;

	if (rc < 0) {
		log_warn("control plane: certificate renewal failed: %s; retrying on the "
			 "next check", msg);
		/* A requested rotation counts as done once the request is sent
		 * (rotation_check); a request that then fails must be made again,
		 * or this node keeps its old certificates until the next one. */
		if (cp->rotated_gen >= live(cp)->certs.generation &&
		    live(cp)->certs.generation > 0) {
			cp->rotated_gen = live(cp)->certs.generation - 1;
			save_cpstate(cp);
		}
	} else {
		log_info("control plane: %s", msg);
	}
}

/* Ask the primary's CA for a new certificate on `plane` (new key). */
struct keyjob {
	struct cp *cp;
	enum pki_plane plane;
	EVP_PKEY *key[PKI_NPLANES];
	int ret;
	struct pki_err perr;
};

static void keygen_work(void *arg)
{
	struct keyjob *k = arg;

	for (int i = 0; i < PKI_NPLANES && !k->ret; i++)
		if (!k->plane || PKI_PIDX(k->plane) == i)
			k->ret = pki_node_keygen(&k->key[i], &k->perr);
}

static void keyjob_free(struct keyjob *k)
{
	for (int i = 0; i < PKI_NPLANES; i++)
		EVP_PKEY_free(k->key[i]);
	free(k);
}

/* On the loop with a fresh key: CSR to the primary's CA. */
static void rotate_remote_done(void *arg)
{
	struct keyjob *k = arg;
	struct cp *cp = k->cp;
	uint32_t primary = cp_primary_id(cp);
	struct cp_peer *p = primary <= MAX_PEERS ? cp->peers[primary] : NULL;
	struct pki_err perr = { "" };
	struct config_node *me;
	char *csr = NULL;
	size_t csr_len = 0;
	struct cp_req *r;
	int ret;

	cp->csr_inflight[PKI_PIDX(k->plane)] = false;
	cp->csr_sent[PKI_PIDX(k->plane)] = 0;	/* until the CSR is sent */
	if (k->ret < 0 || !PKI(cp)) {
		log_warn("control plane: cannot make a %s key: %s",
			 pki_plane_str(k->plane), k->perr.msg);
		rotalert_set(PKI(cp), k->plane, "cannot make a key: %s", k->perr.msg);
		goto out;
	}
	if (!p || !p->up || !p->sess) {
		rotalert_set(PKI(cp), k->plane, "primary node %u unreachable", primary);
		goto out;	/* retried on the next tick */
	}
	me = config_node_find(live(cp), cp_node_id(cp));
	ret = pki_node_csr(k->key[PKI_PIDX(k->plane)], pki_state_cluster_id(PKI(cp)),
			   cp_node_id(cp), me ? me->name : "?", k->plane, &csr,
			   &csr_len, &perr);
	if (ret < 0) {
		log_warn("control plane: cannot make a %s CSR: %s",
			 pki_plane_str(k->plane), perr.msg);
		rotalert_set(PKI(cp), k->plane, "cannot make a CSR: %s", perr.msg);
		goto out;
	}
	r = req_new(cp, REQ_CSR, primary, csr_done_cb, cp);
	if (!r)
		goto out;
	r->key = k->key[PKI_PIDX(k->plane)];
	k->key[PKI_PIDX(k->plane)] = NULL;
	r->plane = k->plane;
	cp->csr_inflight[PKI_PIDX(k->plane)] = true;
	cp->csr_sent[PKI_PIDX(k->plane)] = clock_mono();
	ret = cp_sess_send(p->sess, cpmsg_pack(CPMSG_CSR, "{s:I, s:s, s:s}",
		"id", (json_int_t)r->id, "plane", pki_plane_str(k->plane),
		"csr", csr));
	if (ret < 0)
		req_finish(r, ret, "cannot send the CSR");
out:
	if (csr)
		pki_pem_free(csr, csr_len);
	keyjob_free(k);
}

/* Ask the primary's CA for a new certificate on `plane` (new key). */
static int rotate_remote(struct cp *cp, enum pki_plane plane)
{
	uint32_t primary = cp_primary_id(cp);
	struct cp_peer *p = primary <= MAX_PEERS ? cp->peers[primary] : NULL;
	struct keyjob *k;
	int ret;

	if (cp->csr_inflight[PKI_PIDX(plane)])
		return 0;
	if (!p || !p->up || !p->sess)
		return -EHOSTUNREACH;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cp = cp;
	k->plane = plane;
	ret = cp_job_run(cp, keygen_work, rotate_remote_done, k);
	if (ret < 0) {
		free(k);
		return ret;
	}
	cp->csr_inflight[PKI_PIDX(plane)] = true;
	return 0;
}

/* The CA holder: new keys on a thread, then sign and install here. */
static void rotate_local_done(void *arg)
{
	struct keyjob *k = arg;
	struct cp *cp = k->cp;
	struct pki_err perr = { "" };
	struct config_node *me;
	uint64_t gen;
	int failed = 0;

	cp->rotating_local = false;
	if (k->ret < 0 || !PKI(cp)) {
		log_warn("control plane: rotation: cannot make keys: %s", k->perr.msg);
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++)
			rotalert_set(PKI(cp), (enum pki_plane)pl, "cannot make keys: %s",
				     k->perr.msg);
		failed = 1;
		goto out;
	}
	gen = pki_state_generation(PKI(cp));
	me = config_node_find(live(cp), cp_node_id(cp));
	for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++) {
		char *csr = NULL, *cert = NULL;
		size_t csr_len = 0, cert_len = 0;
		int ret;

		ret = pki_node_csr(k->key[PKI_PIDX(pl)], pki_state_cluster_id(PKI(cp)),
				   cp_node_id(cp), me ? me->name : "?",
				   (enum pki_plane)pl, &csr, &csr_len, &perr);
		if (!ret)
			ret = pki_ca_sign_csr(pki_state_ca(PKI(cp)), csr, csr_len,
					      cp_node_id(cp), me ? me->name : "?",
					      (enum pki_plane)pl, clock_now(), &cert,
					      &cert_len, &perr);
		if (!ret)
			ret = pki_state_install_cert(PKI(cp), (enum pki_plane)pl,
						     k->key[PKI_PIDX(pl)], cert,
						     cert_len, &perr);
		if (csr)
			pki_pem_free(csr, csr_len);
		if (cert)
			pki_pem_free(cert, cert_len);
		if (ret < 0) {
			log_warn("control plane: rotation of the %s certificate failed: %s",
				 pki_plane_str((enum pki_plane)pl), perr.msg);
			rotalert_set(PKI(cp), (enum pki_plane)pl, "%s", perr.msg);
			failed = 1;
			break;
		}
	}
	if (!failed)
		log_info("control plane: certificates rotated (generation %u)",
			 live(cp)->certs.generation);
	if (pki_state_generation(PKI(cp)) != gen)
		notify_pki(cp);
out:
	/* rotation_check counted the requested rotation as done when it
	 * started it: make it due again so the next check retries. */
	if (failed && cp->rotated_gen >= live(cp)->certs.generation &&
	    live(cp)->certs.generation > 0) {
		cp->rotated_gen = live(cp)->certs.generation - 1;
		save_cpstate(cp);
	}
	keyjob_free(k);
}

static int rotate_local(struct cp *cp)
{
	struct keyjob *k;
	int ret;

	if (cp->rotating_local)
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cp = cp;
	ret = cp_job_run(cp, keygen_work, rotate_local_done, k);
	if (ret < 0) {
		free(k);
		return ret;
	}
	cp->rotating_local = true;
	return 0;
}

#define CP_RENEW_MIN_S	3600	/* plan-driven CSRs per plane, at most */

/* Rotate what is due: the replicated rotation generation moved (manual
 * rotation) or the PKI plan says so (every 30 days / missing cert). */
static void rotation_check(struct cp *cp)
{
	struct pki_plane_dates dates[PKI_NPLANES];
	struct pki_err perr = { "" };
	struct pki_plan plan;
	unsigned mask = 0;
	uint64_t gen;
	bool manual;
	int ret;

	if (!PKI(cp))
		return;
	gen = pki_state_generation(PKI(cp));
	manual = live(cp)->certs.generation > cp->rotated_gen;
	if (pki_ca_can_sign(pki_state_ca(PKI(cp)))) {
		if (manual && rotate_local(cp) < 0)
			return;
		if (pki_state_tick(PKI(cp), clock_now(), &plan, &perr) < 0) {
			log_warn("control plane: certificate check: %s", perr.msg);
			rotalert_tick_failed(PKI(cp), clock_now(), perr.msg);
		}
	} else {
		pki_state_tick(PKI(cp), clock_now(), &plan, &perr);
		pki_state_dates(PKI(cp), dates);
		pki_plan(dates, clock_now(), &plan);
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++) {
			enum pki_action a = plan.plane[PKI_PIDX(pl)].action;
			time_t sent = cp->csr_sent[PKI_PIDX(pl)];

			/* The primary signs with its own clock: when ours is
			 * off, the certificate it returns can look due again
			 * (too old, or not yet valid).  Such a plan-driven
			 * renewal is asked for at most once per CP_RENEW_MIN_S
			 * (monotonic), never in a loop. */
			if (manual || a == PKI_ACT_ISSUE ||
			    (a == PKI_ACT_ROTATE &&
			     (!sent || clock_mono() - sent >= CP_RENEW_MIN_S)))
				mask |= PKI_MASK(pl);
		}
		for (int pl = PKI_PLANE_CP; pl <= PKI_PLANE_DP; pl++)
			if ((mask & PKI_MASK(pl)) &&
			    (ret = rotate_remote(cp, (enum pki_plane)pl)) < 0) {
				rotalert_set(PKI(cp), (enum pki_plane)pl, "%s",
					     ret == -EHOSTUNREACH ?
					     "the primary (the CA) is unreachable" :
					     strerror(-ret));
				return;	/* retried on the next tick */
			}
	}
	if (manual) {
		cp->rotated_gen = live(cp)->certs.generation;
		save_cpstate(cp);
	}
	/* The daemon's PKI timer rotates the same state (on a clock jump
	 * both run at once, in either order): publish what it did too, or
	 * the port keeps serving the old, maybe expired, certificates. */
	if (pki_state_generation(PKI(cp)) != gen ||
	    pki_state_generation(PKI(cp)) != cp->published_gen)
		notify_pki(cp);
}

static void cert_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;

	(void)fd; (void)what;
	rotation_check(cp);
}

/* The wall clock jumped: what is due changed now, not at the next tick. */
static void cert_clock_jumped(void *arg, time_t jump)
{
	(void)jump;
	rotation_check(arg);
}

/* ------------------------------------------------------------ peers */

static struct cp_peer *peer_get(struct cp *cp, uint32_t id)
{
	struct cp_peer *p;

	if (id == 0 || id > MAX_PEERS)
		return NULL;
	if (cp->peers[id])
		return cp->peers[id];
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cp = cp;
	p->id = id;
	p->backoff_ms = CP_RECONNECT_MIN_MS;
	cp->peers[id] = p;
	return p;
}

/* ------------------------------------------------------------ member protocol */

static void member_up(struct cp_sess *s, void *arg);
static void member_msg(struct cp_sess *s, int type, json_t *msg, void *arg);
static void member_closed(struct cp_sess *s, const char *why, void *arg);

static const struct cp_sess_ops member_ops = {
	.up = member_up,
	.msg = member_msg,
	.closed = member_closed,
};

static json_t *hello_msg(const struct cp *cp)
{
	return cpmsg_pack(CPMSG_HELLO, "{s:s, s:i, s:I, s:I}", "cluster_id",
			  pki_state_cluster_id(PKI(cp)), "node_id",
			  (int)cp_node_id(cp), "version",
			  (json_int_t)live(cp)->version, "certs_version",
			  (json_int_t)cp->certs_version);
}

static json_t *status_msg(const struct cp *cp, int64_t id)
{
	json_t *st = cp->hooks.status_local ?
		     cp->hooks.status_local(cp->hooks.arg) : NULL;

	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	return cpmsg_pack(CPMSG_STATUS, "{s:I, s:o}", "id", (json_int_t)id,
			  "status", st);
}

static void member_up(struct cp_sess *s, void *arg)
{
	(void)arg;
	cp_sess_send(s, hello_msg(s->cp));
}

static void reply_result(struct cp_sess *s, json_int_t id, int rc,
			 const char *code, const char *desc, int64_t version)
{
	json_t *m;

	if (rc == 0)
		m = cpmsg_pack(CPMSG_RESULT, "{s:I, s:b, s:I}", "id", id, "ok",
			       1, "version", (json_int_t)version);
	else
		m = cpmsg_pack(CPMSG_RESULT, "{s:I, s:b, s:i, s:s, s:s}", "id",
			       id, "ok", 0, "status", cp_http_status(rc),
			       "error_code", code, "description", desc);
	cp_sess_send(s, m);
}

static void on_hello(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	const char *cid = json_string_value(json_object_get(msg, "cluster_id"));
	uint32_t id = (uint32_t)json_integer_value(json_object_get(msg, "node_id"));
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	int64_t cver = json_integer_value(json_object_get(msg, "certs_version"));
	struct cp_peer *p;
	char why[CP_ERR_MAX];

	if (strcmp(cid, pki_state_cluster_id(PKI(cp))) != 0) {
		snprintf(why, sizeof(why), "peer is in another cluster (%s)", cid);
		cp_sess_close(s, why);
		return;
	}
	if (id == cp_node_id(cp) ||
	    (s->cert_node_id > 0 && (uint32_t)s->cert_node_id != id) ||
	    (s->outgoing && s->peer_id != id)) {
		snprintf(why, sizeof(why),
			 "peer says it is node %u but its certificate/address is node %ld",
			 id, s->outgoing ? (long)s->peer_id : s->cert_node_id);
		cp_sess_close(s, why);
		return;
	}
	p = peer_get(cp, id);
	if (!p) {
		cp_sess_close(s, "node id out of range");
		return;
	}
	if (p->sess && p->sess != s) {
		/* a newer session replaces the old one (peer restarted) */
		struct cp_sess *old = p->sess;

		p->sess = NULL;
		p->up = false;
		old->arg = NULL;
		cp_sess_close(old, "replaced by a newer session");
	}
	s->peer_id = id;
	s->arg = p;
	p->sess = s;
	p->up = true;
	p->version = ver;
	p->backoff_ms = CP_RECONNECT_MIN_MS;
	if (s->nl_id && cp->nl) {
		const struct config_node *n = config_node_find(live(cp), id);
		struct inenl_session_add a = { .fd = s->fd, .peer_node_id = id,
					       .peer_name = n ? n->name : NULL };

		inenl_session_update(cp->nl, 0, &a);
	}
	p->last_error[0] = '\0';
	if (p->redial)
		evtimer_del(p->redial);
	log_info("control plane: session with node %u up (%s, peer config v%lld, ours v%llu)",
		 id, s->outgoing ? "dialled" : "accepted", (long long)ver,
		 (unsigned long long)live(cp)->version);
	if ((uint64_t)ver < live(cp)->version)
		cp_sess_send(s, config_msg(cp));
	if (cver < cp->certs_version)
		cp_sess_send(s, certs_msg(cp));
	cp_sess_send(s, status_msg(cp, 0));
	/* pending rotations may have been waiting for the primary */
	if (id == cp_primary_id(cp))
		rotation_check(cp);
}

static void on_config(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	char err[CONFIG_ERR_MAX];
	struct config *next;
	int ret;

	if ((uint64_t)ver <= live(cp)->version)
		return;
	ret = config_from_json(json_object_get(msg, "config"), &next, err,
			       sizeof(err));
	if (ret < 0) {
		log_warn("control plane: node %u sent an invalid configuration v%lld: %s",
			 s->peer_id, (long long)ver, err);
		return;
	}
	if (next->version != (uint64_t)ver ||
	    strcmp(next->cluster_id, live(cp)->cluster_id) != 0 ||
	    !config_node_find(next, cp_node_id(cp))) {
		log_warn("control plane: node %u sent a configuration that is not for this cluster/node; ignored",
			 s->peer_id);
		config_free(next);
		return;
	}
	if (config_install(cp, next, false, err, sizeof(err)) < 0)
		log_err("control plane: %s", err);
}

static void on_certs(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	int64_t ver = json_integer_value(json_object_get(msg, "version"));
	char err[CP_ERR_MAX];

	if (ver <= cp->certs_version)
		return;
	if (cp_certs_install(cp, json_object_get(msg, "certs"), ver, err,
			     sizeof(err)) < 0)
		log_err("control plane: customer certificates v%lld from node %u refused: %s",
			(long long)ver, s->peer_id, err);
}

static void on_propose(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	int64_t base = json_integer_value(json_object_get(msg, "base_version"));
	char err[CP_ERR_MAX];
	struct config *next;
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node is not the primary", 0);
		return;
	}
	if ((uint64_t)base != live(cp)->version) {
		snprintf(err, sizeof(err),
			 "the configuration changed meanwhile (now version %llu): retry",
			 (unsigned long long)live(cp)->version);
		reply_result(s, id, -EBUSY, "conflict", err, 0);
		return;
	}
	ret = config_from_json(json_object_get(msg, "config"), &next, err,
			       sizeof(err));
	if (ret == 0 && strcmp(next->cluster_id, live(cp)->cluster_id) != 0) {
		config_free(next);
		ret = -EINVAL;
		snprintf(err, sizeof(err), "cluster.id cannot change");
	}
	if (ret == 0)
		ret = cp_commit_local(cp, next, err, sizeof(err));
	if (ret < 0) {
		reply_result(s, id, ret < 0 ? ret : -EINVAL, "invalid", err, 0);
		return;
	}
	log_info("control plane: committed version %llu proposed by node %u",
		 (unsigned long long)live(cp)->version, s->peer_id);
	reply_result(s, id, 0, NULL, NULL, (int64_t)live(cp)->version);
}

static void on_certs_propose(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	char err[CP_ERR_MAX];
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node is not the primary", 0);
		return;
	}
	ret = certs_commit(cp, json_object_get(msg, "certs"), err, sizeof(err));
	if (ret < 0)
		reply_result(s, id, ret, "invalid_certificate", err, 0);
	else
		reply_result(s, id, 0, NULL, NULL, (int64_t)live(cp)->version);
}

static void on_csr(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	const char *plane_s = json_string_value(json_object_get(msg, "plane"));
	const char *csr = json_string_value(json_object_get(msg, "csr"));
	enum pki_plane plane = strcmp(plane_s, "cp") == 0 ? PKI_PLANE_CP :
			       strcmp(plane_s, "dp") == 0 ? PKI_PLANE_DP : 0;
	struct pki_err perr = { "" };
	struct config_node *n;
	char *cert = NULL;
	size_t cert_len = 0;
	int ret;

	if (!cp_is_primary(cp)) {
		reply_result(s, id, -EHOSTUNREACH, "not_primary",
			     "this node does not hold the cluster CA", 0);
		return;
	}
	n = config_node_find(live(cp), s->peer_id);
	if (!plane || !n) {
		reply_result(s, id, -EINVAL, "invalid",
			     !plane ? "plane must be cp or dp" :
				      "requesting node is not in the configuration", 0);
		return;
	}
	ret = pki_ca_sign_csr(pki_state_ca(PKI(cp)), csr, strlen(csr),
			      s->peer_id, n->name, plane, clock_now(), &cert,
			      &cert_len, &perr);
	if (ret < 0) {
		reply_result(s, id, -EINVAL, "bad_csr", perr.msg, 0);
		return;
	}
	log_info("control plane: signed a new %s certificate for node %u",
		 plane_s, s->peer_id);
	cp_sess_send(s, cpmsg_pack(CPMSG_CERT, "{s:I, s:s, s:s}", "id", id,
				   "plane", plane_s, "cert", cert));
	pki_pem_free(cert, cert_len);
}

static void on_cert(struct cp_sess *s, json_t *msg)
{
	struct cp *cp = s->cp;
	struct cp_req *r = req_find(cp, json_integer_value(json_object_get(msg, "id")));
	const char *cert = json_string_value(json_object_get(msg, "cert"));
	struct pki_err perr = { "" };
	char done[CP_ERR_MAX];
	int ret;

	if (!r || r->kind != REQ_CSR || r->peer != s->peer_id)
		return;
	ret = pki_state_install_cert(PKI(cp), r->plane, r->key, cert,
				     strlen(cert), &perr);
	if (ret < 0) {
		req_finish(r, ret, perr.msg);
		return;
	}
	snprintf(done, sizeof(done), "new %s certificate installed",
		 pki_plane_str(r->plane));
	req_finish(r, 0, done);
	notify_pki(cp);
}

static void on_result(struct cp_sess *s, json_t *msg)
{
	struct cp_req *r = req_find(s->cp,
				    json_integer_value(json_object_get(msg, "id")));
	json_t *status = json_object_get(msg, "status");
	const char *desc = json_string_value(json_object_get(msg, "description"));

	if (!r || r->peer != s->peer_id)
		return;
	if (json_is_true(json_object_get(msg, "ok")))
		req_finish(r, 0, "ok");
	else
		req_finish(r, rc_from_status(status ? json_integer_value(status) : 500),
			   desc ? desc : "refused by the primary");
}

static void member_msg(struct cp_sess *s, int type, json_t *msg, void *arg)
{
	struct cp_peer *p = arg;

	if (type != CPMSG_HELLO && (!p || !p->up || p->sess != s)) {
		cp_sess_close(s, "protocol error: message before hello");
		return;
	}
	switch (type) {
	case CPMSG_HELLO:
		if (p && p->up && p->sess == s) {
			cp_sess_close(s, "protocol error: second hello");
			return;
		}
		on_hello(s, msg);
		break;
	case CPMSG_CONFIG:
		on_config(s, msg);
		break;
	case CPMSG_CERTS:
		on_certs(s, msg);
		break;
	case CPMSG_PROPOSE:
		on_propose(s, msg);
		break;
	case CPMSG_CERTS_PROPOSE:
		on_certs_propose(s, msg);
		break;
	case CPMSG_STATUS_REQ:
		cp_sess_send(s, status_msg(s->cp,
			json_integer_value(json_object_get(msg, "id"))));
		break;
	case CPMSG_STATUS:
		json_decref(p->status);
		p->status = json_incref(json_object_get(msg, "status"));
		p->status_at = clock_now();
		break;
	case CPMSG_CSR:
		on_csr(s, msg);
		break;
	case CPMSG_CERT:
		on_cert(s, msg);
		break;
	case CPMSG_RESULT:
		on_result(s, msg);
		break;
	case CPMSG_PING:
		cp_sess_send(s, cpmsg_pack(CPMSG_PONG, "{}"));
		break;
	case CPMSG_PONG:
		break;
	default:
		cp_sess_close(s, "protocol error: unexpected message on ine-cp/1");
	}
}

static void peer_schedule_redial(struct cp_peer *p);

static void member_closed(struct cp_sess *s, const char *why, void *arg)
{
	struct cp_peer *p = arg;
	struct cp *cp = s->cp;

	if (!p || p->sess != s) {
		/* never said hello, or replaced by a newer session */
		log_debug("control plane: session closed: %s", why);
		return;
	}
	if (p->up)
		log_warn("control plane: session with node %u down: %s", p->id,
			 why);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	p->sess = NULL;
	p->up = false;
	reqs_fail_peer(cp, p->id);
	peer_schedule_redial(p);
}

/* ------------------------------------------------------------ dialling */

static void redial_cb(evutil_socket_t fd, short what, void *arg);

static void peer_schedule_redial(struct cp_peer *p)
{
	struct cp *cp = p->cp;
	struct timeval tv;

	/* only the higher id dials, and only members that still exist */
	if (!PKI(cp) || p->id >= cp_node_id(cp) ||
	    !config_node_find(live(cp), p->id))
		return;
	if (!p->redial) {
		p->redial = evtimer_new(cp->base, redial_cb, p);
		if (!p->redial)
			return;
	}
	if (evtimer_pending(p->redial, NULL))
		return;
	tv.tv_sec = p->backoff_ms / 1000;
	tv.tv_usec = (p->backoff_ms % 1000) * 1000;
	evtimer_add(p->redial, &tv);
	p->backoff_ms = p->backoff_ms * 2 > CP_RECONNECT_MAX_MS ?
			CP_RECONNECT_MAX_MS : p->backoff_ms * 2;
}

static void peer_dial(struct cp_peer *p)
{
	struct cp *cp = p->cp;
	struct config_node *n = config_node_find(live(cp), p->id);
	char addr[TOKEN_ADDR_MAX + 1], err[CP_ERR_MAX];
	SSL_CTX *ctx = client_ctx(cp);
	struct cp_sess *s;

	if (p->sess || !n || !ctx)
		return;
	cp_hostport(n->address, cp->port, addr, sizeof(addr));
	s = cp_sess_dial(cp, addr, ctx, TLS_ALPN_CP, &member_ops, NULL, err,
			 sizeof(err));
	if (!s) {
		snprintf(p->last_error, sizeof(p->last_error), "%s", err);
		peer_schedule_redial(p);
		return;
	}
	s->peer_id = p->id;
	s->arg = p;
	p->sess = s;
}

static void redial_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	peer_dial(arg);
}

/* Dial every lower-id node we have no session with. */
static void peers_sync(struct cp *cp)
{
	uint32_t me = cp_node_id(cp);

	if (!PKI(cp))
		return;
	for (size_t i = 0; i < live(cp)->n_nodes; i++) {
		uint32_t id = live(cp)->nodes[i].id;
		struct cp_peer *p;

		if (id >= me || id > MAX_PEERS)
			continue;
		p = peer_get(cp, id);
		if (p && !p->sess && !(p->redial && evtimer_pending(p->redial, NULL)))
			peer_dial(p);
	}
}

static void member_accept(void *arg, struct tls_conn *c)
{
	struct cp *cp = arg;

	if (!PKI(cp)) {
		int fd = c->fd;

		tls_conn_free(c);
		close(fd);
		return;
	}
	cp_sess_accept(cp, c, &member_ops, NULL);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cp *cp = arg;
	json_t *st = NULL;

	(void)fd; (void)what;
	for (uint32_t id = 1; id <= MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (p && p->up && p->sess) {
			cp_sess_send(p->sess, cpmsg_pack(CPMSG_PING, "{}"));
			/* One status for every peer: it lists every session
			 * (a netlink dump and a JSON object each), a large
			 * periodic cost with a thousand relayed connections. */
			if (!st)
				st = status_msg(cp, 0);
			if (p->sess && st)
				cp_sess_send(p->sess, json_incref(st));
		}
	}
	json_decref(st);
	peers_sync(cp);
	/* The daemon's PKI timer rotates the same state (a scheduled
	 * rotation, a retry after a failure): serve it within a tick. */
	if (PKI(cp) && pki_state_generation(PKI(cp)) != cp->published_gen)
		notify_pki(cp);
}

/* ------------------------------------------------------------ status */

json_t *cp_status_peers(struct cp *cp)
{
	json_t *arr = json_array();
	time_t now = clock_now();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < live(cp)->n_nodes; i++) {
		const struct config_node *n = &live(cp)->nodes[i];
		struct cp_peer *p = n->id <= MAX_PEERS ? cp->peers[n->id] : NULL;
		json_t *o;

		if (n->id == cp_node_id(cp))
			continue;
		/* the node's own status object (same shape as ours), with what
		 * this node knows about it on top */
		o = p && json_is_object(p->status) ? json_deep_copy(p->status) :
						     json_object();
		if (!o)
			continue;
		json_object_set_new(o, "uid", json_integer(n->id));
		json_object_set_new(o, "node_id", json_integer(n->id));
		json_object_set_new(o, "name", json_string(n->name));
		json_object_set_new(o, "address", json_string(n->address));
		json_object_set_new(o, "primary", json_boolean(n->id == cp_primary_id(cp)));
		json_object_set_new(o, "connected", json_boolean(p && p->up));
		json_object_set_new(o, "reported", json_boolean(p && p->status));
		if (p && p->status)
			json_object_set_new(o, "status_age_s",
					    json_integer(now - p->status_at));
		if (p && !p->up && p->last_error[0])
			json_object_set_new(o, "error", json_string(p->last_error));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *cp_status_self(struct cp *cp)
{
	json_t *o = json_pack("{s:i, s:i, s:s, s:I, s:I, s:s}",
			      "node_id", (int)cp_node_id(cp),
			      "primary_id", (int)cp_primary_id(cp),
			      "role", !PKI(cp) ? "standalone" :
				      cp_is_primary(cp) ? "primary" : "member",
			      "config_version", (json_int_t)live(cp)->version,
			      "certs_version", (json_int_t)cp->certs_version,
			      "cluster_id", live(cp)->cluster_id);

	if (o)
		json_object_set_new(o, "peers", cp_status_peers(cp));
	return o;
}

/* ------------------------------------------------------------ lifecycle */

int cp_install_membership(struct cp *cp, struct pki_state *st,
			  struct config *cfg, char *err, size_t errlen)
{
	uint32_t gen = cfg->certs.generation;
	int ret;

	/* the PKI first: the daemon learns its node id before the
	 * configuration naming it goes live */
	if (cp->hooks.pki_set) {
		cp->hooks.pki_set(cp->hooks.arg, st);
	} else {
		if (cp->pki_owned)
			pki_state_free(cp->pki_mine);
		cp->pki_mine = st;
		cp->pki_owned = true;
	}
	ret = cp->hooks.config_apply(cp->hooks.arg, cfg, err, errlen);
	if (ret < 0) {
		if (cp->hooks.pki_set) {
			cp->hooks.pki_set(cp->hooks.arg, NULL);	/* frees st */
		} else {
			pki_state_free(cp->pki_mine);
			cp->pki_mine = NULL;
			cp->pki_owned = false;
		}
		return ret;
	}
	cp->rotated_gen = gen;
	save_cpstate(cp);
	log_info("control plane: node %u of cluster %s (%s)",
		 pki_state_node_id(st), live(cp)->cluster_id,
		 live(cp)->cluster_name);
	if (cp->hooks.member_changed)
		cp->hooks.member_changed(cp->hooks.arg, pki_state_node_id(st));
	listener_sync(cp);
	notify_pki(cp);
	peers_sync(cp);
	return 0;
}

struct listener *cp_listener(struct cp *cp) { return cp->listener; }

/* Port 3342 with a context for our current certificates.  A rotation only
 * swaps the context new handshakes use: the listening socket stays open, so
 * a member connecting at that moment is never refused, and handshakes in
 * progress finish with the context they started with (each SSL holds a
 * reference to its own).  Only a change of address re-opens the port. */
/* Whoever was told of the listener forgets it before it goes. */
static void listener_drop(struct cp *cp)
{
	if (!cp->listener)
		return;
	if (cp->hooks.listener_changed)
		cp->hooks.listener_changed(cp->hooks.arg, NULL);
	listener_free(cp->listener);
	cp->listener = NULL;
}

static void listener_sync(struct cp *cp)
{
	const struct config_node *me;
	const char *addr;
	struct listener *l;
	SSL_CTX *ctx;
	uint64_t gen;

	if (!PKI(cp))
		return;
	gen = pki_state_generation(PKI(cp));
	if (cp->listener && cp->server_ctx_gen == gen)
		return;
	me = config_node_find(live(cp), cp_node_id(cp));
	ctx = cp_tls_ctx_new(cp, true);
	if (!ctx || !me) {
		log_err("control plane: no TLS context for port %u", cp->port);
		tls_ctx_free(ctx);
		return;
	}
	addr = cp->bind_addr[0] ? cp->bind_addr : me->address;
	if (cp->listener && !strcmp(cp->listen_addr, addr)) {
		listener_set_ctx(cp->listener, ctx);
		tls_ctx_free(cp->server_ctx);
		cp->server_ctx = ctx;
		cp->server_ctx_gen = gen;
		log_info("control plane: port %u serves the new certificates", cp->port);
		return;
	}
	listener_drop(cp);
	l = listener_new(cp->base, ctx, addr, cp->port, NULL);
	if (!l) {
		log_err("control plane: cannot listen on %s port %u", addr, cp->port);
		tls_ctx_free(ctx);
		return;
	}
	listener_set_inenl(l, cp->nl);
	if (listener_set_handler(l, "ine-cp/1", member_accept, cp) < 0 ||
	    listener_set_handler(l, "ine-join/1", join_accept, cp) < 0) {
		listener_free(l);
		tls_ctx_free(ctx);
		return;
	}
	tls_ctx_free(cp->server_ctx);
	cp->server_ctx = ctx;
	cp->server_ctx_gen = gen;
	cp->listener = l;
	snprintf(cp->listen_addr, sizeof(cp->listen_addr), "%s", addr);
	log_info("control plane: listening on %s port %u", addr, cp->port);
	if (cp->hooks.listener_changed)
		cp->hooks.listener_changed(cp->hooks.arg, l);
}

int cp_new(struct event_base *base, const struct cp_opts *opts,
	   struct cp **out, char *err, size_t errlen)
{
	struct timeval tick = { CP_PING_MS / 1000, (CP_PING_MS % 1000) * 1000 };
	struct timeval ctick = { CP_CERT_CHECK_MS / 1000, 0 };
	struct pki_err perr = { "" };
	char tpath[PATH_MAX + 16];
	struct cp *cp;
	int ret;

	if (!opts->hooks.config_get || !opts->hooks.config_apply)
		return fail(err, errlen, -EINVAL, "control plane needs the config hooks");
	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return fail(err, errlen, -ENOMEM, "out of memory");
	cp->job_pipe[0] = cp->job_pipe[1] = -1;
	cp->base = base;
	cp->hooks = opts->hooks;
	cp->port = opts->port ? opts->port : CONFIG_INE_PORT;
	if (opts->bind_addr)
		snprintf(cp->bind_addr, sizeof(cp->bind_addr), "%s", opts->bind_addr);
	if (snprintf(cp->dir, sizeof(cp->dir), "%s", opts->state_dir) >=
	    (int)sizeof(cp->dir)) {
		ret = fail(err, errlen, -ENAMETOOLONG, "state directory name too long");
		goto fail;
	}
	if (opts->pki_dir)
		snprintf(cp->pki_dir, sizeof(cp->pki_dir), "%s", opts->pki_dir);
	else
		snprintf(cp->pki_dir, sizeof(cp->pki_dir), "%s/pki", cp->dir);
	snprintf(tpath, sizeof(tpath), "%s/tokens.json", cp->dir);
	if (mkdir(cp->dir, 0700) < 0 && errno != EEXIST) {
		ret = fail(err, errlen, -errno, "%s: %s", cp->dir, strerror(errno));
		goto fail;
	}
	ret = token_store_open(tpath, &cp->tokens);
	if (ret < 0) {
		fail(err, errlen, ret, "%s: %s", tpath, strerror(-ret));
		goto fail;
	}
	ret = load_cpstate(cp, err, errlen);
	if (ret < 0)
		goto fail;
	if (cp->hooks.pki_get) {
		ret = cp->hooks.pki_get(cp->hooks.arg) ? 0 : -ENOENT;
	} else {
		ret = pki_state_load(cp->pki_dir, &cp->pki_mine, &perr);
		cp->pki_owned = ret == 0;
	}
	if (ret == -ENOENT) {
		cp->pki_mine = NULL;
	} else if (ret < 0) {
		fail(err, errlen, ret, "%s", perr.msg);
		goto fail;
	} else if (strcmp(pki_state_cluster_id(PKI(cp)), live(cp)->cluster_id) ||
		   !config_node_find(live(cp), pki_state_node_id(PKI(cp)))) {
		ret = fail(err, errlen, -EINVAL,
			   "%s: certificates are for cluster %s node %u, the configuration does not match",
			   cp->dir, pki_state_cluster_id(PKI(cp)),
			   pki_state_node_id(PKI(cp)));
		goto fail;
	}
	ret = inenl_open(&cp->nl);
	if (ret < 0) {
		cp->nl = NULL;
		log_info("control plane: ine.ko not available (%s): sessions not registered with the kernel",
			 strerror(-ret));
	}
	cp->job_pipe[0] = cp->job_pipe[1] = -1;
	if (pipe2(cp->job_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = fail(err, errlen, -errno, "pipe: %s", strerror(errno));
		goto fail;
	}
	cp->job_ev = event_new(base, cp->job_pipe[0], EV_READ | EV_PERSIST,
			       job_ev_cb, cp);
	if (!cp->job_ev) {
		ret = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	event_add(cp->job_ev, NULL);
	cp->reaper = event_new(base, -1, 0, reaper_cb, cp);
	cp->tick = event_new(base, -1, EV_PERSIST, tick_cb, cp);
	cp->cert_tick = event_new(base, -1, EV_PERSIST, cert_tick_cb, cp);
	cp->clock_watch = clock_watch_new(base, cert_clock_jumped, cp);
	if (!cp->reaper || !cp->tick || !cp->cert_tick || !cp->clock_watch) {
		ret = fail(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	evtimer_add(cp->tick, &tick);
	evtimer_add(cp->cert_tick, &ctick);
	if (PKI(cp)) {
		log_info("control plane: node %u of cluster %s, configuration v%llu",
			 cp_node_id(cp), live(cp)->cluster_id,
			 (unsigned long long)live(cp)->version);
		listener_sync(cp);
		peers_sync(cp);
		cp->published_gen = pki_state_generation(PKI(cp));
	}
	*out = cp;
	return 0;
fail:
	cp_free(cp);
	return ret;
}

void cp_free(struct cp *cp)
{
	struct cp_req *r;

	if (!cp)
		return;
	/* let running workers finish (their results are still wanted only if
	 * the loop runs; here we just collect them) */
	while (cp->jobs) {
		struct cp_job *j = cp->jobs;

		cp->jobs = j->next;
		pthread_join(j->th, NULL);
		free(j);	/* its arg leaks: only at shutdown */
	}
	if (cp->job_ev)
		event_free(cp->job_ev);
	if (cp->job_pipe[0] >= 0)
		close(cp->job_pipe[0]);
	if (cp->job_pipe[1] >= 0)
		close(cp->job_pipe[1]);
	while ((r = cp->reqs))
		req_finish(r, -ECANCELED, "agent shutting down");
	for (uint32_t id = 1; id <= MAX_PEERS; id++) {
		struct cp_peer *p = cp->peers[id];

		if (!p)
			continue;
		p->sess = NULL;
		if (p->redial)
			event_free(p->redial);
		json_decref(p->status);
		free(p);
		cp->peers[id] = NULL;
	}
	while (cp->sessions) {
		cp->sessions->ops = NULL;
		cp_sess_close(cp->sessions, "shutting down");
	}
	if (cp->reaper)
		reaper_cb(-1, 0, cp);
	if (cp->reaper)
		event_free(cp->reaper);
	if (cp->tick)
		event_free(cp->tick);
	if (cp->cert_tick)
		event_free(cp->cert_tick);
	clock_watch_free(cp->clock_watch);
	listener_drop(cp);
	tls_ctx_free(cp->server_ctx);
	tls_ctx_free(cp->client_ctx);
	inenl_close(cp->nl);
	if (cp->pki_owned)
		pki_state_free(cp->pki_mine);
	token_store_free(cp->tokens);
	json_decref(cp->certs);
	free(cp);
}
