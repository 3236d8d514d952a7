/* The daemon's ingest engine (include/engine.h): process events feed the tracker, the tracker
 * feeds the sampler's py_procs map, drained samples are symbolized into a scratch profile and
 * copied into the per-service/per-process aggregates and into any live capture ("taps").
 * One mutex guards everything; the ingest loop holds it only while it works. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "engine.h"
#include "ksyms.h"
#include "procwatch.h"
#include "pysym.h"
#include "pywalk.h"
#include "samplefold.h"
#include "source.h"
#include "tracker.h"

#define MAX_TAPS 32
#define MAX_SOURCES 16
#define SYM_ROUND_NS 1000000000ULL /* how often a cached code object is checked against its address */

struct procinfo {
	pid_t pid;
	char service[SVC_NAME_MAX];
	char comm[32];
	int svc_source;
};

struct tap {
	char service[SVC_NAME_MAX];
	pid_t pid;
	struct profile *p;
	bool used;
};

struct engine {
	struct engine_opts o;
	pthread_mutex_t lock;
	pthread_cond_t tick;
	struct cpu_sampler *cpu;
	struct procwatch *pw;
	struct tracker *tr;
	struct pysym *sym;
	struct ksyms *ks;
	struct agg *agg;
	struct profile *scratch;
	struct procinfo *procs;
	size_t nprocs, procs_cap;
	struct tap taps[MAX_TAPS];
	const struct svc_rules *rules, *excludes;
	void *src_state[MAX_SOURCES];
	int src_err[MAX_SOURCES]; /* 0 = running, else the -errno its start returned */
	uint64_t start_mono_ns, last_drain_ns, last_scan_ns, last_round_ns;
	uint64_t samples_total, samples_unattributed, symbolize_failures, drains;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* ---- process attribution ------------------------------------------------------------------ */

static ssize_t read_file(const char *path, char *buf, size_t len)
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

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	if (sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

static struct procinfo *procinfo_find(struct engine *e, pid_t pid)
{
	for (size_t i = 0; i < e->nprocs; i++)
		if (e->procs[i].pid == pid)
			return &e->procs[i];
	return NULL;
}

/* What service rules look at, read from /proc (missing files read as empty). */
struct proc_strings {
	char cgroup[4096], cmdline[4096], exe[512], comm[32];
	size_t cmdline_len;
};

static void read_proc_strings(pid_t pid, struct proc_strings *ps)
{
	char path[64];
	ssize_t n;

	*ps = (struct proc_strings){ 0 };
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	read_file(path, ps->cgroup, sizeof(ps->cgroup));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = read_file(path, ps->cmdline, sizeof(ps->cmdline));
	ps->cmdline_len = n < 0 ? 0 : (size_t)n;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	read_file(path, ps->comm, sizeof(ps->comm));
	ps->comm[strcspn(ps->comm, "\n")] = 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (readlink(path, ps->exe, sizeof(ps->exe) - 1) < 0)
		ps->exe[0] = 0;
}

static struct svc_input svc_input_of(const struct proc_strings *ps, const char *parent_service)
{
	return (struct svc_input){ .cgroup = ps->cgroup, .cmdline = ps->cmdline, .cmdline_len = ps->cmdline_len,
				   .exe = ps->exe, .comm = ps->comm, .parent_service = parent_service };
}

/* The service of pid from strings already read. */
static void service_from(struct engine *e, pid_t pid, const struct proc_strings *ps, struct procinfo *pi)
{
	struct procinfo *parent = procinfo_find(e, parent_of(pid));
	struct svc_input in = svc_input_of(ps, parent ? parent->service : NULL);

	pi->svc_source = svc_resolve(e->rules, &in, pi->service, sizeof(pi->service));
	snprintf(pi->comm, sizeof(pi->comm), "%s", ps->comm);
}

static void resolve_service(struct engine *e, pid_t pid, struct procinfo *pi)
{
	struct proc_strings ps;

	read_proc_strings(pid, &ps);
	service_from(e, pid, &ps, pi);
}

/* Whether a process with these strings matches an exclusion rule. */
static bool matches_excludes(const struct svc_rules *excludes, const struct proc_strings *ps)
{
	struct svc_input in = svc_input_of(ps, NULL);

	return svc_rules_match(excludes, &in) != NULL;
}

/* The tracker asks before tracking a process (the engine lock is held). */
static bool admit(pid_t pid, void *ctx)
{
	struct engine *e = ctx;
	struct proc_strings ps;

	if (!svc_rules_count(e->excludes))
		return true;
	read_proc_strings(pid, &ps);
	return !matches_excludes(e->excludes, &ps);
}

static void on_track(const struct py_target *t, void *ctx)
{
	struct engine *e = ctx;
	struct procinfo *pi = procinfo_find(e, t->pid);

	if (!pi) {
		if (e->nprocs == e->procs_cap) {
			size_t cap = e->procs_cap ? e->procs_cap * 2 : 64;
			struct procinfo *p = realloc(e->procs, cap * sizeof(*p));

			if (!p)
				return;
			e->procs = p;
			e->procs_cap = cap;
		}
		pi = &e->procs[e->nprocs++];
		memset(pi, 0, sizeof(*pi));
		pi->pid = t->pid;
	}
	resolve_service(e, t->pid, pi);
	agg_process_add(e->agg, t->pid, pi->service);
	for (int i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->track)
			pyrometer_sources[i]->track(e->src_state[i], t, pi->service);
}

static int on_sample(const struct cpu_sample *s, void *ctx);

static void on_untrack(pid_t pid, void *ctx)
{
	struct engine *e = ctx;
	struct procinfo *pi = procinfo_find(e, pid);

	/* samples still in the kernel are symbolized while the process is known */
	cpu_sampler_drain(e->cpu, on_sample, e);
	for (int i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->untrack)
			pyrometer_sources[i]->untrack(e->src_state[i], pid);
	agg_process_gone(e->agg, pid);
	pysym_forget(e->sym, pid);
	if (pi)
		*pi = e->procs[--e->nprocs];
}

static void on_proc_event(const struct pm_proc_event *ev, void *ctx)
{
	struct engine *e = ctx;

	pthread_mutex_lock(&e->lock);
	tracker_event(e->tr, ev);
	pthread_mutex_unlock(&e->lock);
}

/* ---- samples ------------------------------------------------------------------------------ */

static void feed_taps(struct engine *e, const char *service, pid_t pid, const uint32_t *ids, int n,
		      uint64_t count)
{
	for (int i = 0; i < MAX_TAPS; i++) {
		struct tap *t = &e->taps[i];
		uint32_t out[PM_MAX_DEPTH + 2 * PM_NATIVE_DEPTH + 4];
		int j;

		if (!t->used || (t->pid && t->pid != pid) || (!t->pid && strcmp(t->service, service)))
			continue;
		for (j = 0; j < n; j++) {
			const struct prof_frame *f = prof_frame_at(e->scratch, ids[j]);
			int id = prof_frame_id(t->p, f->name, f->file, f->line, f->kind);

			if (id < 0)
				break;
			out[j] = (uint32_t)id;
		}
		if (j == n)
			prof_add(t->p, out, n, count);
	}
}

static int on_sample(const struct cpu_sample *s, void *ctx)
{
	struct engine *e = ctx;
	const struct py_target *t = tracker_find(e->tr, s->key->pid);
	struct procinfo *pi = procinfo_find(e, s->key->pid);
	uint32_t ids[PM_MAX_DEPTH + 2 * PM_NATIVE_DEPTH + 4];
	int n;

	e->samples_total += s->count;
	if (!pi) {
		e->samples_unattributed += s->count;
		return 0;
	}
	n = samplefold(e->scratch, e->sym, e->ks, t, s, NULL, ids, sizeof(ids) / sizeof(ids[0]));
	if (n < 0)
		return 0;
	agg_add(e->agg, s->key->pid, e->scratch, ids, (uint32_t)n, s->count, now_s());
	feed_taps(e, pi->service, pi->pid, ids, n, s->count);
	return 0;
}

static void drain(struct engine *e)
{
	uint64_t now = mono_ns();

	/* the scratch profile only carries frames from one drain to the aggregates */
	if (prof_nframes(e->scratch) > 100000) {
		prof_free(e->scratch);
		e->scratch = prof_new(PROF_UNIT_SAMPLES, 0);
	}
	/* each code object's header is checked once a round: a code object freed and another made at
	 * its address within a second is served its predecessor's name until the next round */
	if (now - e->last_round_ns >= SYM_ROUND_NS) {
		pysym_next_round(e->sym);
		e->last_round_ns = now;
	}
	if (e->scratch)
		cpu_sampler_drain(e->cpu, on_sample, e);
	e->drains++;
	pthread_cond_broadcast(&e->tick);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void start_sources(struct engine *e)
{
	for (int i = 0; pyrometer_sources[i] && i < MAX_SOURCES; i++) {
		const struct source_ops *src = pyrometer_sources[i];

		e->src_err[i] = src->start ? src->start(e, &e->o, &e->src_state[i]) : 0;
		if (e->src_err[i])
			fprintf(stderr, "pyrometerd: Failed to start the %s source: %s, continuing without it\n",
				src->name, strerror(-e->src_err[i]));
	}
}

static void stop_sources(struct engine *e)
{
	for (int i = 0; pyrometer_sources[i] && i < MAX_SOURCES; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->stop)
			pyrometer_sources[i]->stop(e->src_state[i]);
}

int engine_start(const struct engine_opts *o, struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct tracker_opts to = { .whole_host = true, .on_track = on_track, .on_untrack = on_untrack, .admit = admit };
	struct agg_opts ao;
	int err;

	if (!e)
		return -ENOMEM;
	e->o = *o;
	if (!e->o.scan_seconds)
		e->o.scan_seconds = 30;
	if (!e->o.drain_ms) /* often enough to symbolize short-lived processes while they live */
		e->o.drain_ms = 250;
	e->rules = o->rules;
	e->excludes = o->excludes;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->tick, NULL);
	e->start_mono_ns = mono_ns();
	ao = (struct agg_opts){ .slot_seconds = o->slot_seconds, .window_seconds = o->window_seconds,
				.max_services = o->max_services, .max_processes = o->max_processes,
				.max_stacks = o->max_stacks,
				.period_ns = 1000000000ULL / cpu_rate_hz(&o->cpu) };
	e->agg = agg_new(&ao);
	e->sym = pysym_new(65536);
	e->scratch = prof_new(PROF_UNIT_SAMPLES, 0);
	if (!e->agg || !e->sym || !e->scratch) {
		err = -ENOMEM;
		goto fail;
	}
	if (o->cpu.kernel_stacks)
		e->ks = ksyms_load();
	err = cpu_sampler_open(&o->cpu, &e->cpu);
	if (err)
		goto fail;
	to.max_procs = o->max_processes;
	to.ctx = e;
	err = tracker_new(e->cpu, &to, &e->tr);
	if (err)
		goto fail;
	err = procwatch_open(on_proc_event, e, &e->pw);
	if (err)
		goto fail;
	start_sources(e);
	pthread_mutex_lock(&e->lock);
	tracker_scan(e->tr);
	e->last_scan_ns = e->last_drain_ns = mono_ns();
	pthread_mutex_unlock(&e->lock);
	*out = e;
	return 0;
fail:
	engine_free(e);
	return err;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	stop_sources(e);
	procwatch_close(e->pw);
	tracker_free(e->tr);
	cpu_sampler_close(e->cpu);
	pysym_free(e->sym);
	ksyms_free(e->ks);
	agg_free(e->agg);
	prof_free(e->scratch);
	for (int i = 0; i < MAX_TAPS; i++)
		prof_free(e->taps[i].p);
	free(e->procs);
	pthread_cond_destroy(&e->tick);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int engine_run_once(struct engine *e, int timeout_ms)
{
	uint64_t now;
	int n = procwatch_poll(e->pw, timeout_ms);

	pthread_mutex_lock(&e->lock);
	tracker_tick(e->tr);
	now = mono_ns();
	if (now - e->last_drain_ns >= e->o.drain_ms * 1000000ULL) {
		drain(e);
		e->last_drain_ns = now;
	}
	for (int i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->tick)
			pyrometer_sources[i]->tick(e->src_state[i], now);
	if (now - e->last_scan_ns >= e->o.scan_seconds * 1000000000ULL) {
		tracker_reap(e->tr);
		tracker_scan(e->tr);
		e->last_scan_ns = now;
	}
	pthread_mutex_unlock(&e->lock);
	return n < 0 ? n : 0;
}

void engine_reload(struct engine *e, const struct engine_opts *o)
{
	const struct svc_rules *rules = o->rules, *excludes = o->excludes;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->reload)
			pyrometer_sources[i]->reload(e->src_state[i], o);
	e->rules = rules;
	e->excludes = excludes;
	tracker_forget_excluded(e->tr); /* a process the old rules excluded may be welcome now */
	e->last_scan_ns = 0;            /* judged at the next turn, not in scan_interval_seconds */
	/* one read of each process's strings: excluded now, or attributed afresh */
	for (size_t i = 0; i < e->nprocs;) {
		struct procinfo *pi = &e->procs[i];
		size_t before = e->nprocs;
		struct proc_strings ps;

		read_proc_strings(pi->pid, &ps);
		if (svc_rules_count(excludes) && matches_excludes(excludes, &ps)) {
			tracker_exclude(e->tr, pi->pid); /* on_untrack moves the last entry to i */
			if (e->nprocs < before)
				continue;
		} else {
			service_from(e, pi->pid, &ps, pi);
			agg_process_add(e->agg, pi->pid, pi->service);
		}
		i++;
	}
	pthread_mutex_unlock(&e->lock);
}

/* ---- queries ------------------------------------------------------------------------------ */

struct svc_rows {
	struct engine *e;
	json_object *arr;
	double period_s, window_s;
	bool processes;
};

static void add_service_row(const struct agg_entity_info *i, void *ctx)
{
	struct svc_rows *r = ctx;
	json_object *o;

	if (!r->processes && i->pid)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(i->service));
	json_object_object_add(o, "processes", json_object_new_int(i->nprocs));
	json_object_object_add(o, "cpu_samples_total", json_object_new_uint64(i->samples_total));
	json_object_object_add(o, "cpu_seconds_total", json_object_new_double(i->samples_total * r->period_s));
	json_object_object_add(o, "cpu_percent",
			       json_object_new_double(100.0 * i->samples_window * r->period_s / r->window_s));
	json_object_object_add(o, "top_function", json_object_new_string(i->top_function));
	for (int k = 0; pyrometer_sources[k]; k++)
		if (!r->e->src_err[k] && pyrometer_sources[k]->service_json)
			pyrometer_sources[k]->service_json(r->e->src_state[k], i->service, o);
	json_object_array_add(r->arr, o);
}

static double period_s(const struct engine *e)
{
	return 1.0 / cpu_rate_hz(&e->o.cpu);
}

static double window_s(const struct engine *e)
{
	/* the window is not full until the daemon has run that long */
	double up = (mono_ns() - e->start_mono_ns) / 1e9, w = e->o.window_seconds ? e->o.window_seconds : 60;

	return up < w ? (up < 1 ? 1 : up) : w;
}

json_object *engine_services_json(struct engine *e)
{
	struct svc_rows r = { .e = e, .arr = json_object_new_array() };
	json_object *o = json_object_new_object();

	pthread_mutex_lock(&e->lock);
	r.period_s = period_s(e);
	r.window_s = window_s(e);
	agg_foreach(e->agg, 0, now_s(), add_service_row, &r);
	pthread_mutex_unlock(&e->lock);
	json_object_object_add(o, "window_seconds", json_object_new_double(r.window_s));
	json_object_object_add(o, "services", r.arr);
	return o;
}

static json_object *process_json(struct engine *e, const struct py_target *t)
{
	struct procinfo *pi = procinfo_find(e, t->pid);
	json_object *o = json_object_new_object(), *src = json_object_new_object();
	char v[32], addr[32];

	py_version_str(t, v, sizeof(v));
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)t->runtime_addr);
	json_object_object_add(o, "pid", json_object_new_int(t->pid));
	json_object_object_add(o, "service", json_object_new_string(pi ? pi->service : "unknown"));
	json_object_object_add(o, "comm", json_object_new_string(pi ? pi->comm : ""));
	json_object_object_add(o, "exe", json_object_new_string(t->exe));
	json_object_object_add(o, "python", json_object_new_string(v));
	json_object_object_add(o, "runtime_elf", json_object_new_string(t->elf_path));
	json_object_object_add(o, "runtime_address", json_object_new_string(addr));
	json_object_object_add(o, "shared_libpython", json_object_new_boolean(t->shared));
	/* capability self-report: which data sources work for this process */
	json_object_object_add(src, "offsets", json_object_new_boolean(t->layout != NULL));
	json_object_object_add(src, "cpu_python_stacks", json_object_new_boolean(t->layout != NULL));
	json_object_object_add(src, "usdt", json_object_new_boolean(t->has_usdt));
	json_object_object_add(src, "code_type_check", json_object_new_boolean(t->code_type_addr != 0));
	for (int k = 0; pyrometer_sources[k]; k++)
		if (!e->src_err[k] && pyrometer_sources[k]->process_json)
			pyrometer_sources[k]->process_json(e->src_state[k], t->pid, src);
	json_object_object_add(o, "sources", src);
	return o;
}

