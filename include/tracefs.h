/* Where the kernel lists its tracepoints (tracefs), for BPF programs attached to one tracepoint by
 * id: a per-syscall tracepoint such as syscalls/sys_enter_epoll_wait costs every other syscall
 * only the kernel's bitmap test, where a raw sys_enter program runs for every syscall on the host.
 * Looks in the two usual places and mounts tracefs when neither has it (hosts whose init does not).
 * No logging here: tracefs_open says what it found or did, and the caller tells. */
#ifndef TRACEFS_H
#define TRACEFS_H

#include <stdbool.h>
#include <stddef.h>

#define TRACEFS_MOUNTPOINT "/sys/kernel/tracing"
#define TRACEFS_UNDER_DEBUGFS "/sys/kernel/debug/tracing"

struct tracefs {
	char root[64];  /* the directory holding events/ (one of the two above), "" when none */
	bool mounted;   /* tracefs_open mounted tracefs there itself */
	int mount_err;  /* -errno of the one mount attempt that failed, else 0 */
};

/* Index of the first of roots[0..n) that has an events/ directory, or -ENOENT. */
int tracefs_find_root(const char *const *roots, size_t n);

/* Finds tracefs at TRACEFS_MOUNTPOINT, else TRACEFS_UNDER_DEBUGFS; when neither has events/,
 * mounts tracefs at TRACEFS_MOUNTPOINT once (root outside a sandbox; a unit that filters mount()
 * or lacks CAP_SYS_ADMIN gets EPERM) and looks again. Fills *t either way. Returns 0, or -errno:
 * the mount's error when it failed, -ENOENT when tracefs is still nowhere to be seen. */
int tracefs_open(struct tracefs *t);

/* The id of tracepoint CATEGORY/NAME ("syscalls", "sys_enter_epoll_wait"): reads
 * ROOT/events/CATEGORY/NAME/id. Returns the id (> 0), -ENOENT when there is no such tracepoint,
 * -EINVAL when the file holds no id, other -errno when it cannot be read. */
int tracefs_event_id(const char *root, const char *category, const char *name);

/* A system-wide perf event on tracepoint `id`, as libbpf opens one for a tracepoint given by name,
 * for bpf_program__attach_perf_event() (whose link then owns it). Returns the fd or -errno. */
int tracefs_perf_open(int id);

/* Parses the text of an events/.../id file: decimal digits, then at most a newline. Returns the
 * id (1..INT_MAX) or -EINVAL. */
int tracefs_parse_id(const char *text, size_t len);

#endif
