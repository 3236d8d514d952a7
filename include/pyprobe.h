/* Where to probe a CPython interpreter's collector and allocators: the python:gc__start/gc__done
 * USDT notes when the ELF has them, else the collector function found in its symbol table (and
 * which argument holds the generation), and the allocator entry points for `pyrometer alloc`.
 * Reads ELF files only (through elfsym); attaching is the caller's business. */
#ifndef PYPROBE_H
#define PYPROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "elfsym.h"

#define PYPROBE_MAX_FUNCS 8
#define PYPROBE_NAME_LEN  48

enum pyprobe_gc_kind {
	PYPROBE_GC_NONE = 0,
	PYPROBE_GC_USDT = 1,   /* python:gc__start(int generation) / python:gc__done(Py_ssize_t) */
	PYPROBE_GC_UPROBE = 2, /* entry and return of the collector function(s) */
};

/* One probe site: a function by name, or (name == USDT probe name) a file offset. */
struct pyprobe_func {
	char name[PYPROBE_NAME_LEN];
	uint64_t offset;     /* file offset of a USDT site; 0 = attach to the function `name` */
	uint64_t ref_ctr;    /* file offset of the USDT semaphore, 0 = none */
	uint64_t cookie;     /* GC: PM_GC_ARG_*; alloc: PM_ALLOC_* */
	bool ret;            /* also probe the function's return (with the "end" program) */
	bool end;            /* this site ends the operation (gc__done): the "end" program at entry */
};

struct pyprobe_gc {
	enum pyprobe_gc_kind kind;
	unsigned nfuncs; /* the sites: gc__start + gc__done, or collector functions (entry + return) */
	struct pyprobe_func funcs[PYPROBE_MAX_FUNCS];
};

/* How to time collections of an interpreter of version 0xMMmm whose runtime is the ELF at path.
 * Returns 0 (out->kind says which), -ENOENT when neither USDT notes nor a known collector symbol
 * are there (out->kind is PYPROBE_GC_NONE), or -errno if the file cannot be read. */
int pyprobe_gc_find(const char *path, uint16_t version, struct pyprobe_gc *out);

/* ---- USDT (SystemTap SDT notes) -------------------------------------------------------- */
struct pyprobe_usdt {
	uint64_t offset;  /* file offset of the probe's nop */
	uint64_t ref_ctr; /* file offset of its semaphore, 0 = none */
	char args[128];   /* the argument string, e.g. "-4@112(%rsp)" */
};
/* The provider:name probe of the ELF at path. 0, -ENOENT, or -errno. */
int pyprobe_usdt_find(const char *path, const char *provider, const char *name, struct pyprobe_usdt *out);
/* Argument `index` (0-based) of a USDT argument string as a PM_USDT_ARG() value: "N@%reg",
 * "N@off(%reg)", "N@(%reg)", "N@$imm" on x86-64 (N = +-1/2/4/8). 0, -ENOENT (no such argument)
 * or -EINVAL (a form this parser does not know). */
int pyprobe_usdt_arg(const char *args, unsigned index, uint64_t *spec);
/* "usdt python:gc__start/gc__done", "uprobe gc_collect_main" or "none" into buf. */
void pyprobe_gc_describe(const struct pyprobe_gc *g, char *buf, size_t len);

struct pyprobe_alloc {
	unsigned nfuncs;
	struct pyprobe_func funcs[PYPROBE_MAX_FUNCS];
	bool complete; /* the interpreter's allocator implementation itself (every Python allocation) */
};

/* The interpreter's allocator functions in e: pymalloc's own _PyObject_Malloc/Calloc/Realloc/Free
 * from .symtab when present (called through the allocator table, so never inlined: every
 * PyObject_* and PyMem_* allocation passes there), else the exported PyObject_* and PyMem_*
 * entry points (callers inside an LTO build may have inlined them: complete = false).
 * 0 or -ENOENT. */
int pyprobe_alloc_python(const struct elfsym *e, struct pyprobe_alloc *out);
/* libc's malloc, calloc, realloc and free in e. 0 or -ENOENT. */
int pyprobe_alloc_libc(const struct elfsym *e, struct pyprobe_alloc *out);

#endif
