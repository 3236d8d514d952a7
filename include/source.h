/* Data sources plugged into the daemon's engine: one per concern (off-CPU and I/O, database
 * queries, memory, ...), each a bpf/x.bpf.c + src/x.c pair exposing one `struct source_ops`.
 * The engine calls every hook with its lock held, from the ingest loop (or an HTTP thread for the
 * query hooks), so a source needs no locking of its own. Register a source by adding one line to
 * the table in src/sources.c. Every hook is optional (NULL). */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "engine.h"
#include "expo.h"
#include "pytarget.h"

struct source_ops {
	const char *name; /* "offcpu", "pgwire", "memory": shown in health and logs */
	/* Loads BPF etc.; *state is the source's own. Returns 0, or -errno: the engine then runs
	 * without this source and reports it in /api/v1/health ("continuing without X"). */
	int (*start)(struct engine *e, const struct engine_opts *o, void **state);
	void (*stop)(void *state);
	/* A Python process was tracked (service already resolved) / is about to be dropped. */
	void (*track)(void *state, const struct py_target *t, const char *service);
	void (*untrack)(void *state, pid_t pid);
	/* Periodic work (drain maps/ring buffers), every loop turn (~100 ms). */
	void (*tick)(void *state, uint64_t now_mono_ns);
	/* The configuration was reloaded (SIGHUP): applies the options that change live. */
	void (*reload)(void *state, const struct engine_opts *o);
	/* An epoll-able fd that wakes the loop (a ring buffer), or -1. */
	int (*poll_fd)(void *state);
	/* Adds this source's metric families. */
	int (*metrics)(void *state, struct expo *x);
	/* Appends finding objects ({"kind","service","pid","title","code","evidence","fix",...}) to arr. */
	void (*findings)(void *state, json_object *arr);
	/* Adds fields to one service's row in /api/v1/services (e.g. "verdict"). */
	void (*service_json)(void *state, const char *service, json_object *row);
	/* Adds fields to one process's capability report ("sources"). */
	void (*process_json)(void *state, pid_t pid, json_object *sources);
};

/* The registered sources (src/sources.c), NULL-terminated. */
extern const struct source_ops *const pyrometer_sources[];

/* ---- engine services for sources (call with the engine lock held, i.e. from a hook) ------- */
/* The tracked target of pid, or NULL. */
const struct py_target *engine_target(struct engine *e, pid_t pid);
/* The service of a tracked pid, or NULL. */
const char *engine_service_of(struct engine *e, pid_t pid);
/* Symbolizes one Python frame of pid (see pysym_resolve). Returns 0 or -errno. */
int engine_symbolize(struct engine *e, pid_t pid, uint64_t code, int32_t lasti, const char **name,
		     const char **file, int *line);
struct bpf_object;
/* Makes a source's BPF object (opened, not loaded) share the CPU sampler's maps of tracked
 * processes (py_procs: per-pid CPython layouts, and its generation and per-task cache, see
 * bpf/tracked.bpf.h), so every object agrees on who is tracked and walks stacks the same way. */
int engine_share_tracked(struct engine *e, struct bpf_object *obj);
/* Whether the source called `name` started and runs. Sources start in their order in
 * src/sources.c: ask only about an earlier one. */
bool engine_source_running(struct engine *e, const char *name);
/* Calls fn(state, arg) with the engine lock held for the running source called `name` (for
 * a source's own API routes); returns fn's result, or NULL with errno ENODEV when that source is
 * not running. Takes the lock itself: not from a hook. */
json_object *engine_source_call(struct engine *e, const char *name, json_object *(*fn)(void *state, void *arg),
				void *arg);
/* On-CPU samples of a service over the last `seconds` (a new profile; the caller frees). */
struct profile *engine_cpu_profile_locked(struct engine *e, const char *service, unsigned seconds);

#endif
