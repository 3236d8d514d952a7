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

#include <bpf/bpf.h>

#include "cmd.h"
#include "cpu.h"
#include "ksyms.h"
#include "procwatch.h"
#include "profile.h"
#include "pysym.h"
#include "pytarget.h"
#include "samplefold.h"
#include "tracker.h"

#define DRAIN_EVERY_NS (250 * 1000000ULL)

enum rec_format { FMT_FOLDED, FMT_SPEEDSCOPE, FMT_PPROF, FMT_SVG };

struct rec {
	struct cpu_sampler *cpu;
	struct procwatch *pw;
	struct tracker *tr;
	struct pysym *sym;
	struct ksyms *ks;
	struct profile *prof;
	bool threads, many;
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

static int on_sample(const struct cpu_sample *s, void *ctx);

/* Samples still in the kernel are symbolized while the target is still known. */
static void on_untrack(pid_t pid, void *ctx)
{
	struct rec *r = ctx;

	cpu_sampler_drain(r->cpu, on_sample, r);
}

static void on_track(const struct py_target *t, void *ctx)
{
	struct rec *r = ctx;
	struct tracker_stats st;

	tracker_get_stats(r->tr, &st);
	if (st.discovered > 1)
		r->many = true;
}

static void on_proc_event(const struct pm_proc_event *ev, void *ctx)
{
	struct rec *r = ctx;

	tracker_event(r->tr, ev);
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
	const struct py_target *t = tracker_find(r->tr, s->key->pid);
	uint32_t ids[PM_MAX_DEPTH + 2 * PM_NATIVE_DEPTH + 4];
	char tl[64], pl[64];
	struct samplefold_opts o = {};
	int n;

	if (r->threads) {
		thread_label(s->key->pid, s->key->tid, tl, sizeof(tl));
		o.thread_label = tl;
	}
	if (r->many) {
		snprintf(pl, sizeof(pl), "process %u", s->key->pid);
		o.process_label = pl;
	}
	n = samplefold(r->prof, r->sym, r->ks, t, s, &o, ids, sizeof(ids) / sizeof(ids[0]));
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
	tracker_free(r->tr);
	cpu_sampler_close(r->cpu);
	pysym_free(r->sym);
	ksyms_free(r->ks);
	prof_free(r->prof);
}

/* The sampler program's kernel-measured run time (needs --bpf-stats). */
static void print_bpf_stats(struct cpu_sampler *cpu)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(cpu_sampler_prog_fd(cpu), &info, &len))
		return;
	fprintf(stderr, "pyrometer: bpf on_cpu_sample: %llu runs, %llu ns, %.0f ns per run\n",
		(unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
		info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0.0);
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
		"      --kernel-stacks    append kernel frames to each stack\n"
		"      --bpf-stats        print the sampler's kernel-measured BPF run time at the end\n",
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
		{ "bpf-stats", no_argument, NULL, 'B' },
		{},
	};
	struct cpu_sampler_opts so = { .rate_hz = 99, .max_depth = PM_DEFAULT_DEPTH };
	enum rec_format fmt = FMT_FOLDED;
	const char *out = NULL;
	long duration = 0, v;
	struct tracker_opts to = {};
	struct rec r = {};
	struct py_target t;
	int waited = 0, stats_fd = -1;
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
			to.follow_children = true;
			break;
		case 'T':
			r.threads = true;
			break;
		case 'K':
			so.kernel_stacks = true;
			break;
		case 'B':
			stats_fd = 0;
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

	/* check the target before loading any BPF, so bad pids fail fast */
	while ((err = py_discover(pid, &t)) == -EAGAIN && waited++ < 40)
		usleep(50000);
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
	if (stats_fd == 0) /* refcounted: other users of bpf_stats are not disturbed */
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	err = cpu_sampler_open(&so, &r.cpu);
	if (err) {
		fprintf(stderr, "pyrometer: failed to start the BPF sampler: %s%s\n", strerror(-err),
			err == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)" : "");
		goto out;
	}
	to.on_track = on_track;
	to.on_untrack = on_untrack;
	to.ctx = &r;
	err = tracker_new(r.cpu, &to, &r.tr);
	if (!err)
		err = procwatch_open(on_proc_event, &r, &r.pw);
	if (err) {
		fprintf(stderr, "pyrometer: failed to watch processes: %s\n", strerror(-err));
		goto out;
	}
	err = tracker_add_root(r.tr, pid, &t);
	if (err) {
		report_discover_error(pid, err, &t);
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	start = last_drain = now_ns();
	prof_set_time(r.prof, (uint64_t)time(NULL) * 1000000000ULL, 0);
	while (!stop_requested) {
		struct tracker_stats st;
		uint64_t now;

		procwatch_poll(r.pw, 50);
		tracker_tick(r.tr);
		now = now_ns();
		if (now - last_drain >= DRAIN_EVERY_NS) {
			tracker_reap(r.tr); /* in case an exit event was lost */
			cpu_sampler_drain(r.cpu, on_sample, &r);
			last_drain = now;
		}
		if (duration && now - start >= (uint64_t)duration * 1000000000ULL)
			break;
		tracker_get_stats(r.tr, &st);
		if (!st.tracked && !st.pending) {
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
	if (stats_fd >= 0)
		print_bpf_stats(r.cpu);
	rc = 0;
out:
	if (stats_fd >= 0)
		close(stats_fd);
	rec_free(&r);
	return rc;
}
