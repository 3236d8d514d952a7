// SPDX-License-Identifier: GPL-2.0
/* Database wire capture for tracked Python processes. The raw syscall tracepoints keep only
 * read/write/sendto/recvfrom/sendmsg/recvmsg/close of processes in py_procs; a socket's first
 * send classifies it (PostgreSQL startup or framing, a Redis command, a MySQL handshake response
 * or command, else ignored from then on), and every
 * transfer on a database socket is streamed with its head and tail bytes, its timing and, for a
 * query-starting send, the Python stack of the sending thread. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "pyrometer_bpf.h"
#include "pystack.bpf.h"

#define NR_read     0
#define NR_write    1
#define NR_close    3
#define NR_sendto   44
#define NR_recvfrom 45
#define NR_sendmsg  46
#define NR_recvmsg  47
#define S_IFMT      00170000
#define S_IFSOCK    0140000

const volatile __u32 max_depth = PM_DB_MAX_DEPTH;

struct call {
	__u64 buf;
	__u64 len;     /* bytes the buffer can hold (the first iovec for *msg) */
	__u64 enter_ns;
	__u64 stack;
	__s32 fd;
	__u8 dir;
	__u8 state;
	__u8 whole;    /* the buffer is the whole transfer (no further iovecs): a tail may be taken */
	__u8 active;   /* set at entry of a captured call, cleared at its exit */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_DB_CONNS);
	__type(key, struct pm_db_conn_key);
	__type(value, struct pm_db_conn);
} db_conns SEC(".maps");

/* The call in progress of a thread, entry to exit: task storage, no hashing on the hot path. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call);
} db_calls SEC(".maps");

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

static __always_inline bool is_socket(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *f = NULL;
	struct fdtable *fdt;
	unsigned int max;
	umode_t mode;

	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0)
		return false;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

static __always_inline void set_state(struct pm_db_conn_key *k, __u8 state)
{
	struct pm_db_conn v = { .state = state };

	bpf_map_update_elem(&db_conns, k, &v, BPF_ANY);
}

/* A query-starting send (PostgreSQL Query, Parse, Bind, Execute; a Redis command array; a MySQL
 * COM_QUERY, COM_STMT_PREPARE or COM_STMT_EXECUTE):
 * remember the thread's Python stack. */
static __always_inline __u64 query_stack(const struct pm_proc_cfg *cfg, __u8 state, const __u8 *first)
{
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
	hash = py_stack_capture(st, cfg, max_depth);
	/* a loop sends the same stack again and again: store it once */
	if (hash && !bpf_map_lookup_elem(&db_stacks, &hash) && bpf_map_update_elem(&db_stacks, &hash, st, BPF_ANY)) {
		stat_inc(PM_DB_STAT_STACK_FULL);
		return 0;
	}
	return hash;
}

static __always_inline void on_close(__u32 pid, int fd)
{
	struct pm_db_conn_key k = { .pid = pid, .fd = fd };
	struct pm_db_conn *c = bpf_map_lookup_elem(&db_conns, &k);
	struct pm_db_event ev = {};
	__u8 state;

	if (!c)
		return;
	state = c->state;
	bpf_map_delete_elem(&db_conns, &k);
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

/* Fills c->buf/len from a user_msghdr's first iovec. */
static __always_inline int msg_buffer(struct call *c, __u64 msgp)
{
	struct user_msghdr m;
	struct iovec iov;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)msgp) || !m.msg_iov || !m.msg_iovlen)
		return -1;
	if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
		return -1;
	c->buf = (__u64)iov.iov_base;
	c->len = iov.iov_len;
	c->whole = m.msg_iovlen == 1;
	return 0;
}

