/* A BPF ring buffer copied by its own thread into a bounded queue (include/ringq.h). Two queues
 * swap: the copier fills one under the lock, the consumer takes the full one and hands its records
 * over without holding the lock, so the copier never waits for a slow consumer. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "ringq.h"

/* ---- the queue -------------------------------------------------------------------------------- */

#define REC_HDR sizeof(uint32_t)
#define RECQ_KEEP_BYTES (1u << 20)
#define RINGQ_IDLE_MS   1000 /* the copier's longest sleep without a notification from the producer */

static size_t rec_size(size_t len)
{
	return (REC_HDR + len + 7) & ~(size_t)7;
}

int recq_push(struct recq *q, const void *data, size_t len)
{
	size_t need = rec_size(len);
	uint32_t n = (uint32_t)len;

	if (len > UINT32_MAX || q->len + need > q->max_bytes) {
		q->dropped++;
		return -ENOBUFS;
	}
	if (q->len + need > q->cap) {
		size_t cap = q->cap ? q->cap : 65536;
		unsigned char *p;

		while (cap < q->len + need)
			cap *= 2;
		if (cap > q->max_bytes)
			cap = q->max_bytes;
		p = realloc(q->buf, cap);
		if (!p) {
			q->dropped++;
			return -ENOMEM;
		}
		q->buf = p;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, &n, REC_HDR);
	memcpy(q->buf + q->len + REC_HDR, data, len);
	q->len += need;
	q->records++;
	return 0;
}

size_t recq_each(const struct recq *q, int (*fn)(void *ctx, void *data, size_t len), void *ctx)
{
	size_t off = 0, handed = 0;

	while (off + REC_HDR <= q->len) {
		uint32_t n;

		memcpy(&n, q->buf + off, REC_HDR);
		handed++;
		if (fn(ctx, q->buf + off + REC_HDR, n))
			break;
		off += rec_size(n);
	}
	return handed;
}

void recq_clear(struct recq *q)
{
	q->len = 0;
	q->records = 0;
	if (q->cap > RECQ_KEEP_BYTES) { /* a backlog's memory goes back once it is handed over */
		free(q->buf);
		q->buf = NULL;
		q->cap = 0;
	}
}

void recq_free(struct recq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
}

/* ---- the copier ------------------------------------------------------------------------------- */

struct ringq {
	struct ring_buffer *rb;
	pthread_mutex_t lock;    /* the ring buffer (not thread-safe) and fill */
	pthread_mutex_t consume; /* one consumer at a time */
	struct recq q[2];
	struct recq *fill;       /* the one being filled */
	pthread_t thread;
	int epfd, stopfd;        /* the copier's epoll set (the ring, stopfd), its stop signal */
	bool running, stop;
};

static int copy_record(void *ctx, void *data, size_t len)
{
	struct ringq *r = ctx;

	recq_push(r->fill, data, len);
	return 0;
}

/* Sleeps until the kernel ring passes its wake-up mark (the producer then forces a notification,
 * which the edge-triggered epoll sees once) or RINGQ_IDLE_MS pass, and copies what it holds. The
 * engine's own turns copy the rest, so an idle daemon's copier wakes once a second. */
static void *copier(void *arg)
{
	struct ringq *r = arg;

	for (;;) {
		struct epoll_event ev[2];

		if (epoll_wait(r->epfd, ev, 2, RINGQ_IDLE_MS) < 0 && errno != EINTR)
			usleep(RINGQ_IDLE_MS * 1000); /* not on a valid set; never spin */
		pthread_mutex_lock(&r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		ring_buffer__consume(r->rb);
		pthread_mutex_unlock(&r->lock);
	}
}

/* The copier's own epoll set: the ring map (edge-triggered: one wake per notification, not one per
 * wait while records sit below the mark) and the stop eventfd. */
static int copier_epoll(struct ringq *r, int map_fd)
{
	struct epoll_event ring = { .events = EPOLLIN | EPOLLET }, stop = { .events = EPOLLIN };

	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->epfd < 0 || r->stopfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, map_fd, &ring) ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->stopfd, &stop))
		return -errno;
	return 0;
}

int ringq_start(int map_fd, size_t max_bytes, struct ringq **out)
{
	struct ringq *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->epfd = r->stopfd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->consume, NULL);
	for (int i = 0; i < 2; i++)
		r->q[i].max_bytes = max_bytes;
	r->fill = &r->q[0];
	r->rb = ring_buffer__new(map_fd, copy_record, r, NULL);
	if (!r->rb) {
		err = -errno;
		ringq_free(r);
		return err ? err : -EINVAL;
	}
	err = copier_epoll(r, map_fd);
	if (err) {
		ringq_free(r);
		return err;
	}
	err = -pthread_create(&r->thread, NULL, copier, r);
	if (err) {
		ringq_free(r);
		return err;
	}
	r->running = true;
	*out = r;
	return 0;
}

size_t ringq_consume(struct ringq *r, int (*fn)(void *ctx, void *data, size_t len), void *ctx)
{
	struct recq *full;
	size_t n;

	pthread_mutex_lock(&r->consume);
	pthread_mutex_lock(&r->lock);
	ring_buffer__consume(r->rb); /* what the kernel holds right now, in order after the rest */
	full = r->fill;
	r->fill = full == &r->q[0] ? &r->q[1] : &r->q[0];
	pthread_mutex_unlock(&r->lock);
	n = recq_each(full, fn, ctx);
	recq_clear(full);
	pthread_mutex_unlock(&r->consume);
	return n;
}

uint64_t ringq_dropped(struct ringq *r)
{
	uint64_t d;

	pthread_mutex_lock(&r->lock);
	d = r->q[0].dropped + r->q[1].dropped;
	pthread_mutex_unlock(&r->lock);
	return d;
}

void ringq_free(struct ringq *r)
{
	if (!r)
		return;
	if (r->running) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_mutex_unlock(&r->lock);
		eventfd_write(r->stopfd, 1); /* else it still wakes within RINGQ_IDLE_MS */
		pthread_join(r->thread, NULL);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->stopfd >= 0)
		close(r->stopfd);
	ring_buffer__free(r->rb);
	for (int i = 0; i < 2; i++)
		recq_free(&r->q[i]);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->consume);
	free(r);
}
