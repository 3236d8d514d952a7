/* HTTP server shell on libmicrohttpd: binds the listening socket, enforces connection, size and
 * time limits, TLS and basic auth, routes requests to handlers and answers every refusal with a
 * JSON error. Handlers run on MHD's per-connection threads. See include/http.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <microhttpd.h>

#include "http.h"

#define TLS_FILE_MAX   (1 << 20)
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define THREAD_STACK   (512 * 1024)

struct http_server {
	struct MHD_Daemon *d;
	const struct http_route *routes;
	size_t nroutes;
	size_t max_body;
	uint16_t port;
	char *cert_pem, *key_pem;
	char *auth_user, *auth_hash, *realm;
	pthread_mutex_t lock;        /* guards auth_cache and log_msg */
	unsigned char auth_cache[32]; /* SHA-256 of the last accepted "user\0password" */
	bool auth_cached;
	char log_msg[256];           /* MHD's last complaint, for start-up errors */
	struct http_stats st;        /* updated with __atomic builtins */
};

/* Per-request state, from the headers to the completion callback. */
struct req_state {
	const struct http_route *route;
	bool path_known;
	bool answered;  /* a refusal was queued on the first call */
	bool too_large;
	char *body;
	size_t len;
	char *user;
};

#define STAT_INC(s, field) __atomic_fetch_add(&(s)->st.field, 1, __ATOMIC_RELAXED)

/* ---- pure helpers ---------------------------------------------------------------------------- */

int http_parse_int(const char *s, long min, long max, long *out)
{
	const char *p = s;
	long v = 0;
	bool neg = false;

	if (!s || !*s)
		return -EINVAL;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!*p || strlen(p) > 18 || strspn(p, "0123456789") != strlen(p))
		return -EINVAL;
	for (; *p; p++)
		v = v * 10 + (*p - '0');
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool http_str_ok(const char *s, const char *charset, size_t maxlen)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= maxlen && strspn(s, charset) == n;
}

static bool same_bytes(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}

int http_password_check(const char *hash, const char *password)
{
	struct crypt_data *cd;
	const char *out;
	int rc = -EACCES;

	if (!hash || !*hash || hash[0] != '$' || !password)
		return -EINVAL;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	if (!out || out[0] == '*')
		rc = -EINVAL;
	else if (strlen(out) == strlen(hash) && same_bytes(out, hash, strlen(hash)))
		rc = 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

static bool path_matches(const char *route, const char *path, size_t *len)
{
	size_t n = strlen(route);

	*len = n;
	if (n && route[n - 1] == '/')
		return strncmp(path, route, n) == 0;
	return strcmp(path, route) == 0;
}

const struct http_route *http_route_find(const struct http_route *routes, size_t n,
					 const char *method, const char *path, bool *path_known)
{
	const struct http_route *best = NULL;
	size_t best_len = 0;
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	*path_known = false;
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (!path_matches(routes[i].path, path, &len))
			continue;
		*path_known = true;
		if (strcmp(routes[i].method, m) == 0 && (!best || len > best_len)) {
			best = &routes[i];
			best_len = len;
		}
	}
	return best;
}

/* ---- responses ---------------------------------------------------------------------------- */

