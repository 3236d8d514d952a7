/* pysym against fake CPython 3.11 objects laid out in this test's own memory (process_vm_readv
 * on ourselves needs no privilege): names, UCS2 file names, line numbers, type validation, the
 * fingerprint that catches a reused address, LRU eviction and forget. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pysym.h"

static const struct py_layout *L;
static uint8_t fake_type[64];

struct fake_code {
	uint8_t raw[256];
};

/* A compact str object holding s (ASCII) or u16 code points. */
static void *make_ascii(uint8_t *buf, const char *s)
{
	uint32_t state = (1u << L->unicode_kind_shift) | (1u << L->unicode_compact_bit) |
			 (1u << L->unicode_ascii_bit);
	int64_t len = (int64_t)strlen(s);

	memset(buf, 0, 256);
	memcpy(buf + L->unicode_length, &len, 8);
	memcpy(buf + L->unicode_state, &state, 4);
	memcpy(buf + L->unicode_ascii_data, s, strlen(s) + 1);
	return buf;
}

static void *make_ucs2(uint8_t *buf, const uint16_t *s, int64_t len)
{
	uint32_t state = (2u << L->unicode_kind_shift) | (1u << L->unicode_compact_bit);

	memset(buf, 0, 256);
	memcpy(buf + L->unicode_length, &len, 8);
	memcpy(buf + L->unicode_state, &state, 4);
	memcpy(buf + L->unicode_compact_data, s, (size_t)len * 2);
	return buf;
}

/* 3.11 location table: units 0-1 line first+2, unit 2 line first+3 (kind 13, "no columns"). */
static const uint8_t loctab[] = { 0x80 | (13 << 3) | 1, 0x04, 0x80 | (13 << 3) | 0, 0x02 };

static void *make_bytes(uint8_t *buf, const uint8_t *data, int64_t len)
{
	memset(buf, 0, 256);
	memcpy(buf + L->varobject_size, &len, 8);
	memcpy(buf + L->bytes_sval, data, (size_t)len);
	return buf;
}

static void put_ptr(struct fake_code *c, uint16_t off, const void *p)
{
	uint64_t v = (uintptr_t)p;

	memcpy(c->raw + off, &v, 8);
}

static void put_int(struct fake_code *c, uint16_t off, int32_t v)
{
	memcpy(c->raw + off, &v, 4);
}

static uint8_t name_a[256], name_b[256], file_a[256], file_u[256], tab[256];

static void make_code(struct fake_code *c, void *qualname, void *file, int firstlineno)
{
	memset(c, 0, sizeof(*c));
	put_ptr(c, L->object_type, fake_type);
	put_ptr(c, L->code_qualname, qualname);
	put_ptr(c, L->code_name, qualname);
	put_ptr(c, L->code_filename, file);
	put_ptr(c, L->code_linetable, tab);
	put_int(c, L->code_firstlineno, firstlineno);
	put_int(c, L->code_argcount, 1);
}

static struct py_target target(void)
{
	struct py_target t = { 0 };

	t.pid = getpid();
	t.version = 0x030b;
	t.layout = L;
	t.code_type_addr = (uintptr_t)fake_type;
	return t;
}

static int setup(void **state)
{
	static const uint16_t ufile[] = { '/', 0x65e5, '.', 'p', 'y' };

	L = py_layout_for(0x030b);
	if (!L)
		return -1;
	make_ascii(name_a, "Svc.handle");
	make_ascii(name_b, "worker");
	make_ascii(file_a, "/srv/app.py");
	make_ucs2(file_u, ufile, 5);
	make_bytes(tab, loctab, sizeof(loctab));
	return 0;
}

