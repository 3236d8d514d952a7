/* What the memory source says: Prometheus families (resident memory, growth rate, bytes made
 * resident, GC pause histograms and time share per service), findings (memory-leak, memory-spike,
 * gc-pressure) and the memory fields of the services and processes JSON. Reads the state kept by
 * src/memory.c; called with the engine lock held. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "memsrc.h"

static const char *const gen_names[PM_GC_GENS] = { "0", "1", "2", "unknown" };

/* What a service's live processes add up to now. */
struct svc_now {
	uint64_t resident;
	double growth_bps;
	uint64_t dcpu_ns, dgc_ns;
	unsigned procs, leaking;
};

static void svc_now(struct memsrc *m, const char *service, struct svc_now *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mem_proc *p = m->procs[i];
		uint64_t dcpu = 0, dgc = 0;
		double share;

		if (strcmp(p->service, service) || !p->have_last)
			continue;
		out->procs++;
		out->resident += p->last.rss;
		out->growth_bps += p->trend.samples >= 2 ? p->trend.slope_bps : 0;
		out->leaking += p->trend.leak;
		if (mt_gc_share(&p->ring, &p->last, MEM_GC_PERIOD_S, &share, &dcpu, &dgc)) {
			out->dcpu_ns += dcpu;
			out->dgc_ns += dgc;
		}
	}
}

/* GC time over CPU time; CPU time is counted in clock ticks, so clamp the overshoot. */
static double svc_share(const struct svc_now *n)
{
	double share = n->dcpu_ns ? (double)n->dgc_ns / n->dcpu_ns : 0;

	return share > 1 ? 1 : share;
}

/* ---- metrics -------------------------------------------------------------------------------- */

#define TRY(call)                        \
	do {                             \
		if ((err = (call)) < 0)  \
			return err;      \
	} while (0)

static int gc_histograms(struct memsrc *m, struct expo *x)
{
	double bounds[PM_GC_BUCKETS - 1];
	int err;

	/* bucket i holds [2^i, 2^(i+1)) us (bucket 0 everything under 2 us); the last is overflow */
	for (int i = 0; i < PM_GC_BUCKETS - 1; i++)
		bounds[i] = ldexp(1e-6, i + 1);
	TRY(expo_family(x, "pyrometer_gc_pause_seconds", EXPO_HISTOGRAM,
			"Garbage-collection pauses of a service's Python processes, by generation."));
	for (size_t i = 0; i < m->nsvcs; i++)
		for (int g = 0; g < PM_GC_GENS; g++) {
			const struct pm_gc_val *v = &m->svcs[i].gc[g];
			struct expo_label l[2] = { { "service", m->svcs[i].name }, { "generation", gen_names[g] } };

			if (v->count)
				TRY(expo_histogram(x, l, 2, bounds, (const uint64_t *)v->buckets, PM_GC_BUCKETS - 1,
						   v->sum_ns / 1e9));
		}
	return 0;
}

static int per_service(struct memsrc *m, struct expo *x, int which)
{
	int err;

	for (size_t i = 0; i < m->nsvcs; i++) {
		struct expo_label l = { "service", m->svcs[i].name };
		struct svc_now n;

		if (which == 2) {
			TRY(expo_value_u64(x, &l, 1, m->svcs[i].faulted));
			continue;
		}
		if (which == 3) {
			TRY(expo_value_u64(x, &l, 1, m->svcs[i].grown));
			continue;
		}
		svc_now(m, m->svcs[i].name, &n);
		if (!n.procs)
			continue;
		if (which == 0)
			TRY(expo_value_u64(x, &l, 1, n.resident));
		else if (which == 1)
			TRY(expo_value(x, &l, 1, n.growth_bps));
		else if (which == 4 && n.dcpu_ns)
			TRY(expo_value(x, &l, 1, svc_share(&n)));
		else if (which == 5)
			TRY(expo_value_u64(x, &l, 1, n.leaking));
	}
	return 0;
}

