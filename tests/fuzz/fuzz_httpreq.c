/* Fuzz target: whole HTTP requests through the daemon's own stack: the libmicrohttpd shell
 * (src/http.c: limits, routing, basic auth, query parameters) in front of the API
 * (src/api.c: validation, JSON, Prometheus text and every profile format), as pyrometerd wires
 * them, over a loopback socket. The engine is replaced by stubs with fixed data (plus the
 * requested service as a frame name), so no BPF or root is needed. Input: one byte choosing
 * the plain server or the one with basic auth, then the raw request bytes. An answer must
 * start with an HTTP/1.x status line below 500, and the server must keep accepting. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "engine.h"
#include "fuzz.h"
#include "http.h"

/* user "prom", password "secret" (sha512crypt at the minimum 1000 rounds: cheap per request) */
#define AUTH_HASH "$6$rounds=1000$fuzzsalt$VaozQpX6.rHlYgQ8XkQuQwnkNdGdaeCOvmZC4qxWknLh/eg/UKI7XrlNFcouj7rjYRe.I0VJYPdKlgC8OexQQ0"

static struct http_server *servers[2];
static uint16_t ports[2];

/* ---- a stub engine: the functions api.c calls, weak so a real engine.o would win (and be
 * caught by the check in LLVMFuzzerInitialize) instead of breaking the link ----------------- */
#define STUB __attribute__((weak))
#define STUB_PID 4242

static json_object *parse(const char *s)
{
	return json_tokener_parse(s);
}

STUB json_object *engine_services_json(struct engine *e)
{
	return parse("{\"window_seconds\":60,\"services\":[{\"name\":\"svc\",\"processes\":1,"
		     "\"cpu_seconds_total\":1.5,\"cpu_percent\":2.5,\"top_function\":\"f (a.py:1)\"}]}");
}

STUB json_object *engine_processes_json(struct engine *e)
{
	return parse("{\"processes\":[{\"pid\":4242,\"service\":\"svc\"}]}");
}

STUB json_object *engine_process_json(struct engine *e, pid_t pid)
{
	return pid == STUB_PID ? parse("{\"pid\":4242,\"service\":\"svc\"}") : NULL;
}

STUB json_object *engine_stacks_json(struct engine *e, pid_t pid)
{
	if (pid != STUB_PID) {
		errno = ENOENT;
		return NULL;
	}
	return parse("{\"pid\":4242,\"threads\":[{\"frames\":[{\"name\":\"<\\\"&'>\",\"line\":1}]}]}");
}

STUB json_object *engine_health_json(struct engine *e)
{
	return parse("{\"status\":\"ok\"}");
}

STUB json_object *engine_findings_json(struct engine *e)
{
	return parse("{\"findings\":[]}");
}

STUB bool engine_knows(struct engine *e, const char *service, pid_t pid)
{
	return pid ? pid == STUB_PID : service && *service != 'x';
}

static struct profile *stub_profile(const char *service, pid_t pid, unsigned seconds)
{
	struct profile *p = prof_new(PROF_UNIT_SAMPLES, 10101010);
	uint32_t ids[3];

	if (!p)
		return NULL;
	ids[0] = (uint32_t)prof_frame_id(p, service && *service ? service : "<module>", "/srv/a&b<c>.py", 1, 0);
	ids[1] = (uint32_t)prof_frame_id(p, "Q\"uote'd </svg>", "/srv/\xe6\x97\xa5.py", 22, 0);
	ids[2] = (uint32_t)prof_frame_id(p, "leaf;semi colon", "", 0, 0);
	prof_add(p, ids, 3, seconds);
	prof_add(p, ids, 2, pid ? (uint64_t)pid : 7);
	prof_set_time(p, 1700000000ULL * 1000000000ULL, (uint64_t)seconds * 1000000000ULL);
	return p;
}

STUB struct profile *engine_profile_window(struct engine *e, const char *service, pid_t pid, unsigned seconds)
{
	return stub_profile(service, pid, seconds);
}

STUB struct profile *engine_profile_capture(struct engine *e, const char *service, pid_t pid, unsigned seconds)
{
	return stub_profile(service, pid, seconds); /* no waiting in a fuzzer */
}

STUB int engine_metrics(struct engine *e, struct expo *x)
{
	struct expo_label l = { "service", "svc\"\\\n" };
	int err = expo_family(x, "pyrometer_cpu_seconds_total", EXPO_COUNTER, "Fuzz stub.");

	return err < 0 ? err : expo_value(x, &l, 1, 1.5);
}

/* Other modules' queries the API calls (declared here, not from their headers, so this file
 * builds whatever their state): stubs as well, or their objects would pull in the engine. */
STUB struct profile *offcpu_profile(struct engine *e, const char *service, unsigned seconds)
{
	return stub_profile(service, 0, seconds);
}

