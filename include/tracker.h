/* The set of Python processes being sampled: discovers them (now, at exec with retries while
 * ld.so maps libpython, by /proc scans), inherits layouts across fork, drops them at exit, and
 * keeps the CPU sampler's py_procs map in step. Used by `record` (one family) and the daemon
 * (the whole host). Not thread-safe. */
#ifndef TRACKER_H
#define TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpu.h"
#include "pytarget.h"

struct tracker;

struct tracker_opts {
	bool whole_host;     /* follow every process; else only roots and (if follow_children) descendants */
	bool follow_children;
	size_t max_procs;    /* cap on tracked processes (default PM_MAX_PROCS) */
	/* Called after a process is tracked / before it is dropped (exit, exec into something else). */
	void (*on_track)(const struct py_target *t, void *ctx);
	void (*on_untrack)(pid_t pid, void *ctx);
	/* Asked before a discovered process is tracked (may be NULL: all are): false leaves it
	 * untraced until it execs again. */
	bool (*admit)(pid_t pid, void *ctx);
	void *ctx;
};

struct tracker_stats {
	size_t tracked, pending;
	uint64_t discovered, exited, cap_drops;
	uint64_t not_python, unsupported, failed; /* discovery outcomes */
	uint64_t excluded;   /* Python processes refused by admit (each counted once per exec) */
};

int tracker_new(struct cpu_sampler *cpu, const struct tracker_opts *o, struct tracker **out);
void tracker_free(struct tracker *tr);

/* Discovers pid now (retrying briefly while its interpreter initializes) and tracks it as a root.
 * Returns 0 or py_discover's -errno; *t (may be NULL) gets the target. */
int tracker_add_root(struct tracker *tr, pid_t pid, struct py_target *t);
/* Feeds one process event (from procwatch). */
void tracker_event(struct tracker *tr, const struct pm_proc_event *ev);
/* Runs due discovery retries. */
void tracker_tick(struct tracker *tr);
/* Discovers every Python process in /proc not yet tracked. Returns how many were added. */
int tracker_scan(struct tracker *tr);
/* Stops tracing pid (if tracked) and leaves it untraced until it execs again. */
void tracker_exclude(struct tracker *tr, pid_t pid);
/* Forgets which processes were excluded, so the next scan judges them again (new rules). */
void tracker_forget_excluded(struct tracker *tr);
/* Drops processes that no longer exist (missed exit events). */
void tracker_reap(struct tracker *tr);

const struct py_target *tracker_find(const struct tracker *tr, pid_t pid);
/* Calls fn for each tracked target. */
void tracker_foreach(const struct tracker *tr, void (*fn)(const struct py_target *t, void *ctx), void *ctx);
void tracker_get_stats(const struct tracker *tr, struct tracker_stats *st);

#endif
