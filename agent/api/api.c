// SPDX-License-Identifier: GPL-2.0
/* api.c — REST server plumbing: Unix socket, peer check, routing, JSON
 * bodies and replies.  The endpoints themselves are in api_routes.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api/api.h"
#include "core/unixsock.h"

#define API_MAX_IDS 4

struct api_route {
	struct api_route *next;
	unsigned int methods;
	char *pattern;
	api_handler_fn fn;
	void *arg;
};

struct api {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *path;
	unsigned int uid;
	size_t body_max;
	const struct api_ops *ops;
	void *ctx;
	struct api_route *routes;
};

struct api_req {
	struct api *api;
	struct evhttp_request *ev;
	enum api_method method;
	uint32_t ids[API_MAX_IDS];
	int n_ids;
	json_t *body;
	json_t *pending;      /* reply prepared for a commit in flight */
	bool replied;
};

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default:  return code < 500 ? "Client Error" : "Server Error";
	}
}

static void req_free(struct api_req *req)
{
	json_decref(req->body);
	json_decref(req->pending);
	free(req);
}

void api_req_reply_text(struct api_req *req, int code, const char *ctype,
			const char *text, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Content-Type", ctype);
	if (buf)
		evbuffer_add(buf, text, len);
	evhttp_send_reply(req->ev, code, reason(code), buf);
	if (buf)
		evbuffer_free(buf);
	req->replied = true;
	req_free(req);
}

void api_req_reply(struct api_req *req, int code, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				    JSON_ENCODE_ANY) : NULL;

	json_decref(body);
	if (!s) {
		api_req_error(req, 500, "internal_error", "out of memory building the reply");
		return;
	}
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);

	if (t) {
		s = t;
		s[n++] = '\n';
		s[n] = '\0';
	}
	api_req_reply_text(req, code, "application/json", s, n);
	free(s);
}

