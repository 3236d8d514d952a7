/* procmaps_parse on fixture /proc/PID/maps text: fields, anonymous and pseudo mappings, paths
 * with spaces, deleted files, malformed lines; procmaps_read on our own process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "procmaps.h"

static const char fixture[] =
	"00400000-00421000 r--p 00000000 fd:01 1837602                            /usr/bin/python3.11\n"
	"00421000-0069d000 r-xp 00021000 fd:01 1837602                            /usr/bin/python3.11\n"
	"02688000-02793000 rw-p 00000000 00:00 0                                  [heap]\n"
	"7f2b0ce00000-7f2b0ce5b000 r--p 00000000 08:11 524300                     /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
	"7f2b0d400000-7f2b0d401000 rw-p 00000000 00:00 0 \n"
	"7f2b0d500000-7f2b0d501000 r--p 00001000 103:02 42                        /opt/my app/lib python.so (deleted)\n"
	"7ffd1a3c1000-7ffd1a3e2000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_fields(void **state)
{
	struct procmaps m;
	const struct procmaps_entry *e;

	assert_int_equal(procmaps_parse(fixture, strlen(fixture), &m), 0);
	assert_int_equal(m.n, 8);
	e = &m.entries[1];
	assert_int_equal(e->start, 0x421000);
	assert_int_equal(e->end, 0x69d000);
	assert_int_equal(e->offset, 0x21000);
	assert_string_equal(e->perms, "r-xp");
	assert_int_equal(e->dev_major, 0xfd);
	assert_int_equal(e->dev_minor, 1);
	assert_int_equal(e->inode, 1837602);
	assert_string_equal(e->path, "/usr/bin/python3.11");
	assert_false(e->deleted);

	assert_string_equal(m.entries[2].path, "[heap]");
	assert_int_equal(m.entries[3].start, 0x7f2b0ce00000ULL);
	assert_string_equal(m.entries[3].path, "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0");
	assert_string_equal(m.entries[4].path, ""); /* anonymous, trailing blank */
	assert_int_equal(m.entries[4].inode, 0);

	e = &m.entries[5];
	assert_int_equal(e->dev_major, 0x103);
	assert_int_equal(e->dev_minor, 2);
	assert_string_equal(e->path, "/opt/my app/lib python.so");
	assert_true(e->deleted);

	e = &m.entries[7]; /* last line without newline */
	assert_int_equal(e->start, 0xffffffffff600000ULL);
	assert_string_equal(e->path, "[vsyscall]");
	procmaps_free(&m);
}

static void test_find(void **state)
{
	struct procmaps m;
	const struct procmaps_entry *e;

	assert_int_equal(procmaps_parse(fixture, strlen(fixture), &m), 0);
	e = procmaps_find(&m, "/usr/bin/python3.11", 0);
	assert_non_null(e);
	assert_int_equal(e->start, 0x400000);
	e = procmaps_find(&m, "/usr/bin/python3.11", 0x21000);
	assert_non_null(e);
	assert_int_equal(e->start, 0x421000);
	assert_null(procmaps_find(&m, "/usr/bin/python3.11", 0x1000));
	assert_null(procmaps_find(&m, "/usr/bin/python3", 0));
	procmaps_free(&m);
}

static void test_empty(void **state)
{
	struct procmaps m;

	assert_int_equal(procmaps_parse("", 0, &m), 0);
	assert_int_equal(m.n, 0);
	procmaps_free(&m);
	assert_int_equal(procmaps_parse("\n\n", 2, &m), 0);
	assert_int_equal(m.n, 0);
	procmaps_free(&m);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"00400000 r--p 00000000 fd:01 1 /x\n",           /* no end */
		"00400000-00300000 r--p 00000000 fd:01 1 /x\n",  /* end before start */
		"00400000-00500000 r--p\n",                      /* truncated */
		"00400000-00500000 r--p 0000zz00 fd:01 1 /x\n",  /* bad offset */
		"00400000-00500000 r--p 00000000 fd01 1 /x\n",   /* bad device */
		"00400000-00500000 r--p 00000000 fd:01 x /x\n",  /* bad inode */
		"g0400000-00500000 r--p 00000000 fd:01 1 /x\n",  /* bad start */
		"00400000-00500000 r--p 00000000 fd:01 1 /x\nnonsense\n",
	};
	struct procmaps m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(procmaps_parse(bad[i], strlen(bad[i]), &m), -EINVAL);
		assert_int_equal(m.n, 0);
		assert_null(m.entries);
	}
}

static void test_read_self(void **state)
{
	struct procmaps m;
	uintptr_t here = (uintptr_t)&test_read_self;
	bool found = false;

	assert_int_equal(procmaps_read(getpid(), &m), 0);
	assert_true(m.n > 5);
	for (size_t i = 0; i < m.n; i++)
		if (here >= m.entries[i].start && here < m.entries[i].end)
			found = m.entries[i].perms[2] == 'x';
	assert_true(found);
	procmaps_free(&m);
	assert_int_equal(procmaps_read(0x7ffffff, &m), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_read_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
