/* `pyrometer alloc`: opt-in allocation profile of one Python process for a few seconds. Loads
 * bpf/alloc.bpf.c, puts uprobes on the interpreter's allocators and on libc's malloc family in
 * that process only, then reports sampled allocations by Python stack: bytes and counts in total,
 * and what is still allocated at the end. Works without the daemon; every allocation pays a uprobe
 * hit while it runs (see usage()). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.skel.h"
#include "allocprof.h"
#include "bpflog.h"
#include "cmd.h"
#include "linkreap.h"
#include "memtrend.h"
#include "procmaps.h"
#include "pyprobe.h"
#include "pysym.h"
#include "pytarget.h"

#define MAX_LINKS (2 * 2 * PYPROBE_MAX_FUNCS)

enum out_format { OUT_TEXT, OUT_JSON, OUT_FOLDED };

struct alloc_opts {
	pid_t pid;
	long seconds, interval, depth, top;
	bool libc;
	enum out_format format;
	enum allocprof_by by;
	enum allocprof_weight weight;
	const char *output;
};

struct alloc_run {
	struct alloc_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	size_t nlinks;
	struct py_target t;
	struct pyprobe_alloc py, raw;
	char py_path[PATH_MAX + 32], libc_path[PATH_MAX + 32];
	size_t stack_value_size;
	struct pm_py_stack *stack_buf;
	struct pysym *sym;
	struct allocprof *prof;
	uint64_t stats[PM_ALLOC_STAT_MAX];
	double seconds;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pyrometer alloc --pid PID [options]\n"
		"Samples one process's allocations by Python stack: the interpreter's allocators (pymalloc's own\n"
		"functions when the binary has a symbol table, else PyObject_*/PyMem_*) and libc's malloc family\n"
		"for what they do not cover. Every allocation and free in the target pays a uprobe hit while this\n"
		"runs: measured on this VM, 3-4 us per hit, and an allocation-heavy benchmark (make bench, memory)\n"
		"used about 30x its CPU time while recorded. Keep recordings short; nothing stays attached after.\n\n"
		"  -p, --pid PID          process to profile (required)\n"
		"  -s, --seconds N        record for N seconds, 1..3600 (default 10; Ctrl-C stops early)\n"
		"  -i, --interval BYTES   one sample per about BYTES allocated, 4096..1073741824 (default 262144)\n"
		"  -f, --format F         text (default), json or folded\n"
		"  -b, --by B             text: group by site (innermost line, default) or stack\n"
		"  -w, --weight W         folded: bytes (default), live (still allocated at the end) or count\n"
		"  -n, --top N            text: rows shown, 0 = all (default 20)\n"
		"      --no-libc          probe only the interpreter's allocators\n"
		"      --depth N          Python frames per stack, 1..%d (default %d)\n"
		"  -o, --output FILE      write there instead of stdout\n",
		PM_MAX_DEPTH, PM_DEFAULT_DEPTH);
}

