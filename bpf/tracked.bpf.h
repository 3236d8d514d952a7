/* Which processes are tracked, for every BPF object: userspace's py_procs map (pid -> layout), a
 * bitmap of the same pids for the hot hooks' first test (socket transfers, context switches: the
 * host's other processes stop there), a direct-mapped pid -> slot table for a tracked process's
 * slot in one inlined lookup, and, for the few pids that table cannot hold, a per-task cache of the
 * slot. Userspace bumps py_gen[0] after every py_procs change; a cached answer from an older
 * generation is looked up again. Include after vmlinux.h, bpf_helpers.h and pyrometer_bpf.h.
 * Userspace shares these maps between objects with bpf_map__reuse_fd() (engine_share_tracked()). */
#ifndef TRACKED_BPF_H
#define TRACKED_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_proc_cfg);
} py_procs SEC(".maps");

/* The tracked pids as a bitmap (bit pid % 64 of word pid / 64; resized to pid_max at load): the
 * first test of every hot hook, an inlined array lookup, so the host's other processes pay a few
 * nanoseconds. Userspace sets a bit after the py_procs insert and clears it before the delete. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PM_PID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} py_pidmap SEC(".maps");

static __always_inline bool pid_tracked(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&py_pidmap, &word);

	return bits && (*bits >> (tgid & 63)) & 1;
}

/* Tracked pids' slots by pid % PM_PIDSLOTS: pid << 32 | slot for the pid holding the entry, 0 when
 * empty. Of two tracked pids with the same index the first keeps the entry; the other asks py_procs
 * through its task's cache. Userspace fills an entry after the py_procs insert and empties it
 * before the delete, with one 8-byte store (src/cpu.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PM_PIDSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} py_pidslots SEC(".maps");

/* the py_procs generation: userspace adds one after each update or delete */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} py_gen SEC(".maps");

struct task_seen {
	__u64 gen;     /* py_gen + 1 when answered (0: never) */
	__u32 tracked;
	__u32 slot;    /* its process's pm_proc_cfg.slot, when tracked */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_seen);
} py_tasks SEC(".maps");

static __always_inline bool procs_lookup(__u32 tgid, __u32 *slot)
{
	const struct pm_proc_cfg *cfg = bpf_map_lookup_elem(&py_procs, &tgid);

	*slot = cfg ? cfg->slot : 0;
	return cfg != NULL;
}

/* Whether task's process is in py_procs, and its slot (*slot) if so: the bitmap, then the pid ->
 * slot table; for a pid the table does not hold, a lookup in py_procs the first time a task asks
 * in each generation and the task's own storage after that. */
static __always_inline bool task_tracked_slot(struct task_struct *task, __u32 *slot)
{
	__u32 zero = 0, tgid = task->tgid; /* a BTF pointer: a plain load */
	__u32 idx = tgid & (PM_PIDSLOTS - 1);
	__u64 *gen, *entry, held;
	struct task_seen *seen;

	*slot = 0;
	if (!pid_tracked(tgid))
		return false;
	entry = bpf_map_lookup_elem(&py_pidslots, &idx);
	held = entry ? *(volatile __u64 *)entry : 0; /* one load: pid and slot from the same store */
	if (held >> 32 == tgid) {
		*slot = (__u32)held;
		return true;
	}
	gen = bpf_map_lookup_elem(&py_gen, &zero);
	if (!gen)
		return procs_lookup(tgid, slot);
	seen = bpf_task_storage_get(&py_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!seen) /* no memory, or the storage is busy on this CPU */
		return procs_lookup(tgid, slot);
	if (seen->gen != *gen + 1) {
		seen->tracked = procs_lookup(tgid, &seen->slot);
		seen->gen = *gen + 1;
	}
	*slot = seen->slot;
	return seen->tracked;
}

static __always_inline bool task_tracked(struct task_struct *task)
{
	return pid_tracked(task->tgid);
}

#endif