static void add_process_row(const struct py_target *t, void *ctx)
{
	void **c = ctx;

	json_object_array_add(c[1], process_json(c[0], t));
}

json_object *engine_processes_json(struct engine *e)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	void *c[2] = { e, arr };

	pthread_mutex_lock(&e->lock);
	tracker_foreach(e->tr, add_process_row, c);
	pthread_mutex_unlock(&e->lock);
	json_object_object_add(o, "processes", arr);
	return o;
}

json_object *engine_process_json(struct engine *e, pid_t pid)
{
	const struct py_target *t;
	json_object *o = NULL;

	pthread_mutex_lock(&e->lock);
	t = tracker_find(e->tr, pid);
	if (t)
		o = process_json(e, t);
	pthread_mutex_unlock(&e->lock);
	return o;
}

struct stack_ctx {
	struct engine *e;
	const struct py_target *t;
	json_object *threads;
};

static int add_thread(const struct py_thread_stack *ts, void *ctx)
{
	struct stack_ctx *c = ctx;
	json_object *o = json_object_new_object(), *frames = json_object_new_array();
	char id[32];

	snprintf(id, sizeof(id), "0x%llx", (unsigned long long)ts->thread_id);
	json_object_object_add(o, "thread_id", json_object_new_string(id));
	json_object_object_add(o, "native_tid", json_object_new_int(ts->native_tid));
	json_object_object_add(o, "truncated", json_object_new_boolean(ts->flags & PM_STACK_TRUNCATED));
	for (uint32_t i = 0; i < ts->nframes; i++) {
		struct pysym_frame f = { "<unknown>", "", 0 };
		json_object *fo = json_object_new_object();

		pysym_resolve(c->e->sym, c->t, ts->frames[i].code, ts->frames[i].lasti, &f);
		json_object_object_add(fo, "name", json_object_new_string(f.name));
		json_object_object_add(fo, "file", json_object_new_string(f.file));
		json_object_object_add(fo, "line", json_object_new_int(f.line));
		json_object_array_add(frames, fo);
	}
	json_object_object_add(o, "frames", frames);
	json_object_array_add(c->threads, o);
	return 0;
}

