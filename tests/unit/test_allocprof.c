/* Unit tests of the `pyrometer alloc` report: merging by stack, grouping by site, shares, live
 * bytes, the stack cap, and the three output forms. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "allocprof.h"

static void add(struct allocprof *a, const char *leaf, const char *caller, uint64_t bytes, uint64_t live)
{
	const char *frames[] = { leaf, caller, "<module> (app.py:1)" };
	struct allocprof_vals v = { .samples = 1, .bytes = bytes, .count = bytes / 100, .live_bytes = live,
				    .live_count = live / 100 };

	assert_int_equal(allocprof_add(a, frames, 3, &v), 0);
}

static void test_sites_and_stacks(void **state)
{
	struct allocprof *a = allocprof_new(0);
	struct allocprof_row *rows;
	struct allocprof_vals t;
	ssize_t n;

	/* site_big is reached from two callers: two stacks, one site */
	add(a, "site_big (app.py:10)", "handler (app.py:30)", 4000, 0);
	add(a, "site_big (app.py:10)", "worker (app.py:40)", 2000, 1000);
	add(a, "site_small (app.py:20)", "handler (app.py:30)", 3000, 3000);
	add(a, "site_big (app.py:10)", "handler (app.py:30)", 1000, 0); /* merges */
	n = allocprof_rows(a, ALLOCPROF_BY_STACK, ALLOCPROF_BYTES, &rows);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].stack, "<module> (app.py:1);handler (app.py:30);site_big (app.py:10)");
	assert_int_equal(rows[0].v.bytes, 5000);
	assert_int_equal(rows[0].v.samples, 2);
	free(rows);
	n = allocprof_rows(a, ALLOCPROF_BY_SITE, ALLOCPROF_BYTES, &rows);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].site, "site_big (app.py:10)");
	assert_int_equal(rows[0].v.bytes, 7000);
	assert_int_equal(rows[1].v.bytes, 3000);
	free(rows);
	/* by live bytes the order flips */
	n = allocprof_rows(a, ALLOCPROF_BY_SITE, ALLOCPROF_LIVE_BYTES, &rows);
	assert_string_equal(rows[0].site, "site_small (app.py:20)");
	free(rows);
	allocprof_totals(a, &t);
	assert_int_equal(t.bytes, 10000);
	assert_int_equal(t.live_bytes, 4000);
	allocprof_free(a);
}

static void test_no_stack_and_cap(void **state)
{
	struct allocprof *a = allocprof_new(2);
	struct allocprof_vals v = { .samples = 1, .bytes = 10 };
	struct allocprof_row *rows;
	char leaf[32];
	ssize_t n;

	assert_int_equal(allocprof_add(a, NULL, 0, &v), 0);
	for (int i = 0; i < 5; i++) {
		const char *frames[1] = { leaf };

		snprintf(leaf, sizeof(leaf), "f%d (x.py:%d)", i, i);
		assert_int_equal(allocprof_add(a, frames, 1, &v), 0);
	}
	n = allocprof_rows(a, ALLOCPROF_BY_STACK, ALLOCPROF_BYTES, &rows);
	assert_int_equal(n, 3); /* [no Python stack], f0, [other stacks] */
	assert_string_equal(rows[0].site, "[other stacks]");
	assert_int_equal(rows[0].v.bytes, 40);
	assert_string_equal(rows[1].site, "[no Python stack]");
	free(rows);
	allocprof_free(a);
}

static char *capture(struct allocprof *a, int which)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (which == 0)
		assert_int_equal(allocprof_print(a, ALLOCPROF_BY_SITE, 1, f), 0);
	else
		assert_int_equal(allocprof_folded(a, ALLOCPROF_LIVE_BYTES, f), 0);
	fclose(f);
	return buf;
}

static void test_outputs(void **state)
{
	struct allocprof *a = allocprof_new(0);
	json_object *j, *sites, *s0, *v;
	char *text;

	add(a, "site_big (app.py:10)", "main (app.py:30)", 2 << 20, 0);
	add(a, "site_small (app.py:20)", "main (app.py:30)", 1 << 20, 512 << 10);
	text = capture(a, 0);
	assert_non_null(strstr(text, "BYTES"));
	assert_non_null(strstr(text, "2.0 MiB   66.7"));
	assert_non_null(strstr(text, "site_big (app.py:10)"));
	assert_null(strstr(text, "site_small (app.py:20)")); /* top 1 */
	assert_non_null(strstr(text, "(1 more sites)"));
	free(text);
	text = capture(a, 1);
	assert_string_equal(text, "<module> (app.py:1);main (app.py:30);site_small (app.py:20) 524288\n");
	free(text);
	j = allocprof_json(a);
	sites = json_object_object_get(j, "sites");
	assert_int_equal(json_object_array_length(sites), 2);
	s0 = json_object_array_get_idx(sites, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(s0, "site")), "site_big (app.py:10)");
	v = json_object_object_get(s0, "share");
	assert_true(json_object_get_double(v) > 0.666 && json_object_get_double(v) < 0.667);
	assert_int_equal(json_object_array_length(json_object_object_get(j, "stacks")), 2);
	json_object_put(j);
	allocprof_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sites_and_stacks),
		cmocka_unit_test(test_no_stack_and_cap),
		cmocka_unit_test(test_outputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
