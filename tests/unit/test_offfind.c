/* Unit tests of the off-CPU findings: which frame is to blame, the evidence of a stack, the verdict
 * findings' titles, and event-loop stalls (naming the sync call, merging, expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "offcpu.h"
#include "offfind.h"

#define MS 1000000ULL
#define S  1000000000ULL

static const struct offfind_frame aio_stack[] = { /* innermost first */
	{ "slow_handler", "/srv/app.py", 12 },
	{ "Application._handle", "/usr/lib/python3/dist-packages/aiohttp/web_app.py", 504 },
	{ "BaseEventLoop._run_once", "/usr/lib/python3.11/asyncio/base_events.py", 1922 },
	{ "<module>", "/srv/app.py", 40 },
};

static void test_app_frame(void **state)
{
	static const struct offfind_frame lib_under_module[] = {
		{ "SocketIO.readinto", "/usr/lib/python3.11/socket.py", 705 },
		{ "<module>", "/srv/app.py", 3 },
	};
	static const struct offfind_frame in_requests[] = {
		{ "SocketIO.readinto", "/usr/lib/python3.11/socket.py", 705 },
		{ "get", "/usr/lib/python3/dist-packages/requests/api.py", 73 },
		{ "fetch", "/srv/app.py", 8 },
	};

	assert_int_equal(offfind_app_frame(aio_stack, 4), 0);
	assert_int_equal(offfind_app_frame(lib_under_module, 2), 0); /* a module body says nothing */
	assert_int_equal(offfind_app_frame(aio_stack + 3, 1), 0);    /* ...unless it is all there is */
	assert_int_equal(offfind_app_frame(in_requests, 3), 2);
	assert_int_equal(offfind_app_frame(aio_stack, 0), -1);
}

static void test_evidence_of_a_stack(void **state)
{
	struct profile *p = prof_new(PROF_UNIT_NANOSECONDS, 0);
	uint32_t ids[4];
	struct offfind_evidence ev;

	ids[0] = prof_frame_id(p, "[disk]", "", 0, PROF_FRAME_MARKER);
	ids[1] = prof_frame_id(p, "main", "/srv/w.py", 30, PROF_FRAME_PYTHON);
	ids[2] = prof_frame_id(p, "flush", "/srv/w.py", 12, PROF_FRAME_PYTHON);
	ids[3] = prof_frame_id(p, "fsync", "", 0, PROF_FRAME_KERNEL);
	prof_add(p, ids, 4, 2500 * MS);
	offfind_evidence(p, prof_stack_at(p, 0), 1e-9, &ev);
	assert_string_equal(ev.function, "flush");
	assert_string_equal(ev.code, "flush (/srv/w.py:12)");
	assert_string_equal(ev.leaf, "flush (/srv/w.py:12)");
	assert_string_equal(ev.syscall, "fsync");
	assert_string_equal(ev.stack, "main (/srv/w.py:30);flush (/srv/w.py:12)");
	assert_float_equal(ev.seconds, 2.5, 1e-9);
	prof_free(p);
}

static json_object *only(json_object *arr, const char *kind)
{
	json_object *hit = NULL;

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *f = json_object_array_get_idx(arr, i), *k;

		if (json_object_object_get_ex(f, "kind", &k) && !strcmp(json_object_get_string(k), kind)) {
			assert_null(hit);
			hit = f;
		}
	}
	return hit;
}

