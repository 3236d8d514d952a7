/* The `pyrometer alloc` report (include/allocprof.h): stacks interned by their folded text in a
 * chained hash table, grouped and sorted on output. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "allocprof.h"
#include "memtrend.h"

#define NBUCKETS 4096

struct entry {
	struct entry *next;
	struct allocprof_row row; /* site/stack point into `text` */
	char *text;               /* "site\0stack" */
};

struct allocprof {
	struct entry *buckets[NBUCKETS];
	struct entry **all;
	size_t n, cap, max;
	struct entry *other;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

struct allocprof *allocprof_new(size_t max_stacks)
{
	struct allocprof *a = calloc(1, sizeof(*a));

	if (a)
		a->max = max_stacks ? max_stacks : 65536;
	return a;
}

void allocprof_free(struct allocprof *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->all[i]->text);
		free(a->all[i]);
	}
	free(a->all);
	free(a);
}

static void add_vals(struct allocprof_vals *d, const struct allocprof_vals *v)
{
	d->samples += v->samples;
	d->bytes += v->bytes;
	d->count += v->count;
	d->live_bytes += v->live_bytes;
	d->live_count += v->live_count;
}

/* "root;...;leaf" from innermost-first frames, into a malloc'd "site\0stack". */
static char *stack_text(const char *const *frames, size_t n)
{
	size_t len = 0, at;
	const char *site = n ? frames[0] : "[no Python stack]";
	char *t;

	if (n > ALLOCPROF_MAX_FRAMES)
		n = ALLOCPROF_MAX_FRAMES;
	for (size_t i = 0; i < n; i++)
		len += strlen(frames[i]) + 1;
	len += strlen(site) + 2 + (n ? 0 : strlen(site));
	t = malloc(len);
	if (!t)
		return NULL;
	at = (size_t)sprintf(t, "%s", site) + 1;
	if (!n)
		at += (size_t)sprintf(t + at, "%s", site);
	for (size_t i = n; i-- > 0;)
		at += (size_t)sprintf(t + at, "%s%s", frames[i], i ? ";" : "");
	t[at] = 0;
	return t;
}

static struct entry *new_entry(struct allocprof *a, char *text)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct entry **all = realloc(a->all, cap * sizeof(*all));

		if (!all) {
			free(e);
			return NULL;
		}
		a->all = all;
		a->cap = cap;
	}
	e->text = text;
	e->row.site = text;
	e->row.stack = text + strlen(text) + 1;
	a->all[a->n++] = e;
	return e;
}

int allocprof_add(struct allocprof *a, const char *const *frames, size_t nframes, const struct allocprof_vals *v)
{
	char *text = stack_text(frames, nframes);
	struct entry *e;
	uint64_t h;

	if (!text)
		return -ENOMEM;
	h = fnv(text + strlen(text) + 1) % NBUCKETS;
	for (e = a->buckets[h]; e; e = e->next)
		if (!strcmp(e->row.stack, text + strlen(text) + 1))
			break;
	if (e) {
		free(text);
	} else if (a->n >= a->max) {
		free(text);
		if (!a->other) {
			char *o = strdup("[other stacks]\0[other stacks]");

			if (!o || !(a->other = new_entry(a, o)))
				return free(o), -ENOMEM;
			a->other->row.stack = "[other stacks]";
		}
		e = a->other;
	} else {
		e = new_entry(a, text);
		if (!e)
			return free(text), -ENOMEM;
		e->next = a->buckets[h];
		a->buckets[h] = e;
	}
	add_vals(&e->row.v, v);
	return 0;
}

void allocprof_totals(const struct allocprof *a, struct allocprof_vals *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < a->n; i++)
		add_vals(out, &a->all[i]->row.v);
}

static uint64_t weight_of(const struct allocprof_row *r, enum allocprof_weight w)
{
	return w == ALLOCPROF_LIVE_BYTES ? r->v.live_bytes : w == ALLOCPROF_COUNT ? r->v.count : r->v.bytes;
}

static int cmp_rows(const void *x, const void *y, void *ctx)
{
	const struct allocprof_row *a = x, *b = y;
	enum allocprof_weight w = *(const enum allocprof_weight *)ctx;
	uint64_t wa = weight_of(a, w), wb = weight_of(b, w);
	int c;

	if (wa != wb)
		return wa < wb ? 1 : -1;
	c = strcmp(a->site, b->site);
	return c ? c : strcmp(a->stack, b->stack);
}

ssize_t allocprof_rows(const struct allocprof *a, enum allocprof_by by, enum allocprof_weight w,
		       struct allocprof_row **out)
{
	struct allocprof_row *rows = malloc((a->n ? a->n : 1) * sizeof(*rows));
	size_t n = 0;

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		const struct allocprof_row *r = &a->all[i]->row;
		size_t j = n;