static void test_resolve(void **state)
{
	struct py_target t = target();
	struct pysym *s = pysym_new(16);
	struct fake_code a, u;
	struct pysym_frame f;
	struct pysym_stats st;

	make_code(&a, name_a, file_a, 10);
	make_code(&u, name_b, file_u, 20);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	assert_string_equal(f.name, "Svc.handle");
	assert_string_equal(f.file, "/srv/app.py");
	assert_int_equal(f.line, 12);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 2, &f), 0);
	assert_int_equal(f.line, 13);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, -1, &f), 0);
	assert_int_equal(f.line, 10); /* not started: co_firstlineno */
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 50, &f), 0);
	assert_int_equal(f.line, 0);  /* beyond the table: unknown */
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&u, 1, &f), 0);
	assert_string_equal(f.name, "worker");
	assert_string_equal(f.file, "/\xe6\x97\xa5.py");
	assert_int_equal(f.line, 22);
	pysym_get_stats(s, &st);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.entries, 2);
	pysym_free(s);
}

static void test_validation(void **state)
{
	struct py_target t = target();
	struct pysym *s = pysym_new(4);
	struct fake_code a;
	struct pysym_frame f;
	struct pysym_stats st;

	make_code(&a, name_a, file_a, 10);
	put_ptr(&a, L->object_type, name_a); /* not PyCode_Type */
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), -EINVAL);
	assert_string_equal(f.name, "<unknown>");
	assert_int_equal(pysym_resolve(s, &t, 8, 0, &f), -EFAULT);
	make_code(&a, name_a, (void *)16, 10); /* unreadable file name */
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), -EFAULT);
	pysym_get_stats(s, &st);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.entries, 0);
	pysym_free(s);
}

static void test_reused_address(void **state)
{
	struct py_target t = target();
	struct pysym *s = pysym_new(4);
	struct fake_code a;
	struct pysym_frame f;
	struct pysym_stats st;

	make_code(&a, name_a, file_a, 10);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	assert_string_equal(f.name, "Svc.handle");
	/* the object dies and another code object takes its address */
	make_code(&a, name_b, file_a, 30);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	assert_string_equal(f.name, "worker");
	assert_int_equal(f.line, 32);
	pysym_get_stats(s, &st);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.entries, 1);
	pysym_free(s);
}

static void test_rounds_check_once(void **state)
{
	struct py_target t = target();
	struct pysym *s = pysym_new(4);
	struct fake_code a;
	struct pysym_frame f;
	struct pysym_stats st;

	pysym_next_round(s);
	make_code(&a, name_a, file_a, 10);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	/* replaced within the round: trusted until the next one */
	make_code(&a, name_b, file_a, 30);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	assert_string_equal(f.name, "Svc.handle");
	pysym_next_round(s);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	assert_string_equal(f.name, "worker");
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&a, 0, &f), 0);
	pysym_get_stats(s, &st);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.hits, 2);
	pysym_free(s);
}

static void test_eviction_and_forget(void **state)
{
	struct py_target t = target(), other = target();
	struct pysym *s = pysym_new(2);
	struct fake_code c[3];
	struct pysym_frame f;
	struct pysym_stats st;

	for (int i = 0; i < 3; i++)
		make_code(&c[i], name_a, file_a, 10 * (i + 1));
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[0], 0, &f), 0);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[1], 0, &f), 0);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[0], 0, &f), 0); /* c[0] now recent */
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[2], 0, &f), 0); /* evicts c[1] */
	pysym_get_stats(s, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.entries, 2);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[0], 0, &f), 0);
	pysym_get_stats(s, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[1], 0, &f), 0);
	assert_int_equal(f.line, 22);
	pysym_get_stats(s, &st);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.evictions, 2);

	other.pid = t.pid + 1; /* same addresses, another process: separate keys */
	pysym_forget(s, t.pid);
	pysym_get_stats(s, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(pysym_resolve(s, &t, (uintptr_t)&c[1], 0, &f), 0);
	pysym_forget(s, other.pid);
	pysym_get_stats(s, &st);
	assert_int_equal(st.entries, 1);
	pysym_free(s);
	pysym_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_reused_address),
		cmocka_unit_test(test_rounds_check_once),
		cmocka_unit_test(test_eviction_and_forget),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