json_object *engine_stacks_json(struct engine *e, pid_t pid)
{
	struct stack_ctx c = { .e = e };
	json_object *o = NULL;
	int err;

	pthread_mutex_lock(&e->lock);
	c.t = tracker_find(e->tr, pid);
	if (!c.t) {
		pthread_mutex_unlock(&e->lock);
		errno = ENOENT;
		return NULL;
	}
	c.threads = json_object_new_array();
	err = py_walk_threads(c.t, add_thread, &c);
	pthread_mutex_unlock(&e->lock);
	if (err < 0 && !json_object_array_length(c.threads)) {
		json_object_put(c.threads);
		errno = -err;
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "threads", c.threads);
	return o;
}

json_object *engine_health_json(struct engine *e)
{
	json_object *o = json_object_new_object();
	struct cpu_sampler_stats cs;
	struct tracker_stats ts;
	struct agg_stats as;

	pthread_mutex_lock(&e->lock);
	cpu_sampler_get_stats(e->cpu, &cs);
	tracker_get_stats(e->tr, &ts);
	agg_get_stats(e->agg, &as);
	pthread_mutex_unlock(&e->lock);
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "version", json_object_new_string(PYROMETER_VERSION));
	json_object_object_add(o, "uptime_seconds", json_object_new_double((mono_ns() - e->start_mono_ns) / 1e9));
	json_object_object_add(o, "processes", json_object_new_int((int)ts.tracked));
	json_object_object_add(o, "services", json_object_new_int((int)as.services));
	json_object_object_add(o, "samples", json_object_new_uint64(cs.bpf[PM_STAT_SAMPLES]));
	json_object_object_add(o, "lost_stacks", json_object_new_uint64(cs.lost_stacks));
	{
		json_object *srcs = json_object_new_object();

		for (int i = 0; pyrometer_sources[i]; i++)
			json_object_object_add(srcs, pyrometer_sources[i]->name,
					       json_object_new_string(e->src_err[i] ? strerror(-e->src_err[i]) : "running"));
		json_object_object_add(o, "sources", srcs);
	}
	return o;
}

