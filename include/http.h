/* The HTTP server shell on libmicrohttpd: a routing table of (method, path, handler), request
 * and connection limits, optional TLS (GnuTLS) and basic auth. Handlers see a small request
 * struct and fill a response; the shell turns unknown paths into 404, other methods into 405,
 * oversized bodies into 413 and missing credentials into 401, each with a JSON
 * {"error": "..."} body. The only module that touches sockets.
 *
 * Threads: one listening thread plus one thread per connection (bounded by max_connections),
 * so a handler may block (a profile capture of N seconds) without stalling other clients.
 * Handlers therefore run concurrently and must lock what they share. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters allowed by http_param_str for names such as services ("a.service",
 * "gunicorn:app", "container:3f2a9c1d8e7b"). */
#define HTTP_CHARSET_NAME "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._:/+-"
#define HTTP_CHARSET_WORD "abcdefghijklmnopqrstuvwxyz0123456789_"
#define HTTP_JSON "application/json"

struct http_request {
	const char *method;  /* as sent; HEAD is routed as GET and answered without a body */
	const char *path;    /* decoded path without the query */
	const char *subpath; /* what follows the route's prefix ("" for exact routes) */
	const char *body;    /* request body (NUL-terminated), NULL if none */
	size_t body_len;
	const char *user;    /* the authenticated user, NULL without auth */
	void *impl;          /* the shell's (MHD connection) */
};

struct http_response {
	int status;               /* default 200 */
	const char *content_type; /* a static string; default "application/json" */
	char *body;               /* owned by the response; see http_body_* */
	size_t len, cap;
};

/* Returns 0 with resp filled, or -errno: the shell then answers 500 {"error": ...}. */
typedef int (*http_handler_fn)(const struct http_request *req, struct http_response *resp, void *ctx);

enum http_route_flags {
	HTTP_ROUTE_PUBLIC = 1, /* served without basic auth (liveness probes: /healthz) */
};

struct http_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* exact path, or a prefix when it ends in '/' ("/api/v1/processes/") */
	http_handler_fn fn;
	void *ctx;
	unsigned flags;     /* enum http_route_flags */
};

struct http_opts {
	const char *host;               /* IPv4 or IPv6 literal; NULL = 127.0.0.1 */
	uint16_t port;                  /* 0 = any free port (see http_port) */
	unsigned max_connections;       /* default 64 */
	unsigned max_connections_per_ip;/* default 16 */
	unsigned timeout_seconds;       /* idle connections are closed; default 15 */
	size_t max_header_bytes;        /* request line + headers; default 65536; larger: 431 */
	size_t max_body_bytes;          /* default 65536; larger: 413 */
	const char *tls_cert_file;      /* PEM; with tls_key_file turns on HTTPS */
	const char *tls_key_file;
	const char *auth_user;          /* with auth_hash turns on basic auth */
	const char *auth_hash;          /* crypt(3) hash (bcrypt, sha512crypt, yescrypt) */
	const char *realm;              /* default "pyrometer" */
};

struct http_stats {
	uint64_t requests;       /* answered by a handler or by the shell */
	uint64_t responses_2xx, responses_4xx, responses_5xx;
	uint64_t auth_failures;  /* 401s */
	uint64_t too_large;      /* 413s */
	uint64_t server_errors;  /* libmicrohttpd's own complaints (malformed requests, resets) */
};

struct http_server;

/* Starts serving routes[0..n) (the table must outlive the server). Routes are matched by
 * longest path; several methods may share a path. Returns 0, or -errno with one line in err
 * ("Failed to listen on 127.0.0.1:10164: Address already in use", "TLS: ...", ...):
 * -EADDRINUSE/-EACCES when the address cannot be bound, -ENOTSUP if libmicrohttpd lacks TLS,
 * -EINVAL for bad options, -ENOENT/-EACCES for unreadable TLS files. */
int http_start(const struct http_opts *o, const struct http_route *routes, size_t n,
	       struct http_server **out, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *s);
/* Stops accepting, waits for running handlers, frees. Accepts NULL. */
void http_stop(struct http_server *s);
void http_get_stats(const struct http_server *s, struct http_stats *st);

/* ---- for handlers ---------------------------------------------------------------------- */
/* The value of query parameter name; NULL if absent (or given without '='). */
const char *http_param(const struct http_request *r, const char *name);
/* A decimal integer parameter in [min, max]: 0, -ENOENT if absent, -EINVAL if malformed or out
 * of range (e.g. "12x", "", "+1", " 1", "99999999999999999999"). */
int http_param_int(const struct http_request *r, const char *name, long min, long max, long *out);
/* A string parameter of 1..maxlen characters from charset: 0, -ENOENT, -EINVAL. */
int http_param_str(const struct http_request *r, const char *name, const char *charset,
		   size_t maxlen, const char **out);
/* -EINVAL (and the offending name in *bad) if the query has a parameter not in allowed
 * (NULL-terminated) or one parameter twice; 0 otherwise. */
int http_params_only(const struct http_request *r, const char *const *allowed, const char **bad);
/* 400 {"error": "missing parameter 'NAME'"} for -ENOENT, "invalid parameter 'NAME'" otherwise.
 * Returns 0 so a handler can `return http_bad_param(resp, "pid", rc);`. */
int http_bad_param(struct http_response *resp, const char *name, int rc);

/* Sets status and a JSON {"error": "<message>"} body (message escaped). Returns 0 (-ENOMEM). */
int http_error(struct http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends to the body. Return 0 or -ENOMEM. */
int http_body_append(struct http_response *resp, const void *data, size_t len);
int http_body_printf(struct http_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Replaces the body with buf (malloc'd; the response frees it). */
void http_body_set(struct http_response *resp, char *buf, size_t len);
/* A ready-made handler: 200 {"status":"ok"}. Register it with HTTP_ROUTE_PUBLIC. */
int http_healthz(const struct http_request *req, struct http_response *resp, void *ctx);

/* ---- pure helpers, exposed for tests ----------------------------------------------------- */
int http_parse_int(const char *s, long min, long max, long *out);
bool http_str_ok(const char *s, const char *charset, size_t maxlen);
/* 0 if password matches the crypt(3) hash, -EACCES if not, -EINVAL for an unusable hash. */
int http_password_check(const char *hash, const char *password);
/* Route lookup as the server does it: the matching route for (method, path) or NULL, with
 * *path_known telling 404 (false) from 405 (true). */
const struct http_route *http_route_find(const struct http_route *routes, size_t n,
					 const char *method, const char *path, bool *path_known);

#endif
