// SPDX-License-Identifier: GPL-2.0
/* The cheapest possible sys_enter/sys_exit pair: what attaching any syscall tracepoint costs every
 * syscall on the host. Loaded only by the benchmark helper (tests/tools/sysfloor.c) as the floor
 * that pyrometer's own syscall programs are measured against. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
