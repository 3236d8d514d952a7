/* Tracked Python processes (include/tracker.h). Targets live in a flat array; freshly exec'd
 * processes wait in a pending list and are re-discovered on a doubling schedule, because a shared
 * libpython is mapped only after the dynamic loader ran. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tracker.h"

#define FIRST_RETRY_NS   (20 * 1000000ULL)
#define GIVE_UP_NS       (5000 * 1000000ULL)
#define GIVE_UP_OTHER_NS (600 * 1000000ULL) /* exe not named python*: a couple of tries only */
#define MAX_EXCLUDED     65536 /* remembered excluded pids; past it, scans judge the rest again */

struct pending {
	pid_t pid;
	bool pythonish;
	uint64_t first_ns, next_ns;
};

struct tracker {
	struct cpu_sampler *cpu;
	struct tracker_opts o;
	struct py_target *targets;
	size_t ntargets, cap;
	pid_t *family;
	size_t nfamily, famcap;
	struct pending *pend;
	size_t npend, pendcap;
	pid_t *excluded;
	size_t nexcluded, exclcap;
	struct tracker_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int reserve(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 16) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 16;
	return 0;
}

int tracker_new(struct cpu_sampler *cpu, const struct tracker_opts *o, struct tracker **out)
{
	struct tracker *tr = calloc(1, sizeof(*tr));

	if (!tr)
		return -ENOMEM;
	tr->cpu = cpu;
	tr->o = *o;
	if (!tr->o.max_procs || tr->o.max_procs > PM_MAX_PROCS)
		tr->o.max_procs = PM_MAX_PROCS;
	*out = tr;
	return 0;
}

void tracker_free(struct tracker *tr)
{
	if (!tr)
		return;
	free(tr->targets);
	free(tr->family);
	free(tr->pend);
	free(tr->excluded);
	free(tr);
}

static ssize_t find_idx(const struct tracker *tr, pid_t pid)
{
	for (size_t i = 0; i < tr->ntargets; i++)
		if (tr->targets[i].pid == pid)
			return (ssize_t)i;
	return -1;
}

const struct py_target *tracker_find(const struct tracker *tr, pid_t pid)
{
	ssize_t i = find_idx(tr, pid);

	return i < 0 ? NULL : &tr->targets[i];
}

static bool in_family(const struct tracker *tr, pid_t pid)
{
	if (tr->o.whole_host)
		return true;
	for (size_t i = 0; i < tr->nfamily; i++)
		if (tr->family[i] == pid)
			return true;
	return false;
}

static void add_family(struct tracker *tr, pid_t pid)
{
	if (tr->o.whole_host || in_family(tr, pid))
		return;
	if (reserve((void **)&tr->family, &tr->famcap, tr->nfamily, sizeof(pid_t)) == 0)
		tr->family[tr->nfamily++] = pid;
}

static bool is_excluded(const struct tracker *tr, pid_t pid)
{
	for (size_t i = 0; i < tr->nexcluded; i++)
		if (tr->excluded[i] == pid)
			return true;
	return false;
}

/* Remembered so that /proc scans do not discover it again; forgotten at exec and exit. */
static void exclude(struct tracker *tr, pid_t pid)
{
	tr->st.excluded++;
	if (tr->nexcluded < MAX_EXCLUDED && reserve((void **)&tr->excluded, &tr->exclcap, tr->nexcluded, sizeof(pid_t)) == 0)
		tr->excluded[tr->nexcluded++] = pid;
}

static void forget_excluded(struct tracker *tr, pid_t pid)
{
	for (size_t i = 0; i < tr->nexcluded; i++)
		if (tr->excluded[i] == pid) {
			tr->excluded[i] = tr->excluded[--tr->nexcluded];
			return;
		}
}

static int track(struct tracker *tr, const struct py_target *t)
{
	ssize_t i = find_idx(tr, t->pid);
	struct pm_proc_cfg cfg;
	int err;

	if (i < 0) {
		if (is_excluded(tr, t->pid))
			return -EPERM;
		if (tr->o.admit && !tr->o.admit(t->pid, tr->o.ctx)) {
			exclude(tr, t->pid);
			return -EPERM;
		}
		if (tr->ntargets >= tr->o.max_procs) {
			tr->st.cap_drops++;
			return -ENOSPC;
		}
		if (reserve((void **)&tr->targets, &tr->cap, tr->ntargets, sizeof(*t)))
			return -ENOMEM;
		i = (ssize_t)tr->ntargets++;
	}
	tr->targets[i] = *t;
	py_target_cfg(t, &cfg);
	err = cpu_sampler_track(tr->cpu, t->pid, &cfg);
	if (err) {
		tr->targets[i] = tr->targets[--tr->ntargets];
		return err;
	}
	tr->st.discovered++;
	if (tr->o.on_track)
		tr->o.on_track(&tr->targets[i], tr->o.ctx);
	return 0;
}

static void untrack(struct tracker *tr, pid_t pid)
{
	ssize_t i = find_idx(tr, pid);

	if (i < 0)
		return;
	if (tr->o.on_untrack)
		tr->o.on_untrack(pid, tr->o.ctx);
	cpu_sampler_untrack(tr->cpu, pid);
	tr->targets[i] = tr->targets[--tr->ntargets];
}

static bool exe_is_pythonish(pid_t pid)
{
	char path[64], exe[512];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = 0;
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	return !strncmp(base, "python", 6);
}

