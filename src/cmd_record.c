/* `pyrometer record`: samples one Python process (optionally with its descendants) with the BPF CPU
 * sampler for a while, then writes the profile in the chosen format. Works without the daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cpu.h"
#include "ksyms.h"
#include "procwatch.h"
#include "profile.h"
#include "pysym.h"
#include "pytarget.h"
#include "samplefold.h"

#define DRAIN_EVERY_NS   (250 * 1000000ULL)
#define DISCOVER_GIVE_UP (5000 * 1000000ULL)

enum rec_format { FMT_FOLDED, FMT_SPEEDSCOPE, FMT_PPROF, FMT_SVG };

struct rec_target {
	struct py_target t;
	bool alive;
};

struct rec_pending {
	pid_t pid;
	uint64_t first_ns, next_ns;
};

struct rec {
	struct cpu_sampler *cpu;
	struct procwatch *pw;
	struct pysym *sym;
	struct ksyms *ks;
	struct profile *prof;
	struct rec_target *targets;
	size_t ntargets;
	pid_t *family;
	size_t nfamily;
	struct rec_pending *pend;
	size_t npend;
	bool subprocesses, threads;
	unsigned alive;
	uint64_t samples, py_samples;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Arrays grow in powers of two; n is the element count before the push. */
static void *grow(void *arr, size_t n, size_t size)
{
	if (n && (n < 4 || (n & (n - 1))))
		return arr;
	return realloc(arr, (n ? n * 2 : 4) * size);
}

static struct rec_target *find_target(struct rec *r, pid_t pid)
{
	for (size_t i = 0; i < r->ntargets; i++)
		if (r->targets[i].t.pid == pid)
			return &r->targets[i];
	return NULL;
}

static bool in_family(const struct rec *r, pid_t pid)
{
	for (size_t i = 0; i < r->nfamily; i++)
		if (r->family[i] == pid)
			return true;
	return false;
}

static int add_family(struct rec *r, pid_t pid)
{
	pid_t *f;

	if (in_family(r, pid))
		return 0;
	f = grow(r->family, r->nfamily, sizeof(*f));
	if (!f)
		return -ENOMEM;
	r->family = f;
	r->family[r->nfamily++] = pid;
	return 0;
}

static int track(struct rec *r, const struct py_target *t)
{
	struct rec_target *slot = find_target(r, t->pid);
	struct pm_proc_cfg cfg;
	int err;

	if (!slot) {
		struct rec_target *arr = grow(r->targets, r->ntargets, sizeof(*arr));

		if (!arr)
			return -ENOMEM;
		r->targets = arr;
		slot = &r->targets[r->ntargets++];
	} else if (slot->alive) {
		r->alive--;
	}
	slot->t = *t;
	py_target_cfg(t, &cfg);
	err = cpu_sampler_track(r->cpu, t->pid, &cfg);
	if (err)
		return err;
	slot->alive = true;
	r->alive++;
	return 0;
}

static void add_pending(struct rec *r, pid_t pid)
{
	struct rec_pending *p;
	uint64_t now = now_ns();

	for (size_t i = 0; i < r->npend; i++)
		if (r->pend[i].pid == pid)
			return;
	p = grow(r->pend, r->npend, sizeof(*p));
	if (!p)
		return;
	r->pend = p;
	r->pend[r->npend++] = (struct rec_pending){ pid, now, now + 20 * 1000000ULL };
}

/* Retries discovery of freshly exec'd processes: a shared libpython is mapped only after ld.so ran. */
static void run_pending(struct rec *r)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < r->npend;) {
		struct rec_pending *p = &r->pend[i];
		struct py_target t;
		int err;

		if (now < p->next_ns) {
			i++;
			continue;
		}
		err = py_discover(p->pid, &t);
		if (!err)
			track(r, &t);
		if (!err || err == -ESRCH || err == -ENOTSUP || now - p->first_ns > DISCOVER_GIVE_UP) {
			r->pend[i] = r->pend[--r->npend];
			continue;
		}
		p->next_ns = now + (now - p->first_ns) + 20 * 1000000ULL;
		i++;
	}
}

static void on_proc_event(const struct pm_proc_event *ev, void *ctx)
{
	struct rec *r = ctx;
	struct rec_target *t = find_target(r, ev->hdr.pid);

	switch (ev->hdr.kind) {
	case PM_EV_FORK:
		if (!r->subprocesses || !in_family(r, ev->ppid))
			return;
		add_family(r, ev->hdr.pid);
		/* a forked interpreter has its parent's layout: sample it at once */
		struct rec_target *parent = find_target(r, ev->ppid);
		if (parent && parent->alive) {
			struct py_target child = parent->t;

			child.pid = ev->hdr.pid;
			track(r, &child);
		}
		return;
	case PM_EV_EXEC:
		if (!in_family(r, ev->hdr.pid))
			return;
		if (t && t->alive) {
			cpu_sampler_untrack(r->cpu, t->t.pid);
			t->alive = false;
			r->alive--;
		}
		add_pending(r, ev->hdr.pid);
		return;
	case PM_EV_EXIT:
		if (t && t->alive) {
			cpu_sampler_untrack(r->cpu, t->t.pid);
			t->alive = false;
			r->alive--;
		}
		return;
	}
}

