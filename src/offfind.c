/* Verdicts and findings of the off-CPU source (include/offfind.h): turns verdicts, their top
 * stacks and event-loop stalls into the finding objects of /api/v1/findings and the verdict fields
 * of /api/v1/services. Tables are small arrays searched linearly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offcpu.h"
#include "offfind.h"
#include "service.h"

struct vrow {
	char service[SVC_NAME_MAX];
	pid_t pid;
	struct offfind_verdict v;
};

struct stall_row {
	bool used;
	char service[SVC_NAME_MAX];
	char code[384], function[256], call[128], syscall[32], source[256];
	char stack[2048];
	bool cpu;
	pid_t pid, tid;
	uint64_t count, total_ns, max_ns, last_ns, last_dur_ns, last_block_ns, threshold_ns, first_ns;
	uint32_t cpu_samples;
};

struct offfind {
	unsigned window_s;
	struct vrow *rows;
	size_t nrows, cap;
	struct stall_row stalls[OFFFIND_MAX_STALLS];
};

struct offfind *offfind_new(unsigned window_s)
{
	struct offfind *f = calloc(1, sizeof(*f));

	if (f)
		f->window_s = window_s ? window_s : 60;
	return f;
}

void offfind_free(struct offfind *f)
{
	if (!f)
		return;
	free(f->rows);
	free(f);
}

/* ---- evidence -------------------------------------------------------------------------------- */

int offfind_app_frame(const struct offfind_frame *frames, uint32_t n)
{
	if (!n)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (offcpu_is_library_file(frames[i].file))
			continue;
		/* a script's module body under library frames says nothing: name the library frame */
		return i && !strcmp(frames[i].name, "<module>") ? 0 : (int)i;
	}
	return 0;
}

static void label(char *buf, size_t len, const char *name, const char *file, int line)
{
	if (file && *file)
		snprintf(buf, len, "%s (%s:%d)", name, file, line);
	else
		snprintf(buf, len, "%s", name);
}

/* Appends s to the folded stack text, ending it in "..." when it no longer fits. */
static void stack_append(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf), m = strlen(s);

	if (n + m + 2 >= len) {
		if (n + 4 < len && (n < 3 || strcmp(buf + n - 3, "...")))
			strcat(buf, n ? ";..." : "...");
		return;
	}
	if (n)
		buf[n++] = ';';
	memcpy(buf + n, s, m + 1);
}

void offfind_evidence(const struct profile *p, const struct prof_stack *s, double unit_seconds,
		      struct offfind_evidence *ev)
{
	struct offfind_frame fr[PM_MAX_DEPTH];
	uint32_t n = 0;
	int app;

	memset(ev, 0, sizeof(*ev));
	if (!s)
		return;
	ev->seconds = s->value * unit_seconds;
	/* collect Python frames innermost first; pick up the kernel leaf */
	for (int i = (int)s->nframes - 1; i >= 0; i--) {
		const struct prof_frame *f = prof_frame_at(p, s->frames[i]);

		if (f->kind == PROF_FRAME_KERNEL && !ev->syscall[0] && n == 0)
			snprintf(ev->syscall, sizeof(ev->syscall), "%s", f->name);
		if (f->kind != PROF_FRAME_PYTHON || n == PM_MAX_DEPTH)
			continue;
		fr[n++] = (struct offfind_frame){ f->name, f->file, f->line };
	}
	for (uint32_t i = 0; i < s->nframes; i++) {
		const struct prof_frame *f = prof_frame_at(p, s->frames[i]);
		char l[512];

		if (f->kind != PROF_FRAME_PYTHON)
			continue;
		prof_frame_label(f, l, sizeof(l));
		stack_append(ev->stack, sizeof(ev->stack), l);
	}
	app = offfind_app_frame(fr, n);
	if (app < 0)
		return;
	label(ev->code, sizeof(ev->code), fr[app].name, fr[app].file, fr[app].line);
	snprintf(ev->function, sizeof(ev->function), "%s", fr[app].name);
	label(ev->leaf, sizeof(ev->leaf), fr[0].name, fr[0].file, fr[0].line);
}

/* ---- verdicts -------------------------------------------------------------------------------- */

static struct vrow *vrow_find(struct offfind *f, const char *service)
{
	for (size_t i = 0; i < f->nrows; i++)
		if (!strcmp(f->rows[i].service, service))
			return &f->rows[i];
	return NULL;
}

