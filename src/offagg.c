/* Rolling off-CPU aggregates per service (include/offagg.h). A service keeps a ring of slots (the
 * same epochs as the CPU aggregates: now_s / slot_seconds), each with per-reason totals and a
 * weighted profile; totals never depend on the profile's stack cap. Services live in a small
 * array searched linearly (a few hundred at most). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offagg.h"
#include "offcpu.h"

struct slot {
	uint64_t epoch; /* now_s / slot_seconds + 1 of the data held; 0 = empty */
	uint64_t ns[PM_OFF_ALL_REASONS];
	struct profile *p;
};

struct svc {
	char *name;
	uint64_t first_s;
	uint64_t total_ns[PM_OFF_ALL_REASONS];
	uint64_t oncpu_ns, voluntary, involuntary, stalls;
	struct offagg_hist hist[OFFAGG_HIST_KINDS];
	struct slot *ring;
};

struct offagg {
	struct offagg_opts o;
	unsigned nslots;
	struct svc *svcs;
	size_t nsvcs;
	struct offagg_stats st;
};

struct offagg *offagg_new(const struct offagg_opts *in)
{
	struct offagg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *in;
	if (!a->o.slot_seconds)
		a->o.slot_seconds = 10;
	if (!a->o.window_seconds)
		a->o.window_seconds = 60;
	if (!a->o.max_services)
		a->o.max_services = 256;
	if (!a->o.max_stacks)
		a->o.max_stacks = 4096;
	a->nslots = (a->o.window_seconds + a->o.slot_seconds - 1) / a->o.slot_seconds + 1;
	a->svcs = calloc(a->o.max_services, sizeof(*a->svcs));
	if (!a->svcs) {
		free(a);
		return NULL;
	}
	return a;
}

void offagg_free(struct offagg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nsvcs; i++) {
		for (unsigned j = 0; j < a->nslots; j++)
			prof_free(a->svcs[i].ring[j].p);
		free(a->svcs[i].ring);
		free(a->svcs[i].name);
	}
	free(a->svcs);
	free(a);
}

unsigned offagg_nslots(const struct offagg *a)
{
	return a->nslots;
}

static struct svc *find(struct offagg *a, const char *name)
{
	for (size_t i = 0; i < a->nsvcs; i++)
		if (!strcmp(a->svcs[i].name, name))
			return &a->svcs[i];
	return NULL;
}

static struct svc *get(struct offagg *a, const char *name, uint64_t now_s)
{
	struct svc *s = find(a, name);

	if (s || !name)
		return s;
	if (a->nsvcs == a->o.max_services)
		return NULL;
	s = &a->svcs[a->nsvcs];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->ring = calloc(a->nslots, sizeof(*s->ring));
	if (!s->name || !s->ring) {
		free(s->name);
		free(s->ring);
		return NULL;
	}
	s->first_s = now_s;
	a->nsvcs++;
	return s;
}

int offagg_touch(struct offagg *a, const char *service, uint64_t now_s)
{
	return get(a, service, now_s) ? 0 : -ENOSPC;
}

static struct slot *slot_for(struct offagg *a, struct svc *s, uint64_t now_s)
{
	uint64_t epoch = now_s / a->o.slot_seconds + 1;
	struct slot *sl = &s->ring[epoch % a->nslots];

	if (sl->epoch != epoch) {
		prof_free(sl->p);
		memset(sl, 0, sizeof(*sl));
		sl->epoch = epoch;
	}
	if (!sl->p) {
		sl->p = prof_new(PROF_UNIT_NANOSECONDS, 0);
		if (sl->p) {
			prof_set_max_stacks(sl->p, a->o.max_stacks);
			prof_set_time(sl->p, (epoch - 1) * a->o.slot_seconds * 1000000000ULL,
				      a->o.slot_seconds * 1000000000ULL);
		}
	}
	return sl;
}

const char *offagg_root_name(unsigned reason, char *buf, size_t len)
{
	snprintf(buf, len, "[%s]", offcpu_reason_name(reason));
	return buf;
}

static int copy_stack(struct profile *dst, unsigned reason, const struct profile *src, const uint32_t *ids,
		      uint32_t n, const char *syscall_name, uint64_t ns)
{
	uint32_t out[n + 2];
	char root[16];
	uint32_t k = 0;
	int id;

	id = prof_frame_id(dst, offagg_root_name(reason, root, sizeof(root)), "", 0, PROF_FRAME_MARKER);
	if (id < 0)
		return id;
	out[k++] = (uint32_t)id;
	for (uint32_t i = 0; i < n; i++) {
		const struct prof_frame *f = prof_frame_at(src, ids[i]);

		id = f ? prof_frame_id(dst, f->name, f->file, f->line, f->kind) : -EINVAL;
		if (id < 0)
			return id;
		out[k++] = (uint32_t)id;
	}
	if (syscall_name) {
		id = prof_frame_id(dst, syscall_name, "", 0, PROF_FRAME_KERNEL);
		if (id < 0)
			return id;
		out[k++] = (uint32_t)id;
	}
	return prof_add(dst, out, k, ns);
}