static void thread_label(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(buf, len, "thread %d%s%s%s", tid, *comm ? " (" : "", comm, *comm ? ")" : "");
}

static int on_sample(const struct cpu_sample *s, void *ctx)
{
	struct rec *r = ctx;
	struct rec_target *t = find_target(r, s->key->pid);
	uint32_t ids[PM_MAX_DEPTH + 2 * PM_NATIVE_DEPTH + 4];
	char tl[64], pl[64];
	struct samplefold_opts o = {};
	int n;

	if (r->threads) {
		thread_label(s->key->pid, s->key->tid, tl, sizeof(tl));
		o.thread_label = tl;
	}
	if (r->nfamily > 1) {
		snprintf(pl, sizeof(pl), "process %u", s->key->pid);
		o.process_label = pl;
	}
	n = samplefold(r->prof, r->sym, r->ks, t ? &t->t : NULL, s, &o, ids, sizeof(ids) / sizeof(ids[0]));
	if (n < 0)
		return n == -E2BIG ? 0 : n;
	r->samples += s->count;
	if (s->stack && s->stack->nframes)
		r->py_samples += s->count;
	prof_add(r->prof, ids, n, s->count);
	return 0;
}

static int write_profile(const struct rec *r, enum rec_format fmt, const char *path)
{
	FILE *f = path && strcmp(path, "-") ? fopen(path, "we") : stdout;
	int err;

	if (!f)
		return -errno;
	switch (fmt) {
	case FMT_SPEEDSCOPE:
		err = fmt_speedscope(r->prof, "pyrometer record", f);
		break;
	case FMT_PPROF:
		err = fmt_pprof(r->prof, f);
		break;
	case FMT_SVG:
		err = fmt_flamegraph_svg(r->prof, "pyrometer record", f);
		break;
	default:
		err = fmt_folded(r->prof, f);
	}
	if (fflush(f) && !err)
		err = -errno;
	if (f != stdout)
		fclose(f);
	return err;
}

static void rec_free(struct rec *r)
{
	procwatch_close(r->pw);
	cpu_sampler_close(r->cpu);
	pysym_free(r->sym);
	ksyms_free(r->ks);
	prof_free(r->prof);
	free(r->targets);
	free(r->family);
	free(r->pend);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyrometer record --pid PID [options]\n"
		"  -p, --pid PID          process to sample (required)\n"
		"  -d, --duration S       stop after S seconds (default: until Ctrl-C or the process exits)\n"
		"  -r, --rate HZ          samples per second per CPU, 1..10000 (default 99)\n"
		"  -f, --format F         folded (default), speedscope, pprof or svg\n"
		"  -o, --output FILE      write there instead of stdout\n"
		"      --depth N          Python frames per stack, 1..%d (default %d)\n"
		"      --subprocesses     also sample processes the target starts later\n"
		"      --threads          root each stack with its thread\n"
		"      --kernel-stacks    append kernel frames to each stack\n",
		PM_MAX_DEPTH, PM_DEFAULT_DEPTH);
}

static int parse_format(const char *s, enum rec_format *out)
{
	static const char *names[] = { "folded", "speedscope", "pprof", "svg" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum rec_format)i;
			return 0;
		}
	return -EINVAL;
}

static int discover_initial(pid_t pid, struct py_target *t)
{
	uint64_t start = now_ns();
	int err;

	/* a target that has just started may not have initialized its interpreter yet */
	while ((err = py_discover(pid, t)) == -EAGAIN && now_ns() - start < 2000000000ULL)
		usleep(50000);
	return err;
}