static void add_pending(struct tracker *tr, pid_t pid)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < tr->npend; i++)
		if (tr->pend[i].pid == pid) { /* exec'd again: a wrapper (taskset, sh -c) became what it runs */
			tr->pend[i].pythonish = exe_is_pythonish(pid);
			tr->pend[i].first_ns = now;
			tr->pend[i].next_ns = now + FIRST_RETRY_NS;
			return;
		}
	if (reserve((void **)&tr->pend, &tr->pendcap, tr->npend, sizeof(*tr->pend)))
		return;
	tr->pend[tr->npend++] = (struct pending){ pid, exe_is_pythonish(pid), now, now + FIRST_RETRY_NS };
}

static void count_outcome(struct tracker *tr, int err)
{
	if (err == -ENOEXEC)
		tr->st.not_python++;
	else if (err == -ENOTSUP)
		tr->st.unsupported++;
	else if (err && err != -ESRCH)
		tr->st.failed++;
}

void tracker_tick(struct tracker *tr)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < tr->npend;) {
		struct pending *p = &tr->pend[i];
		uint64_t limit = p->pythonish ? GIVE_UP_NS : GIVE_UP_OTHER_NS;
		struct py_target t;
		int err;

		if (now < p->next_ns) {
			i++;
			continue;
		}
		err = py_discover(p->pid, &t);
		if (!err)
			err = track(tr, &t);
		if (!err || err == -ESRCH || err == -ENOTSUP || err == -ENOSPC || err == -EPERM ||
		    now - p->first_ns > limit) {
			count_outcome(tr, err);
			tr->pend[i] = tr->pend[--tr->npend];
			continue;
		}
		p->next_ns = now + (now - p->first_ns) + FIRST_RETRY_NS;
		i++;
	}
}

int tracker_add_root(struct tracker *tr, pid_t pid, struct py_target *out)
{
	uint64_t start = now_ns();
	struct py_target t;
	int err;

	/* a target that has just started may not have initialized its interpreter yet */
	while ((err = py_discover(pid, &t)) == -EAGAIN && now_ns() - start < 2000000000ULL)
		usleep(50000);
	if (out)
		*out = t;
	if (err)
		return err;
	add_family(tr, pid);
	return track(tr, &t);
}

static void on_fork(struct tracker *tr, const struct pm_proc_event *ev)
{
	ssize_t parent;

	if (!tr->o.whole_host && !(tr->o.follow_children && in_family(tr, ev->ppid)))
		return;
	add_family(tr, ev->hdr.pid);
	parent = find_idx(tr, ev->ppid);
	if (parent >= 0) {
		/* a forked interpreter has its parent's layout: sample it at once */
		struct py_target child = tr->targets[parent];

		child.pid = ev->hdr.pid;
		track(tr, &child);
	}
}

void tracker_event(struct tracker *tr, const struct pm_proc_event *ev)
{
	switch (ev->hdr.kind) {
	case PM_EV_FORK:
		on_fork(tr, ev);
		break;
	case PM_EV_EXEC:
		if (!in_family(tr, ev->hdr.pid))
			break;
		untrack(tr, ev->hdr.pid);
		forget_excluded(tr, ev->hdr.pid); /* judged again as what it runs now */
		add_pending(tr, ev->hdr.pid);
		break;
	case PM_EV_EXIT:
		if (find_idx(tr, ev->hdr.pid) >= 0)
			tr->st.exited++;
		untrack(tr, ev->hdr.pid);
		forget_excluded(tr, ev->hdr.pid);
		break;
	}
}

int tracker_scan(struct tracker *tr)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int added = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct py_target t;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int err;

		if (*end || pid <= 0 || pid == self || find_idx(tr, (pid_t)pid) >= 0 || !in_family(tr, (pid_t)pid) ||
		    is_excluded(tr, (pid_t)pid))
			continue;
		err = py_discover((pid_t)pid, &t);
		if (err == -EAGAIN) {
			add_pending(tr, (pid_t)pid);
			continue;
		}
		if (!err && (err = track(tr, &t)) == 0)
			added++;
		else if (err != -ENOEXEC && err != -EPERM)
			count_outcome(tr, err);
	}
	closedir(d);
	return added;
}

void tracker_forget_excluded(struct tracker *tr)
{
	tr->nexcluded = 0;
}

void tracker_exclude(struct tracker *tr, pid_t pid)
{
	untrack(tr, pid);
	if (!is_excluded(tr, pid))
		exclude(tr, pid);
}

void tracker_reap(struct tracker *tr)
{
	for (size_t i = 0; i < tr->nexcluded;) {
		if (kill(tr->excluded[i], 0) && errno == ESRCH) {
			tr->excluded[i] = tr->excluded[--tr->nexcluded];
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < tr->ntargets;) {
		pid_t pid = tr->targets[i].pid;

		if (kill(pid, 0) && errno == ESRCH) {
			tr->st.exited++;
			untrack(tr, pid);
			continue;
		}
		i++;
	}
}

void tracker_foreach(const struct tracker *tr, void (*fn)(const struct py_target *t, void *ctx), void *ctx)
{
	for (size_t i = 0; i < tr->ntargets; i++)
		fn(&tr->targets[i], ctx);
}

void tracker_get_stats(const struct tracker *tr, struct tracker_stats *st)
{
	*st = tr->st;
	st->tracked = tr->ntargets;
	st->pending = tr->npend;
}
