/* Closing BPF links without waiting on the kernel's grace periods: destroying a uprobe link waits
 * for RCU-tasks grace periods (about half a second each on these VMs), so links are destroyed on
 * short threads, in parallel. Only for links that own nothing shared (perf-event links of
 * uprobes, tracepoints): libbpf's USDT links touch their object's state and must not go here. */
#ifndef LINKREAP_H
#define LINKREAP_H

#include <stddef.h>

struct bpf_link;

/* Destroys l on a detached thread; *inflight (atomic) counts such threads until they finish.
 * When max threads are already running or no thread can be made, destroys l here and now. */
void linkreap_async(struct bpf_link *l, int *inflight, int max);
/* Waits up to timeout_ms for *inflight to drop to 0. Returns the number still running. */
int linkreap_wait(int *inflight, unsigned timeout_ms);
/* Destroys n links in parallel and returns when all are gone (NULL entries are skipped). */
void linkreap_all(struct bpf_link **links, size_t n);

#endif
