/* The memory source (include/memory.h): loads bpf/memory.bpf.c, keeps one record per tracked
 * process (RSS samples, the stacks behind growth, GC probes and totals) and per service
 * (cumulative counters for Prometheus), and once a second reads /proc/PID/{statm,stat}, drains the
 * in-kernel growth counts and reads the GC pause histograms. Output (metrics, findings, JSON) is in
 * src/memory_report.c. Every hook runs with the engine lock held. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpflog.h"
#include "linkreap.h"
#include "memory.skel.h"
#include "memsrc.h"
#include "pyprobe.h"

#define DRAIN_BATCH 256

/* ---- small helpers ------------------------------------------------------------------------ */

static ssize_t read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return (ssize_t)n;
}

static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return read_text(path, buf, len);
}

struct mem_proc *mem_find(struct memsrc *m, pid_t pid)
{
	for (size_t i = 0; i < m->nprocs; i++)
		if (m->procs[i]->pid == pid)
			return m->procs[i];
	return NULL;
}

struct mem_svc *mem_svc_get(struct memsrc *m, const char *name)
{
	struct mem_svc *s;

	for (size_t i = 0; i < m->nsvcs; i++)
		if (!strcmp(m->svcs[i].name, name))
			return &m->svcs[i];
	if (m->nsvcs >= m->max_svcs) {
		m->drops_svc_cap++;
		return NULL;
	}
	if (m->nsvcs == m->svcs_cap) {
		size_t cap = m->svcs_cap ? m->svcs_cap * 2 : 16;

		s = realloc(m->svcs, cap * sizeof(*s));
		if (!s)
			return NULL;
		m->svcs = s;
		m->svcs_cap = cap;
	}
	s = &m->svcs[m->nsvcs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

/* ---- GC probes ------------------------------------------------------------------------------ */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void gc_detach(struct memsrc *m, struct mem_proc *p)
{
	uint32_t key = (uint32_t)p->pid;

	if (p->ngc_links)
		m->ngc_probed--;
	/* closing a uprobe waits for kernel grace periods: never with the engine lock held */
	for (int i = 0; i < p->ngc_links; i++)
		linkreap_async(p->gc_links[i], &m->reaping, MEM_MAX_REAPERS);
	p->ngc_links = 0;
	p->gc_attached_ns = 0;
	bpf_map__delete_elem(m->skel->maps.gc_armed, &key, sizeof(key), 0);
}

static int gc_add_link(struct mem_proc *p, struct bpf_link *l)
{
	if (!l)
		return -errno;
	if (p->ngc_links >= MEM_MAX_GC_LINKS) {
		bpf_link__destroy(l);
		return -E2BIG;
	}
	p->gc_links[p->ngc_links++] = l;
	return 0;
}

/* Each site: USDT nops by file offset (with their semaphore), collector functions by name. */
static int gc_attach_sites(struct memsrc *m, struct mem_proc *p)
{
	const struct pyprobe_gc *g = &p->gc_sites;
	int err = 0;

	for (unsigned i = 0; i < g->nfuncs && !err; i++) {
		const struct pyprobe_func *f = &g->funcs[i];
		const char *fn = f->offset ? NULL : f->name;
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .func_name = fn, .ref_ctr_offset = f->ref_ctr, .bpf_cookie = f->cookie);
		LIBBPF_OPTS(bpf_uprobe_opts, ret, .func_name = fn, .retprobe = true);
		struct bpf_program *prog = f->end ? m->skel->progs.on_gc_exit : m->skel->progs.on_gc_enter;

		err = gc_add_link(p, bpf_program__attach_uprobe_opts(prog, p->pid, p->gc_path, f->offset, &entry));
		if (!err && f->ret)
			err = gc_add_link(p, bpf_program__attach_uprobe_opts(m->skel->progs.on_gc_exit, p->pid,
									     p->gc_path, 0, &ret));
	}
	return err;
}

/* Arms the kernel side (pauses that started before now are dropped) and attaches. */
static int gc_attach(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	uint32_t key = (uint32_t)p->pid;
	uint64_t armed = mono_ns();
	int err;

	if (m->ngc_probed >= PM_GC_MAX_PROCS)
		return -ENOSPC;
	err = bpf_map__update_elem(m->skel->maps.gc_armed, &key, sizeof(key), &armed, sizeof(armed), BPF_ANY);
	if (!err)
		err = gc_attach_sites(m, p);
	m->ngc_probed++; /* gc_detach gives it back */
	p->gc_attached_ns = now; /* the tick's time: the next sample sees a fully probed interval */
	if (err) {
		gc_detach(m, p);
		m->gc_attach_failures++;
	}
	return err;
}

static void gc_none(struct mem_proc *p, const char *why, int err)
{
	p->gc_state = MEM_GC_NONE;
	snprintf(p->gc_how, sizeof(p->gc_how), "none (%s%s%s)", why, err ? ": " : "", err ? strerror(-err) : "");
}

/* The first attach: find the sites (USDT notes, else the collector symbol) and probe them. */
static void gc_start_probing(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	int err = pyprobe_gc_find(p->gc_path, p->py_version, &p->gc_sites);

	if (err == -ENOENT)
		return gc_none(p, "no USDT notes or collector symbol", 0);
	if (err)
		return gc_none(p, "cannot read the runtime ELF", err);
	err = gc_attach(m, p, now);
	if (err == -ENOSPC)
		return gc_none(p, "probe cap reached", 0);
	if (err)
		return gc_none(p, "attach failed", err);
	p->gc_state = MEM_GC_ON;
	pyprobe_gc_describe(&p->gc_sites, p->gc_how, sizeof(p->gc_how));
}

/* What probing this process all the time would cost, in millionths of a CPU. */
static uint64_t gc_cost_ppm(const struct mem_proc *p)
{
	return p->gc_rate * 2 * MEM_GC_HIT_NS / 1000;
}

/* Off period that keeps one probed second per period within the budget. */
static uint64_t gc_off_period(const struct mem_proc *p)
{
	uint64_t off = MEM_GC_DUTY_ON_NS * (gc_cost_ppm(p) / MEM_GC_BUDGET_PPM);

	return off < MEM_GC_MIN_OFF_NS ? MEM_GC_MIN_OFF_NS : off > MEM_GC_MAX_OFF_NS ? MEM_GC_MAX_OFF_NS : off;
}

static void gc_duty_off(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	gc_detach(m, p);
	p->gc_state = MEM_GC_DUTY_OFF;
	p->gc_off_ns = gc_off_period(p);
	p->gc_next_ns = now + p->gc_off_ns;
}

/* Runs after each sample: probes on, off, or duty-cycled by the collection rate just seen. */
static void gc_step(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	switch (p->gc_state) {
	case MEM_GC_PENDING:
		if (now >= p->gc_next_ns)
			gc_start_probing(m, p, now);
		return;
	case MEM_GC_ON:
		if (gc_cost_ppm(p) > MEM_GC_BUDGET_PPM)
			gc_duty_off(m, p, now);
		return;
	case MEM_GC_DUTY_OFF:
		if (now < p->gc_next_ns)
			return;
		if (gc_attach(m, p, now))
			return gc_none(p, "re-attach failed", 0);
		p->gc_state = MEM_GC_DUTY_ON;
		p->gc_next_ns = now + MEM_GC_DUTY_ON_NS;
		return;
	case MEM_GC_DUTY_ON:
		if (now < p->gc_next_ns)
			return;
		if (gc_cost_ppm(p) <= MEM_GC_BUDGET_PPM / 2)
			p->gc_state = MEM_GC_ON; /* calmed down: stay on */
		else
			gc_duty_off(m, p, now);
		return;
	default:
		return;
	}
}

/* Folds the process's cumulative pause counts into its totals and its service's histogram. */
static uint64_t gc_read(struct memsrc *m, struct mem_proc *p)
{
	struct mem_svc *s = NULL;
	uint64_t fresh = 0;

	for (uint32_t gen = 0; gen < PM_GC_GENS; gen++) {
		struct pm_gc_key key = { .pid = (uint32_t)p->pid, .generation = gen };
		struct pm_gc_val v, *seen = &p->gc_seen[gen];

		if (bpf_map__lookup_elem(m->skel->maps.gc_pauses, &key, sizeof(key), &v, sizeof(v), 0) ||
		    v.count <= seen->count)
			continue;
		if (!s)
			s = mem_svc_get(m, p->service);
		p->gc_ns_total += v.sum_ns - seen->sum_ns;
		p->gc_count_total += v.count - seen->count;
		fresh += v.count - seen->count;
		if (s) {
			s->gc[gen].count += v.count - seen->count;
			s->gc[gen].sum_ns += v.sum_ns - seen->sum_ns;
			for (int b = 0; b < PM_GC_BUCKETS; b++)
				s->gc[gen].buckets[b] += v.buckets[b] - seen->buckets[b];
		}
		*seen = v;
	}
	return fresh;
}

static void gc_forget(struct memsrc *m, pid_t pid)
{
	for (uint32_t gen = 0; gen < PM_GC_GENS; gen++) {
		struct pm_gc_key key = { .pid = (uint32_t)pid, .generation = gen };

		bpf_map__delete_elem(m->skel->maps.gc_pauses, &key, sizeof(key), 0);
	}
}

/* ---- growth by stack ---------------------------------------------------------------------- */

static void frame_label(struct memsrc *m, pid_t pid, const struct pm_py_frame *f, char *buf, size_t len)
{
	const char *name, *file;
	int line;

	engine_symbolize(m->e, pid, f->code, f->lasti, &name, &file, &line);
	if (line > 0)
		snprintf(buf, len, "%s (%s:%d)", name, file, line);
	else
		snprintf(buf, len, "%s (%s)", name, file);
}

/* The innermost frame and a short stack (innermost first) of a drained key. */
static void describe_stack(struct memsrc *m, const struct pm_mem_key *k, char *site, size_t slen, char *stack,
			   size_t stlen)
{
	size_t n = 0;

	stack[0] = 0;
	if (!k->py_stack_hash) {
		snprintf(site, slen, "%s", k->stack_flags & PM_STACK_NO_TSTATE ? "(thread without Python)" : "(no Python stack)");
		return;
	}
	memset(m->stack_buf, 0, m->stack_value_size);
	if (bpf_map__lookup_elem(m->skel->maps.mem_stacks, &k->py_stack_hash, sizeof(k->py_stack_hash), m->stack_buf,
				 m->stack_value_size, 0) || !m->stack_buf->nframes) {
		snprintf(site, slen, "(stack evicted)");
		return;
	}
	for (uint32_t i = 0; i < m->stack_buf->nframes && i < MEM_STACK_FRAMES && n + 8 < stlen; i++) {
		char label[MT_SITE_LEN];

		frame_label(m, k->pid, &m->stack_buf->frames[i], label, sizeof(label));
		if (!i)
			snprintf(site, slen, "%s", label);
		n += (size_t)snprintf(stack + n, stlen - n, "%s%s", i ? " <- " : "", label);
	}
	if (n >= stlen)
		stack[stlen - 1] = 0;
}

static void charge_key(struct memsrc *m, const struct pm_mem_key *k, const struct pm_mem_val *v, uint64_t now)
{
	struct mem_proc *p = mem_find(m, (pid_t)k->pid);
	char site[MT_SITE_LEN], stack[MT_STACK_LEN];
	struct mt_stack *st;
	struct mem_svc *s;

	if (!p) {
		m->unattributed_bytes += v->fault_bytes;
		return;
	}
	if (!p->stacks) {
		p->stacks = malloc(sizeof(*p->stacks));
		if (!p->stacks)
			return;
		mt_stacks_init(p->stacks, m->o.leak_window_seconds);
	}
	st = mt_stacks_find(p->stacks, k->py_stack_hash);
	if (!st) {
		describe_stack(m, k, site, sizeof(site), stack, sizeof(stack));
		st = mt_stacks_get(p->stacks, now, k->py_stack_hash, site, stack);
	}
	mt_stacks_charge(p->stacks, st, now, v->fault_bytes, v->growth_bytes);
	p->fault_total += v->fault_bytes;
	p->growth_total += v->growth_bytes;
	s = mem_svc_get(m, p->service);
	if (s) {
		s->faulted += v->fault_bytes;
		s->grown += v->growth_bytes;
	}
}

static void drain_growth(struct memsrc *m, uint64_t now)
{
	static struct pm_mem_key keys[DRAIN_BATCH];
	static struct pm_mem_val vals[DRAIN_BATCH];
	int fd = bpf_map__fd(m->skel->maps.mem_growth);
	struct pm_mem_key in, out;
	bool first = true;

	for (;;) {
		__u32 n = DRAIN_BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		int err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &o);

		if (err && errno != ENOENT)
			break;
		for (__u32 i = 0; i < n; i++)
			charge_key(m, &keys[i], &vals[i], now);
		if (err)
			break;
		in = out;
		first = false;
	}
}

