/* CPython struct layouts per minor version (x86_64, default non-debug builds). The table itself is
 * generated from the installed CPython headers by tools/gen_offsets.c (see `make offsets`) into
 * include/pyoffsets_gen.h and checked against them by `make check-offsets`; nothing here is typed by hand. */
#ifndef PYOFFSETS_H
#define PYOFFSETS_H

#include <stddef.h>
#include <stdint.h>

#define PYOFF_NONE 0xffff

struct py_layout {
	uint16_t version;                /* 0xMMmm */
	/* _PyRuntimeState */
	uint16_t runtime_interp_head;    /* interpreters.head */
	uint16_t runtime_tss_key;        /* gilstate.autoTSSkey._key (≤3.11) | autoTSSkey._key (3.12+) */
	uint16_t runtime_tss_initialized;/* autoTSSkey._is_initialized */
	/* PyInterpreterState */
	uint16_t interp_next;
	uint16_t interp_threads_head;
	/* PyThreadState */
	uint16_t tstate_next;
	uint16_t tstate_interp;
	uint16_t tstate_frame;           /* frame (≤3.10) | cframe (3.11, 3.12) | current_frame (3.13+) */
	uint16_t cframe_current_frame;   /* PYOFF_NONE where tstate_frame is direct */
	uint16_t tstate_thread_id;
	uint16_t tstate_native_thread_id;/* PYOFF_NONE before 3.11 */
	/* frame: PyFrameObject (≤3.10) or _PyInterpreterFrame (3.11+) */
	uint16_t frame_code;
	uint16_t frame_previous;
	uint16_t frame_instr;            /* f_lasti (int) | prev_instr | instr_ptr */
	uint16_t frame_owner;            /* PYOFF_NONE before 3.11 */
	uint8_t  instr_kind;             /* enum pm_instr_kind */
	uint8_t  owner_skip_min;         /* owner >= this → shim frame (0 = none) */
	/* PyCodeObject */
	uint16_t code_argcount;
	uint16_t code_kwonlyargcount;
	uint16_t code_flags;
	uint16_t code_firstlineno;
	uint16_t code_filename;
	uint16_t code_name;
	uint16_t code_qualname;          /* PYOFF_NONE before 3.11 */
	uint16_t code_linetable;         /* co_lnotab (≤3.9) | co_linetable (3.10+) */
	uint16_t code_code;              /* co_code bytes object (≤3.10), PYOFF_NONE after */
	uint16_t code_adaptive;          /* co_code_adaptive (3.11+), PYOFF_NONE before */
	/* objects */
	uint16_t object_type;            /* PyObject.ob_type */
	uint16_t varobject_size;         /* PyVarObject.ob_size */
	uint16_t bytes_sval;             /* PyBytesObject.ob_sval */
	uint16_t unicode_length;         /* PyASCIIObject.length */
	uint16_t unicode_state;          /* PyASCIIObject.state */
	uint16_t unicode_ascii_data;     /* sizeof(PyASCIIObject) */
	uint16_t unicode_compact_data;   /* sizeof(PyCompactUnicodeObject) */
	uint16_t type_name;              /* PyTypeObject.tp_name */
	/* bit positions inside the PyASCIIObject.state word */
	uint8_t  unicode_kind_shift;     /* kind:3 (1, 2 or 4 bytes per code point) */
	uint8_t  unicode_compact_bit;
	uint8_t  unicode_ascii_bit;
};

/* The layout for version 0xMMmm, or NULL if this build has none. */
const struct py_layout *py_layout_for(uint16_t version);

/* 3.13+: the number of bytes of _Py_DebugOffsets (at _PyRuntime+0) py_layout_check_debug wants,
 * or 0 when l's version has none. */
size_t py_layout_debug_size(const struct py_layout *l);

/* Compares l with the target's own _Py_DebugOffsets bytes dbg[0..len). Returns 0 when the cookie,
 * the minor version and every offset both carry agree, -EPROTO on any disagreement, -ENOENT when
 * l's version has no debug offsets, -EINVAL when len is too short. */
int py_layout_check_debug(const struct py_layout *l, const void *dbg, size_t len);

#endif
