/* The in-memory profile: symbolized stacks with weights, shared by the recorder, the daemon's
 * aggregates and every output format (folded, speedscope, pprof, SVG). Frames are interned once;
 * a stack is an array of frame ids, root first. Not thread-safe: callers serialize. */
#ifndef PROFILE_H
#define PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum prof_frame_kind {
	PROF_FRAME_PYTHON = 0,
	PROF_FRAME_NATIVE = 1, /* native user-space function */
	PROF_FRAME_KERNEL = 2,
	PROF_FRAME_THREAD = 3, /* pseudo-frame naming the thread (optional root) */
	PROF_FRAME_MARKER = 4, /* pseudo-frame such as "[truncated]" or "[unknown]" */
	PROF_FRAME_PROCESS = 5,/* pseudo-frame naming the process (optional root) */
};

struct prof_frame {
	char *name;  /* qualname for Python, symbol for native/kernel */
	char *file;  /* source path, or module/binary path; may be "" */
	int32_t line;/* 0 = unknown */
	uint8_t kind;/* enum prof_frame_kind */
};

struct prof_stack {
	uint32_t nframes;
	uint32_t *frames; /* frame ids, root first */
	uint64_t value;   /* samples (CPU), or nanoseconds / bytes for weighted profiles */
};

enum prof_unit {
	PROF_UNIT_SAMPLES = 0,
	PROF_UNIT_NANOSECONDS = 1,
	PROF_UNIT_BYTES = 2,
};

struct profile;

/* A new empty profile. `unit` says what stack values count; period_ns is the sampling period
 * (for PROF_UNIT_SAMPLES; 0 otherwise). Returns NULL on OOM. */
struct profile *prof_new(enum prof_unit unit, uint64_t period_ns);
void prof_free(struct profile *p);

/* Interns a frame; returns its id (>= 0) or -ENOMEM. Strings are copied. */
int prof_frame_id(struct profile *p, const char *name, const char *file, int32_t line, uint8_t kind);

/* Adds `value` to the stack given as frame ids, root first (merging identical stacks).
 * Returns 0 or -ENOMEM / -E2BIG when the profile is at its stack cap (the value is then added to
 * prof_dropped()). */
int prof_add(struct profile *p, const uint32_t *frames, uint32_t nframes, uint64_t value);

/* Merges all stacks of src into dst (frames re-interned). */
int prof_merge(struct profile *dst, const struct profile *src);

size_t prof_nstacks(const struct profile *p);
size_t prof_nframes(const struct profile *p);
const struct prof_stack *prof_stack_at(const struct profile *p, size_t i);
const struct prof_frame *prof_frame_at(const struct profile *p, uint32_t id);
uint64_t prof_total(const struct profile *p);
uint64_t prof_dropped(const struct profile *p);
enum prof_unit prof_unit(const struct profile *p);
uint64_t prof_period_ns(const struct profile *p);
/* Wall time covered, for formats that carry it. */
void prof_set_time(struct profile *p, uint64_t start_unix_ns, uint64_t duration_ns);
uint64_t prof_start_ns(const struct profile *p);
uint64_t prof_duration_ns(const struct profile *p);
/* Caps the number of distinct stacks (default 65536). */
void prof_set_max_stacks(struct profile *p, size_t max);

/* Writes "name (file:line)" for a Python frame, "name" otherwise, into buf. */
void prof_frame_label(const struct prof_frame *f, char *buf, size_t len);

/* ---- output formats (src/fmt_*.c). Each returns 0 or -errno. ------------------------------- */
/* Folded ("collapsed") stacks: one line per unique stack, root first, frames joined by ';',
 * each Python frame "qualname (path:line)", then ' ' and the value. Sorted by stack text. */
int fmt_folded(const struct profile *p, FILE *out);
/* speedscope JSON (https://www.speedscope.app/file-format-schema.json), one "sampled" profile. */
int fmt_speedscope(const struct profile *p, const char *name, FILE *out);
/* pprof protobuf (github.com/google/pprof/proto/profile.proto), gzip-compressed as pprof expects. */
int fmt_pprof(const struct profile *p, FILE *out);
/* A standalone interactive SVG flame graph (hover: frame and share; click: zoom; reset). */
int fmt_flamegraph_svg(const struct profile *p, const char *title, FILE *out);

#endif
