/* `pyrometer top`: the daemon's services as a table sorted by CPU (processes, CPU % of one core over
 * the daemon's window, hottest function), refreshed in place on a terminal or printed once. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"

#define TOP_NAME_MIN 7   /* "SERVICE" */
#define TOP_NAME_MAX 40
#define TOP_NAME_FAIR 20 /* what a long name keeps when the terminal is narrow */
#define TOP_FUNC_MIN 12  /* narrower than this, the function column is left out */
#define TOP_FIXED 16     /* "  PROCS" + "   CPU%" + "  " before the function */
#define TOP_VERDICT 18   /* "  VERDICT" column, as wide as "io-bound:network", when rows have one */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

/* ---- pure core ------------------------------------------------------------------------------ */

static int row_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->cpu_percent != y->cpu_percent)
		return x->cpu_percent < y->cpu_percent ? 1 : -1;
	return strcmp(x->name, y->name);
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int top_rows_from_json(json_object *services, struct top_row **rows)
{
	json_object *arr, *o, *v;
	struct top_row *r;
	size_t n;

	*rows = NULL;
	if (!json_object_object_get_ex(services, "services", &arr) || !json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		o = json_object_array_get_idx(arr, i);
		r[i].name = json_str(o, "name");
		if (!r[i].name) {
			free(r);
			return -EINVAL;
		}
		r[i].verdict = json_str(o, "verdict");
		r[i].top_function = json_str(o, "top_function");
		if (!r[i].top_function)
			r[i].top_function = "";
		if (json_object_object_get_ex(o, "processes", &v))
			r[i].processes = json_object_get_int(v);
		if (json_object_object_get_ex(o, "cpu_percent", &v))
			r[i].cpu_percent = json_object_get_double(v);
		if (!isfinite(r[i].cpu_percent) || r[i].cpu_percent < 0)
			r[i].cpu_percent = 0;
	}
	qsort(r, n, sizeof(*r), row_cmp);
	*rows = r;
	return (int)n;
}

/* Display columns of UTF-8 text (code points; good enough for names and paths). */
static size_t cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Byte length of the first `c` columns of s. */
static size_t bytes_for_cols(const char *s, size_t c)
{
	size_t i = 0;

	while (s[i] && c) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		c--;
	}
	return i;
}

/* Byte offset where the last `c` columns of s start. */
static size_t tail_for_cols(const char *s, size_t c)
{
	size_t total = cols(s);

	return total <= c ? 0 : bytes_for_cols(s, total - c);
}

/* Appends s to f in at most w columns, padded to w if pad; long text is cut with "...", and a
 * "qualname (path:line)" keeps its qualname and the end of its path. */
static void put_fit(FILE *f, const char *s, size_t w, bool pad)
{
	size_t n = cols(s), q;
	const char *paren = strstr(s, " (");

	if (n <= w) {
		fputs(s, f);
		if (pad)
			fprintf(f, "%*s", (int)(w - n), "");
		return;
	}
	if (w < 4) {
		fprintf(f, "%.*s", (int)bytes_for_cols(s, w), s);
		return;
	}
	q = paren ? cols(paren) : 0;
	/* "qualname (...tail)" when the qualname and 8 columns of location fit */
	if (paren && s[strlen(s) - 1] == ')' && n - q + 6 + 8 <= w) {
		const char *loc = paren + 2;
		size_t room = w - (n - q) - 5;

		fprintf(f, "%.*s (...%s", (int)(paren - s), s, loc + tail_for_cols(loc, room));
		return;
	}
	fprintf(f, "%.*s...", (int)bytes_for_cols(s, w - 3), s);
}

