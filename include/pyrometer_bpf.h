/* The contract between pyrometer's BPF programs and its userspace: every struct, constant and limit
 * that crosses the kernel line lives here. Fixed-width types only; sizes are asserted at the bottom.
 * Included by the BPF programs after vmlinux.h, and by userspace on its own (stdint types). */
#ifndef PYROMETER_BPF_H
#define PYROMETER_BPF_H

#ifndef __VMLINUX_H__
#include <stdint.h>
#include <linux/types.h> /* __u8..__s64 as libbpf and the kernel UAPI define them */
#endif

/* ---- limits ---------------------------------------------------------------------------------- */
#define PM_MAX_DEPTH        256   /* hard upper bound of Python frames per stack (scratch size) */
#define PM_DEFAULT_DEPTH    128   /* default walk depth; configurable up to PM_MAX_DEPTH */
#define PM_MAX_PROCS        4096  /* tracked Python processes (py_procs map) */
#define PM_MAX_STACKS       16384 /* distinct Python stacks kept in the kernel (LRU) */
#define PM_MAX_COUNTS       32768 /* distinct (pid, tid, stack) sample keys per drain window */
#define PM_NATIVE_STACKS    8192  /* kernel/native stack-trace map entries */
#define PM_NATIVE_DEPTH     127   /* bpf_get_stackid depth (PERF_MAX_STACK_DEPTH) */
#define PM_COMM_LEN         16
#define PM_NO_OFFSET        0xffff

/* ---- CPython layout, per minor version, filled by userspace discovery ------------------------ */
/* How a frame's instruction position is stored: */
enum pm_instr_kind {
	PM_INSTR_LASTI_BYTES = 0, /* 3.8, 3.9: int f_lasti, a byte offset into co_code */
	PM_INSTR_LASTI_UNITS = 1, /* 3.10: int f_lasti, an index in code units */
	PM_INSTR_PREV_PTR    = 2, /* 3.11, 3.12: _Py_CODEUNIT *prev_instr (unit before the next one) */
	PM_INSTR_CUR_PTR     = 3, /* 3.13+: _Py_CODEUNIT *instr_ptr (unit executing now) */
};

/* The subset of offsets the BPF walker needs. Every field is a byte offset; PM_NO_OFFSET = absent. */
struct pm_walk_offsets {
	__u16 runtime_tss_key;      /* _PyRuntime -> autoTSSkey._key (int) */
	__u16 tstate_frame;         /* PyThreadState -> frame (≤3.10) | cframe (3.11/3.12) | current_frame */
	__u16 cframe_current_frame; /* _PyCFrame -> current_frame, or PM_NO_OFFSET if tstate_frame is direct */
	__u16 frame_code;           /* f_code | f_executable */
	__u16 frame_previous;       /* f_back | previous */
	__u16 frame_instr;          /* f_lasti (int) | prev_instr | instr_ptr (pointer) */
	__u16 frame_owner;          /* owner (char), or PM_NO_OFFSET */
	__u16 code_adaptive;        /* co_code_adaptive (3.11+): instruction base relative to the code object */
	__u8  instr_kind;           /* enum pm_instr_kind */
	__u8  owner_skip_min;       /* frames with owner >= this are C-stack shims: skip (0 = never) */
	__u16 tstate_thread_id;     /* pthread_t of the thread (== fs base on glibc x86_64), for a sanity check */
};

/* Per tracked process, written by userspace into py_procs (key: host tgid). */
struct pm_proc_cfg {
	__u64 runtime_addr;    /* &_PyRuntime in the target's address space */
	__u64 none_addr;       /* &_Py_NoneStruct (3.13+ entry frames carry it as f_executable), or 0 */
	__u32 tsd_first_block; /* glibc: offsetof(struct pthread, specific_1stblock) (0x310 on 2.36) */
	__u16 py_version;      /* 0xMMmm, e.g. 0x030b */
	__u16 flags;           /* PM_PROC_* */
	struct pm_walk_offsets off;
	__u32 slot;            /* the process's index (< PM_MAX_PROCS) in per-process arrays (io_procs) */
};
#define PM_PROC_VERIFY_TID 0x1 /* check tstate->thread_id == fs base before trusting the TSS slot */

