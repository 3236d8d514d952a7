/* Unit tests for the HTTP shell, without root: a real server on an ephemeral loopback port, hit
 * with libcurl (200/400/401/404/405/413/431/500, basic auth, TLS with a self-signed certificate
 * made by openssl) and with 1,000 malformed requests over raw sockets. */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

/* ---- handlers under test ------------------------------------------------------------------- */

static int h_echo(const struct http_request *req, struct http_response *resp, void *ctx)
{
	static const char *const allowed[] = { "n", "name", NULL };
	const char *name = "none", *bad;
	long n;
	int rc;

	if (http_params_only(req, allowed, &bad) < 0)
		return http_error(resp, 400, "unknown parameter '%s'", bad);
	rc = http_param_int(req, "n", 1, 100, &n);
	if (rc < 0)
		return http_bad_param(resp, "n", rc);
	rc = http_param_str(req, "name", HTTP_CHARSET_NAME, 32, &name);
	if (rc < 0 && rc != -ENOENT)
		return http_bad_param(resp, "name", rc);
	return http_body_printf(resp, "{\"n\":%ld,\"name\":\"%s\"}", n, name);
}

static int h_upload(const struct http_request *req, struct http_response *resp, void *ctx)
{
	resp->content_type = "text/plain";
	return http_body_printf(resp, "%zu", req->body_len);
}

static int h_sub(const struct http_request *req, struct http_response *resp, void *ctx)
{
	resp->content_type = "text/plain";
	return http_body_printf(resp, "[%s]", req->subpath);
}

static int h_fail(const struct http_request *req, struct http_response *resp, void *ctx)
{
	return -EIO;
}

static int h_whoami(const struct http_request *req, struct http_response *resp, void *ctx)
{
	resp->content_type = "text/plain";
	return http_body_printf(resp, "%s", req->user ? req->user : "-");
}

static int h_slow(const struct http_request *req, struct http_response *resp, void *ctx)
{
	usleep(1500 * 1000); /* like a profile capture of the next N seconds */
	return http_body_printf(resp, "{\"slow\":true}");
}

