/* Unit tests of the io source's pure helpers: /proc/PID/io parsing and peer names. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io.h"

static void test_proc_io(void **state)
{
	struct io_proc_io io;

	assert_int_equal(io_parse_proc_io("rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\n"
					  "write_bytes: 8192\ncancelled_write_bytes: 0\n", &io), 0);
	assert_int_equal(io.rchar, 6976);
	assert_int_equal(io.wchar, 12);
	assert_int_equal(io.syscr, 10);
	assert_int_equal(io.syscw, 1);
	assert_int_equal(io.read_bytes, 4096);
	assert_int_equal(io.write_bytes, 8192);
	assert_int_equal(io_parse_proc_io("rchar: 1\nwchar: 2\n", &io), -EINVAL);
	assert_int_equal(io_parse_proc_io("", &io), -EINVAL);
	assert_int_equal(io_parse_proc_io("rchar: x\nwchar: 2\nsyscr: 1\nsyscw: 1\nread_bytes: 1\nwrite_bytes: 1",
					  &io), -EINVAL);
}

static void test_peer_names(void **state)
{
	uint8_t v4[16] = { 10, 1, 2, 3 }, v6[16];
	char buf[64];

	io_peer_name(AF_INET, v4, 5432, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.3:5432");
	io_peer_name(AF_INET, v4, 0, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.3");
	inet_pton(AF_INET6, "::1", v6);
	io_peer_name(AF_INET6, v6, 8080, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:8080");
	assert_string_equal(io_kind_name(IO_FILE_PIPE), "file_pipe");
	assert_string_equal(io_kind_name(IO_KINDS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_io),
		cmocka_unit_test(test_peer_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