int offfind_set_verdict(struct offfind *f, const char *service, pid_t pid, const struct offfind_verdict *v)
{
	struct vrow *r = vrow_find(f, service);

	if (!r) {
		if (f->nrows == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 16;
			struct vrow *n = realloc(f->rows, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			f->rows = n;
			f->cap = cap;
		}
		r = &f->rows[f->nrows++];
		snprintf(r->service, sizeof(r->service), "%s", service);
	}
	r->pid = pid;
	r->v = *v;
	return 0;
}

const struct offfind_verdict *offfind_get_verdict(struct offfind *f, const char *service)
{
	struct vrow *r = vrow_find(f, service);

	return r ? &r->v : NULL;
}

static json_object *evidence_json(const struct offfind_evidence *ev)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "code", json_object_new_string(ev->code));
	json_object_object_add(o, "function", json_object_new_string(ev->function));
	json_object_object_add(o, "leaf", json_object_new_string(ev->leaf));
	if (ev->syscall[0])
		json_object_object_add(o, "syscall", json_object_new_string(ev->syscall));
	json_object_object_add(o, "seconds", json_object_new_double(ev->seconds));
	json_object_object_add(o, "stack", json_object_new_string(ev->stack));
	return o;
}

static json_object *verdict_json(const struct offfind_verdict *fv)
{
	json_object *o = json_object_new_object(), *sh = json_object_new_object();
	const struct verdict *v = &fv->v;

	for (int c = 0; c < VC_N; c++)
		json_object_object_add(sh, verdict_cat_name(c), json_object_new_double(v->share[c]));
	json_object_object_add(o, "verdict", json_object_new_string(verdict_kind_name(v->kind)));
	json_object_object_add(o, "window_seconds", json_object_new_int(fv->window_s));
	json_object_object_add(o, "busy_threads", json_object_new_double(v->busy_threads));
	json_object_object_add(o, "shares", sh);
	sh = json_object_new_object();
	for (int c = 0; c < VC_NBUSY; c++)
		json_object_object_add(sh, verdict_cat_name(c), json_object_new_double(v->busy_share[c]));
	json_object_object_add(o, "busy_shares", sh);
	json_object_object_add(o, "gil_seconds", json_object_new_double(fv->gil_ns / 1e9));
	if (v->dominant < VC_N)
		json_object_object_add(o, "dominant", json_object_new_string(verdict_cat_name(v->dominant)));
	if (fv->has_top[0])
		json_object_object_add(o, "top", evidence_json(&fv->top[0]));
	if (v->second < VC_N && fv->has_top[1]) {
		json_object_object_add(o, "second", json_object_new_string(verdict_cat_name(v->second)));
		json_object_object_add(o, "second_top", evidence_json(&fv->top[1]));
	}
	return o;
}

void offfind_service_json(struct offfind *f, const char *service, json_object *row)
{
	struct vrow *r = vrow_find(f, service);

	if (!r)
		return;
	json_object_object_add(row, "verdict", json_object_new_string(verdict_kind_name(r->v.v.kind)));
	json_object_object_add(row, "verdict_detail", verdict_json(&r->v));
}

/* ---- findings -------------------------------------------------------------------------------- */

static json_object *finding(const char *kind, const char *service, pid_t pid, const char *title, const char *code,
			    json_object *evidence, const char *fix)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "service", json_object_new_string(service));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "evidence", evidence);
	json_object_object_add(o, "fix", json_object_new_string(fix));
	return o;
}

static const char *where(const struct offfind_evidence *ev)
{
	return ev->function[0] ? ev->function : "an unknown function";
}