static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* Returns 0 to run, 1 to exit 0 (--help), 2 on a usage error (already reported). */
static int parse_args(int argc, char **argv, struct alloc_opts *o)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },    { "seconds", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' }, { "format", required_argument, NULL, 'f' },
		{ "by", required_argument, NULL, 'b' },     { "weight", required_argument, NULL, 'w' },
		{ "top", required_argument, NULL, 'n' },    { "no-libc", no_argument, NULL, 'L' },
		{ "depth", required_argument, NULL, 'D' },  { "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },         {},
	};
	static const char *const formats[] = { "text", "json", "folded" }, *const bys[] = { "site", "stack" },
				 *const weights[] = { "bytes", "live", "count" };
	int c, v;

	*o = (struct alloc_opts){ .seconds = 10, .interval = 256 * 1024, .depth = PM_DEFAULT_DEPTH, .top = 20,
				  .libc = true };
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:s:i:f:b:w:n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((o->pid = cmd_parse_pid(optarg)) < 0)
				return 2;
			break;
		case 's':
			if (cmd_parse_long(optarg, 1, 3600, &o->seconds))
				return fprintf(stderr, "pyrometer: --seconds must be 1..3600, got '%s'\n", optarg), 2;
			break;
		case 'i':
			if (cmd_parse_long(optarg, 4096, 1L << 30, &o->interval))
				return fprintf(stderr, "pyrometer: --interval must be 4096..1073741824 bytes, got '%s'\n", optarg), 2;
			break;
		case 'n':
			if (cmd_parse_long(optarg, 0, 1000000, &o->top))
				return fprintf(stderr, "pyrometer: --top must be 0..1000000, got '%s'\n", optarg), 2;
			break;
		case 'D':
			if (cmd_parse_long(optarg, 1, PM_MAX_DEPTH, &o->depth))
				return fprintf(stderr, "pyrometer: --depth must be 1..%d, got '%s'\n", PM_MAX_DEPTH, optarg), 2;
			break;
		case 'f':
			if ((v = pick(optarg, formats, 3)) < 0)
				return fprintf(stderr, "pyrometer: unknown --format '%s' (text, json, folded)\n", optarg), 2;
			o->format = (enum out_format)v;
			break;
		case 'b':
			if ((v = pick(optarg, bys, 2)) < 0)
				return fprintf(stderr, "pyrometer: unknown --by '%s' (site, stack)\n", optarg), 2;
			o->by = (enum allocprof_by)v;
			break;
		case 'w':
			if ((v = pick(optarg, weights, 3)) < 0)
				return fprintf(stderr, "pyrometer: unknown --weight '%s' (bytes, live, count)\n", optarg), 2;
			o->weight = (enum allocprof_weight)v;
			break;
		case 'L':
			o->libc = false;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->pid) {
		fprintf(stderr, optind < argc ? "pyrometer: unexpected argument '%s'\n" : "pyrometer: alloc needs --pid PID\n",
			optind < argc ? argv[optind] : "");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* ---- finding and attaching the allocators ------------------------------------------------ */

static bool is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || (!strncmp(base, "libc-", 5) && strstr(base, ".so"));
}

static int find_sites(struct alloc_run *r, bool libc)
{
	struct procmaps maps;
	struct elfsym *e;
	int err;

	snprintf(r->py_path, sizeof(r->py_path), "/proc/%d/root%s", r->t.pid, r->t.elf_path);
	err = elfsym_open(r->py_path, &e);
	if (err)
		return err;
	err = pyprobe_alloc_python(e, &r->py);
	elfsym_close(e);
	if (err || !libc)
		return err;
	err = procmaps_read(r->t.pid, &maps);
	if (err)
		return err;
	for (size_t i = 0; i < maps.n && !r->libc_path[0]; i++)
		if (is_libc(maps.entries[i].path))
			snprintf(r->libc_path, sizeof(r->libc_path), "/proc/%d/root%s", r->t.pid, maps.entries[i].path);
	procmaps_free(&maps);
	if (!r->libc_path[0] || elfsym_open(r->libc_path, &e))
		return 0; /* statically linked or odd: the interpreter's allocators only */
	pyprobe_alloc_libc(e, &r->raw);
	elfsym_close(e);
	return 0;
}

/* The return probe (if any) or the entry probe of f. */
static int attach_one(struct alloc_run *r, const char *path, const struct pyprobe_func *f, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = f->name, .bpf_cookie = f->cookie, .retprobe = ret);
	struct bpf_link *l;

	if (ret && !f->ret)
		return 0;
	if (r->nlinks >= MAX_LINKS)
		return -E2BIG;
	l = bpf_program__attach_uprobe_opts(ret ? r->skel->progs.on_alloc_exit : r->skel->progs.on_alloc_enter,
					    r->t.pid, path, 0, &uo);
	if (!l)
		return -errno;
	r->links[r->nlinks++] = l;
	return 0;
}