/* One Python frame as captured in the kernel; symbolized in userspace. */
struct pm_py_frame {
	__u64 code;  /* PyCodeObject * in the target */
	__s32 lasti; /* raw position: f_lasti for ≤3.10; code-unit index from the pointer for 3.11+ */
	__u32 pad;
};

/* Flags on a captured stack. */
#define PM_STACK_TRUNCATED  0x1 /* the walk hit the depth limit before the bottom frame */
#define PM_STACK_READ_ERROR 0x2 /* a frame read faulted; the stack ends early */
#define PM_STACK_NO_TSTATE  0x4 /* the thread has no Python thread state (native thread, or not yet init) */

struct pm_py_stack {
	__u32 nframes; /* frames[0] is the innermost (leaf) frame */
	__u32 flags;   /* PM_STACK_* */
	struct pm_py_frame frames[PM_MAX_DEPTH];
};

/* Key of the in-kernel sample counter (value: __u64 count). */
struct pm_cpu_key {
	__u32 pid;
	__u32 tid;
	__u64 py_stack_hash; /* key into py_stacks; 0 = no Python stack */
	__s32 kstack_id;     /* stack-trace map id, or -1 when not collected / failed */
	__s32 ustack_id;     /* native user stack id, or -1 */
	__u32 stack_flags;   /* PM_STACK_* of the Python stack */
	__u32 pad;
};

/* Counters the BPF programs keep about themselves (per-CPU array, index = enum). */
enum pm_cpu_stat {
	PM_STAT_SAMPLES = 0,     /* perf events seen for tracked processes */
	PM_STAT_NO_TSTATE,       /* sample had no thread state */
	PM_STAT_READ_FAIL,       /* a user-memory read failed mid-walk */
	PM_STAT_TRUNCATED,       /* stacks cut at max depth */
	PM_STAT_COUNT_FULL,      /* count map full: sample lost */
	PM_STAT_STACK_FULL,      /* stack map update failed: sample lost */
	PM_STAT_MAX,
};

/* ---- streamed records (ring buffer): one envelope for all ---------------------------------- */
enum pm_event_kind {
	PM_EV_EXEC = 1, /* a process exec'd: candidate for discovery */
	PM_EV_EXIT = 2, /* a thread-group leader exited */
	PM_EV_FORK = 3, /* a new process (thread-group) was forked from a tracked one */
	PM_EV_LOOP_STALL = 16, /* struct pm_stall_event */
	PM_EV_LOOP_FOUND = 17, /* header only: thread tid of pid runs an event loop (once per thread) */
	PM_EV_DB_DATA = 32,    /* struct pm_db_event: bytes of a database socket */
	PM_EV_DB_CLOSE = 33,   /* struct pm_db_event without data: a known socket is gone (fd reused) */
};

struct pm_event_hdr {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u32 pid;   /* host tgid */
	__u32 tid;
	__u16 kind;  /* enum pm_event_kind */
	__u16 len;   /* total record length including this header */
	__u32 pad;
};

struct pm_proc_event {
	struct pm_event_hdr hdr;
	__u32 ppid;
	__u32 pad;
	char comm[PM_COMM_LEN];
};

/* ---- off-CPU time, run-queue wait and event-loop stalls (bpf/offcpu.bpf.c) ------------------ */
/* Why a thread was off its CPU. The kernel tells these apart from the task state and the syscall
 * the thread blocked in (and, for read/write-like calls, the kind of file behind the fd). */
enum pm_off_reason {
	PM_OFF_RUNQ = 0,  /* runnable, waiting for a CPU (preempted, or woken and not yet running) */
	PM_OFF_DISK = 1,  /* uninterruptible sleep (block I/O, fsync, page-in), or a regular file */
	PM_OFF_NET = 2,   /* a socket call, read/write on a socket, poll() on one socket */
	PM_OFF_LOCK = 3,  /* futex outside the interpreter's runtime state: a lock or condition */
	PM_OFF_GIL = 4,   /* futex inside _PyRuntime: waiting for the GIL */
	PM_OFF_SLEEP = 5, /* nanosleep, clock_nanosleep */
	PM_OFF_POLL = 6,  /* epoll/poll/select/accept: an event loop or server waiting for work */
	PM_OFF_PIPE = 7,  /* read/write on a pipe or FIFO */
	PM_OFF_OTHER = 8, /* any other wait (children, signals, ttys, unknown) */
	PM_OFF_REASONS = 9,
};
/* Userspace refines PM_OFF_LOCK into this when the blocking Python frame is a condition or event
 * wait (threading.Condition.wait, Event.wait, Thread.join): waiting for work, not contention. */
