/* Unit tests for N+1 detection: a loop of lookups is one finding with its repeat count, a
 * batched query or a short loop is none, the time floor and thresholds hold, bursts split on
 * idle gaps and threads, same-parameter repeats are "cacheable", tables stay bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nplusone.h"

#define MS 1000000ULL

struct seen {
	struct np_finding f[64];
	int n;
};

static void collect(const struct np_finding *f, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 64)
		s->f[s->n++] = *f;
}

static struct seen findings(struct np *np)
{
	struct seen s = { .n = 0 };

	np_foreach(np, collect, &s);
	return s;
}

static const struct np_finding *find(const struct seen *s, enum np_kind kind)
{
	for (int i = 0; i < s->n; i++)
		if (s->f[i].kind == kind)
			return &s->f[i];
	return NULL;
}

/* n queries of fp from callsite on (pid, tid), each `each` long, `gap` apart, params i % nparams. */
static uint64_t loop(struct np *np, uint32_t tid, uint64_t t0, int n, uint64_t fp, uint64_t callsite,
		     uint64_t each, uint64_t gap, int nparams)
{
	uint64_t t = t0;

	for (int i = 0; i < n; i++) {
		struct np_query q = { .pid = 100, .tid = tid, .service = 3, .fingerprint = fp,
				      .params_hash = nparams ? 1000 + (uint64_t)(i % nparams) : 0,
				      .callsite = callsite, .start_ns = t, .end_ns = t + each };

		np_add(np, &q);
		t += each + gap;
	}
	return t;
}

static void test_loop_is_nplusone(void **state)
{
	struct np_opts o = { .min_total_ns = 50 * MS };
	struct np *np = np_new(&o);
	struct seen s;
	const struct np_finding *f;
	uint64_t t;

	/* one query for the list, then 50 lookups of 2 ms from the loop's line */
	t = loop(np, 1, 0, 1, 0xaaa, 1, 1 * MS, 0, 1);
	t = loop(np, 1, t, 50, 0xbbb, 2, 2 * MS, 100000, 50);
	np_tick(np, t + 100 * MS); /* still inside the gap: open */
	assert_int_equal(findings(np).n, 0);
	np_tick(np, t + 600 * MS);
	s = findings(np);
	assert_int_equal(s.n, 1);
	f = find(&s, NP_NPLUSONE);
	assert_non_null(f);
	assert_int_equal(f->fingerprint, 0xbbb);
	assert_int_equal(f->callsite, 2);
	assert_int_equal(f->service, 3);
	assert_int_equal(f->pid, 100);
	assert_int_equal(f->last_repeats, 50);
	assert_int_equal(f->last_total_ns, 100 * MS);
	assert_int_equal(f->bursts, 1);
	assert_int_equal(f->last_distinct_params, 8); /* capped */

	/* a second burst of the same loop aggregates */
	t = loop(np, 1, t + 1000 * MS, 30, 0xbbb, 2, 2 * MS, 0, 30);
	np_tick(np, t + 600 * MS);
	s = findings(np);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.f[0].bursts, 2);
	assert_int_equal(s.f[0].queries, 80);
	assert_int_equal(s.f[0].max_repeats, 50);
	assert_int_equal(s.f[0].last_repeats, 30);
	np_free(np);
}

static void test_thresholds(void **state)
{
	struct np_opts o = { .min_total_ns = 50 * MS };
	struct np *np = np_new(&o);
	uint64_t t;

	/* one batched query: nothing */
	t = loop(np, 1, 0, 1, 0xccc, 2, 30 * MS, 0, 1);
	/* four slow repeats: below the count */
	t = loop(np, 2, 0, 4, 0xddd, 2, 30 * MS, 0, 4);
	/* fifty fast repeats: below the time floor */
	t = loop(np, 3, 0, 50, 0xeee, 2, 500000, 0, 50);
	np_tick(np, t + 10000 * MS);
	assert_int_equal(findings(np).n, 0);

	/* the same fast loop counts once the floor is lowered */
	np_set_thresholds(np, 5, 1 * MS);
	t = loop(np, 3, t + 20000 * MS, 50, 0xeee, 2, 500000, 0, 50);
	np_tick(np, t + 10000 * MS);
	assert_int_equal(findings(np).n, 1);
	np_free(np);
}