static __always_inline int enter(struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct pm_db_conn_key k = { .pid = pid };
	struct call c = { .whole = 1, .active = 1 };
	struct call *slot;
	const struct pm_proc_cfg *cfg;
	struct pm_db_conn *conn;
	__u8 first[8] = {};

	if (id != NR_read && id != NR_write && id != NR_close && id != NR_sendto && id != NR_recvfrom &&
	    id != NR_sendmsg && id != NR_recvmsg)
		return 0;
	cfg = bpf_map_lookup_elem(&py_procs, &pid);
	if (!cfg)
		return 0;
	k.fd = (int)regs->di;
	if (id == NR_close) {
		on_close(pid, k.fd);
		return 0;
	}
	stat_inc(PM_DB_STAT_CALLS);
	conn = bpf_map_lookup_elem(&db_conns, &k);
	c.state = conn ? conn->state : PM_DB_UNSEEN;
	if (c.state == PM_DB_OTHER || c.state == PM_DB_TLS)
		return 0;
	c.dir = (id == NR_read || id == NR_recvfrom || id == NR_recvmsg) ? PM_DB_RECV : PM_DB_SEND;
	if (c.state == PM_DB_UNSEEN && (id == NR_read || id == NR_write) && !is_socket(k.fd)) {
		set_state(&k, PM_DB_OTHER);
		return 0;
	}
	if (id == NR_sendmsg || id == NR_recvmsg) {
		if (msg_buffer(&c, regs->si))
			return 0;
	} else {
		c.buf = regs->si;
		c.len = regs->dx;
	}
	if (c.dir == PM_DB_RECV && c.state == PM_DB_UNSEEN) {
		set_state(&k, PM_DB_RECV_FIRST);
		return 0;
	}
	if (c.dir == PM_DB_RECV && c.state == PM_DB_RECV_FIRST)
		return 0;
	if (c.dir == PM_DB_SEND) {
		if (bpf_probe_read_user(first, c.len < sizeof(first) ? c.len : sizeof(first), (void *)c.buf)) {
			stat_inc(PM_DB_STAT_READ_FAIL);
			return 0;
		}
		if (c.state == PM_DB_UNSEEN || c.state == PM_DB_RECV_FIRST) {
			c.state = classify(first, c.len);
			set_state(&k, c.state);
			stat_inc(c.state == PM_DB_OTHER ? PM_DB_STAT_NEW_OTHER : PM_DB_STAT_NEW_PG);
			if (c.state == PM_DB_OTHER)
				return 0;
		}
		c.stack = query_stack(cfg, c.state, first);
	}
	c.fd = k.fd;
	c.enter_ns = bpf_ktime_get_ns();
	slot = bpf_task_storage_get(&db_calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (slot)
		*slot = c;
	return 0;
}

static __always_inline int exit_(struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pm_db_event *ev;
	struct db_scratch *s;
	struct call *c;
	__u32 zero = 0;
	__u64 head, tail = 0, size;
	long id = regs->orig_ax;

	/* every syscall on the host comes here: the cheapest test first */
	if (id != NR_read && id != NR_write && id != NR_sendto && id != NR_recvfrom && id != NR_sendmsg &&
	    id != NR_recvmsg)
		return 0;
	c = bpf_task_storage_get(&db_calls, bpf_get_current_task_btf(), 0, 0);
	if (!c || !c->active)
		return 0;
	c->active = 0;
	s = bpf_map_lookup_elem(&db_scratch, &zero);
	if (!s || ret <= 0)
		goto out;
	ev = (struct pm_db_event *)s->raw;
	head = (__u64)ret < c->len ? (__u64)ret : c->len;
	if (head > PM_DB_HEAD)
		head = PM_DB_HEAD;
	if (c->whole && (__u64)ret > PM_DB_HEAD && (__u64)ret <= c->len) {
		tail = (__u64)ret - PM_DB_HEAD;
		if (tail > PM_DB_TAIL)
			tail = PM_DB_TAIL;
	}
	if (bpf_probe_read_user(ev->data, head, (void *)c->buf))
		head = 0;
	/* the tail goes right after a full head */
	if (head != PM_DB_HEAD ||
	    (tail && bpf_probe_read_user(ev->data + PM_DB_HEAD, tail, (void *)(c->buf + ret - tail))))
		tail = 0;
	ev->hdr.ts_ns = bpf_ktime_get_ns();
	ev->hdr.pid = pid_tgid >> 32;
	ev->hdr.tid = (__u32)pid_tgid;
	ev->hdr.kind = PM_EV_DB_DATA;
	ev->enter_ns = c->enter_ns;
	ev->total = (__u64)ret;
	ev->py_stack = c->stack;
	ev->fd = c->fd;
	ev->dir = c->dir;
	ev->state = c->state;
	ev->head_len = (__u16)head;
	ev->tail_len = (__u16)tail;
	ev->pad = 0;
	ev->pad2 = 0;
	size = sizeof(*ev) + head + tail;
	ev->hdr.len = (__u16)size;
	if (size > sizeof(*s))
		goto out;
	/* no wakeup: the daemon drains every engine turn (~100 ms), the buffer holds far more */
	if (bpf_ringbuf_output(&db_events, s, size, BPF_RB_NO_WAKEUP))
		stat_inc(PM_DB_STAT_RB_FULL);
	else
		stat_inc(PM_DB_STAT_EVENTS);
out:
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(db_sys_enter, struct pt_regs *regs, long id)
{
	return enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(db_sys_exit, struct pt_regs *regs, long ret)
{
	return exit_(regs, ret);
}

char LICENSE[] SEC("license") = "GPL";
