/* Unit tests of the probe-site finder against the interpreters on this machine: Debian's python3.11
 * (USDT notes, stripped), pyenv's shared libpython builds (collector symbols per version) and libc.
 * Files that are missing are skipped, not failed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pyprobe.h"
#include "pyrometer_bpf.h"

static struct elfsym *open_or_skip(const char *path)
{
	struct elfsym *e = NULL;

	if (access(path, R_OK) || elfsym_open(path, &e)) {
		print_message("skipping %s (not on this machine)\n", path);
		return NULL;
	}
	return e;
}

static int byte_at(const char *path, uint64_t off)
{
	FILE *f = fopen(path, "rb");
	int c;

	if (!f || fseek(f, (long)off, SEEK_SET)) {
		if (f)
			fclose(f);
		return -1;
	}
	c = fgetc(f);
	fclose(f);
	return c;
}

static void test_debian_usdt(void **state)
{
	const char *py = "/usr/bin/python3.11";
	struct elfsym *e = open_or_skip(py);
	struct pyprobe_usdt u;
	struct pyprobe_gc g;
	struct pyprobe_alloc a;
	char desc[128];

	if (!e)
		return;
	assert_int_equal(pyprobe_gc_find(py, 0x030b, &g), 0);
	assert_int_equal(g.kind, PYPROBE_GC_USDT);
	assert_int_equal(g.nfuncs, 2);
	assert_string_equal(g.funcs[0].name, "gc__start");
	assert_false(g.funcs[0].end);
	assert_true(g.funcs[1].end);
	/* the sites are the probes' nops, the semaphores are zero in the file */
	assert_int_equal(byte_at(py, g.funcs[0].offset), 0x90);
	assert_int_equal(byte_at(py, g.funcs[1].offset), 0x90);
	assert_true(g.funcs[0].ref_ctr != 0);
	assert_int_equal(byte_at(py, g.funcs[0].ref_ctr), 0);
	/* gc__start(int generation) is "-4@112(%rsp)" in this build */
	assert_int_equal(g.funcs[0].cookie & 0xffff, PM_GC_ARG_USDT);
	assert_int_equal(PM_USDT_KIND_OF(g.funcs[0].cookie), PM_USDT_DEREF);
	assert_int_equal(PM_USDT_REG_OF(g.funcs[0].cookie), 19);
	assert_int_equal(PM_USDT_SIZE_OF(g.funcs[0].cookie), 4);
	assert_int_equal(PM_USDT_SIGNED(g.funcs[0].cookie), 1);
	assert_int_equal(PM_USDT_OFF_OF(g.funcs[0].cookie), 112);
	pyprobe_gc_describe(&g, desc, sizeof(desc));
	assert_string_equal(desc, "usdt python:gc__start/gc__done");
	assert_int_equal(pyprobe_usdt_find(py, "python", "function__entry", &u), 0);
	assert_int_equal(pyprobe_usdt_find(py, "python", "no__such", &u), -ENOENT);
	assert_int_equal(pyprobe_usdt_find(py, "nodejs", "gc__start", &u), -ENOENT);
	/* stripped: only the exported entry points, which LTO inlined in part */
	assert_int_equal(pyprobe_alloc_python(e, &a), 0);
	assert_false(a.complete);
	assert_string_equal(a.funcs[0].name, "PyObject_Malloc");
	assert_int_equal(a.funcs[0].cookie, PM_ALLOC_MALLOC);
	assert_true(a.funcs[0].ret);
	elfsym_close(e);
}

