/* One cpu-clock perf event per CPU with a BPF program on each (include/perfclock.h). */
#include <errno.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "perfclock.h"

static int open_clock(unsigned long config, int tid, int cpu, unsigned rate_hz)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = config,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = rate_hz,
	};
	int fd = syscall(__NR_perf_event_open, &attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int open_cpu_clock(int cpu, unsigned rate_hz)
{
	return open_clock(PERF_COUNT_SW_CPU_CLOCK, -1, cpu, rate_hz);
}

/* prog on the perf event fd; the link owns fd from here, and on failure fd is closed (errno kept). */
static struct bpf_link *attach_fd(struct bpf_program *prog, int fd)
{
	struct bpf_link *link = bpf_program__attach_perf_event(prog, fd);
	int err;

	if (!link) {
		err = errno;
		close(fd);
		errno = err;
	}
	return link;
}

struct bpf_link *perfclock_attach_thread(struct bpf_program *prog, unsigned rate_hz, int tid)
{
	int fd = open_clock(PERF_COUNT_SW_TASK_CLOCK, tid, -1, rate_hz);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return attach_fd(prog, fd);
}

int perfclock_attach(struct bpf_program *prog, unsigned rate_hz, struct bpf_link **links, int ncpus)
{
	int attached = 0;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		int fd = open_cpu_clock(cpu, rate_hz);

		links[cpu] = NULL;
		if (fd == -ENODEV) /* possible but offline CPU */
			continue;
		if (fd < 0)
			return fd;
		links[cpu] = attach_fd(prog, fd);
		if (!links[cpu])
			return -errno;
		attached++;
	}
	return attached;
}