static int load_and_attach(struct alloc_run *r, const struct alloc_opts *o)
{
	struct pm_proc_cfg cfg;
	__u32 key = (__u32)r->t.pid;
	int err;

	bpflog_init();
	r->skel = alloc_bpf__open();
	if (!r->skel)
		return -errno;
	r->skel->rodata->target_pid = (__u32)r->t.pid;
	r->skel->rodata->max_depth = (__u32)o->depth;
	r->skel->rodata->interval = (__u64)o->interval;
	r->stack_value_size = offsetof(struct pm_py_stack, frames) + o->depth * sizeof(struct pm_py_frame);
	bpf_map__set_value_size(r->skel->maps.alloc_stacks, r->stack_value_size);
	err = alloc_bpf__load(r->skel);
	if (err)
		return err;
	py_target_cfg(&r->t, &cfg);
	err = bpf_map__update_elem(r->skel->maps.py_procs, &key, sizeof(key), &cfg, sizeof(cfg), BPF_ANY);
	/* returns first: an entry seen without its return would count a nested call as outermost */
	for (int ret = 1; ret >= 0; ret--) {
		for (unsigned i = 0; !err && i < r->py.nfuncs; i++)
			err = attach_one(r, r->py_path, &r->py.funcs[i], ret);
		for (unsigned i = 0; !err && i < r->raw.nfuncs; i++)
			err = attach_one(r, r->libc_path, &r->raw.funcs[i], ret);
	}
	return err;
}

/* ---- reading the result ----------------------------------------------------------------- */

struct live_sum {
	struct pm_alloc_key key;
	uint64_t bytes, count;
};

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pm_alloc_key));
}

/* Sampled allocations still alive, summed per (domain, stack), sorted by key. */
static struct live_sum *read_live(struct alloc_run *r, size_t *n)
{
	int fd = bpf_map__fd(r->skel->maps.alloc_live);
	struct live_sum *sums = malloc(PM_ALLOC_MAX_LIVE * sizeof(*sums));
	__u64 key, next, *prev = NULL;
	size_t m = 0;

	if (!sums)
		return NULL;
	while (m < PM_ALLOC_MAX_LIVE && !bpf_map_get_next_key(fd, prev, &next)) {
		struct pm_alloc_live v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		sums[m++] = (struct live_sum){ { v.domain, v.stack_flags, v.py_stack_hash }, v.bytes, v.count };
	}
	qsort(sums, m, sizeof(*sums), cmp_key);
	*n = 0;
	for (size_t i = 0; i < m; i++) { /* merge equal keys in place */
		if (*n && !cmp_key(&sums[*n - 1].key, &sums[i].key)) {
			sums[*n - 1].bytes += sums[i].bytes;
			sums[*n - 1].count += sums[i].count;
		} else {
			sums[(*n)++] = sums[i];
		}
	}
	return sums;
}

static int add_stack(struct alloc_run *r, const struct pm_alloc_key *k, const struct allocprof_vals *v)
{
	static char labels[ALLOCPROF_MAX_FRAMES][512];
	const char *frames[ALLOCPROF_MAX_FRAMES];
	size_t n = 0;

	memset(r->stack_buf, 0, r->stack_value_size);
	if (k->py_stack_hash && !bpf_map__lookup_elem(r->skel->maps.alloc_stacks, &k->py_stack_hash,
						       sizeof(k->py_stack_hash), r->stack_buf, r->stack_value_size, 0)) {
		for (uint32_t i = 0; i < r->stack_buf->nframes && n < ALLOCPROF_MAX_FRAMES; i++) {
			struct pysym_frame f = { "<unknown>", "", 0 };

			pysym_resolve(r->sym, &r->t, r->stack_buf->frames[i].code, r->stack_buf->frames[i].lasti, &f);
			snprintf(labels[n], sizeof(labels[n]), "%s (%s:%d)", f.name, f.file, f.line);
			frames[n] = labels[n];
			n++;
		}
	}
	return allocprof_add(r->prof, frames, n, v);
}

