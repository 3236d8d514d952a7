/* pyrometerd: the always-on daemon. Loads the configuration (file, then flags), starts the engine
 * (BPF sampler + discovery + aggregates) and the HTTP server, tells systemd it is ready, then runs
 * the ingest loop until SIGTERM. SIGHUP reloads the configuration. Logs go to stderr (journald). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api.h"
#include "config.h"
#include "engine.h"
#include "http.h"

static volatile sig_atomic_t got_term, got_hup;
static bool db_loaded; /* db_capture was on at start: a reload can pause and resume it */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static void usage(FILE *f)
{
	size_t n;
	const struct config_key_info *keys = config_keys(&n);

	fprintf(f, "usage: pyrometerd [--config FILE] [--check-config] [--KEY VALUE ...]\n\n"
		   "  --config FILE    configuration file (default %s)\n"
		   "  --check-config   validate the configuration and exit\n"
		   "  --version        print the version\n\n"
		   "Every configuration key is also a flag (--sample-rate-hz 99 or --sample-rate-hz=99):\n",
		CONFIG_DEFAULT_PATH);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  --%-28s %s (default %s)\n", keys[i].name, keys[i].help,
			*keys[i].defval ? keys[i].defval : "unset");
}

struct flag {
	const char *key_flag;
	const char *value;
};

/* Splits argv into the config path, the mode flags and KEY VALUE overrides. Returns 0, 1 (exit 0
 * after --help/--version) or 2 (usage error, already reported). */
static int parse_args(int argc, char **argv, const char **config_path, bool *check_only, struct flag *flags,
		      size_t *nflags)
{
	*nflags = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--version")) {
			printf("pyrometerd %s\n", PYROMETER_VERSION);
			return 1;
		}
		if (!strcmp(a, "--check-config")) {
			*check_only = true;
			continue;
		}
		if (strncmp(a, "--", 2)) {
			fprintf(stderr, "pyrometerd: unexpected argument '%s' (see --help)\n", a);
			return 2;
		}
		eq = strchr(a, '=');
		if (!strcmp(a, "--config") || !strncmp(a, "--config=", 9)) {
			if (!eq && i + 1 >= argc) {
				fprintf(stderr, "pyrometerd: --config needs a file\n");
				return 2;
			}
			*config_path = eq ? eq + 1 : argv[++i];
			continue;
		}
		if (*nflags == 64) {
			fprintf(stderr, "pyrometerd: too many flags\n");
			return 2;
		}
		if (!eq && i + 1 >= argc) {
			fprintf(stderr, "pyrometerd: %s needs a value\n", a);
			return 2;
		}
		flags[*nflags].key_flag = a;
		flags[*nflags].value = eq ? eq + 1 : argv[++i];
		(*nflags)++;
	}
	return 0;
}

/* Loads file + flags into c. Returns 0 or -EINVAL with the one-line reason in err. */
static int load_config(struct config *c, const char *path, bool path_given, const struct flag *flags,
		       size_t nflags, char *err, size_t errlen)
{
	int r = config_init(c);

	if (r)
		return snprintf(err, errlen, "out of memory"), r;
	r = config_load(c, path, err, errlen);
	if (r == -ENOENT && !path_given)
		r = 0; /* no file: the defaults */
	if (r)
		return r;
	for (size_t i = 0; i < nflags; i++) {
		char key[64], e2[CONFIG_ERR_MAX];
		const char *name = flags[i].key_flag;
		char flagname[64];

		snprintf(flagname, sizeof(flagname), "%.*s", (int)strcspn(name, "="), name);
		if (config_flag_key(flagname, key, sizeof(key))) {
			snprintf(err, errlen, "unknown flag %s (see --help)", flagname);
			return -EINVAL;
		}
		r = config_set(c, key, flags[i].value, e2, sizeof(e2));
		if (r) {
			snprintf(err, errlen, r == -ENOENT ? "unknown flag %s (see --help)" : "%s", r == -ENOENT ? flagname : e2);
			return -EINVAL;
		}
	}
	return config_check(c, err, errlen);
}

static void engine_opts_from(const struct config *c, struct engine_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cpu.rate_hz = c->sample_rate_hz;
	o->cpu.max_depth = c->max_depth;
	o->cpu.kernel_stacks = c->kernel_stacks;
	o->cpu.user_stacks = c->native_stacks;
	o->cpu.max_stacks = c->max_stacks;
	o->window_seconds = c->window_seconds;
	o->scan_seconds = c->scan_interval_seconds;
	o->loop_stall_ms = c->loop_stall_ms;
	o->max_processes = c->max_processes;
	o->max_services = c->max_services;
	o->rules = c->rules;
	o->excludes = c->excludes;
	o->mem.disabled = !c->memory_tracking;
	o->mem.leak_window_seconds = c->memory_leak_window_seconds;
	o->mem.leak_min_bytes = c->memory_leak_min_bytes;
	o->mem.spike_bytes = c->memory_spike_bytes;
	o->mem.gc_pressure_percent = c->gc_pressure_percent;
	o->db.disabled = !c->db_capture;
	o->db.min_repeats = c->nplusone_min_repeats;
	o->db.min_total_ms = c->nplusone_min_total_ms;
	o->db.min_total_set = true;
}

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

