/* The CPython struct layouts of this build: the generated table (include/pyoffsets_gen.h) and, for
 * 3.13+, the check of a layout against the _Py_DebugOffsets a running interpreter carries. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyoffsets.h"
#include "pyrometer_bpf.h"

/* One offset a 3.13+ interpreter publishes: where it sits in _Py_DebugOffsets (a uint64_t) and
 * which uint16_t field of struct py_layout must hold the same value. */
struct py_debug_check {
	uint16_t debug_at;
	uint16_t layout_at;
};

#include "pyoffsets_gen.h"

static const struct py_layout layouts[] = { PY_LAYOUTS };

struct py_debug_table {
	uint16_t version;
	uint16_t size;       /* sizeof(_Py_DebugOffsets) */
	uint16_t version_at; /* offsetof(_Py_DebugOffsets, version) */
	const struct py_debug_check *checks;
	size_t n;
};

#define DEBUG_TABLE(v) { v, PY_DEBUG_SIZE_##v, PY_DEBUG_VERSION_AT_##v, py_debug_checks_##v, \
			 sizeof(py_debug_checks_##v) / sizeof(py_debug_checks_##v[0]) }

static const struct py_debug_table debug_tables[] = {
#ifdef PY_DEBUG_SIZE_0x030d
	DEBUG_TABLE(0x030d),
#endif
};

const struct py_layout *py_layout_for(uint16_t version)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].version == version)
			return &layouts[i];
	return NULL;
}

static const struct py_debug_table *debug_table_for(uint16_t version)
{
	for (size_t i = 0; i < sizeof(debug_tables) / sizeof(debug_tables[0]); i++)
		if (debug_tables[i].version == version)
			return &debug_tables[i];
	return NULL;
}

size_t py_layout_debug_size(const struct py_layout *l)
{
	const struct py_debug_table *d = l ? debug_table_for(l->version) : NULL;

	return d ? d->size : 0;
}

int py_layout_check_debug(const struct py_layout *l, const void *dbg, size_t len)
{
	const struct py_debug_table *d = l ? debug_table_for(l->version) : NULL;
	const uint8_t *b = dbg;
	uint64_t v;
	uint16_t want;

	if (!d)
		return -ENOENT;
	if (len < d->size)
		return -EINVAL;
	if (memcmp(b, "xdebugpy", 8))
		return -EPROTO;
	memcpy(&v, b + d->version_at, sizeof(v));
	if ((uint16_t)(v >> 16) != l->version)
		return -EPROTO;
	for (size_t i = 0; i < d->n; i++) {
		memcpy(&v, b + d->checks[i].debug_at, sizeof(v));
		memcpy(&want, (const uint8_t *)l + d->checks[i].layout_at, sizeof(want));
		if (v != want)
			return -EPROTO;
	}
	return 0;
}
