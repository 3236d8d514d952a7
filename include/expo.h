/* Prometheus text exposition (format version 0.0.4) written into a growable buffer: metric
 * families with HELP/TYPE, counters, gauges and histograms, validated names, escaped labels.
 * Pure: no I/O. Errors are sticky: after the first failure every call returns it again and
 * the buffer must not be served. Not thread-safe: one writer per struct expo. */
#ifndef EXPO_H
#define EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Caps that keep a runaway caller from building an unbounded page. */
#define EXPO_MAX_FAMILIES 1024
#define EXPO_MAX_LABELS   16
#define EXPO_MAX_BUCKETS  64

enum expo_type {
	EXPO_COUNTER = 0,
	EXPO_GAUGE = 1,
	EXPO_HISTOGRAM = 2,
	EXPO_UNTYPED = 3,
};

struct expo_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
	const char *value; /* any bytes; escaped, invalid UTF-8 replaced by U+FFFD */
};

struct expo;

/* A new empty page, or NULL on OOM. */
struct expo *expo_new(void);
/* Frees the page; accepts NULL. */
void expo_free(struct expo *e);
/* Empties the page (and clears the sticky error) so it can be rebuilt for the next scrape. */
void expo_reset(struct expo *e);

/* Starts a metric family: writes "# HELP name help" and "# TYPE name type". Returns 0,
 * -EINVAL for an invalid name, a family begun twice on one page, or a counter whose name does
 * not end in "_total"; -E2BIG past EXPO_MAX_FAMILIES; -ENOMEM. */
int expo_family(struct expo *e, const char *name, enum expo_type type, const char *help);

/* One sample of the current counter, gauge or untyped family: "name{labels} value".
 * Counters reject negative values and NaN (-EINVAL). Returns 0 or -errno. */
int expo_value(struct expo *e, const struct expo_label *labels, size_t nlabels, double value);
/* Same, for exact integers (counters beyond 2^53 stay exact). */
int expo_value_u64(struct expo *e, const struct expo_label *labels, size_t nlabels, uint64_t value);

/* One histogram series of the current histogram family. bounds[0..nbounds) are the finite upper
 * bounds, strictly increasing; counts[0..nbounds] are per-bucket (not cumulative) counts, the
 * last one for values above every bound. Writes cumulative name_bucket{...,le="b"} lines, the
 * le="+Inf" bucket, name_sum and name_count. Labels must not include "le". Returns 0 or -errno. */
int expo_histogram(struct expo *e, const struct expo_label *labels, size_t nlabels,
		   const double *bounds, const uint64_t *counts, size_t nbounds, double sum);

/* The page text (NUL-terminated) and its length; NULL if the page is in error. */
const char *expo_data(const struct expo *e, size_t *len);
/* Hands the buffer to the caller (free() it), leaving the page empty. NULL on error/OOM. */
char *expo_steal(struct expo *e, size_t *len);
/* 0, or the first error any call returned. */
int expo_error(const struct expo *e);

/* ---- pure helpers, exposed for tests and for other writers ------------------------------ */
/* Metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool expo_valid_metric_name(const char *name);
/* Label name: [a-zA-Z_][a-zA-Z0-9_]*, and not reserved ("__" prefix). */
bool expo_valid_label_name(const char *name);
/* Formats a sample value as Prometheus parses it: "NaN", "+Inf", "-Inf", integers without
 * exponent or fraction ("42", "-3"), other values in the shortest round-tripping %g form.
 * Returns the length written (always < len for len >= 32). */
int expo_format_value(double v, char *buf, size_t len);

#endif
