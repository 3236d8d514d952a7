/* Parallel destruction of BPF links (include/linkreap.h). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "linkreap.h"

struct reap {
	struct bpf_link *l;
	int *inflight;
};

static void *reap_one(void *arg)
{
	struct reap *r = arg;

	bpf_link__destroy(r->l);
	if (r->inflight)
		__atomic_sub_fetch(r->inflight, 1, __ATOMIC_SEQ_CST);
	free(r);
	return NULL;
}

static int spawn(struct reap *r, pthread_t *th, int detached)
{
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(th, &attr, reap_one, r);
	pthread_attr_destroy(&attr);
	return -err;
}

void linkreap_async(struct bpf_link *l, int *inflight, int max)
{
	struct reap *r;
	pthread_t th;

	if (!l)
		return;
	if (__atomic_load_n(inflight, __ATOMIC_SEQ_CST) >= max || !(r = malloc(sizeof(*r))))
		goto now;
	r->l = l;
	r->inflight = inflight;
	__atomic_add_fetch(inflight, 1, __ATOMIC_SEQ_CST);
	if (!spawn(r, &th, 1))
		return;
	__atomic_sub_fetch(inflight, 1, __ATOMIC_SEQ_CST);
	free(r);
now:
	bpf_link__destroy(l);
}

int linkreap_wait(int *inflight, unsigned timeout_ms)
{
	for (unsigned waited = 0; waited < timeout_ms && __atomic_load_n(inflight, __ATOMIC_SEQ_CST); waited += 10)
		usleep(10000);
	return __atomic_load_n(inflight, __ATOMIC_SEQ_CST);
}

void linkreap_all(struct bpf_link **links, size_t n)
{
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	char *started = calloc(n ? n : 1, 1);

	for (size_t i = 0; i < n; i++) {
		struct reap *r;

		if (!links[i])
			continue;
		r = th && started ? malloc(sizeof(*r)) : NULL;
		if (r) {
			r->l = links[i];
			r->inflight = NULL;
			if (!spawn(r, &th[i], 0)) {
				started[i] = 1;
				continue;
			}
			free(r);
		}
		bpf_link__destroy(links[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (started && started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}
