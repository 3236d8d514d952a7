/* Decoding of CPython str objects copied out of another process: what the PyASCIIObject.state
 * word says (kind, compact, ascii) and the conversion of 1/2/4-byte code points to UTF-8. Pure. */
#ifndef PYSTR_H
#define PYSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyoffsets.h"

struct pystr_shape {
	int kind;     /* bytes per code point: 1, 2 or 4 (0 = not a valid str) */
	bool compact; /* data follows the header */
	bool ascii;   /* compact ASCII: data at sizeof(PyASCIIObject), else sizeof(PyCompactUnicodeObject) */
};

/* Decodes the state bitfield word of layout l. */
void pystr_shape(const struct py_layout *l, uint32_t state, struct pystr_shape *out);

/* Converts n code points of `kind` bytes each (native endian) at data into NUL-terminated UTF-8
 * in out[0..cap), cap >= 1. Surrogates, code points above U+10FFFF and NUL become U+FFFD.
 * Stops before a code point that would not fit. Returns the bytes written, without the NUL. */
size_t pystr_to_utf8(const void *data, size_t n, int kind, char *out, size_t cap);

#endif
