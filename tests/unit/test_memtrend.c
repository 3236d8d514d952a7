/* Unit tests of the memory source's pure core: /proc parsers, the leak verdict on synthetic RSS
 * series (steady leak, flat, sawtooth, one big load, short history), GC share, and the tables of
 * stacks behind growth (windows, eviction, spikes). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "memtrend.h"

#define NS 1000000000ULL
#define MiB (1024.0 * 1024)

static void test_parsers(void **state)
{
	uint64_t rss, anon, b, cpu;
	const char *status = "Name:\tpython3\nVmRSS:\t   20000 kB\nRssAnon:\t   12000 kB\nRssFile:\t    8000 kB\n"
			     "RssShmem:\t      16 kB\n";
	/* a comm with spaces and a parenthesis; utime 250 and stime 50 ticks */
	const char *stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0";

	assert_int_equal(mt_parse_statm("5000 3000 1000 100 0 2000 0\n", 4096, &rss, &anon), 0);
	assert_int_equal(rss, 3000ULL * 4096);
	assert_int_equal(anon, 2000ULL * 4096);
	assert_int_equal(mt_parse_statm("garbage", 4096, &rss, &anon), -EINVAL);
	assert_int_equal(mt_parse_status_anon_shmem(status, &b), 0);
	assert_int_equal(b, (12000ULL + 16) * 1024);
	assert_int_equal(mt_parse_status_anon_shmem("Name:\tx\n", &b), -EINVAL);
	assert_int_equal(mt_parse_stat_cpu(stat, 100, &cpu), 0);
	assert_int_equal(cpu, 300ULL * 10000000ULL);
	assert_int_equal(mt_parse_stat_cpu("4242 (x) S 1 2", 100, &cpu), -EINVAL);
	assert_int_equal(mt_parse_stat_cpu("no paren", 100, &cpu), -EINVAL);
}

typedef double (*series_fn)(double t);

static void fill(struct mt_ring *r, unsigned window, unsigned seconds, series_fn f)
{
	mt_ring_init(r, window);
	for (unsigned t = 0; t <= seconds; t++) {
		struct mt_sample s = { .t_ns = (uint64_t)(t + 100) * NS, .anon = (uint64_t)f(t), .rss = (uint64_t)f(t) };

		mt_ring_add(r, &s);
	}
}

static double leak(double t) { return 100 * MiB + t * 0.5 * MiB; }           /* 0.5 MiB/s */
static double flat(double t) { return 100 * MiB + ((int)t % 3) * 4096; }     /* jitter only */
static double sawtooth(double t) { return 100 * MiB + fmod(t, 20) * 2 * MiB; } /* GC-like cycles */
static double one_load(double t) { return t < 150 ? 100 * MiB : 300 * MiB; } /* one step */
static double leak_noisy(double t)                                            /* leak + spikes */
{
	return leak(t) + (((int)t % 17) == 0 ? 80 * MiB : 0);
}

static void test_leak_verdicts(void **state)
{
	struct mt_leak_opts o = { .window_s = 300, .min_growth_bytes = 16 * 1024 * 1024 };
	struct mt_ring r;
	struct mt_trend tr;

	fill(&r, 300, 400, leak);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_true(tr.covered);
	assert_true(tr.steady);
	assert_true(tr.leak);
	assert_true(fabs(tr.slope_bps - 0.5 * MiB) < 0.01 * MiB);

	fill(&r, 300, 400, leak_noisy);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_true(tr.leak);
	assert_true(fabs(tr.slope_bps - 0.5 * MiB) < 0.05 * MiB);

	fill(&r, 300, 400, flat);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_true(tr.covered);
	assert_false(tr.leak);
	assert_true(fabs(tr.slope_bps) < 1024);

	fill(&r, 300, 400, sawtooth);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_false(tr.leak);

	fill(&r, 300, 300, one_load);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_false(tr.steady);
	assert_false(tr.leak);

	/* a leak, but not yet watched for a whole window */
	fill(&r, 300, 120, leak);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_false(tr.covered);
	assert_false(tr.leak);
	assert_true(tr.slope_bps > 0.4 * MiB);

	/* too small to matter */
	o.min_growth_bytes = 1024ULL * 1024 * 1024;
	fill(&r, 300, 400, leak);
	mt_trend_eval(&r, &o, 0, &tr);
	assert_true(tr.steady);
	assert_false(tr.leak);
}