bool engine_knows(struct engine *e, const char *service, pid_t pid)
{
	bool known = false;

	pthread_mutex_lock(&e->lock);
	if (pid)
		known = tracker_find(e->tr, pid) != NULL;
	else
		for (size_t i = 0; i < e->nprocs && !known; i++)
			known = !strcmp(e->procs[i].service, service);
	if (!known && !pid) {
		struct profile *p = agg_profile(e->agg, service, 0, 1, now_s());

		known = p != NULL;
		prof_free(p);
	}
	pthread_mutex_unlock(&e->lock);
	return known;
}

struct profile *engine_profile_window(struct engine *e, const char *service, pid_t pid, unsigned seconds)
{
	struct profile *p;

	pthread_mutex_lock(&e->lock);
	drain(e); /* include what the kernel holds right now */
	p = agg_profile(e->agg, service, pid, seconds, now_s());
	pthread_mutex_unlock(&e->lock);
	return p;
}

struct profile *engine_profile_capture(struct engine *e, const char *service, pid_t pid, unsigned seconds)
{
	struct timespec deadline;
	struct profile *p = NULL;
	int slot = -1;

	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < MAX_TAPS && slot < 0; i++)
		if (!e->taps[i].used)
			slot = i;
	if (slot < 0) {
		pthread_mutex_unlock(&e->lock);
		errno = EBUSY;
		return NULL;
	}
	drain(e); /* samples from before the request belong to no capture */
	e->taps[slot].p = prof_new(PROF_UNIT_SAMPLES, 1000000000ULL / cpu_rate_hz(&e->o.cpu));
	e->taps[slot].pid = pid;
	snprintf(e->taps[slot].service, sizeof(e->taps[slot].service), "%s", service ? service : "");
	e->taps[slot].used = e->taps[slot].p != NULL;
	if (!e->taps[slot].used) {
		pthread_mutex_unlock(&e->lock);
		errno = ENOMEM;
		return NULL;
	}
	prof_set_time(e->taps[slot].p, (uint64_t)time(NULL) * 1000000000ULL, (uint64_t)seconds * 1000000000ULL);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	while (pthread_cond_timedwait(&e->tick, &e->lock, &deadline) != ETIMEDOUT)
		;
	drain(e);
	p = e->taps[slot].p;
	e->taps[slot].p = NULL;
	e->taps[slot].used = false;
	pthread_mutex_unlock(&e->lock);
	return p;
}

