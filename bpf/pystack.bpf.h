/* The Python stack walker shared by every BPF program that needs "the Python stack of the current
 * thread" (CPU samples, off-CPU switches, memory growth): finds the thread's own PyThreadState
 * through glibc's pthread TSS slot and walks the frame chain with the per-process layout that
 * userspace wrote into py_procs. Include after vmlinux.h, bpf_helpers.h and pyrometer_bpf.h.
 * py_procs and its task cache come from tracked.bpf.h. */
#ifndef PYSTACK_BPF_H
#define PYSTACK_BPF_H

#include "tracked.bpf.h"

/* Bytes of a frame read at once: every field the walker needs lies in a frame's first 112 bytes
 * (PyFrameObject.f_lasti at 104 on 3.8-3.10; _PyInterpreterFrame.owner at 70 on 3.11+). One read
 * per frame instead of four: each bpf_probe_read_user costs about as much for 8 bytes as for 112. */
#define PY_FRAME_SPAN 128

/* On 3.11+ a thread's frames sit next to each other on its data stack, each caller just below its
 * callee: one read of the PY_BLOCK bytes below a frame (within its page, which is mapped because
 * the frame is) usually holds its callers too, so a walk costs a read per page of frames rather
 * than a read per frame. Frames elsewhere (a coroutine's frame lives in its object, PyFrameObjects
 * before 3.11 on the heap) are read on their own. */
#define PY_BLOCK 2048
#define PY_PAGE 4096ULL

struct py_frame_block {
	__u8 b[PY_BLOCK + PY_FRAME_SPAN]; /* the slack keeps a field read at any in-block offset in bounds */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_frame_block);
} py_frame_buf SEC(".maps");

/* The user memory held in a py_frame_block: [base, base + len). */
struct frame_reader {
	struct py_frame_block *blk;
	__u64 base;
	__u32 len;
	__u32 span;  /* bytes of each frame the walker needs: the end of its furthest field */
};

struct walk_ctx {
	struct pm_py_stack *st;
	const struct pm_proc_cfg *cfg;
	struct frame_reader r;
	__u64 frame;
	__u64 last;  /* the frame read before this one */
	__u64 hash;
	__u32 depth;
	bool done;
};

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

/* Makes frame's first span bytes readable in r's block; returns their offset there, or -1 when
 * the memory cannot be read. below is the frame the walk comes from (0 at the top): a frame just
 * under it is read with the rest of its page's block. Sizes are masked where they are used: the
 * verifier bounds a mask, while a clamp may be hoisted away from the call. */
static __always_inline long frame_fetch(struct frame_reader *r, __u64 frame, __u64 below)
{
	__u64 lo, end = frame + r->span;
	__u32 len;

	if (frame >= r->base && end <= r->base + r->len)
		return frame - r->base;
	if (!below || (frame < below && below - frame <= PY_BLOCK)) {
		lo = end > PY_BLOCK ? end - PY_BLOCK : 0;
		if (lo < (frame & ~(PY_PAGE - 1)))
			lo = frame & ~(PY_PAGE - 1);
		len = end - lo;
		if (!bpf_probe_read_user(r->blk->b, ((len - 1) & (PY_BLOCK - 1)) + 1, (void *)lo)) {
			r->base = lo;
			r->len = ((len - 1) & (PY_BLOCK - 1)) + 1;
			return frame - lo;
		}
	}
	r->base = r->len = 0;
	if (bpf_probe_read_user(r->blk->b, ((r->span - 1) & (PY_FRAME_SPAN - 1)) + 1, (void *)frame))
		return -1;
	r->base = frame;
	r->len = r->span;
	return 0;
}

/* The 8 bytes at field offset off of the frame at block offset at. */
static __always_inline __u64 frame_u64(const struct frame_reader *r, long at, __u32 off)
{
	__u64 v = 0;

	if (off <= PY_FRAME_SPAN - sizeof(v))
		__builtin_memcpy(&v, r->blk->b + (at & (PY_BLOCK - 1)) + off, sizeof(v));
	return v;
}

static __always_inline __s32 frame_lasti(const struct pm_proc_cfg *cfg, const struct frame_reader *r, long at,
					 __u64 code)
{
	const struct pm_walk_offsets *off = &cfg->off;
	__u32 o = off->frame_instr;
	__s32 lasti = -1;
	__u64 ptr;

	if (off->instr_kind <= PM_INSTR_LASTI_UNITS) {
		if (o <= PY_FRAME_SPAN - sizeof(lasti))
			__builtin_memcpy(&lasti, r->blk->b + (at & (PY_BLOCK - 1)) + o, sizeof(lasti));
		return lasti;
	}
	ptr = frame_u64(r, at, o);
	return ptr >= code + off->code_adaptive ? (__s32)((ptr - code - off->code_adaptive) >> 1) : -1;
}

