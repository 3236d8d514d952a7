/* Process lifecycle events (exec, fork, exit) from bpf/proc.bpf.c, delivered to a callback. */
#ifndef PROCWATCH_H
#define PROCWATCH_H

#include <stdint.h>

#include "pyrometer_bpf.h"

struct procwatch;
typedef void (*procwatch_fn)(const struct pm_proc_event *ev, void *ctx);

int procwatch_open(procwatch_fn fn, void *ctx, struct procwatch **out);
void procwatch_close(struct procwatch *w);
/* Delivers pending events, waiting up to timeout_ms. Returns events handled or -errno. */
int procwatch_poll(struct procwatch *w, int timeout_ms);
/* Epoll-able fd that becomes readable when events are pending. */
int procwatch_fd(struct procwatch *w);
/* Events dropped because the ring buffer was full, and records rejected as malformed. */
uint64_t procwatch_drops(struct procwatch *w);
uint64_t procwatch_malformed(struct procwatch *w);

#endif
