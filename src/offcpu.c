/* The off-CPU data source of the daemon (include/offcpu.h): loads bpf/offcpu.bpf.c (sharing the CPU
 * sampler's py_procs), drains its off-CPU counts, histograms and scheduler counters once a second
 * into the rolling per-service aggregates (src/offagg.c), turns event-loop stall records into
 * findings (src/offfind.c) and recomputes every service's verdict. The only module that touches the
 * offcpu skeleton. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpflog.h"
#include "elfsym.h"
#include "loopsamp.h"
#include "offagg.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "offfind.h"
#include "service.h"
#include "source.h"
#include "tracefs.h"

#define DRAIN_BATCH 256
#define DRAIN_NS 1000000000ULL
#define VERDICT_NS 2000000000ULL /* verdicts over a window of 10 s slots: decided afresh this often */
#define LOOP_SAMPLE_HZ 99   /* per loop thread, while it runs */
#define LOOP_THREADS_MAX 1024
#define SWEEP_NS 10000000000ULL /* exited loop threads' events are closed this often */
#define SRC_MAX_BYTES (4 << 20)
#define LOOP_TPS 3      /* the per-syscall variant of the event-loop hook: one per epoll call */
#define LOOP_TPS_NEEDED 2 /* epoll_pwait2 (Linux 5.11) may be missing; the others must be there */
#define SCHED_LINKS 3

static const char *const loop_tp_names[LOOP_TPS] = { "sys_enter_epoll_wait", "sys_enter_epoll_pwait",
						     "sys_enter_epoll_pwait2" };

struct pidrow {
	pid_t pid;
	__u32 slot;               /* its pm_proc_cfg.slot: where the kernel counts it in off_slots */
	struct pm_off_slot last;  /* that slot at the last drain (or at tracking: the slot is reused) */
	char service[SVC_NAME_MAX];
};