/* Remembers "loaded too much at once" episodes, one record per site. */
static void note_spikes(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	struct mt_spike sp[MEM_MAX_SPIKES];
	size_t n;

	if (!p->stacks)
		return;
	n = mt_stacks_spikes(p->stacks, now, m->o.spike_bytes, sp, MEM_MAX_SPIKES);
	for (size_t i = 0; i < n; i++) {
		struct mem_spike *r = NULL, *oldest = &p->spikes[0];

		for (int j = 0; j < MEM_MAX_SPIKES && !r; j++) {
			if (p->spikes[j].times && !strcmp(p->spikes[j].site, sp[i].st->site))
				r = &p->spikes[j];
			if (p->spikes[j].last_unix < oldest->last_unix)
				oldest = &p->spikes[j];
		}
		if (!r && !sp[i].fresh)
			continue; /* its record was replaced meanwhile */
		if (!r) {
			r = oldest;
			memset(r, 0, sizeof(*r));
			snprintf(r->site, sizeof(r->site), "%s", sp[i].st->site);
			snprintf(r->stack, sizeof(r->stack), "%s", sp[i].st->stack);
		}
		if (sp[i].fresh) {
			r->times++;
			r->last_bytes = 0;
		}
		/* an episode spanning several drains: keep its largest window */
		if (sp[i].bytes >= r->last_bytes) {
			r->last_bytes = sp[i].bytes;
			r->last_seconds = sp[i].seconds;
		}
		r->last_unix = time(NULL);
		if (sp[i].bytes > r->max_bytes)
			r->max_bytes = sp[i].bytes;
	}
}

