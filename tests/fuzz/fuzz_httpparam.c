/* Fuzz target: query-parameter checks of the HTTP shell and the API (http_parse_int,
 * http_str_ok, api_parse_uint, api_check_service) and route lookup, each against a plain
 * reference written from its contract in include/http.h and include/api.h. Input: i64 min,
 * i64 max, then FUZZ_SEP-separated parameter value, method and path. */
#include <ctype.h>
#include <limits.h>

#include "api.h"
#include "fuzz.h"
#include "http.h"
#include "service.h"

/* "-?[0-9]{1,18}" in [min, max]: the grammar http_parse_int documents. */
static bool ref_int(const char *s, long min, long max, long *out)
{
	const char *d = *s == '-' ? s + 1 : s;
	size_t n = strlen(d);
	char *end;
	long v;

	if (!n || n > 18 || strspn(d, "0123456789") != n)
		return false;
	v = strtol(s, &end, 10);
	*out = v;
	return v >= min && v <= max;
}

/* "[0-9]{1,10}" in [min, max]. */
static bool ref_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	size_t n = strlen(s);
	unsigned long v;

	if (!n || n > 10 || strspn(s, "0123456789") != n)
		return false;
	v = strtoul(s, NULL, 10);
	*out = v;
	return v >= min && v <= max;
}

static void check_route(const char *method, const char *path)
{
	static const struct http_route routes[] = {
		{ "GET", "/healthz", NULL, NULL, 0 }, { "GET", "/", NULL, NULL, 0 },
		{ "GET", "/api/v1/processes/", NULL, NULL, 0 }, { "POST", "/api/v1/reload", NULL, NULL, 0 },
	};
	const struct http_route *r;
	bool known = false;

	r = http_route_find(routes, 4, method, path, &known);
	if (r) {
		size_t n = strlen(r->path);

		FUZZ_CHECK(known);
		FUZZ_CHECK(!strcmp(r->method, method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET")));
		FUZZ_CHECK(r->path[n - 1] == '/' ? !strncmp(path, r->path, n) : !strcmp(path, r->path));
	}
	if (!strcmp(method, "GET") && !strncmp(path, "/api/v1/processes/", 18))
		FUZZ_CHECK(r == &routes[2]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	long min = (long)fuzz_uint(&in, 8), max = (long)fuzz_uint(&in, 8), v = 0, rv = 0;
	unsigned long u = 0, ru = 0, umin = (unsigned long)min % 5000000, umax = (unsigned long)max % 5000000;
	char *s = fuzz_field(&in, NULL), *method = fuzz_field(&in, NULL), *path = fuzz_field(&in, NULL);
	bool ok;

	ok = http_parse_int(s, min, max, &v) == 0;
	FUZZ_CHECK(ok == ref_int(s, min, max, &rv));
	FUZZ_CHECK(!ok || (v == rv && v >= min && v <= max));
	ok = http_parse_int(s, LONG_MIN, LONG_MAX, &v) == 0;
	FUZZ_CHECK(ok == ref_int(s, LONG_MIN, LONG_MAX, &rv));

	ok = api_parse_uint(s, umin, umax, &u) == 0;
	FUZZ_CHECK(ok == ref_uint(s, umin, umax, &ru));
	FUZZ_CHECK(!ok || (u == ru && u >= umin && u <= umax));

	/* The API's service check is the shell's name charset with the service length limit. */
	ok = api_check_service(s) == 0;
	FUZZ_CHECK(ok == http_str_ok(s, HTTP_CHARSET_NAME, SVC_NAME_MAX - 1));
	ok = http_str_ok(s, HTTP_CHARSET_WORD, 16);
	for (const char *p = s; ok && *p; p++)
		FUZZ_CHECK(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_');
	FUZZ_CHECK(!ok || (strlen(s) >= 1 && strlen(s) <= 16));
	FUZZ_CHECK(!http_str_ok(NULL, HTTP_CHARSET_NAME, 10));

	check_route(method, path);
	check_route("HEAD", path);
	free(s);
	free(method);
	free(path);
	return 0;
}
