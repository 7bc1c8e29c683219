// SPDX-License-Identifier: GPL-2.0
/* cpmsg.c — control-plane frames and the schema every message must match.
 * See cpmsg.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp/cpmsg.h"

enum kind { K_STR, K_INT, K_BOOL, K_OBJ, K_ARR };

struct field {
	const char *name;
	enum kind kind;
	bool required;
	long long min, max;	/* K_STR: length; K_INT: value; K_ARR: items */
};

#define PEM_MAX		(64 * 1024)
#define ID_MAX		0x7fffffffLL
#define VER_MAX		(1LL << 53)
#define END		{ NULL, 0, false, 0, 0 }
#define REQ(n, k, lo, hi)	{ n, k, true, lo, hi }
#define OPT(n, k, lo, hi)	{ n, k, false, lo, hi }

static const struct field f_join_hello[] = {
	REQ("cluster_id", K_STR, 36, 36), END };
static const struct field f_join_ca[] = {
	REQ("cluster_id", K_STR, 36, 36), REQ("ca", K_STR, 1, PEM_MAX),
	REQ("node_id", K_INT, 1, 65535), END };
static const struct field f_join_req[] = {
	REQ("secret", K_STR, 64, 64), REQ("node_name", K_STR, 1, 64),
	REQ("address", K_STR, 1, 255), REQ("cp_csr", K_STR, 1, PEM_MAX),
	REQ("dp_csr", K_STR, 1, PEM_MAX), END };
static const struct field f_join_resp[] = {
	REQ("node_id", K_INT, 1, 65535), REQ("primary_id", K_INT, 1, 65535),
	REQ("cp_cert", K_STR, 1, PEM_MAX), REQ("dp_cert", K_STR, 1, PEM_MAX),
	REQ("ca", K_STR, 1, PEM_MAX), REQ("config", K_OBJ, 0, 0),
	OPT("certs", K_OBJ, 0, 0), END };
static const struct field f_hello[] = {
	REQ("cluster_id", K_STR, 36, 36), REQ("node_id", K_INT, 1, 65535),
	REQ("version", K_INT, 0, VER_MAX),
	REQ("certs_version", K_INT, 0, VER_MAX), END };
static const struct field f_config[] = {
	REQ("version", K_INT, 1, VER_MAX), REQ("config", K_OBJ, 0, 0), END };
static const struct field f_certs[] = {
	REQ("version", K_INT, 1, VER_MAX), REQ("certs", K_OBJ, 0, 0), END };
static const struct field f_propose[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("base_version", K_INT, 0, VER_MAX),
	REQ("config", K_OBJ, 0, 0), END };
static const struct field f_certs_propose[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("base_version", K_INT, 0, VER_MAX),
	REQ("certs", K_OBJ, 0, 0), END };
static const struct field f_status_req[] = {
	REQ("id", K_INT, 0, ID_MAX), END };
static const struct field f_status[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("status", K_OBJ, 0, 0), END };
static const struct field f_csr[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("plane", K_STR, 2, 2),
	REQ("csr", K_STR, 1, PEM_MAX), END };
static const struct field f_cert[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("plane", K_STR, 2, 2),
	REQ("cert", K_STR, 1, PEM_MAX), END };
static const struct field f_result[] = {
	REQ("id", K_INT, 0, ID_MAX), REQ("ok", K_BOOL, 0, 0),
	OPT("version", K_INT, 0, VER_MAX), OPT("status", K_INT, 100, 599),
	OPT("error_code", K_STR, 1, 64), OPT("description", K_STR, 0, 512),
	END };
static const struct field f_empty[] = { END };

static const struct {
	const char *name;
	const struct field *fields;
} types[__CPMSG_MAX] = {
	[CPMSG_JOIN_HELLO]	= { "join_hello", f_join_hello },
	[CPMSG_JOIN_CA]		= { "join_ca", f_join_ca },
	[CPMSG_JOIN_REQ]	= { "join_req", f_join_req },
	[CPMSG_JOIN_RESP]	= { "join_resp", f_join_resp },
	[CPMSG_HELLO]		= { "hello", f_hello },
	[CPMSG_CONFIG]		= { "config", f_config },
	[CPMSG_CERTS]		= { "certs", f_certs },
	[CPMSG_PROPOSE]		= { "propose", f_propose },
	[CPMSG_CERTS_PROPOSE]	= { "certs_propose", f_certs_propose },
	[CPMSG_STATUS_REQ]	= { "status_req", f_status_req },
	[CPMSG_STATUS]		= { "status", f_status },
	[CPMSG_CSR]		= { "csr", f_csr },
	[CPMSG_CERT]		= { "cert", f_cert },
	[CPMSG_RESULT]		= { "result", f_result },
	[CPMSG_PING]		= { "ping", f_empty },
	[CPMSG_PONG]		= { "pong", f_empty },
};

const char *cpmsg_type_str(enum cpmsg_type t)
{
	if ((int)t <= CPMSG_NONE || t >= __CPMSG_MAX)
		return "?";
	return types[t].name;
}

#define FAIL(...) do { if (err) snprintf(err, errlen, __VA_ARGS__); \
		       return -EBADMSG; } while (0)

