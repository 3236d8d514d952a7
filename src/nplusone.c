/* N+1 and repeated-query detection over bursts of queries per thread (include/nplusone.h).
 * Threads and findings live in fixed tables sized at creation; nothing grows with the load. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nplusone.h"

struct group {
	uint64_t fp, callsite, total_ns;
	unsigned count, nparams;
	uint64_t params[NP_PARAMS_PER_GROUP];
	unsigned pcount[NP_PARAMS_PER_GROUP];
};

struct thread {
	uint32_t pid, tid, service; /* pid 0: free slot */
	uint64_t first_ns, last_ns;
	unsigned ngroups;
	struct group g[NP_GROUPS_PER_BURST];
};

struct np {
	struct np_opts o;
	struct thread *threads;
	struct np_finding *findings; /* kind 0: free slot */
	size_t last;                 /* the thread of the last query: consecutive queries repeat it */
	struct np_stats st;
};

struct np *np_new(const struct np_opts *o)
{
	struct np *np = calloc(1, sizeof(*np));

	if (!np)
		return NULL;
	np->o = *o;
	if (!np->o.min_repeats)
		np->o.min_repeats = NP_DEFAULT_MIN_REPEATS;
	if (!np->o.burst_gap_ns)
		np->o.burst_gap_ns = 500000000ULL;
	if (!np->o.burst_max_ns)
		np->o.burst_max_ns = 10000000000ULL;
	if (!np->o.keep_ns)
		np->o.keep_ns = 600000000000ULL;
	if (!np->o.max_threads)
		np->o.max_threads = 1024;
	if (!np->o.max_findings)
		np->o.max_findings = 256;
	np->threads = calloc(np->o.max_threads, sizeof(*np->threads));
	np->findings = calloc(np->o.max_findings, sizeof(*np->findings));
	if (!np->threads || !np->findings) {
		np_free(np);
		return NULL;
	}
	return np;
}

void np_free(struct np *np)
{
	if (!np)
		return;
	free(np->threads);
	free(np->findings);
	free(np);
}

void np_set_thresholds(struct np *np, unsigned min_repeats, uint64_t min_total_ns)
{
	np->o.min_repeats = min_repeats ? min_repeats : NP_DEFAULT_MIN_REPEATS;
	np->o.min_total_ns = min_total_ns;
}

/* ---- findings ------------------------------------------------------------------------------- */

static struct np_finding *finding_slot(struct np *np, enum np_kind kind, const struct thread *t,
				       const struct group *g)
{
	struct np_finding *oldest = NULL;

	for (size_t i = 0; i < np->o.max_findings; i++) {
		struct np_finding *f = &np->findings[i];

		if (f->kind == kind && f->service == t->service && f->fingerprint == g->fp && f->callsite == g->callsite)
			return f;
	}
	for (size_t i = 0; i < np->o.max_findings; i++) {
		struct np_finding *f = &np->findings[i];

		if (!f->kind)
			return f;
		if (!oldest || f->last_ns < oldest->last_ns)
			oldest = f;
	}
	np->st.finding_evictions++;
	memset(oldest, 0, sizeof(*oldest));
	return oldest;
}

static void report(struct np *np, enum np_kind kind, const struct thread *t, const struct group *g,
		   unsigned repeats, uint64_t total_ns, unsigned distinct)
{
	struct np_finding *f = finding_slot(np, kind, t, g);

	if (!f->kind) {
		f->kind = kind;
		f->service = t->service;
		f->fingerprint = g->fp;
		f->callsite = g->callsite;
		f->first_ns = t->first_ns;
	}
	f->pid = t->pid;
	f->bursts++;
	f->queries += repeats;
	f->total_ns += total_ns;
	f->last_repeats = repeats;
	f->last_total_ns = total_ns;
	f->last_distinct_params = distinct;
	if (repeats > f->max_repeats)
		f->max_repeats = repeats;
	f->last_ns = t->last_ns;
}

/* ---- bursts --------------------------------------------------------------------------------- */

static void evaluate(struct np *np, const struct thread *t, const struct group *g)
{
	unsigned top = 0, distinct = g->nparams;
	bool unknown = g->nparams == 1 && g->params[0] == 0;

	if (g->count < np->o.min_repeats || g->total_ns < np->o.min_total_ns)
		return;
	for (unsigned i = 0; i < g->nparams; i++)
		if (g->params[i] && g->pcount[i] > top)
			top = g->pcount[i];
	/* one parameter set over and over: the result could be reused */
	if (top >= np->o.min_repeats) {
		uint64_t share = g->total_ns / g->count * top;

		report(np, NP_CACHEABLE, t, g, top, share, distinct);
	}
	/* an N+1 differs in its parameters (or we could not see them) */
	if (distinct >= 2 || unknown)
		report(np, NP_NPLUSONE, t, g, g->count, g->total_ns, distinct);
}

