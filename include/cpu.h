/* The CPU sampler: loads bpf/cpu.bpf.c, attaches a cpu-clock perf event on every online CPU and
 * drains the in-kernel (pid, tid, stack) counts. The only module that touches the cpu skeleton. */
#ifndef CPU_H
#define CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyrometer_bpf.h"

struct cpu_sampler;

/* The always-on default, as Parca Agent's: a prime off the 100/250/1000 Hz timer rates, and low
 * enough that the timer on otherwise idle CPUs costs nothing measurable (at 99 Hz it cost an
 * aiohttp service under loopback wrk ~3 % of its requests in the benchmark VMs). */
#define CPU_DEFAULT_RATE_HZ 19

struct cpu_sampler_opts {
	unsigned rate_hz;    /* samples per second per CPU (default CPU_DEFAULT_RATE_HZ) */
	unsigned max_depth;  /* Python frames per stack, 1..PM_MAX_DEPTH (default PM_DEFAULT_DEPTH) */
	unsigned max_stacks; /* distinct Python stacks kept in the kernel (default PM_MAX_STACKS) */
	bool kernel_stacks;
	bool user_stacks;
};

/* The rate opts ask for: rate_hz, or the default when it is 0. */
static inline unsigned cpu_rate_hz(const struct cpu_sampler_opts *o)
{
	return o->rate_hz ? o->rate_hz : CPU_DEFAULT_RATE_HZ;
}

/* One drained sample key. stack is NULL when the sample had no Python stack or when the stack was
 * evicted before it could be read (then key->py_stack_hash != 0). kips/uips are innermost first. */
struct cpu_sample {
	const struct pm_cpu_key *key;
	uint64_t count;
	const struct pm_py_stack *stack;
	const uint64_t *kips;
	int nkips;
	const uint64_t *uips;
	int nuips;
};

typedef int (*cpu_sample_fn)(const struct cpu_sample *s, void *ctx);

/* Loads and attaches. Returns 0 or -errno (-EPERM without BPF privileges). */
int cpu_sampler_open(const struct cpu_sampler_opts *opts, struct cpu_sampler **out);
void cpu_sampler_close(struct cpu_sampler *s);

/* Starts/stops sampling Python stacks of process pid with the given layout. */
int cpu_sampler_track(struct cpu_sampler *s, pid_t pid, const struct pm_proc_cfg *cfg);
int cpu_sampler_untrack(struct cpu_sampler *s, pid_t pid);

/* Moves every count accumulated so far out of the kernel, calling fn for each. Returns the
 * number of keys drained or -errno. Lost stacks are counted in the stats. */
int cpu_sampler_drain(struct cpu_sampler *s, cpu_sample_fn fn, void *ctx);

struct cpu_sampler_stats {
	uint64_t bpf[PM_STAT_MAX]; /* summed over CPUs */
	uint64_t lost_stacks;      /* counts whose Python stack was gone when drained */
	uint64_t drained_keys;
	uint64_t period_ns;        /* sampling period */
};
void cpu_sampler_get_stats(struct cpu_sampler *s, struct cpu_sampler_stats *st);

struct bpf_object;
/* Makes obj (opened, not loaded) use this sampler's maps of tracked processes: py_procs, py_gen,
 * py_tasks and py_pidmap (bpf/tracked.bpf.h), and the socket hooks' chains (bpf/sockchain.bpf.h),
 * those of them it declares. Returns 0 or -errno. */
int cpu_sampler_share_tracked(struct cpu_sampler *s, struct bpf_object *obj);

/* The BPF program's id (for bpf_stats run-time lookups). */
int cpu_sampler_prog_fd(struct cpu_sampler *s);

#endif
