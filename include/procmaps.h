/* /proc/PID/maps as a list of mappings. The parser is pure (text in, entries out) so it is tested
 * from fixture text; procmaps_read() is the thin shell that reads the file. */
#ifndef PROCMAPS_H
#define PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCMAPS_MAX_ENTRIES (1u << 20) /* more lines than this: -E2BIG */

struct procmaps_entry {
	uint64_t start, end;  /* [start, end) */
	uint64_t offset;      /* file offset of start */
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	char perms[5];        /* "r-xp" */
	bool deleted;         /* the path carried a " (deleted)" suffix (stripped from path) */
	const char *path;     /* "" for anonymous mappings; "[heap]", "[stack]", ... kept as is */
};

struct procmaps {
	struct procmaps_entry *entries;
	size_t n;
	char *buf; /* owns the path strings */
};

/* Parses maps text[0..len) into *m (which it initializes). Returns 0, -EINVAL on a malformed
 * line, -E2BIG over PROCMAPS_MAX_ENTRIES lines, -ENOMEM. On error *m is left empty. */
int procmaps_parse(const char *text, size_t len, struct procmaps *m);

/* Reads and parses /proc/pid/maps. Returns 0, -ESRCH if the process does not exist, or -errno. */
int procmaps_read(pid_t pid, struct procmaps *m);

/* The first entry whose path is `path` and whose file offset is `offset`, or NULL. */
const struct procmaps_entry *procmaps_find(const struct procmaps *m, const char *path,
					   uint64_t offset);

void procmaps_free(struct procmaps *m);

#endif