/* ---- RSS samples ---------------------------------------------------------------------------- */

static void sample_proc(struct memsrc *m, struct mem_proc *p, uint64_t now)
{
	uint64_t fresh = gc_read(m, p), cpu = 0;
	struct mt_sample s = { .t_ns = now };
	char buf[1024];

	if (read_proc(p->pid, "statm", buf, sizeof(buf)) <= 0 || mt_parse_statm(buf, m->page_size, &s.rss, &s.anon))
		return;
	if (read_proc(p->pid, "stat", buf, sizeof(buf)) > 0)
		mt_parse_stat_cpu(buf, m->ticks, &cpu);
	/* the GC share counts only CPU time during which every collection was timed */
	if (p->gc_attached_ns && p->prev_t_ns && p->gc_attached_ns <= p->prev_t_ns && now > p->prev_t_ns) {
		if (cpu >= p->prev_cpu_ns)
			p->cpu_probed_ns += cpu - p->prev_cpu_ns;
		p->gc_rate = fresh * 1000000000ULL / (now - p->prev_t_ns);
	}
	p->prev_cpu_ns = cpu;
	p->prev_t_ns = now;
	gc_step(m, p, now);
	s.cpu_ns = p->cpu_probed_ns;
	s.gc_ns = p->gc_ns_total;
	p->last = s;
	p->have_last = true;
	if (mt_ring_add(&p->ring, &s)) {
		struct mt_leak_opts lo = { .window_s = m->o.leak_window_seconds, .min_growth_bytes = m->o.leak_min_bytes };

		mt_trend_eval(&p->ring, &lo, now, &p->trend);
		if (p->trend.leak && !p->leak_since_unix)
			p->leak_since_unix = time(NULL);
		else if (!p->trend.leak)
			p->leak_since_unix = 0;
	}
}

