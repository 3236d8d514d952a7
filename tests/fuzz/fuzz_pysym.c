/* Fuzz target: code-object reads (src/pysym.c) the way the daemon does them, against fake
 * CPython objects in this process's own memory (process_vm_readv on ourselves needs no
 * privilege). Input: u8 version selector, u8 flags, i32 lasti, then, each as a u16 length and
 * its bytes, the raw code object, the name str, the file-name str and the line-table bytes object.
 * Flags choose which pointer fields are aimed at those objects; the others are cut to the
 * unmapped first page, so every input reads the same memory on every run. A resolved frame
 * must carry NUL-terminated UTF-8 names and a line >= 0, and resolve the same way from the
 * cache; a changed object at the same address must be read again. */
#include <unistd.h>

#include "fuzz.h"
#include "pyoffsets.h"
#include "pystr.h"
#include "pysym.h"
#include "pytarget.h"

#define OBJ_BYTES  (8 * 1024)   /* > header + PYSYM_MAX_CHARS * 4 */
#define TAB_BYTES  (66 * 1024)  /* > header + PYSYM_MAX_LINETABLE */
#define DATA_AT    512          /* where a non-compact str's data pointer is aimed */

enum {
	F_TYPE = 1, F_NAME = 2, F_QUALNAME = 4, F_FILE = 8, F_TABLE = 16, F_DATA = 32, F_TYPECHECK = 64,
};

static uint8_t fake_type[64];
static uint8_t code[256];
static uint8_t name[OBJ_BYTES], file[OBJ_BYTES], tab[TAB_BYTES];

static void fill(uint8_t *obj, size_t cap, struct fuzz_in *in)
{
	size_t n;
	char *f = fuzz_chunk(in, &n);

	memset(obj, 0, cap);
	memcpy(obj, f, n < cap ? n : cap);
	free(f);
}

/* Aims the 8-byte field at off at target, or cuts it to page 0 (never mapped). */
static void aim(uint8_t *obj, uint16_t off, size_t cap, const void *target, bool on)
{
	uint64_t v;

	if (off == PYOFF_NONE || (size_t)off + 8 > cap)
		return;
	memcpy(&v, obj + off, 8);
	v = on ? (uint64_t)(uintptr_t)target : v & 0xfff;
	memcpy(obj + off, &v, 8);
}

/* A non-compact str keeps its data behind a pointer where a compact one has its characters. */
static void aim_data(const struct py_layout *l, uint8_t *str, bool on)
{
	struct pystr_shape sh;
	uint32_t state;

	memcpy(&state, str + l->unicode_state, 4);
	pystr_shape(l, state, &sh);
	if (!sh.compact)
		aim(str, l->unicode_compact_data, OBJ_BYTES, str + DATA_AT, on);
}

static void check_frame(const struct pysym_frame *f)
{
	FUZZ_CHECK(f->name && f->file);
	FUZZ_CHECK(fuzz_utf8_ok(f->name, strlen(f->name)));
	FUZZ_CHECK(fuzz_utf8_ok(f->file, strlen(f->file)));
	FUZZ_CHECK(f->line >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint16_t version = (uint16_t)(0x0306 + fuzz_uint(&in, 1) % 8);
	unsigned flags = (unsigned)fuzz_uint(&in, 1);
	int32_t lasti = (int32_t)fuzz_uint(&in, 4);
	const struct py_layout *l = py_layout_for(version);
	struct py_target t = { .pid = getpid(), .version = version, .layout = l };
	struct pysym_frame f, g;
	struct pysym *s;
	char *first_name;
	int rc, rc2;

	if (!l)
		return 0;
	fill(code, sizeof(code), &in);
	fill(name, sizeof(name), &in);
	fill(file, sizeof(file), &in);
	fill(tab, sizeof(tab), &in);
	aim(code, l->object_type, sizeof(code), fake_type, flags & F_TYPE);
	aim(code, l->code_name, sizeof(code), name, flags & F_NAME);
	aim(code, l->code_qualname, sizeof(code), name, flags & F_QUALNAME);
	aim(code, l->code_filename, sizeof(code), file, flags & F_FILE);
	aim(code, l->code_linetable, sizeof(code), tab, flags & F_TABLE);
	aim_data(l, name, flags & F_DATA);
	aim_data(l, file, flags & F_DATA);
	if (flags & F_TYPECHECK)
		t.code_type_addr = (uintptr_t)fake_type;

	s = pysym_new(4);
	if (!s)
		abort();
	rc = pysym_resolve(s, &t, (uintptr_t)code, lasti, &f);
	check_frame(&f);
	FUZZ_CHECK(rc <= 0);
	first_name = strdup(f.name);
	if (!first_name)
		abort();
	/* Unchanged object: the cache answers the same. */
	rc2 = pysym_resolve(s, &t, (uintptr_t)code, lasti, &g);
	check_frame(&g);
	FUZZ_CHECK(rc2 == rc);
	FUZZ_CHECK(!strcmp(g.name, first_name) && f.line == g.line);
	/* The file-name pointer re-aimed at the name object: a changed object at the same address
	 * is re-read, never served stale from the cache. */
	if (!rc) {
		aim(code, l->code_filename, sizeof(code), name, true);
		rc2 = pysym_resolve(s, &t, (uintptr_t)code, lasti, &g);
		check_frame(&g);
		FUZZ_CHECK(rc2 == 0 && !strcmp(g.file, first_name));
	}
	/* Other positions in the same code object, then forget the process. */
	for (int32_t u = -1; u < 64; u += 7) {
		pysym_resolve(s, &t, (uintptr_t)code, u, &g);
		check_frame(&g);
	}
	pysym_forget(s, t.pid);
	free(first_name);
	pysym_free(s);
	return 0;
}
