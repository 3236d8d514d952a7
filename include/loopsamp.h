/* The event-loop sampler's events: one task-clock perf event per thread that runs an event loop
 * (announced by bpf/offcpu.bpf.c the first time the thread polls), each with the on-CPU sample
 * program. Per thread rather than per CPU, so a host without event loops has no sampling timer
 * for them, and CPUs where no loop runs are never woken by one. */
#ifndef LOOPSAMP_H
#define LOOPSAMP_H

#include <stddef.h>
#include <sys/types.h>

struct bpf_program;
struct loopsamp;

/* At most max_threads sampled threads at once; rate_hz samples per second of each one's CPU time. */
struct loopsamp *loopsamp_new(struct bpf_program *prog, unsigned rate_hz, size_t max_threads);
void loopsamp_free(struct loopsamp *ls);

/* Starts sampling thread tid of process pid. 0 when sampled (or already), -ENOSPC at the cap,
 * else -errno of the attach (-ESRCH: the thread exited meanwhile). */
int loopsamp_add(struct loopsamp *ls, pid_t pid, pid_t tid);
/* Stops sampling every thread of pid (the process is no longer tracked). */
void loopsamp_drop_pid(struct loopsamp *ls, pid_t pid);
/* Stops sampling threads that have exited (their process may live on). */
void loopsamp_sweep(struct loopsamp *ls);

size_t loopsamp_count(const struct loopsamp *ls);
/* Threads not sampled because of the cap or a failed attach, since start (not those that
 * exited before their event could be opened). */
unsigned long loopsamp_refused(const struct loopsamp *ls);

#endif
