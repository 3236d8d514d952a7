/* Fuzz target: /proc/PID/maps text (src/procmaps.c). The input is the file's text. A parse
 * either fails and leaves the result empty, or yields entries with start <= end, 4-character
 * permissions and paths that procmaps_find finds again. */
#include <errno.h>

#include "fuzz.h"
#include "procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t len;
	uint8_t *text = fuzz_rest(&in, &len);
	struct procmaps m;
	int rc = procmaps_parse((const char *)text, len, &m);

	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
	if (rc) {
		FUZZ_CHECK(m.n == 0 && !m.entries && !m.buf);
	} else {
		for (size_t i = 0; i < m.n; i++) {
			const struct procmaps_entry *e = &m.entries[i], *f;

			FUZZ_CHECK(e->start <= e->end);
			FUZZ_CHECK(strlen(e->perms) == 4);
			FUZZ_CHECK(e->path && strlen(e->path) <= len);
			f = procmaps_find(&m, e->path, e->offset);
			FUZZ_CHECK(f && f <= e && !strcmp(f->path, e->path) && f->offset == e->offset);
		}
	}
	procmaps_free(&m);
	free(text);
	return 0;
}