struct offcpu {
	struct engine *e;
	struct offcpu_bpf *skel;
	struct bpf_link *links[SCHED_LINKS + LOOP_TPS]; /* the sched programs, then the loop hook(s) */
	int loop_tp_ids[LOOP_TPS]; /* tracepoint ids the per-syscall variant attaches to (0: none) */
	bool loop_raw;             /* the raw sys_enter variant instead */
	bool loop_hooked;          /* attached: a tracked process runs an event loop */
	bool loop_hook_failed;     /* attaching failed (logged): loops are found but not timed */
	size_t epoll_cursor;       /* the next process the sweep checks for an epoll instance */
	char loop_why[192];        /* why that variant, for the start-up log line */
	struct loopsamp *loops;    /* the loop sampler's events, one per loop thread */
	struct ring_buffer *rb;
	struct offagg *agg;
	struct offfind *find;
	struct profile *scratch;
	struct pm_py_stack *stack_buf;
	size_t stack_value_size;
	uint64_t stall_ns, cpu_period_ns, last_drain_ns, last_sweep_ns, last_verdict_ns;
	unsigned slot_s, window_s;
	struct pidrow *pids;
	size_t npids, pids_cap;
	uint64_t lost_stacks, unattributed_ns, stalls, stalls_unattributed;
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

/* ---- loading ------------------------------------------------------------------------------ */

/* ---- the event-loop hook: per-syscall tracepoints, else raw sys_enter ------------------------ */

static void loop_tp_progs(struct offcpu *s, struct bpf_program *progs[LOOP_TPS])
{
	progs[0] = s->skel->progs.on_epoll_wait;
	progs[1] = s->skel->progs.on_epoll_pwait;
	progs[2] = s->skel->progs.on_epoll_pwait2;
}

/* Decides, before load, which variant hooks event-loop polls: the syscalls/sys_enter_epoll_*
 * tracepoints when tracefs lists them (mounting tracefs if needed), else the raw sys_enter
 * program, which costs every syscall on the host. Fills loop_tp_ids or loop_raw, and loop_why. */
static void choose_loop_hook(struct offcpu *s)
{
	struct tracefs t;
	int err = tracefs_open(&t);

	s->loop_raw = true;
	if (err) {
		if (t.mount_err)
			snprintf(s->loop_why, sizeof(s->loop_why),
				 "tracefs is not mounted and mounting it at %s failed: %s", TRACEFS_MOUNTPOINT,
				 strerror(-t.mount_err));
		else
			snprintf(s->loop_why, sizeof(s->loop_why), "tracefs lists no events at %s or %s",
				 TRACEFS_MOUNTPOINT, TRACEFS_UNDER_DEBUGFS);
		return;
	}
	for (int i = 0; i < LOOP_TPS; i++) {
		int id = tracefs_event_id(t.root, "syscalls", loop_tp_names[i]);

		if (id < 0 && i < LOOP_TPS_NEEDED) {
			snprintf(s->loop_why, sizeof(s->loop_why), "tracefs at %s has no syscalls/%s: %s", t.root,
				 loop_tp_names[i], strerror(-id));
			memset(s->loop_tp_ids, 0, sizeof(s->loop_tp_ids));
			return;
		}
		s->loop_tp_ids[i] = id > 0 ? id : 0;
	}
	s->loop_raw = false;
	snprintf(s->loop_why, sizeof(s->loop_why), "tracefs at %s%s", t.root,
		 t.mounted ? ", mounted by pyrometerd" : "");
}

/* Exactly one variant is loaded; with loop_stall_ms = 0 neither is. */
static void set_loop_autoload(struct offcpu *s)
{
	struct bpf_program *tps[LOOP_TPS];

	if (s->stall_ns)
		choose_loop_hook(s);
	loop_tp_progs(s, tps);
	for (int i = 0; i < LOOP_TPS; i++)
		bpf_program__set_autoload(tps[i], s->stall_ns && !s->loop_raw && s->loop_tp_ids[i]);
	bpf_program__set_autoload(s->skel->progs.on_sys_enter, s->stall_ns && s->loop_raw);
	bpf_program__set_autoload(s->skel->progs.on_loop_sample, s->stall_ns);
}

static int attach_loop_links(struct offcpu *s)
{
	struct bpf_link **links = s->links + SCHED_LINKS;
	struct bpf_program *tps[LOOP_TPS];

	if (s->loop_raw) {
		links[0] = bpf_program__attach(s->skel->progs.on_sys_enter);
		return links[0] ? 0 : -errno;
	}
	loop_tp_progs(s, tps);
	for (int i = 0; i < LOOP_TPS; i++) {
		int fd, err;

		if (!s->loop_tp_ids[i])
			continue;
		fd = tracefs_perf_open(s->loop_tp_ids[i]);
		if (fd < 0)
			return fd;
		links[i] = bpf_program__attach_perf_event(tps[i], fd); /* the link owns fd from here */
		if (!links[i]) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	return 0;
}

/* Attaches by the ids read from tracefs rather than by name, so libbpf's own choice of tracefs
 * path (made once per process) cannot disagree with where tracefs_open found it. On failure what
 * was attached is detached again. */
static int attach_loop_hook(struct offcpu *s)
{
	int err = attach_loop_links(s);

	if (err)
		for (int i = 0; i < LOOP_TPS; i++) {
			bpf_link__destroy(s->links[SCHED_LINKS + i]);
			s->links[SCHED_LINKS + i] = NULL;
		}
	return err;
}

/* The hook's names, for the log: "syscalls/{sys_enter_epoll_wait, ...} tracepoints (tracefs at
 * ...)" or "raw sys_enter tracepoint". */
static void loop_hook_name(const struct offcpu *s, char *out, size_t len)
{
	char names[128] = "";
	size_t n = 0;

	if (s->loop_raw) {
		snprintf(out, len, "raw sys_enter tracepoint, which runs for every syscall on the host, because %s",
			 s->loop_why);
		return;
	}
	for (int i = 0; i < LOOP_TPS; i++)
		if (s->loop_tp_ids[i] && n < sizeof(names))
			n += snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", loop_tp_names[i]);
	snprintf(out, len, "syscalls/{%s} tracepoints (%s); other syscalls pay only the kernel's bitmap test",
		 names, s->loop_why);
}

static void log_loop_hook(const struct offcpu *s)
{
	char name[400];

	if (!s->stall_ns) {
		fprintf(stderr, "pyrometerd: event-loop stall detection is off (loop_stall_ms = 0): no syscall hook\n");
		return;
	}
	loop_hook_name(s, name, sizeof(name));
	fprintf(stderr, "pyrometerd: event loops: no syscall hook until a tracked process runs one (holds an epoll "
		"instance or waits in epoll_wait); then the %s\n", name);
}

/* The first event loop seen (a tracked process with an epoll instance, or a tracked thread blocking
 * in epoll_wait, by the scheduler hook): the epoll hooks go on for good, so a host without event
 * loops never pays the per-syscall path. `who` says which, for the log. */
static void hook_loops(struct offcpu *s, const char *who)
{
	char name[400];
	int err;

	if (!s->loops || s->loop_hooked || s->loop_hook_failed)
		return;
	err = attach_loop_hook(s);
	loop_hook_name(s, name, sizeof(name));
	if (err) {
		s->loop_hook_failed = true;
		fprintf(stderr, "pyrometerd: event loops: attaching the %s failed (%s): loops are not timed\n", name,
			strerror(-err));
		return;
	}
	s->loop_hooked = true;
	fprintf(stderr, "pyrometerd: event loops: hooked on the %s (%s)\n", name, who);
}

/* Whether pid holds an epoll instance (an fd on anon_inode:[eventpoll]) among its first
 * EPOLL_SCAN_FDS fds: an event loop, even one too busy ever to block in epoll_wait. A loop's epoll
 * fd is made early, so a server with thousands of sockets is not read through every 10 s. */
#define EPOLL_SCAN_FDS    1024
#define EPOLL_SWEEP_PROCS 64

static bool has_epoll(pid_t pid)
{
	char dir[64], link[32];
	struct dirent *de;
	bool found = false;
	unsigned seen = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && seen < EPOLL_SCAN_FDS && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		seen++;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, "anon_inode:[eventpoll]") == 0;
	}
	closedir(d);
	return found;
}

