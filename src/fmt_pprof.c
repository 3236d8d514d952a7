/* pprof output: the profile as a perftools.profiles.Profile message (proto/profile.proto, packed by
 * protobuf-c), gzip-compressed with zlib as `go tool pprof` expects. One Location per interned
 * frame (id = frame id + 1), one Function per distinct (name, file), one Sample per stack. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "profile.h"
#include "profile.pb-c.h"

#ifndef PYROMETER_VERSION
#define PYROMETER_VERSION "unknown"
#endif

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__Mapping PbMapping;

#define PP_EMPTY UINT32_MAX

/* Everything the packed message points into; freed in one place. */
struct pp_build {
	PbProfile msg;
	PbValueType types[2], period_type;
	PbValueType *type_ptrs[2];
	PbMapping mapping, *mapping_ptr;
	int64_t comments[2];

	char **strs;            /* string table; strs[0] = "" */
	size_t nstrs, strs_cap;
	uint32_t *str_slots;    /* string indexes, PP_EMPTY when free */
	size_t str_slots_n;

	PbFunction *funcs, **func_ptrs;
	size_t nfuncs;
	uint32_t *func_slots;   /* function indexes keyed by (name, file) string indexes */
	size_t func_slots_n;

	PbLocation *locs, **loc_ptrs;
	PbLine *lines, **line_ptrs;

