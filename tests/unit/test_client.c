/* Unit tests for the CLI's HTTP client and `top`'s table: a libmicrohttpd server started here on an
 * ephemeral loopback port serves canned answers (JSON, JSON errors, text errors, basic auth, a slow
 * page) to check statuses, failure classes and the one-line messages; top_format is checked on
 * exact text and on width limits. No root, no daemon. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "client.h"
#include "cmd.h"

static struct MHD_Daemon *mhd;
static char base[64];

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	MHD_add_response_header(r, "Content-Type", type);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	char buf[512];

	if (!strcmp(url, "/api/v1/health"))
		return reply(conn, 200, "application/json",
			     "{\"status\":\"ok\",\"version\":\"t1\",\"uptime_seconds\":3725.5,\"processes\":3,"
			     "\"services\":2,\"samples\":1234,\"lost_stacks\":0}");
	if (!strcmp(url, "/api/v1/services"))
		return reply(conn, 200, "application/json",
			     "{\"window_seconds\":60,\"services\":["
			     "{\"name\":\"idle.service\",\"processes\":1,\"cpu_percent\":0.0,\"top_function\":\"\"},"
			     "{\"name\":\"web.service\",\"processes\":4,\"cpu_percent\":87.3,"
			     "\"top_function\":\"handle (/srv/app/views.py:42)\"},"
			     "{\"name\":\"batch\",\"processes\":2,\"cpu_percent\":12.5,\"top_function\":\"crunch (/b.py:7)\"}]}");
	if (!strcmp(url, "/notfound"))
		return reply(conn, 404, "application/json", "{\"error\": \"unknown service 'nope'\"}");
	if (!strcmp(url, "/text500"))
		return reply(conn, 500, "text/plain", "boom\nsecond line\n");
	if (!strcmp(url, "/badjson"))
		return reply(conn, 200, "application/json", "{\"status\": ");
	if (!strcmp(url, "/slow")) {
		sleep(2);
		return reply(conn, 200, "text/plain", "late\n");
	}
	if (!strcmp(url, "/echo")) {
		const char *svc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "service");

		snprintf(buf, sizeof(buf), "service=[%s]", svc ? svc : "(none)");
		return reply(conn, 200, "text/plain", buf);
	}
	if (!strcmp(url, "/auth")) {
		char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
		bool ok = user && pass && !strcmp(user, "alice") && !strcmp(pass, "s3cret:x");
		enum MHD_Result rc;

		MHD_free(user);
		MHD_free(pass);
		if (ok)
			return reply(conn, 200, "application/json", "{\"auth\":\"ok\"}");
		{
			const char *body = "{\"error\":\"authentication required\"}";
			struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
										  MHD_RESPMEM_PERSISTENT);

			rc = MHD_queue_basic_auth_fail_response(conn, "pyrometer", r);
			MHD_destroy_response(r);
			return rc;
		}
	}
	return reply(conn, 404, "application/json", "{\"error\":\"no such endpoint\"}");
}

static int setup_server(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
			       on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (!mhd)
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u",
		 MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT)->port);
	return 0;
}

static int teardown_server(void **state)
{
	MHD_stop_daemon(mhd);
	return 0;
}

static struct client *mk(const char *server, long timeout)
{
	struct client_opts o = { .server = server, .timeout_s = timeout };
	struct client *c = NULL;

	assert_int_equal(client_new(&o, &c), 0);
	return c;
}

/* A loopback port nobody listens on: bind one, read its number, close it. */
static unsigned dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Runs fn with stderr captured into buf. */
static int capture_stderr(char *buf, size_t len, int (*fn)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), rc;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	rc = fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return rc;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_get_ok(void **state)
{
	struct client *c = mk(base, 5);
	struct client_resp r;
	enum client_fail fail;
	char reason[256];

	assert_int_equal(client_get(c, "/api/v1/health", &r, &fail, reason, sizeof(reason)), 0);
	assert_int_equal(fail, CLIENT_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	assert_non_null(strstr(r.body, "\"version\":\"t1\""));
	assert_int_equal(r.len, strlen(r.body));
	client_resp_free(&r);
	/* the handle is reused for a second request */
	assert_int_equal(client_get(c, "/notfound", &r, &fail, reason, sizeof(reason)), 0);
	assert_int_equal(r.status, 404);
	client_resp_free(&r);
	client_free(c);
}

static void test_error_messages(void **state)
{
	struct client *c = mk(base, 5);
	struct client_resp r;
	enum client_fail fail;
	char reason[256], msg[512];

	assert_int_equal(client_get(c, "/notfound", &r, &fail, reason, sizeof(reason)), 0);
	client_error_msg(&r, msg, sizeof(msg));
	assert_string_equal(msg, "unknown service 'nope'");
	client_resp_free(&r);

	assert_int_equal(client_get(c, "/text500", &r, &fail, reason, sizeof(reason)), 0);
	assert_int_equal(r.status, 500);
	client_error_msg(&r, msg, sizeof(msg));
	assert_string_equal(msg, "pyrometerd answered HTTP 500: boom");
	client_resp_free(&r);
	client_free(c);

	/* pure cases: empty body, JSON without "error", non-string error, control characters */
	struct client_resp fake = { .status = 503, .body = "", .len = 0 };
	client_error_msg(&fake, msg, sizeof(msg));
	assert_string_equal(msg, "pyrometerd answered HTTP 503");
	fake = (struct client_resp){ .status = 400, .body = "{\"detail\":1}", .len = 12 };
	client_error_msg(&fake, msg, sizeof(msg));
	assert_string_equal(msg, "pyrometerd answered HTTP 400: {\"detail\":1}");
	fake = (struct client_resp){ .status = 400, .body = "{\"error\":42}", .len = 12 };
	client_error_msg(&fake, msg, sizeof(msg));
	assert_string_equal(msg, "pyrometerd answered HTTP 400: {\"error\":42}");
	fake = (struct client_resp){ .status = 400, .body = "{\"error\":\"a\\tb\\nc\"}", .len = 19 };
	client_error_msg(&fake, msg, sizeof(msg));
	assert_string_equal(msg, "a?b");
}

static void test_unreachable(void **state)
{
	char server[64], reason[256], msg[512], expect[128];
	struct client_resp r;
	enum client_fail fail;
	struct client *c;
	int err;

	snprintf(server, sizeof(server), "127.0.0.1:%u", dead_port());
	c = mk(server, 5);
	err = client_get(c, "/api/v1/health", &r, &fail, reason, sizeof(reason));
	assert_int_equal(err, -ECONNREFUSED);
	assert_int_equal(fail, CLIENT_UNREACHABLE);
	assert_true(strlen(reason) > 0);
	assert_null(r.body);
	client_fail_msg(fail, client_server(c), reason, msg, sizeof(msg));
	snprintf(expect, sizeof(expect), "cannot reach pyrometerd at http://%s: ", server);
	assert_memory_equal(msg, expect, strlen(expect));
	assert_non_null(strstr(msg, " (is it running?)"));
	assert_null(strchr(msg, '\n'));
	client_free(c);

	client_fail_msg(CLIENT_TRANSFER, "http://h:1", "timed out", msg, sizeof(msg));
	assert_string_equal(msg, "request to pyrometerd at http://h:1 failed: timed out");
}

struct json_call {
	struct client *c;
	const char *path;
	json_object *o;
};

static int call_get_json(void *arg)
{
	struct json_call *j = arg;

	return client_get_json(j->c, j->path, &j->o, NULL);
}

static void test_get_json_reports_one_line(void **state)
{
	char server[64], err[2048], expect[128];
	struct json_call j = { .c = mk(base, 5), .path = "/api/v1/health" };

	assert_int_equal(capture_stderr(err, sizeof(err), call_get_json, &j), 0);
	assert_string_equal(err, "");
	assert_non_null(j.o);
	json_object_put(j.o);

	j.path = "/notfound";
	assert_int_equal(capture_stderr(err, sizeof(err), call_get_json, &j), 1);
	assert_string_equal(err, "pyrometer: unknown service 'nope'\n");
	assert_null(j.o);

	j.path = "/badjson";
	assert_int_equal(capture_stderr(err, sizeof(err), call_get_json, &j), 1);
	assert_int_equal(count_lines(err), 1);
	assert_non_null(strstr(err, "invalid JSON"));
	client_free(j.c);

	snprintf(server, sizeof(server), "http://127.0.0.1:%u", dead_port());
	j.c = mk(server, 5);
	j.path = "/api/v1/health";
	assert_int_equal(capture_stderr(err, sizeof(err), call_get_json, &j), 1);
	assert_int_equal(count_lines(err), 1);
	snprintf(expect, sizeof(expect), "pyrometer: cannot reach pyrometerd at %s: ", server);
	assert_memory_equal(err, expect, strlen(expect));
	assert_non_null(strstr(err, "(is it running?)\n"));
	client_free(j.c);
}

static void test_timeout_is_transfer_failure(void **state)
{
	struct client *c = mk(base, 1);
	struct client_resp r;
	enum client_fail fail;
	char reason[256];

	assert_int_equal(client_get(c, "/slow", &r, &fail, reason, sizeof(reason)), -ETIMEDOUT);
	assert_int_equal(fail, CLIENT_TRANSFER); /* connected, then no answer in time */
	assert_non_null(strstr(reason, "imeout") ?: strstr(reason, "timed out"));
	client_free(c);
}

static void test_basic_auth(void **state)
{
	struct client_opts o = { .server = base, .user = "alice:s3cret:x" };
	struct client *c = NULL;
	struct client_resp r;
	enum client_fail fail;
	char reason[256], msg[256];

	assert_int_equal(client_new(&o, &c), 0);
	assert_int_equal(client_get(c, "/auth", &r, &fail, reason, sizeof(reason)), 0);
	assert_int_equal(r.status, 200);
	client_resp_free(&r);
	client_free(c);

	o.user = "alice:wrong";
	assert_int_equal(client_new(&o, &c), 0);
	assert_int_equal(client_get(c, "/auth", &r, &fail, reason, sizeof(reason)), 0);
	assert_int_equal(r.status, 401);
	client_error_msg(&r, msg, sizeof(msg));
	assert_string_equal(msg, "authentication required");
	client_resp_free(&r);
	client_free(c);
}

static void test_escape_roundtrip(void **state)
{
	struct client *c = mk(base, 5);
	struct client_resp r;
	enum client_fail fail;
	char reason[256], *esc, path[256];

	esc = client_escape(c, "my app/a&b=c.service");
	assert_non_null(esc);
	assert_null(strpbrk(esc, " /&="));
	snprintf(path, sizeof(path), "/echo?service=%s", esc);
	free(esc);
	assert_int_equal(client_get(c, path, &r, &fail, reason, sizeof(reason)), 0);
	assert_string_equal(r.body, "service=[my app/a&b=c.service]");
	client_resp_free(&r);
	client_free(c);
}

static void test_server_urls(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "127.0.0.1:9", "http://127.0.0.1:9" },    { "http://h:1/", "http://h:1" },
		{ "HTTPS://h:1//", "HTTPS://h:1" },         { "[::1]:10164", "http://[::1]:10164" },
		{ "https://h/prefix/", "https://h/prefix" },
	};
	static const char *bad[] = { "ftp://h:1", "file:///etc/passwd", "http://", "gopher://x" };
	struct client *c = NULL;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct client_opts o = { .server = ok[i].in };

		assert_int_equal(client_new(&o, &c), 0);
		assert_string_equal(client_server(c), ok[i].out);
		client_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client_opts o = { .server = bad[i] };

		assert_int_equal(client_new(&o, &c), -EINVAL);
	}
	/* default, then the environment */
	unsetenv(CLIENT_ENV_SERVER);
	struct client_opts o = {};
	assert_int_equal(client_new(&o, &c), 0);
	assert_string_equal(client_server(c), CLIENT_DEFAULT_SERVER);
	client_free(c);
	setenv(CLIENT_ENV_SERVER, "10.1.2.3:77", 1);
	assert_int_equal(client_new(&o, &c), 0);
	assert_string_equal(client_server(c), "http://10.1.2.3:77");
	client_free(c);
	o.server = "http://flag:1";
	assert_int_equal(client_new(&o, &c), 0);
	assert_string_equal(client_server(c), "http://flag:1");
	client_free(c);
	unsetenv(CLIENT_ENV_SERVER);
}

