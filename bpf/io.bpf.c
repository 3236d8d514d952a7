// SPDX-License-Identifier: GPL-2.0
/* Socket I/O and TCP peers of tracked Python processes, without syscall tracepoints: the socket
 * layer's sock_send_length/sock_recv_length give bytes by socket kind (in the sender's context),
 * and the sock/tcp tracepoints give connect latency, failures, retransmits and resets per remote
 * peer. TCP sockets seen in a tracked process's context carry their owner in socket-local storage
 * (freed with the socket) so that softirq-time events (handshake completion, retransmits) can be
 * attributed. The per-transfer path is a bitmap test for an untracked process (task_tracked_slot()),
 * and for a tracked one a per-CPU counter update without atomics in its slot of an array
 * (userspace sums the CPUs). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"
#include "tracked.bpf.h" /* the CPU sampler's maps, shared */
#include "sockchain.bpf.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20


/* by pm_proc_cfg.slot: an array lookup, which the verifier inlines, where a hash took ~85 ns */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_io_proc);
} io_procs SEC(".maps");

/* a TCP socket's owner lives in the chain's per-socket record (struct sock_note, sockchain.bpf.h) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_IO_MAX_PEERS);
	__type(key, struct pm_tcp_peer_key);
	__type(value, struct pm_tcp_peer_val);
} tcp_peers SEC(".maps");

__u64 peer_drops = 0;

static __always_inline __u32 sock_kind(struct sock *sk, __u16 *family)
{
	__u16 proto = sk->sk_protocol; /* the tracepoint's BTF pointer: plain loads */

	*family = sk->__sk_common.skc_family;
	if (*family == AF_UNIX)
		return PM_IO_UNIX;
	if (*family != AF_INET && *family != AF_INET6)
		return PM_IO_SOCK_OTHER;
	return proto == IPPROTO_TCP ? PM_IO_TCP : proto == IPPROTO_UDP ? PM_IO_UDP : PM_IO_SOCK_OTHER;
}