	PbSample *samples, **sample_ptrs;
	uint64_t *loc_ids;      /* all samples' location ids, leaf first */
	int64_t *values;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t hash_pair(int64_t a, int64_t b)
{
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull ^ (uint64_t)b;

	return (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
}

static uint32_t *slots_new(size_t n)
{
	uint32_t *s = malloc(n * sizeof(*s));

	if (s)
		memset(s, 0xff, n * sizeof(*s));
	return s;
}

/* Smallest power of two >= 2n (load factor <= 1/2 for n entries). */
static size_t table_size(size_t n)
{
	size_t sz = 16;

	while (sz < n * 2)
		sz *= 2;
	return sz;
}

/* String-table index of s; new strings are referenced, not copied (they outlive the build). */
static int64_t pp_str(struct pp_build *b, const char *s)
{
	size_t mask = b->str_slots_n - 1, i = hash_str(s) & mask;

	while (b->str_slots[i] != PP_EMPTY) {
		if (!strcmp(b->strs[b->str_slots[i]], s))
			return b->str_slots[i];
		i = (i + 1) & mask;
	}
	if (b->nstrs >= b->strs_cap)
		return -ENOMEM; /* sized up front: cannot happen */
	b->strs[b->nstrs] = (char *)s;
	b->str_slots[i] = (uint32_t)b->nstrs;
	return (int64_t)b->nstrs++;
}

static uint32_t pp_func(struct pp_build *b, const struct prof_frame *f)
{
	int64_t name = pp_str(b, f->name), file = pp_str(b, f->file);
	size_t mask = b->func_slots_n - 1, i = hash_pair(name, file) & mask;
	PbFunction *fn;

	while (b->func_slots[i] != PP_EMPTY) {
		fn = &b->funcs[b->func_slots[i]];
		if (fn->name == name && fn->filename == file)
			return b->func_slots[i];
		i = (i + 1) & mask;
	}
	fn = &b->funcs[b->nfuncs];
	perftools__profiles__function__init(fn);
	fn->id = b->nfuncs + 1;
	fn->name = name;
	fn->system_name = name;
	fn->filename = file;
	b->func_ptrs[b->nfuncs] = fn;
	b->func_slots[i] = (uint32_t)b->nfuncs;
	return (uint32_t)b->nfuncs++;
}

static int pp_alloc(struct pp_build *b, size_t nframes, size_t nstacks, size_t nlocids)
{
	b->strs_cap = 2 * nframes + 16;
	b->strs = calloc(b->strs_cap, sizeof(*b->strs));
	b->str_slots_n = table_size(b->strs_cap);
	b->str_slots = slots_new(b->str_slots_n);
	b->funcs = calloc(nframes ?: 1, sizeof(*b->funcs));
	b->func_ptrs = calloc(nframes ?: 1, sizeof(*b->func_ptrs));
	b->func_slots_n = table_size(nframes);
	b->func_slots = slots_new(b->func_slots_n);
	b->locs = calloc(nframes ?: 1, sizeof(*b->locs));
	b->loc_ptrs = calloc(nframes ?: 1, sizeof(*b->loc_ptrs));
	b->lines = calloc(nframes ?: 1, sizeof(*b->lines));
	b->line_ptrs = calloc(nframes ?: 1, sizeof(*b->line_ptrs));
	b->samples = calloc(nstacks ?: 1, sizeof(*b->samples));
	b->sample_ptrs = calloc(nstacks ?: 1, sizeof(*b->sample_ptrs));
	b->loc_ids = calloc(nlocids ?: 1, sizeof(*b->loc_ids));
	b->values = calloc(2 * nstacks ?: 1, sizeof(*b->values));
	if (!b->strs || !b->str_slots || !b->funcs || !b->func_ptrs || !b->func_slots ||
	    !b->locs || !b->loc_ptrs || !b->lines || !b->line_ptrs ||
	    !b->samples || !b->sample_ptrs || !b->loc_ids || !b->values)
		return -ENOMEM;
	return 0;
}

static void pp_release(struct pp_build *b)
{
	free(b->strs);
	free(b->str_slots);
	free(b->funcs);
	free(b->func_ptrs);
	free(b->func_slots);
	free(b->locs);
	free(b->loc_ptrs);
	free(b->lines);
	free(b->line_ptrs);
	free(b->samples);
	free(b->sample_ptrs);
	free(b->loc_ids);
	free(b->values);
}

static void pp_value_type(struct pp_build *b, PbValueType *vt, const char *type, const char *unit)
{
	perftools__profiles__value_type__init(vt);
	vt->type = pp_str(b, type);
	vt->unit = pp_str(b, unit);
}

/* sample_type, period and default type; returns the number of values per sample. */
static size_t pp_types(struct pp_build *b, const struct profile *p)
{
	size_t n = 1;

	switch (prof_unit(p)) {
	case PROF_UNIT_NANOSECONDS:
		pp_value_type(b, &b->types[0], "time", "nanoseconds");
		break;
	case PROF_UNIT_BYTES:
		pp_value_type(b, &b->types[0], "space", "bytes");
		break;
	default:
		pp_value_type(b, &b->types[0], "samples", "count");
		if (prof_period_ns(p)) {
			pp_value_type(b, &b->types[1], "cpu", "nanoseconds");
			n = 2;
		}
		break;
	}
	b->period_type = b->types[n - 1];
	b->msg.period_type = &b->period_type;
	b->msg.period = n == 2 ? (int64_t)prof_period_ns(p) : 1;
	b->msg.default_sample_type = b->types[n - 1].type;
	for (size_t i = 0; i < n; i++)
		b->type_ptrs[i] = &b->types[i];
	b->msg.sample_type = b->type_ptrs;
	b->msg.n_sample_type = n;
	return n;
}

/* One mapping for every location, flagged fully symbolized so pprof never tries to open a binary
 * (and does not complain that the main binary is unknown). */
static void pp_mapping(struct pp_build *b)
{
	perftools__profiles__mapping__init(&b->mapping);
	b->mapping.id = 1;
	b->mapping.filename = pp_str(b, "[pyrometer]");
	b->mapping.has_functions = b->mapping.has_filenames = b->mapping.has_line_numbers = 1;
	b->mapping_ptr = &b->mapping;
	b->msg.mapping = &b->mapping_ptr;
	b->msg.n_mapping = 1;
}

static void pp_locations(struct pp_build *b, const struct profile *p)
{
	size_t n = prof_nframes(p);

	pp_mapping(b);

	for (uint32_t id = 0; id < n; id++) {
		const struct prof_frame *f = prof_frame_at(p, id);
		PbLocation *loc = &b->locs[id];
		PbLine *line = &b->lines[id];

		perftools__profiles__line__init(line);
		line->function_id = b->funcs[pp_func(b, f)].id;
		line->line = f->line > 0 ? f->line : 0;
		b->line_ptrs[id] = line;
		perftools__profiles__location__init(loc);
		loc->id = (uint64_t)id + 1;
		loc->mapping_id = 1;
		loc->n_line = 1;
		loc->line = &b->line_ptrs[id];
		b->loc_ptrs[id] = loc;
	}
	b->msg.location = b->loc_ptrs;
	b->msg.n_location = n;
	b->msg.function = b->func_ptrs;
	b->msg.n_function = b->nfuncs;
}

static int64_t clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void pp_samples(struct pp_build *b, const struct profile *p, size_t nvalues)
{
	size_t n = prof_nstacks(p), used = 0;
	uint64_t period = prof_period_ns(p);

	for (size_t i = 0; i < n; i++) {
		const struct prof_stack *s = prof_stack_at(p, i);
		PbSample *ps = &b->samples[i];

		perftools__profiles__sample__init(ps);
		ps->location_id = &b->loc_ids[used];
		ps->n_location_id = s->nframes;
		for (uint32_t j = 0; j < s->nframes; j++) /* pprof wants leaf first */
			b->loc_ids[used + j] = (uint64_t)s->frames[s->nframes - 1 - j] + 1;
		used += s->nframes;
		ps->value = &b->values[i * 2];
		ps->n_value = nvalues;
		ps->value[0] = clamp_i64(s->value);
		if (nvalues == 2)
			ps->value[1] = period && s->value > UINT64_MAX / period ? INT64_MAX
									 : clamp_i64(s->value * period);
		b->sample_ptrs[i] = ps;
	}
	b->msg.sample = b->sample_ptrs;
	b->msg.n_sample = n;
}

static int gzip_write(const uint8_t *data, size_t len, FILE *out)
{
	z_stream zs = { 0 };
	uint8_t chunk[16384];
	int zerr, err = 0;

	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)data;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zerr = deflate(&zs, Z_FINISH);
		if (zerr == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - zs.avail_out, out) != sizeof(chunk) - zs.avail_out) {
			err = -EIO;
			break;
		}
	} while (zerr != Z_STREAM_END);
	deflateEnd(&zs);
	if (!err && fflush(out) == EOF)
		err = -EIO;
	return err;
}

