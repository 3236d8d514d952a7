/* Unit tests of the daemon's rolling aggregates: per-service and per-process windows, caps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agg.h"

static uint32_t stack_of(struct profile *src, const char *leaf, uint32_t *ids)
{
	ids[0] = prof_frame_id(src, "main", "app.py", 1, PROF_FRAME_PYTHON);
	ids[1] = prof_frame_id(src, leaf, "app.py", 10, PROF_FRAME_PYTHON);
	return 2;
}

static void count_row(const struct agg_entity_info *i, void *ctx)
{
	int *rows = ctx;

	(*rows)++;
}

static void test_service_and_process_windows(void **state)
{
	struct agg_opts o = { .slot_seconds = 10, .window_seconds = 60, .period_ns = 10000000 };
	struct agg *a = agg_new(&o);
	struct profile *src = prof_new(PROF_UNIT_SAMPLES, 10000000), *p;
	uint32_t ids[2], n;
	int rows = 0;

	assert_non_null(a);
	assert_int_equal(agg_process_add(a, 100, "a.service"), 0);
	assert_int_equal(agg_process_add(a, 101, "a.service"), 0);
	assert_int_equal(agg_process_add(a, 200, "b.service"), 0);
	n = stack_of(src, "hot", ids);
	assert_int_equal(agg_add(a, 100, src, ids, n, 30, 1000), 0);
	assert_int_equal(agg_add(a, 101, src, ids, n, 10, 1005), 0);
	n = stack_of(src, "other", ids);
	assert_int_equal(agg_add(a, 200, src, ids, n, 5, 1010), 0);
	assert_int_equal(agg_add(a, 999, src, ids, n, 5, 1010), -ENOENT);

	p = agg_profile(a, "a.service", 0, 60, 1010);
	assert_non_null(p);
	assert_int_equal(prof_total(p), 40);
	prof_free(p);
	p = agg_profile(a, NULL, 101, 60, 1010);
	assert_int_equal(prof_total(p), 10);
	prof_free(p);
	/* past the window the samples age out, lifetime counters stay */
	p = agg_profile(a, "a.service", 0, 60, 1200);
	assert_int_equal(prof_total(p), 0);
	prof_free(p);
	agg_foreach(a, 1, 1010, count_row, &rows);
	assert_int_equal(rows, 2 + 3);
	agg_process_gone(a, 100);
	assert_null(agg_service_of(a, 100));
	assert_string_equal(agg_service_of(a, 101), "a.service");
	assert_null(agg_profile(a, "nope", 0, 60, 1010));
	prof_free(src);
	agg_free(a);
}

/* A window shorter than the ring reaches back `seconds` even when the newest slot has only just
 * begun (a 10 s window asked 0.3 s into a slot must not hold 0.3 s of samples). */
static void test_short_window_spans_the_slot_boundary(void **state)
{
	struct agg_opts o = { .slot_seconds = 10, .window_seconds = 60, .period_ns = 10000000 };
	struct agg *a = agg_new(&o);
	struct profile *src = prof_new(PROF_UNIT_SAMPLES, 10000000), *p;
	uint32_t ids[2], n;

	assert_int_equal(agg_process_add(a, 100, "a.service"), 0);
	n = stack_of(src, "hot", ids);
	assert_int_equal(agg_add(a, 100, src, ids, n, 50, 1015), 0); /* slot 1010-1019 */
	assert_int_equal(agg_add(a, 100, src, ids, n, 40, 1019), 0);
	assert_int_equal(agg_add(a, 100, src, ids, n, 3, 1020), 0);  /* the next slot, just begun */
	assert_int_equal(agg_add(a, 100, src, ids, n, 7, 990), 0);   /* older than 10 s */
	p = agg_profile(a, "a.service", 0, 10, 1020);
	assert_int_equal(prof_total(p), 93);
	prof_free(p);
	/* at the end of a slot, the window still holds the slot before it (one slot more than asked) */
	p = agg_profile(a, "a.service", 0, 10, 1029);
	assert_int_equal(prof_total(p), 93);
	prof_free(p);
	p = agg_profile(a, "a.service", 0, 10, 1031);
	assert_int_equal(prof_total(p), 3);
	prof_free(p);
	prof_free(src);
	agg_free(a);
}

static void test_caps_are_counted(void **state)
{
	struct agg_opts o = { .max_services = 1, .max_processes = 1, .period_ns = 1 };
	struct agg *a = agg_new(&o);
	struct profile *src = prof_new(PROF_UNIT_SAMPLES, 1);
	struct agg_stats st;
	uint32_t ids[2], n = stack_of(src, "x", ids);

	assert_int_equal(agg_process_add(a, 1, "s"), 0);
	assert_int_equal(agg_process_add(a, 2, "s"), -ENOSPC);
	assert_int_equal(agg_process_add(a, 3, "t"), -ENOSPC);
	assert_int_equal(agg_add(a, 2, src, ids, n, 7, 5), -ENOENT);
	agg_get_stats(a, &st);
	assert_int_equal(st.dropped_process_cap, 7);
	assert_int_equal(st.services, 1);
	prof_free(src);
	agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_and_process_windows),
		cmocka_unit_test(test_short_window_spans_the_slot_boundary),
		cmocka_unit_test(test_caps_are_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