/* ---- hooks ---------------------------------------------------------------------------------- */

static void opts_defaults(struct memory_opts *o)
{
	if (!o->leak_window_seconds)
		o->leak_window_seconds = MEMORY_DEFAULT_LEAK_WINDOW_S;
	if (!o->leak_min_bytes)
		o->leak_min_bytes = MEMORY_DEFAULT_LEAK_MIN;
	if (!o->spike_bytes)
		o->spike_bytes = MEMORY_DEFAULT_SPIKE;
	if (!o->gc_pressure_percent)
		o->gc_pressure_percent = MEMORY_DEFAULT_GC_PRESSURE;
}

static void mem_stop(void *state)
{
	struct memsrc *m = state;

	if (!m)
		return;
	for (size_t i = 0; i < m->nprocs; i++) {
		gc_detach(m, m->procs[i]);
		free(m->procs[i]->stacks);
		free(m->procs[i]);
	}
	bpf_link__destroy(m->rss_link);
	/* in-flight closes hold no reference to the object, but let them finish for a clean exit */
	linkreap_wait(&m->reaping, 5000);
	memory_bpf__destroy(m->skel);
	free(m->procs);
	free(m->svcs);
	free(m->stack_buf);
	free(m);
}

static int mem_start(struct engine *e, const struct engine_opts *o, void **state)
{
	unsigned depth = o->cpu.max_depth ? o->cpu.max_depth : PM_DEFAULT_DEPTH;
	struct memsrc *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	bpflog_init();
	m->e = e;
	m->o = o->mem;
	opts_defaults(&m->o);
	if (m->o.disabled) { /* configured off: every hook sees no skeleton and does nothing */
		*state = m;
		return 0;
	}
	m->max_procs = o->max_processes ? o->max_processes : PM_MAX_PROCS;
	m->max_svcs = o->max_services ? o->max_services : 256;
	m->page_size = sysconf(_SC_PAGESIZE);
	m->ticks = sysconf(_SC_CLK_TCK);
	m->stack_value_size = offsetof(struct pm_py_stack, frames) + depth * sizeof(struct pm_py_frame);
	m->stack_buf = calloc(1, sizeof(*m->stack_buf));
	if (!m->stack_buf) {
		err = -ENOMEM;
		goto fail;
	}
	m->skel = memory_bpf__open();
	if (!m->skel) {
		err = -errno;
		goto fail;
	}
	m->skel->rodata->max_depth = depth;
	bpf_map__set_value_size(m->skel->maps.mem_stacks, m->stack_value_size);
	err = engine_share_tracked(e, m->skel->obj);
	if (!err)
		err = memory_bpf__load(m->skel);
	if (err)
		goto fail;
	m->rss_link = bpf_program__attach(m->skel->progs.on_rss_stat);
	if (!m->rss_link) {
		err = -errno;
		goto fail;
	}
	*state = m;
	return 0;
fail:
	mem_stop(m);
	return err < 0 ? err : -EINVAL;
}

