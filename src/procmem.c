/* Reads another process's memory with process_vm_readv (no ptrace stop); a short read means the
 * range was not fully mapped and is reported as -EFAULT. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/uio.h>

#include "procmem.h"

int procmem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (!len)
		return 0;
	if (!addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int procmem_read_u64(pid_t pid, uint64_t addr, uint64_t *out)
{
	return procmem_read(pid, addr, out, sizeof(*out));
}

int procmem_read_u32(pid_t pid, uint64_t addr, uint32_t *out)
{
	return procmem_read(pid, addr, out, sizeof(*out));
}