static int report_discover_error(pid_t pid, int err, const struct py_target *t)
{
	char v[32];

	switch (err) {
	case -ESRCH:
		fprintf(stderr, "pyrometer: no process with pid %d\n", pid);
		break;
	case -ENOEXEC:
		fprintf(stderr, "pyrometer: process %d is not a Python process\n", pid);
		break;
	case -ENOTSUP:
		py_version_str(t, v, sizeof(v));
		fprintf(stderr, "pyrometer: process %d runs Python %s, which this build does not support\n", pid, v);
		break;
	case -EAGAIN:
		fprintf(stderr, "pyrometer: process %d has not initialized its Python interpreter\n", pid);
		break;
	default:
		fprintf(stderr, "pyrometer: failed to inspect process %d: %s\n", pid, strerror(-err));
	}
	return 1;
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },      { "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },     { "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },   { "depth", required_argument, NULL, 'D' },
		{ "subprocesses", no_argument, NULL, 'S' },   { "threads", no_argument, NULL, 'T' },
		{ "kernel-stacks", no_argument, NULL, 'K' },  { "help", no_argument, NULL, 'h' },
		{},
	};
	struct cpu_sampler_opts so = { .rate_hz = 99, .max_depth = PM_DEFAULT_DEPTH };
	enum rec_format fmt = FMT_FOLDED;
	const char *out = NULL;
	long duration = 0, v;
	struct rec r = {};
	struct py_target t;
	pid_t pid = 0;
	int c, err, rc = 1;
	uint64_t start, last_drain;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:d:r:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((pid = cmd_parse_pid(optarg)) < 0)
				return 2;
			break;
		case 'd':
			if (cmd_parse_long(optarg, 1, 86400, &duration)) {
				fprintf(stderr, "pyrometer: --duration must be 1..86400 seconds, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (cmd_parse_long(optarg, 1, 10000, &v)) {
				fprintf(stderr, "pyrometer: --rate must be 1..10000 Hz, got '%s'\n", optarg);
				return 2;
			}
			so.rate_hz = v;
			break;
		case 'D':
			if (cmd_parse_long(optarg, 1, PM_MAX_DEPTH, &v)) {
				fprintf(stderr, "pyrometer: --depth must be 1..%d, got '%s'\n", PM_MAX_DEPTH, optarg);
				return 2;
			}
			so.max_depth = v;
			break;
		case 'f':
			if (parse_format(optarg, &fmt)) {
				fprintf(stderr, "pyrometer: unknown --format '%s' (folded, speedscope, pprof, svg)\n", optarg);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'S':
			r.subprocesses = true;
			break;
		case 'T':
			r.threads = true;
			break;
		case 'K':
			so.kernel_stacks = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !pid) {
		fprintf(stderr, optind < argc ? "pyrometer: unexpected argument '%s'\n" : "pyrometer: record needs --pid PID\n",
			optind < argc ? argv[optind] : "");
		usage(stderr);
		return 2;
	}

	err = discover_initial(pid, &t);
	if (err)
		return report_discover_error(pid, err, &t);

	r.prof = prof_new(PROF_UNIT_SAMPLES, 1000000000ULL / so.rate_hz);
	r.sym = pysym_new(65536);
	if (!r.prof || !r.sym) {
		fprintf(stderr, "pyrometer: out of memory\n");
		goto out;
	}
	if (so.kernel_stacks)
		r.ks = ksyms_load();
	err = cpu_sampler_open(&so, &r.cpu);
	if (err) {
		fprintf(stderr, "pyrometer: failed to start the BPF sampler: %s%s\n", strerror(-err),
			err == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)" : "");
		goto out;
	}
	add_family(&r, pid);
	if (r.subprocesses) {
		err = procwatch_open(on_proc_event, &r, &r.pw);
		if (err) {
			fprintf(stderr, "pyrometer: failed to watch processes: %s\n", strerror(-err));
			goto out;
		}
	} else {
		err = procwatch_open(on_proc_event, &r, &r.pw);
		if (err)
			r.pw = NULL; /* exits are then noticed by kill(pid, 0) */
	}
	err = track(&r, &t);
	if (err) {
		fprintf(stderr, "pyrometer: failed to track process %d: %s\n", pid, strerror(-err));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	start = last_drain = now_ns();
	prof_set_time(r.prof, (uint64_t)time(NULL) * 1000000000ULL, 0);
	while (!stop_requested) {
		uint64_t now;

		if (r.pw)
			procwatch_poll(r.pw, 50);
		else
			usleep(50000);
		run_pending(&r);
		now = now_ns();
		if (now - last_drain >= DRAIN_EVERY_NS) {
			cpu_sampler_drain(r.cpu, on_sample, &r);
			last_drain = now;
		}
		if (!r.pw && kill(pid, 0) && errno == ESRCH)
			r.alive = 0;
		if (duration && now - start >= (uint64_t)duration * 1000000000ULL)
			break;
		if (!r.alive && !r.npend) {
			fprintf(stderr, "pyrometer: process %d exited; writing the profile gathered so far\n", pid);
			break;
		}
	}
	cpu_sampler_drain(r.cpu, on_sample, &r);
	prof_set_time(r.prof, prof_start_ns(r.prof), now_ns() - start);
	err = write_profile(&r, fmt, out);
	if (err) {
		fprintf(stderr, "pyrometer: failed to write the profile: %s\n", strerror(-err));
		goto out;
	}
	fprintf(stderr, "pyrometer: %llu samples, %.1f%% with Python stacks\n", (unsigned long long)r.samples,
		r.samples ? 100.0 * r.py_samples / r.samples : 0.0);
	rc = 0;
out:
	rec_free(&r);
	return rc;
}
