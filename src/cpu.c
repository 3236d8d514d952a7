/* The CPU sampler's userspace half: open -> size maps -> load -> attach one cpu-clock perf event per
 * CPU -> drain counts with batched lookup-and-delete. See include/cpu.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpflog.h"
#include "cpu.h"
#include "perfclock.h"
#include "cpu.skel.h"

#define DRAIN_BATCH 512

struct cpu_sampler {
	struct cpu_bpf *skel;
	struct bpf_link **links; /* one per CPU; each owns its perf event */
	int ncpus;
	size_t stack_value_size;
	struct pm_py_stack *stack_buf;
	uint64_t lost_stacks, drained_keys, period_ns;
	uint64_t procs_gen; /* py_gen[0]: bumped after each py_procs change (bpf/tracked.bpf.h) */
	pid_t slot_pid[PM_MAX_PROCS]; /* the process holding each pm_proc_cfg.slot, 0 if free */
	bool kernel_stacks, user_stacks;
};

/* Words of the tracked-pid bitmap (py_pidmap) for this host's pid_max. */
static unsigned pid_words(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	long max = f && fgets(buf, sizeof(buf), f) ? strtol(buf, NULL, 10) : 0;

	if (f)
		fclose(f);
	if (max <= 0 || max > 64L * (PM_PID_WORDS - 1))
		return PM_PID_WORDS;
	return (unsigned)(max / 64 + 1);
}

int cpu_sampler_open(const struct cpu_sampler_opts *opts, struct cpu_sampler **out)
{
	unsigned depth = opts->max_depth ? opts->max_depth : PM_DEFAULT_DEPTH;
	unsigned rate = cpu_rate_hz(opts);
	struct cpu_sampler *s;
	int err;

	if (depth > PM_MAX_DEPTH || rate > 100000)
		return -EINVAL;
	bpflog_init();
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ncpus = libbpf_num_possible_cpus();
	s->links = calloc(s->ncpus > 0 ? s->ncpus : 1, sizeof(*s->links));
	s->stack_buf = calloc(1, sizeof(*s->stack_buf));
	s->stack_value_size = offsetof(struct pm_py_stack, frames) + depth * sizeof(struct pm_py_frame);
	s->period_ns = 1000000000ULL / rate;
	s->kernel_stacks = opts->kernel_stacks;
	s->user_stacks = opts->user_stacks;
	if (s->ncpus <= 0 || !s->links || !s->stack_buf) {
		err = s->ncpus <= 0 ? s->ncpus : -ENOMEM;
		goto fail;
	}
	s->skel = cpu_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto fail;
	}
	s->skel->rodata->max_depth = depth;
	s->skel->rodata->kernel_stacks = opts->kernel_stacks;
	s->skel->rodata->user_stacks = opts->user_stacks;
	bpf_map__set_value_size(s->skel->maps.py_stacks, s->stack_value_size);
	bpf_map__set_max_entries(s->skel->maps.py_pidmap, pid_words());
	if (opts->max_stacks)
		bpf_map__set_max_entries(s->skel->maps.py_stacks, opts->max_stacks);
	if (!opts->kernel_stacks && !opts->user_stacks)
		bpf_map__set_max_entries(s->skel->maps.native_stacks, 1);

	err = cpu_bpf__load(s->skel);
	if (err)
		goto fail;
	err = perfclock_attach(s->skel->progs.on_cpu_sample, rate, s->links, s->ncpus);
	if (err <= 0) {
		err = err ? err : -ENODEV;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	cpu_sampler_close(s);
	return err < 0 ? err : -EINVAL;
}

void cpu_sampler_close(struct cpu_sampler *s)
{
	if (!s)
		return;
	for (int i = 0; s->links && i < s->ncpus; i++)
		bpf_link__destroy(s->links[i]);
	cpu_bpf__destroy(s->skel);
	free(s->links);
	free(s->stack_buf);
	free(s);
}

/* Tells the per-task caches of "is this process tracked" that py_procs changed. */
static void procs_changed(struct cpu_sampler *s)
{
	__u32 zero = 0;

	s->procs_gen++;
	bpf_map__update_elem(s->skel->maps.py_gen, &zero, sizeof(zero), &s->procs_gen, sizeof(s->procs_gen), BPF_ANY);
}

