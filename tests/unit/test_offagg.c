/* Unit tests of the off-CPU rolling aggregates and of the off-CPU naming helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "offagg.h"
#include "offcpu.h"

#define MS 1000000ULL

static uint32_t stack_of(struct profile *src, const char *leaf, uint32_t *ids)
{
	ids[0] = prof_frame_id(src, "main", "app.py", 1, PROF_FRAME_PYTHON);
	ids[1] = prof_frame_id(src, leaf, "app.py", 10, PROF_FRAME_PYTHON);
	return 2;
}

static void test_window_and_profile(void **state)
{
	struct offagg_opts o = { .slot_seconds = 10, .window_seconds = 10 };
	struct offagg *a = offagg_new(&o);
	struct profile *src = prof_new(PROF_UNIT_NANOSECONDS, 0), *p;
	const struct prof_stack *top;
	uint64_t ns[PM_OFF_ALL_REASONS];
	uint32_t ids[2], n;
	unsigned covered;

	assert_non_null(a);
	assert_int_equal(offagg_nslots(a), 2);
	assert_int_equal(offagg_touch(a, "a.service", 995), 0);
	n = stack_of(src, "flush", ids);
	assert_int_equal(offagg_add(a, "a.service", PM_OFF_DISK, src, ids, n, "fsync", 300 * MS, 1000), 0);
	assert_int_equal(offagg_add(a, "a.service", PM_OFF_DISK, src, ids, n, "fsync", 100 * MS, 1003), 0);
	n = stack_of(src, "nap", ids);
	assert_int_equal(offagg_add(a, "a.service", PM_OFF_SLEEP, src, ids, n, "clock_nanosleep", 50 * MS, 1005), 0);
	assert_int_equal(offagg_add(a, "a.service", PM_OFF_RUNQ, NULL, NULL, 0, NULL, 7 * MS, 1005), 0);
	assert_int_equal(offagg_add(a, "a.service", PM_OFF_ALL_REASONS, NULL, NULL, 0, NULL, 1, 1005), -EINVAL);

	assert_int_equal(offagg_window(a, "a.service", 1005, ns, &covered), 0);
	assert_int_equal(ns[PM_OFF_DISK], 400 * MS);
	assert_int_equal(ns[PM_OFF_SLEEP], 50 * MS);
	assert_int_equal(ns[PM_OFF_RUNQ], 7 * MS);
	assert_int_equal(covered, 1005 - 995 + 1); /* registered after the oldest slot began */
	/* the previous slot still counts in the next one; two slots on, it is gone */
	assert_int_equal(offagg_window(a, "a.service", 1012, ns, &covered), 0);
	assert_int_equal(ns[PM_OFF_DISK], 400 * MS);
	assert_int_equal(offagg_window(a, "a.service", 1021, ns, &covered), 0);
	assert_int_equal(ns[PM_OFF_DISK], 0);
	assert_int_equal(covered, 1021 - 1010 + 1); /* slots 1010-1019 and 1020-1029 */
	assert_int_equal(offagg_window(a, "nope", 1005, ns, &covered), -ENOENT);

	p = offagg_profile(a, "a.service", 20, 1005);
	assert_non_null(p);
	assert_int_equal(prof_unit(p), PROF_UNIT_NANOSECONDS);
	assert_int_equal(prof_total(p), 457 * MS);
	top = offagg_top_stack(p, PM_OFF_DISK);
	assert_non_null(top);
	assert_int_equal(top->value, 400 * MS);
	assert_int_equal(top->nframes, 4);
	assert_string_equal(prof_frame_at(p, top->frames[0])->name, "[disk]");
	assert_string_equal(prof_frame_at(p, top->frames[2])->name, "flush");
	assert_string_equal(prof_frame_at(p, top->frames[3])->name, "fsync");
	assert_int_equal(prof_frame_at(p, top->frames[3])->kind, PROF_FRAME_KERNEL);
	assert_null(offagg_top_stack(p, PM_OFF_NET));
	top = offagg_top_stack(p, PM_OFF_RUNQ);
	assert_non_null(top);
	assert_int_equal(top->nframes, 1);
	prof_free(p);
	prof_free(src);
	offagg_free(a);
}

struct seen {
	int n;
	uint64_t disk, loop_count;
};

static void on_info(const struct offagg_info *i, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->disk += i->total_ns[PM_OFF_DISK];
	for (int k = 0; k < PM_OFF_HIST_SLOTS; k++)
		s->loop_count += i->hist[OFFAGG_HIST_LOOP].slots[k];
}

