/* SPDX-License-Identifier: GPL-2.0 */
/* api.h — the management REST API: HTTP/1.1 + JSON on a local Unix socket.
 *
 * Root only: the socket is created mode 0600 and every request's peer
 * credentials (SO_PEERCRED) are checked; any uid but the allowed one (0)
 * gets 403.  libevent's evhttp does the HTTP, jansson the JSON.
 *
 * The API owns no state.  It reads the live configuration through
 * ops->config_get, and every write builds a complete new configuration and
 * hands it to ops->config_commit — the single place writes go, which the
 * control plane may redirect to the cluster's primary node (possibly
 * asynchronously: return API_PENDING and call api_req_done later).
 *
 * Errors are {"error_code": "...", "description": "..."} with a 4xx/5xx
 * status; a refused request changes nothing.  Other parts of the agent add
 * endpoints with api_route_add (later registrations win, so a part can
 * replace a default handler such as POST /v1/cluster).
 */
#ifndef INE_API_H
#define INE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include <event2/event.h>

#include "core/config.h"

#define API_SOCKET_DEFAULT "/run/ine/api.sock"
#define API_BODY_MAX       (256 * 1024)  /* bodies larger get 413 */
#define API_PENDING        1             /* op will call api_req_done */

struct api;
struct api_req;

enum api_method {
	API_GET = 1 << 0,
	API_POST = 1 << 1,
	API_PUT = 1 << 2,
	API_DELETE = 1 << 3,
};

/* One uploaded certificate set; NULL where a plane was not given. */
struct api_cert_upload {
	const char *certificate[CONFIG_PLANE_N];   /* PEM leaf + chain */
	const char *key[CONFIG_PLANE_N];           /* PEM private key */
};

struct api_ops {
	/* The live configuration; borrowed for the duration of one handler. */
	const struct config *(*config_get)(void *ctx);
	/* Takes ownership of `next` (validated, version not yet bumped).
	 * 0: applied, reply now.  API_PENDING: api_req_done follows.
	 * <0: refused; err says why (409 unless -EINVAL → 400). */
	int (*config_commit)(void *ctx, struct api_req *req, struct config *next,
			     char *err, size_t errlen);
	/* PUT /v1/cluster/certificates after the body parsed; -EINVAL with err
	 * for a certificate PKI refuses (400), -ENOSYS if unsupported (501). */
	int (*certs_set)(void *ctx, struct api_req *req, const struct api_cert_upload *up,
			 char *err, size_t errlen);
	int (*certs_rotate)(void *ctx, struct api_req *req, char *err, size_t errlen);
	/* GET /v1/cluster/certificates: per plane subject, serial, not_after,
	 * mode — never keys.  New reference. */
	json_t *(*certs_get)(void *ctx);
	/* This node's status object (sessions, offload, certificates). */
	json_t *(*status_local)(void *ctx);
	/* Optional: other nodes' status objects (array), added by the control
	 * plane.  NULL or an empty array for a single node. */
	json_t *(*status_peers)(void *ctx);
	json_t *(*alerts_get)(void *ctx);          /* array */
	/* Prometheus text exposition for GET /metrics. */
	int (*metrics_write)(void *ctx, FILE *out);
	/* Default POST /v1/cluster (single node; the control plane replaces it). */
	int (*cluster_create)(void *ctx, struct api_req *req, const char *name,
			      const char *node_name, const char *address,
			      char *err, size_t errlen);
};

typedef void (*api_handler_fn)(struct api_req *req, void *arg);

struct api_options {
	const char *socket_path;   /* default API_SOCKET_DEFAULT */
	unsigned int allowed_uid;  /* 0 */
	size_t body_max;           /* default API_BODY_MAX */
};

int api_create(struct event_base *base, const struct api_options *opt,
	       const struct api_ops *ops, void *ctx, struct api **out);
void api_destroy(struct api *api);  /* closes and unlinks the socket */

/* Add an endpoint.  `pattern` is a path where "*" matches one segment of
 * 1..10 digits (an id), e.g. "/v1/bdbs/ *" without the space. */
int api_route_add(struct api *api, unsigned int methods, const char *pattern,
		  api_handler_fn fn, void *arg);

/* For handlers. */
enum api_method api_req_method(const struct api_req *req);
uint32_t api_req_id(const struct api_req *req, int n);  /* n-th "*" */
/* Parsed body: NULL after an error reply was already sent (bad JSON). */
json_t *api_req_body(struct api_req *req);
void api_req_reply(struct api_req *req, int code, json_t *body); /* steals */
void api_req_reply_text(struct api_req *req, int code, const char *ctype,
			const char *text, size_t len);
void api_req_error(struct api_req *req, int code, const char *error_code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Commit `next` through ops->config_commit; on success reply `ok_body`
 * (stolen).  Handles errors and the pending case. */
void api_req_commit(struct api_req *req, struct config *next, json_t *ok_body);
/* Set the body a later successful api_req_done sends (stolen). */
void api_req_set_reply(struct api_req *req, json_t *body);
/* Completion of an API_PENDING op: rc 0 sends the prepared reply (or
 * {"ok":true}); rc < 0 sends an error naming `err`. */
void api_req_done(struct api_req *req, int rc, const char *err);

#endif /* INE_API_H */
