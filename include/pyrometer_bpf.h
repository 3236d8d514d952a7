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

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct pm_walk_offsets) == 20, "pm_walk_offsets layout");
_Static_assert(sizeof(struct pm_proc_cfg) == 48, "pm_proc_cfg layout");
_Static_assert(sizeof(struct pm_py_frame) == 16, "pm_py_frame layout");
_Static_assert(sizeof(struct pm_cpu_key) == 32, "pm_cpu_key layout");
_Static_assert(sizeof(struct pm_event_hdr) == 24, "pm_event_hdr layout");
_Static_assert(sizeof(struct pm_proc_event) == 48, "pm_proc_event layout");
#endif

#endif /* PYROMETER_BPF_H */
