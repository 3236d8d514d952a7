// SPDX-License-Identifier: GPL-2.0
/* Database wire capture for tracked Python processes, without syscall tracepoints: the socket
 * layer's sock_send_length/sock_recv_length fire for every socket transfer (in the caller's
 * context, after the copy), so other syscalls of the host cost nothing here. The syscall that
 * made the transfer (read/write/readv/writev/sendto/recvfrom/sendmsg/recvmsg) gives the fd and
 * the user buffer through the task's saved registers. A socket's first send classifies it
 * (PostgreSQL startup or framing, a Redis command, a MySQL handshake response or command, else
 * ignored from then on); every transfer on a database socket is streamed with its head and tail
 * bytes and, for a query-starting send, the Python stack of the sending thread. A (pid, fd) whose
 * struct sock changed was closed and reused: its old connection is reported closed. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"
#include "pystack.bpf.h"
#include "sockchain.bpf.h" /* userspace puts db_send/db_recv there (src/pgwire.c) */

#define NR_read     0
#define NR_write    1
#define NR_readv    19
#define NR_writev   20
#define NR_sendto   44
#define NR_recvfrom 45
#define NR_sendmsg  46
#define NR_recvmsg  47
#define MSG_PEEK    2

const volatile __u32 max_depth = PM_DB_MAX_DEPTH;

/* The transfer being looked at: the syscall's buffer and what the socket layer moved. */
struct xfer {
	__u64 buf;
	__u64 len;     /* bytes the buffer can hold (the first iovec for vectored calls) */
	__u64 ret;     /* bytes moved */
	__s32 fd;
	__u8 dir;
	__u8 state;
	__u8 whole;    /* the buffer is the whole transfer (no further iovecs): a tail may be taken */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_DB_CONNS);
	__type(key, struct pm_db_conn_key);
	__type(value, struct pm_db_conn);
} db_conns SEC(".maps");

/* Sockets that carry nothing for us are marked on the socket itself (sock_notes, shared with the
 * chain's head, bpf/sockchain.bpf.h), so that their transfers cost one lookup and nothing else:
 * SOCK_SKIP_ALL for a protocol we do not read (or TLS), SOCK_SKIP_RECV for one that has only
 * received so far (its first send classifies it); the record's other fields are the I/O source's. */

/* Each sending thread's PyThreadState, so a query's stack walk starts at its frames. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct py_tstate_cache);
} db_threads SEC(".maps");

/* value_size is shrunk by userspace to 8 + max_depth * 16 before load */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_DB_STACKS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct pm_py_stack));
} db_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PM_DB_RINGBUF);
} db_events SEC(".maps");