/* ---- metrics ------------------------------------------------------------------------------ */

struct metric_ctx {
	struct expo *x;
	double period_s;
	int pass;
	int err;
};

static void metric_service_row(const struct agg_entity_info *i, void *ctx)
{
	struct metric_ctx *m = ctx;
	struct expo_label l = { "service", i->service };

	if (i->pid || m->err)
		return;
	if (m->pass == 0)
		m->err = expo_value(m->x, &l, 1, i->samples_total * m->period_s);
	else if (m->pass == 1)
		m->err = expo_value_u64(m->x, &l, 1, i->samples_total);
	else
		m->err = expo_value_u64(m->x, &l, 1, i->nprocs);
}

static double self_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double self_rss_bytes(void)
{
	char buf[128];
	unsigned long size = 0, rss = 0;

	if (read_file("/proc/self/statm", buf, sizeof(buf)) <= 0 || sscanf(buf, "%lu %lu", &size, &rss) != 2)
		return 0;
	return (double)rss * sysconf(_SC_PAGESIZE);
}

#define EXPO_TRY(call)                 \
	do {                           \
		if ((err = (call)) < 0) \
			goto out;      \
	} while (0)

int engine_metrics(struct engine *e, struct expo *x)
{
	struct metric_ctx m = { .x = x };
	struct expo_label build[] = { { "version", PYROMETER_VERSION } };
	struct expo_label reason[1];
	struct cpu_sampler_stats cs;
	struct tracker_stats ts;
	struct agg_stats as;
	struct pysym_stats ps;
	int err = 0;

	pthread_mutex_lock(&e->lock);
	m.period_s = period_s(e);
	cpu_sampler_get_stats(e->cpu, &cs);
	tracker_get_stats(e->tr, &ts);
	agg_get_stats(e->agg, &as);
	pysym_get_stats(e->sym, &ps);

	EXPO_TRY(expo_family(x, "pyrometer_cpu_seconds_total", EXPO_COUNTER,
			     "On-CPU time of a service's Python processes, estimated from samples."));
	m.pass = 0;
	agg_foreach(e->agg, 0, now_s(), metric_service_row, &m);
	EXPO_TRY(m.err);
	EXPO_TRY(expo_family(x, "pyrometer_cpu_samples_total", EXPO_COUNTER, "CPU samples taken of a service."));
	m.pass = 1;
	agg_foreach(e->agg, 0, now_s(), metric_service_row, &m);
	EXPO_TRY(m.err);
	EXPO_TRY(expo_family(x, "pyrometer_service_processes", EXPO_GAUGE, "Python processes of a service now."));
	m.pass = 2;
	agg_foreach(e->agg, 0, now_s(), metric_service_row, &m);
	EXPO_TRY(m.err);

	EXPO_TRY(expo_family(x, "pyrometer_build_info", EXPO_GAUGE, "The pyrometer build; always 1."));
	EXPO_TRY(expo_value(x, build, 1, 1));
	EXPO_TRY(expo_family(x, "pyrometer_tracked_processes", EXPO_GAUGE, "Python processes being sampled."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, ts.tracked));
	EXPO_TRY(expo_family(x, "pyrometer_services", EXPO_GAUGE, "Services known to the daemon."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, as.services));
	EXPO_TRY(expo_family(x, "pyrometer_discovery_total", EXPO_COUNTER,
			     "Interpreter discovery outcomes for processes that exec'd or were scanned."));
	reason[0] = (struct expo_label){ "result", "tracked" };
	EXPO_TRY(expo_value_u64(x, reason, 1, ts.discovered));
	reason[0].value = "unsupported";
	EXPO_TRY(expo_value_u64(x, reason, 1, ts.unsupported));
	reason[0].value = "excluded";
	EXPO_TRY(expo_value_u64(x, reason, 1, ts.excluded));
	reason[0].value = "failed";
	EXPO_TRY(expo_value_u64(x, reason, 1, ts.failed));
	EXPO_TRY(expo_family(x, "pyrometer_bpf_samples_total", EXPO_COUNTER,
			     "perf_event samples that hit a tracked Python process."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, cs.bpf[PM_STAT_SAMPLES]));
	EXPO_TRY(expo_family(x, "pyrometer_bpf_drops_total", EXPO_COUNTER,
			     "Samples or stacks lost in the kernel path, by reason."));
	reason[0] = (struct expo_label){ "reason", "count_map_full" };
	EXPO_TRY(expo_value_u64(x, reason, 1, cs.bpf[PM_STAT_COUNT_FULL]));
	reason[0].value = "stack_map_full";
	EXPO_TRY(expo_value_u64(x, reason, 1, cs.bpf[PM_STAT_STACK_FULL]));
	reason[0].value = "stack_evicted";
	EXPO_TRY(expo_value_u64(x, reason, 1, cs.lost_stacks));
	reason[0].value = "read_fault";
	EXPO_TRY(expo_value_u64(x, reason, 1, cs.bpf[PM_STAT_READ_FAIL]));
	EXPO_TRY(expo_family(x, "pyrometer_truncated_stacks_total", EXPO_COUNTER,
			     "Python stacks cut at the configured depth."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, cs.bpf[PM_STAT_TRUNCATED]));
	EXPO_TRY(expo_family(x, "pyrometer_symbolization_failures_total", EXPO_COUNTER,
			     "Code objects that could not be read or validated."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, ps.failures));
	EXPO_TRY(expo_family(x, "pyrometer_cap_drops_total", EXPO_COUNTER,
			     "Items refused because a bounded table was full, by table."));
	reason[0] = (struct expo_label){ "table", "processes" };
	EXPO_TRY(expo_value_u64(x, reason, 1, ts.cap_drops + as.dropped_process_cap));
	reason[0].value = "services";
	EXPO_TRY(expo_value_u64(x, reason, 1, as.dropped_service_cap));
	reason[0].value = "stacks";
	EXPO_TRY(expo_value_u64(x, reason, 1, as.dropped_stack_cap));
	EXPO_TRY(expo_family(x, "pyrometer_process_events_dropped_total", EXPO_COUNTER,
			     "Process lifecycle events lost because the ring buffer was full."));
	EXPO_TRY(expo_value_u64(x, NULL, 0, procwatch_drops(e->pw)));
	EXPO_TRY(expo_family(x, "pyrometer_self_cpu_seconds_total", EXPO_COUNTER, "CPU time used by pyrometerd."));
	EXPO_TRY(expo_value(x, NULL, 0, self_cpu_seconds()));
	EXPO_TRY(expo_family(x, "pyrometer_self_resident_memory_bytes", EXPO_GAUGE, "Resident memory of pyrometerd."));
	EXPO_TRY(expo_value(x, NULL, 0, self_rss_bytes()));
	for (int i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->metrics)
			EXPO_TRY(pyrometer_sources[i]->metrics(e->src_state[i], x));
out:
	pthread_mutex_unlock(&e->lock);
	return err;
}