int fmt_pprof(const struct profile *p, FILE *out)
{
	struct pp_build b = { 0 };
	size_t nlocids = 0, nvalues, len;
	char dropped[64];
	uint8_t *buf = NULL;
	int err;

	for (size_t i = 0; i < prof_nstacks(p); i++)
		nlocids += prof_stack_at(p, i)->nframes;
	err = pp_alloc(&b, prof_nframes(p), prof_nstacks(p), nlocids);
	if (err)
		goto cleanup;
	perftools__profiles__profile__init(&b.msg);
	pp_str(&b, "");
	nvalues = pp_types(&b, p);
	pp_locations(&b, p);
	pp_samples(&b, p, nvalues);
	b.msg.time_nanos = clamp_i64(prof_start_ns(p));
	b.msg.duration_nanos = clamp_i64(prof_duration_ns(p));
	b.comments[b.msg.n_comment++] = pp_str(&b, "pyrometer " PYROMETER_VERSION);
	if (prof_dropped(p)) {
		snprintf(dropped, sizeof(dropped), "dropped %llu (stack cap)",
			 (unsigned long long)prof_dropped(p));
		b.comments[b.msg.n_comment++] = pp_str(&b, dropped);
	}
	b.msg.comment = b.comments;
	b.msg.string_table = b.strs;
	b.msg.n_string_table = b.nstrs;

	len = perftools__profiles__profile__get_packed_size(&b.msg);
	buf = malloc(len ?: 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	perftools__profiles__profile__pack(&b.msg, buf);
	err = gzip_write(buf, len, out);
cleanup:
	free(buf);
	pp_release(&b);
	return err;
}