STUB json_object *pgwire_queries_json(struct engine *e, const char *service, unsigned limit)
{
	return parse("{\"queries\":[{\"template\":\"SELECT * FROM t WHERE id = $1\",\"calls\":3}]}");
}

/* Defined only by the real engine: if it got linked, a stub above is missing (a new call in
 * src/api.c to a module that needs the engine: add a weak stub for it here). */
extern int engine_start(const struct engine_opts *o, struct engine **out) __attribute__((weak));

/* ---- the daemon's wiring (as in src/pyrometerd.c) ------------------------------------------ */

static const char *param_of(void *ctx, const char *name)
{
	return http_param(ctx, name);
}

static int handle(const struct http_request *rq, struct http_response *rs, void *ctx)
{
	struct api_req ar = { .method = rq->method, .path = rq->path, .param = param_of, .ctx = (void *)rq };
	struct api_resp out;

	api_handle(ctx, &ar, &out);
	rs->status = out.status;
	rs->content_type = out.content_type;
	http_body_set(rs, out.body, out.len);
	return 0;
}

static const struct http_route routes[] = {
	{ "GET", "/healthz", http_healthz, NULL, HTTP_ROUTE_PUBLIC },
	{ "GET", "/", handle, NULL, 0 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct http_opts o = { .host = "127.0.0.1", .max_header_bytes = 8192, .max_body_bytes = 4096,
			       .timeout_seconds = 5, .max_connections = 64, .max_connections_per_ip = 64 };
	char err[256];

	if (engine_start) {
		fprintf(stderr, "fuzz_httpreq: src/engine.c got linked: src/api.c calls something new; add a weak "
				"stub for it in tests/fuzz/fuzz_httpreq.c (see why with -Wl,-Map)\n");
		abort();
	}
	for (int i = 0; i < 2; i++) {
		if (i) {
			o.auth_user = "prom";
			o.auth_hash = AUTH_HASH;
		}
		if (http_start(&o, routes, sizeof(routes) / sizeof(routes[0]), &servers[i], err, sizeof(err))) {
			fprintf(stderr, "fuzz_httpreq: %s\n", err);
			abort();
		}
		ports[i] = http_port(servers[i]);
	}
	return 0;
}

/* A connection to the server on port. libFuzzer's timer signal can interrupt connect (EINTR: try
 * again on a fresh socket); each exchange leaves a TIME_WAIT socket behind, so after some 100,000
 * runs the loopback's ephemeral ports can all be taken for a moment (EADDRNOTAVAIL: wait for some
 * to expire). Any other failure means the server stopped accepting: a finding. */
static int connect_loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 3000; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

		if (fd < 0) {
			fprintf(stderr, "fuzz_httpreq: socket: %s\n", strerror(errno));
			abort();
		}
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		e = errno;
		close(fd);
		if (e == EINTR)
			continue;
		if (e != EADDRNOTAVAIL && e != EAGAIN) {
			fprintf(stderr, "fuzz_httpreq: connect to port %u: %s: the server stopped accepting\n", port,
				strerror(e));
			abort();
		}
		usleep(20000);
	}
	fprintf(stderr, "fuzz_httpreq: no ephemeral port came free in 60 s\n");
	abort();
}

/* Sends req, half-closes, and reads the answer until the server closes (or 5 s pass). */
static size_t exchange(uint16_t port, const uint8_t *req, size_t len, char *out, size_t cap)
{
	struct timeval tv = { 5, 0 };
	size_t got = 0;
	ssize_t r;
	int fd = connect_loopback(port);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < len; off += (size_t)r) {
		r = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			r = 0;
		else if (r <= 0)
			break; /* the server may refuse early (431, 413) and close */
	}
	shutdown(fd, SHUT_WR);
	while (got < cap - 1) {
		r = recv(fd, out + got, cap - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	out[got] = '\0';
	close(fd);
	return got;
}

/* The answer to the first request starts with an HTTP/1.x status line below 500 (later ones,
 * for pipelined requests, cannot be told from body bytes without a parser of our own). */
static void check_answer(const char *buf, size_t len)
{
	int status;

	if (!len)
		return; /* closed without an answer: allowed for garbage */
	FUZZ_CHECK(sscanf(buf, "HTTP/1.%*1[01] %3d", &status) == 1);
	/* 505 is libmicrohttpd refusing an HTTP version ("HTTP/0.1", "HTTP/2.1" as text) */
	FUZZ_CHECK(status >= 100 && (status < 500 || status == 505));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char answer[1 << 20];
	struct fuzz_in in = { data, size };
	int which = (int)(fuzz_uint(&in, 1) & 1);
	size_t n = exchange(ports[which], in.p, in.n, answer, sizeof(answer));

	check_answer(answer, n);
	return 0;
}
