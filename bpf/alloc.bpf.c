// SPDX-License-Identifier: GPL-2.0
/* Opt-in allocation profiling for `pyrometer alloc`: uprobes on the interpreter's allocators (and
 * libc's malloc family for what they do not cover) in one target process. Every call is counted;
 * one in about every `interval` bytes is sampled with its Python stack and weighed by the bytes it
 * stands for, and sampled pointers are watched until freed, so the end shows what is still live.
 * A libc call made from inside an interpreter allocator is the same allocation and is skipped. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"
#include "pystack.bpf.h"

const volatile __u32 target_pid = 0;
const volatile __u32 max_depth = PM_DEFAULT_DEPTH;
const volatile __u64 interval = 256 * 1024;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_alloc_thread);
} alloc_thread SEC(".maps");

/* value_size is shrunk by userspace to 8 + max_depth * 16 before load */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_MAX_STACKS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct pm_py_stack));
} alloc_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_ALLOC_MAX_KEYS);
	__type(key, struct pm_alloc_key);
	__type(value, struct pm_alloc_val);
} alloc_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_ALLOC_MAX_LIVE);
	__type(key, __u64);
	__type(value, struct pm_alloc_live);
} alloc_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_py_stack);
} alloc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_ALLOC_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} alloc_stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&alloc_stats, &idx);

	if (v)
		*v += n;
}

/* The first four arguments; loaded at constant offsets (the verifier refuses a computed one). */
static __always_inline void args_of(struct pt_regs *ctx, __u64 *a)
{
	a[0] = PT_REGS_PARM1(ctx);
	a[1] = PT_REGS_PARM2(ctx);
	a[2] = PT_REGS_PARM3(ctx);
	a[3] = PT_REGS_PARM4(ctx);
}