static void hook_if_loop(struct offcpu *s, pid_t pid)
{
	char who[64];

	if (!s->loops || s->loop_hooked || s->loop_hook_failed || !has_epoll(pid))
		return;
	snprintf(who, sizeof(who), "process %d has an epoll instance", (int)pid);
	hook_loops(s, who);
}

static int attach(struct offcpu *s)
{
	struct bpf_program *progs[SCHED_LINKS] = { s->skel->progs.on_switch, s->skel->progs.on_wakeup,
						   s->skel->progs.on_wakeup_new };

	for (size_t i = 0; i < SCHED_LINKS; i++) {
		s->links[i] = bpf_program__attach(progs[i]);
		if (!s->links[i])
			return -errno;
	}
	if (!s->stall_ns)
		return 0;
	/* the epoll hooks and the loop sampler's events come as loops announce themselves */
	s->loops = loopsamp_new(s->skel->progs.on_loop_sample, LOOP_SAMPLE_HZ, LOOP_THREADS_MAX);
	return s->loops ? 0 : -ENOMEM;
}

static int on_stall_record(void *ctx, void *data, size_t len);

static int load(struct offcpu *s, struct engine *e, const struct engine_opts *o)
{
	unsigned depth = o->cpu.max_depth ? o->cpu.max_depth : PM_DEFAULT_DEPTH;
	int err;

	if (depth > PM_MAX_DEPTH)
		return -EINVAL;
	s->stack_value_size = offsetof(struct pm_py_stack, frames) + depth * sizeof(struct pm_py_frame);
	s->stack_buf = calloc(1, sizeof(*s->stack_buf));
	if (!s->stack_buf)
		return -ENOMEM;
	bpflog_init();
	s->skel = offcpu_bpf__open();
	if (!s->skel)
		return -errno;
	s->skel->rodata->max_depth = depth;
	s->skel->rodata->stall_ns = s->stall_ns ? s->stall_ns : ~0ULL;
	set_loop_autoload(s);
	bpf_map__set_value_size(s->skel->maps.py_stacks, s->stack_value_size);
	if (o->cpu.max_stacks)
		bpf_map__set_max_entries(s->skel->maps.py_stacks, o->cpu.max_stacks);
	err = engine_share_tracked(e, s->skel->obj);
	if (err)
		return err;
	err = offcpu_bpf__load(s->skel);
	if (err)
		return err;
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.stall_events), on_stall_record, s, NULL);
	if (!s->rb)
		return -errno;
	return attach(s);
}

static void offcpu_stop(void *state)
{
	struct offcpu *s = state;

	if (!s)
		return;
	loopsamp_free(s->loops);
	for (size_t i = 0; i < sizeof(s->links) / sizeof(s->links[0]); i++)
		bpf_link__destroy(s->links[i]);
	ring_buffer__free(s->rb);
	offcpu_bpf__destroy(s->skel);
	offagg_free(s->agg);
	offfind_free(s->find);
	prof_free(s->scratch);
	free(s->stack_buf);
	free(s->pids);
	free(s);
}

static int offcpu_start(struct engine *e, const struct engine_opts *o, void **state)
{
	struct offcpu *s = calloc(1, sizeof(*s));
	struct offagg_opts ao;
	int err;

	if (!s)
		return -ENOMEM;
	s->e = e;
	s->slot_s = o->slot_seconds ? o->slot_seconds : 10;
	s->window_s = o->window_seconds ? o->window_seconds : 60;
	s->stall_ns = (uint64_t)o->loop_stall_ms * 1000000ULL;
	s->cpu_period_ns = 1000000000ULL / cpu_rate_hz(&o->cpu);
	ao = (struct offagg_opts){ .slot_seconds = s->slot_s, .window_seconds = s->window_s,
				   .max_services = o->max_services, .max_stacks = 4096 };
	s->agg = offagg_new(&ao);
	s->find = offfind_new(s->window_s);
	s->scratch = prof_new(PROF_UNIT_NANOSECONDS, 0);
	if (!s->agg || !s->find || !s->scratch) {
		err = -ENOMEM;
		goto fail;
	}
	err = load(s, e, o);
	if (err)
		goto fail;
	log_loop_hook(s);
	s->last_drain_ns = mono_ns();
	*state = s;
	return 0;
fail:
	offcpu_stop(s);
	return err < 0 ? err : -EINVAL;
}