/* Sets or clears pid's bit in py_pidmap (only the engine thread writes it). */
static int mark_pid(struct cpu_sampler *s, pid_t pid, bool on)
{
	__u32 word = (__u32)pid / 64;
	__u64 bits = 0;
	int err = bpf_map__lookup_elem(s->skel->maps.py_pidmap, &word, sizeof(word), &bits, sizeof(bits), 0);

	if (err)
		return err;
	bits = on ? bits | (1ULL << (pid & 63)) : bits & ~(1ULL << (pid & 63));
	return bpf_map__update_elem(s->skel->maps.py_pidmap, &word, sizeof(word), &bits, sizeof(bits), BPF_ANY);
}

/* The pid -> slot table (bpf/tracked.bpf.h): entry pid % PM_PIDSLOTS holds pid << 32 | slot, 0 when
 * empty. */
static __u32 pidslot_index(pid_t pid)
{
	return (__u32)pid & (PM_PIDSLOTS - 1);
}

static __u64 pidslot_entry(pid_t pid, int slot)
{
	return (__u64)(__u32)pid << 32 | (__u32)slot;
}

static __u64 pidslot_get(struct cpu_sampler *s, pid_t pid)
{
	__u32 idx = pidslot_index(pid);
	__u64 v = 0;

	return bpf_map__lookup_elem(s->skel->maps.py_pidslots, &idx, sizeof(idx), &v, sizeof(v), 0) ? 0 : v;
}

static void pidslot_set(struct cpu_sampler *s, pid_t pid, __u64 v)
{
	__u32 idx = pidslot_index(pid);

	bpf_map__update_elem(s->skel->maps.py_pidslots, &idx, sizeof(idx), &v, sizeof(v), BPF_ANY);
}

/* pid (tracked in slot) takes its entry unless another tracked pid holds it; a failed write
 * leaves pid on the slower path, still right. */
static void pidslot_claim(struct cpu_sampler *s, pid_t pid, int slot)
{
	__u64 held = pidslot_get(s, pid);

	if (!held || (pid_t)(held >> 32) == pid)
		pidslot_set(s, pid, pidslot_entry(pid, slot));
}

/* pid is about to be untracked: its entry goes to another tracked pid of the same index, if any. */
static void pidslot_release(struct cpu_sampler *s, pid_t pid)
{
	__u64 next = 0;

	if ((pid_t)(pidslot_get(s, pid) >> 32) != pid)
		return;
	for (int i = 0; i < PM_MAX_PROCS && !next; i++)
		if (s->slot_pid[i] && s->slot_pid[i] != pid && pidslot_index(s->slot_pid[i]) == pidslot_index(pid))
			next = pidslot_entry(s->slot_pid[i], i);
	pidslot_set(s, pid, next);
}

/* pid's slot: the one it holds, else the first free one; -1 when all are taken. */
static int slot_of(const struct cpu_sampler *s, pid_t pid, bool take_free)
{
	int free_slot = -1;

	for (int i = 0; i < PM_MAX_PROCS; i++) {
		if (s->slot_pid[i] == pid)
			return i;
		if (!s->slot_pid[i] && free_slot < 0)
			free_slot = i;
	}
	return take_free ? free_slot : -1;
}

int cpu_sampler_track(struct cpu_sampler *s, pid_t pid, const struct pm_proc_cfg *cfg)
{
	struct pm_proc_cfg c = *cfg;
	int slot = slot_of(s, pid, true), err;
	__u32 key = pid;

	if (slot < 0)
		return -ENOSPC;
	c.slot = (__u32)slot;
	err = bpf_map__update_elem(s->skel->maps.py_procs, &key, sizeof(key), &c, sizeof(c), BPF_ANY);
	if (!err)
		err = mark_pid(s, pid, true); /* after the insert: a set bit always finds its entry */
	if (err) {
		bpf_map__delete_elem(s->skel->maps.py_procs, &key, sizeof(key), 0);
		return err;
	}
	s->slot_pid[slot] = pid;
	pidslot_claim(s, pid, slot); /* after the insert, like the bit */
	procs_changed(s);
	return 0;
}