static int check_field(const struct field *f, const json_t *v, char *err,
		       size_t errlen)
{
	long long n;

	switch (f->kind) {
	case K_STR:
		if (!json_is_string(v))
			FAIL("field \"%s\" must be a string", f->name);
		n = (long long)json_string_length(v);
		if (n < f->min || n > f->max)
			FAIL("field \"%s\" has length %lld, allowed %lld..%lld",
			     f->name, n, f->min, f->max);
		break;
	case K_INT:
		if (!json_is_integer(v))
			FAIL("field \"%s\" must be an integer", f->name);
		n = json_integer_value(v);
		if (n < f->min || n > f->max)
			FAIL("field \"%s\" is %lld, allowed %lld..%lld",
			     f->name, n, f->min, f->max);
		break;
	case K_BOOL:
		if (!json_is_boolean(v))
			FAIL("field \"%s\" must be true or false", f->name);
		break;
	case K_OBJ:
		if (!json_is_object(v))
			FAIL("field \"%s\" must be an object", f->name);
		break;
	case K_ARR:
		if (!json_is_array(v))
			FAIL("field \"%s\" must be an array", f->name);
		n = (long long)json_array_size(v);
		if (n < f->min || n > f->max)
			FAIL("field \"%s\" has %lld items, allowed %lld..%lld",
			     f->name, n, f->min, f->max);
		break;
	}
	return 0;
}

int cpmsg_validate(const json_t *msg, char *err, size_t errlen)
{
	const struct field *fields, *f;
	const char *tname, *key;
	const json_t *t, *v;
	int type = CPMSG_NONE;
	int ret;

	if (!json_is_object(msg))
		FAIL("message is not a JSON object");
	t = json_object_get(msg, "t");
	if (!json_is_string(t))
		FAIL("message has no type (\"t\")");
	tname = json_string_value(t);
	for (int i = CPMSG_NONE + 1; i < __CPMSG_MAX; i++)
		if (strcmp(types[i].name, tname) == 0)
			type = i;
	if (type == CPMSG_NONE)
		FAIL("unknown message type \"%.32s\"", tname);
	fields = types[type].fields;

	/* every present field known and well-formed ... */
	json_object_foreach((json_t *)msg, key, v) {
		if (strcmp(key, "t") == 0)
			continue;
		for (f = fields; f->name; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (!f->name)
			FAIL("%s: unknown field \"%.32s\"", tname, key);
		ret = check_field(f, v, err, errlen);
		if (ret < 0)
			return ret;
	}
	/* ... and every required one present */
	for (f = fields; f->name; f++)
		if (f->required && !json_object_get(msg, f->name))
			FAIL("%s: missing field \"%s\"", tname, f->name);
	return type;
}

int cpmsg_encode(const json_t *msg, uint8_t **out, size_t *outlen)
{
	size_t len;
	uint8_t *buf;

	if (cpmsg_validate(msg, NULL, 0) < 0)
		return -EBADMSG;
	len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (len == 0)
		return -EBADMSG;
	if (len > CPMSG_MAX)
		return -EMSGSIZE;
	buf = malloc(CPMSG_HDR + len);
	if (!buf)
		return -ENOMEM;
	if (json_dumpb(msg, (char *)buf + CPMSG_HDR, len, JSON_COMPACT) != len) {
		free(buf);
		return -EBADMSG;
	}
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	*out = buf;
	*outlen = CPMSG_HDR + len;
	return 0;
}

int cpmsg_decode(const uint8_t *buf, size_t avail, size_t *consumed,
		 json_t **msg, int *type, char *err, size_t errlen)
{
	json_error_t jerr;
	uint32_t len;
	json_t *m;
	int ret;

	*msg = NULL;
	if (avail < CPMSG_HDR)
		return 0;
	len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	      (uint32_t)buf[2] << 8 | buf[3];
	if (len == 0 || len > CPMSG_MAX) {
		if (err)
			snprintf(err, errlen, "frame length %u out of range 1..%u",
				 len, CPMSG_MAX);
		return -EMSGSIZE;
	}
	if (avail - CPMSG_HDR < len)
		return 0;
	m = json_loadb((const char *)buf + CPMSG_HDR, len,
		       JSON_REJECT_DUPLICATES, &jerr);
	if (!m) {
		if (err)
			snprintf(err, errlen, "invalid JSON at byte %d: %s",
				 jerr.position, jerr.text);
		return -EBADMSG;
	}
	ret = cpmsg_validate(m, err, errlen);
	if (ret < 0) {
		json_decref(m);
		return ret;
	}
	*msg = m;
	*type = ret;
	*consumed = CPMSG_HDR + len;
	return 1;
}

json_t *cpmsg_pack(enum cpmsg_type t, const char *fmt, ...)
{
	json_error_t jerr;
	json_t *m;
	va_list ap;

	if ((int)t <= CPMSG_NONE || t >= __CPMSG_MAX)
		return NULL;
	va_start(ap, fmt);
	m = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (!m)
		return NULL;
	if (json_object_set_new(m, "t", json_string(types[t].name)) < 0 ||
	    cpmsg_validate(m, NULL, 0) != (int)t) {
		json_decref(m);
		return NULL;
	}
	return m;
}