int http_body_append(struct http_response *r, const void *data, size_t len)
{
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		char *nb;

		while (cap < r->len + len + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (!nb)
			return -ENOMEM;
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

int http_body_printf(struct http_response *r, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	rc = http_body_append(r, s, (size_t)n);
	free(s);
	return rc;
}

void http_body_set(struct http_response *r, char *buf, size_t len)
{
	free(r->body);
	r->body = buf;
	r->len = len;
	r->cap = len;
}

static int error_va(struct http_response *r, int status, const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char msg[512];
	const char *txt;
	int rc = -ENOMEM;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	r->status = status;
	r->content_type = HTTP_JSON;
	r->len = 0;
	if (o && json_object_object_add(o, "error", json_object_new_string(msg)) == 0) {
		txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		rc = txt ? http_body_append(r, txt, strlen(txt)) : -ENOMEM;
	}
	json_object_put(o);
	return rc;
}

int http_error(struct http_response *r, int status, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = error_va(r, status, fmt, ap);
	va_end(ap);
	return rc;
}

int http_bad_param(struct http_response *r, const char *name, int rc)
{
	http_error(r, 400, rc == -ENOENT ? "missing parameter '%s'" : "invalid parameter '%s'", name);
	return 0;
}

int http_healthz(const struct http_request *req, struct http_response *resp, void *ctx)
{
	resp->status = 200;
	resp->content_type = HTTP_JSON;
	return http_body_append(resp, "{\"status\":\"ok\"}", 15);
}

/* ---- parameters ---------------------------------------------------------------------------- */

const char *http_param(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->impl, MHD_GET_ARGUMENT_KIND, name);
}

/* 0 with *val (NULL for "?name" without '='), or -ENOENT. */
static int lookup(const struct http_request *r, const char *name, const char **val)
{
	*val = NULL;
	if (MHD_lookup_connection_value_n(r->impl, MHD_GET_ARGUMENT_KIND, name, strlen(name), val,
					  NULL) != MHD_YES)
		return -ENOENT;
	return 0;
}

int http_param_int(const struct http_request *r, const char *name, long min, long max, long *out)
{
	const char *v;

	if (lookup(r, name, &v) < 0)
		return -ENOENT;
	return v ? http_parse_int(v, min, max, out) : -EINVAL;
}

int http_param_str(const struct http_request *r, const char *name, const char *charset,
		   size_t maxlen, const char **out)
{
	const char *v;

	if (lookup(r, name, &v) < 0)
		return -ENOENT;
	if (!v || !http_str_ok(v, charset, maxlen))
		return -EINVAL;
	*out = v;
	return 0;
}

struct params_check {
	const char *const *allowed;
	const char *bad;
	const char *seen[32];
	size_t nseen;
};

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct params_check *pc = cls;
	const char *const *a;

	for (a = pc->allowed; *a && strcmp(*a, key) != 0; a++)
		;
	if (!*a)
		goto bad;
	for (size_t i = 0; i < pc->nseen; i++)
		if (pc->seen[i] == *a)
			goto bad; /* given twice: ambiguous */
	if (pc->nseen < sizeof(pc->seen) / sizeof(pc->seen[0]))
		pc->seen[pc->nseen++] = *a;
	return MHD_YES;
bad:
	pc->bad = key;
	return MHD_NO;
}

int http_params_only(const struct http_request *r, const char *const *allowed, const char **bad)
{
	struct params_check pc = { .allowed = allowed };

	MHD_get_connection_values(r->impl, MHD_GET_ARGUMENT_KIND, check_param, &pc);
	if (pc.bad) {
		if (bad)
			*bad = pc.bad;
		return -EINVAL;
	}
	return 0;
}

/* ---- the MHD side -------------------------------------------------------------------------- */

static void count_status(struct http_server *s, unsigned status)
{
	STAT_INC(s, requests);
	if (status < 300)
		STAT_INC(s, responses_2xx);
	else if (status >= 500)
		STAT_INC(s, responses_5xx);
	else if (status >= 400)
		STAT_INC(s, responses_4xx);
	if (status == 401)
		STAT_INC(s, auth_failures);
	if (status == 413)
		STAT_INC(s, too_large);
}

/* Queues resp (taking its body) on the connection. */
static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *c,
				     struct http_response *resp, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->body)
		r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(resp->body);
		resp->body = NULL;
		return MHD_NO;
	}
	resp->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type ? resp->content_type : HTTP_JSON);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	count_status(s, (unsigned)resp->status);
	if (resp->status == MHD_HTTP_UNAUTHORIZED)
		ret = MHD_queue_basic_auth_fail_response(c, s->realm, r);
	else
		ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result refuse(struct http_server *s, struct MHD_Connection *c, int status,
			      const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static enum MHD_Result refuse(struct http_server *s, struct MHD_Connection *c, int status,
			      const char *allow, const char *fmt, ...)
{
	struct http_response resp = { 0 };
	va_list ap;

	va_start(ap, fmt);
	error_va(&resp, status, fmt, ap);
	va_end(ap);
	return send_response(s, c, &resp, allow);
}

/* "GET, HEAD, POST": the methods served at path, for 405's Allow header. */
static void allowed_methods(const struct http_server *s, const char *path, char *buf, size_t len)
{
	size_t off = 0, n;

	buf[0] = '\0';
	for (size_t i = 0; i < s->nroutes; i++) {
		const char *m = s->routes[i].method;

		if (!path_matches(s->routes[i].path, path, &n) || strstr(buf, m))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s", off ? ", " : "", m,
					strcmp(m, "GET") == 0 ? ", HEAD" : "");
		if (off >= len)
			break;
	}
}