static void mem_track(void *state, const struct py_target *t, const char *service)
{
	struct memsrc *m = state;
	struct mem_proc *p = mem_find(m, t->pid);
	struct pm_mem_proc init = {};
	uint64_t bytes = 0;
	char buf[4096];

	if (!m->skel)
		return;
	if (p) { /* re-tracked (exec, re-attribution): keep the history */
		snprintf(p->service, sizeof(p->service), "%s", service);
		return;
	}
	if (m->nprocs >= m->max_procs) {
		m->drops_proc_cap++;
		return;
	}
	if (m->nprocs == m->procs_cap) {
		size_t cap = m->procs_cap ? m->procs_cap * 2 : 64;
		struct mem_proc **np = realloc(m->procs, cap * sizeof(*np));

		if (!np)
			return;
		m->procs = np;
		m->procs_cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->pid = t->pid;
	snprintf(p->service, sizeof(p->service), "%s", service);
	mt_ring_init(&p->ring, m->o.leak_window_seconds);
	m->procs[m->nprocs++] = p;
	/* the kernel counter the BPF side compares against starts where the process is now */
	if (read_proc(t->pid, "status", buf, sizeof(buf)) > 0 && !mt_parse_status_anon_shmem(buf, &bytes))
		init.last_pages = init.hwm_pages = (int64_t)(bytes / (uint64_t)m->page_size);
	else
		init.last_pages = INT64_MAX; /* unknown: the first change only sets the baseline */
	bpf_map__update_elem(m->skel->maps.mem_procs, &(uint32_t){ (uint32_t)t->pid }, sizeof(uint32_t), &init,
			     sizeof(init), BPF_ANY);
	p->py_version = t->version;
	snprintf(p->gc_path, sizeof(p->gc_path), "/proc/%d/root%s", t->pid, t->elf_path);
	snprintf(p->gc_how, sizeof(p->gc_how), "pending");
	p->gc_next_ns = mono_ns() + MEM_GC_DELAY_NS;
}

static void mem_untrack(void *state, pid_t pid)
{
	struct memsrc *m = state;
	uint32_t key = (uint32_t)pid;

	if (!m->skel)
		return;
	for (size_t i = 0; i < m->nprocs; i++) {
		struct mem_proc *p = m->procs[i];

		if (p->pid != pid)
			continue;
		gc_detach(m, p);
		drain_growth(m, m->last_tick_ns);
		gc_read(m, p);
		m->procs[i] = m->procs[--m->nprocs];
		free(p->stacks);
		free(p);
		break;
	}
	bpf_map__delete_elem(m->skel->maps.mem_procs, &key, sizeof(key), 0);
	gc_forget(m, pid);
}

static void mem_tick(void *state, uint64_t now)
{
	struct memsrc *m = state;

	if (!m->skel || (m->last_tick_ns && now - m->last_tick_ns < MEM_TICK_NS))
		return;
	m->last_tick_ns = now;
	/* services may be re-attributed on reload: follow the engine now and then */
	if (++m->ticks_done % 10 == 0)
		for (size_t i = 0; i < m->nprocs; i++) {
			const char *svc = engine_service_of(m->e, m->procs[i]->pid);

			if (svc)
				snprintf(m->procs[i]->service, sizeof(m->procs[i]->service), "%s", svc);
		}
	drain_growth(m, now);
	for (size_t i = 0; i < m->nprocs; i++) {
		sample_proc(m, m->procs[i], now);
		note_spikes(m, m->procs[i], now);
	}
}

void mem_bpf_stats(struct memsrc *m, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[512];

	memset(out, 0, PM_MEM_STAT_MAX * sizeof(*out));
	if (ncpu <= 0 || ncpu > 512)
		return;
	for (__u32 i = 0; i < PM_MEM_STAT_MAX; i++) {
		if (bpf_map__lookup_elem(m->skel->maps.mem_stats, &i, sizeof(i), vals, ncpu * sizeof(*vals), 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
}

const struct source_ops memory_source = {
	.name = "memory",
	.start = mem_start,
	.stop = mem_stop,
	.track = mem_track,
	.untrack = mem_untrack,
	.tick = mem_tick,
	.metrics = mem_metrics,
	.findings = mem_findings,
	.service_json = mem_service_json,
	.process_json = mem_process_json,
};
