/* Unit tests of the verdict rule: one table row per verdict plus the edges of the thresholds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"

#define MS 1000000ULL
#define S  1000000000ULL

struct row {
	const char *what;
	uint64_t ns[VC_N];
	uint64_t window_ns;
	enum verdict_kind want;
	enum verdict_cat dominant;
};

static const struct row rows[] = {
	{ "pure CPU loop", { [VC_CPU] = 10 * S, [VC_RUNQ] = 50 * MS }, 10 * S, VK_CPU_BOUND, VC_CPU },
	{ "write+fsync loop", { [VC_CPU] = 1 * S, [VC_DISK] = 8 * S }, 10 * S, VK_IO_DISK, VC_DISK },
	{ "client of a slow server", { [VC_CPU] = 100 * MS, [VC_NET] = 9 * S }, 10 * S, VK_IO_NET, VC_NET },
	{ "threads on one lock", { [VC_CPU] = 2 * S, [VC_LOCK] = 27 * S, [VC_SLEEP] = 10 * S }, 10 * S,
	  VK_LOCK_BOUND, VC_LOCK },
	{ "three hogs on one CPU", { [VC_CPU] = 10 * S, [VC_RUNQ] = 20 * S }, 10 * S, VK_CPU_STARVED, VC_RUNQ },
	{ "sleeper", { [VC_CPU] = 1 * MS, [VC_SLEEP] = 10 * S }, 10 * S, VK_IDLE, VC_SLEEP },
	{ "idle event loop", { [VC_CPU] = 20 * MS, [VC_POLL] = 10 * S, [VC_WAIT] = 40 * S }, 10 * S, VK_IDLE,
	  VC_WAIT },
	{ "half CPU, half disk", { [VC_CPU] = 4 * S, [VC_DISK] = 4 * S, [VC_NET] = 2 * S }, 10 * S, VK_MIXED,
	  VC_CPU },
	{ "nothing at all", { 0 }, 10 * S, VK_IDLE, VC_N },
	/* waits that are not busy never make a service I/O-bound, however long */
	{ "pipes and sleeps", { [VC_CPU] = 1 * S, [VC_PIPE] = 100 * S, [VC_OTHER] = 50 * S }, 10 * S,
	  VK_CPU_BOUND, VC_CPU },
	/* exactly at the thresholds */
	{ "busy at the idle edge", { [VC_CPU] = 500 * MS }, 10 * S, VK_CPU_BOUND, VC_CPU },
	{ "just below the idle edge", { [VC_CPU] = 499 * MS }, 10 * S, VK_IDLE, VC_CPU },
	{ "dominant at exactly half", { [VC_NET] = 5 * S, [VC_CPU] = 3 * S, [VC_DISK] = 2 * S }, 10 * S,
	  VK_IO_NET, VC_NET },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct verdict_in in = { .window_ns = rows[i].window_ns };
		struct verdict v;

		memcpy(in.ns, rows[i].ns, sizeof(in.ns));
		assert_int_equal(verdict_decide(&in, &v), 0);
		if (v.kind != rows[i].want || v.dominant != rows[i].dominant)
			fail_msg("%s: got %s (dominant %s), want %s (%s)", rows[i].what, verdict_kind_name(v.kind),
				 verdict_cat_name(v.dominant), verdict_kind_name(rows[i].want),
				 verdict_cat_name(rows[i].dominant));
	}
}

static void test_shares(void **state)
{
	struct verdict_in in = { .ns = { [VC_CPU] = 3 * S, [VC_DISK] = 1 * S, [VC_SLEEP] = 4 * S },
				 .window_ns = 2 * S };
	struct verdict v;
	double sum = 0;

	assert_int_equal(verdict_decide(&in, &v), 0);
	assert_int_equal(v.kind, VK_CPU_BOUND);
	assert_int_equal(v.second, VC_DISK);
	assert_float_equal(v.share[VC_CPU], 3.0 / 8, 1e-9);
	assert_float_equal(v.share[VC_SLEEP], 0.5, 1e-9);
	assert_float_equal(v.busy_share[VC_CPU], 0.75, 1e-9);
	assert_float_equal(v.busy_share[VC_DISK], 0.25, 1e-9);
	assert_float_equal(v.busy_threads, 2.0, 1e-9);
	for (int c = 0; c < VC_N; c++)
		sum += v.share[c];
	assert_float_equal(sum, 1.0, 1e-9);
}

static void test_zero_window_and_names(void **state)
{
	struct verdict_in in = { .ns = { [VC_CPU] = S } };
	struct verdict v;

	assert_int_equal(verdict_decide(&in, &v), -EINVAL);
	assert_string_equal(verdict_kind_name(VK_IO_DISK), "io-bound:disk");
	assert_string_equal(verdict_kind_name(VK_IO_NET), "io-bound:network");
	assert_string_equal(verdict_kind_name(VK_N), "?");
	assert_string_equal(verdict_cat_name(VC_WAIT), "wait");
	assert_int_equal(verdict_of_cat(VC_SLEEP), VK_IDLE);
	assert_int_equal(verdict_of_cat(VC_RUNQ), VK_CPU_STARVED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_zero_window_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