int cpu_sampler_untrack(struct cpu_sampler *s, pid_t pid)
{
	int slot = slot_of(s, pid, false);
	__u32 key = pid;
	int err;

	mark_pid(s, pid, false); /* before the delete */
	pidslot_release(s, pid);
	err = bpf_map__delete_elem(s->skel->maps.py_procs, &key, sizeof(key), 0);

	if (slot >= 0)
		s->slot_pid[slot] = 0;
	if (!err)
		procs_changed(s);
	return err == -ENOENT ? 0 : err;
}

static int read_native(struct cpu_sampler *s, int id, uint64_t *ips)
{
	int n = 0;

	if (id < 0 || bpf_map__lookup_elem(s->skel->maps.native_stacks, &id, sizeof(id), ips,
					   PM_NATIVE_DEPTH * sizeof(*ips), 0))
		return 0;
	while (n < PM_NATIVE_DEPTH && ips[n])
		n++;
	return n;
}

static int deliver(struct cpu_sampler *s, const struct pm_cpu_key *key, uint64_t count, cpu_sample_fn fn,
		   void *ctx)
{
	uint64_t kips[PM_NATIVE_DEPTH], uips[PM_NATIVE_DEPTH];
	struct cpu_sample smp = { .key = key, .count = count, .kips = kips, .uips = uips };

	if (key->py_stack_hash) {
		memset(s->stack_buf, 0, s->stack_value_size);
		if (bpf_map__lookup_elem(s->skel->maps.py_stacks, &key->py_stack_hash, sizeof(key->py_stack_hash),
					 s->stack_buf, s->stack_value_size, 0) == 0)
			smp.stack = s->stack_buf;
		else
			s->lost_stacks += count;
	}
	smp.nkips = read_native(s, key->kstack_id, kips);
	smp.nuips = read_native(s, key->ustack_id, uips);
	return fn(&smp, ctx);
}

int cpu_sampler_drain(struct cpu_sampler *s, cpu_sample_fn fn, void *ctx)
{
	static struct pm_cpu_key keys[DRAIN_BATCH];
	static __u64 vals[DRAIN_BATCH];
	int fd = bpf_map__fd(s->skel->maps.cpu_counts), total = 0, err = 0;
	__u64 in = 0, out = 0;
	bool first = true;

	for (;;) {
		__u32 n = DRAIN_BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &o);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (__u32 i = 0; i < n; i++) {
			int r = deliver(s, &keys[i], vals[i], fn, ctx);

			if (r < 0)
				return r;
		}
		total += n;
		if (err) { /* ENOENT: the map is exhausted */
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
	if (s->kernel_stacks || s->user_stacks) {
		/* stack ids are re-created by the next samples; clearing keeps the map from filling */
		__u32 id, next;
		int sfd = bpf_map__fd(s->skel->maps.native_stacks);

		while (bpf_map_get_next_key(sfd, NULL, &next) == 0) {
			id = next;
			if (bpf_map_delete_elem(sfd, &id))
				break;
		}
	}
	s->drained_keys += total;
	return err ? err : total;
}

void cpu_sampler_get_stats(struct cpu_sampler *s, struct cpu_sampler_stats *st)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));

	memset(st, 0, sizeof(*st));
	for (__u32 i = 0; vals && i < PM_STAT_MAX; i++) {
		if (bpf_map__lookup_elem(s->skel->maps.cpu_stats, &i, sizeof(i), vals, ncpu * sizeof(*vals), 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			st->bpf[i] += vals[c];
	}
	free(vals);
	st->lost_stacks = s->lost_stacks;
	st->drained_keys = s->drained_keys;
	st->period_ns = s->period_ns;
}

int cpu_sampler_prog_fd(struct cpu_sampler *s)
{
	return bpf_program__fd(s->skel->progs.on_cpu_sample);
}

int cpu_sampler_share_tracked(struct cpu_sampler *s, struct bpf_object *obj)
{
	struct bpf_map *mine[] = { s->skel->maps.py_procs, s->skel->maps.py_gen, s->skel->maps.py_tasks,
				   s->skel->maps.py_pidmap, s->skel->maps.py_pidslots, s->skel->maps.sock_send_chain,
				   s->skel->maps.sock_recv_chain, s->skel->maps.sock_notes };

	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		struct bpf_map *theirs = bpf_object__find_map_by_name(obj, bpf_map__name(mine[i]));
		int err = theirs ? bpf_map__reuse_fd(theirs, bpf_map__fd(mine[i])) : 0;

		if (err)
			return err;
	}
	return 0;
}
