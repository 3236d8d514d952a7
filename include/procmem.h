/* Reads another process's memory with process_vm_readv. Short reads count as failures. */
#ifndef PROCMEM_H
#define PROCMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads len bytes at addr of pid into buf. Returns 0, -ESRCH (gone), -EFAULT (unmapped), -errno. */
int procmem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int procmem_read_u64(pid_t pid, uint64_t addr, uint64_t *out);
int procmem_read_u32(pid_t pid, uint64_t addr, uint32_t *out);

#endif
