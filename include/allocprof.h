/* The report of `pyrometer alloc`: sampled allocations merged by symbolized Python stack, then
 * grouped by allocation site (the innermost frame's line) or by whole stack, as a text table,
 * JSON or folded stacks. Pure: symbolized labels in, text out; tested without BPF. */
#ifndef ALLOCPROF_H
#define ALLOCPROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#define ALLOCPROF_MAX_FRAMES 64 /* frames kept per stack (innermost ones) */

struct allocprof_vals {
	uint64_t samples;
	uint64_t bytes, count;           /* estimated totals over the recording */
	uint64_t live_bytes, live_count; /* estimated, of those still allocated at the end */
};

struct allocprof_row {
	const char *site;  /* innermost frame, "qualname (file:line)" */
	const char *stack; /* frames root first, joined by ';' (folded format) */
	struct allocprof_vals v;
};

enum allocprof_by { ALLOCPROF_BY_SITE = 0, ALLOCPROF_BY_STACK = 1 };
enum allocprof_weight { ALLOCPROF_BYTES = 0, ALLOCPROF_LIVE_BYTES = 1, ALLOCPROF_COUNT = 2 };

struct allocprof;

/* An empty report holding at most max_stacks distinct stacks (more are added to an
 * "[other stacks]" row). NULL on OOM. */
struct allocprof *allocprof_new(size_t max_stacks);
void allocprof_free(struct allocprof *a);

/* Adds v to the stack whose frames are given innermost first (labels are copied; nframes 0 is
 * the "[no Python stack]" row). Returns 0 or -ENOMEM. */
int allocprof_add(struct allocprof *a, const char *const *frames, size_t nframes, const struct allocprof_vals *v);

/* Rows grouped by site or stack, heaviest first by `w` (ties by site text). The array is
 * malloc'd (free() it; strings belong to a). Returns the count, or -ENOMEM. */
ssize_t allocprof_rows(const struct allocprof *a, enum allocprof_by by, enum allocprof_weight w,
		       struct allocprof_row **out);
void allocprof_totals(const struct allocprof *a, struct allocprof_vals *out);

/* The table: one header line, then up to `top` rows (0: all) with bytes, share, count, live
 * bytes, live share and the site (or stack). Returns 0 or -errno. */
int allocprof_print(const struct allocprof *a, enum allocprof_by by, size_t top, FILE *f);
/* {"totals":{...}, "sites":[...], "stacks":[...]} (a new object). */
json_object *allocprof_json(const struct allocprof *a);
/* Folded stacks weighted by w, one line per stack with a non-zero weight. */
int allocprof_folded(const struct allocprof *a, enum allocprof_weight w, FILE *f);

#endif