struct db_scratch {
	__u8 raw[sizeof(struct pm_db_event) + PM_DB_HEAD + PM_DB_TAIL]; /* an event and its bytes */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct db_scratch);
} db_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_py_stack);
} db_stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_DB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} db_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&db_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline __u32 be32(const __u8 *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

/* The first bytes of a socket's first send: PostgreSQL startup/SSLRequest, or frontend framing
 * (a connection opened before we attached). Mirrors pg_classify() in src/pgproto.c. */
static __always_inline __u8 classify(const __u8 *b, __u64 n)
{
	__u32 len, code;
	__u8 t = b[0];

	if (n >= 8) {
		len = be32(b);
		code = be32(b + 4);
		if ((code == 80877103 || code == 80877104) && len == 8)
			return PM_DB_PG;
		if (code == 80877102 && len == 16)
			return PM_DB_PG;
		if ((code >> 16) == 3 && len >= 8 && len <= 10000)
			return PM_DB_PG;
	}
	/* MySQL: a HandshakeResponse41 (sequence 1, CLIENT_PROTOCOL_41) after the server's greeting */
	if (n >= 8 && b[3] == 1 && (b[5] & 0x02) && b[2] == 0 && (b[0] | b[1] << 8) >= 32)
		return PM_DB_MYSQL;
	/* Redis: "*<digit>" opens a command array (resp_classify() checks the rest) */
	if (n >= 4 && t == '*' && b[1] >= '0' && b[1] <= '9')
		return PM_DB_REDIS;
	if (n >= 5 && (t == 'Q' || t == 'P' || t == 'B' || t == 'E' || t == 'S')) {
		len = (__u32)b[1] << 24 | (__u32)b[2] << 16 | (__u32)b[3] << 8 | b[4];
		if (len >= 4 && len <= (1u << 30) && (t != 'S' || len == 4))
			return PM_DB_PG_MID;
	}
	/* MySQL midstream: a command packet (sequence 0) of a connection older than us */
	if (n >= 5 && b[3] == 0 && (b[0] | b[1] | b[2]) &&
	    (b[4] == 0x03 || b[4] == 0x16 || b[4] == 0x17 || b[4] == 0x19 || b[4] == 0x0e || b[4] == 0x01 ||
	     b[4] == 0x02))
		return PM_DB_MYSQL;
	return PM_DB_OTHER;
}

static __always_inline void set_state(struct pm_db_conn_key *k, __u8 state, struct sock *sk)
{
	struct pm_db_conn v = { .state = state, .sk = (__u64)sk };

	bpf_map_update_elem(&db_conns, k, &v, BPF_ANY);
}

/* A query-starting send (PostgreSQL Query, Parse, Bind, Execute; a Redis command array; a MySQL
 * COM_QUERY, COM_STMT_PREPARE or COM_STMT_EXECUTE):
 * remember the thread's Python stack. */
static __always_inline __u64 query_stack(const struct pm_proc_cfg *cfg, __u8 state, const __u8 *first)
{
	struct py_tstate_cache *tc;
	struct pm_py_stack *st;
	__u32 zero = 0;
	__u64 hash;

	if (state == PM_DB_MYSQL ? (first[3] != 0 || (first[4] != 0x03 && first[4] != 0x16 && first[4] != 0x17))
	    : state == PM_DB_REDIS ? first[0] != '*'
				   : (first[0] != 'Q' && first[0] != 'P' && first[0] != 'B' && first[0] != 'E'))
		return 0;
	st = bpf_map_lookup_elem(&db_stack_scratch, &zero);
	if (!st)
		return 0;
	tc = bpf_task_storage_get(&db_threads, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	hash = tc ? py_stack_walk_cached(st, cfg, max_depth, tc) : py_stack_capture(st, cfg, max_depth);
	/* a loop sends the same stack again and again: store it once */
	if (hash && !bpf_map_lookup_elem(&db_stacks, &hash) && bpf_map_update_elem(&db_stacks, &hash, st, BPF_ANY)) {
		stat_inc(PM_DB_STAT_STACK_FULL);
		return 0;
	}
	return hash;
}

/* The connection that (pid, fd) named is gone (the fd now names another socket). */
static __always_inline void report_closed(__u32 pid, int fd, __u8 state)
{
	struct pm_db_event ev = {};

	if (state != PM_DB_PG && state != PM_DB_PG_MID && state != PM_DB_TLS && state != PM_DB_REDIS &&
	    state != PM_DB_MYSQL)
		return;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.hdr.pid = pid;
	ev.hdr.tid = (__u32)bpf_get_current_pid_tgid();
	ev.hdr.kind = PM_EV_DB_CLOSE;
	ev.hdr.len = sizeof(ev);
	ev.fd = fd;
	ev.state = state;
	if (bpf_ringbuf_output(&db_events, &ev, sizeof(ev), BPF_RB_NO_WAKEUP))
		stat_inc(PM_DB_STAT_RB_FULL);
}

/* Fills x->buf/len from the first of n iovecs at iovp. */
static __always_inline int iov_buffer(struct xfer *x, __u64 iovp, __u64 n)
{
	struct iovec iov;

	if (!iovp || !n || bpf_probe_read_user(&iov, sizeof(iov), (void *)iovp))
		return -1;
	x->buf = (__u64)iov.iov_base;
	x->len = iov.iov_len;
	x->whole = n == 1;
	return 0;
}

/* Fills x->buf/len from a user_msghdr's first iovec. */
static __always_inline int msg_buffer(struct xfer *x, __u64 msgp)
{
	struct user_msghdr m;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)msgp))
		return -1;
	return iov_buffer(x, (__u64)m.msg_iov, m.msg_iovlen);
}

