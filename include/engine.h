/* The daemon's engine: owns the BPF sampler, the process watcher, the tracker, the symbolizer and
 * the rolling aggregates, and runs the ingest loop (events -> discovery -> drain -> aggregates).
 * Readers (HTTP handlers, other threads) call the engine_* query functions, which lock. */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "cpu.h"
#include "expo.h"
#include "pgwire.h"
#include "memory.h"
#include "profile.h"
#include "service.h"

struct engine;

struct engine_opts {
	struct cpu_sampler_opts cpu;
	unsigned window_seconds;   /* rolling history (default 60) */
	unsigned slot_seconds;     /* granularity (default 10) */
	unsigned scan_seconds;     /* full /proc rescan period (default 30) */
	unsigned drain_ms;         /* kernel -> aggregates period (default 250) */
	size_t max_processes, max_services, max_stacks;
	const struct svc_rules *rules; /* service overrides (owned by the caller, may be NULL) */
	const struct svc_rules *excludes; /* processes not to trace (owned by the caller, may be NULL) */
	struct pgwire_opts db;         /* the pgwire (database queries) source (zeroes: defaults) */
	unsigned loop_stall_ms;        /* offcpu source: event-loop stall threshold, 0 = off */
	struct memory_opts mem;        /* the memory source (zeroes: defaults) */
};

/* Loads BPF and discovers the Python processes already running. Returns 0 or -errno. */
int engine_start(const struct engine_opts *o, struct engine **out);
void engine_free(struct engine *e);
/* One turn of the ingest loop, waiting up to timeout_ms for events. Returns 0 or -errno. */
int engine_run_once(struct engine *e, int timeout_ms);
/* Applies a reloaded configuration (SIGHUP): the service rules and exclusions (existing processes
 * are re-attributed, those now excluded are no longer traced) and each source's live options (the
 * database capture's on/off). o's rules must outlive the engine or the next reload. */
void engine_reload(struct engine *e, const struct engine_opts *o);

/* ---- queries (thread-safe) ------------------------------------------------------------- */
/* {"services":[{name, processes, cpu_seconds_total, cpu_percent, top_function}...]} */
json_object *engine_services_json(struct engine *e);
/* {"processes":[{pid, service, comm, exe, python, runtime, shared, usdt, sources...}]} */
json_object *engine_processes_json(struct engine *e);
/* One process's capability report, or NULL if not tracked. */
json_object *engine_process_json(struct engine *e, pid_t pid);
/* {"pid":..,"threads":[{thread_id, native_tid, frames:[{name,file,line}]}]}, NULL + errno if unknown. */
json_object *engine_stacks_json(struct engine *e, pid_t pid);
/* {"status":"ok", uptime, processes, services, bpf stats...} */
json_object *engine_health_json(struct engine *e);

/* Profile over the last `seconds` of history for a service (pid 0) or a process. NULL + errno
 * ENOENT if unknown. */
struct profile *engine_profile_window(struct engine *e, const char *service, pid_t pid, unsigned seconds);
/* Profile of the next `seconds`: blocks the calling thread, collecting live samples. */
struct profile *engine_profile_capture(struct engine *e, const char *service, pid_t pid, unsigned seconds);
/* True if the service or pid is currently known. */
bool engine_knows(struct engine *e, const char *service, pid_t pid);

/* {"findings":[...]} from every source. */
json_object *engine_findings_json(struct engine *e);

/* Writes every pyrometer_* metric family into x. Returns 0 or -errno. */
int engine_metrics(struct engine *e, struct expo *x);

#endif
