/* The Python stack walker shared by every BPF program that needs "the Python stack of the current
 * thread" (CPU samples, off-CPU switches, memory growth): finds the thread's own PyThreadState
 * through glibc's pthread TSS slot and walks the frame chain with the per-process layout that
 * userspace wrote into py_procs. Include after vmlinux.h, bpf_helpers.h and pyrometer_bpf.h.
 * Userspace shares one py_procs map between objects with bpf_map__reuse_fd(). */
#ifndef PYSTACK_BPF_H
#define PYSTACK_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct pm_proc_cfg);
} py_procs SEC(".maps");

struct walk_ctx {
	struct pm_py_stack *st;
	const struct pm_proc_cfg *cfg;
	__u64 frame;
	__u64 hash;
	__u32 depth;
	bool done;
};

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static __always_inline int read_lasti(const struct pm_proc_cfg *cfg, __u64 frame, __u64 code, __s32 *lasti)
{
	const struct pm_walk_offsets *off = &cfg->off;
	__u64 ptr;

	if (off->instr_kind <= PM_INSTR_LASTI_UNITS)
		return bpf_probe_read_user(lasti, sizeof(*lasti), (void *)(frame + off->frame_instr));
	if (bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(frame + off->frame_instr)))
		return -1;
	*lasti = ptr >= code + off->code_adaptive ? (__s32)((ptr - code - off->code_adaptive) >> 1) : -1;
	return 0;
}

/* One frame per iteration: skips C-stack shim frames, records the rest, stops at the bottom. */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *c = data;
	const struct pm_walk_offsets *off = &c->cfg->off;
	__u64 code = 0, prev = 0;
	__s32 lasti = -1;
	__u8 owner = 0;
	__u32 n;

	if (!c->frame) {
		c->done = true;
		return 1;
	}
	if (bpf_probe_read_user(&code, sizeof(code), (void *)(c->frame + off->frame_code)) ||
	    bpf_probe_read_user(&prev, sizeof(prev), (void *)(c->frame + off->frame_previous))) {
		c->st->flags |= PM_STACK_READ_ERROR;
		c->done = true;
		return 1;
	}
	if (off->frame_owner != PM_NO_OFFSET && off->owner_skip_min)
		bpf_probe_read_user(&owner, sizeof(owner), (void *)(c->frame + off->frame_owner));
	if ((off->owner_skip_min && owner >= off->owner_skip_min) || !code ||
	    (c->cfg->none_addr && code == c->cfg->none_addr)) {
		c->frame = prev;
		return 0;
	}
	n = c->st->nframes;
	if (n >= c->depth || n >= PM_MAX_DEPTH) {
		c->st->flags |= PM_STACK_TRUNCATED;
		c->done = true;
		return 1;
	}
	read_lasti(c->cfg, c->frame, code, &lasti);
	c->st->frames[n & (PM_MAX_DEPTH - 1)].code = code;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].lasti = lasti;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].pad = 0;
	c->st->nframes = n + 1;
	c->hash = mix(mix(c->hash, code), (__u32)lasti);
	c->frame = prev;
	return 0;
}

/* The thread's own PyThreadState via glibc's pthread_getspecific layout, or 0. */
static __always_inline __u64 current_tstate(const struct pm_proc_cfg *cfg)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	__u64 tstate = 0, thread_id = 0;
	__s32 key = -1;

	if (!fsbase ||
	    bpf_probe_read_user(&key, sizeof(key), (void *)(cfg->runtime_addr + cfg->off.runtime_tss_key)))
		return 0;
	if (key < 0 || key >= 32)
		return 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate),
				(void *)(fsbase + cfg->tsd_first_block + key * 16 + 8)) || !tstate)
		return 0;
	if (cfg->flags & PM_PROC_VERIFY_TID) {
		if (bpf_probe_read_user(&thread_id, sizeof(thread_id), (void *)(tstate + cfg->off.tstate_thread_id)) ||
		    thread_id != fsbase)
			return 0;
	}
	return tstate;
}

static __always_inline __u64 top_frame(const struct pm_proc_cfg *cfg, __u64 tstate)
{
	__u64 p = 0;

	if (bpf_probe_read_user(&p, sizeof(p), (void *)(tstate + cfg->off.tstate_frame)) || !p)
		return 0;
	if (cfg->off.cframe_current_frame == PM_NO_OFFSET)
		return p;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(p + cfg->off.cframe_current_frame)))
		return 0;
	return p;
}

/* Captures the current thread's Python stack into *st (nframes, flags, frames innermost first)
 * and returns its content hash (never 0 when frames were captured; 0 when there are none). */
static __always_inline __u64 py_stack_capture(struct pm_py_stack *st, const struct pm_proc_cfg *cfg, __u32 depth)
{
	struct walk_ctx c = { .st = st, .cfg = cfg, .depth = depth, .hash = 0xcbf29ce484222325ULL };
	__u64 tstate;

	st->nframes = 0;
	st->flags = 0;
	tstate = current_tstate(cfg);
	if (!tstate) {
		st->flags |= PM_STACK_NO_TSTATE;
		return 0;
	}
	c.frame = top_frame(cfg, tstate);
	/* extra iterations let shim frames be skipped without spending depth */
	bpf_loop(depth + 64, walk_step, &c, 0);
	if (!c.done && c.frame)
		st->flags |= PM_STACK_TRUNCATED;
	return st->nframes ? mix(c.hash, st->nframes) | 1 : 0;
}

#endif