static void end_burst(struct np *np, struct thread *t)
{
	if (t->ngroups)
		np->st.bursts++;
	for (unsigned i = 0; i < t->ngroups; i++)
		evaluate(np, t, &t->g[i]);
	t->ngroups = 0;
	memset(t->g, 0, sizeof(t->g));
}

static struct thread *thread_of(struct np *np, uint32_t pid, uint32_t tid)
{
	struct thread *free_slot = NULL;

	if (np->threads[np->last].pid == pid && np->threads[np->last].tid == tid)
		return &np->threads[np->last];
	for (size_t i = 0; i < np->o.max_threads; i++) {
		struct thread *t = &np->threads[i];

		if (t->pid == pid && t->tid == tid) {
			np->last = i;
			return t;
		}
		if (!t->pid && !free_slot)
			free_slot = t;
	}
	if (free_slot) {
		free_slot->pid = pid;
		free_slot->tid = tid;
		free_slot->ngroups = 0;
	}
	return free_slot;
}

static void group_add(struct np *np, struct thread *t, const struct np_query *q)
{
	struct group *g = NULL;
	unsigned k;

	for (unsigned i = 0; i < t->ngroups && !g; i++)
		if (t->g[i].fp == q->fingerprint && t->g[i].callsite == q->callsite)
			g = &t->g[i];
	if (!g) {
		if (t->ngroups == NP_GROUPS_PER_BURST) {
			np->st.group_cap_drops++;
			return;
		}
		g = &t->g[t->ngroups++];
		g->fp = q->fingerprint;
		g->callsite = q->callsite;
	}
	g->count++;
	g->total_ns += q->end_ns > q->start_ns ? q->end_ns - q->start_ns : 0;
	for (k = 0; k < g->nparams; k++)
		if (g->params[k] == q->params_hash)
			break;
	if (k < g->nparams) {
		g->pcount[k]++;
	} else if (g->nparams < NP_PARAMS_PER_GROUP) {
		g->params[g->nparams] = q->params_hash;
		g->pcount[g->nparams++] = 1;
	}
}

void np_add(struct np *np, const struct np_query *q)
{
	struct thread *t = thread_of(np, q->pid ? q->pid : 1, q->tid);

	np->st.queries++;
	if (!t) {
		np->st.thread_cap_drops++;
		return;
	}
	if (t->ngroups && (q->start_ns > t->last_ns + np->o.burst_gap_ns ||
			   q->end_ns > t->first_ns + np->o.burst_max_ns))
		end_burst(np, t);
	if (!t->ngroups)
		t->first_ns = q->start_ns;
	t->service = q->service;
	if (q->end_ns > t->last_ns || !t->ngroups)
		t->last_ns = q->end_ns;
	group_add(np, t, q);
}

void np_tick(struct np *np, uint64_t now_ns)
{
	for (size_t i = 0; i < np->o.max_threads; i++) {
		struct thread *t = &np->threads[i];

		if (t->pid && now_ns > t->last_ns + np->o.burst_gap_ns) {
			end_burst(np, t);
			t->pid = t->tid = 0;
		}
	}
	for (size_t i = 0; i < np->o.max_findings; i++)
		if (np->findings[i].kind && now_ns > np->findings[i].last_ns + np->o.keep_ns)
			memset(&np->findings[i], 0, sizeof(np->findings[i]));
}

void np_forget_pid(struct np *np, uint32_t pid, uint64_t now_ns)
{
	for (size_t i = 0; i < np->o.max_threads; i++) {
		struct thread *t = &np->threads[i];

		if (t->pid == pid) {
			end_burst(np, t);
			t->pid = t->tid = 0;
		}
	}
}

void np_foreach(const struct np *np, void (*fn)(const struct np_finding *f, void *ctx), void *ctx)
{
	for (size_t i = 0; i < np->o.max_findings; i++)
		if (np->findings[i].kind)
			fn(&np->findings[i], ctx);
}

void np_get_stats(const struct np *np, struct np_stats *out)
{
	*out = np->st;
}