/* One frame per iteration: skips C-stack shim frames, records the rest, stops at the bottom. */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *c = data;
	const struct pm_walk_offsets *off = &c->cfg->off;
	__u64 code, prev;
	__u32 n, o;
	__s32 lasti;
	__u8 owner = 0;
	long at;

	if (!c->frame) {
		c->done = true;
		return 1;
	}
	at = frame_fetch(&c->r, c->frame, c->last);
	if (at < 0) {
		c->st->flags |= PM_STACK_READ_ERROR;
		c->done = true;
		return 1;
	}
	c->last = c->frame;
	code = frame_u64(&c->r, at, off->frame_code);
	prev = frame_u64(&c->r, at, off->frame_previous);
	o = off->frame_owner;
	if (o != PM_NO_OFFSET && off->owner_skip_min && o < PY_FRAME_SPAN)
		owner = c->r.blk->b[(at & (PY_BLOCK - 1)) + o];
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
	lasti = frame_lasti(c->cfg, &c->r, at, code);
	c->st->frames[n & (PM_MAX_DEPTH - 1)].code = code;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].lasti = lasti;
	c->st->frames[n & (PM_MAX_DEPTH - 1)].pad = 0;
	c->st->nframes = n + 1;
	c->hash = mix(mix(c->hash, code), (__u32)lasti);
	c->frame = prev;
	return 0;
}

/* The end of the furthest frame field the walker reads. */
static __always_inline __u32 frame_span(const struct pm_walk_offsets *off)
{
	__u32 end = off->frame_code + 8, e;

	e = off->frame_previous + 8;
	end = e > end ? e : end;
	e = off->frame_instr + (off->instr_kind <= PM_INSTR_LASTI_UNITS ? 4 : 8);
	end = e > end ? e : end;
	if (off->frame_owner != PM_NO_OFFSET && off->owner_skip_min) {
		e = off->frame_owner + 1;
		end = e > end ? e : end;
	}
	return end;
}

/* The thread's own PyThreadState via glibc's pthread_getspecific layout, or 0. */
static __always_inline __u64 current_tstate(const struct pm_proc_cfg *cfg)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = task->thread.fsbase; /* a BTF pointer: a plain load */
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

/* Walks tstate's frames into *st (nframes, flags, frames innermost first) and returns the stack's
 * content hash (never 0 when frames were captured; 0 when there are none). */
static __always_inline __u64 py_stack_walk(struct pm_py_stack *st, const struct pm_proc_cfg *cfg, __u32 depth,
					   __u64 tstate)
{
	struct walk_ctx c = { .st = st, .cfg = cfg, .depth = depth, .hash = 0xcbf29ce484222325ULL };
	__u32 zero = 0;

	st->nframes = 0;
	st->flags = 0;
	if (!tstate) {
		st->flags |= PM_STACK_NO_TSTATE;
		return 0;
	}
	c.r.blk = bpf_map_lookup_elem(&py_frame_buf, &zero);
	c.r.span = frame_span(&cfg->off);
	if (!c.r.blk || !c.r.span || c.r.span > PY_FRAME_SPAN) {
		st->flags |= PM_STACK_READ_ERROR;
		return 0;
	}
	c.frame = top_frame(cfg, tstate);
	/* extra iterations let shim frames be skipped without spending depth */
	bpf_loop(depth + 64, walk_step, &c, 0);
	if (!c.done && c.frame)
		st->flags |= PM_STACK_TRUNCATED;
	return st->nframes ? mix(c.hash, st->nframes) | 1 : 0;
}

/* A thread's PyThreadState remembered between captures (a thread keeps its thread state for life;
 * looked up again when fsbase changes, after a read error, or every PY_TSTATE_MAX_USES uses). */
struct py_tstate_cache {
	__u64 tstate;
	__u64 fsbase;
	__u32 uses;
	__u32 pad;
};

#define PY_TSTATE_MAX_USES 256

static __always_inline __u64 py_cached_tstate(const struct pm_proc_cfg *cfg, struct py_tstate_cache *tc)
{
	__u64 fsbase = bpf_get_current_task_btf()->thread.fsbase;

	if (tc->fsbase != fsbase || !tc->tstate || tc->uses >= PY_TSTATE_MAX_USES) {
		tc->tstate = current_tstate(cfg);
		tc->fsbase = fsbase;
		tc->uses = 0;
	}
	tc->uses++;
	return tc->tstate;
}

/* py_stack_walk() from the cached thread state, which a faulting walk drops (looked up afresh next time). */
static __always_inline __u64 py_stack_walk_cached(struct pm_py_stack *st, const struct pm_proc_cfg *cfg, __u32 depth,
						  struct py_tstate_cache *tc)
{
	__u64 hash = py_stack_walk(st, cfg, depth, py_cached_tstate(cfg, tc));

	if (st->flags & PM_STACK_READ_ERROR)
		tc->tstate = 0;
	return hash;
}

/* Captures the current thread's Python stack into *st; see py_stack_walk(). */
static __always_inline __u64 py_stack_capture(struct pm_py_stack *st, const struct pm_proc_cfg *cfg, __u32 depth)
{
	return py_stack_walk(st, cfg, depth, current_tstate(cfg));
}

#endif
