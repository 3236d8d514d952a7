/* HTTP API routing and rendering over the engine (include/api.h). Every parameter is validated
 * before the engine sees it; nothing here reads files or memory on a client's behalf beyond the
 * tracked processes' stacks. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "engine.h"
#include "expo.h"
#include "offcpu.h"
#include "pgwire.h"
#include "profile.h"
#include "service.h"

#define PROFILE_MAX_SECONDS 3600

static void set_body(struct api_resp *rs, int status, const char *type, char *body, size_t len)
{
	rs->status = status;
	rs->content_type = type;
	rs->body = body;
	rs->len = len;
}

static void __attribute__((format(printf, 3, 4))) error(struct api_resp *rs, int status, const char *fmt, ...)
{
	char msg[256];
	json_object *o = json_object_new_object();
	const char *txt;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	set_body(rs, status, "application/json", strdup(txt), strlen(txt));
	json_object_put(o);
}

static void json_reply(struct api_resp *rs, json_object *o)
{
	const char *txt;

	if (!o) {
		error(rs, 500, "out of memory");
		return;
	}
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	set_body(rs, 200, "application/json", strdup(txt), strlen(txt));
	json_object_put(o);
}

int api_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s || strlen(s) > 10)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int api_check_service(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n >= SVC_NAME_MAX)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("@._:-/+", *p)))
			return -EINVAL;
	return 0;
}

static void route_metrics(struct engine *e, struct api_resp *rs)
{
	struct expo *x = expo_new();
	size_t len;
	char *body;

	if (!x || engine_metrics(e, x) < 0 || !(body = expo_steal(x, &len))) {
		expo_free(x);
		error(rs, 500, "failed to build metrics");
		return;
	}
	expo_free(x);
	set_body(rs, 200, EXPO_CONTENT_TYPE, body, len);
}

/* Target of a profile or stack request: exactly one of service= and pid=. */
static int parse_target(const struct api_req *rq, struct api_resp *rs, const char **service, pid_t *pid,
			bool pid_only)
{
	const char *svc = rq->param(rq->ctx, "service"), *p = rq->param(rq->ctx, "pid");
	unsigned long v;

	*service = NULL;
	*pid = 0;
	if ((svc && p) || (!svc && !p) || (pid_only && !p)) {
		error(rs, 400, pid_only ? "give pid=PID" : "give exactly one of service=NAME and pid=PID");
		return -EINVAL;
	}
	if (p) {
		if (api_parse_uint(p, 1, 4194304, &v)) {
			error(rs, 400, "pid must be a process id");
			return -EINVAL;
		}
		*pid = (pid_t)v;
	} else if (api_check_service(svc)) {
		error(rs, 400, "service must be 1-127 characters of [A-Za-z0-9@._:/+-]");
		return -EINVAL;
	} else {
		*service = svc;
	}
	return 0;
}

enum pfmt { PF_FOLDED, PF_SPEEDSCOPE, PF_PPROF, PF_SVG };

