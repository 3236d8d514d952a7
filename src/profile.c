/* The in-memory profile: frames interned in an open-addressing table keyed by
 * (name, file, line, kind), stacks merged by content in a second table keyed by the frame-id array.
 * Both tables are capped; values offered past the stack cap are counted in prof_dropped(). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define PROF_DEFAULT_MAX_STACKS 65536
/* Frames are bounded by what stacks can reference; this stops a caller that interns without adding. */
#define PROF_MAX_FRAMES (1u << 20)
#define PROF_EMPTY UINT32_MAX

struct profile {
	enum prof_unit unit;
	uint64_t period_ns;
	uint64_t total, dropped;
	uint64_t start_ns, duration_ns;
	size_t max_stacks;

	struct prof_frame *frames;
	size_t nframes, frames_cap;
	uint32_t *frame_slots; /* frame ids, PROF_EMPTY when free; power-of-two size */
	size_t frame_slots_n;

	struct prof_stack *stacks;
	size_t nstacks, stacks_cap;
	uint32_t *stack_slots; /* stack indexes, PROF_EMPTY when free */
	size_t stack_slots_n;
};

/* ---- hashing ------------------------------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull; /* FNV-1a */
	}
	return h;
}

static uint64_t hash_frame(const char *name, const char *file, int32_t line, uint8_t kind)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = hash_bytes(h, name, strlen(name) + 1);
	h = hash_bytes(h, file, strlen(file) + 1);
	h = hash_bytes(h, &line, sizeof(line));
	return hash_bytes(h, &kind, sizeof(kind));
}

static uint64_t hash_stack(const uint32_t *frames, uint32_t n)
{
	return hash_bytes(0xcbf29ce484222325ull, frames, (size_t)n * sizeof(*frames));
}

static uint32_t *slots_alloc(size_t n)
{
	uint32_t *s = malloc(n * sizeof(*s));

	if (s)
		memset(s, 0xff, n * sizeof(*s));
	return s;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is malformed. */
static size_t utf8_seq_len(const unsigned char *p)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

/* A copy of s in which every malformed UTF-8 byte became U+FFFD, so that every output format
 * (JSON, XML, proto3 strings) can carry names taken from arbitrary binaries. */
static char *utf8_dup(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), out = 0;
	char *d = malloc(len * 3 + 1);

	if (!d)
		return NULL;
	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n) {
			memcpy(d + out, p, n);
			out += n, p += n;
		} else {
			memcpy(d + out, "\xef\xbf\xbd", 3);
			out += 3, p++;
		}
	}
	d[out] = '\0';
	return realloc(d, out + 1) ?: d;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

struct profile *prof_new(enum prof_unit unit, uint64_t period_ns)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->unit = unit;
	p->period_ns = unit == PROF_UNIT_SAMPLES ? period_ns : 0;
	p->max_stacks = PROF_DEFAULT_MAX_STACKS;
	p->frame_slots_n = 256;
	p->stack_slots_n = 256;
	p->frame_slots = slots_alloc(p->frame_slots_n);
	p->stack_slots = slots_alloc(p->stack_slots_n);
	if (!p->frame_slots || !p->stack_slots) {
		prof_free(p);
		return NULL;
	}
	return p;
}

void prof_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nframes; i++) {
		free(p->frames[i].name);
		free(p->frames[i].file);
	}
	for (size_t i = 0; i < p->nstacks; i++)
		free(p->stacks[i].frames);
	free(p->frames);
	free(p->stacks);
	free(p->frame_slots);
	free(p->stack_slots);
	free(p);
}

/* ---- frames --------------------------------------------------------------------------------- */

static bool frame_eq(const struct prof_frame *f, const char *name, const char *file, int32_t line,
		     uint8_t kind)
{
	return f->line == line && f->kind == kind && !strcmp(f->name, name) && !strcmp(f->file, file);
}

/* Slot for the frame, either holding its id or empty (where it would go). */
static size_t frame_slot(const struct profile *p, const char *name, const char *file,
			 int32_t line, uint8_t kind)
{
	size_t mask = p->frame_slots_n - 1;
	size_t i = hash_frame(name, file, line, kind) & mask;

	while (p->frame_slots[i] != PROF_EMPTY &&
	       !frame_eq(&p->frames[p->frame_slots[i]], name, file, line, kind))
		i = (i + 1) & mask;
	return i;
}

