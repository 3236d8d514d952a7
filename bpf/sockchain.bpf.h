/* The socket-transfer hooks' chain. Every tracked process's socket transfer runs two handlers (the
 * I/O counters of bpf/io.bpf.c, the wire capture of bpf/pgwire.bpf.c) on the same two tracepoints.
 * Entering a BPF program from a tracepoint costs more in these VMs than a tail call, so only the
 * I/O source attaches there: for a tracked task it tail-calls the program in slot 0 of the
 * direction's array (the wire capture's, when it runs; an empty slot falls through), unless the
 * socket is marked as one that handler does not want. Owned by the CPU sampler's object like the
 * maps of tracked.bpf.h and shared with the others by name (engine_share_tracked()). Include after
 * vmlinux.h and bpf_helpers.h. */
#ifndef SOCKCHAIN_BPF_H
#define SOCKCHAIN_BPF_H

/* one array per tracepoint: a tail call's target must take the caller's arguments */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sock_send_chain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sock_recv_chain SEC(".maps");

/* One record per socket both handlers use (on the socket itself, freed with it), so that a tracked
 * process's transfer costs one socket-storage lookup for both: the I/O source's owner (whose it is,
 * for softirq-time events) and what the next handler wants of it, marked by that handler: nothing
 * (SOCK_SKIP_ALL: a protocol it does not read) or its sends only (SOCK_SKIP_RECV: a socket that has
 * only received so far, classified at its first send). The head tests the mark before the tail
 * call, so such transfers cost the next handler nothing. */
#define SOCK_SKIP_ALL  1
#define SOCK_SKIP_RECV 2

/* How a TCP socket's transfers are made, as its first one was: by read/write/readv/writev (each
 * later transfer's syscall is looked at again) or by the send/recv family (it is not). */
#define SOCK_VIA_UNKNOWN 0
#define SOCK_VIA_RW      1
#define SOCK_VIA_SENDRECV 2

struct sock_note {
	__u32 pid;        /* I/O: the tracked process that used it last */
	__u8 outbound;    /* I/O: that process connected it (the peer's port names the service) */
	__u8 skip;        /* wire capture: SOCK_SKIP_*, 0 for none */
	__u8 via;         /* I/O: SOCK_VIA_*, how its first transfer was made */
	__u8 pad;
	__u64 connect_ts; /* I/O: SYN sent at, 0 when not connecting */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_note);
} sock_notes SEC(".maps");

/* Whether the next handler wants a transfer of the socket whose record is n (NULL: none yet). */
static __always_inline bool chain_wants(const struct sock_note *n, bool recv)
{
	return !n || !n->skip || (!recv && n->skip != SOCK_SKIP_ALL);
}

#endif
