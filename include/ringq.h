/* A BPF ring buffer drained by a thread of its own into a bounded userspace queue, so that a
 * consumer which may block (the engine thread reads /proc, which can wait on a target's mmap
 * lock) never leaves the kernel ring to fill up. The producer writes without wake-ups until the
 * ring holds a quarter of its size, then forces one (PM_DB_RING_WAKE, emit() in
 * bpf/pgwire.bpf.c); the copier sleeps until then, or a second, so an idle host pays it nothing.
 * ringq_consume() first copies what the kernel ring holds right now, then hands every queued
 * record to the callback, in order, outside the copier's way. Past max_bytes queued, records are
 * dropped and counted, never blocked on.
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

/* Starts copying the ring buffer map map_fd into a queue of at most max_bytes whenever its
 * producer forces a wake-up. Returns 0 or -errno. */
int ringq_start(int map_fd, size_t max_bytes, struct ringq **out);
/* Copies what the kernel ring holds now, then calls fn for every queued record (as libbpf's
 * ring_buffer callbacks are called); fn's return value is ignored. Returns the records handed. */
size_t ringq_consume(struct ringq *q, int (*fn)(void *ctx, void *data, size_t len), void *ctx);
/* Records dropped because the queue was full (or memory ran out). */
uint64_t ringq_dropped(struct ringq *q);
/* Stops the copier and frees everything; accepts NULL. */
void ringq_free(struct ringq *q);

#endif
