/* `pyrometer profile`: asks the daemon for a service's or a process's profile (the next N seconds,
 * or the last N with --window; a service's off-CPU profile with --kind offcpu, always from the
 * window) in folded, speedscope, pprof or SVG form and writes it out. When
 * no daemon answers and a pid was given, it records standalone through `pyrometer record`. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"

#define PROFILE_MARGIN_S 30 /* added to --seconds for the request timeout */

static const char *const formats[] = { "folded", "speedscope", "pprof", "svg" };

struct profile_args {
	struct client_opts co;
	const char *service, *output, *format;
	long seconds;
	int pid;
	bool window, json, offcpu;
};

struct progress {
	char target[96];
	long seconds;
	bool window;
	long shown; /* last whole second printed, -1 none */
};

/* Full help on stdout (--help); on stderr, after a usage error, the synopsis line only. */
static void usage(FILE *f)
{
	fputs("usage: pyrometer profile (--service NAME | --pid PID) [--seconds N] [-o FILE] [options]\n", f);
	if (f == stdout)
		fputs("  -s, --service NAME     profile a service (as `pyrometer top` names it)\n"
		      "  -p, --pid PID          profile one process (recorded standalone if no daemon answers)\n"
		      "  -d, --seconds N        length of the profile, 1..3600 (default 10)\n"
		      "  -w, --window           the last N seconds of the daemon's history instead of the next N\n"
		      "  -k, --kind K           cpu (default) or offcpu: where the service waited, weighted in ns\n"
		      "                         (by reason, Python stack and syscall; from the history, per service)\n"
		      "  -f, --format F         folded (default), speedscope, pprof or svg\n"
		      "  -o, --output FILE      write there instead of stdout\n"
		      "      --json             print a JSON summary of what was written (needs -o)\n" CLIENT_USAGE, f);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("pyrometer: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

static bool valid_format(const char *s)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(s, formats[i]))
			return true;
	return false;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct profile_args *a)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' }, { "pid", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 'd' }, { "window", no_argument, NULL, 'w' },
		{ "format", required_argument, NULL, 'f' },  { "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },          { "help", no_argument, NULL, 'h' },
		{ "kind", required_argument, NULL, 'k' },
		CLIENT_LONG_OPTIONS, {},
	};
	int c, r;

	a->seconds = 10;
	a->format = "folded";
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:p:d:wk:f:o:h", opts, NULL)) != -1) {
		r = client_opt(&a->co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		switch (c) {
		case 's':
			if (!*optarg)
				return usage_error("--service needs a name");
			a->service = optarg;
			break;
		case 'p':
			if ((a->pid = cmd_parse_pid(optarg)) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'd':
			if (cmd_parse_long(optarg, 1, 3600, &a->seconds))
				return usage_error("--seconds must be 1..3600, got '%s'", optarg);
			break;
		case 'w':
			a->window = true;
			break;
		case 'k':
			if (strcmp(optarg, "cpu") && strcmp(optarg, "offcpu"))
				return usage_error("unknown --kind '%s' (cpu, offcpu)", optarg);
			a->offcpu = !strcmp(optarg, "offcpu");
			break;
		case 'f':
			if (!valid_format(optarg))
				return usage_error("unknown --format '%s' (folded, speedscope, pprof, svg)", optarg);
			a->format = optarg;
			break;
		case 'o':
			if (!*optarg)
				return usage_error("-o needs a file name");
			a->output = optarg;
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
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->service == !a->pid)
		return usage_error("profile needs exactly one of --service NAME or --pid PID");
	if (a->offcpu && !a->service)
		return usage_error("--kind offcpu profiles are per service: give --service NAME");
	if (a->offcpu)
		a->window = true; /* off-CPU profiles come from the daemon's history */
	if (a->json && (!a->output || !strcmp(a->output, "-")))
		return usage_error("--json needs -o FILE (the profile itself goes to stdout otherwise)");
	return -1;
}

static void on_progress(double elapsed, void *ctx)
{
	struct progress *p = ctx;
	long s = (long)elapsed;

	if (elapsed < 1 || s == p->shown)
		return;
	p->shown = s;
	if (p->window)
		fprintf(stderr, "\r\033[Kfetching the profile of %s: %ld s", p->target, s);
	else if (s <= p->seconds)
		fprintf(stderr, "\r\033[Kprofiling %s: %ld/%ld s", p->target, s, p->seconds);
	else
		fprintf(stderr, "\r\033[Kprofiling %s: %ld/%ld s, waiting for the daemon", p->target, p->seconds,
			p->seconds);
	fflush(stderr);
}

static int write_body(const char *path, const char *body, size_t len)
{
	FILE *f = path && strcmp(path, "-") ? fopen(path, "we") : stdout;
	int err = 0;

	if (!f)
		return -errno;
	if (fwrite(body, 1, len, f) != len || fflush(f))
		err = -errno;
	if (f != stdout && fclose(f) && !err)
		err = -errno;
	return err;
}

static void print_summary(const struct profile_args *a, const char *source)
{
	struct stat st;
	json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "source", json_object_new_string(source));
	if (a->service)
		json_object_object_add(o, "service", json_object_new_string(a->service));
	else
		json_object_object_add(o, "pid", json_object_new_int(a->pid));
	json_object_object_add(o, "mode", json_object_new_string(a->window ? "window" : "capture"));
	json_object_object_add(o, "kind", json_object_new_string(a->offcpu ? "offcpu" : "cpu"));
	json_object_object_add(o, "seconds", json_object_new_int64(a->seconds));
	json_object_object_add(o, "format", json_object_new_string(a->format));
	json_object_object_add(o, "output", json_object_new_string(a->output));
	json_object_object_add(o, "bytes", json_object_new_int64(stat(a->output, &st) ? -1 : (int64_t)st.st_size));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* No daemon: `pyrometer record --pid P --duration N --format F [-o FILE]`. */
static int record_standalone(const struct profile_args *a, const char *server, const char *reason)
{
	char pid[16], secs[16];
	char *argv[10] = { "record", "--pid", pid, "--duration", secs, "--format", (char *)a->format };
	int argc = 7, rc;

	snprintf(pid, sizeof(pid), "%d", a->pid);
	snprintf(secs, sizeof(secs), "%ld", a->seconds);
	if (a->output) {
		argv[argc++] = "--output";
		argv[argc++] = (char *)a->output;
	}
	fprintf(stderr, "pyrometer: pyrometerd not reachable at %s (%s); recording pid %d standalone\n", server,
		reason, a->pid);
	rc = cmd_record(argc, argv);
	if (!rc && a->json)
		print_summary(a, "standalone");
	return rc;
}

static char *request_path(struct client *c, const struct profile_args *a)
{
	char *esc = NULL, *path = NULL;
	int n;

	if (a->service && !(esc = client_escape(c, a->service)))
		return NULL;
	if (esc)
		n = asprintf(&path, "/api/v1/profile?service=%s&seconds=%ld&mode=%s&format=%s&kind=%s", esc,
			     a->seconds, a->window ? "window" : "capture", a->format, a->offcpu ? "offcpu" : "cpu");
	else
		n = asprintf(&path, "/api/v1/profile?pid=%d&seconds=%ld&mode=%s&format=%s", a->pid, a->seconds,
			     a->window ? "window" : "capture", a->format);
	free(esc);
	return n < 0 ? NULL : path;
}

int cmd_profile(int argc, char **argv)
{
	struct profile_args a = {};
	struct progress pr = { .shown = -1 };
	struct client_resp r = {};
	enum client_fail fail;
	char reason[512], *path = NULL;
	struct client *c = NULL;
	int rc = parse_args(argc, argv, &a), err;

	if (rc >= 0)
		return rc;
	if (a.service)
		snprintf(pr.target, sizeof(pr.target), "%s", a.service);
	else
		snprintf(pr.target, sizeof(pr.target), "pid %d", a.pid);
	pr.seconds = a.seconds;
	pr.window = a.window;
	if (isatty(STDERR_FILENO)) {
		a.co.progress = on_progress;
		a.co.progress_ctx = &pr;
	}
	rc = 1;
	c = client_open(&a.co);
	if (!c)
		goto out;
	if (!a.co.timeout_set)
		client_set_timeout(c, (a.window ? 0 : a.seconds) + PROFILE_MARGIN_S);
	path = request_path(c, &a);
	if (!path) {
		fprintf(stderr, "pyrometer: out of memory\n");
		goto out;
	}
	err = client_get(c, path, &r, &fail, reason, sizeof(reason));
	if (pr.shown >= 0)
		fputs("\r\033[K", stderr);
	if (err < 0 && fail == CLIENT_UNREACHABLE && a.pid && !a.window) {
		rc = record_standalone(&a, client_server(c), reason);
		goto out;
	}
	if (err < 0 || r.status != 200) {
		client_report(c, fail, reason, err < 0 ? NULL : &r);
		goto out;
	}
	err = write_body(a.output, r.body, r.len);
	if (err) {
		fprintf(stderr, "pyrometer: failed to write %s: %s\n", a.output ? a.output : "the profile",
			strerror(-err));
		goto out;
	}
	if (a.json)
		print_summary(&a, "daemon");
	else if (a.output && strcmp(a.output, "-") && isatty(STDERR_FILENO))
		fprintf(stderr, "pyrometer: wrote %zu bytes (%s) to %s\n", r.len, a.format, a.output);
	rc = 0;
out:
	client_resp_free(&r);
	free(path);
	client_free(c);
	return rc;
}