int mem_metrics(void *state, struct expo *x)
{
	static const struct {
		const char *name;
		enum expo_type type;
		const char *help;
	} fams[] = {
		{ "pyrometer_memory_resident_bytes", EXPO_GAUGE, "Resident memory of a service's Python processes." },
		{ "pyrometer_memory_growth_bytes_per_second", EXPO_GAUGE,
		  "Robust growth rate of a service's anonymous memory over the leak window." },
		{ "pyrometer_memory_faulted_bytes_total", EXPO_COUNTER,
		  "Anonymous and shared memory a service's threads made resident (first touch), sampled per 128 KiB." },
		{ "pyrometer_memory_peak_growth_bytes_total", EXPO_COUNTER,
		  "The part of it that raised a process's resident high-water mark." },
		{ "pyrometer_gc_time_share", EXPO_GAUGE, "Share of a service's CPU time spent in GC pauses over the last minute." },
		{ "pyrometer_memory_leak_suspected", EXPO_GAUGE, "Processes of a service whose memory grows steadily (leak finding)." },
	};
	struct memsrc *m = state;
	struct expo_label l;
	uint64_t st[PM_MEM_STAT_MAX];
	unsigned usdt = 0, uprobe = 0, none = 0;
	int err;

	if (!m->skel)
		return 0;

	for (int f = 0; f < (int)(sizeof(fams) / sizeof(fams[0])); f++) {
		TRY(expo_family(x, fams[f].name, fams[f].type, fams[f].help));
		TRY(per_service(m, x, f));
	}
	TRY(gc_histograms(m, x));
	for (size_t i = 0; i < m->nprocs; i++) {
		const char *how = m->procs[i]->gc_how;

		usdt += !strncmp(how, "usdt", 4);
		uprobe += !strncmp(how, "uprobe", 6);
		none += strncmp(how, "usdt", 4) && strncmp(how, "uprobe", 6);
	}
	TRY(expo_family(x, "pyrometer_gc_probed_processes", EXPO_GAUGE,
			"Tracked processes by how their GC pauses are timed (usdt, uprobe on the collector, none)."));
	l = (struct expo_label){ "source", "usdt" };
	TRY(expo_value_u64(x, &l, 1, usdt));
	l.value = "uprobe";
	TRY(expo_value_u64(x, &l, 1, uprobe));
	l.value = "none";
	TRY(expo_value_u64(x, &l, 1, none));
	mem_bpf_stats(m, st);
	TRY(expo_family(x, "pyrometer_memory_drops_total", EXPO_COUNTER,
			"Memory-source data lost, by reason (full kernel maps, table caps)."));
	l = (struct expo_label){ "reason", "growth_map_full" };
	TRY(expo_value_u64(x, &l, 1, st[PM_MEM_STAT_KEY_FULL]));
	l.value = "stack_map_full";
	TRY(expo_value_u64(x, &l, 1, st[PM_MEM_STAT_STACK_FULL]));
	l.value = "gc_map_full";
	TRY(expo_value_u64(x, &l, 1, st[PM_MEM_STAT_GC_FULL]));
	l.value = "process_cap";
	TRY(expo_value_u64(x, &l, 1, m->drops_proc_cap));
	l.value = "service_cap";
	TRY(expo_value_u64(x, &l, 1, m->drops_svc_cap));
	return 0;
}

/* ---- findings ------------------------------------------------------------------------------- */

static json_object *finding(const struct mem_proc *p, const char *kind, const char *title, const char *code,
			    json_object *evidence, const char *fix)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "service", json_object_new_string(p->service));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "evidence", evidence);
	json_object_object_add(o, "fix", json_object_new_string(fix));
	return o;
}

