/* Userspace walk of every Python thread of a target, with the same frame rules as the BPF
 * walker (shim frames skipped, positions captured the same way), for `pyrometer dump` and for
 * checking the BPF walker. Reads target memory while it runs: every loop is bounded, and a walk
 * that trips over a thread state freed under it starts again. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmem.h"
#include "pywalk.h"

#define WALK_MAX_INTERPS      64
#define WALK_MAX_THREADS      4096
#define WALK_MAX_SKIPPED      (4 * PM_MAX_DEPTH) /* shim frames tolerated per stack */
#define WALK_FRAME_HDR        128
#define WALK_ATTEMPTS         4 /* walks tried while threads come and go under us */
#define GLIBC_PTHREAD_TID_OFF 0x2d0 /* glibc 2.36 x86_64 offsetof(struct pthread, tid) */

/* The bytes of a frame we use, read at once. */
static size_t frame_hdr_len(const struct py_layout *l)
{
	const uint16_t offs[] = { l->frame_code, l->frame_previous, l->frame_instr, l->frame_owner };
	size_t len = 0;

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (offs[i] != PYOFF_NONE && (size_t)offs[i] + 8 > len)
			len = offs[i] + 8;
	return len;
}

static uint64_t get_u64(const uint8_t *b, uint16_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return v;
}

/* The position as BPF captures it: f_lasti as is, or the code-unit index of the pointer. */
static int32_t frame_lasti(const struct py_layout *l, const uint8_t *f, uint64_t code)
{
	int32_t lasti;
	int64_t d;

	if (l->instr_kind == PM_INSTR_LASTI_BYTES || l->instr_kind == PM_INSTR_LASTI_UNITS) {
		memcpy(&lasti, f + l->frame_instr, 4);
		return lasti;
	}
	d = (int64_t)(get_u64(f, l->frame_instr) - (code + l->code_adaptive));
	if (d < -2 || d > (int64_t)INT32_MAX * 2)
		return -1;
	return (int32_t)(d / 2);
}

/* The first frame of tstate: direct, or through the 3.11/3.12 _PyCFrame. */
static int top_frame(const struct py_target *t, uint64_t tstate, uint64_t *frame)
{
	const struct py_layout *l = t->layout;
	uint64_t p;
	int err;

	err = procmem_read_u64(t->pid, tstate + l->tstate_frame, &p);
	if (err || l->cframe_current_frame == PYOFF_NONE || !p) {
		*frame = err ? 0 : p;
		return err;
	}
	return procmem_read_u64(t->pid, p + l->cframe_current_frame, frame);
}

static bool is_shim(const struct py_target *t, const uint8_t *f, uint64_t code)
{
	const struct py_layout *l = t->layout;

	if (!code || (t->none_addr && code == t->none_addr))
		return true;
	return l->owner_skip_min && l->frame_owner != PYOFF_NONE &&
	       f[l->frame_owner] >= l->owner_skip_min;
}

static int walk_frames(const struct py_target *t, uint64_t tstate, struct py_thread_stack *st)
{
	const struct py_layout *l = t->layout;
	size_t hlen = frame_hdr_len(l);
	uint8_t f[WALK_FRAME_HDR];
	uint64_t frame, code;
	int skipped = 0, err;

	if (hlen > sizeof(f))
		return -EINVAL;
	err = top_frame(t, tstate, &frame);
	while (!err && frame) {
		err = procmem_read(t->pid, frame, f, hlen);
		if (err)
			break;
		code = get_u64(f, l->frame_code);
		if (is_shim(t, f, code)) {
			if (++skipped > WALK_MAX_SKIPPED)
				break;
		} else if (st->nframes == PM_MAX_DEPTH) {
			st->flags |= PM_STACK_TRUNCATED;
			break;
		} else {
			st->frames[st->nframes].code = code;
			st->frames[st->nframes].lasti = frame_lasti(l, f, code);
			st->nframes++;
		}
		frame = get_u64(f, l->frame_previous);
	}
	if (err == -ESRCH)
		return err;
	if (err)
		st->flags |= PM_STACK_READ_ERROR;
	return 0;
}

