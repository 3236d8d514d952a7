/* `pyrometer processes`: the Python processes the daemon tracks, each with its service, interpreter
 * and capability report (which data sources work for it); --pid shows one in detail. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

/* Full help on stdout (--help); on stderr, after a usage error, the synopsis line only. */
static void usage(FILE *f)
{
	fputs("usage: pyrometer processes [--pid PID] [--json] [client options]\n", f);
	if (f == stdout)
		fputs("  -p, --pid PID          one process in detail\n"
		      "      --json             print the daemon's JSON\n" CLIENT_USAGE, f);
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

static int pid_of(json_object *o)
{
	json_object *v;

	return json_object_object_get_ex(o, "pid", &v) ? json_object_get_int(v) : 0;
}

/* "offsets,cpu_python_stacks -usdt": the sources that work, then those that do not. */
static void sources_text(json_object *o, char *buf, size_t len)
{
	char ok[256] = "", missing[256] = "";
	json_object *src;

	*buf = 0;
	if (!json_object_object_get_ex(o, "sources", &src) || !json_object_is_type(src, json_type_object))
		return;
	json_object_object_foreach(src, key, val) {
		char *list = json_object_get_boolean(val) ? ok : missing;
		size_t n = strlen(list);

		snprintf(list + n, sizeof(ok) - n, "%s%s%s", n ? "," : "", list == missing ? "-" : "", key);
	}
	snprintf(buf, len, "%s%s%s", ok, *ok && *missing ? " " : "", missing);
}

static int cmp_pid(const void *a, const void *b)
{
	int x = pid_of(*(json_object *const *)a), y = pid_of(*(json_object *const *)b);

	return (x > y) - (x < y);
}

static int print_table(json_object *o)
{
	json_object *arr, **v;
	size_t n;
	char src[256];

	if (!json_object_object_get_ex(o, "processes", &arr) || !json_object_is_type(arr, json_type_array))
		return -1;
	n = json_object_array_length(arr);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_array_get_idx(arr, i);
	qsort(v, n, sizeof(*v), cmp_pid);
	printf("%-8s %-24s %-8s %-16s %s\n", "PID", "SERVICE", "PYTHON", "COMM", "SOURCES (-: not available)");
	for (size_t i = 0; i < n; i++) {
		sources_text(v[i], src, sizeof(src));
		printf("%-8d %-24s %-8s %-16s %s\n", pid_of(v[i]), str(v[i], "service"), str(v[i], "python"),
		       str(v[i], "comm"), src);
	}
	if (!n)
		puts("(no Python processes tracked)");
	free(v);
	return 0;
}

static void print_one(json_object *o)
{
	char src[256];

	sources_text(o, src, sizeof(src));
	printf("pid              %d\n", pid_of(o));
	printf("service          %s\n", str(o, "service"));
	printf("comm             %s\n", str(o, "comm"));
	printf("exe              %s\n", str(o, "exe"));
	printf("python           %s\n", str(o, "python"));
	printf("runtime          %s at %s%s\n", str(o, "runtime_elf"), str(o, "runtime_address"),
	       strcmp(str(o, "shared_libpython"), "true") ? "" : " (shared libpython)");
	printf("sources          %s\n", src);
}

int cmd_processes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },      CLIENT_LONG_OPTIONS, {},
	};
	struct client_opts co = {};
	struct client *cl;
	json_object *o;
	char path[64] = "/api/v1/processes", *body;
	bool json = false;
	int c, r, rc, pid = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		r = client_opt(&co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		switch (c) {
		case 'p':
			if ((pid = cmd_parse_pid(optarg)) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'j':
			json = true;
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
	if (pid)
		snprintf(path, sizeof(path), "/api/v1/processes/%d", pid);
	cl = client_open(&co);
	if (!cl)
		return 1;
	rc = client_get_json(cl, path, &o, &body);
	if (!rc) {
		if (json)
			printf("%s%s", body, *body && body[strlen(body) - 1] == '\n' ? "" : "\n");
		else if (pid)
			print_one(o);
		else if (print_table(o) < 0) {
			fprintf(stderr, "pyrometer: unexpected /api/v1/processes answer from %s\n", client_server(cl));
			rc = 1;
		}
		json_object_put(o);
		free(body);
	}
	client_free(cl);
	return rc;
}