static const struct http_route routes[] = {
	{ "GET", "/healthz", http_healthz, NULL, HTTP_ROUTE_PUBLIC },
	{ "GET", "/echo", h_echo, NULL, 0 },
	{ "POST", "/upload", h_upload, NULL, 0 },
	{ "GET", "/api/", h_sub, NULL, 0 },
	{ "GET", "/api/deeper/", h_whoami, NULL, 0 },
	{ "GET", "/fail", h_fail, NULL, 0 },
	{ "GET", "/whoami", h_whoami, NULL, 0 },
	{ "GET", "/slow", h_slow, NULL, 0 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- a small curl client -------------------------------------------------------------------- */

struct reply {
	long status;
	char body[8192];
	size_t len;
	char www_auth[256], allow[128], ctype[128];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t m = size * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, m < room ? m : room);
	r->len += m < room ? m : room;
	r->body[r->len] = '\0';
	return m;
}

static void grab(const char *line, size_t n, const char *name, char *dst, size_t dlen)
{
	size_t k = strlen(name);

	if (n > k && strncasecmp(line, name, k) == 0) {
		size_t v = n - k;

		while (v && (line[k + v - 1] == '\r' || line[k + v - 1] == '\n'))
			v--;
		snprintf(dst, dlen, "%.*s", (int)v, line + k);
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;

	grab(p, size * n, "WWW-Authenticate: ", r->www_auth, sizeof(r->www_auth));
	grab(p, size * n, "Allow: ", r->allow, sizeof(r->allow));
	grab(p, size * n, "Content-Type: ", r->ctype, sizeof(r->ctype));
	return size * n;
}

struct reqspec {
	const char *method;  /* NULL = GET */
	const char *userpwd; /* "user:pass" */
	const char *body;
	size_t body_len;
	const char *cainfo;  /* for https */
	const char *header;  /* one extra header line */
};

static CURLcode fetch(const char *url, const struct reqspec *rs, struct reply *r)
{
	struct curl_slist *hdrs = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (rs && rs->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rs->method);
	if (rs && rs->method && strcmp(rs->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (rs && rs->userpwd) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, rs->userpwd);
	}
	if (rs && rs->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rs->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rs->body_len);
		hdrs = curl_slist_append(hdrs, "Expect:");
	}
	if (rs && rs->header)
		hdrs = curl_slist_append(hdrs, rs->header);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (rs && rs->cainfo) {
		curl_easy_setopt(c, CURLOPT_CAINFO, rs->cainfo);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

static struct http_server *start(const struct http_opts *o)
{
	struct http_server *s = NULL;
	char err[256] = "";
	int rc = http_start(o, routes, NROUTES, &s, err, sizeof(err));

	if (rc < 0)
		fail_msg("http_start: %d: %s", rc, err);
	assert_true(http_port(s) > 0);
	return s;
}

static void url_of(char *buf, size_t len, const char *scheme, struct http_server *s, const char *path)
{
	snprintf(buf, len, "%s://127.0.0.1:%u%s", scheme, http_port(s), path);
}

/* ---- pure parts ------------------------------------------------------------------------------ */

static void test_pure_helpers(void **state)
{
	static const struct { const char *s; int rc; long v; } ints[] = {
		{ "0", 0, 0 }, { "42", 0, 42 }, { "-3", 0, -3 }, { "100", 0, 100 }, { "101", -EINVAL, 0 },
		{ "", -EINVAL, 0 }, { "-", -EINVAL, 0 }, { "+1", -EINVAL, 0 }, { " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 }, { "0x10", -EINVAL, 0 }, { "1e3", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 }, { "-4", -EINVAL, 0 },
	};
	bool known;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		long v = -999;
		int rc = http_parse_int(ints[i].s, -3, 100, &v);

		if (rc != ints[i].rc || (rc == 0 && v != ints[i].v))
			fail_msg("'%s': rc %d v %ld", ints[i].s, rc, v);
	}
	assert_true(http_str_ok("gunicorn:app.wsgi", HTTP_CHARSET_NAME, 64));
	assert_true(http_str_ok("container:3f2a9c1d8e7b", HTTP_CHARSET_NAME, 64));
	assert_false(http_str_ok("", HTTP_CHARSET_NAME, 64));
	assert_false(http_str_ok("a b", HTTP_CHARSET_NAME, 64));
	assert_false(http_str_ok("a\"b", HTTP_CHARSET_NAME, 64));
	assert_false(http_str_ok("abcdef", HTTP_CHARSET_NAME, 5));
	assert_false(http_str_ok(NULL, HTTP_CHARSET_NAME, 5));

	assert_ptr_equal(http_route_find(routes, NROUTES, "GET", "/healthz", &known), &routes[0]);
	assert_ptr_equal(http_route_find(routes, NROUTES, "HEAD", "/healthz", &known), &routes[0]);
	assert_null(http_route_find(routes, NROUTES, "POST", "/healthz", &known));
	assert_true(known);
	assert_null(http_route_find(routes, NROUTES, "GET", "/healthz/x", &known));
	assert_false(known);
	assert_ptr_equal(http_route_find(routes, NROUTES, "GET", "/api/x", &known), &routes[3]);
	assert_ptr_equal(http_route_find(routes, NROUTES, "GET", "/api/deeper/x", &known), &routes[4]);
	assert_null(http_route_find(routes, NROUTES, "GET", "/api", &known));
	assert_false(known);
}

static void test_password_check(void **state)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = { 0 };
	char *hash;

	assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof(setting)));
	hash = strdup(crypt_rn("open sesame", setting, &cd, sizeof(cd)));
	assert_int_equal(http_password_check(hash, "open sesame"), 0);
	assert_int_equal(http_password_check(hash, "open sesame!"), -EACCES);
	assert_int_equal(http_password_check(hash, ""), -EACCES);
	assert_int_equal(http_password_check("plaintext", "x"), -EINVAL);
	assert_int_equal(http_password_check("$2b$04$short", "x"), -EINVAL);
	free(hash);
	assert_non_null(crypt_gensalt_rn("$6$", 0, NULL, 0, setting, sizeof(setting)));
	hash = strdup(crypt_rn("pw", setting, &cd, sizeof(cd)));
	assert_int_equal(http_password_check(hash, "pw"), 0);
	assert_int_equal(http_password_check(hash, "pW"), -EACCES);
	free(hash);
}

/* ---- a plain server ----------------------------------------------------------------------------- */

