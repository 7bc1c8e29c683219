/* SPDX-License-Identifier: GPL-2.0 */
/* token.h — cluster join tokens.
 *
 * A token is what `inectl cluster join` is given: "ine1." followed by the
 * base64url (no padding) of a fixed binary layout:
 *
 *   u8    version (1)
 *   u8[16] cluster id (UUID, binary)
 *   be64  expiry (unix seconds)
 *   u8[32] SHA-256 of the cluster CA certificate's SubjectPublicKeyInfo
 *   u8[32] secret (random)
 *   u8    n = length of the primary's address
 *   u8[n] "host:port" / "[v6]:port" (printable ASCII, port 1..65535)
 *
 * The CA pin lets a node with no CA yet authenticate the primary before it
 * shows the secret.  The primary keeps only SHA-256(secret), the expiry and
 * a used flag (struct token_store), so a stolen state file cannot forge a
 * token, and a token works once.
 *
 * Every int function returns 0 (or a length) or a negative errno.
 */
#ifndef INE_TOKEN_H
#define INE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOKEN_PREFIX		"ine1."
#define TOKEN_SECRET_LEN	32
#define TOKEN_PIN_LEN		32
#define TOKEN_ADDR_MAX		255
#define TOKEN_TTL_DEFAULT	(15 * 60)	/* 15 minutes */
#define TOKEN_TTL_MAX		(24 * 3600)	/* a day at most */
/* Longest encoded token, with the NUL: prefix + base64 of 90+255 bytes. */
#define TOKEN_STR_MAX		(sizeof(TOKEN_PREFIX) + 4 * ((90 + TOKEN_ADDR_MAX + 2) / 3) + 1)
/* Most tokens outstanding (unexpired or remembered as used) at once. */
#define TOKEN_STORE_MAX		256

struct token {
	char cluster_id[37];		/* canonical lower-case UUID */
	char primary[TOKEN_ADDR_MAX + 1];
	uint8_t ca_pin[TOKEN_PIN_LEN];
	uint8_t secret[TOKEN_SECRET_LEN];
	time_t expires;
};

/* Encode into out (outlen ≥ TOKEN_STR_MAX is always enough); returns the
 * string length.  -EINVAL on a bad cluster id or address. */
int token_encode(const struct token *t, char *out, size_t outlen);
/* Strict decode: exact length, known version, valid UUID and address.
 * -EINVAL (not a token / malformed), -EPROTONOSUPPORT (other version). */
int token_decode(const char *s, struct token *t);
/* Wipe the secret. */
void token_wipe(struct token *t);

/* "host:port" check and split; host without brackets.  -EINVAL if bad. */
int token_addr_split(const char *addr, char *host, size_t hostlen,
		     uint16_t *port);

/* ---- the primary's record of tokens it issued ---- */
struct token_store;

/* path: JSON file the store lives in (NULL: memory only).  A missing file
 * is an empty store; a malformed one is an error (-EBADMSG). */
int token_store_open(const char *path, struct token_store **out);
void token_store_free(struct token_store *s);
/* Fill t->secret with fresh random bytes and t->expires = now + ttl, and
 * remember its hash (written to disk before returning).  ttl 0 means
 * TOKEN_TTL_DEFAULT; over TOKEN_TTL_MAX or negative is -ERANGE. */
int token_store_issue(struct token_store *s, struct token *t, time_t now,
		      long ttl);
/* Check a presented secret: 0 if valid now, else -EACCES (unknown: wrong
 * token or another cluster's), -EKEYEXPIRED (expired), -EALREADY (used).
 * Changes nothing. */
int token_store_check(const struct token_store *s,
		      const uint8_t secret[TOKEN_SECRET_LEN], time_t now);
/* Check, then mark used (persisted before returning 0). */
int token_store_consume(struct token_store *s,
			const uint8_t secret[TOKEN_SECRET_LEN], time_t now);
/* Number of tokens still usable at now. */
size_t token_store_active(const struct token_store *s, time_t now);
/* A sentence for a token_store_check() error. */
const char *token_strerror(int err);

#endif /* INE_TOKEN_H */
