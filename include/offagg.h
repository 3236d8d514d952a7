/* Rolling off-CPU aggregates per service: a ring of time slots, each with the off-CPU time per
 * reason and a nanosecond-weighted profile whose stacks are rooted in a "[reason]" frame, plus
 * lifetime counters and latency histograms for the metrics. Bounded by max_services (further
 * services are counted and dropped) and max_stacks per slot. Pure: no I/O, not thread-safe. */
#ifndef OFFAGG_H
#define OFFAGG_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "pyrometer_bpf.h"

#define OFFAGG_HIST_LOOP PM_OFF_ALL_REASONS /* histogram kind of event-loop stretches */
#define OFFAGG_HIST_KINDS (PM_OFF_ALL_REASONS + 1)

struct offagg_opts {
	unsigned slot_seconds;   /* default 10 */
	unsigned window_seconds; /* default 60 */
	size_t max_services;     /* default 256 */
	size_t max_stacks;       /* per slot profile, default 4096 */
};

struct offagg_hist {
	uint64_t slots[PM_OFF_HIST_SLOTS]; /* log2 microsecond buckets as in the BPF contract */
	uint64_t sum_ns;
};

/* What offagg_foreach shows of a service. */
struct offagg_info {
	const char *service;
	uint64_t total_ns[PM_OFF_ALL_REASONS]; /* lifetime off-CPU time per reason */
	uint64_t oncpu_ns, voluntary, involuntary; /* lifetime scheduler counters */
	uint64_t stalls;                       /* event-loop stretches over the threshold */
	const struct offagg_hist *hist;        /* [OFFAGG_HIST_KINDS] */
};

struct offagg_stats {
	size_t services;
	uint64_t dropped_service_cap_ns, dropped_stack_cap_ns;
};

struct offagg;

struct offagg *offagg_new(const struct offagg_opts *o);
void offagg_free(struct offagg *a);

/* Adds ns of off-CPU time for reason on the Python stack ids[0..n) of src (frames root first; n
 * may be 0) at now_s; the stored stack is "[reason]" + those frames + a leaf frame for the
 * syscall when syscall_name is not NULL. Returns 0, -ENOSPC (service cap; counted), -EINVAL. */
int offagg_add(struct offagg *a, const char *service, unsigned reason, const struct profile *src,
	       const uint32_t *ids, uint32_t n, const char *syscall_name, uint64_t ns, uint64_t now_s);
/* Adds histogram deltas of kind (a reason or OFFAGG_HIST_LOOP). */
int offagg_hist_add(struct offagg *a, const char *service, unsigned kind, const uint64_t *slots,
		    uint64_t sum_ns);
/* Adds scheduler counter deltas. */
int offagg_sched_add(struct offagg *a, const char *service, uint64_t oncpu_ns, uint64_t voluntary,
		     uint64_t involuntary);
/* Counts one event-loop stall of the service. */
int offagg_stall_add(struct offagg *a, const char *service);
/* Registers a service at now_s (idempotent): its window never starts before this. */
int offagg_touch(struct offagg *a, const char *service, uint64_t now_s);

/* Off-CPU ns per reason over the window ending at now_s (the current slot and the window's full
 * slots before it), and the wall seconds that covers (from the oldest slot's start, or from the
 * service's registration if later). -ENOENT for an unknown service. */
int offagg_window(struct offagg *a, const char *service, uint64_t now_s, uint64_t ns[PM_OFF_ALL_REASONS],
		  unsigned *covered_s);
/* A new profile (PROF_UNIT_NANOSECONDS) of the last `seconds` (0: the window), NULL with errno
 * ENOENT if unknown. The caller frees it. */
struct profile *offagg_profile(struct offagg *a, const char *service, unsigned seconds, uint64_t now_s);
/* The heaviest stack of p rooted in "[reason]", or NULL. */
const struct prof_stack *offagg_top_stack(const struct profile *p, unsigned reason);
/* "[disk]" etc.: the root frame name of a reason. */
const char *offagg_root_name(unsigned reason, char *buf, size_t len);

/* Slots in the ring: a window's worth plus the one filling now. */
unsigned offagg_nslots(const struct offagg *a);
/* Calls fn for every service. */
void offagg_foreach(struct offagg *a, void (*fn)(const struct offagg_info *, void *), void *ctx);
void offagg_get_stats(const struct offagg *a, struct offagg_stats *st);

/* ---- exposition (src/offagg_expo.c) ---------------------------------------------------------- */
struct expo;
struct offfind;
/* What the kernel side lost, for pyrometer_offcpu_drops_total. */
struct offagg_drops {
	uint64_t count_map_full, stack_map_full, stack_evicted, stall_ring_full, stretch_untimed, walks;
};
/* Writes the off-CPU families for every service: off-CPU seconds by reason, scheduler counters,
 * blocking-wait and event-loop histograms, stalls, verdicts (from f) and drops. 0 or -errno. */
int offagg_metrics(struct offagg *a, struct offfind *f, const struct offagg_drops *d, struct expo *x);

#endif
