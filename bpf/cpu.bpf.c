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
#include "pystack.bpf.h"
#include "sockchain.bpf.h" /* owned here, shared with the socket hooks' objects */

const volatile __u32 max_depth = PM_DEFAULT_DEPTH;
const volatile bool kernel_stacks = false;
const volatile bool user_stacks = false;


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

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&cpu_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, zero = 0;
	struct pm_cpu_key key = { .pid = pid, .tid = (__u32)id, .kstack_id = -1, .ustack_id = -1 };
	const struct pm_proc_cfg *cfg;
	struct pm_py_stack *st;
	__u64 hash, one = 1, *cnt;

	cfg = bpf_map_lookup_elem(&py_procs, &pid);
	if (!cfg)
		return 0;
	stat_inc(PM_STAT_SAMPLES);
	st = bpf_map_lookup_elem(&scratch, &zero);
	if (!st)
		return 0;
	hash = py_stack_capture(st, cfg, max_depth);
	if (st->flags & PM_STACK_NO_TSTATE)
		stat_inc(PM_STAT_NO_TSTATE);
	if (st->flags & PM_STACK_TRUNCATED)
		stat_inc(PM_STAT_TRUNCATED);
	if (st->flags & PM_STACK_READ_ERROR)
		stat_inc(PM_STAT_READ_FAIL);

	key.stack_flags = st->flags;
	if (st->nframes) {
		key.py_stack_hash = hash;
		if (bpf_map_update_elem(&py_stacks, &key.py_stack_hash, st, BPF_ANY)) {
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