static int render(const struct profile *p, enum pfmt f, const char *title, char **buf, size_t *len)
{
	FILE *m = open_memstream(buf, len);
	int err;

	if (!m)
		return -errno;
	switch (f) {
	case PF_SPEEDSCOPE:
		err = fmt_speedscope(p, title, m);
		break;
	case PF_PPROF:
		err = fmt_pprof(p, m);
		break;
	case PF_SVG:
		err = fmt_flamegraph_svg(p, title, m);
		break;
	default:
		err = fmt_folded(p, m);
	}
	if (fclose(m) && !err)
		err = -EIO;
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

static void route_profile(struct engine *e, const struct api_req *rq, struct api_resp *rs)
{
	static const char *fnames[] = { "folded", "speedscope", "pprof", "svg" };
	static const char *ctypes[] = { "text/plain; charset=utf-8", "application/json", "application/octet-stream",
					"image/svg+xml" };
	const char *fs = rq->param(rq->ctx, "format"), *ms = rq->param(rq->ctx, "mode");
	const char *secs = rq->param(rq->ctx, "seconds"), *kind = rq->param(rq->ctx, "kind"), *service;
	unsigned long seconds = 10;
	enum pfmt f = PF_FOLDED;
	struct profile *p;
	char title[192], *body = NULL;
	size_t len = 0;
	bool window, offcpu;
	pid_t pid;

	if (parse_target(rq, rs, &service, &pid, false))
		return;
	if (secs && api_parse_uint(secs, 1, PROFILE_MAX_SECONDS, &seconds)) {
		error(rs, 400, "seconds must be 1..%d", PROFILE_MAX_SECONDS);
		return;
	}
	if (fs) {
		int i;

		for (i = 0; i < 4 && strcmp(fs, fnames[i]); i++)
			;
		if (i == 4) {
			error(rs, 400, "format must be folded, speedscope, pprof or svg");
			return;
		}
		f = (enum pfmt)i;
	}
	if (ms && strcmp(ms, "capture") && strcmp(ms, "window")) {
		error(rs, 400, "mode must be capture or window");
		return;
	}
	window = ms && !strcmp(ms, "window");
	if (kind && strcmp(kind, "cpu") && strcmp(kind, "offcpu")) {
		error(rs, 400, "kind must be cpu or offcpu");
		return;
	}
	offcpu = kind && !strcmp(kind, "offcpu");
	if (offcpu && pid) {
		error(rs, 400, "kind=offcpu profiles are per service: give service=NAME");
		return;
	}
	if (!engine_knows(e, service, pid)) {
		if (pid)
			error(rs, 404, "process %d is not a tracked Python process", pid);
		else
			error(rs, 404, "no service named %s", service);
		return;
	}
	/* off-CPU profiles always come from the rolling window */
	p = offcpu ? offcpu_profile(e, service, seconds)
	    : window ? engine_profile_window(e, service, pid, seconds)
		     : engine_profile_capture(e, service, pid, seconds);
	if (!p) {
		error(rs, errno == EBUSY ? 503 : errno == ENOENT ? 404 : 500, "profile unavailable: %s", strerror(errno));
		return;
	}
	if (pid)
		snprintf(title, sizeof(title), "pid %d, %lu s", pid, seconds);
	else
		snprintf(title, sizeof(title), "%s, %lu s", service, seconds);
	if (render(p, f, title, &body, &len)) {
		prof_free(p);
		error(rs, 500, "failed to render the profile");
		return;
	}
	prof_free(p);
	set_body(rs, 200, ctypes[f], body, len);
}

static void route_stacks(struct engine *e, const struct api_req *rq, struct api_resp *rs)
{
	const char *service;
	json_object *o;
	pid_t pid;

	if (parse_target(rq, rs, &service, &pid, true))
		return;
	o = engine_stacks_json(e, pid);
	if (!o && errno == ESRCH) {
		error(rs, 404, "process %d exited", pid); /* killed while its stacks were read */
		return;
	}
	if (!o) {
		error(rs, errno == ENOENT ? 404 : 500, errno == ENOENT ? "process %d is not a tracked Python process"
								       : "failed to read process %d", pid);
		return;
	}
	json_reply(rs, o);
}

/* /api/v1/queries?service=S&limit=N: query templates with their call sites (the pgwire source). */
static void route_queries(struct engine *e, const struct api_req *rq, struct api_resp *rs)
{
	const char *service = rq->param(rq->ctx, "service"), *limit_s = rq->param(rq->ctx, "limit");
	unsigned long limit = 50;
	json_object *o;

	if (service && api_check_service(service)) {
		error(rs, 400, "invalid service name");
		return;
	}
	if (limit_s && api_parse_uint(limit_s, 1, 10000, &limit)) {
		error(rs, 400, "limit must be an integer in 1..10000");
		return;
	}
	o = pgwire_queries_json(e, service, (unsigned)limit);
	if (!o && errno == ENODEV) {
		error(rs, 503, "database capture is not running (see /api/v1/health)");
		return;
	}
	json_reply(rs, o);
}

static void route_process(struct engine *e, const char *pidtxt, struct api_resp *rs)
{
	unsigned long v;
	json_object *o;

	if (api_parse_uint(pidtxt, 1, 4194304, &v)) {
		error(rs, 400, "not a process id");
		return;
	}
	o = engine_process_json(e, (pid_t)v);
	if (!o) {
		error(rs, 404, "process %lu is not a tracked Python process", v);
		return;
	}
	json_reply(rs, o);
}

void api_handle(struct engine *e, const struct api_req *rq, struct api_resp *rs)
{
	const char *path = rq->path;

	memset(rs, 0, sizeof(*rs));
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
		error(rs, 405, "only GET is supported");
		return;
	}
	if (!strcmp(path, "/metrics"))
		route_metrics(e, rs);
	else if (!strcmp(path, "/api/v1/health") || !strcmp(path, "/healthz"))
		json_reply(rs, engine_health_json(e));
	else if (!strcmp(path, "/api/v1/services"))
		json_reply(rs, engine_services_json(e));
	else if (!strcmp(path, "/api/v1/processes"))
		json_reply(rs, engine_processes_json(e));
	else if (!strncmp(path, "/api/v1/processes/", 18))
		route_process(e, path + 18, rs);
	else if (!strcmp(path, "/api/v1/queries"))
		route_queries(e, rq, rs);
	else if (!strcmp(path, "/api/v1/findings"))
		json_reply(rs, engine_findings_json(e));
	else if (!strcmp(path, "/api/v1/stacks"))
		route_stacks(e, rq, rs);
	else if (!strcmp(path, "/api/v1/profile"))
		route_profile(e, rq, rs);
	else if (!strcmp(path, "/"))
		json_reply(rs, json_tokener_parse("{\"endpoints\":[\"/metrics\",\"/api/v1/health\",\"/api/v1/services\","
						  "\"/api/v1/processes\",\"/api/v1/processes/PID\",\"/api/v1/stacks?pid=\","
						  "\"/api/v1/profile?service=|pid=&seconds=&mode=&format=&kind=cpu|offcpu\"]}"));
	else
		error(rs, 404, "no such endpoint");
}