int offagg_add(struct offagg *a, const char *service, unsigned reason, const struct profile *src,
	       const uint32_t *ids, uint32_t n, const char *syscall_name, uint64_t ns, uint64_t now_s)
{
	struct svc *s;
	struct slot *sl;

	if (reason >= PM_OFF_ALL_REASONS || (n && !src))
		return -EINVAL;
	s = get(a, service, now_s);
	if (!s) {
		a->st.dropped_service_cap_ns += ns;
		return -ENOSPC;
	}
	s->total_ns[reason] += ns;
	sl = slot_for(a, s, now_s);
	sl->ns[reason] += ns;
	if (!sl->p || copy_stack(sl->p, reason, src, ids, n, syscall_name, ns))
		a->st.dropped_stack_cap_ns += ns;
	return 0;
}

int offagg_hist_add(struct offagg *a, const char *service, unsigned kind, const uint64_t *slots, uint64_t sum_ns)
{
	struct svc *s = get(a, service, 0);

	if (kind >= OFFAGG_HIST_KINDS)
		return -EINVAL;
	if (!s)
		return -ENOSPC;
	for (int i = 0; i < PM_OFF_HIST_SLOTS; i++)
		s->hist[kind].slots[i] += slots[i];
	s->hist[kind].sum_ns += sum_ns;
	return 0;
}

int offagg_sched_add(struct offagg *a, const char *service, uint64_t oncpu_ns, uint64_t voluntary,
		     uint64_t involuntary)
{
	struct svc *s = get(a, service, 0);

	if (!s)
		return -ENOSPC;
	s->oncpu_ns += oncpu_ns;
	s->voluntary += voluntary;
	s->involuntary += involuntary;
	return 0;
}

int offagg_stall_add(struct offagg *a, const char *service)
{
	struct svc *s = get(a, service, 0);

	if (!s)
		return -ENOSPC;
	s->stalls++;
	return 0;
}

/* Slots of the last nwant epochs up to now. */
static bool in_window(const struct slot *sl, uint64_t newest, uint64_t nwant)
{
	return sl->epoch && sl->epoch <= newest && sl->epoch + nwant > newest;
}

int offagg_window(struct offagg *a, const char *service, uint64_t now_s, uint64_t ns[PM_OFF_ALL_REASONS],
		  unsigned *covered_s)
{
	struct svc *s = find(a, service);
	uint64_t newest = now_s / a->o.slot_seconds + 1, start_s;

	memset(ns, 0, sizeof(uint64_t) * PM_OFF_ALL_REASONS);
	if (!s)
		return -ENOENT;
	for (unsigned i = 0; i < a->nslots; i++)
		for (int r = 0; in_window(&s->ring[i], newest, a->nslots) && r < PM_OFF_ALL_REASONS; r++)
			ns[r] += s->ring[i].ns[r];
	start_s = (newest - (newest >= a->nslots ? a->nslots : newest)) * a->o.slot_seconds;
	if (s->first_s > start_s)
		start_s = s->first_s;
	*covered_s = now_s >= start_s ? (unsigned)(now_s - start_s + 1) : 1;
	return 0;
}

struct profile *offagg_profile(struct offagg *a, const char *service, unsigned seconds, uint64_t now_s)
{
	struct svc *s = find(a, service ? service : "");
	uint64_t newest = now_s / a->o.slot_seconds + 1, nwant;
	struct profile *out;

	if (!s) {
		errno = ENOENT;
		return NULL;
	}
	if (!seconds)
		seconds = a->o.window_seconds;
	nwant = (seconds + a->o.slot_seconds - 1) / a->o.slot_seconds;
	if (nwant > a->nslots)
		nwant = a->nslots;
	if (!nwant)
		nwant = 1;
	out = prof_new(PROF_UNIT_NANOSECONDS, 0);
	if (!out)
		return NULL;
	for (unsigned i = 0; i < a->nslots; i++)
		if (s->ring[i].p && in_window(&s->ring[i], newest, nwant))
			prof_merge(out, s->ring[i].p);
	prof_set_time(out, (newest - nwant) * a->o.slot_seconds * 1000000000ULL, (uint64_t)seconds * 1000000000ULL);
	return out;
}

const struct prof_stack *offagg_top_stack(const struct profile *p, unsigned reason)
{
	const struct prof_stack *best = NULL;
	char root[16];

	offagg_root_name(reason, root, sizeof(root));
	for (size_t i = 0; p && i < prof_nstacks(p); i++) {
		const struct prof_stack *s = prof_stack_at(p, i);
		const struct prof_frame *f = s->nframes ? prof_frame_at(p, s->frames[0]) : NULL;

		if (f && f->kind == PROF_FRAME_MARKER && !strcmp(f->name, root) && (!best || s->value > best->value))
			best = s;
	}
	return best;
}

void offagg_foreach(struct offagg *a, void (*fn)(const struct offagg_info *, void *), void *ctx)
{
	for (size_t i = 0; i < a->nsvcs; i++) {
		struct svc *s = &a->svcs[i];
		struct offagg_info info = { .service = s->name, .oncpu_ns = s->oncpu_ns, .voluntary = s->voluntary,
					    .involuntary = s->involuntary, .stalls = s->stalls, .hist = s->hist };

		memcpy(info.total_ns, s->total_ns, sizeof(info.total_ns));
		fn(&info, ctx);
	}
}

void offagg_get_stats(const struct offagg *a, struct offagg_stats *st)
{
	*st = a->st;
	st->services = a->nsvcs;
}