#define PM_OFF_WAIT PM_OFF_REASONS
#define PM_OFF_ALL_REASONS (PM_OFF_REASONS + 1)

#define PM_OFF_NO_SYSCALL 0xffff
#define PM_OFF_HIST_SLOTS 27 /* log2 buckets of microseconds: [0,2) [2,4) ... [2^25,2^26) [2^26,inf) */
#define PM_OFF_STALL_STACKS 4
#define PM_OFF_MAX_THREADS 16384 /* per-thread state rows (LRU) */

/* Key of the in-kernel off-CPU counter (value: struct pm_off_val). */
struct pm_off_key {
	__u32 pid;
	__u32 tid;
	__u64 py_stack_hash; /* key into the offcpu py_stacks map; 0 = no Python stack */
	__u16 reason;        /* enum pm_off_reason */
	__u16 syscall;       /* x86_64 syscall number blocked in, or PM_OFF_NO_SYSCALL */
	__u32 stack_flags;   /* PM_STACK_* */
};

struct pm_off_val {
	__u64 ns;    /* blocked time, switch-out to wake-up (runq: to switch-in) */
	__u64 count; /* blocks */
};

/* Cumulative per-process scheduler counters (struct pm_off_slot); userspace takes deltas. */
struct pm_off_proc {
	__u64 oncpu_ns;   /* switch-in to switch-out */
	__u64 runq_ns;    /* runnable but not running */
	__u64 blocked_ns; /* every reason but runq */
	__u64 voluntary;  /* switches that blocked */
	__u64 involuntary;/* preemptions */
};

/* Latency histograms, per process and off-CPU reason. */
struct pm_off_hist_key {
	__u32 pid;
	__u32 kind;
};
struct pm_off_hist {
	__u64 slots[PM_OFF_HIST_SLOTS];
	__u64 sum_ns;
};

/* Per process, in its slot of off_slots (pm_proc_cfg.slot): the scheduler counters and the
 * event-loop iteration histogram (the stretches between two epoll_wait calls), cumulative. */
struct pm_off_slot {
	struct pm_off_proc proc;
	struct pm_off_hist loop;
};

/* Per-process address range of _PyRuntime: futexes inside it are GIL waits. */
struct pm_off_range {
	__u64 lo, hi;
};

/* Knobs counted by the off-CPU programs (per-CPU array, index = enum). */
enum pm_off_stat {
	PM_OFF_STAT_SWITCHES = 0, /* switch-outs of tracked threads */
	PM_OFF_STAT_WALKS,        /* Python stacks walked */
	PM_OFF_STAT_WALK_REUSED,  /* walks skipped: same blocking point as last time */
	PM_OFF_STAT_COUNT_FULL,   /* off-CPU count map full: time lost */
	PM_OFF_STAT_STACK_FULL,   /* stack map update failed */
	PM_OFF_STAT_STALL_DROPS,  /* stall records lost (ring buffer full) */
	PM_OFF_STAT_NO_STORAGE,   /* task storage could not be created */
	PM_OFF_STAT_UNTIMED,      /* loop stretches not timed: a switch-in of the loop thread not seen */
	PM_OFF_STAT_MAX,
};

/* A stretch of an event loop between returning from epoll_wait and calling it again that took
 * longer than the threshold (streamed: each one matters). hdr.ts_ns is the stretch's end. */
struct pm_stall_event {
	struct pm_event_hdr hdr;   /* kind PM_EV_LOOP_STALL */
	__u64 start_ns;
	__u64 dur_ns;
	__u64 off_ns;              /* of which off-CPU (blocked or runnable) */
	__u64 block_stack;         /* Python stack of the longest block in the stretch, 0 = none */
	__u64 block_ns;
	__u16 block_reason;        /* enum pm_off_reason */
	__u16 block_syscall;
	__u32 block_flags;
	__u64 cpu_stacks[PM_OFF_STALL_STACKS]; /* Python stacks sampled on-CPU during the stretch */
	__u32 cpu_counts[PM_OFF_STALL_STACKS];
};


