/* The record queue behind the ring-buffer copier (src/ringq.c): order, lengths and bytes kept,
 * early stop, the byte cap dropping (and counting) instead of growing, and a backlog's memory
 * given back once handed over. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ringq.h"

struct seen {
	size_t n, stop_after;
	char text[64][32];
};

static int collect(void *ctx, void *data, size_t len)
{
	struct seen *s = ctx;

	if (s->n < 64 && len < 32) {
		memcpy(s->text[s->n], data, len);
		s->text[s->n][len] = 0;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_order_and_bytes(void **state)
{
	struct recq q = { .max_bytes = 1 << 20 };
	struct seen s = { 0 };
	char rec[32];

	for (int i = 0; i < 40; i++) {
		int n = snprintf(rec, sizeof(rec), "record %d%.*s", i, i % 7, "xxxxxxx");

		assert_int_equal(recq_push(&q, rec, (size_t)n), 0);
	}
	assert_int_equal(recq_push(&q, "", 0), 0); /* an empty record is a record */
	assert_int_equal(recq_each(&q, collect, &s), 41);
	assert_int_equal(s.n, 41);
	assert_string_equal(s.text[0], "record 0");
	assert_string_equal(s.text[13], "record 13xxxxxx");
	assert_string_equal(s.text[39], "record 39xxxx");
	assert_string_equal(s.text[40], "");
	assert_int_equal(q.records, 41);
	assert_int_equal(q.dropped, 0);
	recq_free(&q);
}

static void test_early_stop(void **state)
{
	struct recq q = { .max_bytes = 1 << 20 };
	struct seen s = { .stop_after = 3 };

	for (int i = 0; i < 10; i++)
		assert_int_equal(recq_push(&q, "abc", 3), 0);
	assert_int_equal(recq_each(&q, collect, &s), 3);
	recq_free(&q);
}

static void test_cap_drops_and_counts(void **state)
{
	struct recq q = { .max_bytes = 4096 };
	char big[1000] = { 0 };
	int ok = 0, dropped = 0;

	for (int i = 0; i < 10; i++) {
		int rc = recq_push(&q, big, sizeof(big));

		if (rc == 0)
			ok++;
		else {
			assert_int_equal(rc, -ENOBUFS);
			dropped++;
		}
	}
	assert_int_equal(ok, 4); /* 4 x (4 + 1000, rounded to 1008) fit in 4096 */
	assert_int_equal(dropped, 6);
	assert_int_equal(q.dropped, 6);
	assert_true(q.cap <= 4096);
	/* once handed over and cleared, there is room again */
	recq_clear(&q);
	assert_int_equal(recq_push(&q, big, sizeof(big)), 0);
	recq_free(&q);
}

static void test_backlog_memory_is_returned(void **state)
{
	struct recq q = { .max_bytes = 64 << 20 };
	static char chunk[4096];

	for (int i = 0; i < 1024; i++) /* 4 MiB queued */
		assert_int_equal(recq_push(&q, chunk, sizeof(chunk)), 0);
	assert_true(q.cap >= 4u << 20);
	recq_clear(&q);
	assert_int_equal(q.cap, 0);
	assert_null(q.buf);
	assert_int_equal(recq_push(&q, chunk, 10), 0); /* and it grows again from nothing */
	assert_int_equal(q.len, 16);
	recq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_bytes),
		cmocka_unit_test(test_early_stop),
		cmocka_unit_test(test_cap_drops_and_counts),
		cmocka_unit_test(test_backlog_memory_is_returned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