static void verdict_finding(const struct vrow *r, json_object *arr)
{
	const struct offfind_verdict *fv = &r->v;
	const struct offfind_evidence *ev = &fv->top[0];
	const struct verdict *v = &fv->v;
	const char *kind = verdict_kind_name(v->kind), *fix;
	char title[640];

	switch (v->kind) {
	case VK_CPU_BOUND:
		snprintf(title, sizeof(title), "tight CPU loop in %s for %.1f s", where(ev), ev->seconds);
		fix = "Make the loop cheaper (cache results, a better algorithm or data structure, vectorize with "
		      "NumPy) or, when it has to run, move it to a process pool (concurrent.futures."
		      "ProcessPoolExecutor) so it does not hold the GIL and the service's other work.";
		break;
	case VK_IO_DISK:
		snprintf(title, sizeof(title), "service is I/O-bound on disk: %s in %s", ev->syscall[0] ? ev->syscall : "I/O",
			 where(ev));
		fix = strstr(ev->syscall, "sync")
			      ? "Sync less often: batch writes and fsync once per batch (group commit), use "
				"fdatasync, or move durable writes to a background thread "
				"(asyncio.to_thread / a queue) so requests do not wait for the disk."
			      : "Batch and buffer file I/O, cache what is read repeatedly, or move blocking file "
				"I/O to a thread pool (asyncio.to_thread / loop.run_in_executor).";
		break;
	case VK_IO_NET:
		snprintf(title, sizeof(title), "service is I/O-bound on network: %s in %s",
			 ev->syscall[0] ? ev->syscall : "socket wait", where(ev));
		fix = "Overlap the waits: issue requests concurrently (asyncio with an async client such as aiohttp "
		      "or httpx.AsyncClient, or a thread pool), reuse connections (keep-alive, pooling), cache "
		      "responses, and set timeouts on every remote call.";
		break;
	case VK_LOCK_BOUND:
		if (fv->gil_ns * 2 > fv->ns[VC_LOCK]) {
			snprintf(title, sizeof(title), "service is lock-bound: threads wait for the GIL in %s", where(ev));
			fix = "Threads running Python code serialize on the GIL: use processes for CPU work "
			      "(multiprocessing, ProcessPoolExecutor), or release the GIL in native code.";
		} else {
			snprintf(title, sizeof(title), "service is lock-bound: threads wait for a lock in %s", where(ev));
			fix = "Hold the lock for less time (move slow work out of the critical section), split it "
			      "per resource (lock sharding), or hand work to one owner through a queue.";
		}
		break;
	case VK_CPU_STARVED:
		snprintf(title, sizeof(title), "service is CPU-starved: runnable without a CPU %.0f %% of its busy time",
			 100 * v->busy_share[VC_RUNQ]);
		fix = "The service is ready to run but gets no CPU: check its CPU quota (cgroup cpu.max, container "
		      "limits), CPU pinning (taskset, cpusets) and noisy neighbours; run fewer workers per core or "
		      "scale out.";
		break;
	default:
		return;
	}
	json_object_array_add(arr, finding(kind, r->service, r->pid, title, ev->code, verdict_json(fv), fix));
}

/* ---- event-loop stalls ----------------------------------------------------------------------- */

static const char *stall_cause(bool cpu)
{
	return cpu ? "cpu" : "blocking call";
}

/* The blocking call's Python-level name: the callee on the application's line of source
 * ("time.sleep", "requests.get"), else the library function the application called, else what
 * usually blocks in that syscall. */
static void call_name(const struct offfind_stall *s, int app, char *out, size_t len)
{
	const char *py = s->block_syscall != PM_OFF_NO_SYSCALL ? offcpu_syscall_pycall(s->block_syscall) : NULL;

	out[0] = 0;
	if (s->cpu)
		return;
	if (app >= 0 && s->source_line && offcpu_src_callee(s->source_line, out, len))
		return;
	if (app > 0) {
		snprintf(out, len, "%s", s->frames[app - 1].name);
		return;
	}
	snprintf(out, len, "%s", py ? py : "a blocking call");
}

static struct stall_row *stall_slot(struct offfind *f, const struct offfind_stall *s, const char *code,
				    const char *call)
{
	struct stall_row *oldest = &f->stalls[0];

	for (int i = 0; i < OFFFIND_MAX_STALLS; i++) {
		struct stall_row *r = &f->stalls[i];

		if (r->used && r->cpu == s->cpu && !strcmp(r->service, s->service) && !strcmp(r->code, code) &&
		    !strcmp(r->call, call))
			return r;
	}
	for (int i = 0; i < OFFFIND_MAX_STALLS; i++) {
		if (!f->stalls[i].used)
			return &f->stalls[i];
		if (f->stalls[i].last_ns < oldest->last_ns)
			oldest = &f->stalls[i];
	}
	return oldest; /* at the cap the stalest finding makes room */
}

