/* Per-thread sampling events of event-loop threads (include/loopsamp.h). A small unordered table:
 * a host has few loop threads, and each is added once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <bpf/libbpf.h>

#include "loopsamp.h"
#include "perfclock.h"

struct loop_thread {
	pid_t pid, tid;
	struct bpf_link *link;
};

struct loopsamp {
	struct bpf_program *prog;
	unsigned rate_hz;
	size_t max, n, cap;
	struct loop_thread *t;
	unsigned long refused;
};

struct loopsamp *loopsamp_new(struct bpf_program *prog, unsigned rate_hz, size_t max_threads)
{
	struct loopsamp *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->prog = prog;
	ls->rate_hz = rate_hz;
	ls->max = max_threads;
	return ls;
}

void loopsamp_free(struct loopsamp *ls)
{
	if (!ls)
		return;
	for (size_t i = 0; i < ls->n; i++)
		bpf_link__destroy(ls->t[i].link);
	free(ls->t);
	free(ls);
}

static int grow(struct loopsamp *ls)
{
	size_t cap = ls->cap ? ls->cap * 2 : 16;
	struct loop_thread *t;

	if (ls->n < ls->cap)
		return 0;
	t = realloc(ls->t, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	ls->t = t;
	ls->cap = cap;
	return 0;
}

int loopsamp_add(struct loopsamp *ls, pid_t pid, pid_t tid)
{
	struct bpf_link *link;
	int err;

	for (size_t i = 0; i < ls->n; i++)
		if (ls->t[i].tid == tid && ls->t[i].pid == pid)
			return 0;
	if (ls->n >= ls->max) {
		ls->refused++;
		return -ENOSPC;
	}
	err = grow(ls);
	if (err) {
		ls->refused++;
		return err;
	}
	link = perfclock_attach_thread(ls->prog, ls->rate_hz, tid);
	if (!link) {
		err = -errno;
		ls->refused += err != -ESRCH; /* a thread that exited meanwhile was not refused */
		return err;
	}
	ls->t[ls->n++] = (struct loop_thread){ .pid = pid, .tid = tid, .link = link };
	return 0;
}

static void drop_at(struct loopsamp *ls, size_t i)
{
	bpf_link__destroy(ls->t[i].link); /* closes the thread's perf event */
	ls->t[i] = ls->t[--ls->n];
}

void loopsamp_drop_pid(struct loopsamp *ls, pid_t pid)
{
	for (size_t i = ls->n; i-- > 0;)
		if (ls->t[i].pid == pid)
			drop_at(ls, i);
}

void loopsamp_sweep(struct loopsamp *ls)
{
	char path[64];
	struct stat st;

	for (size_t i = ls->n; i-- > 0;) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d", ls->t[i].pid, ls->t[i].tid);
		if (stat(path, &st) && errno == ENOENT)
			drop_at(ls, i);
	}
}

size_t loopsamp_count(const struct loopsamp *ls)
{
	return ls->n;
}

unsigned long loopsamp_refused(const struct loopsamp *ls)
{
	return ls->refused;
}
