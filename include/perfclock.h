/* A BPF program on software clock perf events: a cpu-clock event on every online CPU (the CPU
 * sampler), or one thread's task-clock event (the event-loop sampler, src/loopsamp.c). Each link
 * owns its perf event fd (destroying the link closes it), so callers keep only the links. */
#ifndef PERFCLOCK_H
#define PERFCLOCK_H

struct bpf_link;
struct bpf_program;

/* Attaches prog at rate_hz on CPUs 0..ncpus-1 into links[0..ncpus-1] (NULL for an offline CPU).
 * Returns how many CPUs it attached to, or -errno (links attached so far stay for the caller to
 * destroy). */
int perfclock_attach(struct bpf_program *prog, unsigned rate_hz, struct bpf_link **links, int ncpus);

/* Attaches prog at rate_hz to thread tid's task clock: samples only while that thread runs, on
 * whatever CPU. Returns the link, or NULL with errno set (ESRCH: the thread is gone). */
struct bpf_link *perfclock_attach_thread(struct bpf_program *prog, unsigned rate_hz, int tid);

#endif
