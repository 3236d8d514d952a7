/* Fuzz target: CPython line tables (src/pylinetable.c) under every version's decoder.
 * Input: i32 firstlineno (little endian), then the raw table (co_lnotab or co_linetable bytes).
 * Every unit from -2 to past the table's end is looked up under 3.5 .. 3.14 and must give a line
 * >= -1, the same line twice, and firstlineno for a frame that has not started. */
#include <limits.h>

#include "fuzz.h"
#include "pylinetable.h"

#define ALL_UNITS 64    /* every unit up to here, then ~SAMPLES more spread over the table */
#define SAMPLES   192

static void check_unit(uint16_t v, const uint8_t *tab, size_t len, int firstlineno, int32_t unit)
{
	int line = pylt_line(v, tab, len, firstlineno, unit);

	FUZZ_CHECK(line >= -1);
	FUZZ_CHECK(line == pylt_line(v, tab, len, firstlineno, unit));
	if (v >= 0x0306 && unit < 0)
		FUZZ_CHECK(line == (firstlineno >= 0 ? firstlineno : -1));
	if (v < 0x0306)
		FUZZ_CHECK(line == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int firstlineno = (int)(int32_t)fuzz_uint(&in, 4);
	size_t len;
	uint8_t *tab = fuzz_rest(&in, &len);
	/* Lookups cost O(len) each: all early units, then a sample reaching past the end. */
	int64_t last = 2 * (int64_t)len + 4, step = last > ALL_UNITS ? (last - ALL_UNITS) / SAMPLES + 1 : 1;
	const int32_t far[] = { -2, -1, (int32_t)last, INT32_MAX, INT32_MAX / 2, INT32_MIN };

	for (uint16_t v = 0x0305; v <= 0x030e; v++) {
		for (int64_t u = 0; u <= last; u += u < ALL_UNITS ? 1 : step)
			check_unit(v, tab, len, firstlineno, (int32_t)u);
		for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++)
			check_unit(v, tab, len, firstlineno, far[i]);
		/* A missing table is no table. */
		FUZZ_CHECK(pylt_line(v, NULL, len, firstlineno, 0) >= -1);
	}
	free(tab);
	return 0;
}