/* ---- memory: resident growth by Python stack and GC pauses (bpf/memory.bpf.c) -------------- */
#define PM_MEM_MAX_STACKS   8192  /* distinct Python stacks behind memory growth (LRU) */
#define PM_MEM_MAX_KEYS     16384 /* distinct (pid, stack) growth keys per drain window */
#define PM_GC_MAX_PROCS     1024  /* processes whose collector is probed at once */
#define PM_GC_GENS          4     /* generations 0..2, and PM_GC_GEN_UNKNOWN */
#define PM_GC_GEN_UNKNOWN   3
#define PM_GC_BUCKETS       22    /* log2 microsecond buckets, see pm_gc_val */
#define PM_PID_WORDS        65537 /* tracked-pid bitmap words (py_pidmap): pid_max up to 2^22 (resized at load) */
#define PM_PIDSLOTS         16384 /* entries of the direct-mapped pid -> slot cache (py_pidslots) */

/* Per tracked process (mem_procs, key: tgid), written by userspace at track and kept by the
 * rss_stat program: the anon+shmem page count (the kernel's approximate mm counter, which moves
 * in per-CPU batches of >= 32 pages) at the last change the process made itself, and its high-water
 * mark since tracking began. */
struct pm_mem_proc {
	__s64 last_pages;
	__s64 hwm_pages;
};

/* Key of the growth counter (mem_growth, value: struct pm_mem_val). */
struct pm_mem_key {
	__u32 pid;
	__u32 stack_flags;   /* PM_STACK_* */
	__u64 py_stack_hash; /* key into mem_stacks; 0 = no Python stack */
};

struct pm_mem_val {
	__u64 fault_bytes;  /* anon+shmem memory the process's own threads made resident */
	__u64 growth_bytes; /* the part of it that raised the process's high-water mark */
	__u64 events;       /* counter batches attributed (one stack walk each) */
};

/* The uprobe cookie of a collector entry: where its generation is. */
#define PM_GC_ARG_UNKNOWN   0
#define PM_GC_ARG_PARM1     1     /* first argument (int) */
#define PM_GC_ARG_PARM2     2     /* second argument (int) */
#define PM_GC_ARG_CONST     0x100 /* | g: a clone that always collects generation g */
#define PM_GC_ARG_USDT      0x200 /* | PM_USDT_ARG(...): the python:gc__start argument */

/* Where a USDT argument is (as its note spells it, e.g. "-4@112(%rsp)"), packed into bits 16..63
 * of a uprobe cookie. reg is an index into the x86-64 struct pt_regs (8-byte slots). */
#define PM_USDT_REG         1 /* the register's value */
#define PM_USDT_DEREF       2 /* size bytes at register + off */
#define PM_USDT_CONST       3 /* off is the value */
#define PM_USDT_ARG(kind, reg, size, is_signed, off)                                             \
	(((__u64)(kind) << 16) | ((__u64)(reg) << 18) | ((__u64)(size) << 24) |                   \
	 ((__u64)(is_signed) << 28) | ((__u64)(__u32)(off) << 32))
#define PM_USDT_KIND_OF(c)  (((c) >> 16) & 0x3)
#define PM_USDT_REG_OF(c)   (((c) >> 18) & 0x1f)
#define PM_USDT_SIZE_OF(c)  (((c) >> 24) & 0xf)
#define PM_USDT_SIGNED(c)   (((c) >> 28) & 0x1)
#define PM_USDT_OFF_OF(c)   ((__s32)((c) >> 32))

/* Per-thread collection in progress (task storage). */
struct pm_gc_pending {
	__u64 start_ns;
	__u32 generation;
	__u32 pad;
};

/* GC pauses of one process and generation (gc_pauses), cumulative while tracked. */
struct pm_gc_key {
	__u32 pid;
	__u32 generation; /* 0..2, PM_GC_GEN_UNKNOWN */
};