static int collect(struct alloc_run *r)
{
	int fd = bpf_map__fd(r->skel->maps.alloc_sites), ncpu = libbpf_num_possible_cpus(), err = 0;
	struct pm_alloc_key key, next, *prev = NULL;
	size_t nlive = 0;
	struct live_sum *live = read_live(r, &nlive);
	__u64 vals[512];

	if (!live || ncpu <= 0 || ncpu > 512)
		return -ENOMEM;
	for (__u32 i = 0; i < PM_ALLOC_STAT_MAX; i++)
		if (!bpf_map__lookup_elem(r->skel->maps.alloc_stats, &i, sizeof(i), vals, ncpu * sizeof(*vals), 0))
			for (int c = 0; c < ncpu; c++)
				r->stats[i] += vals[c];
	while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
		struct pm_alloc_val v;
		struct allocprof_vals pv = {};
		struct live_sum *l;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		pv = (struct allocprof_vals){ .samples = v.samples, .bytes = v.bytes, .count = v.count };
		l = bsearch(&key, live, nlive, sizeof(*live), cmp_key);
		if (l) {
			pv.live_bytes = l->bytes;
			pv.live_count = l->count;
		}
		err = add_stack(r, &key, &pv);
	}
	free(live);
	return err;
}

/* ---- output ----------------------------------------------------------------------------- */

static void names_of(const struct pyprobe_alloc *a, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < a->nfuncs && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", a->funcs[i].name);
}

static int write_text(const struct alloc_run *r, const struct alloc_opts *o, FILE *f)
{
	char v[32], pyb[32], rawb[32], names[256];

	py_version_str(&r->t, v, sizeof(v));
	mt_format_bytes((double)r->stats[PM_ALLOC_STAT_PY_BYTES], pyb, sizeof(pyb));
	mt_format_bytes((double)r->stats[PM_ALLOC_STAT_RAW_BYTES], rawb, sizeof(rawb));
	fprintf(f, "pid %d (Python %s), %.1f s, one sample per ~%ld bytes, %llu samples\n", r->t.pid, v, r->seconds,
		o->interval, (unsigned long long)r->stats[PM_ALLOC_STAT_SAMPLES]);
	names_of(&r->py, names, sizeof(names));
	fprintf(f, "interpreter allocators (%s): %llu calls, %s\n", names,
		(unsigned long long)r->stats[PM_ALLOC_STAT_PY_CALLS], pyb);
	if (r->raw.nfuncs)
		fprintf(f, "libc malloc family outside them: %llu calls, %s\n",
			(unsigned long long)r->stats[PM_ALLOC_STAT_RAW_CALLS], rawb);
	fprintf(f, "LIVE = sampled allocations not freed when the recording ended\n\n");
	return allocprof_print(r->prof, o->by, (size_t)o->top, f);
}

static json_object *stats_json(const struct alloc_run *r)
{
	static const char *const names[PM_ALLOC_STAT_MAX] = {
		"python_calls", "python_bytes", "libc_calls", "libc_bytes", "frees", "samples",
		"live_map_full", "site_map_full", "stack_map_full",
	};
	json_object *o = json_object_new_object();

	for (int i = 0; i < PM_ALLOC_STAT_MAX; i++)
		json_object_object_add(o, names[i], json_object_new_uint64(r->stats[i]));
	return o;
}

static json_object *funcs_json(const struct pyprobe_alloc *a)
{
	json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < a->nfuncs; i++)
		json_object_array_add(arr, json_object_new_string(a->funcs[i].name));
	return arr;
}