static void leak_finding(struct memsrc *m, const struct mem_proc *p, json_object *arr)
{
	const struct mt_stack *top[MEM_TOP_STACKS];
	json_object *ev = json_object_new_object(), *stacks = json_object_new_array(), *q = json_object_new_array();
	char title[384], grown[32], rate[32];
	uint64_t sum = 0, g[MEM_TOP_STACKS];
	size_t n = p->stacks ? mt_stacks_top(p->stacks, p->last.t_ns, top, MEM_TOP_STACKS) : 0;

	for (size_t i = 0; i < MT_MAX_STACKS && p->stacks; i++)
		if (p->stacks->s[i].used)
			sum += mt_stack_window_growth(p->stacks, &p->stacks->s[i], p->last.t_ns);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_new_object();

		g[i] = mt_stack_window_growth(p->stacks, top[i], p->last.t_ns);
		json_object_object_add(s, "site", json_object_new_string(top[i]->site));
		json_object_object_add(s, "stack", json_object_new_string(top[i]->stack));
		json_object_object_add(s, "growth_bytes", json_object_new_uint64(g[i]));
		json_object_object_add(s, "share", json_object_new_double(sum ? (double)g[i] / sum : 0));
		json_object_array_add(stacks, s);
	}
	for (int i = 0; i < 4; i++)
		json_object_array_add(q, json_object_new_uint64(p->trend.quarter_median[i]));
	mt_format_bytes((double)p->trend.growth_bytes, grown, sizeof(grown));
	mt_format_bytes(p->trend.slope_bps, rate, sizeof(rate));
	snprintf(title, sizeof(title), "Memory grows steadily: +%s in %.0f s (%s/s)%s%s", grown, p->trend.span_s, rate,
		 n ? ", mostly from " : "", n ? top[0]->site : "");
	json_object_object_add(ev, "rss_bytes", json_object_new_uint64(p->last.rss));
	json_object_object_add(ev, "anon_bytes", json_object_new_uint64(p->last.anon));
	json_object_object_add(ev, "growth_bytes", json_object_new_int64(p->trend.growth_bytes));
	json_object_object_add(ev, "growth_bytes_per_second", json_object_new_double(p->trend.slope_bps));
	json_object_object_add(ev, "window_seconds", json_object_new_int((int)m->o.leak_window_seconds));
	json_object_object_add(ev, "quarter_medians_bytes", q);
	json_object_object_add(ev, "since_unix", json_object_new_int64(p->leak_since_unix));
	json_object_object_add(ev, "stacks", stacks);
	json_object_array_add(arr, finding(p, "memory-leak", title, n ? top[0]->site : "", ev,
					   "Look for containers that only grow: module-level dicts or lists used as caches or "
					   "registries, functools.lru_cache(maxsize=None), listeners that are never removed. Bound "
					   "them (lru_cache(maxsize=N), cachetools.TTLCache), evict, or hold values through weakref."));
}

static void spike_findings(const struct mem_proc *p, json_object *arr)
{
	for (int i = 0; i < MEM_MAX_SPIKES; i++) {
		const struct mem_spike *s = &p->spikes[i];
		json_object *ev;
		char title[512], b[32];

		if (!s->times)
			continue;
		ev = json_object_new_object();
		mt_format_bytes((double)s->last_bytes, b, sizeof(b));
		snprintf(title, sizeof(title), "Loaded too much data at once: %s made resident within %u s at %s", b,
			 s->last_seconds ? s->last_seconds : 1, s->site);
		json_object_object_add(ev, "bytes", json_object_new_uint64(s->last_bytes));
		json_object_object_add(ev, "max_bytes", json_object_new_uint64(s->max_bytes));
		json_object_object_add(ev, "seconds", json_object_new_int((int)s->last_seconds));
		json_object_object_add(ev, "times", json_object_new_int((int)s->times));
		json_object_object_add(ev, "last_unix", json_object_new_int64(s->last_unix));
		json_object_object_add(ev, "stack", json_object_new_string(s->stack));
		json_object_array_add(arr, finding(p, "memory-spike", title, s->site, ev,
						   "Stream instead of materializing: iterate files line by line or read fixed-size "
						   "chunks, use cursor.fetchmany() or a server-side cursor instead of fetchall(), "
						   "QuerySet.iterator() instead of list(queryset), generators instead of lists."));
	}
}

static void gc_finding(struct memsrc *m, const struct mem_proc *p, json_object *arr)
{
	json_object *ev, *gens;
	uint64_t dcpu = 0, dgc = 0;
	char title[160];
	double share;

	if (!mt_gc_share(&p->ring, &p->last, MEM_GC_PERIOD_S, &share, &dcpu, &dgc) || dcpu < 1000000000ULL ||
	    share * 100 < m->o.gc_pressure_percent)
		return;
	ev = json_object_new_object();
	gens = json_object_new_object();
	for (int g = 0; g < PM_GC_GENS; g++)
		if (p->gc_seen[g].count)
			json_object_object_add(gens, gen_names[g], json_object_new_uint64(p->gc_seen[g].count));
	snprintf(title, sizeof(title), "Garbage collection takes %.0f%% of CPU time", share * 100);
	json_object_object_add(ev, "gc_time_share", json_object_new_double(share));
	json_object_object_add(ev, "gc_seconds", json_object_new_double(dgc / 1e9));
	json_object_object_add(ev, "cpu_seconds", json_object_new_double(dcpu / 1e9));
	json_object_object_add(ev, "period_seconds", json_object_new_int(MEM_GC_PERIOD_S));
	json_object_object_add(ev, "collections_by_generation", gens);
	json_object_object_add(ev, "threshold_percent", json_object_new_int((int)m->o.gc_pressure_percent));
	json_object_object_add(ev, "gc_source", json_object_new_string(p->gc_how));
	json_object_array_add(arr, finding(p, "gc-pressure", title, "", ev,
					   "Create fewer reference cycles (weakref for parent and back pointers, break cycles when "
					   "done), call gc.freeze() after start-up so long-lived objects are not scanned again, or "
					   "raise gc.set_threshold() for allocation-heavy phases."));
}