struct pm_gc_val {
	__u64 count;
	__u64 sum_ns;
	/* buckets[0]: < 2 us; buckets[i]: [2^i, 2^(i+1)) us; the last one takes everything longer */
	__u64 buckets[PM_GC_BUCKETS];
};

enum pm_mem_stat {
	PM_MEM_STAT_EVENTS = 0,  /* counter batches seen for tracked processes */
	PM_MEM_STAT_KEY_FULL,    /* growth map full: bytes lost */
	PM_MEM_STAT_STACK_FULL,  /* stack map update failed: bytes kept without a stack */
	PM_MEM_STAT_READ_FAIL,   /* a user-memory read failed mid-walk */
	PM_MEM_STAT_GC_FULL,     /* pause map full: a pause lost */
	PM_MEM_STAT_MAX,
};

/* ---- opt-in allocation profiling (bpf/alloc.bpf.c, `pyrometer alloc`) ------------------------ */
#define PM_ALLOC_MAX_LIVE   65536 /* sampled allocations whose free is watched */
#define PM_ALLOC_MAX_KEYS   16384 /* distinct (domain, stack) keys */

/* The uprobe cookie of an allocator entry or return: which function it is. */
#define PM_ALLOC_KIND_MASK  0x3
#define PM_ALLOC_MALLOC     0x0 /* (size) */
#define PM_ALLOC_CALLOC     0x1 /* (nelem, elsize) */
#define PM_ALLOC_REALLOC    0x2 /* (ptr, size) */
#define PM_ALLOC_FREE       0x3 /* (ptr) */
#define PM_ALLOC_CTX        0x4 /* a void *ctx comes first (CPython's PyMemAllocatorEx functions) */
#define PM_ALLOC_RAW        0x8 /* libc's allocator, not the interpreter's: skipped when nested */

enum pm_alloc_domain {
	PM_DOMAIN_PYTHON = 0, /* the interpreter's allocators (PyObject_*, PyMem_*) */
	PM_DOMAIN_RAW = 1,    /* libc malloc family called outside of them (C code, large buffers) */
};

/* Per-thread allocator state (task storage). */
struct pm_alloc_thread {
	__s64 left;      /* bytes until the next sample */
	__u64 py_size;   /* outermost interpreter allocator call in progress */
	__u64 py_old;    /* its realloc source pointer, or 0 */
	__u64 raw_size;
	__u64 raw_old;
	__u64 py_sp;     /* stack pointer at the outermost call: a call at or above it starts afresh */
	__u32 py_depth;  /* nesting of interpreter allocator calls */
	__u32 raw_pending;
};

struct pm_alloc_key {
	__u32 domain;      /* enum pm_alloc_domain */
	__u32 stack_flags; /* PM_STACK_* */
	__u64 py_stack_hash;
};

struct pm_alloc_val {
	__u64 samples;
	__u64 bytes;  /* estimated: the sum of sample weights */
	__u64 count;  /* estimated: the sum of weight / size */
};

/* A sampled allocation still alive (alloc_live, key: the pointer). */
struct pm_alloc_live {
	__u64 py_stack_hash;
	__u64 bytes;
	__u64 count;
	__u32 domain;
	__u32 stack_flags;
};

enum pm_alloc_stat {
	PM_ALLOC_STAT_PY_CALLS = 0, /* every outermost interpreter allocation (not sampled) */
	PM_ALLOC_STAT_PY_BYTES,
	PM_ALLOC_STAT_RAW_CALLS,
	PM_ALLOC_STAT_RAW_BYTES,
	PM_ALLOC_STAT_FREES,        /* frees seen */
	PM_ALLOC_STAT_SAMPLES,
	PM_ALLOC_STAT_LIVE_FULL,    /* live map full: a sample's free is not watched */
	PM_ALLOC_STAT_KEY_FULL,
	PM_ALLOC_STAT_STACK_FULL,
	PM_ALLOC_STAT_MAX,
};