/* Before 3.11 a tstate has no native id: glibc keeps the kernel tid inside struct pthread
 * (thread_id points at it); accept it only if it names a task of the target. */
static uint32_t tid_from_pthread(const struct py_target *t, uint64_t pthread)
{
	char path[64];
	int32_t tid;

	if (!pthread || procmem_read(t->pid, pthread + GLIBC_PTHREAD_TID_OFF, &tid, sizeof(tid)) ||
	    tid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)t->pid, tid);
	return access(path, F_OK) ? 0 : (uint32_t)tid;
}

static int thread_stack(const struct py_target *t, uint64_t tstate, struct py_thread_stack *st)
{
	const struct py_layout *l = t->layout;
	uint64_t native = 0;
	int err;

	memset(st, 0, offsetof(struct py_thread_stack, frames));
	err = procmem_read_u64(t->pid, tstate + l->tstate_thread_id, &st->thread_id);
	if (err)
		return err;
	if (l->tstate_native_thread_id != PYOFF_NONE) {
		err = procmem_read_u64(t->pid, tstate + l->tstate_native_thread_id, &native);
		if (err)
			return err;
		st->native_tid = (uint32_t)native;
	} else {
		st->native_tid = tid_from_pthread(t, st->thread_id);
	}
	return walk_frames(t, tstate, st);
}

/* Snapshots every thread's stack into *out (grown as needed). A thread state freed while we
 * follow the list makes a read fault: -EFAULT, and the caller walks again. */
static int walk_once(const struct py_target *t, struct py_thread_stack **out, size_t *cap,
		     size_t *n)
{
	const struct py_layout *l = t->layout;
	struct py_thread_stack *grown;
	uint64_t interp, tstate;
	int err;

	*n = 0;
	err = procmem_read_u64(t->pid, t->runtime_addr + l->runtime_interp_head, &interp);
	for (int i = 0; !err && interp && i < WALK_MAX_INTERPS; i++) {
		err = procmem_read_u64(t->pid, interp + l->interp_threads_head, &tstate);
		for (int j = 0; !err && tstate && j < WALK_MAX_THREADS; j++) {
			if (*n == *cap) {
				grown = realloc(*out, (*cap ? *cap * 2 : 8) * sizeof(**out));
				if (!grown)
					return -ENOMEM;
				*out = grown;
				*cap = *cap ? *cap * 2 : 8;
			}
			err = thread_stack(t, tstate, &(*out)[*n]);
			if (!err) {
				(*n)++;
				err = procmem_read_u64(t->pid, tstate + l->tstate_next, &tstate);
			}
		}
		if (!err)
			err = procmem_read_u64(t->pid, interp + l->interp_next, &interp);
	}
	return err;
}

int py_walk_threads(const struct py_target *t, int (*cb)(const struct py_thread_stack *, void *),
		    void *ctx)
{
	struct py_thread_stack *stacks = NULL;
	size_t cap = 0, n = 0;
	int err = -EFAULT;

	if (!t->layout)
		return -EINVAL;
	for (int attempt = 0; attempt < WALK_ATTEMPTS && err == -EFAULT; attempt++)
		err = walk_once(t, &stacks, &cap, &n);
	if (err && err != -ESRCH && kill(t->pid, 0) < 0 && errno == ESRCH)
		err = -ESRCH;
	/* A process that exited mid-walk still reports the threads read before it went. */
	if (!err || err == -ESRCH) {
		for (size_t i = 0; i < n; i++) {
			int rc = cb(&stacks[i], ctx);

			if (rc) {
				err = rc;
				break;
			}
		}
	}
	free(stacks);
	return err ? err : (int)n;
}