static bool auth_ok(struct http_server *s, struct MHD_Connection *c, char **user_out)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	unsigned char digest[32];
	bool ok = false;
	size_t ul;

	if (!user || !pass)
		goto cleanup;
	ul = strlen(user);
	if (ul != strlen(s->auth_user) || !same_bytes(user, s->auth_user, ul))
		goto cleanup;
	{
		size_t pl = strlen(pass);
		char *both = malloc(ul + 1 + pl);

		if (!both)
			goto cleanup;
		memcpy(both, user, ul + 1);
		memcpy(both + ul + 1, pass, pl);
		gnutls_hash_fast(GNUTLS_DIG_SHA256, both, ul + 1 + pl, digest);
		explicit_bzero(both, ul + 1 + pl);
		free(both);
	}
	/* bcrypt costs tens of milliseconds: remember the last good credentials. */
	pthread_mutex_lock(&s->lock);
	ok = s->auth_cached && same_bytes(digest, s->auth_cache, sizeof(digest));
	pthread_mutex_unlock(&s->lock);
	if (!ok && http_password_check(s->auth_hash, pass) == 0) {
		ok = true;
		pthread_mutex_lock(&s->lock);
		memcpy(s->auth_cache, digest, sizeof(digest));
		s->auth_cached = true;
		pthread_mutex_unlock(&s->lock);
	}
	if (ok)
		*user_out = strdup(user);
cleanup:
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

/* Headers are in: route, authenticate and refuse what can be refused before any body. */
static enum MHD_Result on_headers(struct http_server *s, struct MHD_Connection *c, const char *url,
				  const char *method, struct req_state *st)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char allow[128];

	st->route = http_route_find(s->routes, s->nroutes, method, url, &st->path_known);
	if (s->auth_user && !(st->route && (st->route->flags & HTTP_ROUTE_PUBLIC)) &&
	    !auth_ok(s, c, &st->user)) {
		st->answered = true;
		return refuse(s, c, 401, NULL, "authentication required");
	}
	if (!st->route) {
		st->answered = true;
		if (!st->path_known)
			return refuse(s, c, 404, NULL, "no such endpoint");
		allowed_methods(s, url, allow, sizeof(allow));
		return refuse(s, c, 405, allow, "method %s not allowed", method);
	}
	if (cl && strtoull(cl, NULL, 10) > s->max_body) {
		st->answered = true;
		return refuse(s, c, 413, NULL, "request body larger than %zu bytes", s->max_body);
	}
	return MHD_YES;
}

static void absorb(struct http_server *s, struct req_state *st, const char *data, size_t n)
{
	char *nb;

	if (st->too_large || st->len + n > s->max_body) {
		st->too_large = true;
		return;
	}
	nb = realloc(st->body, st->len + n + 1);
	if (!nb) {
		st->too_large = true;
		return;
	}
	st->body = nb;
	memcpy(st->body + st->len, data, n);
	st->len += n;
	st->body[st->len] = '\0';
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *c, const char *url,
				const char *method, struct req_state *st)
{
	struct http_request req = {
		.method = method, .path = url, .subpath = url + strlen(st->route->path),
		.body = st->body, .body_len = st->len, .user = st->user, .impl = c,
	};
	struct http_response resp = { .status = 200, .content_type = HTTP_JSON };
	int rc;

	if (st->too_large)
		return refuse(s, c, 413, NULL, "request body larger than %zu bytes", s->max_body);
	if (st->route->path[strlen(st->route->path) - 1] != '/')
		req.subpath = "";
	rc = st->route->fn(&req, &resp, st->route->ctx);
	if (rc < 0 || resp.status < 100 || resp.status > 599) {
		free(resp.body);
		return refuse(s, c, 500, NULL, "internal error: %s", rc < 0 ? strerror(-rc) : "bad status");
	}
	return send_response(s, c, &resp, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		*con_cls = st;
		return on_headers(s, c, url, method, st);
	}
	if (st->answered) {
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		absorb(s, st, data, *size);
		*size = 0;
		return MHD_YES;
	}
	return dispatch(s, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;

	if (!st)
		return;
	free(st->body);
	free(st->user);
	free(st);
	*con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[sizeof(s->log_msg)];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strcspn(msg, "\n");
	msg[n] = '\0';
	STAT_INC(s, server_errors);
	pthread_mutex_lock(&s->lock);
	memcpy(s->log_msg, msg, n + 1);
	pthread_mutex_unlock(&s->lock);
}

/* ---- start / stop ------------------------------------------------------------------------- */

static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "TLS: cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		snprintf(err, errlen, "TLS: %s is empty or larger than %d bytes", path, TLS_FILE_MAX);
		rc = -EINVAL;
		goto cleanup;
	}
	*out = calloc(1, (size_t)st.st_size + 1);
	if (!*out) {
		rc = -ENOMEM;
		goto cleanup;
	}
	n = read(fd, *out, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(err, errlen, "TLS: cannot read %s", path);
		rc = -EIO;
	}