/* ---- database wire capture (bpf/pgwire.bpf.c, src/pgwire.c) -------------------------------- */
#define PM_DB_HEAD       4096  /* first bytes of each send/recv copied (power of two) */
#define PM_DB_TAIL       256   /* last bytes of transfers longer than PM_DB_HEAD (power of two) */
#define PM_DB_CONNS      16384 /* (pid, fd) sockets remembered with their classification (LRU) */
#define PM_DB_STACKS     4096  /* Python stacks at query send time (LRU, key: stack hash) */
#define PM_DB_MAX_DEPTH  64    /* frames walked per query stack (the call site is near the leaf) */
#define PM_DB_RINGBUF    (8 << 20)
/* records are written without waking the daemon's copier until this much is unread (src/ringq.c) */
#define PM_DB_RING_WAKE  (PM_DB_RINGBUF / 4)

/* What a socket of a tracked process carries, as far as the capture knows. */
enum pm_db_state {
	PM_DB_UNSEEN = 0,     /* not in the map */
	PM_DB_PG = 1,         /* PostgreSQL, seen from its startup */
	PM_DB_PG_MID = 2,     /* PostgreSQL-shaped, first seen mid-connection */
	PM_DB_OTHER = 3,      /* not a database protocol (or not a socket): ignored */
	PM_DB_TLS = 4,        /* encrypted after SSLRequest: counted, not copied */
	PM_DB_RECV_FIRST = 5, /* a socket whose first transfer was a receive: classified at its first send */
	PM_DB_REDIS = 6,      /* Redis: a RESP command array was its first send */
	PM_DB_MYSQL = 7,      /* MySQL/MariaDB: a HandshakeResponse41/SSLRequest or a command packet */
};

enum pm_db_dir { PM_DB_SEND = 0, PM_DB_RECV = 1 };

struct pm_db_conn_key {
	__u32 pid;
	__s32 fd;
};

struct pm_db_conn {
	__u8 state;  /* enum pm_db_state */
	__u8 pad[7];
	__u64 sk;    /* the struct sock seen on (pid, fd); 0 when written by userspace */
};

/* A captured send/recv (kind PM_EV_DB_DATA; hdr.ts_ns = when the socket layer finished it) or the
 * end of a known socket (PM_EV_DB_CLOSE, no data: its fd now names another socket). data[] holds head_len bytes from the start of the transfer,
 * then tail_len bytes from its end; total - head_len - tail_len bytes in between were not copied. */
struct pm_db_event {
	struct pm_event_hdr hdr;
	__u64 pad0;       /* 0 */
	__u64 total;      /* bytes the socket layer moved */
	__u64 py_stack;   /* key into db_stacks (query-starting sends only), 0 = none */
	__s32 fd;
	__u8 dir;         /* enum pm_db_dir */
	__u8 state;       /* enum pm_db_state when captured */
	__u16 head_len;
	__u16 tail_len;
	__u16 pad;
	__u32 pad2;
	__u8 data[];
};

/* Counters of the capture program (per-CPU array, index = enum). */
enum pm_db_stat {
	PM_DB_STAT_CALLS = 0,   /* socket transfers of tracked processes inspected */
	PM_DB_STAT_EVENTS,      /* records streamed */
	PM_DB_STAT_RB_FULL,     /* records lost: ring buffer full */
	PM_DB_STAT_STACK_FULL,  /* query stacks not stored */
	PM_DB_STAT_READ_FAIL,   /* user buffer not readable */
	PM_DB_STAT_NEW_PG,      /* sockets classified PostgreSQL */
	PM_DB_STAT_NEW_OTHER,   /* sockets classified as something else */
	PM_DB_STAT_MAX,
};

/* ---- socket I/O and TCP peers (bpf/io.bpf.c) ------------------------------------------------- */
enum pm_io_kind {
	PM_IO_TCP = 0,
	PM_IO_UDP = 1,
	PM_IO_UNIX = 2,
	PM_IO_SOCK_OTHER = 3, /* raw, netlink, ... */
	PM_IO_SOCK_KINDS = 4,
};
enum pm_io_dir { PM_IO_READ = 0, PM_IO_WRITE = 1 };

/* Cumulative per-process socket I/O (key: tgid). vfs_* is the part that went through
 * read/write/readv/writev, which /proc/PID/io's rchar/wchar also count. */
