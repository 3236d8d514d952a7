/* Symbolization of Python frames captured as (code object address, instruction index): reads the
 * code object from the target with process_vm_readv, decodes names and the line table, and caches
 * per (pid, code address) in a bounded table that detects reused addresses. */
#ifndef PYSYM_H
#define PYSYM_H

#include <stddef.h>
#include <stdint.h>

#include "pytarget.h"

struct pysym;

struct pysym_frame {
	const char *name; /* co_qualname (3.11+) or co_name; owned by the cache, valid until the next call */
	const char *file; /* co_filename */
	int line;         /* 0 = unknown */
};

struct pysym_stats {
	uint64_t hits, misses, stale, failures, evictions;
	size_t entries;
};

/* A cache holding at most max_entries code objects. NULL on OOM. */
struct pysym *pysym_new(size_t max_entries);
void pysym_free(struct pysym *s);

/* Resolves one frame of target t. `lasti` is the raw position as captured (pm_py_frame.lasti).
 * Returns 0, or -errno when the code object cannot be read or is not a code object; out then
 * holds a placeholder ("<unknown>"). */
int pysym_resolve(struct pysym *s, const struct py_target *t, uint64_t code, int32_t lasti,
		  struct pysym_frame *out);

/* Starts a new round: an entry's code object header is compared again at its first hit in each
 * round, and trusted for the rest of it. Without rounds every hit is compared. The daemon starts
 * one per drain (~100 ms): a code object freed and its address reused within one drain is no more
 * likely than between a sample's capture and its resolve. */
void pysym_next_round(struct pysym *s);

/* Drops every entry of pid (call on process exit). */
void pysym_forget(struct pysym *s, pid_t pid);
void pysym_get_stats(const struct pysym *s, struct pysym_stats *st);

#endif
