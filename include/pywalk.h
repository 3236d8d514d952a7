/* Userspace walk of every thread's Python stack in a target (for `dump`): interpreter list ->
 * thread states -> frames, read with process_vm_readv while the target keeps running. */
#ifndef PYWALK_H
#define PYWALK_H

#include <stdint.h>
#include <sys/types.h>

#include "pyrometer_bpf.h"
#include "pytarget.h"

struct py_thread_stack {
	uint64_t thread_id;       /* pthread_t */
	uint32_t native_tid;      /* OS thread id (3.11+; else resolved from /proc/PID/task when possible, or 0) */
	uint32_t nframes;         /* frames[0] is the innermost frame */
	uint32_t flags;           /* PM_STACK_* */
	struct pm_py_frame frames[PM_MAX_DEPTH];
};

/* Calls cb once per thread of every interpreter of t. Returns the number of threads, or -errno.
 * A target that exits mid-walk yields -ESRCH after the threads already reported. */
int py_walk_threads(const struct py_target *t, int (*cb)(const struct py_thread_stack *, void *),
		    void *ctx);

#endif