static int opt_quiet(void *arg)
{
	struct client_opts *o = arg;

	return client_opt(o, CLIENT_OPT_TIMEOUT, "0") + 10 * client_opt(o, CLIENT_OPT_USER, "nocolon") +
	       100 * client_opt(o, CLIENT_OPT_SERVER, "ftp://h:1");
}

static void test_client_opts(void **state)
{
	struct client_opts o = {};
	char err[512];

	assert_int_equal(client_opt(&o, CLIENT_OPT_SERVER, "h:1"), 1);
	assert_int_equal(client_opt(&o, CLIENT_OPT_INSECURE, NULL), 1);
	assert_int_equal(client_opt(&o, CLIENT_OPT_TIMEOUT, "45"), 1);
	assert_int_equal(client_opt(&o, CLIENT_OPT_USER, "u:p"), 1);
	assert_int_equal(client_opt(&o, 'x', NULL), 0);
	assert_string_equal(o.server, "h:1");
	assert_true(o.insecure && o.timeout_set);
	assert_int_equal(o.timeout_s, 45);
	assert_string_equal(o.user, "u:p");
	assert_int_equal(capture_stderr(err, sizeof(err), opt_quiet, &o), 111 * -EINVAL);
	assert_int_equal(count_lines(err), 3);
	assert_non_null(strstr(err, "invalid --server URL 'ftp://h:1'"));
	assert_string_equal(o.server, "h:1"); /* a rejected value leaves the option as it was */
	assert_non_null(strstr(err, "--timeout must be 1..86400"));
	assert_non_null(strstr(err, "--user wants USER:PASS"));
}

