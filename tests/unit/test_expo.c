/* Unit tests for the Prometheus text exposition writer: exact text for each metric kind,
 * escaping, value formatting, refusal of invalid input, and promtool's verdict on a full page. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "expo.h"

static void test_counter_and_gauge(void **state)
{
	struct expo *e = expo_new();
	struct expo_label l[] = { { "service", "a.service" }, { "mode", "user" } };

	assert_non_null(e);
	assert_int_equal(expo_family(e, "pyrometer_cpu_seconds_total", EXPO_COUNTER,
				     "CPU time sampled per service."), 0);
	assert_int_equal(expo_value(e, l, 2, 12.5), 0);
	assert_int_equal(expo_value(e, l, 1, 3), 0);
	assert_int_equal(expo_family(e, "pyrometer_processes", EXPO_GAUGE, "Tracked processes."), 0);
	assert_int_equal(expo_value(e, NULL, 0, 42), 0);
	assert_int_equal(expo_family(e, "pyrometer_drops_total", EXPO_COUNTER, NULL), 0);
	assert_int_equal(expo_value_u64(e, NULL, 0, UINT64_MAX), 0);
	assert_string_equal(expo_data(e, NULL),
		"# HELP pyrometer_cpu_seconds_total CPU time sampled per service.\n"
		"# TYPE pyrometer_cpu_seconds_total counter\n"
		"pyrometer_cpu_seconds_total{service=\"a.service\",mode=\"user\"} 12.5\n"
		"pyrometer_cpu_seconds_total{service=\"a.service\"} 3\n"
		"# HELP pyrometer_processes Tracked processes.\n"
		"# TYPE pyrometer_processes gauge\n"
		"pyrometer_processes 42\n"
		"# TYPE pyrometer_drops_total counter\n"
		"pyrometer_drops_total 18446744073709551615\n");
	expo_free(e);
}

static void test_histogram(void **state)
{
	struct expo *e = expo_new();
	struct expo_label l[] = { { "service", "web" } };
	double bounds[] = { 0.001, 0.01, 0.1, 1 };
	uint64_t counts[] = { 2, 0, 5, 1, 3 };

	assert_int_equal(expo_family(e, "pyrometer_query_duration_seconds", EXPO_HISTOGRAM,
				     "Query latency."), 0);
	assert_int_equal(expo_histogram(e, l, 1, bounds, counts, 4, 7.25), 0);
	assert_int_equal(expo_histogram(e, NULL, 0, bounds, counts, 0, 0), 0);
	assert_string_equal(expo_data(e, NULL),
		"# HELP pyrometer_query_duration_seconds Query latency.\n"
		"# TYPE pyrometer_query_duration_seconds histogram\n"
		"pyrometer_query_duration_seconds_bucket{service=\"web\",le=\"0.001\"} 2\n"
		"pyrometer_query_duration_seconds_bucket{service=\"web\",le=\"0.01\"} 2\n"
		"pyrometer_query_duration_seconds_bucket{service=\"web\",le=\"0.1\"} 7\n"
		"pyrometer_query_duration_seconds_bucket{service=\"web\",le=\"1\"} 8\n"
		"pyrometer_query_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 11\n"
		"pyrometer_query_duration_seconds_sum{service=\"web\"} 7.25\n"
		"pyrometer_query_duration_seconds_count{service=\"web\"} 11\n"
		"pyrometer_query_duration_seconds_bucket{le=\"+Inf\"} 2\n"
		"pyrometer_query_duration_seconds_sum 0\n"
		"pyrometer_query_duration_seconds_count 2\n");
	expo_free(e);
}

static void test_escaping(void **state)
{
	struct expo *e = expo_new();
	struct expo_label l[] = { { "service", "a\\b\"c\nd" } };
	struct expo_label bad_utf8[] = { { "service", "x\xff\xc0\xafy\xe2\x82\xac" } };

	assert_int_equal(expo_family(e, "m", EXPO_GAUGE, "Line one\nback\\slash \"quoted\""), 0);
	assert_int_equal(expo_value(e, l, 1, 1), 0);
	assert_int_equal(expo_value(e, bad_utf8, 1, 2), 0);
	assert_string_equal(expo_data(e, NULL),
		"# HELP m Line one\\nback\\\\slash \"quoted\"\n"
		"# TYPE m gauge\n"
		"m{service=\"a\\\\b\\\"c\\nd\"} 1\n"
		"m{service=\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xe2\x82\xac\"} 2\n");
	expo_free(e);
}

static void test_format_value(void **state)
{
	static const struct { double v; const char *want; } cases[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 1, "1" },
		{ -3, "-3" },
		{ 1e15, "1000000000000000" },
		{ 123456789012, "123456789012" },
		{ 0.1, "0.1" },
		{ 2.5e-7, "2.5e-07" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 1e300, "1e+300" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 12.75, "12.75" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expo_format_value(cases[i].v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
		if (strtod(buf, NULL) != cases[i].v)
			fail_msg("%s does not round-trip", buf);
	}
	expo_format_value(NAN, buf, sizeof(buf));
	assert_string_equal(buf, "NaN");
	expo_format_value(INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "+Inf");
	expo_format_value(-INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "-Inf");
}

static void test_names(void **state)
{
	static const char *good_metric[] = { "a", "_x", "pyrometer_cpu_seconds_total", "ns:rule:x", "A9" };
	static const char *bad_metric[] = { "", "9a", "a-b", "a b", "a.b", "é" };
	static const char *good_label[] = { "service", "_x", "le", "a9" };
	static const char *bad_label[] = { "", "__name__", "__x", "9a", "a:b", "a-b" };

	for (size_t i = 0; i < sizeof(good_metric) / sizeof(*good_metric); i++)
		assert_true(expo_valid_metric_name(good_metric[i]));
	for (size_t i = 0; i < sizeof(bad_metric) / sizeof(*bad_metric); i++)
		assert_false(expo_valid_metric_name(bad_metric[i]));
	for (size_t i = 0; i < sizeof(good_label) / sizeof(*good_label); i++)
		assert_true(expo_valid_label_name(good_label[i]));
	for (size_t i = 0; i < sizeof(bad_label) / sizeof(*bad_label); i++)
		assert_false(expo_valid_label_name(bad_label[i]));
	assert_false(expo_valid_metric_name(NULL));
}

/* Each misuse is refused, and the error sticks until expo_reset(). */
static void test_refusals(void **state)
{
	struct expo *e = expo_new();
	struct expo_label le[] = { { "le", "1" } };
	struct expo_label bad[] = { { "a-b", "1" } };
	struct expo_label dup[] = { { "a", "1" }, { "a", "2" } };
	double bounds_bad[] = { 1, 1 };
	uint64_t counts[] = { 0, 0, 0 };

	assert_int_equal(expo_family(e, "no_suffix", EXPO_COUNTER, "x"), -EINVAL);
	assert_int_equal(expo_value(e, NULL, 0, 1), -EINVAL); /* sticky */
	assert_null(expo_data(e, NULL));
	assert_null(expo_steal(e, NULL));

#define FRESH() do { expo_reset(e); assert_int_equal(expo_error(e), 0); } while (0)
	FRESH();
	assert_int_equal(expo_value(e, NULL, 0, 1), -EINVAL); /* no family */
	FRESH();
	assert_int_equal(expo_family(e, "bad name", EXPO_GAUGE, NULL), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "x_total", EXPO_COUNTER, NULL), 0);
	assert_int_equal(expo_value(e, NULL, 0, -1), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "x_total", EXPO_COUNTER, NULL), 0);
	assert_int_equal(expo_value(e, NULL, 0, NAN), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_value(e, bad, 1, 1), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_value(e, dup, 2, 1), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), -EINVAL); /* duplicate family */
	FRESH();
	assert_int_equal(expo_family(e, "h", EXPO_HISTOGRAM, NULL), 0);
	assert_int_equal(expo_value(e, NULL, 0, 1), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "h", EXPO_HISTOGRAM, NULL), 0);
	assert_int_equal(expo_histogram(e, le, 1, NULL, counts, 0, 0), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "h", EXPO_HISTOGRAM, NULL), 0);
	assert_int_equal(expo_histogram(e, NULL, 0, bounds_bad, counts, 2, 0), -EINVAL);
	FRESH();
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_histogram(e, NULL, 0, NULL, counts, 0, 0), -EINVAL);
	FRESH();
	/* The page cap holds. */
	for (int i = 0; i < EXPO_MAX_FAMILIES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "g%d", i);
		assert_int_equal(expo_family(e, name, EXPO_GAUGE, NULL), 0);
	}
	assert_int_equal(expo_family(e, "one_more", EXPO_GAUGE, NULL), -E2BIG);
