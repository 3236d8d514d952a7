/* Test helper: builds a synthetic profile from folded text on stdin and writes it in one of the
 * output formats, so the e2e tests can drive the real writers without BPF. Frame syntax:
 * "name (file:line)" or "name (file)" = Python, "[...]" = marker, suffix _[k] kernel, _[t] thread,
 * _[p] process, anything else native; fmt_folded's backslash escapes are undone first. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define MAX_DEPTH 4096

static void usage(void)
{
	fprintf(stderr, "usage: mkprofile [-f folded|speedscope|pprof|svg] [-u samples|ns|bytes]\n"
			"       [-p period_ns] [-t title] [-s start_ns] [-d duration_ns] [-m max_stacks]\n"
			"       [-o out] < folded\n");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undoes fmt_folded's escapes in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] == '\\') {
			*d++ = '\\', s += 2;
		} else if (s[0] == '\\' && s[1] == 'n') {
			*d++ = '\n', s += 2;
		} else if (s[0] == '\\' && s[1] == 'x' && hexval(s[2]) >= 0 && hexval(s[3]) >= 0) {
			*d++ = (char)(hexval(s[2]) << 4 | hexval(s[3])), s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static int strip_suffix(char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	if (n <= m || strcmp(s + n - m, suf))
		return 0;
	s[n - m] = '\0';
	return 1;
}

static int intern(struct profile *p, char *text)
{
	size_t n;
	char *open, *colon;

	unescape(text);
	n = strlen(text);
	if (strip_suffix(text, "_[k]"))
		return prof_frame_id(p, text, "", 0, PROF_FRAME_KERNEL);
	if (strip_suffix(text, "_[t]"))
		return prof_frame_id(p, text, "", 0, PROF_FRAME_THREAD);
	if (strip_suffix(text, "_[p]"))
		return prof_frame_id(p, text, "", 0, PROF_FRAME_PROCESS);
	if (n >= 2 && text[0] == '[' && text[n - 1] == ']')
		return prof_frame_id(p, text, "", 0, PROF_FRAME_MARKER);
	open = n ? strstr(text, " (") : NULL;
	while (open && strstr(open + 1, " ("))
		open = strstr(open + 1, " (");
	if (!open || text[n - 1] != ')')
		return prof_frame_id(p, text, "", 0, PROF_FRAME_NATIVE);
	*open = '\0';
	text[n - 1] = '\0';
	colon = strrchr(open + 2, ':');
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		*colon = '\0';
		return prof_frame_id(p, text, open + 2, atoi(colon + 1), PROF_FRAME_PYTHON);
	}
	return prof_frame_id(p, text, open + 2, 0, PROF_FRAME_PYTHON);
}

/* One folded line into the profile; -EINVAL for a malformed line. */
static int add_line(struct profile *p, char *line)
{
	static uint32_t ids[MAX_DEPTH];
	char *sp = strrchr(line, ' '), *end, *tok, *save = NULL;
	unsigned long long v;
	uint32_t n = 0;

	if (!sp)
		return -EINVAL;
	*sp = '\0';
	errno = 0;
	v = strtoull(sp + 1, &end, 10);
	if (errno || end == sp + 1 || *end)
		return -EINVAL;
	for (tok = strtok_r(line, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		int id = intern(p, tok);

		if (id < 0)
			return id;
		if (n == MAX_DEPTH)
			return -E2BIG;
		ids[n++] = (uint32_t)id;
	}
	return prof_add(p, ids, n, v);
}

static int write_format(const struct profile *p, const char *fmt, const char *title, FILE *out)
{
	if (!strcmp(fmt, "folded"))
		return fmt_folded(p, out);
	if (!strcmp(fmt, "speedscope"))
		return fmt_speedscope(p, title, out);
	if (!strcmp(fmt, "pprof"))
		return fmt_pprof(p, out);
	if (!strcmp(fmt, "svg"))
		return fmt_flamegraph_svg(p, title, out);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	const char *fmt = "folded", *title = NULL, *outpath = NULL;
	enum prof_unit unit = PROF_UNIT_SAMPLES;
	unsigned long long period = 0, start = 0, duration = 0, max = 0;
	struct profile *p = NULL;
	FILE *out = stdout;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int c, err, rc = 1;

	while ((c = getopt(argc, argv, "f:u:p:t:s:d:m:o:h")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'u':
			unit = !strcmp(optarg, "ns") ? PROF_UNIT_NANOSECONDS
			     : !strcmp(optarg, "bytes") ? PROF_UNIT_BYTES : PROF_UNIT_SAMPLES;
			break;
		case 'p': period = strtoull(optarg, NULL, 10); break;
		case 't': title = optarg; break;
		case 's': start = strtoull(optarg, NULL, 10); break;
		case 'd': duration = strtoull(optarg, NULL, 10); break;
		case 'm': max = strtoull(optarg, NULL, 10); break;
		case 'o': outpath = optarg; break;
		default: usage(); return 2;
		}
	}
	p = prof_new(unit, period);
	if (!p) {
		fprintf(stderr, "mkprofile: out of memory\n");
		return 1;
	}
	if (max)
		prof_set_max_stacks(p, max);
	prof_set_time(p, start, duration);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		err = add_line(p, line);
		if (err && err != -E2BIG) {
			fprintf(stderr, "mkprofile: line %zu: %s\n", lineno, strerror(-err));
			rc = 2;
			goto cleanup;
		}
	}
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mkprofile: cannot open %s: %s\n", outpath, strerror(errno));
		goto cleanup;
	}
	err = write_format(p, fmt, title, out);
	if (err) {
		fprintf(stderr, "Failed to write %s: %s\n", fmt, strerror(-err));
		goto cleanup;
	}
	fprintf(stderr, "stacks=%zu frames=%zu total=%llu dropped=%llu\n", prof_nstacks(p),
		prof_nframes(p), (unsigned long long)prof_total(p),
		(unsigned long long)prof_dropped(p));
	rc = 0;
cleanup:
	if (out && out != stdout)
		fclose(out);
	free(line);
	prof_free(p);
	return rc;
}