static void test_bursts_split(void **state)
{
	struct np_opts o = { .min_total_ns = 10 * MS };
	struct np *np = np_new(&o);
	uint64_t t;

	/* 3 + 3 repeats separated by a second of idleness are two bursts below the count */
	t = loop(np, 1, 0, 3, 0xf1, 2, 10 * MS, 0, 3);
	t = loop(np, 1, t + 1000 * MS, 3, 0xf1, 2, 10 * MS, 0, 3);
	/* 3 + 3 on two threads are not one burst either */
	loop(np, 7, t, 3, 0xf2, 2, 10 * MS, 0, 3);
	t = loop(np, 8, t, 3, 0xf2, 2, 10 * MS, 0, 3);
	/* the same fingerprint from two call sites: two groups of 3 */
	t = loop(np, 9, t, 3, 0xf3, 4, 10 * MS, 0, 3);
	t = loop(np, 9, t, 3, 0xf3, 5, 10 * MS, 0, 3);
	np_tick(np, t + 10000 * MS);
	assert_int_equal(findings(np).n, 0);
	np_free(np);
}

static void test_cacheable(void **state)
{
	struct np_opts o = { .min_total_ns = 10 * MS };
	struct np *np = np_new(&o);
	struct seen s;
	const struct np_finding *c;
	uint64_t t;

	/* the same lookup with the same parameters 20 times */
	t = loop(np, 1, 0, 20, 0x77, 2, 1 * MS, 0, 1);
	np_tick(np, t + 1000 * MS);
	s = findings(np);
	assert_int_equal(s.n, 1);
	c = find(&s, NP_CACHEABLE);
	assert_non_null(c);
	assert_int_equal(c->last_repeats, 20);
	assert_null(find(&s, NP_NPLUSONE));

	/* unknown parameters (hash 0) are an N+1, never cacheable */
	t = loop(np, 1, t + 2000 * MS, 20, 0x78, 2, 1 * MS, 0, 0);
	np_tick(np, t + 1000 * MS);
	s = findings(np);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < s.n; i++)
		if (s.f[i].fingerprint == 0x78)
			assert_int_equal(s.f[i].kind, NP_NPLUSONE);
	np_free(np);
}

static void test_caps_and_expiry(void **state)
{
	struct np_opts o = { .min_total_ns = 1, .max_threads = 4, .max_findings = 2, .keep_ns = 5000 * MS };
	struct np *np = np_new(&o);
	struct np_stats st;
	uint64_t t = 0;

	for (uint32_t tid = 1; tid <= 6; tid++)
		loop(np, tid, 0, 5, 0x10 + tid, 2, 1 * MS, 0, 5);
	np_get_stats(np, &st);
	assert_int_equal(st.thread_cap_drops, 10);
	/* more groups than a burst holds */
	t = loop(np, 1, 0, 1, 0x1, 2, 1, 0, 1);
	for (uint64_t fp = 0; fp < NP_GROUPS_PER_BURST + 4; fp++)
		t = loop(np, 1, t, 1, 0x1000 + fp, 2, 1, 0, 1);
	np_get_stats(np, &st);
	assert_true(st.group_cap_drops > 0);
	np_tick(np, 1000 * MS);
	assert_int_equal(findings(np).n, 2); /* four qualified, two kept */
	np_get_stats(np, &st);
	assert_int_equal(st.finding_evictions, 2);
	np_tick(np, 10000 * MS);
	assert_int_equal(findings(np).n, 0);
	np_forget_pid(np, 100, 0);
	np_free(np);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_is_nplusone), cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_bursts_split),     cmocka_unit_test(test_cacheable),
		cmocka_unit_test(test_caps_and_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
