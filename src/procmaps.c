/* Parser of /proc/PID/maps text into mappings (pure), and the shell that reads the file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmaps.h"

#define DELETED_SUFFIX " (deleted)"

/* Reads a hex number ending at one of `stops` (or end of string); advances *p past the stop. */
static int hex_field(char **p, const char *stops, uint64_t *out)
{
	char *end;

	if (!isxdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	*out = strtoull(*p, &end, 16);
	if (errno || (*end && !strchr(stops, *end)))
		return -EINVAL;
	*p = *end ? end + 1 : end;
	return 0;
}

static void skip_spaces(char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Parses one NUL-terminated line in place; e->path points into the line. */
static int parse_line(char *line, struct procmaps_entry *e)
{
	uint64_t v;
	char *p = line;
	size_t n;

	memset(e, 0, sizeof(*e));
	if (hex_field(&p, "-", &e->start) || hex_field(&p, " ", &e->end) || e->end < e->start)
		return -EINVAL;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(e->perms, p, 4);
	p += 5;
	if (hex_field(&p, " ", &e->offset) || hex_field(&p, ":", &v) || v > UINT32_MAX)
		return -EINVAL;
	e->dev_major = (uint32_t)v;
	if (hex_field(&p, " ", &v) || v > UINT32_MAX)
		return -EINVAL;
	e->dev_minor = (uint32_t)v;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	e->inode = strtoull(p, &p, 10);
	if (*p && *p != ' ' && *p != '\t')
		return -EINVAL;
	skip_spaces(&p);
	n = strlen(p);
	if (n >= sizeof(DELETED_SUFFIX) - 1 &&
	    !strcmp(p + n - (sizeof(DELETED_SUFFIX) - 1), DELETED_SUFFIX)) {
		p[n - (sizeof(DELETED_SUFFIX) - 1)] = '\0';
		e->deleted = true;
	}
	e->path = p;
	return 0;
}

int procmaps_parse(const char *text, size_t len, struct procmaps *m)
{
	size_t cap = 0, n = 0;
	struct procmaps_entry *ents = NULL, *grown;
	char *buf, *line, *nl;
	int err = 0;

	memset(m, 0, sizeof(*m));
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (!*line)
			continue;
		if (n == PROCMAPS_MAX_ENTRIES) {
			err = -E2BIG;
			goto cleanup;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(ents, cap * sizeof(*ents));
			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			ents = grown;
		}
		err = parse_line(line, &ents[n]);
		if (err)
			goto cleanup;
		n++;
	}
	m->entries = ents;
	m->n = n;
	m->buf = buf;
	return 0;
cleanup:
	free(ents);
	free(buf);
	return err;
}

/* Slurps a /proc file (st_size is 0 there, so read until EOF). */
static int read_all(const char *path, char **out, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = NULL, *grown;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!buf || n == cap) {
			cap = buf ? cap * 2 : cap;
			grown = realloc(buf, cap);
			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = grown;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

int procmaps_read(pid_t pid, struct procmaps *m)
{
	char path[64], *text = NULL;
	size_t len = 0;
	int err;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	err = read_all(path, &text, &len);
	if (err == -ENOENT)
		return -ESRCH;
	if (err)
		return err;
	err = procmaps_parse(text, len, m);
	free(text);
	return err;
}

const struct procmaps_entry *procmaps_find(const struct procmaps *m, const char *path,
					   uint64_t offset)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->entries[i].offset == offset && !strcmp(m->entries[i].path, path))
			return &m->entries[i];
	return NULL;
}

void procmaps_free(struct procmaps *m)
{
	if (!m)
		return;
	free(m->entries);
	free(m->buf);
	memset(m, 0, sizeof(*m));
}
