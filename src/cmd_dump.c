/* `pyrometer dump --pid PID [--json]`: prints the current Python stack of every thread of a
 * running CPython process, innermost frame first, like py-spy dump. Reads memory only; the
 * target is never stopped. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "pysym.h"
#include "pytarget.h"
#include "pywalk.h"

#define DUMP_SYM_CACHE 4096

struct dump {
	const struct py_target *t;
	struct pysym *sym;
	bool json;
	struct json_object *threads; /* --json: array being filled */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pyrometer dump --pid PID [--json]\n"
		   "  Prints every thread's current Python stack, innermost frame first.\n"
		   "  --pid PID   the CPython process to inspect\n"
		   "  --json      one JSON document instead of text\n");
}

static void print_thread(struct dump *d, const struct py_thread_stack *st)
{
	struct pysym_frame f;

	printf("Thread %#llx (tid %u)\n", (unsigned long long)st->thread_id, st->native_tid);
	for (uint32_t i = 0; i < st->nframes; i++) {
		pysym_resolve(d->sym, d->t, st->frames[i].code, st->frames[i].lasti, &f);
		printf("    %s (%s:%d)\n", f.name, f.file, f.line);
	}
	if (st->flags & PM_STACK_TRUNCATED)
		printf("    ... (truncated at %d frames)\n", PM_MAX_DEPTH);
	if (st->flags & PM_STACK_READ_ERROR)
		printf("    ... (stack unreadable past this point)\n");
	printf("\n");
}

static int json_thread(struct dump *d, const struct py_thread_stack *st)
{
	struct json_object *th = json_object_new_object(), *frames = json_object_new_array(), *fr;
	struct pysym_frame f;

	if (!th || !frames) {
		json_object_put(th);
		json_object_put(frames);
		return -ENOMEM;
	}
	json_object_object_add(th, "thread_id", json_object_new_uint64(st->thread_id));
	json_object_object_add(th, "tid", json_object_new_int64(st->native_tid));
	json_object_object_add(th, "truncated",
			       json_object_new_boolean(!!(st->flags & PM_STACK_TRUNCATED)));
	json_object_object_add(th, "read_error",
			       json_object_new_boolean(!!(st->flags & PM_STACK_READ_ERROR)));
	for (uint32_t i = 0; i < st->nframes; i++) {
		pysym_resolve(d->sym, d->t, st->frames[i].code, st->frames[i].lasti, &f);
		fr = json_object_new_object();
		if (!fr)
			break;
		json_object_object_add(fr, "name", json_object_new_string(f.name));
		json_object_object_add(fr, "file", json_object_new_string(f.file));
		json_object_object_add(fr, "line", json_object_new_int(f.line));
		json_object_array_add(frames, fr);
	}
	json_object_object_add(th, "frames", frames);
	json_object_array_add(d->threads, th);
	return 0;
}

static int on_thread(const struct py_thread_stack *st, void *ctx)
{
	struct dump *d = ctx;

	if (d->json)
		return json_thread(d, st);
	print_thread(d, st);
	return 0;
}

/* One line on stderr for a failed discovery. */
static void report_discovery(int pid, int err, const struct py_target *t)
{
	char ver[32];

	switch (err) {
	case -ESRCH:
		fprintf(stderr, "pyrometer: no process with pid %d\n", pid);
		break;
	case -ENOEXEC:
		fprintf(stderr, "pyrometer: process %d is not a CPython process\n", pid);
		break;
	case -ENOTSUP:
		py_version_str(t, ver, sizeof(ver));
		fprintf(stderr, "pyrometer: process %d runs CPython %s, which this build does not support\n",
			pid, t->version ? ver : "of an unknown version");
		break;
	case -EAGAIN:
		fprintf(stderr, "pyrometer: CPython in process %d is not initialized yet, try again\n", pid);
		break;
	default:
		fprintf(stderr, "Failed to inspect process %d: %s\n", pid, strerror(-err));
	}
}

static int parse_args(int argc, char **argv, int *pid, bool *json)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*pid = 0;
	*json = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			*pid = cmd_parse_pid(optarg);
			if (*pid < 0)
				return 2;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !*pid) {
		if (optind < argc)
			fprintf(stderr, "pyrometer: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "pyrometer: dump needs --pid PID\n");
		usage(stderr);
		return 2;
	}
	return -1;
}

static int emit_json(const struct py_target *t, struct json_object *threads)
{
	struct json_object *root = json_object_new_object();
	char ver[32];

	if (!root)
		return -ENOMEM;
	py_version_str(t, ver, sizeof(ver));
	json_object_object_add(root, "pid", json_object_new_int(t->pid));
	json_object_object_add(root, "python_version", json_object_new_string(ver));
	json_object_object_add(root, "executable", json_object_new_string(t->exe));
	json_object_object_add(root, "runtime_elf", json_object_new_string(t->elf_path));
	json_object_object_add(root, "threads", json_object_get(threads));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	struct py_target t;
	struct dump d = { 0 };
	char ver[32];
	int pid, rc, err;
	bool json;

	rc = parse_args(argc, argv, &pid, &json);
	if (rc >= 0)
		return rc;
	err = py_discover(pid, &t);
	if (err) {
		report_discovery(pid, err, &t);
		return 1;
	}
	d.t = &t;
	d.json = json;
	d.sym = pysym_new(DUMP_SYM_CACHE);
	d.threads = json ? json_object_new_array() : NULL;
	if (!d.sym || (json && !d.threads)) {
		fprintf(stderr, "Failed to dump process %d: %s\n", pid, strerror(ENOMEM));
		rc = 1;
		goto cleanup;
	}
	if (!json) {
		py_version_str(&t, ver, sizeof(ver));
		printf("Process %d: %s (CPython %s)\n\n", pid, t.exe, ver);
	}
	err = py_walk_threads(&t, on_thread, &d);
	if (err < 0) {
		fprintf(stderr, "Failed to dump process %d: %s\n", pid,
			err == -ESRCH ? "the process exited" : strerror(-err));
		rc = 1;
		goto cleanup;
	}
	rc = json && emit_json(&t, d.threads) ? 1 : 0;
cleanup:
	json_object_put(d.threads);
	pysym_free(d.sym);
	return rc;
}