void mem_findings(void *state, json_object *arr)
{
	struct memsrc *m = state;

	for (size_t i = 0; i < m->nprocs; i++) {
		struct mem_proc *p = m->procs[i];

		if (!p->have_last)
			continue;
		if (p->trend.leak)
			leak_finding(m, p, arr);
		spike_findings(p, arr);
		gc_finding(m, p, arr);
	}
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static const char *top_growth_site(const struct mem_proc *p)
{
	const struct mt_stack *top[1];

	return p->stacks && mt_stacks_top(p->stacks, p->last.t_ns, top, 1) ? top[0]->site : "";
}

void mem_service_json(void *state, const char *service, json_object *row)
{
	struct memsrc *m = state;
	json_object *o = json_object_new_object();
	struct mem_svc *s = NULL;
	uint64_t count = 0, ns = 0;
	const char *site = "";
	struct svc_now n;

	if (!m->skel) {
		json_object_put(o);
		return;
	}
	svc_now(m, service, &n);
	for (size_t i = 0; i < m->nsvcs && !s; i++)
		if (!strcmp(m->svcs[i].name, service))
			s = &m->svcs[i];
	for (int g = 0; s && g < PM_GC_GENS; g++) {
		count += s->gc[g].count;
		ns += s->gc[g].sum_ns;
	}
	for (size_t i = 0; i < m->nprocs && !*site; i++)
		if (!strcmp(m->procs[i]->service, service))
			site = top_growth_site(m->procs[i]);
	json_object_object_add(o, "resident_bytes", json_object_new_uint64(n.resident));
	json_object_object_add(o, "growth_bytes_per_second", json_object_new_double(n.growth_bps));
	json_object_object_add(o, "leak_suspected", json_object_new_int((int)n.leaking));
	json_object_object_add(o, "gc_collections_total", json_object_new_uint64(count));
	json_object_object_add(o, "gc_seconds_total", json_object_new_double(ns / 1e9));
	json_object_object_add(o, "gc_time_share",
			       n.dcpu_ns ? json_object_new_double(svc_share(&n)) : NULL);
	json_object_object_add(o, "top_growth_site", json_object_new_string(site));
	json_object_object_add(row, "memory", o);
}

void mem_process_json(void *state, pid_t pid, json_object *sources)
{
	struct memsrc *m = state;
	struct mem_proc *p = mem_find(m, pid);
	json_object *o = json_object_new_object();
	char how[192];

	if (!m->skel) {
		json_object_object_add(o, "enabled", json_object_new_boolean(false));
		json_object_object_add(sources, "memory", o);
		return;
	}
	json_object_object_add(o, "rss", json_object_new_boolean(p != NULL));
	json_object_object_add(o, "growth_by_stack", json_object_new_boolean(p != NULL));
	if (p && (p->gc_state == MEM_GC_DUTY_OFF || p->gc_state == MEM_GC_DUTY_ON))
		snprintf(how, sizeof(how), "%s, duty-cycled %llu s in %llu (%llu collections/s)", p->gc_how,
			 MEM_GC_DUTY_ON_NS / 1000000000ULL, (MEM_GC_DUTY_ON_NS + p->gc_off_ns) / 1000000000ULL,
			 (unsigned long long)p->gc_rate);
	else
		snprintf(how, sizeof(how), "%s", p ? p->gc_how : "none (not tracked by the memory source)");
	json_object_object_add(o, "gc_pauses", json_object_new_string(how));
	if (p && p->have_last) {
		json_object_object_add(o, "resident_bytes", json_object_new_uint64(p->last.rss));
		json_object_object_add(o, "anon_bytes", json_object_new_uint64(p->last.anon));
		json_object_object_add(o, "growth_bytes_per_second", json_object_new_double(p->trend.slope_bps));
		json_object_object_add(o, "gc_collections", json_object_new_uint64(p->gc_count_total));
		json_object_object_add(o, "gc_seconds", json_object_new_double(p->gc_ns_total / 1e9));
		json_object_object_add(o, "top_growth_site", json_object_new_string(top_growth_site(p)));
	}
	json_object_object_add(sources, "memory", o);
}
