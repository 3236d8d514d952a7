/* pystr: state-word decoding against the generated layouts, and code points -> UTF-8 (ASCII,
 * Latin-1, BMP, astral, invalid code points, truncation at code point boundaries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pystr.h"

static void test_shape(void **state)
{
	static const uint16_t versions[] = { 0x0308, 0x0309, 0x030a, 0x030b, 0x030c, 0x030d };
	struct pystr_shape s;

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		const struct py_layout *l = py_layout_for(versions[i]);
		uint32_t st;

		assert_non_null(l);
		/* compact ASCII, kind 1 (as CPython sets it for identifiers) */
		st = (1u << l->unicode_kind_shift) | (1u << l->unicode_compact_bit) |
		     (1u << l->unicode_ascii_bit);
		pystr_shape(l, st, &s);
		assert_int_equal(s.kind, 1);
		assert_true(s.compact);
		assert_true(s.ascii);
		/* compact UCS2, interned bits set too */
		st = (2u << l->unicode_kind_shift) | (1u << l->unicode_compact_bit) | 1u;
		pystr_shape(l, st, &s);
		assert_int_equal(s.kind, 2);
		assert_true(s.compact);
		assert_false(s.ascii);
		pystr_shape(l, 4u << l->unicode_kind_shift, &s);
		assert_int_equal(s.kind, 4);
		assert_false(s.compact);
		pystr_shape(l, 3u << l->unicode_kind_shift, &s);
		assert_int_equal(s.kind, 0);
		/* ascii with a wide kind is not a str CPython can make */
		pystr_shape(l, (2u << l->unicode_kind_shift) | (1u << l->unicode_ascii_bit), &s);
		assert_int_equal(s.kind, 0);
	}
	assert_null(py_layout_for(0x0307));
	assert_null(py_layout_for(0x030e));
}

static void test_utf8(void **state)
{
	static const uint8_t latin1[] = { 'c', 'a', 'f', 0xe9 };
	static const uint16_t ucs2[] = { 0x65e5, 0x672c, '.', 'p', 'y' };
	static const uint32_t ucs4[] = { 'f', 0x1f600, 0x10ffff };
	static const uint16_t bad2[] = { 'a', 0xd800, 'b' };
	static const uint32_t bad4[] = { 0x110000, 0, 'z' };
	char out[64];

	assert_int_equal(pystr_to_utf8("worker", 6, 1, out, sizeof(out)), 6);
	assert_string_equal(out, "worker");
	assert_int_equal(pystr_to_utf8(latin1, 4, 1, out, sizeof(out)), 5);
	assert_string_equal(out, "caf\xc3\xa9");
	assert_int_equal(pystr_to_utf8(ucs2, 5, 2, out, sizeof(out)), 9);
	assert_string_equal(out, "\xe6\x97\xa5\xe6\x9c\xac.py");
	assert_int_equal(pystr_to_utf8(ucs4, 3, 4, out, sizeof(out)), 9);
	assert_string_equal(out, "f\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	pystr_to_utf8(bad2, 3, 2, out, sizeof(out));
	assert_string_equal(out, "a\xef\xbf\xbd" "b");
	pystr_to_utf8(bad4, 3, 4, out, sizeof(out));
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbdz");
	assert_int_equal(pystr_to_utf8("x", 1, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_truncation(void **state)
{
	static const uint16_t ucs2[] = { 0x65e5, 0x672c };
	char out[8];

	memset(out, 'X', sizeof(out));
	/* 3 + 3 bytes + NUL = 7 fits in 8; 5 does not fit the second char */
	assert_int_equal(pystr_to_utf8(ucs2, 2, 2, out, 7), 6);
	assert_int_equal(pystr_to_utf8(ucs2, 2, 2, out, 6), 3);
	assert_string_equal(out, "\xe6\x97\xa5");
	assert_int_equal(pystr_to_utf8("abc", 3, 1, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(pystr_to_utf8("abcdefghij", 10, 1, out, sizeof(out)), 7);
	assert_string_equal(out, "abcdefg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
