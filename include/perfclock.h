/* A BPF program on a software cpu-clock perf event on every online CPU: the CPU sampler's and the
 * event-loop sampler's shared attach. Each link owns its perf event fd (destroying the link closes
 * it), so callers keep only the links. */
#ifndef PERFCLOCK_H
#define PERFCLOCK_H

struct bpf_link;
struct bpf_program;

/* Attaches prog at rate_hz on CPUs 0..ncpus-1 into links[0..ncpus-1] (NULL for an offline CPU).
 * Returns how many CPUs it attached to, or -errno (links attached so far stay for the caller to
 * destroy). */
int perfclock_attach(struct bpf_program *prog, unsigned rate_hz, struct bpf_link **links, int ncpus);

#endif
