// SPDX-License-Identifier: GPL-2.0
/* Memory growth by Python stack and GC pauses, always on. The rss_stat tracepoint fires whenever a
 * process's resident-page counter changes; the counter folds in per-CPU batches of >= 32 pages, so
 * reading it at each event and charging the jump to the Python stack of the thread that made it
 * samples first-touch faults (user and kernel mode, THP included) about once per 128 KiB, with
 * no syscall tracepoint. GC pauses come from uprobes on the python:gc__start/gc__done USDT sites
 * or, where the interpreter has none, on its collector's entry and return; both feed one
 * histogram per (pid, generation). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"

#include "pystack.bpf.h"

#define PAGE_SHIFT_X86 12

const volatile __u32 max_depth = PM_DEFAULT_DEPTH;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_mem_proc);
} mem_procs SEC(".maps");

/* value_size is shrunk by userspace to 8 + max_depth * 16 before load */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_MEM_MAX_STACKS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct pm_py_stack));
} mem_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MEM_MAX_KEYS);
	__type(key, struct pm_mem_key);
	__type(value, struct pm_mem_val);
} mem_growth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_py_stack);
} mem_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_MEM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} mem_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_gc_pending);
} gc_pending SEC(".maps");

/* pid -> monotonic ns since which its GC probes are attached (written by userspace before each
 * attach): a pause whose start predates it began while the probes were off and is dropped */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_GC_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} gc_armed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_GC_MAX_PROCS * PM_GC_GENS);
	__type(key, struct pm_gc_key);
	__type(value, struct pm_gc_val);
} gc_pauses SEC(".maps");

static __always_inline void mem_stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mem_stats, &idx);

	if (v)
		(*v)++;
}

/* The stack of the current thread, stored once in mem_stacks; fills key's stack fields. */
static __always_inline void current_stack(__u32 pid, struct pm_mem_key *key)
{
	const struct pm_proc_cfg *cfg = bpf_map_lookup_elem(&py_procs, &pid);
	struct pm_py_stack *st;
	__u32 zero = 0;
	__u64 hash;

	if (!cfg)
		return;
	st = bpf_map_lookup_elem(&mem_scratch, &zero);
	if (!st)
		return;
	hash = py_stack_capture(st, cfg, max_depth);
	key->stack_flags = st->flags;
	if (st->flags & PM_STACK_READ_ERROR)
		mem_stat_inc(PM_MEM_STAT_READ_FAIL);
	if (!st->nframes)
		return;
	key->py_stack_hash = hash;
	if (!bpf_map_lookup_elem(&mem_stacks, &hash) && bpf_map_update_elem(&mem_stacks, &hash, st, BPF_ANY)) {
		mem_stat_inc(PM_MEM_STAT_STACK_FULL);
		key->py_stack_hash = 0;
	}
}

