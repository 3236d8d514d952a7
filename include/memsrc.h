/* Internals of the memory source shared by src/memory.c (state, BPF, sampling) and
 * src/memory_report.c (metrics, findings, JSON). Not an interface for other modules: those see
 * include/memory.h. */
#ifndef MEMSRC_H
#define MEMSRC_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "memory.h"
#include "memtrend.h"
#include "pyprobe.h"
#include "pyrometer_bpf.h"
#include "service.h"
#include "source.h"

#define MEM_TICK_NS        1000000000ULL /* RSS samples, drains and GC reads: once a second */
#define MEM_GC_PERIOD_S    60            /* the GC share is over the last minute */
#define MEM_MAX_SPIKES     4             /* spike sites remembered per process (oldest replaced) */
#define MEM_MAX_GC_LINKS   (2 * PYPROBE_MAX_FUNCS) /* entry + return per collector function */
#define MEM_STACK_FRAMES   6             /* frames kept in a stack description */
/* GC probes cost two uprobe hits per collection (MEM_GC_HIT_NS each, measured on these VMs).
 * A process whose collection rate would make them cost more than MEM_GC_BUDGET_PPM of a CPU is
 * probed one second at a time, with off periods sized to keep the average within that budget
 * (at most MEM_GC_MAX_OFF_NS, so every minute has probed seconds); its GC share is measured over
 * the probed seconds. Probes attach MEM_GC_DELAY_NS after tracking, so short-lived processes
 * never pay for them. */
#define MEM_GC_HIT_NS         2500ULL
#define MEM_GC_BUDGET_PPM     2000ULL /* 0.2 % of a CPU */
#define MEM_GC_DUTY_ON_NS     1000000000ULL
#define MEM_GC_MIN_OFF_NS     4000000000ULL
#define MEM_GC_MAX_OFF_NS     50000000000ULL
#define MEM_GC_DELAY_NS       1000000000ULL
#define MEM_MAX_REAPERS       64 /* threads closing uprobe links at once; beyond, closes block */
#define MEM_TOP_STACKS     3             /* stacks named by a leak finding */

struct mem_spike {
	char site[MT_SITE_LEN];
	char stack[MT_STACK_LEN];
	uint64_t last_bytes, max_bytes;
	unsigned last_seconds, times;
	time_t last_unix;
};

enum mem_gc_state {
	MEM_GC_PENDING = 0, /* tracked just now: probes attach after MEM_GC_DELAY_NS */
	MEM_GC_NONE,        /* no USDT notes or collector symbol, or attaching failed */
	MEM_GC_ON,          /* probed all the time */
	MEM_GC_DUTY_OFF,    /* collecting too often: probes off until gc_next_ns */
	MEM_GC_DUTY_ON,     /* ...and on for one second */
};

struct mem_proc {
	pid_t pid;
	char service[SVC_NAME_MAX];
	struct mt_ring ring;
	struct mt_sample last;     /* the newest sample (every tick; the ring keeps a subset) */
	bool have_last;
	struct mt_trend trend;     /* as of the newest ring sample */
	time_t leak_since_unix;    /* 0 = no leak verdict now */
	struct mt_stacks *stacks;  /* allocated at the first growth seen */
	uint64_t fault_total, growth_total;
	struct pm_gc_val gc_seen[PM_GC_GENS]; /* the kernel's cumulative values at the last read */
	uint64_t gc_ns_total, gc_count_total;
	enum mem_gc_state gc_state;
	uint64_t gc_next_ns;       /* when the GC state machine acts next */
	uint64_t gc_attached_ns;   /* when the probes went on, 0 while off */
	uint64_t gc_rate;          /* collections per second over the last fully probed second */
	uint64_t gc_off_ns;        /* the current off period while duty-cycled */
	uint64_t cpu_probed_ns;    /* CPU time while the probes were on: the GC share's denominator */
	uint64_t prev_cpu_ns, prev_t_ns;
	uint16_t py_version;
	struct pyprobe_gc gc_sites;
	char gc_how[96];           /* capability report: which GC source, or why none */
	char gc_path[PATH_MAX + 32]; /* the runtime ELF as seen from here (/proc/PID/root/...) */
	struct bpf_link *gc_links[MEM_MAX_GC_LINKS];
	int ngc_links;
	struct mem_spike spikes[MEM_MAX_SPIKES];
};

/* Cumulative per service, kept after its processes exit (Prometheus counters never go back). */
struct mem_svc {
	char name[SVC_NAME_MAX];
	uint64_t faulted, grown;
	struct pm_gc_val gc[PM_GC_GENS];
};

struct memsrc {
	struct engine *e;
	struct memory_opts o;
	struct memory_bpf *skel;
	struct bpf_link *rss_link;
	struct pm_py_stack *stack_buf;
	size_t stack_value_size;
	struct mem_proc **procs;
	size_t nprocs, procs_cap, max_procs;
	struct mem_svc *svcs;
	size_t nsvcs, svcs_cap, max_svcs;
	long page_size, ticks;
	uint64_t last_tick_ns, ticks_done;
	unsigned ngc_probed;
	int reaping;               /* links being closed on reaper threads (atomic) */
	uint64_t drops_proc_cap, drops_svc_cap, gc_attach_failures, unattributed_bytes;
};

struct mem_proc *mem_find(struct memsrc *m, pid_t pid);
/* The service's cumulative record, created on first use; NULL at the service cap. */
struct mem_svc *mem_svc_get(struct memsrc *m, const char *name);
/* The BPF programs' own counters (enum pm_mem_stat), summed over CPUs, into out[PM_MEM_STAT_MAX]. */
void mem_bpf_stats(struct memsrc *m, uint64_t *out);

/* src/memory_report.c: the output hooks of memory_source. */
int mem_metrics(void *state, struct expo *x);
void mem_findings(void *state, json_object *arr);
void mem_service_json(void *state, const char *service, json_object *row);
void mem_process_json(void *state, pid_t pid, json_object *sources);

#endif
