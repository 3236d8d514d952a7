/* N+1 query detection from finished queries alone: per thread, queries close together in time
 * form a burst; when a burst ends, every (fingerprint, call site) group in it that repeated at
 * least min_repeats times and spent at least min_total_ns is an N+1 finding, and one parameter
 * set repeated min_repeats times is a "cacheable" finding. Findings aggregate over bursts and
 * expire when not seen again. Pure: the caller supplies time, ids and parameter hashes, never
 * parameter values. */
#ifndef NPLUSONE_H
#define NPLUSONE_H

#include <stddef.h>
#include <stdint.h>

#define NP_DEFAULT_MIN_REPEATS   5
#define NP_DEFAULT_MIN_TOTAL_MS  50
#define NP_GROUPS_PER_BURST      16 /* distinct (fingerprint, call site) per burst; more are ignored */
#define NP_PARAMS_PER_GROUP      8  /* distinct parameter hashes tracked per group */

struct np_opts {
	unsigned min_repeats;   /* default NP_DEFAULT_MIN_REPEATS */
	uint64_t min_total_ns;  /* default NP_DEFAULT_MIN_TOTAL_MS */
	uint64_t burst_gap_ns;  /* a thread idle this long ends its burst (default 500 ms) */
	uint64_t burst_max_ns;  /* a longer burst is evaluated and restarted (default 10 s) */
	uint64_t keep_ns;       /* findings not seen again for this long go (default 10 min) */
	size_t max_threads;     /* threads with an open burst (default 1024; further queries dropped) */
	size_t max_findings;    /* default 256; the least recently seen finding makes room */
};

struct np_query {
	uint32_t pid, tid;
	uint32_t service;       /* the caller's id for the service */
	uint64_t fingerprint;
	uint64_t params_hash;   /* 0 = unknown */
	uint64_t callsite;      /* the caller's id for the call site; 0 = unknown */
	uint64_t start_ns, end_ns;
};

enum np_kind { NP_NPLUSONE = 1, NP_CACHEABLE = 2 };

struct np_finding {
	enum np_kind kind;
	uint32_t service, pid;
	uint64_t fingerprint, callsite;
	uint64_t bursts;            /* bursts that crossed the thresholds */
	uint64_t queries;           /* queries in those bursts' groups */
	uint64_t total_ns;          /* their summed latency */
	unsigned last_repeats, max_repeats;
	uint64_t last_total_ns;
	unsigned last_distinct_params; /* distinct parameter sets in the last burst (capped) */
	uint64_t first_ns, last_ns;
};

struct np_stats {
	uint64_t bursts, queries, thread_cap_drops, group_cap_drops, finding_evictions;
};

struct np;

/* NULL on ENOMEM; zero fields of o take the defaults. */
struct np *np_new(const struct np_opts *o);
void np_free(struct np *np);
/* Changes the thresholds (config reload); bursts in progress use the new ones when they end. */
void np_set_thresholds(struct np *np, unsigned min_repeats, uint64_t min_total_ns);
/* One finished query; queries of a thread arrive in completion order. */
void np_add(struct np *np, const struct np_query *q);
/* Ends bursts idle since before now - burst_gap_ns and expires old findings. */
void np_tick(struct np *np, uint64_t now_ns);
/* Ends the bursts of a process that went (its findings stay until they expire). */
void np_forget_pid(struct np *np, uint32_t pid, uint64_t now_ns);
/* Calls fn for each current finding. */
void np_foreach(const struct np *np, void (*fn)(const struct np_finding *f, void *ctx), void *ctx);
void np_get_stats(const struct np *np, struct np_stats *out);

#endif