/* ---- processes ---------------------------------------------------------------------------- */

static struct pidrow *pid_find(struct offcpu *s, pid_t pid)
{
	for (size_t i = 0; i < s->npids; i++)
		if (s->pids[i].pid == pid)
			return &s->pids[i];
	return NULL;
}

static pid_t pid_of_service(struct offcpu *s, const char *service)
{
	for (size_t i = 0; i < s->npids; i++)
		if (!strcmp(s->pids[i].service, service))
			return s->pids[i].pid;
	return 0;
}

/* Futexes inside _PyRuntime (the GIL's mutex and condition live there, 3.8-3.13) are GIL waits. */
static void set_gil_range(struct offcpu *s, const struct py_target *t)
{
	struct pm_off_range r = { 0 };
	struct elfsym *es = NULL;
	uint64_t value, size;
	char path[PATH_MAX + 32];
	__u32 key = t->pid;

	snprintf(path, sizeof(path), "/proc/%d/root%s", t->pid, t->elf_path);
	if (elfsym_open(path, &es))
		return;
	if (!elfsym_lookup(es, "_PyRuntime", &value, &size) && size) {
		r.lo = t->runtime_addr;
		r.hi = t->runtime_addr + size;
		bpf_map__update_elem(s->skel->maps.gil_ranges, &key, sizeof(key), &r, sizeof(r), BPF_ANY);
	}
	elfsym_close(es);
}

static void read_slot(struct offcpu *s, __u32 slot, struct pm_off_slot *out)
{
	if (bpf_map__lookup_elem(s->skel->maps.off_slots, &slot, sizeof(slot), out, sizeof(*out), 0))
		memset(out, 0, sizeof(*out));
}

static void offcpu_track(void *state, const struct py_target *t, const char *service)
{
	struct offcpu *s = state;
	struct pidrow *r = pid_find(s, t->pid);
	struct pm_proc_cfg cfg;
	__u32 key = t->pid;

	if (!r) {
		if (bpf_map__lookup_elem(s->skel->maps.py_procs, &key, sizeof(key), &cfg, sizeof(cfg), 0))
			return; /* untracked already */
		if (s->npids == s->pids_cap) {
			size_t cap = s->pids_cap ? s->pids_cap * 2 : 64;
			struct pidrow *n = realloc(s->pids, cap * sizeof(*n));

			if (!n)
				return;
			s->pids = n;
			s->pids_cap = cap;
		}
		r = &s->pids[s->npids++];
		r->pid = t->pid;
		r->slot = cfg.slot;
		/* what the slot's previous process left is not this one's: from now */
		read_slot(s, r->slot, &r->last);
		set_gil_range(s, t);
	}
	snprintf(r->service, sizeof(r->service), "%s", service);
	offagg_touch(s->agg, service, now_s());
	hook_if_loop(s, t->pid);
}

static void drain(struct offcpu *s);

static void offcpu_untrack(void *state, pid_t pid)
{
	struct offcpu *s = state;
	struct pidrow *r = pid_find(s, pid);
	__u32 key = pid;

	drain(s); /* what the kernel holds is symbolized while the process is known */
	bpf_map__delete_elem(s->skel->maps.gil_ranges, &key, sizeof(key), 0);
	if (s->loops)
		loopsamp_drop_pid(s->loops, pid);
	if (r)
		*r = s->pids[--s->npids];
}

/* ---- stacks ------------------------------------------------------------------------------- */

static int marker(struct offcpu *s, const char *name)
{
	return prof_frame_id(s->scratch, name, "", 0, PROF_FRAME_MARKER);
}

/* Python stack `hash` of pid as scratch frame ids, root first; fr (if given) gets the same frames
 * innermost first. Returns the number of ids. */
static uint32_t stack_ids(struct offcpu *s, pid_t pid, uint64_t hash, uint32_t flags, uint32_t *ids,
			  struct offfind_frame *fr, uint32_t *nfr)
{
	uint32_t k = 0, n;
	int id;

