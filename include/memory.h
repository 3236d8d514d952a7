/* The memory data source of the daemon (src/memory.c + bpf/memory.bpf.c): resident memory over
 * time per process and service with a leak verdict, memory growth by Python stack with "loaded
 * too much at once" spikes, and GC pause histograms with a GC time share. Registered in
 * src/sources.c; configured through engine_opts.mem. */
#ifndef MEMORY_H
#define MEMORY_H

#include <stdbool.h>
#include <stdint.h>

struct memory_opts {
	bool disabled;                /* memory_tracking = false: the source loads nothing */
	unsigned leak_window_seconds; /* growth must be steady this long to be a leak (default 600) */
	uint64_t leak_min_bytes;      /* ...and add at least this much (default 16 MiB) */
	uint64_t spike_bytes;         /* one stack making this much resident within 10 s (default 100 MiB) */
	unsigned gc_pressure_percent; /* GC share of CPU time that is a finding (default 10) */
};

#define MEMORY_DEFAULT_LEAK_WINDOW_S 600
#define MEMORY_DEFAULT_LEAK_MIN      (16ULL << 20)
#define MEMORY_DEFAULT_SPIKE         (100ULL << 20)
#define MEMORY_DEFAULT_GC_PRESSURE   10

struct source_ops;
extern const struct source_ops memory_source;

#endif
