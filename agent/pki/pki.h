/* SPDX-License-Identifier: GPL-2.0 */
/* pki.h — ine's certificate authority, node certificates, rotation policy,
 * customer-provided certificates and their on-disk store.
 *
 * This is the whole interface other parts of the agent (TLS, control plane,
 * REST API, inectl) use; nothing outside agent/pki*.c reaches into PKI
 * internals.  See docs/pki.md for the rules and the state directory layout.
 *
 * Conventions:
 *  - Every int-returning function returns 0 or a negative errno.  When it
 *    fails and `err` is not NULL, err->msg holds a sentence for a human that
 *    names the problem (it is what the REST API puts in its 4xx body).
 *  - Times are time_t seconds; policy decisions take `now` explicitly so the
 *    caller passes clock_now() (agent/core/clock.h) and tests can move time.
 *  - OpenSSL objects handed out are new references (caller frees with
 *    X509_free / EVP_PKEY_free / sk_X509_pop_free(sk, X509_free));
 *    objects passed in are borrowed (the callee takes its own reference).
 *  - Buffers holding private keys are OPENSSL_cleanse()d before being freed;
 *    pki_pem_free() does that for PEM strings returned by this interface.
 *  - Single-threaded (the agent runs on one libevent loop).
 */
#ifndef INE_PKI_H
#define INE_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Planes, numerically equal to INE_PLANE_CONTROL / INE_PLANE_DATA of
 * <linux/ine.h>.  CPINE / DPINE in the product's words. */
enum pki_plane {
	PKI_PLANE_CP = 1,
	PKI_PLANE_DP = 2,
};
#define PKI_NPLANES 2
/* Array index of a plane (0 for CP, 1 for DP). */
#define PKI_PIDX(p) ((int)(p) - 1)

/* Fixed policy (product page: 90 days, rotate every 30, alert under 45,
 * customer certificates replaced 5 days before expiry). */
#define PKI_CA_BITS		3072
#define PKI_NODE_BITS		2048
#define PKI_DAY			86400
#define PKI_CA_DAYS		3650	/* 10 years: see docs/pki.md */
#define PKI_NODE_DAYS		90
#define PKI_ROTATE_AGE_DAYS	30
#define PKI_ALERT_DAYS		45
#define PKI_FALLBACK_DAYS	5
#define PKI_BACKDATE_SECS	300	/* notBefore = issue time - 5 min (skew) */
#define PKI_RSA_MIN_BITS	2048
#define PKI_RSA_MAX_BITS	8192
#define PKI_UPLOAD_MAX		(64 * 1024)	/* per PEM field */
#define PKI_CLUSTER_ID_MAX	64
#define PKI_NODE_NAME_MAX	64
#define PKI_ERR_MAX		256

/* Names of the two customer certificates (REST body / rladmin). */
#define PKI_NAME_CP "ccs_internode_encryption"
#define PKI_NAME_DP "data_internode_encryption"

struct pki_err {
	char msg[PKI_ERR_MAX];
};

/* ---------------------------------------------------------------- misc */

/* "cp" / "dp", or NULL for an invalid plane. */
const char *pki_plane_str(enum pki_plane plane);
/* Free a PEM string returned by this interface, wiping it first. */
void pki_pem_free(char *pem, size_t len);
/* SHA-256 of the certificate's SubjectPublicKeyInfo DER: the customer pin. */
int pki_spki_sha256(X509 *cert, uint8_t out[32]);
/* ASN1_TIME -> time_t; -EINVAL if unparsable. */
int pki_asn1_time(const ASN1_TIME *t, time_t *out);
/* A certificate's serial number as upper-case hex (OpenSSL's BN_bn2hex:
 * what ine.ko, status and the logs show); "" and -ENOMEM on failure. */
int pki_cert_serial(const X509 *x, char *out, size_t len);
/* Random cluster id: a UUID v4 string (37 bytes with the NUL). */
int pki_cluster_id_new(char out[37]);
/* Tests only: supply RSA keys instead of generating them (generation costs
 * 50 ms to 1 s each).  fn returns a new reference to a key of `bits` bits;
 * fn = NULL restores real generation. */
typedef EVP_PKEY *(*pki_keygen_fn)(int bits, void *arg);
void pki_set_keygen(pki_keygen_fn fn, void *arg);

/* ---------------------------------------------------------------- CA
 * The cluster CA: RSA-3072, self-signed, CN="ine cluster CA", O=ine,
 * OU=<cluster id>, CA:TRUE pathlen:0, keyCertSign|cRLSign, 10 years.
 * Nodes that do not hold the CA key load a CA without key (verify only). */
