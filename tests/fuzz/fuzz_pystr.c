/* Fuzz target: CPython str decoding (src/pystr.c). Input: u8 version selector, u32 state word,
 * u16 output capacity, then code-point bytes. The state word is decoded with that version's
 * layout; the data is converted under kinds 1, 2, 4 and the decoded kind. Output must be
 * NUL-terminated, inside the buffer, well-formed UTF-8, and complete when the buffer is large
 * enough. */
#include "fuzz.h"
#include "pyoffsets.h"
#include "pystr.h"

/* Code points in s[0..n): UTF-8 lead bytes. */
static size_t code_points(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

static void convert(const uint8_t *data, size_t len, int kind, size_t cap)
{
	size_t n = kind ? len / (size_t)kind : len, used;
	char *out = malloc(cap);

	if (!out)
		abort();
	used = pystr_to_utf8(data, n, kind, out, cap);
	FUZZ_CHECK(used < cap);
	FUZZ_CHECK(out[used] == '\0');
	FUZZ_CHECK(fuzz_utf8_ok(out, used));
	if (kind != 1 && kind != 2 && kind != 4)
		FUZZ_CHECK(used == 0);
	else if (cap >= 4 * n + 1)
		FUZZ_CHECK(code_points(out, used) == n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint16_t version = (uint16_t)(0x0306 + fuzz_uint(&in, 1) % 9);
	uint32_t state = (uint32_t)fuzz_uint(&in, 4);
	size_t cap = 1 + (size_t)fuzz_uint(&in, 2) % 8192, len;
	const struct py_layout *l = py_layout_for(version);
	uint8_t *bytes = fuzz_rest(&in, &len);
	struct pystr_shape sh;

	if (l) {
		pystr_shape(l, state, &sh);
		FUZZ_CHECK(sh.kind == 0 || sh.kind == 1 || sh.kind == 2 || sh.kind == 4);
		FUZZ_CHECK(!sh.ascii || sh.kind == 1 || sh.kind == 0);
		convert(bytes, len, sh.kind, cap);
	}
	convert(bytes, len, 1, cap);
	convert(bytes, len, 2, cap);
	convert(bytes, len, 4, cap);
	convert(bytes, len, 3, cap);
	free(bytes);
	return 0;
}