/* A TCP socket used by a tracked process: remember whose it is. Its record, or NULL. */
static __always_inline struct sock_note *own(struct sock *sk, __u32 pid)
{
	struct sock_note *o = bpf_sk_storage_get(&sock_notes, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (o && o->pid != pid)
		o->pid = pid; /* new, or passed to another process */
	return o;
}

/* Counts one transfer of a tracked process (false for the host's others) and gives the socket's
 * record (*note, for the chain's next handler; NULL if it has none). */
static __always_inline bool sock_io(struct sock *sk, int ret, int dir, struct sock_note **note)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 pid, kind, slot;
	struct sock_note *tcp;
	struct pm_io_proc *p;
	struct pt_regs *regs;
	__u16 family;
	bool vfs;
	long nr;

	*note = NULL;
	if (ret <= 0 || !sk || !task_tracked_slot(task, &slot))
		return false;
	pid = task->tgid;
	kind = sock_kind(sk, &family) & (PM_IO_SOCK_KINDS - 1);
	/* one lookup for both handlers; only TCP sockets get a record here (for softirq-time events) */
	*note = kind == PM_IO_TCP ? own(sk, pid) : bpf_sk_storage_get(&sock_notes, sk, 0, 0);
	p = bpf_map_lookup_elem(&io_procs, &slot);
	if (!p)
		return true;
	/* this CPU's copy: no other writer while we run (preemption is off in BPF programs) */
	p->bytes[kind][dir & 1] += ret;
	p->ops[kind][dir & 1]++;
	/* the syscall (~25 ns here): once for a TCP socket that sends and receives with the send/recv
	 * family, as Python's socket module does; every time for one that uses read/write (libuv) */
	tcp = kind == PM_IO_TCP ? *note : NULL;
	if (tcp && tcp->via == SOCK_VIA_SENDRECV)
		return true;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = regs ? regs->orig_ax : -1; /* a BTF pointer: a plain load */
	vfs = nr == NR_read || nr == NR_write || nr == NR_readv || nr == NR_writev;
	if (vfs) {
		p->vfs_bytes[dir & 1] += ret;
		p->vfs_ops[dir & 1]++;
	}
	if (tcp && tcp->via == SOCK_VIA_UNKNOWN)
		tcp->via = vfs ? SOCK_VIA_RW : SOCK_VIA_SENDRECV;
	return true;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(on_send, struct sock *sk, int ret, int flags)
{
	struct sock_note *n;

	if (sock_io(sk, ret, PM_IO_WRITE, &n) && chain_wants(n, false))
		bpf_tail_call(ctx, &sock_send_chain, 0);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(on_recv, struct sock *sk, int ret, int flags)
{
	struct sock_note *n;

	if (sock_io(sk, ret, PM_IO_READ, &n) && chain_wants(n, true))
		bpf_tail_call(ctx, &sock_recv_chain, 0);
	return 0;
}

/* ---- TCP peers ------------------------------------------------------------------------------ */

static __always_inline struct pm_tcp_peer_val *peer_of(const struct sock *sk, const struct sock_note *o)
{
	struct pm_tcp_peer_key k = { .pid = o->pid };
	struct pm_tcp_peer_val zero = {}, *v;

	k.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (k.family == AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(k.addr, &a, 4);
	} else if (k.family == AF_INET6) {
		BPF_CORE_READ_INTO(&k.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return NULL;
	}
	if (o->outbound)
		k.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	v = bpf_map_lookup_elem(&tcp_peers, &k);
	if (v)
		return v;
	if (bpf_map_update_elem(&tcp_peers, &k, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(&tcp_peers, &k)) {
		__sync_fetch_and_add(&peer_drops, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&tcp_peers, &k);
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

static __always_inline void connect_done(const struct sock *sk, struct sock_note *o, bool ok)
{
	struct pm_tcp_peer_val *v = peer_of(sk, o);
	__u64 ns = bpf_ktime_get_ns() - o->connect_ts;
	__u32 slot = log2_us(ns);

	o->connect_ts = 0;
	if (!v)
		return;
	if (!ok) {
		__sync_fetch_and_add(&v->failed, 1);
		return;
	}
	__sync_fetch_and_add(&v->connects, 1);
	__sync_fetch_and_add(&v->connect_ns, ns);
	if (ns > v->connect_max_ns)
		v->connect_max_ns = ns;
	if (slot < PM_OFF_HIST_SLOTS)
		__sync_fetch_and_add(&v->connect_hist[slot], 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, int oldstate, int newstate)
{
	struct sock *s = (struct sock *)sk;
	struct sock_note *o;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) { /* in the connecting thread's context */
		__u32 pid = bpf_get_current_pid_tgid() >> 32;

		if (!task_tracked(bpf_get_current_task_btf()))
			return 0;
		o = bpf_sk_storage_get(&sock_notes, s, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (o) {
			o->pid = pid;
			o->outbound = 1;
			o->connect_ts = bpf_ktime_get_ns();
		}
		return 0;
	}
	o = bpf_sk_storage_get(&sock_notes, s, 0, 0);
	if (!o)
		return 0;
	if (oldstate == TCP_SYN_SENT && o->connect_ts)
		connect_done(sk, o, newstate == TCP_ESTABLISHED);
	if (newstate == TCP_CLOSE)
		bpf_sk_storage_delete(&sock_notes, s); /* a closed socket is reported no more */
	return 0;
}

static __always_inline void peer_event(const struct sock *sk, int what)
{
	struct sock_note *o = sk ? bpf_sk_storage_get(&sock_notes, (struct sock *)sk, 0, 0) : NULL;
	struct pm_tcp_peer_val *v = o ? peer_of(sk, o) : NULL;

	if (!v)
		return;
	if (what == 0)
		__sync_fetch_and_add(&v->retransmits, 1);
	else if (what == 1)
		__sync_fetch_and_add(&v->resets_sent, 1);
	else
		__sync_fetch_and_add(&v->resets_received, 1);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(on_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	peer_event(sk, 0);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	peer_event(sk, 1);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, struct sock *sk)
{
	peer_event(sk, 2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