static void test_statuses(void **state)
{
	struct http_opts o = { .host = "127.0.0.1", .port = 0, .max_body_bytes = 65536,
			       .max_header_bytes = 16384 };
	struct http_server *s = start(&o);
	char url[256], *big;
	struct reply r;
	struct reqspec rs = { 0 };
	struct http_stats st;

	url_of(url, sizeof(url), "http", s, "/healthz");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	assert_string_equal(r.ctype, "application/json");

	rs.method = "HEAD";
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);

	url_of(url, sizeof(url), "http", s, "/nope");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\":\"no such endpoint\"}");

	url_of(url, sizeof(url), "http", s, "/healthz");
	rs.method = "DELETE";
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	assert_string_equal(r.body, "{\"error\":\"method DELETE not allowed\"}");

	url_of(url, sizeof(url), "http", s, "/echo?n=5&name=a.service");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"n\":5,\"name\":\"a.service\"}");

	static const struct { const char *q; const char *err; } bad[] = {
		{ "/echo", "missing parameter 'n'" },
		{ "/echo?n=abc", "invalid parameter 'n'" },
		{ "/echo?n=1000", "invalid parameter 'n'" },
		{ "/echo?n=", "invalid parameter 'n'" },
		{ "/echo?n", "invalid parameter 'n'" },
		{ "/echo?n=1&n=2", "unknown parameter 'n'" },
		{ "/echo?n=1&name=a%20b", "invalid parameter 'name'" },
		{ "/echo?n=1&name=%22%3E%3Cscript%3E", "invalid parameter 'name'" },
		{ "/echo?n=1&evil=1", "unknown parameter 'evil'" },
		{ "/echo?n=%00", "invalid parameter 'n'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];

		url_of(url, sizeof(url), "http", s, bad[i].q);
		assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
		if (r.status != 400)
			fail_msg("%s: status %ld body %s", bad[i].q, r.status, r.body);
		snprintf(want, sizeof(want), "{\"error\":\"%s\"}", bad[i].err);
		assert_string_equal(r.body, want);
	}

	/* Bodies: small ones reach the handler, big ones get 413 before or after upload. */
	url_of(url, sizeof(url), "http", s, "/upload");
	big = malloc(200000);
	memset(big, 'a', 200000);
	rs = (struct reqspec){ .method = "POST", .body = big, .body_len = 1000 };
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "1000");
	rs.body_len = 65536;
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_string_equal(r.body, "65536");
	rs.body_len = 65537;
	fetch(url, &rs, &r); /* the server may close before curl sent it all */
	assert_int_equal(r.status, 413);
	rs.body_len = 200000;
	fetch(url, &rs, &r);
	assert_int_equal(r.status, 413);
	/* chunked, so no Content-Length tells in advance */
	rs.body_len = 100000;
	rs.header = "Transfer-Encoding: chunked";
	fetch(url, &rs, &r);
	assert_int_equal(r.status, 413);

	/* Huge headers: refused by libmicrohttpd itself. */
	{
		char *hdr = malloc(40000);

		memcpy(hdr, "X-Big: ", 7);
		memset(hdr + 7, 'b', 40000 - 8);
		hdr[40000 - 1] = '\0';
		url_of(url, sizeof(url), "http", s, "/healthz");
		rs = (struct reqspec){ .header = hdr };
		fetch(url, &rs, &r);
		if (r.status != 431 && r.status != 413 && r.status != 414)
			fail_msg("40 kB header: status %ld", r.status);
		free(hdr);
	}
	free(big);

	url_of(url, sizeof(url), "http", s, "/api/a/b%2Fc");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "[a/b/c]");

	url_of(url, sizeof(url), "http", s, "/fail");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "{\"error\":\"internal error: Input/output error\"}");

	url_of(url, sizeof(url), "http", s, "/whoami");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_string_equal(r.body, "-");

	http_get_stats(s, &st);
	/* Every request above but the 40 kB header one (refused by libmicrohttpd) was counted. */
	assert_int_equal(st.requests, 23);
	assert_int_equal(st.responses_2xx, 7);
	assert_int_equal(st.responses_4xx, 15);
	assert_int_equal(st.responses_5xx, 1);
	assert_true(st.too_large >= 3);
	assert_int_equal(st.auth_failures, 0);
	http_stop(s);
}