void api_req_error(struct api_req *req, int code, const char *error_code,
		   const char *fmt, ...)
{
	char desc[512];
	json_t *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	j = json_pack("{s:s, s:s}", "error_code", error_code, "description", desc);
	if (!j) {
		static const char oom[] = "{\"error_code\": \"internal_error\", "
					  "\"description\": \"out of memory\"}\n";
		api_req_reply_text(req, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	api_req_reply(req, code, j);
}

enum api_method api_req_method(const struct api_req *req)
{
	return req->method;
}

uint32_t api_req_id(const struct api_req *req, int n)
{
	return n >= 0 && n < req->n_ids ? req->ids[n] : 0;
}

json_t *api_req_body(struct api_req *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	const char *data;

	if (req->body)
		return req->body;
	if (len > req->api->body_max) {
		api_req_error(req, 413, "body_too_large", "request body is %zu bytes; limit %zu",
			      len, req->api->body_max);
		return NULL;
	}
	if (len == 0) {
		api_req_error(req, 400, "invalid_json", "request body: missing (expected JSON)");
		return NULL;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	req->body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req->body) {
		api_req_error(req, 400, "invalid_json", "request body: line %d column %d: %s",
			      jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(req->body)) {
		api_req_error(req, 400, "invalid_json", "request body: expected a JSON object");
		return NULL;
	}
	return req->body;
}

void api_req_commit(struct api_req *req, struct config *next, json_t *ok_body)
{
	char err[CONFIG_ERR_MAX] = "";
	int rc;

	req->pending = ok_body;
	rc = req->api->ops->config_commit(req->api->ctx, req, next, err, sizeof(err));
	if (rc == API_PENDING)
		return;
	api_req_done(req, rc, err);
}

void api_req_set_reply(struct api_req *req, json_t *body)
{
	json_decref(req->pending);
	req->pending = body;
}

void api_req_done(struct api_req *req, int rc, const char *err)
{
	json_t *body;

	if (rc < 0) {
		if (rc == -EINVAL)
			api_req_error(req, 400, "invalid_config", "%s", err && *err ? err : "refused");
		else if (rc == -ENOSYS)
			api_req_error(req, 501, "not_supported", "%s",
				      err && *err ? err : "not supported by this agent");
		else if (rc == -EAGAIN || rc == -ENOTCONN)
			api_req_error(req, 503, "unavailable", "%s",
				      err && *err ? err : strerror(-rc));
		else if (rc == -EEXIST || rc == -EBUSY)
			api_req_error(req, 409, "conflict", "%s", err && *err ? err : strerror(-rc));
		else if (err && *err)	/* names the cause already */
			api_req_error(req, 500, "commit_failed", "%s", err);
		else
			api_req_error(req, 500, "commit_failed", "could not apply the change: %s",
				      strerror(-rc));
		return;
	}
	body = req->pending ? req->pending : json_pack("{s:b}", "ok", 1);
	req->pending = NULL;
	api_req_reply(req, 200, body);
}

/* ---- routing --------------------------------------------------------- */

static bool match(const char *pat, const char *path, uint32_t *ids, int *n_ids)
{
	*n_ids = 0;
	while (*pat && *path) {
		if (*pat == '*') {
			unsigned long long v = 0;
			int digits = 0;

			while (*path >= '0' && *path <= '9' && digits < 11) {
				v = v * 10 + (unsigned long long)(*path - '0');
				path++;
				digits++;
			}
			if (!digits || digits > 10 || v == 0 || v > UINT32_MAX ||
			    *n_ids >= API_MAX_IDS)
				return false;
			ids[(*n_ids)++] = (uint32_t)v;
			pat++;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	/* Tolerate one trailing slash. */
	if (*path == '/' && path[1] == '\0')
		path++;
	return !*pat && !*path;
}

int api_route_add(struct api *api, unsigned int methods, const char *pattern,
		  api_handler_fn fn, void *arg)
{
	struct api_route *r = calloc(1, sizeof(*r));

	if (!r || !(r->pattern = strdup(pattern))) {
		free(r);
		return -ENOMEM;
	}
	r->methods = methods;
	r->fn = fn;
	r->arg = arg;
	r->next = api->routes;
	api->routes = r;
	return 0;
}

static int peer_uid(struct evhttp_request *ev, uid_t *uid)
{
	struct evhttp_connection *c = evhttp_request_get_connection(ev);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return -EPERM;
	*uid = cred.uid;
	return 0;
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct api *api = arg;
	struct api_req *req = calloc(1, sizeof(*req));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct api_route *r;
	bool path_known = false;
	uid_t uid;

	if (!req) {
		evhttp_send_error(ev, 500, "out of memory");
		return;
	}
	req->api = api;
	req->ev = ev;
	if (peer_uid(ev, &uid) || uid != api->uid) {
		api_req_error(req, 403, "forbidden", "the management API is for uid %u only",
			      api->uid);
		return;
	}
	switch (evhttp_request_get_command(ev)) {
	case EVHTTP_REQ_GET: req->method = API_GET; break;
	case EVHTTP_REQ_POST: req->method = API_POST; break;
	case EVHTTP_REQ_PUT: req->method = API_PUT; break;
	case EVHTTP_REQ_DELETE: req->method = API_DELETE; break;
	default:
		api_req_error(req, 405, "method_not_allowed", "method not supported");
		return;
	}
	if (!path || !*path) {
		api_req_error(req, 400, "bad_request", "request has no path");
		return;
	}
	for (r = api->routes; r; r = r->next) {
		if (!match(r->pattern, path, req->ids, &req->n_ids))
			continue;
		path_known = true;
		if (r->methods & req->method) {
			r->fn(req, r->arg);
			return;
		}
	}
	if (path_known)
		api_req_error(req, 405, "method_not_allowed", "%s does not accept this method",
			      path);
	else
		api_req_error(req, 404, "not_found", "no such endpoint: %s", path);
}

/* ---- socket ---------------------------------------------------------- */

static int listen_unix(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if ((rc = unixsock_clear_stale(path, SOCK_STREAM)))
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);  /* born 0600: no window where others may connect */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || chmod(path, 0600) || listen(fd, 64)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int api_create(struct event_base *base, const struct api_options *opt,
	       const struct api_ops *ops, void *ctx, struct api **out)
{
	struct api *api = calloc(1, sizeof(*api));
	int fd = -1, rc = -ENOMEM;

	if (!api)
		return -ENOMEM;
	api->base = base;
	api->ops = ops;
	api->ctx = ctx;
	api->uid = opt ? opt->allowed_uid : 0;
	api->body_max = opt && opt->body_max ? opt->body_max : API_BODY_MAX;
	api->path = strdup(opt && opt->socket_path ? opt->socket_path : API_SOCKET_DEFAULT);
	if (!api->path)
		goto err_free;
	api->http = evhttp_new(base);
	if (!api->http)
		goto err_free;
	/* Hard cap in libevent (plain 413); bodies between body_max and this
	 * get our JSON 413 from api_req_body. */
	evhttp_set_max_body_size(api->http, (ev_ssize_t)api->body_max * 2);
	evhttp_set_max_headers_size(api->http, 16 * 1024);
	/* Read and drop an oversized body before closing, so the client sees
	 * the 413 instead of a reset. */
	evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(api->http, 120);  /* cluster create makes RSA keys */
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(api->http, on_request, api);
	if ((rc = listen_unix(api->path, &fd)))
		goto err_http;
	api->bound = evhttp_accept_socket_with_handle(api->http, fd);
	if (!api->bound) {
		rc = -ENOMEM;
		goto err_sock;
	}
	*out = api;
	return 0;
err_sock:
	close(fd);
	unlink(api->path);
err_http:
	api_destroy(api);
	return rc;
err_free:
	free(api->path);
	free(api);
	return rc;
}

void api_destroy(struct api *api)
{
	struct api_route *r, *n;

	if (!api)
		return;
	if (api->http)
		evhttp_free(api->http);  /* closes the bound socket */
	if (api->bound)
		unlink(api->path);
	for (r = api->routes; r; r = n) {
		n = r->next;
		free(r->pattern);
		free(r);
	}
	free(api->path);
	free(api);
}
