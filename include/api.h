/* The daemon's HTTP API as a pure request -> response function over the engine: routing,
 * parameter validation and rendering (JSON, Prometheus text, profile formats). The HTTP server
 * shell (src/http.c) only moves bytes. Routes are listed in README.md. */
#ifndef API_H
#define API_H

#include <stddef.h>

struct engine;

struct api_req {
	const char *method;
	const char *path;
	/* Returns the value of query parameter `name`, or NULL. */
	const char *(*param)(void *ctx, const char *name);
	void *ctx;
};

struct api_resp {
	int status;
	const char *content_type;
	char *body; /* malloc'd; the caller frees */
	size_t len;
};

/* Fills rs for rq. Never fails: errors become 4xx/5xx with a JSON {"error": ...} body. */
void api_handle(struct engine *e, const struct api_req *rq, struct api_resp *rs);

/* Parameter checks, exposed for tests: 0 or -EINVAL. */
int api_check_service(const char *s);
int api_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