static void test_ring_step_and_wrap(void **state)
{
	struct mt_ring r;
	struct mt_sample s = {};

	mt_ring_init(&r, 960); /* 10 s step */
	assert_int_equal(r.step_ns, 10 * NS);
	for (unsigned t = 0; t < 3000; t++) {
		s.t_ns = (uint64_t)t * NS;
		mt_ring_add(&r, &s);
	}
	assert_int_equal(r.n, MT_RING);
	assert_int_equal(mt_ring_at(&r, MT_RING - 1)->t_ns, 2990 * NS);
	assert_int_equal(mt_ring_at(&r, 0)->t_ns, (2990 - 10 * (MT_RING - 1)) * NS);
	mt_ring_init(&r, 10);
	assert_int_equal(r.step_ns, NS); /* never below 1 s */
}

static void test_gc_share(void **state)
{
	struct mt_ring r;
	struct mt_sample now;
	uint64_t dcpu, dgc;
	double share;

	mt_ring_init(&r, 60);
	assert_false(mt_gc_share(&r, &(struct mt_sample){ .t_ns = NS }, 60, &share, NULL, NULL));
	for (unsigned t = 0; t <= 120; t++) {
		/* 1 CPU second per second, GC 0.1 s per second from t = 60 on */
		struct mt_sample s = { .t_ns = t * NS, .cpu_ns = t * NS, .gc_ns = t > 60 ? (t - 60) * NS / 10 : 0 };

		mt_ring_add(&r, &s);
	}
	now = *mt_ring_at(&r, r.n - 1);
	assert_true(mt_gc_share(&r, &now, 30, &share, &dcpu, &dgc));
	assert_true(fabs(share - 0.1) < 1e-9);
	assert_int_equal(dcpu, 30 * NS);
	/* an idle process: no CPU time, no share */
	now.cpu_ns = mt_ring_at(&r, r.n - 2)->cpu_ns;
	now.t_ns += NS;
	assert_true(mt_gc_share(&r, &now, 1, &share, NULL, NULL) || share >= 0);
}

static void test_stacks_windows_and_top(void **state)
{
	struct mt_stacks m;
	const struct mt_stack *top[4];
	struct mt_stack *a, *b;

	mt_stacks_init(&m, 80); /* 10 s slots */
	a = mt_stacks_get(&m, 0, 11, "leaky (app.py:10)", "leaky (app.py:10) <- main (app.py:20)");
	b = mt_stacks_get(&m, 0, 22, "warm (app.py:30)", "");
	assert_ptr_equal(mt_stacks_get(&m, 0, 11, "x", "y"), a);
	assert_string_equal(a->site, "leaky (app.py:10)");
	for (unsigned t = 0; t < 200; t++) {
		mt_stacks_charge(&m, a, (uint64_t)t * NS, 4096, 4096);
		if (t == 5)
			mt_stacks_charge(&m, b, 5 * NS, 1 << 20, 1 << 20);
	}
	/* b's growth is older than the window, a's last 80 s count */
	assert_int_equal(mt_stack_window_growth(&m, b, 199 * NS), 0);
	assert_in_range(mt_stack_window_growth(&m, a, 199 * NS), 70 * 4096, 80 * 4096);
	assert_int_equal(mt_stacks_top(&m, 199 * NS, top, 4), 1);
	assert_ptr_equal(top[0], a);
	assert_int_equal(a->growth_total, 200 * 4096);
	/* long quiet: everything ages out */
	assert_int_equal(mt_stack_window_growth(&m, a, 1000 * NS), 0);
	assert_int_equal(mt_stacks_top(&m, 1000 * NS, top, 4), 0);
}