static void test_bind_errors(void **state)
{
	struct http_opts o = { .host = "127.0.0.1" };
	struct http_server *a = start(&o), *b = NULL;
	char err[256];

	o.port = http_port(a);
	assert_int_equal(http_start(&o, routes, NROUTES, &b, err, sizeof(err)), -EADDRINUSE);
	assert_null(b);
	assert_non_null(strstr(err, "Address already in use"));
	o.host = "not-an-ip";
	assert_int_equal(http_start(&o, routes, NROUTES, &b, err, sizeof(err)), -EINVAL);
	o.host = "::1";
	o.port = 0;
	if (http_start(&o, routes, NROUTES, &b, err, sizeof(err)) == 0) { /* IPv6 may be off */
		struct reply r;
		char url[128];

		snprintf(url, sizeof(url), "http://[::1]:%u/healthz", http_port(b));
		assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
		assert_int_equal(r.status, 200);
		http_stop(b);
	}
	o.host = "127.0.0.1";
	o.tls_cert_file = "/nonexistent.pem";
	o.tls_key_file = "/nonexistent.key";
	assert_int_equal(http_start(&o, routes, NROUTES, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent.pem"));
	http_stop(a);
	http_stop(NULL);
}

/* ---- basic auth and TLS ------------------------------------------------------------------------ */

static char *make_hash(const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = { 0 };

	assert_non_null(crypt_gensalt_rn("$2b$", 5, NULL, 0, setting, sizeof(setting)));
	return strdup(crypt_rn(pw, setting, &cd, sizeof(cd)));
}

static void check_auth(struct http_server *s, const char *scheme, const char *cainfo)
{
	struct reqspec rs = { .cainfo = cainfo };
	struct reply r;
	char url[256];

	url_of(url, sizeof(url), scheme, s, "/whoami");
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.www_auth, "Basic realm=\"pyrometer\"");
	assert_string_equal(r.body, "{\"error\":\"authentication required\"}");
	rs.userpwd = "prom:wrong";
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 401);
	rs.userpwd = "other:s3cret";
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 401);
	rs.userpwd = "prom:s3cret";
	for (int i = 0; i < 3; i++) { /* the second and third hit the credential cache */
		assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "prom");
	}
	/* Unknown paths need credentials too (no probing of the route table). */
	url_of(url, sizeof(url), scheme, s, "/secret-path");
	rs.userpwd = NULL;
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 401);
	/* Public routes do not. */
	url_of(url, sizeof(url), scheme, s, "/healthz");
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
}

static void test_basic_auth(void **state)
{
	char *hash = make_hash("s3cret");
	struct http_opts o = { .auth_user = "prom", .auth_hash = hash };
	struct http_server *s = start(&o);
	struct http_stats st;

	check_auth(s, "http", NULL);
	http_get_stats(s, &st);
	assert_int_equal(st.auth_failures, 4);
	http_stop(s);
	free(hash);
}

