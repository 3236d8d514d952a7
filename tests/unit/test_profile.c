/* Unit tests for the in-memory profile (src/profile.c): interning, stack merging, caps, merge,
 * time window and frame labels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profile.h"

static void test_intern_dedups(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 10000000);
	int a, b;

	assert_non_null(p);
	a = prof_frame_id(p, "main", "/app/m.py", 10, PROF_FRAME_PYTHON);
	b = prof_frame_id(p, "main", "/app/m.py", 10, PROF_FRAME_PYTHON);
	assert_true(a >= 0);
	assert_int_equal(a, b);
	/* Each key component distinguishes. */
	assert_int_not_equal(a, prof_frame_id(p, "main", "/app/m.py", 11, PROF_FRAME_PYTHON));
	assert_int_not_equal(a, prof_frame_id(p, "main", "/app/x.py", 10, PROF_FRAME_PYTHON));
	assert_int_not_equal(a, prof_frame_id(p, "main", "/app/m.py", 10, PROF_FRAME_NATIVE));
	assert_int_not_equal(a, prof_frame_id(p, "mai", "/app/m.py", 10, PROF_FRAME_PYTHON));
	assert_int_equal(prof_nframes(p), 5);
	/* NULL file is the empty file. */
	assert_int_equal(prof_frame_id(p, "f", NULL, 0, PROF_FRAME_NATIVE),
			 prof_frame_id(p, "f", "", 0, PROF_FRAME_NATIVE));
	assert_string_equal(prof_frame_at(p, (uint32_t)a)->file, "/app/m.py");
	assert_int_equal(prof_frame_at(p, (uint32_t)a)->line, 10);
	assert_null(prof_frame_at(p, 1000));
	assert_int_equal(prof_period_ns(p), 10000000);
	prof_free(p);
}

static void test_intern_sanitizes_utf8(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	int a = prof_frame_id(p, "bad\xff" "name\xc3", "caf\xc3\xa9.py", 1, PROF_FRAME_PYTHON);

	assert_true(a >= 0);
	assert_string_equal(prof_frame_at(p, (uint32_t)a)->name, "bad\xef\xbf\xbdname\xef\xbf\xbd");
	assert_string_equal(prof_frame_at(p, (uint32_t)a)->file, "caf\xc3\xa9.py");
	/* The same malformed name, and its sanitized form, intern to the same frame. */
	assert_int_equal(a, prof_frame_id(p, "bad\xff" "name\xc3", "caf\xc3\xa9.py", 1, PROF_FRAME_PYTHON));
	assert_int_equal(a, prof_frame_id(p, "bad\xef\xbf\xbdname\xef\xbf\xbd", "caf\xc3\xa9.py", 1,
					  PROF_FRAME_PYTHON));
	/* Overlong encodings and surrogates are malformed too. */
	a = prof_frame_id(p, "\xc0\xaf\xed\xa0\x80", "", 0, PROF_FRAME_NATIVE);
	assert_string_equal(prof_frame_at(p, (uint32_t)a)->name,
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	prof_free(p);
}

static void test_add_merges_identical_stacks(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	uint32_t a = (uint32_t)prof_frame_id(p, "a", "", 0, PROF_FRAME_NATIVE);
	uint32_t b = (uint32_t)prof_frame_id(p, "b", "", 0, PROF_FRAME_NATIVE);
	uint32_t ab[] = { a, b }, ba[] = { b, a }, aa[] = { a };

	assert_int_equal(prof_add(p, ab, 2, 3), 0);
	assert_int_equal(prof_add(p, ab, 2, 4), 0);
	assert_int_equal(prof_add(p, ba, 2, 1), 0);
	assert_int_equal(prof_add(p, aa, 1, 10), 0);
	assert_int_equal(prof_nstacks(p), 3);
	assert_int_equal(prof_total(p), 18);
	assert_int_equal(prof_stack_at(p, 0)->value, 7);
	assert_int_equal(prof_stack_at(p, 0)->nframes, 2);
	assert_int_equal(prof_stack_at(p, 0)->frames[0], a);
	assert_int_equal(prof_stack_at(p, 1)->frames[0], b);
	assert_null(prof_stack_at(p, 3));
	prof_free(p);
}

static void test_add_rejects_bad_stacks(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	uint32_t a = (uint32_t)prof_frame_id(p, "a", "", 0, PROF_FRAME_NATIVE);
	uint32_t bad[] = { a, 7 };

	assert_int_equal(prof_add(p, bad, 2, 1), -EINVAL);
	assert_int_equal(prof_add(p, &a, 0, 1), -EINVAL);
	assert_int_equal(prof_nstacks(p), 0);
	assert_int_equal(prof_total(p), 0);
	prof_free(p);
}

static void test_stack_cap_counts_drops(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_NANOSECONDS, 999);
	uint32_t ids[4];

	assert_int_equal(prof_period_ns(p), 0); /* period only applies to sample counts */
	for (int i = 0; i < 4; i++)
		ids[i] = (uint32_t)prof_frame_id(p, (char[]){ (char)('a' + i), 0 }, "", 0, 1);
	prof_set_max_stacks(p, 2);
	assert_int_equal(prof_add(p, &ids[0], 1, 5), 0);
	assert_int_equal(prof_add(p, &ids[1], 1, 6), 0);
	assert_int_equal(prof_add(p, &ids[2], 1, 7), -E2BIG);
	assert_int_equal(prof_add(p, &ids[3], 1, 8), -E2BIG);
	/* Stacks already present keep merging at the cap. */
	assert_int_equal(prof_add(p, &ids[0], 1, 1), 0);
	assert_int_equal(prof_nstacks(p), 2);
	assert_int_equal(prof_total(p), 12);
	assert_int_equal(prof_dropped(p), 15);
	prof_free(p);
}