struct pki_ca;

int pki_ca_create(const char *cluster_id, time_t now, struct pki_ca **out,
		  struct pki_err *err);
/* key_pem may be NULL (certificate only, cannot sign). */
int pki_ca_load_pem(const char *cert_pem, size_t cert_len,
		    const char *key_pem, size_t key_len,
		    struct pki_ca **out, struct pki_err *err);
void pki_ca_free(struct pki_ca *ca);
X509 *pki_ca_cert(const struct pki_ca *ca);		/* borrowed */
const char *pki_ca_cluster_id(const struct pki_ca *ca);	/* its OU */
bool pki_ca_can_sign(const struct pki_ca *ca);
/* PEM copies, for replicating the CA over the control plane.  key_pem
 * may be NULL to get only the certificate.  Free with pki_pem_free(). */
int pki_ca_export_pem(const struct pki_ca *ca, char **cert_pem,
		      size_t *cert_len, char **key_pem, size_t *key_len);

/* Sign a node's CSR (PEM).  The CSR contributes only its RSA-2048+ public
 * key (its self-signature is checked); subject, SAN, EKU and validity come
 * from the arguments and policy: CN=<node_name>, O=ine, OU=<cluster id>,
 * SAN URI ine://<cluster-id>/node/<node_id>/<cp|dp>, 90 days from now,
 * random 128-bit serial.  This is the step the control plane runs on the
 * CA-holding node; the node's private key never travels. */
int pki_ca_sign_csr(const struct pki_ca *ca, const char *csr_pem,
		    size_t csr_len, uint32_t node_id, const char *node_name,
		    enum pki_plane plane, time_t now, char **cert_pem,
		    size_t *cert_len, struct pki_err *err);

/* ---------------------------------------------------------------- node
 * Run on the node itself: make an RSA-2048 key and a CSR for one plane.
 * node_id 0 means "not assigned yet" (a joining node): the CSR then asks
 * for no SAN; the CA sets the identity from its own records either way. */
int pki_node_keygen(EVP_PKEY **key, struct pki_err *err);
int pki_node_csr(EVP_PKEY *key, const char *cluster_id, uint32_t node_id,
		 const char *node_name, enum pki_plane plane, char **csr_pem,
		 size_t *csr_len, struct pki_err *err);
/* Parse "ine://<cluster>/node/<id>/<cp|dp>" out of a certificate's only
 * SAN URI.  -ENOENT when absent, -EINVAL when malformed or several. */
int pki_node_identity(X509 *cert, char cluster_id[PKI_CLUSTER_ID_MAX + 1],
		      uint32_t *node_id, enum pki_plane *plane);

/* ---------------------------------------------------------------- trust
 * What the TLS layer checks a peer against.  A peer is accepted when
 *  (a) its leaf is signed by this cluster's CA, valid at `now`, with
 *      EKU serverAuth+clientAuth and SAN URI ine://<our cluster>/node/N/<plane>
 *      (it is node N of this cluster, on this plane) — result node id N; or
 *  (b) its leaf's SPKI SHA-256 is one of the pins of this plane (the
 *      customer certificates currently, or just previously, uploaded) —
 *      result node id 0 (customer certificates do not name nodes).
 * Certificates are never revoked by rotation: trust is by CA, so a peer's
 * previous certificate stays acceptable until it expires. */
struct pki_trust;

struct pki_trust *pki_trust_new(X509 *ca_cert, const char *cluster_id);
struct pki_trust *pki_trust_get(struct pki_trust *t);	/* +1 ref */
void pki_trust_put(struct pki_trust *t);		/* -1 ref, NULL ok */
int pki_trust_add_pin(struct pki_trust *t, enum pki_plane plane,
		      const uint8_t sha256[32]);
/* Returns 0 and sets *node_id, or -EACCES with err naming the reason.
 * chain (may be NULL) holds the certificates the peer sent after its leaf. */
int pki_verify_peer(const struct pki_trust *t, X509 *leaf,
		    STACK_OF(X509) *chain, enum pki_plane plane, time_t now,
		    uint32_t *node_id, struct pki_err *err);

/* ---------------------------------------------------------------- customer
 * Upload validation is separate from applying: pki_customer_validate()
 * touches nothing; only pki_state_apply_customer() changes state. */
struct pki_customer_item {
	const char *name;	/* PKI_NAME_CP or PKI_NAME_DP */
	const char *cert_pem;	/* leaf first, then its chain */
	size_t cert_len;
	const char *key_pem;	/* unencrypted RSA private key */
	size_t key_len;
};

/* One validated certificate: leaf + chain + key. */
struct pki_customer_cert;
/* A validated upload: one cert per plane (the same one twice when a
 * single certificate serves both). */
