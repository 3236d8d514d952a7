/* Folded ("collapsed") stack output, the input format of flamegraph.pl and most flame graph tools:
 * one line per distinct stack text, root first, frames joined by ';', then ' ' and the value.
 * Backslash escapes keep ';', newlines and control bytes in names from breaking a line apart. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

struct folded_line {
	char *text;
	uint64_t value;
};

/* Appends s to the growing buffer, escaping '\\' ';' and control bytes unless raw. */
static int put(char **buf, size_t *len, size_t *cap, const char *s, bool raw)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[5];
		size_t n;

		if (raw)
			n = 1, tmp[0] = (char)c;
		else if (c == '\\')
			n = 2, memcpy(tmp, "\\\\", 2);
		else if (c == '\n')
			n = 2, memcpy(tmp, "\\n", 2);
		else if (c == ';' || c < 0x20 || c == 0x7f)
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			n = 1, tmp[0] = (char)c;
		if (*len + n + 1 > *cap) {
			size_t ncap = (*cap ? *cap * 2 : 256) + n;
			char *nb = realloc(*buf, ncap);

			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap = ncap;
		}
		memcpy(*buf + *len, tmp, n);
		*len += n;
	}
	if (*buf)
		(*buf)[*len] = '\0';
	return 0;
}

static char *stack_text(const struct profile *p, const struct prof_stack *s, char *label, size_t lsz)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (uint32_t i = 0; i < s->nframes; i++) {
		prof_frame_label(prof_frame_at(p, s->frames[i]), label, lsz);
		if ((i && put(&buf, &len, &cap, ";", true) < 0) ||
		    put(&buf, &len, &cap, label, false) < 0) {
			free(buf);
			return NULL;
		}
	}
	return buf ?: strdup("");
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text, ((const struct folded_line *)b)->text);
}

int fmt_folded(const struct profile *p, FILE *out)
{
	size_t n = prof_nstacks(p), lsz = 8192;
	struct folded_line *lines = calloc(n ?: 1, sizeof(*lines));
	char *label = malloc(lsz);
	int err = 0;

	if (!lines || !label) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		const struct prof_stack *s = prof_stack_at(p, i);

		lines[i].text = stack_text(p, s, label, lsz);
		lines[i].value = s->value;
		if (!lines[i].text) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = lines[i].value;

		/* Distinct stacks can print alike (same name, different kind or binary): merge. */
		while (i + 1 < n && !strcmp(lines[i].text, lines[i + 1].text))
			v += lines[++i].value;
		if (fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)v) < 0) {
			err = -EIO;
			goto cleanup;
		}
	}
	if (fflush(out) == EOF)
		err = -errno ?: -EIO;
cleanup:
	if (lines)
		for (size_t i = 0; i < n; i++)
			free(lines[i].text);
	free(lines);
	free(label);
	return err;
}
