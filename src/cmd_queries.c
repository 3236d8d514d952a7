/* `pyrometer queries`: the database query templates the daemon saw on the wire, costliest first,
 * each with its calls, latency and the Python call sites that sent it, then the N+1 and
 * repeated-query findings with their fixes; --json prints /api/v1/queries as is. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

static void usage(FILE *f)
{
	fputs("usage: pyrometer queries [--service NAME] [--limit N] [--json] [client options]\n", f);
	if (f == stdout)
		fputs("  -s, --service NAME     one service (default: all)\n"
		      "  -n, --limit N          at most N templates, costliest first (default 20)\n"
		      "      --json             print the daemon's /api/v1/queries JSON\n" CLIENT_USAGE, f);
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

static double num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static void print_queries(json_object *arr)
{
	size_t n = json_object_array_length(arr);

	if (!n) {
		printf("no database queries seen yet\n");
		return;
	}
	printf("%-20s %-8s %9s %10s %9s %9s %6s  %s\n", "SERVICE", "OP", "CALLS", "TOTAL s", "MEAN ms", "P99 ms",
	       "ERRORS", "TEMPLATE");
	for (size_t i = 0; i < n; i++) {
		json_object *q = json_object_array_get_idx(arr, i), *sites;

		printf("%-20.20s %-8s %9.0f %10.3f %9.3f %9.3f %6.0f  %s\n", str(q, "service"), str(q, "operation"),
		       num(q, "calls"), num(q, "total_seconds"), 1e3 * num(q, "mean_seconds"),
		       1e3 * num(q, "p99_seconds"), num(q, "errors"), str(q, "template"));
		if (!json_object_object_get_ex(q, "callsites", &sites))
			continue;
		for (size_t k = 0; k < json_object_array_length(sites); k++) {
			json_object *s = json_object_array_get_idx(sites, k);

			printf("%79s  <- %s (%s:%.0f) %.0f calls%s%s\n", "", str(s, "function"), str(s, "file"),
			       num(s, "line"), num(s, "calls"), strcmp(str(s, "orm"), "raw") ? ", " : "",
			       strcmp(str(s, "orm"), "raw") ? str(s, "orm") : "");
		}
	}
}

static void print_findings(json_object *findings, const char *service)
{
	json_object *arr;
	int shown = 0;

	if (!json_object_object_get_ex(findings, "findings", &arr))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *f = json_object_array_get_idx(arr, i);

		if (strncmp(str(f, "kind"), "db_", 3) || (service && strcmp(service, str(f, "service"))))
			continue;
		if (!shown++)
			printf("\nfindings:\n");
		printf("  [%s] %s: %s\n    at %s\n    fix: %s\n", str(f, "kind") + 3, str(f, "service"), str(f, "title"),
		       str(f, "code"), str(f, "fix"));
	}
}

int cmd_queries(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' }, { "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },          { "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS,                         {},
	};
	struct client_opts co = {};
	const char *service = NULL;
	json_object *o = NULL, *findings = NULL, *arr;
	struct client *cl;
	char path[512], *body = NULL, *esc = NULL;
	bool json = false;
	long limit = 20;
	int c, r, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:n:h", opts, NULL)) != -1) {
		r = client_opt(&co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		if (c == 's') {
			service = optarg;
		} else if (c == 'n') {
			if (cmd_parse_long(optarg, 1, 10000, &limit)) {
				fprintf(stderr, "pyrometer: --limit must be 1..10000, got '%s'\n", optarg);
				return 2;
			}
		} else if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pyrometer: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	cl = client_open(&co);
	if (!cl)
		return 1;
	if (service && !(esc = client_escape(cl, service))) {
		client_free(cl);
		return 1;
	}
	snprintf(path, sizeof(path), "/api/v1/queries?limit=%ld%s%s", limit, esc ? "&service=" : "", esc ? esc : "");
	rc = client_get_json(cl, path, &o, &body);
	if (!rc && json) {
		printf("%s%s", body, *body && body[strlen(body) - 1] == '\n' ? "" : "\n");
	} else if (!rc) {
		if (json_object_object_get_ex(o, "queries", &arr))
			print_queries(arr);
		if (!client_get_json(cl, "/api/v1/findings", &findings, NULL))
			print_findings(findings, service);
	}
	json_object_put(o);
	json_object_put(findings);
	free(body);
	free(esc);
	client_free(cl);
	return rc;
}