static void test_tls(void **state)
{
	char dir[] = "/tmp/test_http_XXXXXX", cert[96], key[96], cmd[512], url[256];
	struct http_opts o = { 0 };
	struct http_server *s;
	struct reply r;
	struct reqspec rs = { 0 };
	char *hash;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
		 key, cert);
	assert_int_equal(system(cmd), 0);
	hash = make_hash("s3cret");
	o = (struct http_opts){ .tls_cert_file = cert, .tls_key_file = key, .auth_user = "prom", .auth_hash = hash };
	s = start(&o);

	check_auth(s, "https", cert);
	/* Without the CA the certificate is refused; plain HTTP on the TLS port gets nothing. */
	url_of(url, sizeof(url), "https", s, "/healthz");
	assert_int_not_equal(fetch(url, NULL, &r), CURLE_OK);
	url_of(url, sizeof(url), "http", s, "/healthz");
	fetch(url, &rs, &r);
	assert_int_not_equal(r.status, 200);
	/* And the server still serves TLS afterwards. */
	url_of(url, sizeof(url), "https", s, "/healthz");
	rs.cainfo = cert;
	assert_int_equal(fetch(url, &rs, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	http_stop(s);
	free(hash);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/* ---- hostile input ------------------------------------------------------------------------------ */

/* Sends raw bytes, half-closes, and returns the status of the reply (0: none). */
static int raw_request(uint16_t port, const char *data, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	char buf[512];
	size_t got = 0;
	ssize_t n;
	int fd, status = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = send(fd, data + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
	}
	shutdown(fd, SHUT_WR);
	while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	while (recv(fd, buf + got, 0, 0) > 0) /* drain until the server closes */
		;
	if (strncmp(buf, "HTTP/1.", 7) == 0 && got >= 12)
		status = atoi(buf + 9);
	close(fd);
	return status;
}

static void test_malformed_flood(void **state)
{
	struct http_opts o = { .max_header_bytes = 16384, .max_body_bytes = 4096, .timeout_seconds = 5 };
	struct http_server *s = start(&o);
	static const char *const fixed[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET /healthz\r\n\r\n",
		"GET /healthz HTTP/9.9\r\n\r\n",
		"GET /healthz HTTP/1.1\r\n\r\n",                 /* 1.1 without Host */
		"GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
		"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!notbase64\r\n\r\n",
		"G\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /healthz HTTP/1.1\nHost: x\n\n",           /* bare LF (strict mode) */
		"GET  /healthz  HTTP/1.1\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   /* a TLS ClientHello on plain HTTP */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t biglen = 70000;
	char *big = malloc(biglen + 64);
	int counts[600] = { 0 }, answered = 0;
	struct reply r;
	char url[128];
	unsigned seed = 12345;

	for (int i = 0; i < 1000; i++) {
		const char *data;
		size_t len;
		int st;

		switch (i % 4) {
		case 0: /* the fixed corpus */
			data = fixed[(i / 4) % nfixed];
			len = (i / 4) % nfixed == 12 ? 34 : strlen(data);
			break;
		case 1: /* random bytes */
			len = 1 + rand_r(&seed) % 2048;
			for (size_t k = 0; k < len; k++)
				big[k] = (char)rand_r(&seed);
			data = big;
			break;
		case 2: /* a request line or header far beyond the limit */
			len = (i / 4) % 2 ? biglen : 20000;
			memcpy(big, "GET /", 5);
			memset(big + 5, 'a', len - 5);
			if ((i / 4) % 3 == 0)
				memcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ", 28);
			data = big;
			break;
		default: /* a valid start cut at a random point */
			data = "GET /echo?n=5 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
			len = rand_r(&seed) % (strlen(data) - 1);
			break;
		}
		st = raw_request(http_port(s), data, len);
		if (st >= 200 && st < 300 && i % 4 != 0)
			fail_msg("garbage request %d got %d", i, st);
		if (st > 0 && st < 600) {
			counts[st]++;
			answered++;
		}
	}
	free(big);
	print_message("1000 malformed requests: %d answered (400: %d, 404: %d, 405: %d, 413: %d, 431: %d, 505: %d), "
		      "the rest closed\n", answered, counts[400], counts[404], counts[405], counts[413],
		      counts[431], counts[505]);
	/* A normal request still works. */
	url_of(url, sizeof(url), "http", s, "/echo?n=7");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"n\":7,\"name\":\"none\"}");
	assert_true(answered > 100); /* the shell did answer, not just drop everything */
	http_stop(s);
}

/* More connections than allowed: the extra ones are refused, the server recovers. */
static void test_connection_limits(void **state)
{
	struct http_opts o = { .max_connections = 8, .max_connections_per_ip = 4, .timeout_seconds = 10 };
	struct http_server *s = start(&o);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(http_port(s)) };
	int fds[10], refused = 0;
	struct reply r;
	char url[128];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 10; i++) {
		struct timeval tv = { .tv_usec = 300000 };

		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		send(fds[i], "GET /", 5, MSG_NOSIGNAL); /* and stall */
		usleep(20000);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	/* Connections past the per-IP limit were closed at once; the first four wait. */
	for (int i = 0; i < 10; i++) {
		char c;
		ssize_t n = recv(fds[i], &c, 1, 0);
		bool closed = n == 0 || (n < 0 && errno == ECONNRESET); /* RST: our bytes were unread */

		if (i < 4 && closed)
			fail_msg("connection %d was closed", i);
		if (i >= 4 && closed)
			refused++;
	}
	assert_int_equal(refused, 6);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	usleep(100000);
	url_of(url, sizeof(url), "http", s, "/healthz");
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	http_stop(s);
}

static void *slow_client(void *arg)
{
	static struct reply r;

	fetch(arg, NULL, &r);
	return &r;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A blocking handler stalls only its own connection. */
static void test_blocking_handler(void **state)
{
	struct http_opts o = { 0 };
	struct http_server *s = start(&o);
	char slow[128], url[128];
	struct reply r, *sr;
	pthread_t t;
	double t0, fast;

	url_of(slow, sizeof(slow), "http", s, "/slow");
	url_of(url, sizeof(url), "http", s, "/healthz");
	t0 = now_s();
	assert_int_equal(pthread_create(&t, NULL, slow_client, slow), 0);
	usleep(200000);
	assert_int_equal(fetch(url, NULL, &r), CURLE_OK);
	fast = now_s() - t0;
	assert_int_equal(r.status, 200);
	assert_int_equal(pthread_join(t, (void **)&sr), 0);
	assert_int_equal(sr->status, 200);
	print_message("healthz answered after %.2f s while /slow took %.2f s\n", fast, now_s() - t0);
	assert_true(fast < 1.0);
	http_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pure_helpers),
		cmocka_unit_test(test_password_check),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_malformed_flood),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_blocking_handler),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
