/* faultloop: the cost of first-touch page faults, for the memory benchmark. Maps MIB MiB of
 * anonymous memory, touches every page, unmaps it, ROUNDS times; prints nanoseconds per fault
 * (wall clock of the whole loop divided by the pages touched). Usage: faultloop MIB ROUNDS */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t bytes = (argc > 1 ? strtoul(argv[1], NULL, 10) : 64) << 20;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 20, page = sysconf(_SC_PAGESIZE);
	double t0, t1;

	t0 = now_ns();
	for (long r = 0; r < rounds; r++) {
		volatile char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("faultloop: mmap");
			return 1;
		}
		madvise((void *)p, bytes, MADV_NOHUGEPAGE); /* one fault per page, whatever THP says */
		for (size_t off = 0; off < bytes; off += page)
			p[off] = 1;
		munmap((void *)p, bytes);
	}
	t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / ((double)rounds * bytes / page));
	return 0;
}
