/* Rolling per-service and per-process CPU aggregates (include/agg.h). Each entity keeps a ring of
 * slot profiles; a slot is recycled when time moves past the window. Tables are small arrays
 * (services <= a few hundred, processes <= a few thousand) searched linearly. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"

struct slot {
	uint64_t epoch; /* now_s / slot_seconds of the samples held, 0 = empty */
	struct profile *p;
};

struct entity {
	char *service;
	pid_t pid; /* 0 = service entity */
	bool live;
	uint64_t samples_total;
	struct slot *ring;
};

struct agg {
	struct agg_opts o;
	unsigned nslots;
	struct entity *svcs, *procs;
	size_t nsvcs, nprocs;
	struct agg_stats st;
};

struct agg *agg_new(const struct agg_opts *in)
{
	struct agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *in;
	if (!a->o.slot_seconds)
		a->o.slot_seconds = 10;
	if (!a->o.window_seconds)
		a->o.window_seconds = 60;
	if (!a->o.max_services)
		a->o.max_services = 256;
	if (!a->o.max_processes)
		a->o.max_processes = 4096;
	if (!a->o.max_stacks)
		a->o.max_stacks = 4096;
	/* one extra slot so a full window is covered while the newest slot fills */
	a->nslots = (a->o.window_seconds + a->o.slot_seconds - 1) / a->o.slot_seconds + 1;
	a->svcs = calloc(a->o.max_services, sizeof(*a->svcs));
	a->procs = calloc(a->o.max_processes, sizeof(*a->procs));
	if (!a->svcs || !a->procs) {
		agg_free(a);
		return NULL;
	}
	return a;
}

static void entity_clear(struct entity *e, unsigned nslots)
{
	for (unsigned i = 0; e->ring && i < nslots; i++)
		prof_free(e->ring[i].p);
	free(e->ring);
	free(e->service);
	memset(e, 0, sizeof(*e));
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; a->svcs && i < a->nsvcs; i++)
		entity_clear(&a->svcs[i], a->nslots);
	for (size_t i = 0; a->procs && i < a->nprocs; i++)
		entity_clear(&a->procs[i], a->nslots);
	free(a->svcs);
	free(a->procs);
	free(a);
}

static struct entity *find_service(struct agg *a, const char *name)
{
	for (size_t i = 0; i < a->nsvcs; i++)
		if (!strcmp(a->svcs[i].service, name))
			return &a->svcs[i];
	return NULL;
}

static struct entity *find_process(struct agg *a, pid_t pid)
{
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->procs[i].pid == pid)
			return &a->procs[i];
	return NULL;
}

static int entity_init(struct agg *a, struct entity *e, const char *service, pid_t pid)
{
	e->service = strdup(service);
	e->ring = calloc(a->nslots, sizeof(*e->ring));
	e->pid = pid;
	e->live = true;
	if (!e->service || !e->ring) {
		entity_clear(e, a->nslots);
		return -ENOMEM;
	}
	return 0;
}

static struct entity *service_get(struct agg *a, const char *name)
{
	struct entity *e = find_service(a, name);

	if (e)
		return e;
	if (a->nsvcs == a->o.max_services)
		return NULL;
	e = &a->svcs[a->nsvcs];
	if (entity_init(a, e, name, 0))
		return NULL;
	a->nsvcs++;
	return e;
}

int agg_process_add(struct agg *a, pid_t pid, const char *service)
{
	struct entity *e = find_process(a, pid);

	if (!service_get(a, service))
		return -ENOSPC;
	if (e) {
		if (strcmp(e->service, service)) {
			char *s = strdup(service);

			if (!s)
				return -ENOMEM;
			free(e->service);
			e->service = s;
		}
		e->live = true;
		return 0;
	}
	if (a->nprocs == a->o.max_processes)
		return -ENOSPC;
	e = &a->procs[a->nprocs];
	if (entity_init(a, e, service, pid))
		return -ENOMEM;
	a->nprocs++;
	return 0;
}

void agg_process_gone(struct agg *a, pid_t pid)
{
	struct entity *e = find_process(a, pid);
	size_t i;

	if (!e)
		return;
	i = e - a->procs;
	entity_clear(e, a->nslots);
	a->procs[i] = a->procs[--a->nprocs];
	memset(&a->procs[a->nprocs], 0, sizeof(a->procs[0]));
}

static struct profile *slot_for(struct agg *a, struct entity *e, uint64_t now_s)
{
	uint64_t epoch = now_s / a->o.slot_seconds + 1;
	struct slot *s = &e->ring[epoch % a->nslots];

	if (s->epoch != epoch || !s->p) {
		prof_free(s->p);
		s->p = prof_new(PROF_UNIT_SAMPLES, a->o.period_ns);
		s->epoch = s->p ? epoch : 0;
		if (s->p) {
			prof_set_max_stacks(s->p, a->o.max_stacks);
			prof_set_time(s->p, (epoch - 1) * a->o.slot_seconds * 1000000000ULL,
				      a->o.slot_seconds * 1000000000ULL);
		}
	}
	return s->p;
}

