/* A BPF ring buffer drained by a thread of its own into a bounded userspace queue, so that a
 * consumer which may block (the engine thread reads /proc, which can wait on a target's mmap
 * lock) never leaves the kernel ring to fill up. The copier wakes every interval while records come
 * (the producers write without wakeups), backing off to 50 ms while none do, and copies records; ringq_consume() first copies what the kernel ring
 * holds right now, then hands every queued record to the callback, in order, outside the copier's
 * way. Past max_bytes queued, records are dropped and counted, never blocked on.
 *
 * The queue itself (struct recq) is a pure core, tested without BPF. */
#ifndef RINGQ_H
#define RINGQ_H

#include <stddef.h>
#include <stdint.h>

/* ---- the queue: length-prefixed records in one growing buffer -------------------------------- */
struct recq {
	unsigned char *buf;
	size_t len, cap, max_bytes;
	uint64_t records, dropped;
};

/* Appends one record (copies it). Returns 0, or -ENOBUFS (dropped: the queue would pass
 * max_bytes) or -ENOMEM (dropped). */
int recq_push(struct recq *q, const void *data, size_t len);
/* Calls fn for each record in order, stopping early if fn returns non-zero; returns how many
 * were handed over. Does not modify the queue. */
size_t recq_each(const struct recq *q, int (*fn)(void *ctx, void *data, size_t len), void *ctx);
void recq_clear(struct recq *q);
void recq_free(struct recq *q);

/* ---- the copier ------------------------------------------------------------------------------ */
struct ringq;

/* Starts copying the ring buffer map map_fd every interval_ms into a queue of at most max_bytes.
 * Returns 0 or -errno. */
int ringq_start(int map_fd, unsigned interval_ms, size_t max_bytes, struct ringq **out);
/* Copies what the kernel ring holds now, then calls fn for every queued record (as libbpf's
 * ring_buffer callbacks are called); fn's return value is ignored. Returns the records handed. */
size_t ringq_consume(struct ringq *q, int (*fn)(void *ctx, void *data, size_t len), void *ctx);
/* Records dropped because the queue was full (or memory ran out). */
uint64_t ringq_dropped(struct ringq *q);
/* Stops the copier and frees everything; accepts NULL. */
void ringq_free(struct ringq *q);

#endif
