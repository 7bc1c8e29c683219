// SPDX-License-Identifier: GPL-2.0
/* broker_wire.c - the broker's request/reply datagrams and its allowlist
 * (pure functions of their input; see broker.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "dp/broker.h"
#include "dp/route.h"

/* ---- wire format ---- */

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

int broker_req_parse(const uint8_t *buf, size_t len, struct broker_req *r)
{
	size_t nl;

	if (len < BROKER_REQ_FIXED || memcmp(buf, BROKER_MAGIC, 4) ||
	    buf[4] != BROKER_VERSION || (buf[5] != BROKER_OP_CONNECT &&
	    buf[5] != BROKER_OP_LISTEN) || buf[6] || buf[7])
		return -EBADMSG;
	nl = buf[16];
	if (len != BROKER_REQ_FIXED + nl || !route_name_valid((const char *)buf + 17, nl))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->op = buf[5];
	r->node = get32(buf + 8);
	r->db = get32(buf + 12);
	memcpy(r->name, buf + 17, nl);
	return 0;
}

int broker_req_encode(const struct broker_req *r, uint8_t *buf, size_t size)
{
	size_t nl = strnlen(r->name, sizeof(r->name));

	if (!route_name_valid(r->name, nl) || size < BROKER_REQ_FIXED + nl ||
	    (r->op != BROKER_OP_CONNECT && r->op != BROKER_OP_LISTEN))
		return -EINVAL;
	memcpy(buf, BROKER_MAGIC, 4);
	buf[4] = BROKER_VERSION;
	buf[5] = r->op;
	buf[6] = buf[7] = 0;
	put32(buf + 8, r->node);
	put32(buf + 12, r->db);
	buf[16] = (uint8_t)nl;
	memcpy(buf + 17, r->name, nl);
	return (int)(BROKER_REQ_FIXED + nl);
}

int broker_reply_encode(int err, uint8_t mode, const char *msg, uint8_t *buf,
			size_t size)
{
	size_t ml = msg ? strlen(msg) : 0;

	if (ml > 255)
		ml = 255;
	if (size < BROKER_REPLY_FIXED + ml || err > 0)
		return -EINVAL;
	memcpy(buf, BROKER_MAGIC, 4);
	buf[4] = BROKER_VERSION;
	buf[5] = mode;
	put32(buf + 6, (uint32_t)err);
	buf[10] = (uint8_t)ml;
	if (ml)
		memcpy(buf + 11, msg, ml);
	return (int)(BROKER_REPLY_FIXED + ml);
}

/* ---- allowlist ---- */

int broker_allow_parse(const char *s, struct broker_allow *out, size_t max,
		       char *err, size_t errlen)
{
	char *copy = strdup(s ? s : ""), *tok, *save = NULL;
	size_t n = 0;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct broker_allow a = { 0 };
		const char *v = tok;
		char *end;
		unsigned long id;

		if (!strncmp(tok, "gid:", 4)) {
			a.gid = true;
			v = tok + 4;
		} else if (!strncmp(tok, "uid:", 4)) {
			v = tok + 4;
		}
		errno = 0;
		id = strtoul(v, &end, 10);
		if (*v && !*end && !errno && id <= UINT32_MAX) {
			a.id = (uint32_t)id;
		} else if (a.gid) {
			struct group *g = getgrnam(v);

			if (!g) {
				snprintf(err, errlen, "broker allowlist: no group '%s'", v);
				rc = -EINVAL;
				break;
			}
			a.id = g->gr_gid;
		} else {
			struct passwd *p = getpwnam(v);

			if (!p) {
				snprintf(err, errlen, "broker allowlist: no user '%s'", v);
				rc = -EINVAL;
				break;
			}
			a.id = p->pw_uid;
		}
		if (n == max) {
			snprintf(err, errlen, "broker allowlist: more than %zu entries", max);
			rc = -EINVAL;
			break;
		}
		out[n++] = a;
	}
	free(copy);
	return rc ? rc : (int)n;
}

bool broker_allowed(const struct broker_allow *a, size_t n, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (a[i].gid ? a[i].id == gid : a[i].id == uid)
			return true;
	return false;
}