	if (nfr)
		*nfr = 0;
	if (!hash)
		return 0;
	memset(s->stack_buf, 0, s->stack_value_size);
	if (bpf_map__lookup_elem(s->skel->maps.py_stacks, &hash, sizeof(hash), s->stack_buf, s->stack_value_size, 0)) {
		s->lost_stacks++;
		id = marker(s, "[lost stack]");
		if (id >= 0)
			ids[k++] = (uint32_t)id;
		return k;
	}
	n = s->stack_buf->nframes < PM_MAX_DEPTH ? s->stack_buf->nframes : PM_MAX_DEPTH;
	if ((flags & PM_STACK_TRUNCATED) && (id = marker(s, "[truncated]")) >= 0)
		ids[k++] = (uint32_t)id;
	for (int i = (int)n - 1; i >= 0; i--) {
		const struct pm_py_frame *pf = &s->stack_buf->frames[i];
		const char *name, *file;
		int line;

		engine_symbolize(s->e, pid, pf->code, pf->lasti, &name, &file, &line);
		id = prof_frame_id(s->scratch, name, file, line, PROF_FRAME_PYTHON);
		if (id < 0)
			break;
		ids[k++] = (uint32_t)id;
	}
	/* innermost first, with strings owned by the scratch profile */
	for (uint32_t i = 0; fr && i < k; i++) {
		const struct prof_frame *f = prof_frame_at(s->scratch, ids[k - 1 - i]);

		if (f->kind != PROF_FRAME_PYTHON)
			break;
		fr[(*nfr)++] = (struct offfind_frame){ f->name, f->file, f->line };
	}
	return k;
}

/* ---- draining ----------------------------------------------------------------------------- */

typedef void (*drain_fn)(struct offcpu *s, const void *key, const void *val);