static __always_inline struct pm_alloc_thread *thread_state(bool create)
{
	return bpf_task_storage_get(&alloc_thread, bpf_get_current_task_btf(), NULL,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline void forget(__u64 ptr)
{
	if (ptr)
		bpf_map_delete_elem(&alloc_live, &ptr);
}

/* The current Python stack, stored once; fills key's stack fields. */
static __always_inline void stack_of(struct pm_alloc_key *key)
{
	__u32 pid = target_pid, zero = 0;
	const struct pm_proc_cfg *cfg = bpf_map_lookup_elem(&py_procs, &pid);
	struct pm_py_stack *st;
	__u64 hash;

	if (!cfg || !(st = bpf_map_lookup_elem(&alloc_scratch, &zero)))
		return;
	hash = py_stack_capture(st, cfg, max_depth);
	key->stack_flags = st->flags;
	if (!st->nframes)
		return;
	key->py_stack_hash = hash;
	if (!bpf_map_lookup_elem(&alloc_stacks, &hash) && bpf_map_update_elem(&alloc_stacks, &hash, st, BPF_ANY)) {
		stat_add(PM_ALLOC_STAT_STACK_FULL, 1);
		key->py_stack_hash = 0;
	}
}

static __always_inline __s64 gap(void)
{
	return interval / 2 + bpf_get_prandom_u32() % (interval ? interval : 1);
}

/* One completed outermost allocation of size bytes at ptr. */
static __always_inline void record(struct pm_alloc_thread *t, __u64 ptr, __u64 size, __u32 domain)
{
	struct pm_alloc_key key = { .domain = domain };
	struct pm_alloc_val zero = {}, *v;
	struct pm_alloc_live live = {};
	__u64 weight, count;

	stat_add(domain == PM_DOMAIN_RAW ? PM_ALLOC_STAT_RAW_CALLS : PM_ALLOC_STAT_PY_CALLS, 1);
	stat_add(domain == PM_DOMAIN_RAW ? PM_ALLOC_STAT_RAW_BYTES : PM_ALLOC_STAT_PY_BYTES, size);
	if (size >= interval) {
		weight = size; /* always sampled, for exactly what it is */
	} else {
		/* gaps between samples are uniform in [interval/2, 3*interval/2), mean interval; the
		 * overshoot carries over, so each crossed gap is worth one interval */
		if (!t->left)
			t->left = gap();
		t->left -= (__s64)size;
		if (t->left > 0)
			return;
		weight = 0;
		for (int i = 0; i < 2 && t->left <= 0; i++) {
			t->left += gap();
			weight += interval;
		}
	}
	count = size ? (weight + size / 2) / size : 1;
	stat_add(PM_ALLOC_STAT_SAMPLES, 1);
	stack_of(&key);
	v = bpf_map_lookup_elem(&alloc_sites, &key);
	if (!v) {
		bpf_map_update_elem(&alloc_sites, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&alloc_sites, &key);
		if (!v) {
			stat_add(PM_ALLOC_STAT_KEY_FULL, 1);
			return;
		}
	}
	__sync_fetch_and_add(&v->samples, 1);
	__sync_fetch_and_add(&v->bytes, weight);
	__sync_fetch_and_add(&v->count, count);
	live.py_stack_hash = key.py_stack_hash;
	live.bytes = weight;
	live.count = count;
	live.domain = domain;
	live.stack_flags = key.stack_flags;
	if (bpf_map_update_elem(&alloc_live, &ptr, &live, BPF_ANY))
		stat_add(PM_ALLOC_STAT_LIVE_FULL, 1);
}

static __always_inline int on_enter(struct pt_regs *ctx)
{
	__u64 c = bpf_get_attach_cookie(ctx), size, old = 0, a[4], x, y;
	struct pm_alloc_thread *t;

	if (bpf_get_current_pid_tgid() >> 32 != target_pid)
		return 0;
	args_of(ctx, a);
	/* pymalloc's own functions take the allocator's ctx first */
	x = c & PM_ALLOC_CTX ? a[1] : a[0];
	y = c & PM_ALLOC_CTX ? a[2] : a[1];
	if ((c & PM_ALLOC_KIND_MASK) == PM_ALLOC_FREE) {
		stat_add(PM_ALLOC_STAT_FREES, 1);
		forget(x);
		return 0;
	}
	t = thread_state(true);
	if (!t)
		return 0;
	switch (c & PM_ALLOC_KIND_MASK) {
	case PM_ALLOC_CALLOC:
		size = x * y;
		break;
	case PM_ALLOC_REALLOC:
		old = x;
		size = y;
		break;
	default:
		size = x;
	}
	if (c & PM_ALLOC_RAW) {
		if (t->py_depth) /* inside an interpreter allocator: the same allocation */
			return 0;
		t->raw_size = size;
		t->raw_old = old;
		t->raw_pending = 1;
		return 0;
	}
	/* a return we never saw (probes attached mid-call) would leave the depth up for good:
	 * a call on a stack no deeper than the outermost one's is a new outermost call */
	if (t->py_depth && PT_REGS_SP(ctx) >= t->py_sp)
		t->py_depth = 0;
	if (t->py_depth++)
		return 0;
	t->py_sp = PT_REGS_SP(ctx);
	t->py_size = size;
	t->py_old = old;
	return 0;
}

static __always_inline int on_exit(struct pt_regs *ctx)
{
	__u64 c = bpf_get_attach_cookie(ctx), ptr = PT_REGS_RC(ctx), size, old;
	struct pm_alloc_thread *t;
	__u32 domain;

	if (bpf_get_current_pid_tgid() >> 32 != target_pid || !(t = thread_state(false)))
		return 0;
	if (c & PM_ALLOC_RAW) {
		if (t->py_depth || !t->raw_pending)
			return 0;
		t->raw_pending = 0;
		size = t->raw_size;
		old = t->raw_old;
		domain = PM_DOMAIN_RAW;
	} else {
		if (!t->py_depth || --t->py_depth)
			return 0;
		size = t->py_size;
		old = t->py_old;
		domain = PM_DOMAIN_PYTHON;
	}
	if (!ptr)
		return 0;
	/* a realloc moves (or keeps) the block: its old sample is gone, the result may be sampled */
	forget(old);
	record(t, ptr, size, domain);
	return 0;
}

SEC("uprobe")
int on_alloc_enter(struct pt_regs *ctx)
{
	return on_enter(ctx);
}

SEC("uretprobe")
int on_alloc_exit(struct pt_regs *ctx)
{
	return on_exit(ctx);
}

char LICENSE[] SEC("license") = "GPL";
