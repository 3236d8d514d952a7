/* elfsym on real binaries of this machine: Debian's non-PIE /usr/bin/python3.11 and a pyenv
 * libpython3.X.so (skipped when absent), plus non-ELF and missing files. Also checks the generated
 * 3.13 layout against the _Py_DebugOffsets initializer inside a real libpython3.13. */
#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "elfsym.h"
#include "pyoffsets.h"

#define DEBIAN_PY "/usr/bin/python3.11"

/* The newest pyenv file matching pattern, into buf; false if none. */
static bool find_pyenv(const char *pattern, char *buf, size_t len)
{
	glob_t g;
	bool ok = false;

	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(buf, len, "%s", g.gl_pathv[g.gl_pathc - 1]);
		ok = true;
	}
	globfree(&g);
	return ok;
}

static void test_debian_python(void **state)
{
	struct elfsym *e;
	uint64_t rt, rt_size, sec, sec_size, vaddr, off, ver_addr;
	uint32_t hex;
	const char *needed[32];
	size_t n;

	if (access(DEBIAN_PY, R_OK))
		skip();
	assert_int_equal(elfsym_open(DEBIAN_PY, &e), 0);
	assert_int_equal(elfsym_type(e), ET_EXEC);
	assert_int_equal(elfsym_lookup(e, "_PyRuntime", &rt, &rt_size), 0);
	assert_true(rt_size > 100000); /* the whole runtime state, ~160 KiB on 3.11 */
	assert_int_equal(elfsym_section(e, ".PyRuntime", &sec, &sec_size), 0);
	assert_int_equal(sec, rt);
	assert_int_equal(elfsym_first_load(e, &vaddr, &off), 0);
	assert_int_equal(vaddr, 0x400000); /* non-PIE */
	assert_int_equal(off, 0);
	assert_int_equal(elfsym_lookup(e, "Py_Version", &ver_addr, NULL), 0);
	assert_int_equal(elfsym_read_vaddr(e, ver_addr, &hex, sizeof(hex)), 0);
	assert_int_equal(hex >> 16, 0x030b);
	assert_int_equal(elfsym_lookup(e, "PyCode_Type", &vaddr, NULL), 0);
	assert_int_equal(elfsym_lookup(e, "_Py_NoneStruct", &vaddr, NULL), 0);
	/* libpython is linked in: no DT_NEEDED on it, but libc */
	n = elfsym_needed(e, needed, 32);
	assert_true(n > 0);
	for (size_t i = 0; i < n && i < 32; i++)
		assert_null(strstr(needed[i], "libpython"));
	assert_true(elfsym_has_usdt(e, "python"));
	assert_false(elfsym_has_usdt(e, "pythonx"));
	assert_int_equal(elfsym_lookup(e, "no_such_symbol_here", &vaddr, NULL), -ENOENT);
	elfsym_close(e);
}

static void test_pyenv_libpython(void **state)
{
	char lib[4096], exe[4096];
	struct elfsym *e;
	uint64_t rt, sec, vaddr, off, ver_addr;
	uint32_t hex;
	const char *needed[32];
	size_t n;
	bool found = false;

	if (!find_pyenv("/root/.pyenv/versions/3.1[1-3].*/lib/libpython3.1[1-3].so.1.0", lib,
			sizeof(lib)))
		skip();
	assert_int_equal(elfsym_open(lib, &e), 0);
	assert_int_equal(elfsym_type(e), ET_DYN);
	assert_int_equal(elfsym_lookup(e, "_PyRuntime", &rt, NULL), 0);
	assert_int_equal(elfsym_section(e, ".PyRuntime", &sec, NULL), 0);
	assert_int_equal(sec, rt);
	assert_int_equal(elfsym_first_load(e, &vaddr, &off), 0);
	assert_int_equal(vaddr, 0);
	assert_int_equal(off, 0);
	assert_int_equal(elfsym_lookup(e, "Py_Version", &ver_addr, NULL), 0);
	assert_int_equal(elfsym_read_vaddr(e, ver_addr, &hex, sizeof(hex)), 0);
	assert_int_equal(hex >> 24, 3);
	assert_non_null(strstr(lib, "libpython3."));
	assert_int_equal(elfsym_read_vaddr(e, 0xffffffff0000ULL, &hex, sizeof(hex)), -EFAULT);
	elfsym_close(e);

	/* its bin/python3.X is a small PIE that needs the library */
	snprintf(exe, sizeof(exe), "%s", lib);
	*strstr(exe, "/lib/libpython") = '\0';
	strcat(exe, "/bin/python3");
	assert_int_equal(elfsym_open(exe, &e), 0);
	assert_int_equal(elfsym_type(e), ET_DYN);
	n = elfsym_needed(e, needed, 32);
	for (size_t i = 0; i < n && i < 32; i++)
		found |= !strncmp(needed[i], "libpython3.", 11);
	assert_true(found);
	assert_int_equal(elfsym_lookup(e, "_PyRuntime", &rt, NULL), -ENOENT);
	elfsym_close(e);
}

static void test_not_elf(void **state)
{
	struct elfsym *e;

	assert_int_equal(elfsym_open("/nonexistent/file", &e), -ENOENT);
	assert_int_equal(elfsym_open("/etc/passwd", &e), -ENOEXEC);
	assert_int_equal(elfsym_open("/bin/true", &e), 0);
	assert_false(elfsym_has_usdt(e, "python"));
	elfsym_close(e);
	elfsym_close(NULL);
}

/* The _PyRuntime initializer in libpython3.13's .data holds the real _Py_DebugOffsets. */
static void test_debug_offsets_313(void **state)
{
	char lib[4096];
	struct elfsym *e;
	const struct py_layout *l = py_layout_for(0x030d);
	uint8_t buf[4096];
	uint64_t rt;
	size_t need;

	if (!l || !find_pyenv("/root/.pyenv/versions/3.13.*/lib/libpython3.13.so.1.0", lib,
			      sizeof(lib)))
		skip();
	need = py_layout_debug_size(l);
	assert_true(need > 64 && need <= sizeof(buf));
	assert_int_equal(elfsym_open(lib, &e), 0);
	assert_int_equal(elfsym_lookup(e, "_PyRuntime", &rt, NULL), 0);
	assert_int_equal(elfsym_read_vaddr(e, rt, buf, need), 0);
	elfsym_close(e);
	assert_memory_equal(buf, "xdebugpy", 8);
	assert_int_equal(py_layout_check_debug(l, buf, need), 0);
	assert_int_equal(py_layout_check_debug(l, buf, need - 1), -EINVAL);
	assert_int_equal(py_layout_check_debug(py_layout_for(0x030b), buf, need), -ENOENT);
	/* runtime_state.interpreters_head is the third u64 after cookie/version/free_threaded */
	buf[40] ^= 8;
	assert_int_equal(py_layout_check_debug(l, buf, need), -EPROTO);
	buf[40] ^= 8;
	buf[0] = 'X';
	assert_int_equal(py_layout_check_debug(l, buf, need), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_python),
		cmocka_unit_test(test_pyenv_libpython),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_debug_offsets_313),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