static void test_usdt_args(void **state)
{
	static const struct {
		const char *args;
		unsigned index;
		int rc;
		uint64_t spec;
	} cases[] = {
		{ "-4@112(%rsp)", 0, 0, PM_USDT_ARG(PM_USDT_DEREF, 19, 4, 1, 112) },
		{ "8@%r12", 0, 0, PM_USDT_ARG(PM_USDT_REG, 3, 8, 0, 0) },
		{ "-4@%eax 8@-24(%rbp)", 1, 0, PM_USDT_ARG(PM_USDT_DEREF, 4, 8, 0, -24) },
		{ "-4@%eax 8@-24(%rbp)", 0, 0, PM_USDT_ARG(PM_USDT_REG, 10, 4, 1, 0) },
		{ "  2@(%rdi)", 0, 0, PM_USDT_ARG(PM_USDT_DEREF, 14, 2, 0, 0) },
		{ "-1@$-5", 0, 0, PM_USDT_ARG(PM_USDT_CONST, 0, 1, 1, -5) },
		{ "4@%r9d", 0, 0, PM_USDT_ARG(PM_USDT_REG, 8, 4, 0, 0) },
		{ "8@%rdx", 1, -ENOENT, 0 },
		{ "", 0, -ENOENT, 0 },
		{ "3@%rax", 0, -EINVAL, 0 },
		{ "8@%xmm0", 0, -EINVAL, 0 },
		{ "8@foo(%rip)", 0, -EINVAL, 0 },
		{ "8@16(%rsp", 0, -EINVAL, 0 },
		{ "8rax", 0, -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t spec = 0;

		assert_int_equal(pyprobe_usdt_arg(cases[i].args, cases[i].index, &spec), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(spec, cases[i].spec);
	}
}

static void test_pyenv_collectors(void **state)
{
	static const struct {
		const char *lib;
		uint16_t version;
		const char *first;
		uint32_t how;
	} cases[] = {
		{ "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", 0x030d, "gc_collect_main", PM_GC_ARG_PARM2 },
		{ "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 0x030c, "gc_collect_main", PM_GC_ARG_PARM2 },
		{ "/root/.pyenv/versions/3.10.13/lib/libpython3.10.so.1.0", 0x030a, "gc_collect_main", PM_GC_ARG_PARM2 },
		{ "/root/.pyenv/versions/3.9.18/lib/libpython3.9.so.1.0", 0x0309, "collect", PM_GC_ARG_PARM2 },
		{ "/root/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", 0x0308, "collect.constprop.1", PM_GC_ARG_PARM1 },
		{ "/root/.pyenv/versions/3.7.16/lib/libpython3.7m.so.1.0", 0x0307, "collect", PM_GC_ARG_PARM1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elfsym *e = open_or_skip(cases[i].lib);
		struct pyprobe_gc g;
		struct pyprobe_alloc a;

		if (!e)
			continue;
		assert_int_equal(pyprobe_gc_find(cases[i].lib, cases[i].version, &g), 0);
		assert_int_equal(g.kind, PYPROBE_GC_UPROBE);
		assert_string_equal(g.funcs[0].name, cases[i].first);
		assert_int_equal(g.funcs[0].cookie, cases[i].how);
		assert_true(g.funcs[0].ret);
		/* unstripped: pymalloc's own functions, ctx first */
		assert_int_equal(pyprobe_alloc_python(e, &a), 0);
		assert_true(a.complete);
		assert_int_equal(a.nfuncs, 4);
		assert_string_equal(a.funcs[3].name, "_PyObject_Free");
		assert_int_equal(a.funcs[3].cookie, PM_ALLOC_FREE | PM_ALLOC_CTX);
		assert_false(a.funcs[3].ret);
		/* a version the symbol table does not match finds nothing */
		assert_int_equal(pyprobe_gc_find(cases[i].lib, 0x0305, &g), -ENOENT);
		assert_int_equal(g.kind, PYPROBE_GC_NONE);
		elfsym_close(e);
	}
}

static void test_libc(void **state)
{
	struct elfsym *e = open_or_skip("/lib/x86_64-linux-gnu/libc.so.6");
	struct pyprobe_alloc a;
	struct pyprobe_gc g;

	if (!e)
		return;
	assert_int_equal(pyprobe_alloc_libc(e, &a), 0);
	assert_true(a.complete);
	assert_string_equal(a.funcs[2].name, "realloc");
	assert_int_equal(a.funcs[2].cookie, PM_ALLOC_REALLOC | PM_ALLOC_RAW);
	assert_int_equal(pyprobe_alloc_python(e, &a), -ENOENT);
	assert_int_equal(pyprobe_gc_find("/lib/x86_64-linux-gnu/libc.so.6", 0x030b, &g), -ENOENT);
	assert_int_equal(pyprobe_gc_find("/nonexistent", 0x030b, &g), -ENOENT);
	elfsym_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_usdt),
		cmocka_unit_test(test_usdt_args),
		cmocka_unit_test(test_pyenv_collectors),
		cmocka_unit_test(test_libc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
