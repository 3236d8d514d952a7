// SPDX-License-Identifier: GPL-2.0
/* On-CPU sampling with Python stacks. A perf_event (cpu-clock) program finds the sampled thread's own
 * PyThreadState through the pthread TSS slot, walks the interpreter frame chain with the offsets
 * userspace wrote into py_procs, and counts (pid, tid, stack) in the kernel. Stacks are stored once,
 * content-addressed by a hash of their frames. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"

const volatile __u32 max_depth = PM_DEFAULT_DEPTH;
const volatile bool kernel_stacks = false;
const volatile bool user_stacks = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_proc_cfg);
} py_procs SEC(".maps");

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
	__type(key, struct pm_cpu_key);
	__type(value, __u64);
} cpu_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PM_NATIVE_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PM_NATIVE_DEPTH * sizeof(__u64));
} native_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_py_stack);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cpu_stats SEC(".maps");

struct walk_ctx {
	struct pm_py_stack *st;
	const struct pm_proc_cfg *cfg;
	__u64 frame;
	__u64 hash;
	__u32 depth;
	bool done;
};

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&cpu_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static __always_inline int read_lasti(const struct pm_proc_cfg *cfg, __u64 frame, __u64 code, __s32 *lasti)
{
	const struct pm_walk_offsets *off = &cfg->off;
	__u64 ptr;

	if (off->instr_kind <= PM_INSTR_LASTI_UNITS)
		return bpf_probe_read_user(lasti, sizeof(*lasti), (void *)(frame + off->frame_instr));
	if (bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(frame + off->frame_instr)))
		return -1;
	*lasti = ptr >= code + off->code_adaptive ? (__s32)((ptr - code - off->code_adaptive) >> 1) : -1;
	return 0;
}

/* One frame per iteration: skips C-stack shim frames, records the rest, stops at the bottom. */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *c = data;
	const struct pm_walk_offsets *off = &c->cfg->off;
	__u64 code = 0, prev = 0;
	__s32 lasti = -1;
	__u8 owner = 0;
	__u32 n;

	if (!c->frame) {
		c->done = true;
		return 1;
	}
	if (bpf_probe_read_user(&code, sizeof(code), (void *)(c->frame + off->frame_code)) ||
	    bpf_probe_read_user(&prev, sizeof(prev), (void *)(c->frame + off->frame_previous))) {
		c->st->flags |= PM_STACK_READ_ERROR;
		c->done = true;
		return 1;
	}
	if (off->frame_owner != PM_NO_OFFSET && off->owner_skip_min)
		bpf_probe_read_user(&owner, sizeof(owner), (void *)(c->frame + off->frame_owner));
	if ((off->owner_skip_min && owner >= off->owner_skip_min) || !code ||
	    (c->cfg->none_addr && code == c->cfg->none_addr)) {
		c->frame = prev;
		return 0;
	}
	n = c->st->nframes;
	if (n >= c->depth || n >= PM_MAX_DEPTH) {
		c->st->flags |= PM_STACK_TRUNCATED;
		c->done = true;
		return 1;
	}
	read_lasti(c->cfg, c->frame, code, &lasti);
	c->st->frames[n & (PM_MAX_DEPTH - 1)].code = code;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].lasti = lasti;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].pad = 0;
	c->st->nframes = n + 1;
	c->hash = mix(mix(c->hash, code), (__u32)lasti);
	c->frame = prev;
	return 0;
}

/* The thread's own PyThreadState via glibc's pthread_getspecific layout, or 0. */
static __always_inline __u64 current_tstate(const struct pm_proc_cfg *cfg)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	__u64 tstate = 0, thread_id = 0;
	__s32 key = -1;

	if (!fsbase ||
	    bpf_probe_read_user(&key, sizeof(key), (void *)(cfg->runtime_addr + cfg->off.runtime_tss_key)))
		return 0;
	if (key < 0 || key >= 32)
		return 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate),
				(void *)(fsbase + cfg->tsd_first_block + key * 16 + 8)) || !tstate)
		return 0;
	if (cfg->flags & PM_PROC_VERIFY_TID) {
		if (bpf_probe_read_user(&thread_id, sizeof(thread_id), (void *)(tstate + cfg->off.tstate_thread_id)) ||
		    thread_id != fsbase)
			return 0;
	}
	return tstate;
}

static __always_inline __u64 top_frame(const struct pm_proc_cfg *cfg, __u64 tstate)
{
	__u64 p = 0;

	if (bpf_probe_read_user(&p, sizeof(p), (void *)(tstate + cfg->off.tstate_frame)) || !p)
		return 0;
	if (cfg->off.cframe_current_frame == PM_NO_OFFSET)
		return p;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(p + cfg->off.cframe_current_frame)))
		return 0;
	return p;
}

static __always_inline int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, zero = 0;
	struct pm_cpu_key key = { .pid = pid, .tid = (__u32)id, .kstack_id = -1, .ustack_id = -1 };
	const struct pm_proc_cfg *cfg;
	struct walk_ctx c = {};
	__u64 tstate, one = 1, *cnt;

	cfg = bpf_map_lookup_elem(&py_procs, &pid);
	if (!cfg)
		return 0;
	stat_inc(PM_STAT_SAMPLES);
	c.st = bpf_map_lookup_elem(&scratch, &zero);
	if (!c.st)
		return 0;
	c.st->nframes = 0;
	c.st->flags = 0;
	c.cfg = cfg;
	c.depth = max_depth;
	c.hash = 0xcbf29ce484222325ULL;

	tstate = current_tstate(cfg);
	if (tstate)
		c.frame = top_frame(cfg, tstate);
	if (!tstate) {
		c.st->flags |= PM_STACK_NO_TSTATE;
		stat_inc(PM_STAT_NO_TSTATE);
	} else {
		/* extra iterations let shim frames be skipped without spending depth */
		bpf_loop(max_depth + 64, walk_step, &c, 0);
		if (!c.done && c.frame)
			c.st->flags |= PM_STACK_TRUNCATED;
	}
	if (c.st->flags & PM_STACK_TRUNCATED)
		stat_inc(PM_STAT_TRUNCATED);
	if (c.st->flags & PM_STACK_READ_ERROR)
		stat_inc(PM_STAT_READ_FAIL);

	key.stack_flags = c.st->flags;
	if (c.st->nframes) {
		key.py_stack_hash = mix(c.hash, c.st->nframes) | 1;
		if (bpf_map_update_elem(&py_stacks, &key.py_stack_hash, c.st, BPF_ANY)) {
			stat_inc(PM_STAT_STACK_FULL);
			key.py_stack_hash = 0;
		}
	}
	if (kernel_stacks)
		key.kstack_id = bpf_get_stackid(ctx, &native_stacks, 0);
	if (user_stacks)
		key.ustack_id = bpf_get_stackid(ctx, &native_stacks, BPF_F_USER_STACK);

	cnt = bpf_map_lookup_elem(&cpu_counts, &key);
	if (cnt) {
		__sync_fetch_and_add(cnt, 1);
	} else if (bpf_map_update_elem(&cpu_counts, &key, &one, BPF_NOEXIST)) {
		cnt = bpf_map_lookup_elem(&cpu_counts, &key);
		if (cnt)
			__sync_fetch_and_add(cnt, 1);
		else
			stat_inc(PM_STAT_COUNT_FULL);
	}
	return 0;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	return sample(ctx);
}

char LICENSE[] SEC("license") = "GPL";