#undef FRESH
	expo_free(e);
	expo_free(NULL);
}

static void test_steal_and_reuse(void **state)
{
	struct expo *e = expo_new();
	size_t len;
	char *page;

	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_value(e, NULL, 0, 1), 0);
	page = expo_steal(e, &len);
	assert_non_null(page);
	assert_int_equal(len, strlen("# TYPE g gauge\ng 1\n"));
	assert_string_equal(page, "# TYPE g gauge\ng 1\n");
	free(page);
	/* The family list went with the page: "g" may be begun again. */
	assert_int_equal(expo_family(e, "g", EXPO_GAUGE, NULL), 0);
	assert_int_equal(expo_value(e, NULL, 0, 2), 0);
	assert_string_equal(expo_data(e, &len), "# TYPE g gauge\ng 2\n");
	expo_free(e);
}

/* A realistic page, checked by the real promtool when it is installed. */
static void test_promtool(void **state)
{
	struct expo *e = expo_new();
	struct expo_label svc[] = { { "service", "a.service" } };
	struct expo_label odd[] = { { "service", "gunicorn:my\"app\\\n" } };
	struct expo_label info[] = { { "version", "0.1" }, { "revision", "abc" } };
	double b[] = { 0.005, 0.05, 0.5 };
	uint64_t c[] = { 1, 2, 3, 4 };
	char path[] = "/tmp/test_expo_XXXXXX", cmd[256];
	const char *data;
	size_t len;
	FILE *f;
	int fd, rc;

	expo_family(e, "pyrometer_build_info", EXPO_GAUGE, "Build information.");
	expo_value(e, info, 2, 1);
	expo_family(e, "pyrometer_cpu_samples_total", EXPO_COUNTER, "CPU samples per service.");
	expo_value(e, svc, 1, 1234);
	expo_value(e, odd, 1, 5);
	expo_family(e, "pyrometer_scan_duration_seconds", EXPO_HISTOGRAM, "Process scan time.");
	expo_histogram(e, NULL, 0, b, c, 3, 1.5);
	expo_family(e, "pyrometer_resident_memory_bytes", EXPO_GAUGE, "Daemon RSS.");
	expo_value(e, NULL, 0, 52428800);
	data = expo_data(e, &len);
	assert_non_null(data);

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		expo_free(e);
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fwrite(data, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s.out 2>&1", path, path);
	rc = system(cmd);
	if (rc != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s.out >&2", path);
		(void)!system(cmd);
	}
	snprintf(cmd, sizeof(cmd), "%s.out", path);
	unlink(cmd);
	unlink(path);
	expo_free(e);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_steal_and_reuse),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