char *top_format(const struct top_row *rows, size_t n, unsigned width)
{
	size_t namew = TOP_NAME_MIN, funcw = SIZE_MAX, len = 0, fixed = TOP_FIXED;
	bool verdicts = false;
	char *buf = NULL;
	FILE *f;

	for (size_t i = 0; i < n; i++) {
		if (cols(rows[i].name) > namew)
			namew = cols(rows[i].name);
		verdicts |= rows[i].verdict && *rows[i].verdict;
	}
	fixed += verdicts ? TOP_VERDICT : 0;
	if (namew > TOP_NAME_MAX)
		namew = TOP_NAME_MAX;
	if (width) {
		size_t avail = width > fixed ? width - fixed : 0;

		/* long names give up columns, down to TOP_NAME_FAIR, for the function column */
		if (namew + TOP_NAME_FAIR > avail) {
			size_t fair = namew < TOP_NAME_FAIR ? namew : TOP_NAME_FAIR;

			namew = avail > fair + TOP_NAME_FAIR ? avail - TOP_NAME_FAIR : fair;
		}
		if (namew > avail)
			namew = avail;
		if (namew < TOP_NAME_MIN)
			namew = TOP_NAME_MIN;
		funcw = avail > namew ? avail - namew : 0;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	put_fit(f, "SERVICE", namew, true);
	fputs("  PROCS   CPU%", f);
	if (verdicts) /* padded only when a column follows */
		fprintf(f, "  %-*s", funcw >= TOP_FUNC_MIN ? TOP_VERDICT - 2 : 0, "VERDICT");
	if (funcw >= TOP_FUNC_MIN) {
		fputs("  ", f);
		put_fit(f, "TOP FUNCTION", funcw, false);
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		put_fit(f, rows[i].name, namew, true);
		fprintf(f, "  %5d %6.1f", rows[i].processes, rows[i].cpu_percent);
		if (verdicts) {
			const char *v = rows[i].verdict ? rows[i].verdict : "";
			bool more = funcw >= TOP_FUNC_MIN && *rows[i].top_function;

			if (*v || more)
				fprintf(f, "  %-*.*s", more ? TOP_VERDICT - 2 : 0, TOP_VERDICT - 2, v);
		}
		if (funcw >= TOP_FUNC_MIN && *rows[i].top_function) {
			fputs("  ", f);
			put_fit(f, rows[i].top_function, funcw, false);
		}
		fputc('\n', f);
	}
	if (!n)
		fputs("(no Python services tracked yet)\n", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- shell --------------------------------------------------------------------------------- */

struct top_args {
	struct client_opts co;
	double interval;
	bool once, json, interval_set;
};

/* Full help on stdout (--help); on stderr, after a usage error, the synopsis line only. */
static void usage(FILE *f)
{
	fputs("usage: pyrometer top [--once] [--interval S] [--json] [client options]\n", f);
	if (f == stdout)
		fputs("  -1, --once             print one table and exit (the default when stdout is not a terminal)\n"
		      "  -n, --interval S       refresh every S seconds, 0.1..3600 (default 2)\n"
		      "      --json             print the daemon's /api/v1/services JSON (one line per refresh)\n" CLIENT_USAGE, f);
}

static int parse_args(int argc, char **argv, struct top_args *a)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, '1' },  { "interval", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },  { "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS, {},
	};
	char *end;
	int c, r;

	a->interval = 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "1n:h", opts, NULL)) != -1) {
		r = client_opt(&a->co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		switch (c) {
		case '1':
			a->once = true;
			break;
		case 'n':
			errno = 0;
			a->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(a->interval >= 0.1 && a->interval <= 3600)) {
				fprintf(stderr, "pyrometer: --interval must be 0.1..3600 seconds, got '%s'\n", optarg);
				usage(stderr);
				return 2;
			}
			a->interval_set = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pyrometer: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The terminal's size, 0x0 if stdout is no terminal. */
static void term_size(unsigned *cols, unsigned *lines)
{
	struct winsize ws;

	*cols = *lines = 0;
	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws)) {
		*cols = ws.ws_col;
		*lines = ws.ws_row;
	}
}

/* Live refresh without flicker: home the cursor, clear each line's rest as it is rewritten, then
 * everything below the table. */
static void put_live(const char *text)
{
	for (const char *nl; (nl = strchr(text, '\n')); text = nl + 1)
		printf("%.*s\033[K\n", (int)(nl - text), text);
	fputs(text, stdout);
}

/* One refresh: fetch and print. Returns 0 or an exit code. */
static int show(struct client *c, const struct top_args *a, bool live)
{
	struct top_row *rows = NULL;
	json_object *o, *w;
	char *text, *head = NULL, stamp[16];
	time_t now = time(NULL);
	unsigned cols, lines;
	size_t shown;
	int n, rc;

	if ((rc = client_get_json(c, "/api/v1/services", &o, NULL)))
		return rc;
	if (a->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		goto done;
	}
	n = top_rows_from_json(o, &rows);
	if (n < 0) {
		fprintf(stderr, "pyrometer: unexpected /api/v1/services answer from %s\n", client_server(c));
		rc = 1;
		goto done;
	}
	term_size(&cols, &lines);
	shown = n;
	if (live && lines > 4 && shown > lines - 4) /* header, blank, column titles, cursor line */
		shown = lines - 4;
	text = top_format(rows, shown, cols);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
	if (!text || asprintf(&head, "pyrometerd %s  %s  %d service%s, CPU %% of one core over the last %.0f s\n\n",
			      client_server(c), stamp, n, n == 1 ? "" : "s",
			      json_object_object_get_ex(o, "window_seconds", &w) ? json_object_get_double(w) : 0.0) < 0) {
		fprintf(stderr, "pyrometer: out of memory\n");
		free(text);
		rc = 1;
		goto done;
	}
	if (live) {
		fputs("\033[H", stdout);
		put_live(head);
		put_live(text);
		fputs("\033[J", stdout);
	} else {
		fputs(head, stdout);
		fputs(text, stdout);
	}
	free(head);
	free(text);
done:
	fflush(stdout);
	free(rows);
	json_object_put(o);
	return rc;
}

static void sleep_interruptible(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (!stop_requested && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cmd_top(int argc, char **argv)
{
	struct top_args a = {};
	struct client *c;
	bool tty = isatty(STDOUT_FILENO), live;
	int rc = parse_args(argc, argv, &a);

	if (rc >= 0)
		return rc;
	live = tty && !a.json;
	if (!a.once && !tty && !a.interval_set)
		a.once = true;
	c = client_open(&a.co);
	if (!c)
		return 1;
	if (a.once) {
		rc = show(c, &a, false);
		client_free(c);
		return rc;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_requested) {
		if ((rc = show(c, &a, live)))
			break;
		sleep_interruptible(a.interval);
	}
	client_free(c);
	return rc;
}
