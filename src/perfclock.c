/* One cpu-clock perf event per CPU with a BPF program on each (include/perfclock.h). */
#include <errno.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "perfclock.h"

static int open_cpu_clock(int cpu, unsigned rate_hz)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.freq = 1,
		.sample_freq = rate_hz,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int perfclock_attach(struct bpf_program *prog, unsigned rate_hz, struct bpf_link **links, int ncpus)
{
	int attached = 0;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		int fd = open_cpu_clock(cpu, rate_hz), err;

		links[cpu] = NULL;
		if (fd == -ENODEV) /* possible but offline CPU */
			continue;
		if (fd < 0)
			return fd;
		links[cpu] = bpf_program__attach_perf_event(prog, fd); /* owns fd from here */
		if (!links[cpu]) {
			err = -errno;
			close(fd);
			return err;
		}
		attached++;
	}
	return attached;
}
