/* The per-service verdict: "is it CPU-bound or I/O-bound?" answered from thread time shares over a
 * window. A pure function of the numbers (no I/O, no clocks), so the rule is tested from tables and
 * documented in the README as is:
 *   busy   = cpu + runq + disk + net + lock   (thread-seconds spent running or waiting on a resource)
 *   idle   when busy < VERDICT_IDLE_BUSY x window (less than 5 % of one thread busy on average);
 *   else the busy category with the largest share of busy, if that share >= VERDICT_DOMINANT,
 *        gives cpu-bound / cpu-starved / io-bound:disk / io-bound:network / lock-bound;
 *   else mixed.
 * Sleeping, polling for events, condition waits, pipes and other waits are "not busy": they are
 * reported in the shares but never make a service I/O- or lock-bound. */
#ifndef VERDICT_H
#define VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#define VERDICT_IDLE_BUSY 0.05
#define VERDICT_DOMINANT  0.5

/* Where thread time went; the first VC_NBUSY categories are "busy". */
enum verdict_cat {
	VC_CPU = 0,  /* running (on-CPU samples) */
	VC_RUNQ,     /* runnable, waiting for a CPU */
	VC_DISK,     /* blocked on disk / uninterruptible I/O */
	VC_NET,      /* blocked on a socket */
	VC_LOCK,     /* blocked on a lock or the GIL */
	VC_SLEEP,    /* time.sleep and timers */
	VC_POLL,     /* an event loop or server waiting for events */
	VC_WAIT,     /* condition/event waits: waiting for work */
	VC_PIPE,     /* a pipe (e.g. a child's output) */
	VC_OTHER,    /* anything else */
	VC_N,
};
#define VC_NBUSY (VC_LOCK + 1)

enum verdict_kind {
	VK_IDLE = 0,
	VK_CPU_BOUND,
	VK_CPU_STARVED,
	VK_IO_DISK,
	VK_IO_NET,
	VK_LOCK_BOUND,
	VK_MIXED,
	VK_N,
};

struct verdict_in {
	uint64_t ns[VC_N];  /* thread-nanoseconds per category over the window */
	uint64_t window_ns; /* wall time the window covers (> 0) */
};

struct verdict {
	enum verdict_kind kind;
	enum verdict_cat dominant; /* largest busy category; when idle, the largest of all (VC_N: none) */
	enum verdict_cat second;   /* runner-up busy category (VC_N if none, and when idle) */
	double share[VC_N];        /* of all accounted thread time (sums to 1, or all 0) */
	double busy_share[VC_NBUSY]; /* of busy time (sums to 1, or all 0) */
	double busy_threads;       /* busy thread-seconds per second of window */
};

/* Applies the rule above. Returns 0, or -EINVAL for a zero window. */
int verdict_decide(const struct verdict_in *in, struct verdict *out);

/* "cpu-bound", "io-bound:disk", ... ; "?" out of range. */
const char *verdict_kind_name(enum verdict_kind k);
/* "cpu", "runq", "disk", "net", "lock", "sleep", "poll", "wait", "pipe", "other". */
const char *verdict_cat_name(enum verdict_cat c);
/* The verdict a busy category leads to when it dominates. */
enum verdict_kind verdict_of_cat(enum verdict_cat c);

#endif