		/* by site: few sites, a linear merge is fine */
		if (by == ALLOCPROF_BY_SITE)
			for (j = 0; j < n && strcmp(rows[j].site, r->site); j++)
				;
		if (j == n) {
			rows[n] = *r;
			if (by == ALLOCPROF_BY_SITE)
				rows[n].stack = r->site;
			n++;
		} else {
			add_vals(&rows[j].v, &r->v);
		}
	}
	qsort_r(rows, n, sizeof(*rows), cmp_rows, &w);
	*out = rows;
	return (ssize_t)n;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0;
}

int allocprof_print(const struct allocprof *a, enum allocprof_by by, size_t top, FILE *f)
{
	struct allocprof_vals t;
	struct allocprof_row *rows;
	ssize_t n = allocprof_rows(a, by, ALLOCPROF_BYTES, &rows);

	if (n < 0)
		return (int)n;
	allocprof_totals(a, &t);
	fprintf(f, "%11s %6s %12s %11s %6s  %s\n", "BYTES", "%", "COUNT", "LIVE", "%LIVE", by == ALLOCPROF_BY_SITE ? "SITE" : "STACK");
	for (ssize_t i = 0; i < n && (!top || (size_t)i < top); i++) {
		char b[32], l[32];

		mt_format_bytes((double)rows[i].v.bytes, b, sizeof(b));
		mt_format_bytes((double)rows[i].v.live_bytes, l, sizeof(l));
		fprintf(f, "%11s %6.1f %12llu %11s %6.1f  %s\n", b, pct(rows[i].v.bytes, t.bytes),
			(unsigned long long)rows[i].v.count, l, pct(rows[i].v.live_bytes, t.live_bytes),
			by == ALLOCPROF_BY_SITE ? rows[i].site : rows[i].stack);
	}
	if (top && (size_t)n > top)
		fprintf(f, "(%zd more %s)\n", n - (ssize_t)top, by == ALLOCPROF_BY_SITE ? "sites" : "stacks");
	free(rows);
	return ferror(f) ? -EIO : 0;
}

static json_object *vals_json(const struct allocprof_vals *v, const struct allocprof_vals *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "bytes", json_object_new_uint64(v->bytes));
	json_object_object_add(o, "share", json_object_new_double(t->bytes ? (double)v->bytes / t->bytes : 0));
	json_object_object_add(o, "count", json_object_new_uint64(v->count));
	json_object_object_add(o, "live_bytes", json_object_new_uint64(v->live_bytes));
	json_object_object_add(o, "live_share",
			       json_object_new_double(t->live_bytes ? (double)v->live_bytes / t->live_bytes : 0));
	json_object_object_add(o, "live_count", json_object_new_uint64(v->live_count));
	json_object_object_add(o, "samples", json_object_new_uint64(v->samples));
	return o;
}

static json_object *rows_json(const struct allocprof *a, enum allocprof_by by, const struct allocprof_vals *t)
{
	json_object *arr = json_object_new_array();
	struct allocprof_row *rows;
	ssize_t n = allocprof_rows(a, by, ALLOCPROF_BYTES, &rows);

	for (ssize_t i = 0; i < n; i++) {
		json_object *o = vals_json(&rows[i].v, t);

		json_object_object_add(o, "site", json_object_new_string(rows[i].site));
		if (by == ALLOCPROF_BY_STACK)
			json_object_object_add(o, "stack", json_object_new_string(rows[i].stack));
		json_object_array_add(arr, o);
	}
	if (n >= 0)
		free(rows);
	return arr;
}

json_object *allocprof_json(const struct allocprof *a)
{
	json_object *o = json_object_new_object();
	struct allocprof_vals t;

	allocprof_totals(a, &t);
	json_object_object_add(o, "totals", vals_json(&t, &t));
	json_object_object_add(o, "sites", rows_json(a, ALLOCPROF_BY_SITE, &t));
	json_object_object_add(o, "stacks", rows_json(a, ALLOCPROF_BY_STACK, &t));
	return o;
}

int allocprof_folded(const struct allocprof *a, enum allocprof_weight w, FILE *f)
{
	struct allocprof_row *rows;
	ssize_t n = allocprof_rows(a, ALLOCPROF_BY_STACK, w, &rows);

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i++)
		if (weight_of(&rows[i], w))
			fprintf(f, "%s %llu\n", rows[i].stack, (unsigned long long)weight_of(&rows[i], w));
	free(rows);
	return ferror(f) ? -EIO : 0;
}
