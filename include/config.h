/* The daemon's configuration: /etc/pyrometer/pyrometer.conf and the command-line flags that
 * override it, both through config_set(). Every key is validated (type, range, enum); the first
 * bad line yields exactly one message "FILE:LINE: KEY: reason" and -EINVAL. No logging here.
 *
 * File format (documented in systemd/pyrometer.conf):
 *   - one "key = value" per line; blank lines and lines starting with '#' are ignored;
 *     no trailing comments (a '#' inside a value is part of it, regexes need it);
 *   - a value may be wrapped in double quotes to keep leading/trailing spaces;
 *   - a key given twice: the last one wins, except service_override and exclude, which append;
 *   - service_override = NAME=KIND:PATTERN, KIND one of cgroup (fnmatch glob on each cgroup
 *     path), exe (glob on the exe path), cmdline (POSIX extended regex on argv joined by
 *     spaces); NAME may not contain '=' or whitespace. Rules are tried in file order.
 *   - exclude = KIND:PATTERN, the same matches: a process matching any is not traced.
 *
 * Reload (SIGHUP) without disturbing the running daemon:
 *     struct config fresh;
 *     if (config_init(&fresh) == 0 && config_load(&fresh, path, err, sizeof(err)) == 0 &&
 *         <re-apply flags with config_set> && config_check(&fresh, err, sizeof(err)) == 0) {
 *             config_free(&cur); cur = fresh;      // a struct config moves by assignment
 *     } else { log err; config_free(&fresh); }    // cur untouched
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

#define CONFIG_DEFAULT_PATH "/etc/pyrometer/pyrometer.conf"
/* 10164: the Prometheus exporter port list (github.com/prometheus/prometheus/wiki/
 * Default-port-allocations) filled 9100-9999 in 2023 and continues at 10000 upwards (10019 was
 * taken in 2024); 10164 is past that and not an IANA-assigned port (10161/10162 are SNMP/TLS). */
#define CONFIG_DEFAULT_PORT 10164
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:10164"
#define CONFIG_MAX_FILE_BYTES (1 << 20)
#define CONFIG_ERR_MAX 512 /* a good size for the err buffers below */
#define CONFIG_MAX_KEYS 32

enum config_log_level {
	CONFIG_LOG_ERROR = 0,
	CONFIG_LOG_WARNING = 1,
	CONFIG_LOG_INFO = 2,
	CONFIG_LOG_DEBUG = 3,
};

struct config {
	char *listen;               /* "HOST:PORT" as given */
	char listen_host[64];       /* IPv4/IPv6 literal (brackets removed), "localhost" mapped */
	uint16_t listen_port;
	bool listen_ipv6;
	unsigned sample_rate_hz;    /* 1..1000, default 19 (CPU_DEFAULT_RATE_HZ) */
	unsigned max_depth;         /* Python frames per stack, 1..PM_MAX_DEPTH, default 128 */
	unsigned max_processes;     /* tracked processes, 1..PM_MAX_PROCS, default 4096 */
	unsigned max_stacks;        /* distinct stacks kept, 256..1048576, default 16384 */
	unsigned max_services;      /* 1..65536, default 256 */
	unsigned window_seconds;    /* rolling profile history, 10..3600, default 60 */
	unsigned scan_interval_seconds; /* full /proc rescan, 1..3600, default 30 */
	unsigned loop_stall_ms;     /* event-loop stall threshold, 0 (off)..60000, default 100 */
	bool db_capture;            /* database queries from the wire, default true */
	unsigned nplusone_min_repeats;  /* N+1: repeats per burst, 2..10000, default 5 */
	unsigned nplusone_min_total_ms; /* N+1: summed latency per burst, 0..600000, default 50 */
	bool memory_tracking;                /* the memory source (RSS, growth by stack, GC), default true */
	unsigned memory_leak_window_seconds; /* memory leak verdict window, 10..86400, default 600 */
	unsigned memory_leak_min_bytes;      /* least growth that is a leak, default 16 MiB */
	unsigned memory_spike_bytes;         /* "loaded too much at once" threshold, default 100 MiB */
	unsigned gc_pressure_percent;        /* GC share of CPU time that is a finding, 1..100, default 10 */
	bool kernel_stacks;         /* default false */
	bool native_stacks;         /* default false */
	enum config_log_level log_level; /* default info */
	unsigned http_max_connections;   /* 1..4096, default 64 */
	unsigned http_max_connections_per_ip; /* 1..4096, default 16 */
	unsigned http_timeout_seconds;   /* idle connection timeout, 1..600, default 15 */
	unsigned http_max_request_bytes; /* headers + body, 4096..16777216, default 65536 */
	char *tls_cert_file;        /* PEM; NULL = plain HTTP */
	char *tls_key_file;         /* PEM; set together with tls_cert_file */
	char *basic_auth_user;      /* NULL = no authentication */
	char *basic_auth_password_hash; /* crypt(3) hash: bcrypt $2b$/$2y$, sha512crypt $6$, yescrypt $y$ */
	struct svc_rules *rules;    /* service_override rules, never NULL after config_init */
	struct svc_rules *excludes; /* exclude rules (their service name unused), never NULL after config_init */
	/* Where each key was last set by config_parse (line 0: default or flag), for the messages
	 * of config_check; indexed like config_keys(). */
	char *src_file;
	int src_line[CONFIG_MAX_KEYS];
};

/* Description of one key, for --help and documentation. */
struct config_key_info {
	const char *name;
	const char *type;     /* "int", "bool", "string", "enum", "listen", "path", "hash", "rule" */
	const char *defval;   /* as written in the file; "" for unset */
	const char *help;
};

/* Fills c with the defaults. Returns 0 or -ENOMEM (c is then freed). */
int config_init(struct config *c);
/* Frees what c owns and zeroes it; accepts a zeroed or freed struct. */
void config_free(struct config *c);

/* Sets one key from its text form: the same validation for the file and for flags (a flag
 * "--sample-rate-hz" is the key "sample_rate_hz"; config_flag_key() converts). Returns 0,
 * -ENOENT for an unknown key, -EINVAL for a bad value, -ENOMEM; on error writes
 * "KEY: reason" into err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parses a whole file's text (need not be NUL-terminated). Stops at the first problem with
 * "FNAME:LINE: KEY: reason" (or "FNAME:LINE: reason" for a line that is no "key = value") in
 * err and -EINVAL. */
int config_parse(struct config *c, const char *text, size_t len, const char *fname, char *err,
		 size_t errlen);
/* Reads and parses a file (at most CONFIG_MAX_FILE_BYTES), then runs config_check. -ENOENT if
 * the file does not exist, other -errno if unreadable; err says which. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Checks what single keys cannot: tls_cert_file with tls_key_file, basic_auth_user with
 * basic_auth_password_hash, TLS files readable. Returns 0 or -EINVAL with err naming the key
 * (and FILE:LINE where it was set, if from a file). */
int config_check(const struct config *c, char *err, size_t errlen);

/* The known keys. */
const struct config_key_info *config_keys(size_t *n);
/* "--sample-rate-hz" or "sample-rate-hz" -> "sample_rate_hz" into out. Returns 0 or -EINVAL. */
int config_flag_key(const char *flag, char *out, size_t len);
/* Parses "HOST:PORT" ("127.0.0.1:10164", "[::1]:10164", "localhost:10164"). 0 or -EINVAL. */
int config_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port, bool *ipv6);

#endif
