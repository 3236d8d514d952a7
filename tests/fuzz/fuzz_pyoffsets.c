/* Fuzz target: the 3.13+ _Py_DebugOffsets check (src/pyoffsets.c), which compares the bytes a
 * target interpreter keeps at _PyRuntime with the generated layout. Input: u8 version selector,
 * then the bytes read from the target. The answer is one of the documented codes, and a real
 * layout's own debug bytes cannot be produced by chance, so only shape is checked. */
#include <errno.h>

#include "fuzz.h"
#include "pyoffsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint16_t version = (uint16_t)(0x0306 + fuzz_uint(&in, 1) % 10);
	const struct py_layout *l = py_layout_for(version);
	size_t len, need;
	uint8_t *dbg = fuzz_rest(&in, &len);
	int rc;

	if (l) {
		need = py_layout_debug_size(l);
		rc = py_layout_check_debug(l, dbg, len);
		FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOENT || rc == -EINVAL);
		FUZZ_CHECK(need || rc == -ENOENT);
		FUZZ_CHECK(!need || len >= need || rc == -EINVAL);
	}
	free(dbg);
	return 0;
}
