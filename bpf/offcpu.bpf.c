// SPDX-License-Identifier: GPL-2.0
/* Off-CPU time of tracked Python threads, by reason and with the Python stack that blocked, plus
 * run-queue wait and event-loop stalls. sched_switch classifies each switch-out (task state, the
 * syscall in the task's saved registers, the file kind behind its fd) and walks the Python stack;
 * the matching switch-in (or wake-up, for run-queue wait) closes the interval and counts it in the
 * kernel. Event loops are found where threads call epoll_wait (its per-syscall tracepoints, or a
 * filtered raw sys_enter program where tracefs is unavailable). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"
#include "pystack.bpf.h"

#define TASK_INTERRUPTIBLE   0x1
#define TASK_UNINTERRUPTIBLE 0x2
#define TASK_STOPPED         0x4
#define TASK_TRACED          0x8
#define S_IFMT   0170000
#define S_IFSOCK 0140000
#define S_IFREG  0100000
#define S_IFBLK  0060000
#define S_IFIFO  0010000

/* x86_64 syscall numbers the classifier knows */
#define NR_read 0
#define NR_write 1
#define NR_poll 7
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_select 23
#define NR_nanosleep 35
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_wait4 61
#define NR_futex 202
#define NR_clock_nanosleep 230
#define NR_epoll_wait 232
#define NR_pselect6 270
#define NR_ppoll 271
#define NR_epoll_pwait 281
#define NR_accept4 288
#define NR_preadv 295
#define NR_pwritev 296
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define NR_epoll_pwait2 441
#define NR_futex_waitv 449

const volatile __u32 max_depth = PM_DEFAULT_DEPTH;
const volatile __u64 stall_ns = 100000000ULL; /* event-loop stretches longer than this are streamed */

/* Per-thread state, created at a tracked thread's first switch-out. */
struct task_state {
	__u64 off_ts;  /* switch-out time, 0 while running */
	__u64 wake_ts; /* runnable since (woken or preempted), 0 while blocked */
	__u64 on_ts;   /* switch-in time */
	__u64 stack;   /* Python stack hash at the switch-out */
	__u32 stack_flags;
	__u32 pid;
	__u16 reason;
	__u16 syscall;
	__u32 slot;    /* its process's pm_proc_cfg.slot (off_slots), refreshed at every switch-out */
	__u32 pad2;
	/* event loop: the stretch since the thread last returned from epoll_wait */
	__u8 is_loop;
	__u8 poll_blocked; /* switched out inside epoll_wait: the stretch starts at the switch-in */
	__u8 announced;    /* PM_EV_LOOP_FOUND sent: userspace samples this thread */
	__u8 pad;
	__u64 stretch_start; /* 0 = no stretch open */
	__u64 stretch_off_ns;
	__u64 block_stack, block_ns;
	__u16 block_reason, block_syscall;
	__u32 block_flags;
	__u64 cpu_stacks[PM_OFF_STALL_STACKS];
	__u32 cpu_counts[PM_OFF_STALL_STACKS];
	/* the last full walk at a switch-out, reused while the innermost frames are the same */
	__u64 fp, fp_stack;
	__u32 fp_flags, fp_uses;
	/* the thread's PyThreadState, found once through the TSS slot and kept while fsbase holds */
	struct py_tstate_cache tc;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} tasks SEC(".maps");

/* value_size is shrunk by userspace to 8 + max_depth * 16 before load */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_MAX_STACKS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct pm_py_stack));
} py_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_COUNTS);
	__type(key, struct pm_off_key);
	__type(value, struct pm_off_val);
} off_counts SEC(".maps");

/* By pm_proc_cfg.slot: the per-switch and per-poll counters are an inlined array lookup, where a
 * pid-keyed hash took ~30 ns a lookup. A slot is reused: userspace reads deltas (src/offcpu.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_off_slot);
} off_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * PM_MAX_PROCS);
	__type(key, struct pm_off_hist_key);
	__type(value, struct pm_off_hist);
} off_hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_off_range);
} gil_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} stall_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_py_stack);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_OFF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} off_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&off_stats, &idx);

	if (v)
		(*v)++;
}

/* ---- classification ------------------------------------------------------------------------ */