cleanup:
	close(fd);
	return rc;
}

/* Binds and listens, so that errors carry their errno; MHD takes the socket over. */
static int bind_socket(const struct http_opts *o, int *fd_out, uint16_t *port, char *err, size_t errlen)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int fd, one = 1, rc;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(o->port);
		sl = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(o->port);
		sl = sizeof(*a6);
	} else {
		snprintf(err, errlen, "Failed to listen on %s:%u: not an IP address", host, o->port);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto fail;
	*port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	*fd_out = fd;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "Failed to listen on %s%s%s:%u: %s", strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", o->port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int setup_security(struct http_server *s, const struct http_opts *o, char *err, size_t errlen)
{
	int rc;

	if (!!o->tls_cert_file != !!o->tls_key_file || !!o->auth_user != !!o->auth_hash) {
		snprintf(err, errlen, "TLS needs both a certificate and a key, basic auth a user and a hash");
		return -EINVAL;
	}
	if (o->tls_cert_file) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "TLS: libmicrohttpd was built without TLS support");
			return -ENOTSUP;
		}
		if ((rc = read_pem(o->tls_cert_file, &s->cert_pem, err, errlen)) < 0 ||
		    (rc = read_pem(o->tls_key_file, &s->key_pem, err, errlen)) < 0)
			return rc;
	}
	if (o->auth_user) {
		s->auth_user = strdup(o->auth_user);
		s->auth_hash = strdup(o->auth_hash);
		if (!s->auth_user || !s->auth_hash)
			return -ENOMEM;
		if (http_password_check(s->auth_hash, "") == -EINVAL) {
			snprintf(err, errlen, "basic auth: the password hash is not a usable crypt(3) hash");
			return -EINVAL;
		}
	}
	s->realm = strdup(o->realm ? o->realm : "pyrometer");
	return s->realm ? 0 : -ENOMEM;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static struct MHD_Daemon *start_mhd(struct http_server *s, const struct http_opts *o, int fd)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	size_t mem = o->max_header_bytes ? o->max_header_bytes : 65536;

	if (mem < 8192)
		mem = 8192;
	if (s->cert_pem)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, or_default(o->max_connections, 64),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, or_default(o->max_connections_per_ip, 16),
		MHD_OPTION_CONNECTION_TIMEOUT, or_default(o->timeout_seconds, 15),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		/* Without TLS the list ends here and the TLS options are never read. */
		s->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
		MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
		MHD_OPTION_END);
}

int http_start(const struct http_opts *o, const struct http_route *routes, size_t n,
	       struct http_server **out, char *err, size_t errlen)
{
	struct http_server *s;
	int fd = -1, mfd, rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!routes[i].method || !routes[i].path || routes[i].path[0] != '/' || !routes[i].fn) {
			snprintf(err, errlen, "route %zu is incomplete", i);
			return -EINVAL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->routes = routes;
	s->nroutes = n;
	s->max_body = o->max_body_bytes ? o->max_body_bytes : 65536;
	rc = setup_security(s, o, err, errlen);
	if (rc < 0)
		goto fail;
	rc = bind_socket(o, &fd, &s->port, err, errlen);
	if (rc < 0)
		goto fail;
	/* MHD owns (and closes) its copy; ours goes whatever happens. */
	mfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	s->d = mfd >= 0 ? start_mhd(s, o, mfd) : NULL;
	close(fd);
	if (!s->d) {
		snprintf(err, errlen, "Failed to start the HTTP server: %s",
			 s->log_msg[0] ? s->log_msg : "libmicrohttpd refused the options");
		rc = -EINVAL;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "Failed to start the HTTP server: out of memory");
	http_stop(s);
	return rc;
}

uint16_t http_port(const struct http_server *s)
{
	return s->port;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	if (s->key_pem) {
		explicit_bzero(s->key_pem, strlen(s->key_pem));
		free(s->key_pem);
	}
	free(s->cert_pem);
	free(s->auth_user);
	free(s->auth_hash);
	free(s->realm);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void http_get_stats(const struct http_server *s, struct http_stats *st)
{
	const uint64_t *src = (const uint64_t *)&s->st;
	uint64_t *dst = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