struct pki_customer;

/* Check one leaf+chain+key.  Each refusal has its own message. */
int pki_customer_cert_parse(const char *cert_pem, size_t cert_len,
			    const char *key_pem, size_t key_len, time_t now,
			    struct pki_customer_cert **out, struct pki_err *err);
void pki_customer_cert_free(struct pki_customer_cert *cc);
/* Validate a whole upload (1 or 2 items).  With only one name given, that
 * certificate serves both planes. */
int pki_customer_validate(const struct pki_customer_item *items, size_t n,
			  time_t now, struct pki_customer **out,
			  struct pki_err *err);
void pki_customer_free(struct pki_customer *c);

/* ---------------------------------------------------------------- policy
 * pki_plan() is a pure function of the certificates' dates and `now`. */
enum pki_source {
	PKI_SRC_NONE = 0,
	PKI_SRC_INTERNAL,	/* signed by the cluster CA */
	PKI_SRC_CUSTOMER,	/* uploaded, pinned */
};

enum pki_action {
	PKI_ACT_NONE = 0,
	PKI_ACT_ISSUE,		/* no internal certificate: issue one */
	PKI_ACT_ROTATE,		/* internal certificate ≥ 30 days old */
	PKI_ACT_FALLBACK,	/* customer cert ≤ 5 days left: use internal */
};

/* Ordered by severity. */
enum pki_alert {
	PKI_ALERT_NONE = 0,
	PKI_ALERT_EXPIRING,		/* < 45 days left on the served cert */
	PKI_ALERT_CUSTOMER_REPLACED,	/* customer cert replaced (fallback) */
	PKI_ALERT_EXPIRED,		/* served cert expired / missing */
};

struct pki_plane_dates {
	bool internal;			/* an internal cert exists */
	time_t int_not_before, int_not_after;
	bool customer;			/* a customer cert is stored */
	time_t cust_not_before, cust_not_after;
	enum pki_source source;		/* which one is served */
	bool customer_replaced;		/* fallback happened, no new upload */
};

struct pki_plane_plan {
	enum pki_action action;
	enum pki_alert alert;
	char message[PKI_ERR_MAX];	/* for status/alerts; "" when none */
};

struct pki_plan {
	struct pki_plane_plan plane[PKI_NPLANES];	/* by PKI_PIDX */
	enum pki_alert alert;		/* worst of the planes */
	time_t next;			/* when the plan can next change */
};

void pki_plan(const struct pki_plane_dates dates[PKI_NPLANES], time_t now,
	      struct pki_plan *plan);
const char *pki_alert_str(enum pki_alert a);	/* "none", "expiring", ... */
const char *pki_action_str(enum pki_action a);
const char *pki_source_str(enum pki_source s);	/* "internal"/"customer" */

/* ---------------------------------------------------------------- state
 * A node's PKI state, loaded from / saved to its state directory (default
 * /var/lib/ine).  Every change is written as a new generation directory
 * and switched to with one atomic rename, then swapped in memory; on any
 * failure both disk and memory keep the old state. */
struct pki_state;

#define PKI_STATE_DIR_DEFAULT "/var/lib/ine"

/* Cluster creation on the first node: new cluster id, CA, and this node's
 * two internal certificates, saved to dir.  -EEXIST if dir holds a state. */
int pki_state_create(const char *dir, uint32_t node_id, const char *node_name,
		     time_t now, struct pki_state **out, struct pki_err *err);
/* Joining node: empty state that knows the CA (certificate, plus its key
 * if the cluster replicates it) — then per plane: pki_node_keygen,
 * pki_node_csr, CSR to the CA holder, pki_state_install_cert. */
int pki_state_join(const char *dir, const struct pki_ca *ca, uint32_t node_id,
		   const char *node_name, struct pki_state **out,
		   struct pki_err *err);
/* Load; -ENOENT when dir holds no state yet. */
int pki_state_load(const char *dir, struct pki_state **out,
		   struct pki_err *err);
void pki_state_free(struct pki_state *st);

const char *pki_state_cluster_id(const struct pki_state *st);
uint32_t pki_state_node_id(const struct pki_state *st);
const struct pki_ca *pki_state_ca(const struct pki_state *st);
/* Bumped on every applied change: the TLS layer rebuilds its SSL_CTX for
 * new handshakes when it differs from the one it built with. */
uint64_t pki_state_generation(const struct pki_state *st);

/* What to present on a plane right now (customer cert if served, else the
 * internal one).  New references; *chain may be empty, never NULL on 0. */
