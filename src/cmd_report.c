/* `pyrometer report`: what the daemon concluded. One line per service with its verdict, the shares
 * of busy time behind it and the code that dominates, then every finding (from all sources) with
 * where it is and the usual fix. Reads /api/v1/services and /api/v1/findings. */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

static void usage(FILE *f)
{
	fputs("usage: pyrometer report [--service NAME] [--json] [client options]\n", f);
	if (f == stdout)
		fputs("      --service NAME     only this service's verdict and findings\n"
		      "      --json             print {\"services\": [...], \"findings\": [...]} as JSON\n" CLIENT_USAGE,
		      f);
}

/* ---- pure core ------------------------------------------------------------------------------ */

static const char *str_of(json_object *o, const char *key, const char *dflt)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

static double num_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_double(v);
}

static json_object *obj_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

static json_object *arr_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static bool wanted(json_object *o, const char *key, const char *service)
{
	return !service || !strcmp(str_of(o, key, ""), service);
}

static void service_line(FILE *f, json_object *svc, int namew)
{
	static const char *const cats[] = { "cpu", "runq", "disk", "net", "lock" };
	json_object *d = obj_of(svc, "verdict_detail"), *sh = obj_of(d, "busy_shares"), *top = obj_of(d, "top");

	fprintf(f, "%-*s  %-16s %5.2f", namew, str_of(svc, "name", "?"), str_of(svc, "verdict", "-"),
		num_of(d, "busy_threads"));
	for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
		fprintf(f, " %4.0f%%", 100 * num_of(sh, cats[i]));
	if (top && *str_of(top, "code", ""))
		fprintf(f, "  %s%s%s", str_of(top, "code", ""), *str_of(top, "syscall", "") ? " in " : "",
			str_of(top, "syscall", ""));
	fputc('\n', f);
}

static void finding_block(FILE *f, json_object *fo)
{
	json_object *ev = obj_of(fo, "evidence");
	const char *src = str_of(ev, "source", "");

	fprintf(f, "[%s] %s: %s\n", str_of(fo, "kind", "?"), str_of(fo, "service", "?"), str_of(fo, "title", ""));
	if (*str_of(fo, "code", ""))
		fprintf(f, "    at %s\n", str_of(fo, "code", ""));
	if (ev && json_object_object_get_ex(ev, "stalls", NULL))
		fprintf(f, "    %.0f stalls, longest %.0f ms, %.0f ms in all\n", num_of(ev, "stalls"),
			num_of(ev, "max_ms"), num_of(ev, "total_ms"));
	if (*src)
		fprintf(f, "    source: %s\n", src);
	if (*str_of(fo, "fix", ""))
		fprintf(f, "    fix: %s\n", str_of(fo, "fix", ""));
}

char *report_format(json_object *services, json_object *findings, const char *service)
{
	json_object *svcs = arr_of(services, "services"), *fs = arr_of(findings, "findings");
	size_t nsvc = svcs ? json_object_array_length(svcs) : 0, nf = fs ? json_object_array_length(fs) : 0;
	size_t len = 0, shown = 0;
	int namew = 7;
	char *buf = NULL;
	FILE *f;

	for (size_t i = 0; i < nsvc; i++) {
		json_object *s = json_object_array_get_idx(svcs, i);
		int w = (int)strlen(str_of(s, "name", ""));

		if (wanted(s, "name", service) && w > namew)
			namew = w > 40 ? 40 : w;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "%-*s  %-16s %5s %5s %5s %5s %5s %5s  %s\n", namew, "SERVICE", "VERDICT", "BUSY", "CPU", "RUNQ",
		"DISK", "NET", "LOCK", "WHERE");
	for (size_t i = 0; i < nsvc; i++) {
		json_object *s = json_object_array_get_idx(svcs, i);

		if (wanted(s, "name", service) && json_object_object_get_ex(s, "verdict", NULL)) {
			service_line(f, s, namew);
			shown++;
		}
	}
	if (!shown)
		fputs(service ? "(no verdict for this service yet)\n" : "(no verdicts yet)\n", f);
	shown = 0;
	for (size_t i = 0; i < nf; i++)
		shown += wanted(json_object_array_get_idx(fs, i), "service", service);
	fprintf(f, "\nFINDINGS (%zu)\n", shown);
	for (size_t i = 0; i < nf; i++) {
		json_object *fo = json_object_array_get_idx(fs, i);

		if (wanted(fo, "service", service))
			finding_block(f, fo);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the verb ------------------------------------------------------------------------------- */

/* {"services": [rows with a verdict], "findings": [...]}, filtered. */
static json_object *report_json(json_object *services, json_object *findings, const char *service)
{
	json_object *out = json_object_new_object(), *sa = json_object_new_array(), *fa = json_object_new_array();
	json_object *svcs = arr_of(services, "services"), *fs = arr_of(findings, "findings");

	for (size_t i = 0; svcs && i < json_object_array_length(svcs); i++) {
		json_object *s = json_object_array_get_idx(svcs, i);

		if (wanted(s, "name", service))
			json_object_array_add(sa, json_object_get(s));
	}
	for (size_t i = 0; fs && i < json_object_array_length(fs); i++) {
		json_object *fo = json_object_array_get_idx(fs, i);

		if (wanted(fo, "service", service))
			json_object_array_add(fa, json_object_get(fo));
	}
	json_object_object_add(out, "services", sa);
	json_object_object_add(out, "findings", fa);
	return out;
}

static int fetch_and_print(struct client *cl, const char *service, bool json)
{
	json_object *services = NULL, *findings = NULL;
	char *text;
	int rc;

	rc = client_get_json(cl, "/api/v1/services", &services, NULL);
	if (rc)
		return rc;
	rc = client_get_json(cl, "/api/v1/findings", &findings, NULL);
	if (rc) {
		json_object_put(services);
		return rc;
	}
	if (json) {
		json_object *o = report_json(services, findings, service);

		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else if ((text = report_format(services, findings, service))) {
		fputs(text, stdout);
		free(text);
	} else {
		fprintf(stderr, "pyrometer: Failed to format the report: %s\n", strerror(ENOMEM));
		rc = 1;
	}
	json_object_put(services);
	json_object_put(findings);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS,
		{},
	};
	struct client_opts co = {};
	const char *service = NULL;
	struct client *cl;
	bool json = false;
	int c, r, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hs:", opts, NULL)) != -1) {
		r = client_opt(&co, c, optarg);
		if (r < 0) {
			usage(stderr);
			return 2;
		}
		if (r > 0)
			continue;
		if (c == 's') {
			service = optarg;
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
	rc = fetch_and_print(cl, service, json);
	client_free(cl);
	return rc;
}