/* Moves every entry of a hash map out of the kernel. Returns 0 or -errno. */
static int drain_map(struct offcpu *s, struct bpf_map *map, drain_fn fn)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	char *keys = malloc(ksz * DRAIN_BATCH), *vals = malloc(vsz * DRAIN_BATCH);
	int fd = bpf_map__fd(map), err = 0;
	__u64 in = 0, out = 0;
	bool first = true;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 n = DRAIN_BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &o);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < n; i++)
			fn(s, keys + i * ksz, vals + i * vsz);
		if (err) { /* ENOENT: the map is exhausted */
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

static void on_count(struct offcpu *s, const void *key, const void *val)
{
	const struct pm_off_key *k = key;
	const struct pm_off_val *v = val;
	const char *service = engine_service_of(s->e, k->pid), *sys = NULL;
	uint32_t ids[PM_MAX_DEPTH + 2], nfr;
	struct offfind_frame fr[PM_MAX_DEPTH + 2];
	unsigned reason = k->reason < PM_OFF_REASONS ? k->reason : PM_OFF_OTHER;
	char sysbuf[32];
	uint32_t n;

	if (!service) {
		s->unattributed_ns += v->ns;
		return;
	}
	n = stack_ids(s, k->pid, k->py_stack_hash, k->stack_flags, ids, fr, &nfr);
	if (reason == PM_OFF_LOCK && nfr && offcpu_is_idle_wait(fr[0].name, fr[0].file))
		reason = PM_OFF_WAIT;
	if (k->syscall != PM_OFF_NO_SYSCALL) {
		sys = offcpu_syscall_name(k->syscall);
		if (!sys) {
			snprintf(sysbuf, sizeof(sysbuf), "syscall_%u", k->syscall);
			sys = sysbuf;
		}
	}
	offagg_add(s->agg, service, reason, s->scratch, ids, n, sys, v->ns, now_s());
}

static void on_hist(struct offcpu *s, const void *key, const void *val)
{
	const struct pm_off_hist_key *k = key;
	const struct pm_off_hist *h = val;
	const char *service = engine_service_of(s->e, k->pid);

	if (service && k->kind < PM_OFF_ALL_REASONS)
		offagg_hist_add(s->agg, service, k->kind, (const uint64_t *)h->slots, h->sum_ns);
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Folds what a process's slot counted since the last drain into its service. */
static void drain_slot(struct offcpu *s, struct pidrow *r)
{
	const char *service = engine_service_of(s->e, r->pid);
	struct pm_off_slot cur, *l = &r->last;
	uint64_t slots[PM_OFF_HIST_SLOTS], n = 0;

	read_slot(s, r->slot, &cur);
	for (int i = 0; i < PM_OFF_HIST_SLOTS; i++)
		n += slots[i] = sub0(cur.loop.slots[i], l->loop.slots[i]);
	if (service && memcmp(&cur.proc, &l->proc, sizeof(cur.proc)))
		offagg_sched_add(s->agg, service, sub0(cur.proc.oncpu_ns, l->proc.oncpu_ns),
				 sub0(cur.proc.voluntary, l->proc.voluntary),
				 sub0(cur.proc.involuntary, l->proc.involuntary));
	if (service && n)
		offagg_hist_add(s->agg, service, OFFAGG_HIST_LOOP, slots, sub0(cur.loop.sum_ns, l->loop.sum_ns));
	*l = cur;
}

/* ---- verdicts ----------------------------------------------------------------------------- */

/* The heaviest CPU stack of a sample profile, as evidence; its self time (as leaf) in seconds. */
static bool cpu_evidence(const struct profile *p, double period_s, struct offfind_evidence *ev)
{
	const struct prof_stack *best = NULL;

	for (size_t i = 0; p && i < prof_nstacks(p); i++) {
		const struct prof_stack *st = prof_stack_at(p, i);

		if (!best || st->value > best->value)
			best = st;
	}
	if (!best)
		return false;
	offfind_evidence(p, best, period_s, ev);
	/* "for N s": every stack whose application frame is the same function */
	ev->seconds = 0;
	for (size_t i = 0; i < prof_nstacks(p); i++) {
		struct offfind_evidence other;

		offfind_evidence(p, prof_stack_at(p, i), period_s, &other);
		if (!strcmp(other.code, ev->code))
			ev->seconds += other.seconds;
	}
	return true;
}

/* The top stack of a category over the window: CPU samples for cpu (and runq: what it runs when it
 * gets a CPU), else the off-CPU profile's heaviest stack of that category's reasons. */
static bool top_for(enum verdict_cat c, const struct profile *cpu, const struct profile *off, double period_s,
		    struct offfind_evidence *ev)
{
	const struct prof_stack *best = NULL;

	if (c == VC_CPU || c == VC_RUNQ)
		return cpu_evidence(cpu, period_s, ev);
	for (unsigned r = 0; r < PM_OFF_ALL_REASONS; r++) {
		const struct prof_stack *st;

		if (offcpu_reason_cat(r) != c || r == PM_OFF_RUNQ)
			continue;
		st = offagg_top_stack(off, r);
		if (st && (!best || st->value > best->value))
			best = st;
	}
	if (!best)
		return false;
	offfind_evidence(off, best, 1e-9, ev);
	return true;
}

struct verdict_ctx {
	struct offcpu *s;
	uint64_t now;
};

static void compute_verdict(const struct offagg_info *info, void *ctx)
{
	struct verdict_ctx *vc = ctx;
	struct offcpu *s = vc->s;
	struct offfind_verdict fv = { 0 };
	struct verdict_in in = { 0 };
	uint64_t ns[PM_OFF_ALL_REASONS];
	struct profile *cpu, *off;
	unsigned covered;

	if (offagg_window(s->agg, info->service, vc->now, ns, &covered))
		return;
	cpu = engine_cpu_profile_locked(s->e, info->service, offagg_nslots(s->agg) * s->slot_s);
	off = offagg_profile(s->agg, info->service, offagg_nslots(s->agg) * s->slot_s, vc->now);
	in.ns[VC_CPU] = cpu ? prof_total(cpu) * s->cpu_period_ns : 0;
	for (unsigned r = 0; r < PM_OFF_ALL_REASONS; r++)
		in.ns[offcpu_reason_cat(r)] += ns[r];
	in.window_ns = (uint64_t)covered * 1000000000ULL;
	if (!verdict_decide(&in, &fv.v)) {
		fv.window_s = covered;
		memcpy(fv.ns, in.ns, sizeof(fv.ns));
		fv.gil_ns = ns[PM_OFF_GIL];
		if (fv.v.dominant < VC_N)
			fv.has_top[0] = top_for(fv.v.dominant, cpu, off, s->cpu_period_ns / 1e9, &fv.top[0]);
		if (fv.v.second < VC_N)
			fv.has_top[1] = top_for(fv.v.second, cpu, off, s->cpu_period_ns / 1e9, &fv.top[1]);
		offfind_set_verdict(s->find, info->service, pid_of_service(s, info->service), &fv);
	}
	prof_free(cpu);
	prof_free(off);
}

static void drain(struct offcpu *s)
{
	struct verdict_ctx vc = { .s = s, .now = now_s() };
	uint64_t mono = mono_ns();

	if (prof_nframes(s->scratch) > 100000) {
		prof_free(s->scratch);
		s->scratch = prof_new(PROF_UNIT_NANOSECONDS, 0);
		if (!s->scratch)
			return;
	}
	ring_buffer__consume(s->rb);
	drain_map(s, s->skel->maps.off_counts, on_count);
	drain_map(s, s->skel->maps.off_hists, on_hist);
	for (size_t i = 0; i < s->npids; i++)
		drain_slot(s, &s->pids[i]);
	if (mono - s->last_verdict_ns >= VERDICT_NS) {
		offagg_foreach(s->agg, compute_verdict, &vc);
		s->last_verdict_ns = mono;
	}
}

static void offcpu_tick(void *state, uint64_t now)
{
	struct offcpu *s = state;

	ring_buffer__consume(s->rb);
	if (now - s->last_drain_ns >= DRAIN_NS) {
		drain(s);
		s->last_drain_ns = now;
	}
	if (s->loops && now - s->last_sweep_ns >= SWEEP_NS) {
		loopsamp_sweep(s->loops);
		/* a loop started after its process was tracked, too busy to block in epoll_wait: up to
		 * EPOLL_SWEEP_PROCS processes a sweep, round robin, so thousands of tracked processes
		 * without a loop cost a bounded /proc read every 10 s */
		for (size_t n = 0; n < EPOLL_SWEEP_PROCS && n < s->npids && !s->loop_hooked; n++)
			hook_if_loop(s, s->pids[s->epoll_cursor++ % s->npids].pid);
		s->last_sweep_ns = now;
	}
}

/* ---- event-loop stalls -------------------------------------------------------------------- */

/* Line `line` of a tracked process's source file (through its root), or "" when unreadable. */
static void read_source_line(pid_t pid, const char *file, int line, char *out, size_t len)
{
	char path[PATH_MAX + 32], *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd;

	out[0] = 0;
	if (!file || file[0] != '/' || line < 1)
		return;
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	do {
		if (n == cap) {
			char *b = cap < SRC_MAX_BYTES ? realloc(buf, cap ? cap * 2 : 65536) : NULL;

			if (!b)
				break;
			buf = b;
			cap = cap ? cap * 2 : 65536;
		}
		r = read(fd, buf + n, cap - n);
		n += r > 0 ? (size_t)r : 0;
	} while (r > 0);
	close(fd);
	if (buf && offcpu_src_line(buf, n, line, out, len))
		out[0] = 0;
	free(buf);
}

/* A thread of a tracked process polled for the first time: sample it from now on. */
static void on_loop_found(struct offcpu *s, const struct pm_event_hdr *h)
{
	int err;

	if (!s->loops || !pid_find(s, (pid_t)h->pid))
		return;
	if (!s->loop_hooked) {
		char who[64];

		snprintf(who, sizeof(who), "thread %u of %u waits in epoll_wait", h->tid, h->pid);
		hook_loops(s, who);
	}
	err = loopsamp_add(s->loops, (pid_t)h->pid, (pid_t)h->tid);
	if (err && err != -ESRCH && loopsamp_refused(s->loops) == 1)
		fprintf(stderr, "pyrometerd: event loop thread %u of %u is not sampled (%s); its stalls are "
			"reported without on-CPU stacks\n", h->tid, h->pid, err == -ENOSPC ? "too many loop threads" : strerror(-err));
}

static int on_stall_record(void *ctx, void *data, size_t len)
{
	struct offcpu *s = ctx;
	const struct pm_stall_event *ev = data;
	struct offfind_frame fr[PM_MAX_DEPTH + 2];
	uint32_t ids[PM_MAX_DEPTH + 2], nfr = 0, best = 0;
	struct offfind_stall st = { 0 };
	char src[256] = "";
	const char *service;
	uint64_t hash = 0;
	int app;

	if (len >= sizeof(ev->hdr) && ev->hdr.kind == PM_EV_LOOP_FOUND) {
		on_loop_found(s, &ev->hdr);
		return 0;
	}
	if (len < sizeof(*ev) || ev->hdr.len != sizeof(*ev) || ev->hdr.kind != PM_EV_LOOP_STALL)
		return 0;
	s->stalls++;
	service = engine_service_of(s->e, ev->hdr.pid);
	if (!service) {
		s->stalls_unattributed++;
		return 0;
	}
	offagg_stall_add(s->agg, service);
	for (int i = 0; i < PM_OFF_STALL_STACKS; i++)
		if (ev->cpu_stacks[i] && ev->cpu_counts[i] > ev->cpu_counts[best])
			best = i;
	/* a stretch mostly spent off-CPU is explained by its longest block, else by what ran */
	st.cpu = !(ev->block_stack && ev->off_ns * 2 >= ev->dur_ns) && ev->cpu_stacks[best];
	hash = st.cpu ? ev->cpu_stacks[best] : ev->block_stack;
	stack_ids(s, ev->hdr.pid, hash, st.cpu ? 0 : ev->block_flags, ids, fr, &nfr);
	app = offfind_app_frame(fr, nfr);
	if (app >= 0)
		read_source_line(ev->hdr.pid, fr[app].file, fr[app].line, src, sizeof(src));
	st.service = service;
	st.pid = ev->hdr.pid;
	st.tid = ev->hdr.tid;
	st.dur_ns = ev->dur_ns;
	st.off_ns = ev->off_ns;
	st.block_ns = ev->block_ns;
	st.threshold_ns = s->stall_ns;
	st.block_syscall = st.cpu ? PM_OFF_NO_SYSCALL : ev->block_syscall;
	st.frames = fr;
	st.nframes = nfr;
	st.cpu_samples = st.cpu ? ev->cpu_counts[best] : 0;
	st.source_line = src[0] ? src : NULL;
	st.now_ns = mono_ns();
	offfind_add_stall(s->find, &st);
	return 0;
}

/* ---- exposition --------------------------------------------------------------------------- */

static uint64_t stat_sum(struct offcpu *s, __u32 idx)
{
	__u64 vals[512];
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0;

	if (ncpu <= 0 || ncpu > 512 ||
	    bpf_map__lookup_elem(s->skel->maps.off_stats, &idx, sizeof(idx), vals, ncpu * sizeof(__u64), 0))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += vals[c];
	return sum;
}

static int offcpu_metrics(void *state, struct expo *x)
{
	struct offcpu *s = state;
	struct offagg_drops d;
	int err;

	drain(s); /* a scrape sees what the kernel holds right now */
	d = (struct offagg_drops){ .count_map_full = stat_sum(s, PM_OFF_STAT_COUNT_FULL),
				   .stack_map_full = stat_sum(s, PM_OFF_STAT_STACK_FULL),
				   .stack_evicted = s->lost_stacks,
				   .stall_ring_full = stat_sum(s, PM_OFF_STAT_STALL_DROPS),
				   .stretch_untimed = stat_sum(s, PM_OFF_STAT_UNTIMED),
				   .walks = stat_sum(s, PM_OFF_STAT_WALKS) };
	err = offagg_metrics(s->agg, s->find, &d, x);
	if (err || !s->loops)
		return err;
	err = expo_family(x, "pyrometer_event_loop_threads_sampled", EXPO_GAUGE,
			  "Event-loop threads of tracked processes whose on-CPU stacks are sampled (each has "
			  "its own task-clock event).");
	err = err ? err : expo_value_u64(x, NULL, 0, loopsamp_count(s->loops));
	err = err ? err : expo_family(x, "pyrometer_event_loop_hook_attached", EXPO_GAUGE,
				     "1 once a tracked process runs an event loop and the epoll syscall hooks are "
				     "attached (until then no syscall pays for loop detection), else 0.");
	return err ? err : expo_value_u64(x, NULL, 0, s->loop_hooked);
}

static void offcpu_findings(void *state, json_object *arr)
{
	struct offcpu *s = state;

	drain(s); /* include what the kernel holds right now */
	offfind_findings_json(s->find, mono_ns(), arr);
}

static void offcpu_service_json(void *state, const char *service, json_object *row)
{
	struct offcpu *s = state;

	offfind_service_json(s->find, service, row);
}

static void offcpu_process_json(void *state, pid_t pid, json_object *sources)
{
	struct offcpu *s = state;

	json_object_object_add(sources, "offcpu", json_object_new_boolean(pid_find(s, pid) != NULL));
	json_object_object_add(sources, "event_loop_stalls", json_object_new_boolean(s->stall_ns != 0));
}

struct profile_req {
	const char *service;
	unsigned seconds;
	struct profile *p;
	int err;
};

static json_object *profile_locked(void *state, void *arg)
{
	struct offcpu *s = state;
	struct profile_req *r = arg;

	drain(s);
	r->p = offagg_profile(s->agg, r->service, r->seconds, now_s());
	r->err = r->p ? 0 : errno;
	return NULL;
}

struct profile *offcpu_profile(struct engine *e, const char *service, unsigned seconds)
{
	struct profile_req r = { .service = service, .seconds = seconds, .err = ENODEV };

	errno = 0;
	engine_source_call(e, offcpu_source.name, profile_locked, &r);
	if (!r.p)
		errno = r.err ? r.err : ENOMEM;
	return r.p;
}

const struct source_ops offcpu_source = {
	.name = "offcpu",
	.start = offcpu_start,
	.stop = offcpu_stop,
	.track = offcpu_track,
	.untrack = offcpu_untrack,
	.tick = offcpu_tick,
	.metrics = offcpu_metrics,
	.findings = offcpu_findings,
	.service_json = offcpu_service_json,
	.process_json = offcpu_process_json,
};
