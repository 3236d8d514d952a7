/* Benchmark helper for the cost of syscall tracepoints. `sysfloor loop N` times N getppid()
 * syscalls on the thread's CPU clock (time spent preempted by other tasks does not count) and
 * prints nanoseconds per call; `sysfloor attach [enter|pair]` attaches the empty
 * sys_enter (and sys_exit) programs of bpf/sysfloor.bpf.c, prints "ready" and holds them until
 * stdin closes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "sysfloor.skel.h"

static int loop(long n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}

static int attach(bool pair)
{
	struct sysfloor_bpf *s = sysfloor_bpf__open_and_load();
	struct bpf_link *enter, *exit_ = NULL;
	char buf[64];

	if (!s) {
		fprintf(stderr, "sysfloor: Failed to load: %s\n", strerror(errno));
		return 1;
	}
	enter = bpf_program__attach(s->progs.floor_enter);
	if (pair)
		exit_ = bpf_program__attach(s->progs.floor_exit);
	if (!enter || (pair && !exit_)) {
		fprintf(stderr, "sysfloor: Failed to attach: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin))
		;
	bpf_link__destroy(exit_);
	bpf_link__destroy(enter);
	sysfloor_bpf__destroy(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(atol(argv[2]));
	if (argc >= 2 && !strcmp(argv[1], "attach"))
		return attach(argc < 3 || strcmp(argv[2], "enter"));
	fprintf(stderr, "usage: sysfloor loop N | sysfloor attach [enter|pair]\n");
	return 2;
}