/* fd and buffer of the syscall behind this transfer; -1 for one we don't follow (io_uring,
 * sendmmsg, splice, a kernel socket). */
static __always_inline int syscall_buffer(struct xfer *x)
{
	/* a BTF pointer: plain loads (the JIT's guarded PROBE_MEM), not a helper call per field */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr;

	if (!regs)
		return -1;
	nr = regs->orig_ax;
	x->fd = (int)regs->di;
	x->whole = 1;
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_sendto:
	case NR_recvfrom:
		x->buf = regs->si;
		x->len = regs->dx;
		return 0;
	case NR_readv:
	case NR_writev:
		return iov_buffer(x, regs->si, regs->dx);
	case NR_sendmsg:
	case NR_recvmsg:
		return msg_buffer(x, regs->si);
	}
	return -1;
}

/* The socket's state for this (pid, fd): a different struct sock there means the old one was
 * closed and the fd reused. Userspace writes states without the sock (0): adopted here. */
static __always_inline __u8 conn_state(struct pm_db_conn_key *k, struct sock *sk)
{
	struct pm_db_conn *conn = bpf_map_lookup_elem(&db_conns, k);

	if (!conn)
		return PM_DB_UNSEEN;
	if (!conn->sk)
		conn->sk = (__u64)sk;
	else if (conn->sk != (__u64)sk) {
		report_closed(k->pid, k->fd, conn->state);
		bpf_map_delete_elem(&db_conns, k);
		return PM_DB_UNSEEN;
	}
	return conn->state;
}

/* Reads the transfer's head (and, past a full head, its tail) into this CPU's event buffer; head 0
 * when the buffer could not be read. */
static __always_inline struct db_scratch *read_bytes(const struct xfer *x, __u64 *head_out, __u64 *tail_out)
{
	__u64 head, tail = 0, ret = x->ret;
	struct pm_db_event *ev;
	struct db_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&db_scratch, &zero);
	if (!s)
		return NULL;
	ev = (struct pm_db_event *)s->raw;
	head = ret < x->len ? ret : x->len;
	if (head > PM_DB_HEAD)
		head = PM_DB_HEAD;
	if (x->whole && ret > PM_DB_HEAD && ret <= x->len) {
		tail = ret - PM_DB_HEAD;
		if (tail > PM_DB_TAIL)
			tail = PM_DB_TAIL;
	}
	if (bpf_probe_read_user(ev->data, head, (void *)x->buf))
		head = 0;
	/* the tail goes right after a full head */
	if (head != PM_DB_HEAD || (tail && bpf_probe_read_user(ev->data + PM_DB_HEAD, tail, (void *)(x->buf + ret - tail))))
		tail = 0;
	*head_out = head;
	*tail_out = tail;
	return s;
}