/* ---- findings and services for sources ------------------------------------------------------ */

json_object *engine_findings_json(struct engine *e)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	pthread_mutex_lock(&e->lock);
	for (int i = 0; pyrometer_sources[i]; i++)
		if (!e->src_err[i] && pyrometer_sources[i]->findings)
			pyrometer_sources[i]->findings(e->src_state[i], arr);
	pthread_mutex_unlock(&e->lock);
	json_object_object_add(o, "findings", arr);
	return o;
}

const struct py_target *engine_target(struct engine *e, pid_t pid)
{
	return tracker_find(e->tr, pid);
}

const char *engine_service_of(struct engine *e, pid_t pid)
{
	struct procinfo *pi = procinfo_find(e, pid);

	return pi ? pi->service : NULL;
}

int engine_symbolize(struct engine *e, pid_t pid, uint64_t code, int32_t lasti, const char **name,
		     const char **file, int *line)
{
	const struct py_target *t = tracker_find(e->tr, pid);
	struct pysym_frame f = { "<unknown>", "", 0 };
	int err = t ? pysym_resolve(e->sym, t, code, lasti, &f) : -ESRCH;

	*name = f.name;
	*file = f.file;
	*line = f.line;
	return err;
}

bool engine_source_running(struct engine *e, const char *name)
{
	for (int i = 0; pyrometer_sources[i] && i < MAX_SOURCES; i++)
		if (!strcmp(pyrometer_sources[i]->name, name))
			return !e->src_err[i] && e->src_state[i];
	return false;
}

int engine_share_tracked(struct engine *e, struct bpf_object *obj)
{
	return cpu_sampler_share_tracked(e->cpu, obj);
}

struct profile *engine_cpu_profile_locked(struct engine *e, const char *service, unsigned seconds)
{
	return agg_profile(e->agg, service, 0, seconds, now_s());
}

json_object *engine_source_call(struct engine *e, const char *name, json_object *(*fn)(void *state, void *arg),
				void *arg)
{
	json_object *o = NULL;
	int found = 0;

	pthread_mutex_lock(&e->lock);
	for (int i = 0; pyrometer_sources[i] && i < MAX_SOURCES; i++)
		if (!strcmp(pyrometer_sources[i]->name, name) && !e->src_err[i]) {
			o = fn(e->src_state[i], arg);
			found = 1;
			break;
		}
	pthread_mutex_unlock(&e->lock);
	if (!found)
		errno = ENODEV;
	return o;
}
