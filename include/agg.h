/* Rolling CPU aggregates of the daemon: per service and per process, a ring of time slots each
 * holding a profile, plus lifetime counters. Bounded: at most max_services services and
 * max_processes processes; samples past a cap are counted, never stored. Not thread-safe. */
#ifndef AGG_H
#define AGG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile.h"

struct agg;

struct agg_opts {
	unsigned slot_seconds;   /* width of one slot (default 10) */
	unsigned window_seconds; /* history kept (default 60): nslots = window / slot */
	size_t max_services;     /* default 256 */
	size_t max_processes;    /* default 4096 */
	size_t max_stacks;       /* per slot profile (default 4096) */
	uint64_t period_ns;      /* sampling period: one sample = this much CPU time */
};

struct agg_entity_info {
	const char *service;
	pid_t pid;                /* 0 for a service */
	uint64_t samples_total;   /* lifetime */
	uint64_t samples_window;  /* within the window */
	unsigned nprocs;          /* for a service: live processes */
	const char *top_function; /* hottest leaf Python frame in the window, or "" */
};

struct agg_stats {
	size_t services, processes;
	uint64_t dropped_service_cap, dropped_process_cap, dropped_stack_cap;
};

struct agg *agg_new(const struct agg_opts *o);
void agg_free(struct agg *a);

/* Registers a live process under a service (idempotent; a new service name moves it). */
int agg_process_add(struct agg *a, pid_t pid, const char *service);
/* The process exited: its counters stay in its service, its own ring is dropped. */
void agg_process_gone(struct agg *a, pid_t pid);

/* Adds `count` samples of the stack ids[0..n) of profile src (frames are copied) for process pid
 * at time now_s. Returns 0 or -errno (-ENOENT: pid not registered). */
int agg_add(struct agg *a, pid_t pid, const struct profile *src, const uint32_t *ids, uint32_t n,
	    uint64_t count, uint64_t now_s);

/* A new profile with the samples of a service (pid 0) or a process over the last `seconds`;
 * NULL if unknown (errno ENOENT) or on OOM. The caller frees it. */
struct profile *agg_profile(struct agg *a, const char *service, pid_t pid, unsigned seconds, uint64_t now_s);

/* Calls fn for every service (pid 0 rows) and, when with_processes, each process. */
void agg_foreach(struct agg *a, int with_processes, uint64_t now_s,
		 void (*fn)(const struct agg_entity_info *, void *), void *ctx);
/* The service of a live process, or NULL. */
const char *agg_service_of(struct agg *a, pid_t pid);
void agg_get_stats(const struct agg *a, struct agg_stats *st);

#endif
