/* The CLI's side of the daemon's HTTP API: a small libcurl wrapper (GET with timeouts, TLS and
 * basic-auth options) plus the shared `--server/--cacert/--insecure/--user/--timeout` flags and
 * the one-line failure messages every verb prints. Only this module talks HTTP in the CLI. */
#ifndef CLIENT_H
#define CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

#define CLIENT_ENV_SERVER "PYROMETER_SERVER"
#define CLIENT_STR_(x) #x
#define CLIENT_STR(x) CLIENT_STR_(x)
/* The daemon's default listen address (include/config.h). */
#define CLIENT_DEFAULT_SERVER "http://127.0.0.1:" CLIENT_STR(CONFIG_DEFAULT_PORT)
#define CLIENT_CONNECT_TIMEOUT_S 2
#define CLIENT_DEFAULT_TIMEOUT_S 30
#define CLIENT_MAX_BODY (512u << 20) /* bigger answers fail with -EFBIG */

/* Called about once a second (and more often) while a request is in flight. */
typedef void (*client_progress_fn)(double elapsed_s, void *ctx);

struct client_opts {
	const char *server;   /* base URL; NULL: $PYROMETER_SERVER, else CLIENT_DEFAULT_SERVER */
	const char *cacert;   /* CA bundle (PEM) for an https:// server */
	const char *user;     /* "USER:PASS" for basic auth */
	bool insecure;        /* skip TLS certificate and host name checks */
	long timeout_s;       /* whole request; 0: CLIENT_DEFAULT_TIMEOUT_S */
	bool timeout_set;     /* --timeout was given (verbs that wait long keep it as is) */
	client_progress_fn progress;
	void *progress_ctx;
};

struct client_resp {
	long status;          /* HTTP status */
	char *body;           /* NUL-terminated (the NUL is not counted in len) */
	size_t len;
	char *content_type;   /* NULL if none */
};

/* Why a request got no HTTP answer. */
enum client_fail {
	CLIENT_OK = 0,
	CLIENT_UNREACHABLE,   /* connect refused, no route, resolve failure, connect timeout */
	CLIENT_TRANSFER,      /* reached, but TLS, timeout or the transfer failed */
};

struct client;

/* Creates a client for o->server (copied; "host:port" gets "http://", a trailing '/' goes).
 * Returns 0 or -EINVAL (bad URL scheme) / -ENOMEM. */
int client_new(const struct client_opts *o, struct client **out);
void client_free(struct client *c);
/* The normalized base URL. */
const char *client_server(const struct client *c);
/* Overrides the whole-request timeout (seconds, 0 = none). */
void client_set_timeout(struct client *c, long timeout_s);

/* GET base URL + path (path starts with '/', query already escaped). Returns 0 when the daemon
 * answered, whatever the status (r filled, free with client_resp_free); else -errno (-ECONNREFUSED,
 * -ETIMEDOUT, -EFBIG, -EPROTO, ...) with *fail saying which kind and reason (curl's message) in
 * `reason`. */
int client_get(struct client *c, const char *path, struct client_resp *r, enum client_fail *fail,
	       char *reason, size_t reasonlen);
void client_resp_free(struct client_resp *r);
/* Escapes a query-parameter value into a malloc'd string; NULL on ENOMEM. */
char *client_escape(struct client *c, const char *s);

/* ---- messages (pure) ---------------------------------------------------------------------- */
/* "cannot reach pyrometerd at URL: REASON (is it running?)" or, for CLIENT_TRANSFER,
 * "request to pyrometerd at URL failed: REASON", without "pyrometer: " and newline. */
void client_fail_msg(enum client_fail fail, const char *server, const char *reason, char *out,
		     size_t outlen);
/* The text of an error answer: the "error" string of a JSON body {"error": "..."}, else "pyrometerd
 * answered HTTP STATUS" (plus the first line of a short text body). */
void client_error_msg(const struct client_resp *r, char *out, size_t outlen);

/* ---- CLI edge helpers (print one line on stderr) ----------------------------------------------- */
/* Options every daemon verb accepts; splice CLIENT_LONG_OPTIONS into a getopt_long table. */
enum {
	CLIENT_OPT_SERVER = 0x1000,
	CLIENT_OPT_CACERT,
	CLIENT_OPT_INSECURE,
	CLIENT_OPT_USER,
	CLIENT_OPT_TIMEOUT,
};
#define CLIENT_LONG_OPTIONS                                                  \
	{ "server", required_argument, NULL, CLIENT_OPT_SERVER },           \
	{ "cacert", required_argument, NULL, CLIENT_OPT_CACERT },           \
	{ "insecure", no_argument, NULL, CLIENT_OPT_INSECURE },             \
	{ "user", required_argument, NULL, CLIENT_OPT_USER },               \
	{ "timeout", required_argument, NULL, CLIENT_OPT_TIMEOUT }
#define CLIENT_USAGE                                                                              \
	"      --server URL       pyrometerd to ask (default $" CLIENT_ENV_SERVER " or " CLIENT_DEFAULT_SERVER ")\n" \
	"      --cacert FILE      CA certificate (PEM) to verify an https:// server\n"                \
	"      --insecure         do not verify the server's TLS certificate\n"                       \
	"      --user USER:PASS   basic authentication\n"                                            \
	"      --timeout S        give up on a request after S seconds, 1..86400\n"

/* Handles getopt code `opt` if it is a client option: returns 1 (consumed), 0 (not ours) or -EINVAL
 * after printing "pyrometer: ..." for a bad value. */
int client_opt(struct client_opts *o, int opt, const char *arg);
/* client_new with a printed message on failure; returns NULL then. */
struct client *client_open(const struct client_opts *o);
/* GET path and expect 200 with a JSON body. Returns 0 with *out (caller puts it) and, if body is
 * not NULL, the raw text (caller frees); else prints the one failure line and returns 1. */
int client_get_json(struct client *c, const char *path, json_object **out, char **body);
/* Prints the one line for a failed client_get (or a non-200 answer when r is not NULL). */
void client_report(struct client *c, enum client_fail fail, const char *reason,
		   const struct client_resp *r);

#endif