/* ---- top ------------------------------------------------------------------------------------ */

static void test_top_rows_sorted(void **state)
{
	struct client *c = mk(base, 5);
	struct top_row *rows;
	json_object *o;
	char *text;
	int n;

	assert_int_equal(client_get_json(c, "/api/v1/services", &o, NULL), 0);
	n = top_rows_from_json(o, &rows);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].name, "web.service");
	assert_string_equal(rows[1].name, "batch");
	assert_string_equal(rows[2].name, "idle.service");
	assert_int_equal(rows[0].processes, 4);
	assert_string_equal(rows[2].top_function, "");
	text = top_format(rows, n, 0);
	assert_string_equal(text,
		"SERVICE       PROCS   CPU%  TOP FUNCTION\n"
		"web.service       4   87.3  handle (/srv/app/views.py:42)\n"
		"batch             2   12.5  crunch (/b.py:7)\n"
		"idle.service      1    0.0\n");
	free(text);
	free(rows);
	json_object_put(o);
	client_free(c);

	o = json_tokener_parse("{\"services\":[{\"processes\":1}]}");
	assert_int_equal(top_rows_from_json(o, &rows), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("{\"nothing\":[]}");
	assert_int_equal(top_rows_from_json(o, &rows), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("{\"services\":[]}");
	assert_int_equal(top_rows_from_json(o, &rows), 0);
	text = top_format(rows, 0, 80);
	assert_string_equal(text, "SERVICE  PROCS   CPU%  TOP FUNCTION\n(no Python services tracked yet)\n");
	free(text);
	free(rows);
	json_object_put(o);
}

static size_t utf8_cols(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static void test_top_width(void **state)
{
	const struct top_row rows[] = {
		{ "web.service", 4, 87.3, "Handler.handle_request (/srv/app/very/long/path/to/views.py:42)" },
		{ "a-really-long-service-name-from-a-container-0123456789abcdef", 12, 100.0, "f (/x.py:1)" },
		{ "caf\xc3\xa9.service", 1, 5.0, "r\xc3\xa9sum\xc3\xa9 (/srv/caf\xc3\xa9/\xc3\xa9t\xc3\xa9.py:3)" },
	};
	char *text;

	text = top_format(rows, 3, 100);
	/* a long function keeps its qualname and the end of its location */
	assert_non_null(strstr(text, "Handler.handle_request (...") );
	assert_non_null(strstr(text, "views.py:42)\n"));
	/* a long name is cut to the 40-column maximum */
	assert_non_null(strstr(text, "a-really-long-service-name-from-a-con...     12  100.0"));
	free(text);

	for (unsigned w = 30; w <= 200; w++) {
		char *line, *save = NULL;

		text = top_format(rows, 3, w);
		assert_non_null(text);
		assert_int_equal(count_lines(text), 4);
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (utf8_cols(line, strlen(line)) > w)
				fail_msg("width %u: line of %zu columns: %s", w, utf8_cols(line, strlen(line)), line);
			/* never a cut inside a UTF-8 sequence */
			assert_false(((unsigned char)line[strlen(line) - 1] & 0xc0) == 0xc0);
		}
		free(text);
	}
	/* narrow: the function column goes, the numbers stay */
	text = top_format(rows, 1, 30);
	assert_string_equal(text, "SERVICE      PROCS   CPU%\nweb.service      4   87.3\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_ok),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_get_json_reports_one_line),
		cmocka_unit_test(test_timeout_is_transfer_failure),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_escape_roundtrip),
		cmocka_unit_test(test_server_urls),
		cmocka_unit_test(test_client_opts),
		cmocka_unit_test(test_top_rows_sorted),
		cmocka_unit_test(test_top_width),
	};

	return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