static int write_json(const struct alloc_run *r, const struct alloc_opts *o, FILE *f)
{
	json_object *j = allocprof_json(r->prof), *al = json_object_new_object();
	char v[32];

	py_version_str(&r->t, v, sizeof(v));
	json_object_object_add(j, "pid", json_object_new_int(r->t.pid));
	json_object_object_add(j, "python", json_object_new_string(v));
	json_object_object_add(j, "seconds", json_object_new_double(r->seconds));
	json_object_object_add(j, "interval_bytes", json_object_new_int64(o->interval));
	json_object_object_add(al, "python", funcs_json(&r->py));
	json_object_object_add(al, "python_complete", json_object_new_boolean(r->py.complete));
	json_object_object_add(al, "libc", funcs_json(&r->raw));
	json_object_object_add(j, "allocators", al);
	json_object_object_add(j, "counters", stats_json(r));
	fprintf(f, "%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return ferror(f) ? -EIO : 0;
}

static int write_out(const struct alloc_run *r, const struct alloc_opts *o)
{
	FILE *f = o->output && strcmp(o->output, "-") ? fopen(o->output, "we") : stdout;
	int err;

	if (!f)
		return -errno;
	if (o->format == OUT_JSON)
		err = write_json(r, o, f);
	else if (o->format == OUT_FOLDED)
		err = allocprof_folded(r->prof, o->weight, f);
	else
		err = write_text(r, o, f);
	if (fflush(f) && !err)
		err = -errno;
	if (f != stdout)
		fclose(f);
	return err;
}

/* ---- the verb ----------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void record(const struct alloc_opts *o, struct alloc_run *r)
{
	uint64_t start = now_ns(), end = start + (uint64_t)o->seconds * 1000000000ULL;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_requested && now_ns() < end && !(kill(r->t.pid, 0) && errno == ESRCH))
		usleep(50000);
	/* detach first, so the counts and the live set are those of one moment */
	linkreap_all(r->links, r->nlinks);
	r->nlinks = 0;
	r->seconds = (now_ns() - start) / 1e9;
}

static void run_free(struct alloc_run *r)
{
	linkreap_all(r->links, r->nlinks);
	alloc_bpf__destroy(r->skel);
	pysym_free(r->sym);
	allocprof_free(r->prof);
	free(r->stack_buf);
}

static int report_discover_error(pid_t pid, int err)
{
	if (err == -ESRCH)
		fprintf(stderr, "pyrometer: no process with pid %d\n", pid);
	else if (err == -ENOEXEC)
		fprintf(stderr, "pyrometer: process %d is not a Python process\n", pid);
	else
		fprintf(stderr, "pyrometer: failed to inspect process %d: %s\n", pid, strerror(-err));
	return 1;
}

int cmd_alloc(int argc, char **argv)
{
	struct alloc_opts o;
	struct alloc_run r = {};
	int err, rc = 1, waited = 0;

	if ((rc = parse_args(argc, argv, &o)))
		return rc == 1 ? 0 : rc;
	rc = 1;
	while ((err = py_discover(o.pid, &r.t)) == -EAGAIN && waited++ < 40)
		usleep(50000);
	if (err)
		return report_discover_error(o.pid, err);
	r.sym = pysym_new(65536);
	r.prof = allocprof_new(0);
	r.stack_buf = calloc(1, sizeof(*r.stack_buf));
	if (!r.sym || !r.prof || !r.stack_buf) {
		fprintf(stderr, "pyrometer: out of memory\n");
		goto out;
	}
	err = find_sites(&r, o.libc);
	if (err) {
		fprintf(stderr, "pyrometer: failed to find the allocators of process %d: %s\n", o.pid, strerror(-err));
		goto out;
	}
	if (!r.py.complete)
		fprintf(stderr, "pyrometer: %s has no symbol table: probing the exported PyObject_*/PyMem_* entry points, "
			"which its build inlined in places (small objects made inside the interpreter can be missed; "
			"larger ones are seen through malloc)\n", r.t.elf_path);
	err = load_and_attach(&r, &o);
	if (err) {
		fprintf(stderr, "pyrometer: failed to attach the allocation probes: %s%s\n", strerror(-err),
			err == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)" : "");
		goto out;
	}
	fprintf(stderr, "pyrometer: recording allocations of process %d for %ld s (the process runs slower meanwhile)\n",
		o.pid, o.seconds);
	record(&o, &r);
	err = collect(&r);
	if (!err)
		err = write_out(&r, &o);
	if (err) {
		fprintf(stderr, "pyrometer: failed to write the allocation profile: %s\n", strerror(-err));
		goto out;
	}
	rc = 0;
out:
	run_free(&r);
	return rc;
}