int pki_state_credentials(const struct pki_state *st, enum pki_plane plane,
			  X509 **cert, EVP_PKEY **key, STACK_OF(X509) **chain);
/* The certificate (and chain) served on a plane as PEM, for GET
 * /v1/cluster/certificates and inectl.  Public data; free with free(). */
int pki_state_cert_pem(const struct pki_state *st, enum pki_plane plane,
		       char **pem, size_t *len);
/* The trust store for verifying peers (+1 ref; pki_trust_put when done). */
struct pki_trust *pki_state_trust(const struct pki_state *st);

/* Install a certificate the CA signed for our pending key on `plane`
 * (checks: it matches key, chains to our CA, names us).  Replaces the
 * internal certificate for new handshakes; sessions already up keep theirs,
 * and peers keep accepting it (trust is by CA, nothing is revoked). */
int pki_state_install_cert(struct pki_state *st, enum pki_plane plane,
			   EVP_PKEY *key, const char *cert_pem,
			   size_t cert_len, struct pki_err *err);
/* Rotate the internal certificates of the planes in mask (bit 1<<plane)
 * when this node holds the CA key: keygen, CSR, sign, install. */
#define PKI_MASK(p) (1u << (p))
#define PKI_MASK_ALL (PKI_MASK(PKI_PLANE_CP) | PKI_MASK(PKI_PLANE_DP))
int pki_state_rotate_local(struct pki_state *st, unsigned mask, time_t now,
			   struct pki_err *err);

/* Serve a validated upload (replacing any previous customer certs). */
int pki_state_apply_customer(struct pki_state *st,
			     const struct pki_customer *c,
			     struct pki_err *err);
/* Switch planes to internal certificates: the 5-day fallback passes
 * customer_replaced=true (alert until a new upload); an operator choosing
 * internal certificates passes false, which also clears that alert. */
int pki_state_use_internal(struct pki_state *st, unsigned mask,
			   bool customer_replaced, struct pki_err *err);

/* Dates for pki_plan(). */
void pki_state_dates(const struct pki_state *st,
		     struct pki_plane_dates dates[PKI_NPLANES]);

/* One timer tick: plan at `now`, carry out what can be done locally
 * (rotate when we hold the CA key, fall back), record the alert state and
 * log it once per change.  Returns the plan (for scheduling plan->next). */
int pki_state_tick(struct pki_state *st, time_t now, struct pki_plan *plan,
		   struct pki_err *err);

/* Status for inectl / REST / metrics (no secrets in it). */
struct pki_plane_status {
	enum pki_source source;
	char serial[41];		/* hex */
	char subject[128];
	char san[160];
	time_t not_before, not_after;
	enum pki_alert alert;
	char message[PKI_ERR_MAX];
};

struct pki_status {
	char cluster_id[PKI_CLUSTER_ID_MAX + 1];
	uint32_t node_id;
	uint64_t generation;
	bool ca_key_present;
	time_t ca_not_after;
	struct pki_plane_status plane[PKI_NPLANES];	/* by PKI_PIDX */
	enum pki_alert alert;				/* worst */
};

void pki_state_status(const struct pki_state *st, struct pki_status *out);

/* ---------------------------------------------------------------- wrap
 * The CA key as the store keeps it (pki_wrap.c, docs/store.md): AES-256-GCM
 * under a 32-byte key-encryption key each control-plane member holds in
 * <state_dir>/ca.kek (0600), the AAD binding cluster id and key id. */
#define PKI_KEK_LEN	32
#define PKI_KEK_FILE	"ca.kek"
/* A new random KEK file; -EEXIST if there is one. */
int pki_kek_create(const char *state_dir, struct pki_err *err);
/* The KEK, into OpenSSL's secure heap (free with pki_kek_free); refused
 * unless the file is ours, 0600 and exactly PKI_KEK_LEN bytes. */
int pki_kek_load(const char *state_dir, uint8_t **kek, struct pki_err *err);
void pki_kek_free(uint8_t *kek);	/* wipes; NULL: no-op */
/* *blob: OPENSSL_malloc'd (OPENSSL_free); holds no key bytes in the clear. */
int pki_ca_key_wrap(EVP_PKEY *key, const uint8_t *kek, const char *cluster_id,
		    const char *key_id, uint8_t **blob, size_t *blob_len,
		    struct pki_err *err);
/* -EKEYREJECTED: wrong KEK, cluster or key id, or a tampered blob. */
int pki_ca_key_unwrap(const uint8_t *blob, size_t len, const uint8_t *kek,
		      const char *cluster_id, const char *key_id,
		      EVP_PKEY **key, struct pki_err *err);

#endif /* INE_PKI_H */
