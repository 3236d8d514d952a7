/* CPython str decoding for out-of-process readers: state-word shape and code points to UTF-8. */
#include <string.h>

#include "pystr.h"

#define REPLACEMENT 0xfffd

void pystr_shape(const struct py_layout *l, uint32_t state, struct pystr_shape *out)
{
	int kind = (int)((state >> l->unicode_kind_shift) & 7);

	out->compact = (state >> l->unicode_compact_bit) & 1;
	out->ascii = (state >> l->unicode_ascii_bit) & 1;
	out->kind = kind == 1 || kind == 2 || kind == 4 ? kind : 0;
	if (out->ascii && kind != 1)
		out->kind = 0;
}

static uint32_t code_point(const uint8_t *p, int kind)
{
	uint16_t u16;
	uint32_t u32;

	if (kind == 1)
		return *p;
	if (kind == 2) {
		memcpy(&u16, p, 2);
		return u16;
	}
	memcpy(&u32, p, 4);
	return u32;
}

/* UTF-8 of c into buf (4 bytes); returns its length. */
static size_t encode(uint32_t c, char *buf)
{
	if (!c || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = REPLACEMENT;
	if (c < 0x80) {
		buf[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		buf[0] = (char)(0xc0 | (c >> 6));
		buf[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		buf[0] = (char)(0xe0 | (c >> 12));
		buf[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (c >> 18));
	buf[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

size_t pystr_to_utf8(const void *data, size_t n, int kind, char *out, size_t cap)
{
	const uint8_t *p = data;
	size_t used = 0, len;
	char buf[4];

	if (!cap)
		return 0;
	if (kind != 1 && kind != 2 && kind != 4)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		len = encode(code_point(p + i * (size_t)kind, kind), buf);
		if (used + len + 1 > cap)
			break;
		memcpy(out + used, buf, len);
		used += len;
	}
	out[used] = '\0';
	return used;
}