static void test_caps_hists_and_lifetime(void **state)
{
	struct offagg_opts o = { .slot_seconds = 10, .window_seconds = 60, .max_services = 2 };
	struct offagg *a = offagg_new(&o);
	uint64_t slots[PM_OFF_HIST_SLOTS] = { [3] = 2, [10] = 1 };
	struct offagg_stats st;
	struct seen s = { 0 };

	assert_int_equal(offagg_add(a, "a", PM_OFF_DISK, NULL, NULL, 0, NULL, 5, 100), 0);
	assert_int_equal(offagg_add(a, "b", PM_OFF_DISK, NULL, NULL, 0, NULL, 5, 100), 0);
	assert_int_equal(offagg_add(a, "c", PM_OFF_DISK, NULL, NULL, 0, NULL, 5, 100), -ENOSPC);
	assert_int_equal(offagg_hist_add(a, "a", OFFAGG_HIST_LOOP, slots, 1234), 0);
	assert_int_equal(offagg_hist_add(a, "a", OFFAGG_HIST_KINDS, slots, 1), -EINVAL);
	assert_int_equal(offagg_sched_add(a, "a", 10, 1, 2), 0);
	assert_int_equal(offagg_stall_add(a, "a"), 0);
	/* lifetime counters survive the window */
	assert_int_equal(offagg_add(a, "a", PM_OFF_DISK, NULL, NULL, 0, NULL, 5, 10000), 0);
	offagg_foreach(a, on_info, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.disk, 15);
	assert_int_equal(s.loop_count, 3);
	offagg_get_stats(a, &st);
	assert_int_equal(st.services, 2);
	assert_int_equal(st.dropped_service_cap_ns, 5);
	offagg_free(a);
}

static void test_stack_cap_keeps_totals(void **state)
{
	struct offagg_opts o = { .slot_seconds = 10, .window_seconds = 10, .max_stacks = 1 };
	struct offagg *a = offagg_new(&o);
	struct profile *src = prof_new(PROF_UNIT_NANOSECONDS, 0);
	uint64_t ns[PM_OFF_ALL_REASONS];
	struct offagg_stats st;
	uint32_t ids[2], n;
	unsigned covered;

	n = stack_of(src, "one", ids);
	offagg_add(a, "a", PM_OFF_NET, src, ids, n, "recvfrom", 10, 100);
	n = stack_of(src, "two", ids);
	offagg_add(a, "a", PM_OFF_NET, src, ids, n, "recvfrom", 20, 100);
	offagg_window(a, "a", 100, ns, &covered);
	assert_int_equal(ns[PM_OFF_NET], 30);
	offagg_get_stats(a, &st);
	assert_int_equal(st.dropped_stack_cap_ns, 20);
	prof_free(src);
	offagg_free(a);
}

static void test_names(void **state)
{
	char buf[64];

	assert_string_equal(offcpu_reason_name(PM_OFF_GIL), "gil");
	assert_string_equal(offcpu_reason_name(PM_OFF_WAIT), "wait");
	assert_string_equal(offcpu_reason_name(99), "?");
	assert_int_equal(offcpu_reason_cat(PM_OFF_GIL), VC_LOCK);
	assert_int_equal(offcpu_reason_cat(PM_OFF_WAIT), VC_WAIT);
	assert_int_equal(offcpu_reason_cat(PM_OFF_OTHER), VC_OTHER);
	assert_string_equal(offcpu_syscall_name(74), "fsync");
	assert_string_equal(offcpu_syscall_name(230), "clock_nanosleep");
	assert_null(offcpu_syscall_name(9999));
	assert_string_equal(offcpu_syscall_pycall(230), "time.sleep");
	assert_string_equal(offcpu_syscall_pycall(45), "socket.recv");
	assert_true(offcpu_is_library_file("/usr/lib/python3.11/threading.py"));
	assert_true(offcpu_is_library_file("/usr/lib/python3/dist-packages/aiohttp/web.py"));
	assert_true(offcpu_is_library_file("<frozen importlib._bootstrap>"));
	assert_false(offcpu_is_library_file("/srv/app/views.py"));
	assert_true(offcpu_is_idle_wait("Condition.wait", "/usr/lib/python3.11/threading.py"));
	assert_true(offcpu_is_idle_wait("wait", "/root/.pyenv/versions/3.8.18/lib/python3.8/threading.py"));
	assert_true(offcpu_is_idle_wait("_worker", "/usr/lib/python3.11/concurrent/futures/thread.py"));
	assert_false(offcpu_is_idle_wait("Lock.acquire", "/usr/lib/python3.11/threading.py"));
	assert_false(offcpu_is_idle_wait("contend", "/srv/app.py"));

	struct {
		const char *line, *want;
	} calls[] = {
		{ "    time.sleep(0.2)", "time.sleep" },
		{ "r = requests.get(url, timeout=3)", "requests.get" },
		{ "await asyncio.sleep(0.2)", "asyncio.sleep" },
		{ "if fsync_needed(f):", "fsync_needed" },
		{ "while (x):", "" },
		{ "x = 1  # call(me)", "" },
		{ "s = 'not(a call)' + f(x)", "f" },
		{ "return", "" },
		{ "os.fsync(f.fileno())", "os.fsync" },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		offcpu_src_callee(calls[i].line, buf, sizeof(buf));
		assert_string_equal(buf, calls[i].want);
	}
	const char text[] = "import time\n\n  def f():\r\n\ttime.sleep(1)";
	assert_int_equal(offcpu_src_line(text, sizeof(text) - 1, 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "def f():");
	assert_int_equal(offcpu_src_line(text, sizeof(text) - 1, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "time.sleep(1)");
	assert_int_equal(offcpu_src_line(text, sizeof(text) - 1, 5, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(offcpu_src_line(text, sizeof(text) - 1, 0, buf, sizeof(buf)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_and_profile),
		cmocka_unit_test(test_caps_hists_and_lifetime),
		cmocka_unit_test(test_stack_cap_keeps_totals),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
