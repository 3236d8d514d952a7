// SPDX-License-Identifier: GPL-2.0
/* Process lifecycle for discovery: exec, fork of new thread groups and group-leader exits,
 * streamed to userspace as small records (each one matters). BTF tracepoints need no tracefs. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

__u64 proc_drops = 0;

static __always_inline void emit(__u16 kind, __u32 pid, __u32 tid, __u32 ppid)
{
	struct pm_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&proc_drops, 1);
		return;
	}
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.pid = pid;
	e->hdr.tid = tid;
	e->hdr.kind = kind;
	e->hdr.len = sizeof(*e);
	e->hdr.pad = 0;
	e->ppid = ppid;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	emit(PM_EV_EXEC, p->tgid, p->pid, BPF_CORE_READ(p, real_parent, tgid));
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (child->pid != child->tgid) /* a new thread, not a new process */
		return 0;
	emit(PM_EV_FORK, child->tgid, child->pid, parent->tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (p->pid != p->tgid)
		return 0;
	emit(PM_EV_EXIT, p->tgid, p->pid, BPF_CORE_READ(p, real_parent, tgid));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