/* The kind of file behind fd of task t (which must be current). */
static __always_inline __u16 fd_reason(struct task_struct *t, long fd)
{
	struct files_struct *files = t->files; /* BTF pointers: plain loads, no helper calls */
	struct fdtable *fdt;
	struct file **fds, *f = NULL;
	unsigned int max;
	umode_t mode;

	if (!files || fd < 0)
		return PM_OFF_OTHER;
	fdt = files->fdt;
	max = fdt->max_fds;
	if ((unsigned long)fd >= max)
		return PM_OFF_OTHER;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return PM_OFF_OTHER;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		return PM_OFF_NET;
	case S_IFREG:
	case S_IFBLK:
		return PM_OFF_DISK;
	case S_IFIFO:
		return PM_OFF_PIPE;
	}
	return PM_OFF_OTHER;
}

/* poll() on exactly one fd is how CPython waits on a socket with a timeout. */
static __always_inline __u16 poll_reason(struct task_struct *t, __u64 fds, __u64 nfds)
{
	int fd = -1;
	__u16 r;

	if (nfds != 1 || bpf_probe_read_user(&fd, sizeof(fd), (void *)fds))
		return PM_OFF_POLL;
	r = fd_reason(t, fd);
	return r == PM_OFF_NET || r == PM_OFF_PIPE ? r : PM_OFF_POLL;
}

static __always_inline __u16 futex_reason(__u32 pid, __u64 uaddr)
{
	const struct pm_off_range *g = bpf_map_lookup_elem(&gil_ranges, &pid);

	return g && uaddr >= g->lo && uaddr < g->hi ? PM_OFF_GIL : PM_OFF_LOCK;
}

static __always_inline __u16 classify(struct task_struct *t, unsigned int state, __u32 pid, long nr,
				      struct pt_regs *regs)
{
	if (state & (TASK_STOPPED | TASK_TRACED)) /* SIGSTOP, a debugger: not the syscall's wait */
		return PM_OFF_OTHER;
	if (state & TASK_UNINTERRUPTIBLE)
		return PM_OFF_DISK;
	switch (nr) {
	case NR_futex:
	case NR_futex_waitv:
		return futex_reason(pid, regs->di);
	case NR_nanosleep:
	case NR_clock_nanosleep:
		return PM_OFF_SLEEP;
	case NR_select:
	case NR_pselect6:
		/* no fds: CPython <= 3.10's time.sleep */
		return regs->di ? PM_OFF_POLL : PM_OFF_SLEEP;
	case NR_epoll_wait:
	case NR_epoll_pwait:
	case NR_epoll_pwait2:
	case NR_accept:
	case NR_accept4:
		return PM_OFF_POLL;
	case NR_poll:
	case NR_ppoll:
		return poll_reason(t, regs->di, regs->si);
	case NR_connect:
	case NR_sendto:
	case NR_recvfrom:
	case NR_sendmsg:
	case NR_recvmsg:
	case NR_recvmmsg:
	case NR_sendmmsg:
		return PM_OFF_NET;
	case NR_read:
	case NR_write:
	case NR_pread64:
	case NR_pwrite64:
	case NR_readv:
	case NR_writev:
	case NR_preadv:
	case NR_pwritev:
	case NR_sendfile:
		return fd_reason(t, regs->di);
	}
	return PM_OFF_OTHER;
}

static __always_inline bool is_epoll(long nr)
{
	return nr == NR_epoll_wait || nr == NR_epoll_pwait || nr == NR_epoll_pwait2;
}

/* ---- accounting ---------------------------------------------------------------------------- */

static __always_inline struct pm_off_slot *slot_stats(__u32 slot)
{
	return bpf_map_lookup_elem(&off_slots, &slot);
}

static __always_inline __u32 log2_us(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 slot = 0;

	for (int i = 0; i < PM_OFF_HIST_SLOTS - 1; i++) {
		if (us < 2)
			break;
		us >>= 1;
		slot++;
	}
	return slot;
}