struct pm_io_proc {
	__u64 bytes[PM_IO_SOCK_KINDS][2];
	__u64 ops[PM_IO_SOCK_KINDS][2];
	__u64 vfs_bytes[2];
	__u64 vfs_ops[2];
};

/* TCP peer of a tracked process: the remote address, and the remote port for connections the
 * process opened (0 for accepted ones, whose remote ports are ephemeral). */
struct pm_tcp_peer_key {
	__u32 pid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 port;   /* host order */
	__u8 addr[16];/* IPv4 in the first 4 bytes */
};

struct pm_tcp_peer_val {
	__u64 connects;        /* SYN_SENT -> ESTABLISHED */
	__u64 failed;          /* SYN_SENT -> CLOSE */
	__u64 connect_ns;      /* summed latency of the successful connects */
	__u64 connect_max_ns;
	__u64 retransmits;
	__u64 resets_sent;
	__u64 resets_received;
	__u64 connect_hist[PM_OFF_HIST_SLOTS]; /* log2 microsecond buckets, as off-CPU */
};

#define PM_IO_MAX_PEERS 8192
#define PM_IO_MAX_SOCKS 65536

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct pm_walk_offsets) == 20, "pm_walk_offsets layout");
_Static_assert(sizeof(struct pm_proc_cfg) == 48, "pm_proc_cfg layout");
_Static_assert(sizeof(struct pm_py_frame) == 16, "pm_py_frame layout");
_Static_assert(sizeof(struct pm_cpu_key) == 32, "pm_cpu_key layout");
_Static_assert(sizeof(struct pm_event_hdr) == 24, "pm_event_hdr layout");
_Static_assert(sizeof(struct pm_proc_event) == 48, "pm_proc_event layout");
_Static_assert(sizeof(struct pm_db_conn_key) == 8, "pm_db_conn_key layout");
_Static_assert(sizeof(struct pm_db_conn) == 16, "pm_db_conn layout");
_Static_assert(sizeof(struct pm_db_event) == 64, "pm_db_event layout");
_Static_assert(sizeof(struct pm_off_key) == 24, "pm_off_key layout");
_Static_assert(sizeof(struct pm_off_val) == 16, "pm_off_val layout");
_Static_assert(sizeof(struct pm_off_proc) == 40, "pm_off_proc layout");
_Static_assert(sizeof(struct pm_off_hist) == 8 * (PM_OFF_HIST_SLOTS + 1), "pm_off_hist layout");
_Static_assert(sizeof(struct pm_off_slot) == 8 * (5 + PM_OFF_HIST_SLOTS + 1), "pm_off_slot layout");
_Static_assert(sizeof(struct pm_stall_event) == 120, "pm_stall_event layout");
_Static_assert(sizeof(struct pm_io_proc) == 8 * (4 * PM_IO_SOCK_KINDS + 4), "pm_io_proc layout");
_Static_assert(sizeof(struct pm_tcp_peer_key) == 24, "pm_tcp_peer_key layout");
_Static_assert(sizeof(struct pm_tcp_peer_val) == 8 * (7 + PM_OFF_HIST_SLOTS), "pm_tcp_peer_val layout");
_Static_assert(sizeof(struct pm_mem_proc) == 16, "pm_mem_proc layout");
_Static_assert(sizeof(struct pm_mem_key) == 16, "pm_mem_key layout");
_Static_assert(sizeof(struct pm_mem_val) == 24, "pm_mem_val layout");
_Static_assert(sizeof(struct pm_gc_pending) == 16, "pm_gc_pending layout");
_Static_assert(sizeof(struct pm_gc_key) == 8, "pm_gc_key layout");
_Static_assert(sizeof(struct pm_gc_val) == 16 + 8 * PM_GC_BUCKETS, "pm_gc_val layout");
_Static_assert(sizeof(struct pm_alloc_thread) == 56, "pm_alloc_thread layout");
_Static_assert(sizeof(struct pm_alloc_key) == 16, "pm_alloc_key layout");
_Static_assert(sizeof(struct pm_alloc_val) == 24, "pm_alloc_val layout");
_Static_assert(sizeof(struct pm_alloc_live) == 32, "pm_alloc_live layout");
#endif

#endif /* PYROMETER_BPF_H */