static const char *field(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_verdict_findings(void **state)
{
	struct offfind *f = offfind_new(10);
	struct offfind_verdict v = { .window_s = 10 };
	json_object *arr = json_object_new_array(), *row = json_object_new_object(), *x;

	v.v.kind = VK_IO_DISK;
	v.v.dominant = VC_DISK;
	v.v.second = VC_N;
	v.has_top[0] = true;
	strcpy(v.top[0].function, "flush");
	strcpy(v.top[0].code, "flush (/srv/w.py:12)");
	strcpy(v.top[0].syscall, "fsync");
	assert_int_equal(offfind_set_verdict(f, "disk.service", 42, &v), 0);
	v.v.kind = VK_CPU_BOUND;
	strcpy(v.top[0].function, "spin");
	strcpy(v.top[0].code, "spin (/srv/c.py:3)");
	v.top[0].syscall[0] = 0;
	v.top[0].seconds = 9.25;
	offfind_set_verdict(f, "cpu.service", 43, &v);
	v.v.kind = VK_LOCK_BOUND;
	v.ns[VC_LOCK] = 10 * S;
	v.gil_ns = 8 * S;
	offfind_set_verdict(f, "gil.service", 44, &v);
	v.v.kind = VK_IDLE;
	offfind_set_verdict(f, "idle.service", 45, &v);
	offfind_findings_json(f, 1000 * S, arr);
	assert_int_equal(json_object_array_length(arr), 3); /* idle is no finding */
	x = only(arr, "io-bound:disk");
	assert_string_equal(field(x, "title"), "service is I/O-bound on disk: fsync in flush");
	assert_string_equal(field(x, "code"), "flush (/srv/w.py:12)");
	assert_non_null(strstr(field(x, "fix"), "fsync once per batch"));
	assert_string_equal(field(only(arr, "cpu-bound"), "title"), "tight CPU loop in spin for 9.2 s");
	assert_string_equal(field(only(arr, "lock-bound"), "title"),
			    "service is lock-bound: threads wait for the GIL in spin");
	offfind_service_json(f, "disk.service", row);
	assert_string_equal(field(row, "verdict"), "io-bound:disk");
	assert_true(json_object_object_get_ex(row, "verdict_detail", NULL));
	assert_non_null(offfind_get_verdict(f, "idle.service"));
	assert_null(offfind_get_verdict(f, "nope"));
	json_object_put(arr);
	json_object_put(row);
	offfind_free(f);
}

static void test_stalls(void **state)
{
	static const struct offfind_frame in_requests[] = {
		{ "SocketIO.readinto", "/usr/lib/python3.11/socket.py", 705 },
		{ "get", "/usr/lib/python3/dist-packages/requests/api.py", 73 },
		{ "handler", "/srv/app.py", 8 },
	};
	struct offfind *f = offfind_new(10);
	struct offfind_stall st = { .service = "aio.service", .pid = 7, .tid = 7, .dur_ns = 201 * MS,
				    .block_ns = 200 * MS, .off_ns = 200 * MS, .threshold_ns = 100 * MS,
				    .block_syscall = 230, .frames = aio_stack, .nframes = 4,
				    .source_line = "time.sleep(0.2)", .now_ns = 100 * S };
	json_object *arr = json_object_new_array(), *x, *ev, *v;

	offfind_add_stall(f, &st);
	st.dur_ns = 602 * MS; /* three handlers in one iteration: the same finding */
	st.now_ns = 101 * S;
	offfind_add_stall(f, &st);
	/* a sync HTTP call inside a library, without the source line */
	st.frames = in_requests;
	st.nframes = 3;
	st.source_line = NULL;
	st.block_syscall = 45;
	offfind_add_stall(f, &st);
	/* a CPU-bound stretch */
	st.frames = aio_stack;
	st.nframes = 4;
	st.cpu = true;
	st.cpu_samples = 9;
	st.block_syscall = PM_OFF_NO_SYSCALL;
	st.dur_ns = 150 * MS;
	offfind_add_stall(f, &st);
	offfind_findings_json(f, 102 * S, arr);
	assert_int_equal(json_object_array_length(arr), 3);
	x = json_object_array_get_idx(arr, 0);
	assert_string_equal(field(x, "title"), "blocked event loop in slow_handler (sync call time.sleep)");
	assert_string_equal(field(x, "code"), "slow_handler (/srv/app.py:12)");
	assert_true(json_object_object_get_ex(x, "evidence", &ev));
	assert_string_equal(field(ev, "syscall"), "clock_nanosleep");
	assert_string_equal(field(ev, "source"), "time.sleep(0.2)");
	assert_true(json_object_object_get_ex(ev, "stalls", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(ev, "max_ms", &v));
	assert_float_equal(json_object_get_double(v), 602, 1e-6);
	assert_non_null(strstr(field(x, "fix"), "asyncio.sleep"));
	x = json_object_array_get_idx(arr, 1);
	assert_string_equal(field(x, "title"), "blocked event loop in handler (sync call get)");
	assert_non_null(strstr(field(x, "fix"), "asyncio.to_thread"));
	x = json_object_array_get_idx(arr, 2);
	assert_string_equal(field(x, "title"), "blocked event loop in slow_handler (CPU-bound for 150 ms)");
	json_object_put(arr);
	/* not seen for a window: gone */
	arr = json_object_new_array();
	offfind_findings_json(f, 115 * S, arr);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	offfind_free(f);
}

static void test_stall_table_is_capped(void **state)
{
	struct offfind *f = offfind_new(60);
	struct offfind_frame fr[1];
	struct offfind_stall st = { .service = "s", .dur_ns = 200 * MS, .frames = fr, .nframes = 1,
				    .block_syscall = 230 };
	json_object *arr = json_object_new_array();
	char names[OFFFIND_MAX_STALLS + 10][16];

	for (int i = 0; i < OFFFIND_MAX_STALLS + 10; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d", i);
		fr[0] = (struct offfind_frame){ names[i], "/srv/a.py", i + 1 };
		st.now_ns = (uint64_t)(i + 1) * MS;
		offfind_add_stall(f, &st);
	}
	offfind_findings_json(f, 1 * S, arr);
	assert_int_equal(json_object_array_length(arr), OFFFIND_MAX_STALLS);
	json_object_put(arr);
	offfind_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_frame),
		cmocka_unit_test(test_evidence_of_a_stack),
		cmocka_unit_test(test_verdict_findings),
		cmocka_unit_test(test_stalls),
		cmocka_unit_test(test_stall_table_is_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
