/* The pure core of the memory source: /proc parsers, a per-process ring of resident-memory samples
 * with a robust growth rate and the leak verdict, the GC time share, and a per-process table of the
 * Python stacks that made memory resident (for naming leaks and "loaded too much at once" spikes).
 * No I/O, no BPF: everything takes numbers and text and is tested from fixtures. */
#ifndef MEMTREND_H
#define MEMTREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- /proc parsers ---------------------------------------------------------------------- */
/* /proc/PID/statm: resident bytes and anonymous bytes (resident - shared). 0 or -EINVAL. */
int mt_parse_statm(const char *text, long page_size, uint64_t *rss, uint64_t *anon);
/* /proc/PID/status: RssAnon + RssShmem in bytes (what the kernel's anon+shmem counters hold).
 * 0 or -EINVAL when neither line is there. */
int mt_parse_status_anon_shmem(const char *text, uint64_t *bytes);
/* /proc/PID/stat: utime + stime of the whole process in nanoseconds (comm may hold spaces and
 * parentheses). 0 or -EINVAL. */
int mt_parse_stat_cpu(const char *text, long ticks_per_second, uint64_t *cpu_ns);

/* ---- samples over time ------------------------------------------------------------------ */
#define MT_RING 128 /* samples kept; the step is chosen so that the leak window fills 3/4 */

struct mt_sample {
	uint64_t t_ns;   /* monotonic */
	uint64_t rss;    /* resident bytes */
	uint64_t anon;   /* anonymous resident bytes: what a leak grows */
	uint64_t cpu_ns; /* cumulative CPU time of the process */
	uint64_t gc_ns;  /* cumulative time in GC pauses */
};

struct mt_ring {
	struct mt_sample s[MT_RING];
	unsigned head, n;  /* s[(head + i) % MT_RING], i < n, oldest first */
	uint64_t step_ns;  /* minimum spacing of kept samples */
};

/* An empty ring for a leak window of window_s seconds (step = window / 96, at least 1 s). */
void mt_ring_init(struct mt_ring *r, unsigned window_s);
/* Keeps s if it is at least one step after the newest kept sample (or the ring is empty).
 * Returns true if kept. Samples must come in time order. */
bool mt_ring_add(struct mt_ring *r, const struct mt_sample *s);
/* The i-th kept sample, oldest first (i < r->n). */
const struct mt_sample *mt_ring_at(const struct mt_ring *r, unsigned i);

struct mt_leak_opts {
	unsigned window_s;         /* growth must be steady over this long */
	uint64_t min_growth_bytes; /* and add at least this much anonymous memory */
};

struct mt_trend {
	bool covered;          /* the samples span (nearly) the whole window */
	bool steady;           /* each quarter of the window sits higher than the one before */
	bool leak;             /* covered && steady && growth >= min_growth_bytes */
	double slope_bps;      /* robust growth rate of anon memory, bytes per second (may be < 0) */
	double span_s;         /* time covered by the samples used */
	int64_t growth_bytes;  /* slope * span */
	uint64_t quarter_median[4];
	unsigned samples;
};

/* Judges the samples of the last o->window_s seconds before now_ns (the newest sample counts as
 * now when now_ns is 0). The rate is the median of the slopes between samples half the window
 * apart, so a spike, a GC sawtooth or one big load does not make a trend. */
void mt_trend_eval(const struct mt_ring *r, const struct mt_leak_opts *o, uint64_t now_ns, struct mt_trend *out);

/* Share of CPU time spent in GC between the oldest kept sample at most period_s before `now` and
 * `now` itself: (gc delta) / (cpu delta). Returns false when there is no such sample or no CPU
 * time passed; *dcpu_ns / *dgc_ns (may be NULL) get the deltas. */
bool mt_gc_share(const struct mt_ring *r, const struct mt_sample *now, unsigned period_s, double *share,
		 uint64_t *dcpu_ns, uint64_t *dgc_ns);

/* ---- the stacks that made memory resident ------------------------------------------------ */
#define MT_MAX_STACKS  16  /* per process; a new stack replaces the one with the least recent bytes */
#define MT_SUBWIN      8   /* growth history: the leak window in 8 slots */
#define MT_SPIKE_SLOTS 10  /* fault history: the last 10 seconds, 1 s slots */
#define MT_SITE_LEN    192
#define MT_STACK_LEN   384

struct mt_stack {
	uint64_t hash;                  /* the kernel's stack hash; 0 = no Python stack */
	char site[MT_SITE_LEN];         /* innermost frame: "qualname (file:line)" */
	char stack[MT_STACK_LEN];       /* innermost first, " <- " between frames, cut to fit */
	uint64_t growth[MT_SUBWIN];     /* high-water growth per slot of the leak window */
	uint64_t fault[MT_SPIKE_SLOTS]; /* resident bytes brought in per second */
	uint64_t fault_total, growth_total;
	bool spiking;                   /* reported as a spike; re-armed below half the threshold */
	bool used;
};

struct mt_stacks {
	struct mt_stack s[MT_MAX_STACKS];
	uint64_t subwin_ns;
	uint64_t sub_at, sec_at; /* absolute slot indexes of the newest writes */
	uint64_t evictions;
};

void mt_stacks_init(struct mt_stacks *m, unsigned window_s);
/* The entry for hash, or NULL. */
struct mt_stack *mt_stacks_find(struct mt_stacks *m, uint64_t hash);
/* The entry for hash, created (site/stack copied, NULL = "") when missing. Never fails: at the cap
 * the entry with the fewest recent bytes is reused (counted in evictions). */
struct mt_stack *mt_stacks_get(struct mt_stacks *m, uint64_t now_ns, uint64_t hash, const char *site,
			       const char *stack);
/* Charges bytes made resident at now_ns to st (an entry of m). */
void mt_stacks_charge(struct mt_stacks *m, struct mt_stack *st, uint64_t now_ns, uint64_t fault_bytes,
		      uint64_t growth_bytes);
/* High-water growth of st over the leak window / faults over the spike window, as of now_ns. */
uint64_t mt_stack_window_growth(const struct mt_stacks *m, const struct mt_stack *st, uint64_t now_ns);
uint64_t mt_stack_recent_faults(const struct mt_stacks *m, const struct mt_stack *st, uint64_t now_ns,
				unsigned *seconds);
/* Up to max entries with the most growth over the window (ties: most faults), largest first.
 * Entries without growth are left out. Returns how many. */
size_t mt_stacks_top(const struct mt_stacks *m, uint64_t now_ns, const struct mt_stack **out, size_t max);

struct mt_spike {
	const struct mt_stack *st;
	uint64_t bytes;   /* made resident within the spike window */
	unsigned seconds; /* 1 s slots that saw any of it */
	bool fresh;       /* the episode starts now (else it is still going on) */
};
/* Stacks in a spike episode: they made at least threshold bytes resident within the last
 * MT_SPIKE_SLOTS seconds (fresh the first time; an episode ends once the window holds less than
 * half the threshold). Returns how many (<= max). */
size_t mt_stacks_spikes(struct mt_stacks *m, uint64_t now_ns, uint64_t threshold, struct mt_spike *out,
			size_t max);

/* ---- formatting helpers ----------------------------------------------------------------- */
/* "12.3 MiB", "512 KiB", "900 B" into buf. */
void mt_format_bytes(double bytes, char *buf, size_t len);

#endif
