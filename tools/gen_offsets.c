/* Prints the struct py_layout initializer (include/pyoffsets.h) of the CPython whose headers this
 * file is compiled against, from offsetof()/sizeof() on the real (internal) structs, plus, for
 * 3.13+, the pairs used to cross-check the layout against the target's _Py_DebugOffsets.
 * Built and run once per installed CPython by tools/gen_offsets.sh; never linked into pyrometer. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if PY_VERSION_HEX < 0x03080000 || PY_VERSION_HEX >= 0x030e0000
#error "gen_offsets supports CPython 3.8 to 3.13"
#endif

#if PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#else
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_code.h>
#include <internal/pycore_frame.h>
#else
#include <frameobject.h>
#endif

/* instr_kind is printed as the name of an enum pm_instr_kind value (include/pyrometer_bpf.h). */

#define FIELD(name, value) printf("\t.%s = %lu,\n", #name, (unsigned long)(value))
#define NONE(name) printf("\t.%s = PYOFF_NONE,\n", #name)
#define SYM(name, sym) printf("\t.%s = %s,\n", #name, #sym)

/* The bit index of the lowest bit set in the `state` bitfield word of *o (which is otherwise
 * zero): how the generator learns where kind/compact/ascii live without typing the layout. */
static int state_bit(const PyASCIIObject *o)
{
	unsigned char raw[sizeof(o->state)];

	memcpy(raw, (const char *)o + offsetof(PyASCIIObject, state), sizeof(raw));
	for (unsigned i = 0; i < sizeof(raw) * 8; i++)
		if (raw[i / 8] & (1u << (i % 8)))
			return (int)i;
	return -1;
}