void offfind_add_stall(struct offfind *f, const struct offfind_stall *s)
{
	int app = offfind_app_frame(s->frames, s->nframes);
	char code[384] = "", call[128], stack[2048] = "";
	struct stall_row *r;

	if (app >= 0)
		label(code, sizeof(code), s->frames[app].name, s->frames[app].file, s->frames[app].line);
	call_name(s, app, call, sizeof(call));
	r = stall_slot(f, s, code, call);
	if (!r->used || strcmp(r->code, code) || strcmp(r->call, call) || strcmp(r->service, s->service)) {
		memset(r, 0, sizeof(*r));
		r->used = true;
		r->first_ns = s->now_ns;
		snprintf(r->service, sizeof(r->service), "%s", s->service);
		snprintf(r->code, sizeof(r->code), "%s", code);
		snprintf(r->call, sizeof(r->call), "%s", call);
		snprintf(r->function, sizeof(r->function), "%s", app >= 0 ? s->frames[app].name : "");
		r->cpu = s->cpu;
	}
	for (int i = (int)s->nframes - 1; i >= 0; i--) {
		char l[512];

		label(l, sizeof(l), s->frames[i].name, s->frames[i].file, s->frames[i].line);
		stack_append(stack, sizeof(stack), l);
	}
	snprintf(r->stack, sizeof(r->stack), "%s", stack);
	snprintf(r->source, sizeof(r->source), "%s", s->source_line ? s->source_line : "");
	snprintf(r->syscall, sizeof(r->syscall), "%s",
		 !s->cpu && s->block_syscall != PM_OFF_NO_SYSCALL && offcpu_syscall_name(s->block_syscall)
			 ? offcpu_syscall_name(s->block_syscall) : "");
	r->pid = s->pid;
	r->tid = s->tid;
	r->count++;
	r->total_ns += s->dur_ns;
	if (s->dur_ns > r->max_ns)
		r->max_ns = s->dur_ns;
	r->last_ns = s->now_ns;
	r->last_dur_ns = s->dur_ns;
	r->last_block_ns = s->block_ns;
	r->threshold_ns = s->threshold_ns;
	r->cpu_samples = s->cpu_samples;
}

static void stall_finding(const struct stall_row *r, json_object *arr)
{
	json_object *ev = json_object_new_object();
	const char *fn = r->function[0] ? r->function : r->service;
	char title[640];
	const char *fix;

	if (r->cpu) {
		snprintf(title, sizeof(title), "blocked event loop in %s (CPU-bound for %.0f ms)", fn, r->max_ns / 1e6);
		fix = "Move the CPU work off the event loop: await loop.run_in_executor(ProcessPoolExecutor(), ...) "
		      "or a worker process; or split it into chunks with await asyncio.sleep(0) between them.";
	} else {
		snprintf(title, sizeof(title), "blocked event loop in %s (sync call %s)", fn, r->call);
		fix = strstr(r->call, "sleep")
			      ? "Never sleep on the event loop: replace time.sleep(...) with await asyncio.sleep(...)."
			      : "Run the blocking call off the event loop (await asyncio.to_thread(...) or "
				"loop.run_in_executor(None, ...)) or use its async equivalent (aiohttp/httpx.AsyncClient, "
				"asyncpg, aiofiles).";
	}
	json_object_object_add(ev, "cause", json_object_new_string(stall_cause(r->cpu)));
	if (!r->cpu)
		json_object_object_add(ev, "call", json_object_new_string(r->call));
	if (r->syscall[0])
		json_object_object_add(ev, "syscall", json_object_new_string(r->syscall));
	if (r->source[0])
		json_object_object_add(ev, "source", json_object_new_string(r->source));
	json_object_object_add(ev, "stalls", json_object_new_uint64(r->count));
	json_object_object_add(ev, "max_ms", json_object_new_double(r->max_ns / 1e6));
	json_object_object_add(ev, "total_ms", json_object_new_double(r->total_ns / 1e6));
	json_object_object_add(ev, "last_ms", json_object_new_double(r->last_dur_ns / 1e6));
	json_object_object_add(ev, "last_blocked_ms", json_object_new_double(r->last_block_ns / 1e6));
	if (r->cpu)
		json_object_object_add(ev, "cpu_samples", json_object_new_int((int)r->cpu_samples));
	json_object_object_add(ev, "threshold_ms", json_object_new_double(r->threshold_ns / 1e6));
	json_object_object_add(ev, "tid", json_object_new_int(r->tid));
	json_object_object_add(ev, "stack", json_object_new_string(r->stack));
	json_object_array_add(arr, finding("blocked-event-loop", r->service, r->pid, title, r->code, ev, fix));
}

void offfind_findings_json(struct offfind *f, uint64_t now_ns, json_object *arr)
{
	uint64_t keep_ns = (uint64_t)f->window_s * 1000000000ULL;

	for (size_t i = 0; i < f->nrows; i++)
		verdict_finding(&f->rows[i], arr);
	for (int i = 0; i < OFFFIND_MAX_STALLS; i++) {
		struct stall_row *r = &f->stalls[i];

		if (r->used && now_ns - r->last_ns > keep_ns)
			r->used = false; /* not seen for a window: resolved */
		if (r->used)
			stall_finding(r, arr);
	}
}