/* Streams the transfer with the bytes read_bytes() put in s. */
static __always_inline void emit(const struct xfer *x, struct db_scratch *s, __u64 head, __u64 tail, __u64 stack)
{
	struct pm_db_event *ev = (struct pm_db_event *)s->raw;
	__u64 pid_tgid = bpf_get_current_pid_tgid(), size, wake;

	ev->hdr.ts_ns = bpf_ktime_get_ns();
	ev->hdr.pid = pid_tgid >> 32;
	ev->hdr.tid = (__u32)pid_tgid;
	ev->hdr.kind = PM_EV_DB_DATA;
	ev->pad0 = 0;
	ev->total = x->ret;
	ev->py_stack = stack;
	ev->fd = x->fd;
	ev->dir = x->dir;
	ev->state = x->state;
	ev->head_len = (__u16)head;
	ev->tail_len = (__u16)tail;
	ev->pad = 0;
	ev->pad2 = 0;
	size = sizeof(*ev) + head + tail;
	ev->hdr.len = (__u16)size;
	if (size > sizeof(*s))
		return;
	/* no wake-up while the daemon's turns (~100 ms) keep up; its copier is woken only once a
	 * quarter of the ring is unread (a flood, or an engine held up) */
	wake = bpf_ringbuf_query(&db_events, BPF_RB_AVAIL_DATA) >= PM_DB_RING_WAKE ? BPF_RB_FORCE_WAKEUP
										    : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&db_events, s, size, wake))
		stat_inc(PM_DB_STAT_RB_FULL);
	else
		stat_inc(PM_DB_STAT_EVENTS);
}

static __always_inline void mark(struct sock *sk, __u8 what)
{
	struct sock_note *n = bpf_sk_storage_get(&sock_notes, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (n)
		n->skip = what;
}

static __always_inline void on_transfer(struct sock *sk, int ret, int flags, __u8 dir)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct pm_db_conn_key k = { .pid = pid };
	struct xfer x = { .dir = dir, .ret = ret };
	const struct pm_proc_cfg *cfg;
	__u64 stack = 0, head = 0, tail = 0;
	struct db_scratch *s = NULL;
	const __u8 *first;
	struct sock_note *n;
	bool marked;

	if (ret <= 0 || !sk || (dir == PM_DB_RECV && (flags & MSG_PEEK)))
		return;
	if (!task_tracked(bpf_get_current_task_btf())) /* the host's other processes: a bitmap test */
		return;
	n = bpf_sk_storage_get(&sock_notes, sk, 0, 0);
	if (!chain_wants(n, dir == PM_DB_RECV)) /* tested by the chain's head already, when chained */
		return;
	marked = n && n->skip;
	cfg = bpf_map_lookup_elem(&py_procs, &pid);
	if (!cfg || syscall_buffer(&x))
		return;
	stat_inc(PM_DB_STAT_CALLS);
	k.fd = x.fd;
	/* a marked socket has no connection state: the full path that marked it checked (pid, fd) */
	x.state = marked ? PM_DB_RECV_FIRST : conn_state(&k, sk);
	if (x.state == PM_DB_OTHER || x.state == PM_DB_TLS) {
		mark(sk, SOCK_SKIP_ALL);
		return;
	}
	if (dir == PM_DB_RECV) {
		if (x.state == PM_DB_UNSEEN || x.state == PM_DB_RECV_FIRST) {
			mark(sk, SOCK_SKIP_RECV);
			return;
		}
		s = read_bytes(&x, &head, &tail);
	} else {
		/* the head is read once: it classifies the socket, tells a query start and is streamed */
		s = read_bytes(&x, &head, &tail);
		if (!s || !head) {
			stat_inc(PM_DB_STAT_READ_FAIL);
			return;
		}
		first = ((struct pm_db_event *)s->raw)->data;
		if (x.state == PM_DB_UNSEEN || x.state == PM_DB_RECV_FIRST) {
			x.state = classify(first, head);
			stat_inc(x.state == PM_DB_OTHER ? PM_DB_STAT_NEW_OTHER : PM_DB_STAT_NEW_PG);
			if (x.state == PM_DB_OTHER) {
				mark(sk, SOCK_SKIP_ALL);
				return;
			}
			set_state(&k, x.state, sk);
			if (marked)
				mark(sk, 0); /* a database socket: the full path from now */
		}
		stack = query_stack(cfg, x.state, first);
	}
	if (s)
		emit(&x, s, head, tail, stack);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(db_send, struct sock *sk, int ret, int flags)
{
	on_transfer(sk, ret, flags, PM_DB_SEND);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(db_recv, struct sock *sk, int ret, int flags)
{
	on_transfer(sk, ret, flags, PM_DB_RECV);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