static void test_many_frames_and_stacks(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 0);
	char name[32];
	uint32_t st[3];

	/* Enough to force several rehashes of both tables. */
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(prof_frame_id(p, name, "x.py", i, PROF_FRAME_PYTHON), i);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(prof_frame_id(p, name, "x.py", i, PROF_FRAME_PYTHON), i);
	}
	for (uint32_t round = 0; round < 2; round++)
		for (uint32_t i = 0; i < 10000; i++) {
			st[0] = i, st[1] = (i * 7) % 20000, st[2] = 19999 - i;
			assert_int_equal(prof_add(p, st, 3, 1), 0);
		}
	assert_int_equal(prof_nstacks(p), 10000);
	assert_int_equal(prof_total(p), 20000);
	for (size_t i = 0; i < prof_nstacks(p); i++)
		assert_int_equal(prof_stack_at(p, i)->value, 2);
	prof_free(p);
}

static void test_merge(void **state)
{
	struct profile *a = prof_new(PROF_UNIT_SAMPLES, 1000), *b = prof_new(PROF_UNIT_SAMPLES, 1000);
	uint32_t s[2];

	/* Same frames interned in different orders. */
	s[0] = (uint32_t)prof_frame_id(a, "main", "m.py", 1, PROF_FRAME_PYTHON);
	s[1] = (uint32_t)prof_frame_id(a, "work", "w.py", 2, PROF_FRAME_PYTHON);
	assert_int_equal(prof_add(a, s, 2, 10), 0);
	prof_set_time(a, 1000, 500);

	prof_frame_id(b, "other", "o.py", 3, PROF_FRAME_PYTHON);
	s[1] = (uint32_t)prof_frame_id(b, "work", "w.py", 2, PROF_FRAME_PYTHON);
	s[0] = (uint32_t)prof_frame_id(b, "main", "m.py", 1, PROF_FRAME_PYTHON);
	assert_int_equal(prof_add(b, s, 2, 5), 0);
	assert_int_equal(prof_add(b, s, 1, 2), 0);
	prof_set_max_stacks(b, 2);
	assert_int_equal(prof_add(b, &s[1], 1, 4), -E2BIG);
	prof_set_time(b, 800, 1000);

	assert_int_equal(prof_merge(a, b), 0);
	assert_int_equal(prof_nframes(a), 3);
	assert_int_equal(prof_nstacks(a), 2);
	assert_int_equal(prof_total(a), 17);
	assert_int_equal(prof_stack_at(a, 0)->value, 15);
	assert_int_equal(prof_stack_at(a, 1)->value, 2);
	assert_int_equal(prof_dropped(a), 4);
	assert_int_equal(prof_start_ns(a), 800);
	assert_int_equal(prof_duration_ns(a), 1000);
	/* Merging into a capped profile merges what exists, counts new stacks as dropped. */
	s[0] = (uint32_t)prof_frame_id(a, "work", "w.py", 2, PROF_FRAME_PYTHON);
	assert_int_equal(prof_add(a, s, 1, 3), 0);
	prof_set_max_stacks(b, 1);
	assert_int_equal(prof_merge(b, a), 0);
	assert_int_equal(prof_nstacks(b), 2);
	assert_int_equal(prof_total(b), 7 + 17);
	assert_int_equal(prof_dropped(b), 4 + 4 + 3);
	prof_free(a);
	prof_free(b);
}

static void test_merge_time_into_empty(void **state)
{
	struct profile *a = prof_new(PROF_UNIT_BYTES, 0), *b = prof_new(PROF_UNIT_BYTES, 0);

	prof_set_time(b, 5000, 20);
	assert_int_equal(prof_merge(a, b), 0);
	assert_int_equal(prof_start_ns(a), 5000);
	assert_int_equal(prof_duration_ns(a), 20);
	prof_set_time(b, 5100, 50);
	assert_int_equal(prof_merge(a, b), 0);
	assert_int_equal(prof_start_ns(a), 5000);
	assert_int_equal(prof_duration_ns(a), 150);
	assert_int_equal(prof_unit(a), PROF_UNIT_BYTES);
	prof_free(a);
	prof_free(b);
}

static void test_frame_label(void **state)
{
	static const struct {
		struct prof_frame f;
		const char *want;
	} cases[] = {
		{ { "main", "/app/m.py", 10, PROF_FRAME_PYTHON }, "main (/app/m.py:10)" },
		{ { "Cls.meth", "/app/m.py", 0, PROF_FRAME_PYTHON }, "Cls.meth (/app/m.py)" },
		{ { "<module>", "", 3, PROF_FRAME_PYTHON }, "<module>" },
		{ { "memcpy", "/lib/libc.so.6", 0, PROF_FRAME_NATIVE }, "memcpy" },
		{ { "do_sys_poll", "", 0, PROF_FRAME_KERNEL }, "do_sys_poll" },
		{ { "[truncated]", "", 0, PROF_FRAME_MARKER }, "[truncated]" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		prof_frame_label(&cases[i].f, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	prof_frame_label(&cases[0].f, buf, 5);
	assert_string_equal(buf, "main");
	prof_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_dedups),
		cmocka_unit_test(test_intern_sanitizes_utf8),
		cmocka_unit_test(test_add_merges_identical_stacks),
		cmocka_unit_test(test_add_rejects_bad_stacks),
		cmocka_unit_test(test_stack_cap_counts_drops),
		cmocka_unit_test(test_many_frames_and_stacks),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_time_into_empty),
		cmocka_unit_test(test_frame_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