/* Copies stack ids (frames of src) into dst. */
static int copy_stack(struct profile *dst, const struct profile *src, const uint32_t *ids, uint32_t n,
		      uint64_t count)
{
	uint32_t out[n ? n : 1];

	for (uint32_t i = 0; i < n; i++) {
		const struct prof_frame *f = prof_frame_at(src, ids[i]);
		int id = f ? prof_frame_id(dst, f->name, f->file, f->line, f->kind) : -EINVAL;

		if (id < 0)
			return id;
		out[i] = (uint32_t)id;
	}
	return prof_add(dst, out, n, count);
}

int agg_add(struct agg *a, pid_t pid, const struct profile *src, const uint32_t *ids, uint32_t n,
	    uint64_t count, uint64_t now_s)
{
	struct entity *pe = find_process(a, pid), *se;
	struct profile *p;
	int err = 0;

	if (!pe) {
		a->st.dropped_process_cap += count;
		return -ENOENT;
	}
	se = find_service(a, pe->service);
	pe->samples_total += count;
	p = slot_for(a, pe, now_s);
	if (!p || copy_stack(p, src, ids, n, count))
		err = -ENOMEM;
	if (!se) {
		a->st.dropped_service_cap += count;
		return -ENOSPC;
	}
	se->samples_total += count;
	p = slot_for(a, se, now_s);
	if (!p || copy_stack(p, src, ids, n, count)) {
		a->st.dropped_stack_cap += count;
		err = -ENOMEM;
	}
	return err;
}

/* The samples of the last `seconds`: every slot that overlaps [now - seconds, now], so the newest,
 * partly filled slot never stands for the whole window (at most one slot more than asked). */
static struct profile *window_profile(struct agg *a, struct entity *e, unsigned seconds, uint64_t now_s)
{
	uint64_t slot = a->o.slot_seconds, newest = now_s / slot + 1, oldest, start_s;
	struct profile *out = prof_new(PROF_UNIT_SAMPLES, a->o.period_ns);

	if (!out)
		return NULL;
	if (!seconds)
		seconds = 1;
	oldest = (now_s >= seconds ? (now_s - seconds) / slot : 0) + 1;
	if (newest - oldest + 1 > a->nslots)
		oldest = newest - a->nslots + 1;
	for (unsigned i = 0; i < a->nslots; i++) {
		struct slot *s = &e->ring[i];

		if (s->p && s->epoch && s->epoch >= oldest && s->epoch <= newest)
			prof_merge(out, s->p);
	}
	start_s = (oldest - 1) * slot;
	prof_set_time(out, start_s * 1000000000ULL, (now_s > start_s ? now_s - start_s : 1) * 1000000000ULL);
	return out;
}

struct profile *agg_profile(struct agg *a, const char *service, pid_t pid, unsigned seconds, uint64_t now_s)
{
	struct entity *e = pid ? find_process(a, pid) : find_service(a, service ? service : "");

	if (!e) {
		errno = ENOENT;
		return NULL;
	}
	return window_profile(a, e, seconds ? seconds : a->o.window_seconds, now_s);
}

static const char *top_leaf(const struct profile *p, char *buf, size_t len)
{
	uint64_t best = 0;

	buf[0] = 0;
	for (size_t i = 0; p && i < prof_nstacks(p); i++) {
		const struct prof_stack *s = prof_stack_at(p, i);

		for (int j = (int)s->nframes - 1; j >= 0; j--) {
			const struct prof_frame *f = prof_frame_at(p, s->frames[j]);

			if (f->kind != PROF_FRAME_PYTHON || !strcmp(f->name, "<unknown>"))
				continue;
			if (s->value > best) {
				best = s->value;
				prof_frame_label(f, buf, len);
			}
			break;
		}
	}
	return buf;
}

void agg_foreach(struct agg *a, int with_processes, uint64_t now_s,
		 void (*fn)(const struct agg_entity_info *, void *), void *ctx)
{
	char top[512];

	for (size_t i = 0; i < a->nsvcs; i++) {
		struct entity *e = &a->svcs[i];
		struct profile *w = window_profile(a, e, a->o.window_seconds, now_s);
		struct agg_entity_info info = { .service = e->service, .samples_total = e->samples_total };

		for (size_t j = 0; j < a->nprocs; j++)
			info.nprocs += !strcmp(a->procs[j].service, e->service);
		info.samples_window = w ? prof_total(w) : 0;
		info.top_function = top_leaf(w, top, sizeof(top));
		fn(&info, ctx);
		prof_free(w);
	}
	for (size_t i = 0; with_processes && i < a->nprocs; i++) {
		struct entity *e = &a->procs[i];
		struct profile *w = window_profile(a, e, a->o.window_seconds, now_s);
		struct agg_entity_info info = { .service = e->service, .pid = e->pid,
						.samples_total = e->samples_total, .nprocs = 1 };

		info.samples_window = w ? prof_total(w) : 0;
		info.top_function = top_leaf(w, top, sizeof(top));
		fn(&info, ctx);
		prof_free(w);
	}
}

const char *agg_service_of(struct agg *a, pid_t pid)
{
	struct entity *e = find_process(a, pid);

	return e ? e->service : NULL;
}

void agg_get_stats(const struct agg *a, struct agg_stats *st)
{
	*st = a->st;
	st->services = a->nsvcs;
	st->processes = a->nprocs;
}