static void print_runtime(void)
{
	FIELD(runtime_interp_head, offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX >= 0x030c0000
	FIELD(runtime_tss_key, offsetof(_PyRuntimeState, autoTSSkey._key));
	FIELD(runtime_tss_initialized, offsetof(_PyRuntimeState, autoTSSkey._is_initialized));
#else
	FIELD(runtime_tss_key, offsetof(_PyRuntimeState, gilstate.autoTSSkey._key));
	FIELD(runtime_tss_initialized, offsetof(_PyRuntimeState, gilstate.autoTSSkey._is_initialized));
#endif
	FIELD(interp_next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030b0000
	FIELD(interp_threads_head, offsetof(PyInterpreterState, threads.head));
#else
	FIELD(interp_threads_head, offsetof(PyInterpreterState, tstate_head));
#endif
}

static void print_tstate(void)
{
	FIELD(tstate_next, offsetof(PyThreadState, next));
	FIELD(tstate_interp, offsetof(PyThreadState, interp));
#if PY_VERSION_HEX >= 0x030d0000
	FIELD(tstate_frame, offsetof(PyThreadState, current_frame));
	NONE(cframe_current_frame);
#elif PY_VERSION_HEX >= 0x030b0000
	FIELD(tstate_frame, offsetof(PyThreadState, cframe));
	FIELD(cframe_current_frame, offsetof(_PyCFrame, current_frame));
#else
	FIELD(tstate_frame, offsetof(PyThreadState, frame));
	NONE(cframe_current_frame);
#endif
	FIELD(tstate_thread_id, offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030b0000
	FIELD(tstate_native_thread_id, offsetof(PyThreadState, native_thread_id));
#else
	NONE(tstate_native_thread_id);
#endif
}

static void print_frame(void)
{
#if PY_VERSION_HEX >= 0x030b0000
#if PY_VERSION_HEX >= 0x030d0000
	FIELD(frame_code, offsetof(_PyInterpreterFrame, f_executable));
	FIELD(frame_instr, offsetof(_PyInterpreterFrame, instr_ptr));
#else
	FIELD(frame_code, offsetof(_PyInterpreterFrame, f_code));
	FIELD(frame_instr, offsetof(_PyInterpreterFrame, prev_instr));
#endif
	FIELD(frame_previous, offsetof(_PyInterpreterFrame, previous));
	FIELD(frame_owner, offsetof(_PyInterpreterFrame, owner));
#else
	FIELD(frame_code, offsetof(PyFrameObject, f_code));
	FIELD(frame_instr, offsetof(PyFrameObject, f_lasti));
	FIELD(frame_previous, offsetof(PyFrameObject, f_back));
	NONE(frame_owner);
#endif
	/* How the position is stored, and which owners mark C-stack shim frames (3.12+; 3.11 has
	 * no such owner and marks C entries with is_entry on a real frame instead). */
#if PY_VERSION_HEX >= 0x030d0000
	SYM(instr_kind, PM_INSTR_CUR_PTR);
#elif PY_VERSION_HEX >= 0x030b0000
	SYM(instr_kind, PM_INSTR_PREV_PTR);
#elif PY_VERSION_HEX >= 0x030a0000
	SYM(instr_kind, PM_INSTR_LASTI_UNITS);
#else
	SYM(instr_kind, PM_INSTR_LASTI_BYTES);
#endif
#if PY_VERSION_HEX >= 0x030c0000
	FIELD(owner_skip_min, FRAME_OWNED_BY_CSTACK);
#else
	FIELD(owner_skip_min, 0);
#endif
}

static void print_code(void)
{
	FIELD(code_argcount, offsetof(PyCodeObject, co_argcount));
	FIELD(code_kwonlyargcount, offsetof(PyCodeObject, co_kwonlyargcount));
	FIELD(code_flags, offsetof(PyCodeObject, co_flags));
	FIELD(code_firstlineno, offsetof(PyCodeObject, co_firstlineno));
	FIELD(code_filename, offsetof(PyCodeObject, co_filename));
	FIELD(code_name, offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030b0000
	FIELD(code_qualname, offsetof(PyCodeObject, co_qualname));
	FIELD(code_linetable, offsetof(PyCodeObject, co_linetable));
	NONE(code_code);
	FIELD(code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
#else
	NONE(code_qualname);
#if PY_VERSION_HEX >= 0x030a0000
	FIELD(code_linetable, offsetof(PyCodeObject, co_linetable));
#else
	FIELD(code_linetable, offsetof(PyCodeObject, co_lnotab));
#endif
	FIELD(code_code, offsetof(PyCodeObject, co_code));
	NONE(code_adaptive);
#endif
}

static void print_objects(void)
{
	PyASCIIObject o;

	FIELD(object_type, offsetof(PyObject, ob_type));
	FIELD(varobject_size, offsetof(PyVarObject, ob_size));
	FIELD(bytes_sval, offsetof(PyBytesObject, ob_sval));
	FIELD(unicode_length, offsetof(PyASCIIObject, length));
	FIELD(unicode_state, offsetof(PyASCIIObject, state));
	FIELD(unicode_ascii_data, sizeof(PyASCIIObject));
	FIELD(unicode_compact_data, sizeof(PyCompactUnicodeObject));
	FIELD(type_name, offsetof(PyTypeObject, tp_name));
	memset(&o, 0, sizeof(o));
	o.state.kind = 1;
	FIELD(unicode_kind_shift, state_bit(&o));
	memset(&o, 0, sizeof(o));
	o.state.compact = 1;
	FIELD(unicode_compact_bit, state_bit(&o));
	memset(&o, 0, sizeof(o));
	o.state.ascii = 1;
	FIELD(unicode_ascii_bit, state_bit(&o));
}

/* 3.13+: where each _Py_DebugOffsets member sits, paired with the py_layout field it must equal. */
static void print_debug_checks(void)
{
#if PY_VERSION_HEX >= 0x030d0000
#define CHECK(dbg, field) \
	printf("\t{ %lu, offsetof(struct py_layout, %s) },\n", \
	       (unsigned long)offsetof(_Py_DebugOffsets, dbg), #field)
	printf("#define PY_DEBUG_SIZE_0x%04x %lu\n", PY_VERSION_HEX >> 16,
	       (unsigned long)sizeof(_Py_DebugOffsets));
	printf("#define PY_DEBUG_VERSION_AT_0x%04x %lu\n", PY_VERSION_HEX >> 16,
	       (unsigned long)offsetof(_Py_DebugOffsets, version));
	printf("static const struct py_debug_check py_debug_checks_0x%04x[] = {\n",
	       PY_VERSION_HEX >> 16);
	CHECK(runtime_state.interpreters_head, runtime_interp_head);
	CHECK(interpreter_state.next, interp_next);
	CHECK(interpreter_state.threads_head, interp_threads_head);
	CHECK(thread_state.next, tstate_next);
	CHECK(thread_state.interp, tstate_interp);
	CHECK(thread_state.current_frame, tstate_frame);
	CHECK(thread_state.thread_id, tstate_thread_id);
	CHECK(thread_state.native_thread_id, tstate_native_thread_id);
	CHECK(interpreter_frame.previous, frame_previous);
	CHECK(interpreter_frame.executable, frame_code);
	CHECK(interpreter_frame.instr_ptr, frame_instr);
	CHECK(interpreter_frame.owner, frame_owner);
	CHECK(code_object.filename, code_filename);
	CHECK(code_object.name, code_name);
	CHECK(code_object.qualname, code_qualname);
	CHECK(code_object.linetable, code_linetable);
	CHECK(code_object.firstlineno, code_firstlineno);
	CHECK(code_object.argcount, code_argcount);
	CHECK(code_object.co_code_adaptive, code_adaptive);
	CHECK(pyobject.ob_type, object_type);
	CHECK(type_object.tp_name, type_name);
	CHECK(bytes_object.ob_size, varobject_size);
	CHECK(bytes_object.ob_sval, bytes_sval);
	CHECK(unicode_object.state, unicode_state);
	CHECK(unicode_object.length, unicode_length);
	CHECK(unicode_object.asciiobject_size, unicode_ascii_data);
	printf("};\n");
#undef CHECK
#endif
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--debug-checks")) {
		print_debug_checks();
		return 0;
	}
	printf("{\n");
	printf("\t.version = 0x%04x,\n", PY_VERSION_HEX >> 16);
	print_runtime();
	print_tstate();
	print_frame();
	print_code();
	print_objects();
	printf("},\n");
	return 0;
}
