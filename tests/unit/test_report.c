/* Unit tests of `pyrometer report`'s text and of `top`'s VERDICT column, from fixed answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmd.h"

static const char services_json[] =
	"{\"window_seconds\":10,\"services\":["
	"{\"name\":\"disk.service\",\"processes\":1,\"cpu_percent\":3.0,\"top_function\":\"flush (/srv/a.py:3)\","
	" \"verdict\":\"io-bound:disk\",\"verdict_detail\":{\"busy_threads\":0.9,"
	"  \"busy_shares\":{\"cpu\":0.05,\"runq\":0.01,\"disk\":0.94,\"net\":0,\"lock\":0},"
	"  \"top\":{\"code\":\"flush (/srv/a.py:3)\",\"function\":\"flush\",\"syscall\":\"fsync\"}}},"
	"{\"name\":\"web.service\",\"processes\":4,\"cpu_percent\":87.3,\"top_function\":\"render (/srv/w.py:9)\","
	" \"verdict\":\"cpu-bound\",\"verdict_detail\":{\"busy_threads\":0.87,"
	"  \"busy_shares\":{\"cpu\":0.97,\"runq\":0.03,\"disk\":0,\"net\":0,\"lock\":0},"
	"  \"top\":{\"code\":\"render (/srv/w.py:9)\",\"function\":\"render\"}}},"
	"{\"name\":\"old.service\",\"processes\":0,\"cpu_percent\":0}]}";

static const char findings_json[] =
	"{\"findings\":["
	"{\"kind\":\"io-bound:disk\",\"service\":\"disk.service\",\"pid\":7,"
	" \"title\":\"service is I/O-bound on disk: fsync in flush\",\"code\":\"flush (/srv/a.py:3)\","
	" \"evidence\":{},\"fix\":\"Sync less often.\"},"
	"{\"kind\":\"blocked-event-loop\",\"service\":\"web.service\",\"pid\":9,"
	" \"title\":\"blocked event loop in handle (sync call time.sleep)\",\"code\":\"handle (/srv/w.py:20)\","
	" \"evidence\":{\"stalls\":8,\"max_ms\":402.4,\"total_ms\":1800,\"source\":\"time.sleep(0.2)\"},"
	" \"fix\":\"Use await asyncio.sleep.\"}]}";

static void test_report_text(void **state)
{
	json_object *s = json_tokener_parse(services_json), *f = json_tokener_parse(findings_json);
	char *text;

	assert_non_null(s);
	assert_non_null(f);
	text = report_format(s, f, NULL);
	assert_string_equal(text,
		"SERVICE       VERDICT           BUSY   CPU  RUNQ  DISK   NET  LOCK  WHERE\n"
		"disk.service  io-bound:disk     0.90    5%    1%   94%    0%    0%  flush (/srv/a.py:3) in fsync\n"
		"web.service   cpu-bound         0.87   97%    3%    0%    0%    0%  render (/srv/w.py:9)\n"
		"\n"
		"FINDINGS (2)\n"
		"[io-bound:disk] disk.service: service is I/O-bound on disk: fsync in flush\n"
		"    at flush (/srv/a.py:3)\n"
		"    fix: Sync less often.\n"
		"[blocked-event-loop] web.service: blocked event loop in handle (sync call time.sleep)\n"
		"    at handle (/srv/w.py:20)\n"
		"    8 stalls, longest 402 ms, 1800 ms in all\n"
		"    source: time.sleep(0.2)\n"
		"    fix: Use await asyncio.sleep.\n");
	free(text);
	text = report_format(s, f, "web.service");
	assert_non_null(strstr(text, "web.service  cpu-bound "));
	assert_null(strstr(text, "disk.service"));
	assert_non_null(strstr(text, "FINDINGS (1)\n"));
	free(text);
	text = report_format(s, f, "nope");
	assert_non_null(strstr(text, "(no verdict for this service yet)\n\nFINDINGS (0)\n"));
	free(text);
	json_object_put(s);
	json_object_put(f);
}

static void test_report_of_odd_answers(void **state)
{
	json_object *bad = json_tokener_parse("{\"services\":{},\"findings\":7}");
	char *text = report_format(bad, bad, NULL);

	assert_non_null(strstr(text, "(no verdicts yet)"));
	assert_non_null(strstr(text, "FINDINGS (0)"));
	free(text);
	json_object_put(bad);
}

static void test_top_verdict_column(void **state)
{
	json_object *s = json_tokener_parse(services_json);
	struct top_row *rows;
	char *text;
	int n = top_rows_from_json(s, &rows);

	assert_int_equal(n, 3);
	text = top_format(rows, n, 0);
	assert_string_equal(text,
		"SERVICE       PROCS   CPU%  VERDICT           TOP FUNCTION\n"
		"web.service       4   87.3  cpu-bound         render (/srv/w.py:9)\n"
		"disk.service      1    3.0  io-bound:disk     flush (/srv/a.py:3)\n"
		"old.service       0    0.0\n");
	free(text);
	/* too narrow for the function: the verdict stays, unpadded */
	text = top_format(rows, n, 48);
	assert_string_equal(text,
		"SERVICE       PROCS   CPU%  VERDICT\n"
		"web.service       4   87.3  cpu-bound\n"
		"disk.service      1    3.0  io-bound:disk\n"
		"old.service       0    0.0\n");
	free(text);
	free(rows);
	json_object_put(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_text),
		cmocka_unit_test(test_report_of_odd_answers),
		cmocka_unit_test(test_top_verdict_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