static void http_opts_from(const struct config *c, struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = c->listen_host;
	o->port = c->listen_port;
	o->max_connections = c->http_max_connections;
	o->max_connections_per_ip = c->http_max_connections_per_ip;
	o->timeout_seconds = c->http_timeout_seconds;
	o->max_header_bytes = c->http_max_request_bytes;
	o->max_body_bytes = c->http_max_request_bytes;
	o->tls_cert_file = c->tls_cert_file;
	o->tls_key_file = c->tls_key_file;
	o->auth_user = c->basic_auth_user;
	o->auth_hash = c->basic_auth_password_hash;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void reload(struct config *cur, struct engine *e, const char *path, bool path_given, const struct flag *flags,
		   size_t nflags)
{
	char err[CONFIG_ERR_MAX];
	struct config fresh;

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)mono_ms() * 1000);
	if (load_config(&fresh, path, path_given, flags, nflags, err, sizeof(err))) {
		fprintf(stderr, "pyrometerd: Failed to reload the configuration, keeping the old one: %s\n", err);
		config_free(&fresh);
	} else {
		struct engine_opts o;

		if (fresh.db_capture && !db_loaded)
			fprintf(stderr, "pyrometerd: db_capture = true takes a restart: the capture was not loaded at start\n");
		engine_opts_from(&fresh, &o);
		engine_reload(e, &o);
		config_free(cur);
		*cur = fresh;
		fprintf(stderr, "pyrometerd: configuration reloaded (service overrides, exclusions, db_capture = false/true "
				"and log level apply now; other keys at restart)\n");
	}
	sd_notify(0, "READY=1\nSTATUS=configuration reloaded");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool path_given;
	char err[CONFIG_ERR_MAX], status[160];
	struct flag flags[64];
	struct engine_opts eo;
	struct engine *e = NULL;
	struct http_server *http = NULL;
	struct http_route routes[2];
	struct http_opts ho;
	struct config cfg = {};
	bool check_only = false;
	uint64_t watchdog_ms, last_ping = 0;
	size_t nflags;
	int r;

	r = parse_args(argc, argv, &path, &check_only, flags, &nflags);
	if (r)
		return r == 1 ? 0 : 2;
	path_given = path != NULL;
	if (!path)
		path = CONFIG_DEFAULT_PATH;
	if (load_config(&cfg, path, path_given, flags, nflags, err, sizeof(err))) {
		fprintf(stderr, "pyrometerd: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (check_only) {
		printf("pyrometerd: configuration OK\n");
		config_free(&cfg);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	engine_opts_from(&cfg, &eo);
	db_loaded = cfg.db_capture;
	r = engine_start(&eo, &e);
	if (r) {
		fprintf(stderr, "pyrometerd: Failed to start the BPF engine: %s%s\n", strerror(-r),
			r == -EPERM ? " (needs CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE or root)" : "");
		config_free(&cfg);
		return 1;
	}
	http_opts_from(&cfg, &ho);
	routes[0] = (struct http_route){ "GET", "/healthz", http_healthz, NULL, HTTP_ROUTE_PUBLIC };
	routes[1] = (struct http_route){ "GET", "/", handle, e, 0 };
	r = http_start(&ho, routes, 2, &http, err, sizeof(err));
	if (r) {
		fprintf(stderr, "pyrometerd: %s\n", err);
		engine_free(e);
		config_free(&cfg);
		return 1;
	}
	snprintf(status, sizeof(status), "listening on %s", cfg.listen);
	fprintf(stderr, "pyrometerd %s: %s, sampling at %u Hz\n", PYROMETER_VERSION, status, cfg.sample_rate_hz);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	watchdog_ms = 0;
	{
		uint64_t usec = 0;

		if (sd_watchdog_enabled(0, &usec) > 0)
			watchdog_ms = usec / 1000;
	}

	while (!got_term) {
		uint64_t now;

		if (got_hup) {
			got_hup = 0;
			reload(&cfg, e, path, path_given, flags, nflags);
		}
		engine_run_once(e, 100);
		now = mono_ms();
		if (watchdog_ms && now - last_ping >= watchdog_ms / 2) {
			sd_notify(0, "WATCHDOG=1");
			last_ping = now;
		}
	}
	sd_notify(0, "STOPPING=1");
	fprintf(stderr, "pyrometerd: stopping\n");
	http_stop(http);
	engine_free(e);
	config_free(&cfg);
	return 0;
}