static __always_inline void hist_count(struct pm_off_hist *h, __u64 ns)
{
	__u32 slot = log2_us(ns);

	if (slot < PM_OFF_HIST_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

static __always_inline void hist_add(__u32 pid, __u32 kind, __u64 ns)
{
	struct pm_off_hist_key k = { .pid = pid, .kind = kind };
	struct pm_off_hist *h = bpf_map_lookup_elem(&off_hists, &k);

	if (!h) {
		struct pm_off_hist zero = {};

		bpf_map_update_elem(&off_hists, &k, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&off_hists, &k);
		if (!h)
			return;
	}
	hist_count(h, ns);
}

static __always_inline void count_add(struct pm_off_key *k, __u64 ns)
{
	struct pm_off_val one = { .ns = ns, .count = 1 }, *v = bpf_map_lookup_elem(&off_counts, k);

	if (!v) {
		if (!bpf_map_update_elem(&off_counts, k, &one, BPF_NOEXIST))
			return;
		v = bpf_map_lookup_elem(&off_counts, k);
		if (!v) {
			stat_inc(PM_OFF_STAT_COUNT_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->ns, ns);
	__sync_fetch_and_add(&v->count, 1);
}

/* The current thread's PyThreadState, cached in its task state when it has one. 0 if none. */
static __always_inline __u64 thread_tstate(const struct pm_proc_cfg *cfg, struct task_state *ts)
{
	return ts ? py_cached_tstate(cfg, &ts->tc) : current_tstate(cfg);
}

/* Walks the current thread's Python stack and stores it (once per distinct stack); returns its
 * hash (0 = none). ts may be NULL (no cached thread state). */
static __always_inline __u64 capture(const struct pm_proc_cfg *cfg, struct task_state *ts, __u32 *flags)
{
	__u32 zero = 0;
	struct pm_py_stack *st = bpf_map_lookup_elem(&scratch, &zero);
	__u64 hash;

	if (!st)
		return 0;
	stat_inc(PM_OFF_STAT_WALKS);
	hash = ts ? py_stack_walk_cached(st, cfg, max_depth, &ts->tc) : py_stack_capture(st, cfg, max_depth);
	*flags = st->flags;
	if (hash && !bpf_map_lookup_elem(&py_stacks, &hash) && bpf_map_update_elem(&py_stacks, &hash, st, BPF_ANY)) {
		stat_inc(PM_OFF_STAT_STACK_FULL);
		hash = 0;
	}
	return hash;
}

#define FP_FRAMES 3     /* innermost frames that identify a blocking point */
#define FP_MAX_USES 16  /* walk again after this many reuses */

/* A cheap identity of the current blocking point: address, code object and instruction of the
 * innermost FP_FRAMES frames (a read or two: the frames share a block, see frame_fetch()).
 * 0 when it cannot be read. */
static __always_inline __u64 fingerprint(const struct pm_proc_cfg *cfg, struct task_state *ts)
{
	const struct pm_walk_offsets *off = &cfg->off;
	__u64 tstate = thread_tstate(cfg, ts), f, below = 0, h = 0x84222325cbf29ce4ULL;
	__u32 zero = 0;
	struct frame_reader r = { .blk = bpf_map_lookup_elem(&py_frame_buf, &zero), .span = frame_span(off) };
	long at;

	if (!tstate || !r.blk || !r.span || r.span > PY_FRAME_SPAN)
		return 0;
	f = top_frame(cfg, tstate);
	for (int i = 0; i < FP_FRAMES && f; i++) {
		at = frame_fetch(&r, f, below);
		if (at < 0)
			return 0;
		h = mix(mix(mix(h, f), frame_u64(&r, at, off->frame_code)), frame_u64(&r, at, off->frame_instr));
		below = f;
		f = frame_u64(&r, at, off->frame_previous);
	}
	return h | 1;
}

/* Tells userspace a thread runs an event loop, once: it opens the thread's own sampling event (a
 * per-thread task clock, so CPUs without loop threads get no timer) and, for the first loop, attaches
 * the epoll hooks. Sent when the thread first blocks in epoll_wait (the hooks may not be attached
 * yet) or polls; retried at the next one if the ring is full. */
static __always_inline void announce_loop(struct task_state *ts, __u32 tid, __u64 now)
{
	struct pm_event_hdr *e = bpf_ringbuf_reserve(&stall_events, sizeof(*e), 0);

	if (!e) {
		stat_inc(PM_OFF_STAT_STALL_DROPS);
		return;
	}
	e->ts_ns = now;
	e->pid = ts->pid;
	e->tid = tid;
	e->kind = PM_EV_LOOP_FOUND;
	e->len = sizeof(*e);
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	ts->announced = 1;
}

/* The Python stack at this blocking point: the last walk's when the thread blocks where it
 * blocked last time (servers block at the same few places), else a fresh walk. */
static __always_inline void blocking_stack(const struct pm_proc_cfg *cfg, struct task_state *ts)
{
	__u64 fp = fingerprint(cfg, ts);

	if (fp && fp == ts->fp && ts->fp_uses < FP_MAX_USES) {
		ts->fp_uses++;
		ts->stack = ts->fp_stack;
		ts->stack_flags = ts->fp_flags;
		stat_inc(PM_OFF_STAT_WALK_REUSED);
		return;
	}
	ts->stack = capture(cfg, ts, &ts->stack_flags);
	ts->fp = fp;
	ts->fp_stack = ts->stack;
	ts->fp_flags = ts->stack_flags;
	ts->fp_uses = 0;
}

static __always_inline void stretch_reset(struct task_state *ts, __u64 now)
{
	ts->stretch_start = now;
	ts->stretch_off_ns = 0;
	ts->block_stack = 0;
	ts->block_ns = 0;
	ts->block_reason = 0;
	ts->block_syscall = PM_OFF_NO_SYSCALL;
	ts->block_flags = 0;
	for (int i = 0; i < PM_OFF_STALL_STACKS; i++) {
		ts->cpu_stacks[i] = 0;
		ts->cpu_counts[i] = 0;
	}
}

static __always_inline void switch_out(struct task_struct *prev, bool preempt, unsigned int state, __u64 now)
{
	__u32 pid = prev->tgid;
	const struct pm_proc_cfg *cfg;
	struct pm_off_slot *ps;
	struct task_state *ts;
	struct pt_regs *regs;
	long nr;

	if (!(cfg = bpf_map_lookup_elem(&py_procs, &pid)))
		return;
	ts = bpf_task_storage_get(&tasks, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		stat_inc(PM_OFF_STAT_NO_STORAGE);
		return;
	}
	stat_inc(PM_OFF_STAT_SWITCHES);
	ts->slot = cfg->slot;
	ps = slot_stats(ts->slot);
	if (ps && ts->on_ts && now > ts->on_ts)
		__sync_fetch_and_add(&ps->proc.oncpu_ns, now - ts->on_ts);
	ts->pid = pid;
	ts->on_ts = 0;
	ts->off_ts = now;
	ts->stack = 0;
	ts->stack_flags = 0;
	ts->syscall = PM_OFF_NO_SYSCALL;
	if (preempt || !state) { /* still runnable */
		ts->reason = PM_OFF_RUNQ;
		ts->wake_ts = now;
		if (ps)
			__sync_fetch_and_add(&ps->proc.involuntary, 1);
		return;
	}
	ts->wake_ts = 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	nr = regs ? regs->orig_ax : -1;
	if (nr >= 0 && nr < PM_OFF_NO_SYSCALL)
		ts->syscall = (__u16)nr;
	ts->reason = classify(prev, state, pid, nr, regs);
	if (stall_ns != ~0ULL && !ts->announced && is_epoll(nr))
		announce_loop(ts, prev->pid, now); /* the host's first loop gets the epoll hooks attached */
	if (ts->is_loop && is_epoll(nr))
		ts->poll_blocked = 1; /* the loop's own wait: no stack needed */
	else
		blocking_stack(cfg, ts);
	if (ps)
		__sync_fetch_and_add(&ps->proc.voluntary, 1);
}

/* The interval that ends now: blocked part (switch-out to wake-up) and runnable part. */
static __always_inline void account(struct task_state *ts, __u32 tid, __u64 blocked, __u64 runq)
{
	struct pm_off_key k = { .pid = ts->pid, .tid = tid, .syscall = PM_OFF_NO_SYSCALL, .reason = PM_OFF_RUNQ };
	struct pm_off_slot *ps = slot_stats(ts->slot);

	if (blocked) {
		struct pm_off_key b = { .pid = ts->pid, .tid = tid, .py_stack_hash = ts->stack,
					.reason = ts->reason, .syscall = ts->syscall, .stack_flags = ts->stack_flags };

		count_add(&b, blocked);
		hist_add(ts->pid, ts->reason, blocked);
		if (ps)
			__sync_fetch_and_add(&ps->proc.blocked_ns, blocked);
	}
	if (runq) {
		count_add(&k, runq);
		hist_add(ts->pid, PM_OFF_RUNQ, runq);
		if (ps)
			__sync_fetch_and_add(&ps->proc.runq_ns, runq);
	}
}

static __always_inline void switch_in(struct task_struct *next, __u64 now)
{
	struct task_state *ts = bpf_task_storage_get(&tasks, next, 0, 0);
	__u64 total, runq = 0, blocked;

	if (!ts)
		return;
	ts->on_ts = now;
	if (!ts->off_ts || now <= ts->off_ts) {
		/* its switch-out was not seen: whether it waited in its poll is unknown, so a stretch
		 * running across it is not timed (never a stall out of a poll's wait) */
		if (ts->stretch_start)
			stretch_reset(ts, now);
		return;
	}
	total = now - ts->off_ts;
	if (ts->reason == PM_OFF_RUNQ)
		runq = total;
	else if (ts->wake_ts >= ts->off_ts && ts->wake_ts <= now)
		runq = now - ts->wake_ts;
	blocked = total - runq;
	account(ts, next->pid, blocked, runq);
	if (ts->poll_blocked) {
		ts->poll_blocked = 0;
		stretch_reset(ts, now); /* returning from epoll_wait: a new stretch */
	} else if (ts->stretch_start) {
		ts->stretch_off_ns += total;
		if (blocked > ts->block_ns && ts->reason != PM_OFF_RUNQ) {
			ts->block_ns = blocked;
			ts->block_stack = ts->stack;
			ts->block_reason = ts->reason;
			ts->block_syscall = ts->syscall;
			ts->block_flags = ts->stack_flags;
		}
	}
	ts->off_ts = 0;
	ts->wake_ts = 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	bool out = task_tracked(prev), in = pid_tracked(next->tgid);
	__u64 now;

	if (!out && !in) /* most of the host's switches: no clock read (~50 ns in these VMs) */
		return 0;
	now = bpf_ktime_get_ns();
	if (out)
		switch_out(prev, preempt, prev_state, now);
	if (in)
		switch_in(next, now);
	return 0;
}

static __always_inline void woken(struct task_struct *p)
{
	struct task_state *ts = pid_tracked(p->tgid) ? bpf_task_storage_get(&tasks, p, 0, 0) : NULL;

	if (ts && ts->off_ts && !ts->wake_ts)
		ts->wake_ts = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	woken(p);
	return 0;
}

/* A new thread of a tracked process: its first wait for a CPU counts too. */
SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	__u32 pid = p->tgid;
	struct task_state *ts;

	if (!pid_tracked(pid))
		return 0;
	ts = bpf_task_storage_get(&tasks, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts)
		return 0;
	ts->pid = pid;
	ts->off_ts = ts->wake_ts = bpf_ktime_get_ns();
	ts->reason = PM_OFF_RUNQ;
	ts->syscall = PM_OFF_NO_SYSCALL;
	return 0;
}

/* ---- event loops ---------------------------------------------------------------------------- */

static __always_inline void emit_stall(struct task_state *ts, __u32 tid, __u64 now, __u64 dur)
{
	struct pm_stall_event *e = bpf_ringbuf_reserve(&stall_events, sizeof(*e), 0);

	if (!e) {
		stat_inc(PM_OFF_STAT_STALL_DROPS);
		return;
	}
	e->hdr.ts_ns = now;
	e->hdr.pid = ts->pid;
	e->hdr.tid = tid;
	e->hdr.kind = PM_EV_LOOP_STALL;
	e->hdr.len = sizeof(*e);
	e->hdr.pad = 0;
	e->start_ns = ts->stretch_start;
	e->dur_ns = dur;
	e->off_ns = ts->stretch_off_ns;
	e->block_stack = ts->block_stack;
	e->block_ns = ts->block_ns;
	e->block_reason = ts->block_reason;
	e->block_syscall = ts->block_syscall;
	e->block_flags = ts->block_flags;
	for (int i = 0; i < PM_OFF_STALL_STACKS; i++) {
		e->cpu_stacks[i] = ts->cpu_stacks[i];
		e->cpu_counts[i] = ts->cpu_counts[i];
	}
	bpf_ringbuf_submit(e, 0);
}

/* The loop polls again: the stretch since it last returned is over. */
static __always_inline void loop_poll(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *ts = pid_tracked(task->tgid) ? bpf_task_storage_get(&tasks, task, 0, 0) : NULL;
	__u64 now, dur;

	if (!ts || !ts->pid)
		return;
	now = bpf_ktime_get_ns();
	if (ts->off_ts || ts->poll_blocked) {
		/* running, yet its last switch-out has no switch-in: one was missed (e.g. its process
		 * untracked for a moment, or the program skipped), so the stretch may hold a poll's wait */
		if (ts->stretch_start)
			stat_inc(PM_OFF_STAT_UNTIMED);
		ts->stretch_start = 0;
		ts->off_ts = 0;
		ts->wake_ts = 0;
		ts->poll_blocked = 0;
	}
	if (ts->stretch_start && now > ts->stretch_start) {
		struct pm_off_slot *ps = slot_stats(ts->slot);

		dur = now - ts->stretch_start;
		if (ps)
			hist_count(&ps->loop, dur);
		if (dur >= stall_ns)
			emit_stall(ts, task->pid, now, dur);
	}
	ts->is_loop = 1;
	if (!ts->announced)
		announce_loop(ts, task->pid, now);
	/* if epoll_wait returns without blocking, the next stretch starts about now */
	stretch_reset(ts, now);
}

/* Userspace loads one of two variants (src/offcpu.c). Per-syscall tracepoints, where tracefs
 * lists them: the kernel runs these only for their syscall, so the rest of the host's syscalls pay
 * a bitmap test. */
SEC("tracepoint/syscalls/sys_enter_epoll_wait")
int on_epoll_wait(struct trace_event_raw_sys_enter *ctx)
{
	loop_poll();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_epoll_pwait")
int on_epoll_pwait(struct trace_event_raw_sys_enter *ctx)
{
	loop_poll();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_epoll_pwait2")
int on_epoll_pwait2(struct trace_event_raw_sys_enter *ctx)
{
	loop_poll();
	return 0;
}

/* The fallback without tracefs: runs for every syscall on the host (~130 ns each here). */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id != NR_epoll_wait && id != NR_epoll_pwait && id != NR_epoll_pwait2)
		return 0;
	loop_poll();
	return 0;
}

/* On-CPU samples of loop threads deep into a stretch: what the loop is busy with. The events are
 * the loop threads' own (src/loopsamp.c), so this runs only while one of them is on a CPU. */
static __always_inline void loop_sample(void)
{
	struct task_state *ts = bpf_task_storage_get(&tasks, bpf_get_current_task_btf(), 0, 0);
	const struct pm_proc_cfg *cfg;
	__u32 flags = 0, pid, i, victim = 0;
	__u64 hash;

	if (!ts || !ts->is_loop || !ts->stretch_start ||
	    bpf_ktime_get_ns() - ts->stretch_start < stall_ns / 4)
		return;
	pid = ts->pid;
	cfg = bpf_map_lookup_elem(&py_procs, &pid);
	if (!cfg)
		return;
	hash = capture(cfg, ts, &flags);
	if (!hash)
		return;
	for (i = 0; i < PM_OFF_STALL_STACKS; i++) {
		if (ts->cpu_stacks[i] == hash) {
			ts->cpu_counts[i]++;
			return;
		}
		if (ts->cpu_counts[i] < ts->cpu_counts[victim])
			victim = i;
	}
	/* replace the least-seen stack (an empty slot has count 0) */
	victim &= PM_OFF_STALL_STACKS - 1;
	ts->cpu_stacks[victim] = hash;
	ts->cpu_counts[victim] = 1;
}

SEC("perf_event")
int on_loop_sample(struct bpf_perf_event_data *ctx)
{
	loop_sample();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