static void test_stacks_cap_evicts_least_recent(void **state)
{
	struct mt_stacks m;
	struct mt_stack *big;
	char site[32];

	mt_stacks_init(&m, 60);
	big = mt_stacks_get(&m, NS, 1, "big", "");
	mt_stacks_charge(&m, big, NS, 100 << 20, 100 << 20);
	for (uint64_t h = 2; h < 2 + 3 * MT_MAX_STACKS; h++) {
		struct mt_stack *st;

		snprintf(site, sizeof(site), "s%llu", (unsigned long long)h);
		st = mt_stacks_get(&m, NS, h, site, "");
		mt_stacks_charge(&m, st, NS, 4096, 4096);
	}
	assert_non_null(mt_stacks_find(&m, 1)); /* the big one survives */
	assert_true(m.evictions > 0);
}

static void test_spikes_once_per_episode(void **state)
{
	struct mt_stacks m;
	struct mt_spike sp[4];
	struct mt_stack *st, *small;

	mt_stacks_init(&m, 60);
	st = mt_stacks_get(&m, 0, 5, "load_all (etl.py:14)", "");
	small = mt_stacks_get(&m, 0, 6, "tiny (etl.py:20)", "");
	mt_stacks_charge(&m, small, 10 * NS, 1 << 20, 0);
	mt_stacks_charge(&m, st, 10 * NS, 120 << 20, 120 << 20);
	assert_int_equal(mt_stacks_spikes(&m, 10 * NS, 200 << 20, sp, 4), 0);
	mt_stacks_charge(&m, st, 11 * NS, 90 << 20, 90 << 20);
	assert_int_equal(mt_stacks_spikes(&m, 11 * NS, 200 << 20, sp, 4), 1);
	assert_ptr_equal(sp[0].st, st);
	assert_true(sp[0].fresh);
	assert_int_equal(sp[0].bytes, 210 << 20);
	assert_int_equal(sp[0].seconds, 2);
	/* the same episode goes on (and grows): reported, not fresh */
	mt_stacks_charge(&m, st, 12 * NS, 30 << 20, 0);
	assert_int_equal(mt_stacks_spikes(&m, 12 * NS, 200 << 20, sp, 4), 1);
	assert_false(sp[0].fresh);
	assert_int_equal(sp[0].bytes, 240 << 20);
	/* the window passes, the stack calms down, then loads again: a fresh episode */
	assert_int_equal(mt_stacks_spikes(&m, 40 * NS, 200 << 20, sp, 4), 0);
	mt_stacks_charge(&m, st, 41 * NS, 250 << 20, 0);
	assert_int_equal(mt_stacks_spikes(&m, 41 * NS, 200 << 20, sp, 4), 1);
	assert_true(sp[0].fresh);
}

static void test_format_bytes(void **state)
{
	char buf[32];

	mt_format_bytes(900, buf, sizeof(buf));
	assert_string_equal(buf, "900 B");
	mt_format_bytes(512 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "512 KiB");
	mt_format_bytes(200.5 * MiB, buf, sizeof(buf));
	assert_string_equal(buf, "200.5 MiB");
	mt_format_bytes(-3 * MiB, buf, sizeof(buf));
	assert_string_equal(buf, "-3.0 MiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_leak_verdicts),
		cmocka_unit_test(test_ring_step_and_wrap),
		cmocka_unit_test(test_gc_share),
		cmocka_unit_test(test_stacks_windows_and_top),
		cmocka_unit_test(test_stacks_cap_evicts_least_recent),
		cmocka_unit_test(test_spikes_once_per_episode),
		cmocka_unit_test(test_format_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