static int frames_rehash(struct profile *p)
{
	size_t n = p->frame_slots_n * 2;
	uint32_t *slots = slots_alloc(n);

	if (!slots)
		return -ENOMEM;
	free(p->frame_slots);
	p->frame_slots = slots;
	p->frame_slots_n = n;
	for (uint32_t id = 0; id < p->nframes; id++) {
		const struct prof_frame *f = &p->frames[id];

		p->frame_slots[frame_slot(p, f->name, f->file, f->line, f->kind)] = id;
	}
	return 0;
}

static int frames_reserve(struct profile *p)
{
	size_t cap;
	struct prof_frame *frames;

	if (p->nframes < p->frames_cap)
		return 0;
	cap = p->frames_cap ? p->frames_cap * 2 : 64;
	frames = realloc(p->frames, cap * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	p->frames = frames;
	p->frames_cap = cap;
	return 0;
}

static int frame_insert(struct profile *p, size_t slot, const char *name, const char *file,
			int32_t line, uint8_t kind)
{
	struct prof_frame f = { .line = line, .kind = kind };
	uint32_t id = (uint32_t)p->nframes;
	int err;

	if (p->nframes >= PROF_MAX_FRAMES)
		return -E2BIG;
	err = frames_reserve(p);
	if (err)
		return err;
	f.name = utf8_dup(name);
	f.file = utf8_dup(file);
	if (!f.name || !f.file) {
		free(f.name);
		free(f.file);
		return -ENOMEM;
	}
	p->frames[id] = f;
	p->frame_slots[slot] = id;
	p->nframes++;
	/* Keep the load factor under 1/2; a failed grow leaves a fuller but correct table. */
	if (p->nframes * 2 > p->frame_slots_n)
		frames_rehash(p);
	return (int)id;
}

int prof_frame_id(struct profile *p, const char *name, const char *file, int32_t line, uint8_t kind)
{
	size_t slot;

	name = name ?: "";
	file = file ?: "";
	slot = frame_slot(p, name, file, line, kind);
	if (p->frame_slots[slot] != PROF_EMPTY)
		return (int)p->frame_slots[slot];
	if (!utf8_valid(name) || !utf8_valid(file)) {
		/* Names are stored sanitized; look the sanitized form up so that a malformed name
		 * interns to one id however often it is offered. */
		char *n = utf8_dup(name), *f = utf8_dup(file);
		int id = -ENOMEM;

		if (n && f) {
			slot = frame_slot(p, n, f, line, kind);
			id = p->frame_slots[slot] != PROF_EMPTY ? (int)p->frame_slots[slot]
								 : frame_insert(p, slot, n, f, line, kind);
		}
		free(n);
		free(f);
		return id;
	}
	return frame_insert(p, slot, name, file, line, kind);
}

/* ---- stacks --------------------------------------------------------------------------------- */

static size_t stack_slot(const struct profile *p, const uint32_t *frames, uint32_t n)
{
	size_t mask = p->stack_slots_n - 1;
	size_t i = hash_stack(frames, n) & mask;

	for (;;) {
		uint32_t s = p->stack_slots[i];

		if (s == PROF_EMPTY)
			return i;
		if (p->stacks[s].nframes == n &&
		    !memcmp(p->stacks[s].frames, frames, (size_t)n * sizeof(*frames)))
			return i;
		i = (i + 1) & mask;
	}
}

static int stacks_rehash(struct profile *p)
{
	size_t n = p->stack_slots_n * 2;
	uint32_t *slots = slots_alloc(n);

	if (!slots)
		return -ENOMEM;
	free(p->stack_slots);
	p->stack_slots = slots;
	p->stack_slots_n = n;
	for (uint32_t i = 0; i < p->nstacks; i++)
		p->stack_slots[stack_slot(p, p->stacks[i].frames, p->stacks[i].nframes)] = i;
	return 0;
}

static int stack_insert(struct profile *p, size_t slot, const uint32_t *frames, uint32_t n,
			uint64_t value)
{
	struct prof_stack *s;

	if (p->nstacks >= p->stacks_cap) {
		size_t cap = p->stacks_cap ? p->stacks_cap * 2 : 64;

		s = realloc(p->stacks, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		p->stacks = s;
		p->stacks_cap = cap;
	}
	s = &p->stacks[p->nstacks];
	s->frames = malloc((size_t)n * sizeof(*frames));
	if (!s->frames)
		return -ENOMEM;
	memcpy(s->frames, frames, (size_t)n * sizeof(*frames));
	s->nframes = n;
	s->value = value;
	p->stack_slots[slot] = (uint32_t)p->nstacks++;
	if (p->nstacks * 2 > p->stack_slots_n)
		stacks_rehash(p);
	return 0;
}

int prof_add(struct profile *p, const uint32_t *frames, uint32_t nframes, uint64_t value)
{
	size_t slot;
	int err;

	if (!nframes)
		return -EINVAL;
	for (uint32_t i = 0; i < nframes; i++)
		if (frames[i] >= p->nframes)
			return -EINVAL;
	slot = stack_slot(p, frames, nframes);
	if (p->stack_slots[slot] != PROF_EMPTY) {
		p->stacks[p->stack_slots[slot]].value += value;
		p->total += value;
		return 0;
	}
	if (p->nstacks >= p->max_stacks) {
		p->dropped += value;
		return -E2BIG;
	}
	err = stack_insert(p, slot, frames, nframes, value);
	if (err) {
		p->dropped += value;
		return err;
	}
	p->total += value;
	return 0;
}

int prof_merge(struct profile *dst, const struct profile *src)
{
	uint32_t *map = NULL, *buf = NULL;
	size_t maxn = 0;
	int err = 0;

	if (!src->nstacks)
		goto time;
	map = malloc(src->nframes * sizeof(*map));
	for (size_t i = 0; i < src->nstacks; i++)
		if (src->stacks[i].nframes > maxn)
			maxn = src->stacks[i].nframes;
	buf = malloc(maxn * sizeof(*buf));
	if (!map || !buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (uint32_t id = 0; id < src->nframes; id++) {
		const struct prof_frame *f = &src->frames[id];
		int nid = prof_frame_id(dst, f->name, f->file, f->line, f->kind);

		if (nid < 0) {
			err = nid;
			goto cleanup;
		}
		map[id] = (uint32_t)nid;
	}
	for (size_t i = 0; i < src->nstacks; i++) {
		const struct prof_stack *s = &src->stacks[i];
		int e;

		for (uint32_t j = 0; j < s->nframes; j++)
			buf[j] = map[s->frames[j]];
		/* At the cap the value is counted as dropped; keep merging what still fits. */
		e = prof_add(dst, buf, s->nframes, s->value);
		if (e && e != -E2BIG) {
			err = e;
			goto cleanup;
		}
	}
time:
	dst->dropped += src->dropped;
	if (src->start_ns || src->duration_ns) {
		uint64_t end = dst->start_ns + dst->duration_ns;
		uint64_t send = src->start_ns + src->duration_ns;

		if (!dst->start_ns && !dst->duration_ns) {
			dst->start_ns = src->start_ns;
			end = send;
		} else if (src->start_ns < dst->start_ns) {
			dst->start_ns = src->start_ns;
		}
		dst->duration_ns = (send > end ? send : end) - dst->start_ns;
	}
cleanup:
	free(map);
	free(buf);
	return err;
}

/* ---- accessors ------------------------------------------------------------------------------ */

size_t prof_nstacks(const struct profile *p) { return p->nstacks; }
size_t prof_nframes(const struct profile *p) { return p->nframes; }
uint64_t prof_total(const struct profile *p) { return p->total; }
uint64_t prof_dropped(const struct profile *p) { return p->dropped; }
enum prof_unit prof_unit(const struct profile *p) { return p->unit; }
uint64_t prof_period_ns(const struct profile *p) { return p->period_ns; }
uint64_t prof_start_ns(const struct profile *p) { return p->start_ns; }
uint64_t prof_duration_ns(const struct profile *p) { return p->duration_ns; }

const struct prof_stack *prof_stack_at(const struct profile *p, size_t i)
{
	return i < p->nstacks ? &p->stacks[i] : NULL;
}

const struct prof_frame *prof_frame_at(const struct profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id] : NULL;
}

void prof_set_time(struct profile *p, uint64_t start_unix_ns, uint64_t duration_ns)
{
	p->start_ns = start_unix_ns;
	p->duration_ns = duration_ns;
}

void prof_set_max_stacks(struct profile *p, size_t max)
{
	p->max_stacks = max;
}

void prof_frame_label(const struct prof_frame *f, char *buf, size_t len)
{
	if (!len)
		return;
	if (f->kind != PROF_FRAME_PYTHON || !f->file[0])
		snprintf(buf, len, "%s", f->name);
	else if (f->line > 0)
		snprintf(buf, len, "%s (%s:%d)", f->name, f->file, f->line);
	else
		snprintf(buf, len, "%s (%s)", f->name, f->file);
}