static __always_inline void charge(struct pm_mem_key *key, __u64 fault_bytes, __u64 growth_bytes)
{
	struct pm_mem_val zero = {}, *v = bpf_map_lookup_elem(&mem_growth, key);

	if (!v) {
		bpf_map_update_elem(&mem_growth, key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&mem_growth, key);
		if (!v) {
			mem_stat_inc(PM_MEM_STAT_KEY_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&v->fault_bytes, fault_bytes);
	__sync_fetch_and_add(&v->growth_bytes, growth_bytes);
	__sync_fetch_and_add(&v->events, 1);
}

static __always_inline int rss_change(struct mm_struct *mm, int member)
{
	struct task_struct *task;
	struct pm_mem_key key = {};
	struct pm_mem_proc *p;
	__s64 pages, prev, hwm, growth;
	__u32 pid;

	if (member != MM_ANONPAGES && member != MM_SHMEMPAGES)
		return 0;
	/* only changes a process makes itself: reclaim, fork copies and teardown are no growth by code */
	task = bpf_get_current_task_btf();
	if (task->mm != mm)
		return 0;
	pid = bpf_get_current_pid_tgid() >> 32;
	if (!pid_tracked(pid)) /* every resident-page change on the host lands here: a bitmap test */
		return 0;
	p = bpf_map_lookup_elem(&mem_procs, &pid);
	if (!p)
		return 0;
	pages = mm->rss_stat[MM_ANONPAGES].count + mm->rss_stat[MM_SHMEMPAGES].count;
	/* two threads racing here may both charge one batch; rare and small */
	prev = p->last_pages;
	p->last_pages = pages;
	if (pages <= prev)
		return 0;
	hwm = p->hwm_pages;
	growth = 0;
	if (pages > hwm) {
		growth = pages - (prev > hwm ? prev : hwm);
		p->hwm_pages = pages;
	}
	mem_stat_inc(PM_MEM_STAT_EVENTS);
	key.pid = pid;
	current_stack(pid, &key);
	charge(&key, (__u64)(pages - prev) << PAGE_SHIFT_X86, (__u64)growth << PAGE_SHIFT_X86);
	return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat, struct mm_struct *mm, int member)
{
	return rss_change(mm, member);
}

/* ---- GC pauses ---------------------------------------------------------------------------- */

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

static __always_inline int gc_start(long generation)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct pm_gc_pending *g;

	if (!bpf_map_lookup_elem(&gc_armed, &pid))
		return 0;
	g = bpf_task_storage_get(&gc_pending, bpf_get_current_task_btf(), NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!g)
		return 0;
	g->generation = generation >= 0 && generation < PM_GC_GEN_UNKNOWN ? generation : PM_GC_GEN_UNKNOWN;
	g->start_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int gc_done(void)
{
	struct pm_gc_pending *g = bpf_task_storage_get(&gc_pending, bpf_get_current_task_btf(), NULL, 0);
	struct pm_gc_key key;
	struct pm_gc_val zero = {}, *v;
	__u64 ns, us, *armed;
	__u32 b;

	if (!g || !g->start_ns)
		return 0;
	ns = bpf_ktime_get_ns() - g->start_ns;
	key.pid = bpf_get_current_pid_tgid() >> 32;
	armed = bpf_map_lookup_elem(&gc_armed, &key.pid);
	if (!armed || g->start_ns < *armed) {
		g->start_ns = 0;
		return 0;
	}
	g->start_ns = 0;
	key.generation = g->generation;
	v = bpf_map_lookup_elem(&gc_pauses, &key);
	if (!v) {
		bpf_map_update_elem(&gc_pauses, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&gc_pauses, &key);
		if (!v) {
			mem_stat_inc(PM_MEM_STAT_GC_FULL);
			return 0;
		}
	}
	us = ns / 1000;
	b = us < 2 ? 0 : log2_u64(us);
	if (b >= PM_GC_BUCKETS)
		b = PM_GC_BUCKETS - 1;
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->sum_ns, ns);
	__sync_fetch_and_add(&v->buckets[b], 1);
	return 0;
}

/* A USDT argument as located by userspace from the probe's note (PM_USDT_ARG). */
static __always_inline long usdt_arg(struct pt_regs *ctx, __u64 spec)
{
	__u32 reg = PM_USDT_REG_OF(spec), size = PM_USDT_SIZE_OF(spec);
	__s32 off = PM_USDT_OFF_OF(spec);
	unsigned long v = 0;
	__u64 mem = 0;

	if (PM_USDT_KIND_OF(spec) == PM_USDT_CONST)
		return off;
	if (reg >= sizeof(struct pt_regs) / 8 ||
	    bpf_probe_read_kernel(&v, sizeof(v), (void *)ctx + reg * 8))
		return -1;
	if (PM_USDT_KIND_OF(spec) == PM_USDT_DEREF) {
		/* 8 bytes and truncate below: the verifier wants a constant size */
		if (bpf_probe_read_user(&mem, sizeof(mem), (void *)(v + off)))
			return -1;
		v = mem;
	}
	switch (size) {
	case 1:
		return PM_USDT_SIGNED(spec) ? (long)(__s8)v : (long)(__u8)v;
	case 2:
		return PM_USDT_SIGNED(spec) ? (long)(__s16)v : (long)(__u16)v;
	case 4:
		return PM_USDT_SIGNED(spec) ? (long)(__s32)v : (long)(__u32)v;
	default:
		return (long)v;
	}
}

/* A collection starts: the collector's entry, or the python:gc__start USDT site. The attach
 * cookie (PM_GC_ARG_*) says where the generation is. */
SEC("uprobe")
int on_gc_enter(struct pt_regs *ctx)
{
	__u64 how = bpf_get_attach_cookie(ctx);
	long gen = -1;

	if ((how & 0xffff) == PM_GC_ARG_PARM1)
		gen = (int)PT_REGS_PARM1(ctx);
	else if ((how & 0xffff) == PM_GC_ARG_PARM2)
		gen = (int)PT_REGS_PARM2(ctx);
	else if (how & PM_GC_ARG_USDT)
		gen = usdt_arg(ctx, how);
	else if (how & PM_GC_ARG_CONST)
		gen = how & 0xff;
	return gc_start(gen);
}

/* A collection ends: the collector's return, or the python:gc__done USDT site. */
SEC("uretprobe")
int on_gc_exit(struct pt_regs *ctx)
{
	return gc_done();
}

char LICENSE[] SEC("license") = "GPL";
