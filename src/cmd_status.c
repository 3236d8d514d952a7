/* `pyrometer status`: asks the daemon's /api/v1/health and prints whether it is up, its version,
 * uptime and what it is tracking; --json prints the daemon's answer as is. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

/* Full help on stdout (--help); on stderr, after a usage error, the synopsis line only. */
static void usage(FILE *f)
{
	fputs("usage: pyrometer status [--json] [client options]\n", f);
	if (f == stdout)
		fputs("      --json             print the daemon's /api/v1/health JSON\n" CLIENT_USAGE, f);
}

static void fmt_uptime(double s, char *buf, size_t len)
{
	uint64_t t = s > 0 ? (uint64_t)s : 0;

	if (t >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m", t / 86400, t / 3600 % 24, t / 60 % 60);
	else if (t >= 3600)
		snprintf(buf, len, "%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", t / 3600, t / 60 % 60, t % 60);
	else if (t >= 60)
		snprintf(buf, len, "%" PRIu64 "m %02" PRIu64 "s", t / 60, t % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", t);
}

static void print_count(json_object *o, const char *key, const char *label)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		printf("  %-12s %" PRId64 "\n", label, json_object_get_int64(v));
}

static void print_human(json_object *o, const char *server)
{
	json_object *v;
	const char *status = "?", *version = "?";
	char up[64] = "?";

	if (json_object_object_get_ex(o, "status", &v))
		status = json_object_get_string(v);
	if (json_object_object_get_ex(o, "version", &v))
		version = json_object_get_string(v);
	if (json_object_object_get_ex(o, "uptime_seconds", &v))
		fmt_uptime(json_object_get_double(v), up, sizeof(up));
	printf("pyrometerd %s at %s: %s, up %s\n", version, server, status, up);
	print_count(o, "processes", "processes");
	print_count(o, "services", "services");
	print_count(o, "samples", "samples");
	print_count(o, "lost_stacks", "lost stacks");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, CLIENT_LONG_OPTIONS, {},
	};
	struct client_opts co = {};
	struct client *cl;
	json_object *o;
	bool json = false;
	char *body;
	int c, r, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		r = client_opt(&co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		if (c == 'j') {
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
	rc = client_get_json(cl, "/api/v1/health", &o, &body);
	if (!rc) {
		if (json)
			printf("%s%s", body, *body && body[strlen(body) - 1] == '\n' ? "" : "\n");
		else
			print_human(o, client_server(cl));
		json_object_put(o);
		free(body);
	}
	client_free(cl);
	return rc;
}
