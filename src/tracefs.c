/* Finding tracefs and tracepoint ids in it, mounting tracefs where init did not, and opening a
 * tracepoint's perf event for a BPF program (include/tracefs.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracefs.h"

int tracefs_parse_id(const char *text, size_t len)
{
	long long id = 0;
	size_t i;

	if (len && text[len - 1] == '\n')
		len--;
	if (!len || len > 10)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		id = id * 10 + (text[i] - '0');
	}
	return id > 0 && id <= INT_MAX ? (int)id : -EINVAL;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tracefs_find_root(const char *const *roots, size_t n)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/events", roots[i]) >= (int)sizeof(path))
			continue;
		if (is_dir(path))
			return (int)i;
	}
	return -ENOENT;
}

static int find_standard_root(struct tracefs *t)
{
	/* the canonical place first: it spares touching debugfs (whose tracing/ is an automount) */
	static const char *const roots[] = { TRACEFS_MOUNTPOINT, TRACEFS_UNDER_DEBUGFS };
	int i = tracefs_find_root(roots, sizeof(roots) / sizeof(roots[0]));

	if (i >= 0)
		snprintf(t->root, sizeof(t->root), "%s", roots[i]);
	return i < 0 ? i : 0;
}

int tracefs_open(struct tracefs *t)
{
	memset(t, 0, sizeof(*t));
	if (!find_standard_root(t))
		return 0;
	/* nosuid,nodev,noexec as systemd mounts it at boot */
	if (mount("nodev", TRACEFS_MOUNTPOINT, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		t->mount_err = -errno;
		return t->mount_err;
	}
	t->mounted = true;
	return find_standard_root(t);
}

static bool is_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int tracefs_event_id(const char *root, const char *category, const char *name)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd, err;

	if (!is_name(category) || !is_name(name))
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/events/%s/%s/id", root, category, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err ? err : tracefs_parse_id(buf, (size_t)n);
}

int tracefs_perf_open(int id)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr), .config = (__u64)id };
	int fd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}
