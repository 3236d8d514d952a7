/* Configuration keys, their validation and the pyrometer.conf parser: one table of keys drives
 * defaults, the file, the command-line flags and --help alike. See include/config.h. */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pyrometer_bpf.h"

enum key_type { K_UINT, K_BOOL, K_LOG, K_LISTEN, K_PATH, K_USER, K_HASH, K_RULE, K_EXCLUDE };

struct key {
	const char *name;
	enum key_type type;
	size_t off;          /* field in struct config */
	unsigned min, max;   /* K_UINT */
	const char *defval;
	const char *help;
};

#define F(field) offsetof(struct config, field)

static const struct key keys[] = {
	{ "listen", K_LISTEN, F(listen), 0, 0, CONFIG_DEFAULT_LISTEN,
	  "HOST:PORT of the HTTP endpoint (/metrics, /api/v1); an IP literal or localhost" },
	{ "sample_rate_hz", K_UINT, F(sample_rate_hz), 1, 1000, "19",
	  "CPU samples per second on each CPU" },
	{ "max_depth", K_UINT, F(max_depth), 1, PM_MAX_DEPTH, "128",
	  "Python frames kept per stack (deeper stacks are cut and marked)" },
	{ "max_processes", K_UINT, F(max_processes), 1, PM_MAX_PROCS, "4096",
	  "Python processes tracked at once; more are counted and ignored" },
	{ "max_stacks", K_UINT, F(max_stacks), 256, 1 << 20, "16384",
	  "distinct stacks kept per profile; further stacks are counted as dropped" },
	{ "max_services", K_UINT, F(max_services), 1, 65536, "256",
	  "services tracked at once; processes of further services are counted and ignored" },
	{ "window_seconds", K_UINT, F(window_seconds), 10, 3600, "60",
	  "history of rolling profiles served by /api/v1 (seconds)" },
	{ "scan_interval_seconds", K_UINT, F(scan_interval_seconds), 1, 3600, "30",
	  "period of the full /proc rescan that catches what exec events missed" },
	{ "loop_stall_ms", K_UINT, F(loop_stall_ms), 0, 60000, "100",
	  "an event loop running this long without polling is a blocked-loop finding; 0 turns stall detection off" },
	{ "memory_tracking", K_BOOL, F(memory_tracking), 0, 0, "true",
	  "resident memory trends, memory growth by Python stack and GC pauses; false turns all of it off" },
	{ "memory_leak_window_seconds", K_UINT, F(memory_leak_window_seconds), 10, 86400, "600",
	  "a process's memory must grow steadily this long to be a memory-leak finding" },
	{ "memory_leak_min_bytes", K_UINT, F(memory_leak_min_bytes), 65536, 4294967295u, "16777216",
	  "...and grow by at least this many bytes over that window" },
	{ "memory_spike_bytes", K_UINT, F(memory_spike_bytes), 1048576, 4294967295u, "104857600",
	  "one Python stack making this much memory resident within 10 s is a memory-spike finding" },
	{ "gc_pressure_percent", K_UINT, F(gc_pressure_percent), 1, 100, "10",
	  "a process spending this share of its CPU time in GC pauses over a minute is a gc-pressure finding" },
	{ "kernel_stacks", K_BOOL, F(kernel_stacks), 0, 0, "false",
	  "also record kernel stacks under Python frames" },
	{ "native_stacks", K_BOOL, F(native_stacks), 0, 0, "false",
	  "also record native (C) user stacks" },
	{ "db_capture", K_BOOL, F(db_capture), 0, 0, "true",
	  "capture database queries of Python processes from their sockets (PostgreSQL)" },
	{ "nplusone_min_repeats", K_UINT, F(nplusone_min_repeats), 2, 10000, "5",
	  "N+1 finding: the same query from one call site at least this often in one burst" },
	{ "nplusone_min_total_ms", K_UINT, F(nplusone_min_total_ms), 0, 600000, "50",
	  "N+1 finding: and taking at least this long in total (milliseconds)" },
	{ "log_level", K_LOG, F(log_level), 0, 0, "info",
	  "error, warning, info or debug" },
	{ "http_max_connections", K_UINT, F(http_max_connections), 1, 4096, "64",
	  "concurrent HTTP connections; more are refused" },
	{ "http_max_connections_per_ip", K_UINT, F(http_max_connections_per_ip), 1, 4096, "16",
	  "concurrent HTTP connections from one client address" },
	{ "http_timeout_seconds", K_UINT, F(http_timeout_seconds), 1, 600, "15",
	  "idle HTTP connections are closed after this many seconds" },
	{ "http_max_request_bytes", K_UINT, F(http_max_request_bytes), 4096, 16 << 20, "65536",
	  "largest request (headers, and body separately); larger ones get 431/413" },
	{ "tls_cert_file", K_PATH, F(tls_cert_file), 0, 0, "",
	  "PEM certificate (chain) for HTTPS; set with tls_key_file" },
	{ "tls_key_file", K_PATH, F(tls_key_file), 0, 0, "",
	  "PEM private key for HTTPS" },
	{ "basic_auth_user", K_USER, F(basic_auth_user), 0, 0, "",
	  "user name required by HTTP basic auth; set with basic_auth_password_hash" },
	{ "basic_auth_password_hash", K_HASH, F(basic_auth_password_hash), 0, 0, "",
	  "crypt(3) hash of the password: bcrypt ($2b$/$2y$, as htpasswd -B), sha512crypt ($6$) or yescrypt ($y$)" },
	{ "service_override", K_RULE, F(rules), 0, 0, "",
	  "NAME=KIND:PATTERN, KIND cgroup|exe|cmdline (glob, glob, extended regex); repeatable, first match wins" },
	{ "exclude", K_EXCLUDE, F(excludes), 0, 0, "",
	  "KIND:PATTERN, KIND cgroup|exe|cmdline as in service_override: matching processes are not traced; repeatable" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

static struct config_key_info key_info[NKEYS];

static int errf(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A value as it may be quoted in a message: at most 64 bytes, control characters as '?'. */
static const char *shown(const char *v, char *buf, size_t len)
{
	size_t i;

	for (i = 0; v[i] && i < len - 4 && i < 64; i++)
		buf[i] = ((unsigned char)v[i] < ' ' || v[i] == 0x7f) ? '?' : v[i];
	if (v[i] && i < len - 4)
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return buf;
}

static const struct key *find_key(const char *name, size_t *idx)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			if (idx)
				*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* ---- value parsers ------------------------------------------------------------------------ */

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static int parse_log(const char *s, enum config_log_level *out)
{
	static const struct { const char *n; enum config_log_level l; } m[] = {
		{ "error", CONFIG_LOG_ERROR }, { "warning", CONFIG_LOG_WARNING },
		{ "warn", CONFIG_LOG_WARNING }, { "info", CONFIG_LOG_INFO }, { "debug", CONFIG_LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(s, m[i].n) == 0)
			return *out = m[i].l, 0;
	return -EINVAL;
}

int config_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port, bool *ipv6)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned p;
	char buf[64];
	struct in6_addr a6;
	struct in_addr a4;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(buf) || hl >= hostlen || parse_uint(colon + 1, 1, 65535, &p) < 0)
		return -EINVAL;
	memcpy(buf, h, hl);
	buf[hl] = '\0';
	if (strcmp(buf, "localhost") == 0)
		snprintf(buf, sizeof(buf), "127.0.0.1");
	if (s[0] == '[' ? inet_pton(AF_INET6, buf, &a6) != 1 : inet_pton(AF_INET, buf, &a4) != 1)
		return -EINVAL;
	snprintf(host, hostlen, "%s", buf);
	*port = (uint16_t)p;
	*ipv6 = s[0] == '[';
	return 0;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return true;
	return false;
}

static int check_hash(const char *h)
{
	static const char *const prefixes[] = { "$2b$", "$2y$", "$2a$", "$6$", "$5$", "$y$", "$gy$" };
	struct crypt_data *cd;
	const char *out;
	bool known = false;
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		known |= strncmp(h, prefixes[i], strlen(prefixes[i])) == 0;
	if (!known || crypt_checksalt(h) != CRYPT_SALT_OK)
		return -EINVAL;
	/* A truncated or padded hash hashes to something of another length. */
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	out = crypt_rn("", h, cd, sizeof(*cd));
	if (out && out[0] != '*' && strlen(out) == strlen(h))
		rc = 0;
	free(cd);
	return rc;
}

/* Adds KIND:PATTERN (at v) for service (a name) to rules; key names the key in messages. */
static int add_rule(struct svc_rules *rules, const char *key, const char *v, const char *service, char *err,
		    size_t len)
{
	const char *colon = strchr(v, ':'), *pattern;
	char kind_s[16];
	enum svc_match kind;
	int rc;

	if (!colon || (size_t)(colon - v) >= sizeof(kind_s))
		return errf(err, len, -EINVAL, "%s: expected %sKIND:PATTERN", key, service ? "NAME=" : "");
	memcpy(kind_s, v, (size_t)(colon - v));
	kind_s[colon - v] = '\0';
	if (svc_match_parse(kind_s, &kind) < 0)
		return errf(err, len, -EINVAL, "%s: KIND must be cgroup, exe or cmdline", key);
	/* "cmdline: x" reads as "cmdline:x": the blanks after the colon are not the pattern's ("[ ]x" is) */
	pattern = colon + 1 + strspn(colon + 1, " \t");
	if (!*pattern)
		return errf(err, len, -EINVAL, "%s: empty PATTERN", key);
	rc = svc_rules_add(rules, kind, pattern, service ? service : "excluded");
	if (rc == -E2BIG)
		return errf(err, len, -EINVAL, "%s: more than %d rules", key, SVC_RULES_MAX);
	if (rc == -ENOMEM)
		return errf(err, len, rc, "%s: out of memory", key);
	if (rc == -EOVERFLOW)
		return errf(err, len, -EINVAL, "%s: PATTERN is too costly (stacked or nested repetitions, "
			    "backreferences)", key);
	if (rc < 0)
		return errf(err, len, -EINVAL, "%s: %s", key, kind == SVC_MATCH_CMDLINE ?
			    "PATTERN is no valid extended regular expression" : "invalid NAME");
	return 0;
}

static int set_rule(struct config *c, const char *v, char *err, size_t len)
{
	const char *eq = strchr(v, '='), *ws = strpbrk(v, " \t");
	char name[SVC_NAME_MAX];

	if (!eq || !strchr(eq + 1, ':') || eq == v)
		return errf(err, len, -EINVAL, "service_override: expected NAME=KIND:PATTERN");
	if ((size_t)(eq - v) >= sizeof(name) || (ws && ws < eq))
		return errf(err, len, -EINVAL,
			    "service_override: NAME must be 1..%d characters without whitespace", SVC_NAME_MAX - 1);
	memcpy(name, v, (size_t)(eq - v));
	name[eq - v] = '\0';
	return add_rule(c->rules, "service_override", eq + 1, name, err, len);
}

/* Replaces the string at *slot (NULL for ""). */
static int set_str(char **slot, const char *v)
{
	char *copy = NULL;

	if (*v && !(copy = strdup(v)))
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

static int set_value(struct config *c, const struct key *k, const char *v, char *err, size_t len)
{
	void *field = (char *)c + k->off;
	char show[80];
	int rc;

	switch (k->type) {
	case K_UINT:
		if (parse_uint(v, k->min, k->max, field) < 0)
			return errf(err, len, -EINVAL, "%s: must be an integer in %u..%u, got '%s'",
				    k->name, k->min, k->max, shown(v, show, sizeof(show)));
		return 0;
	case K_BOOL:
		if (parse_bool(v, field) < 0)
			return errf(err, len, -EINVAL, "%s: must be true or false, got '%s'", k->name,
				    shown(v, show, sizeof(show)));
		return 0;
	case K_LOG:
		if (parse_log(v, field) < 0)
			return errf(err, len, -EINVAL, "%s: must be error, warning, info or debug, got '%s'",
				    k->name, shown(v, show, sizeof(show)));
		return 0;
	case K_LISTEN:
		if (config_parse_listen(v, c->listen_host, sizeof(c->listen_host), &c->listen_port,
					&c->listen_ipv6) < 0)
			return errf(err, len, -EINVAL,
				    "%s: must be IPV4:PORT, [IPV6]:PORT or localhost:PORT with PORT 1..65535, got '%s'",
				    k->name, shown(v, show, sizeof(show)));
		break;
	case K_PATH:
		if (*v && (v[0] != '/' || strlen(v) >= PATH_MAX || has_ctl(v)))
			return errf(err, len, -EINVAL, "%s: must be an absolute path, got '%s'", k->name,
				    shown(v, show, sizeof(show)));
		break;
	case K_USER:
		if (*v && (strlen(v) > 64 || strchr(v, ':') || has_ctl(v)))
			return errf(err, len, -EINVAL,
				    "%s: must be 1..64 characters without ':' or control characters", k->name);
		break;
	case K_HASH:
		rc = *v ? check_hash(v) : 0;
		if (rc == -ENOMEM)
			return errf(err, len, rc, "%s: out of memory", k->name);
		if (rc < 0)
			return errf(err, len, -EINVAL,
				    "%s: must be a complete bcrypt ($2b$, $2y$), sha512crypt ($6$) or yescrypt ($y$) hash",
				    k->name);
		break;
	case K_RULE:
		return *v ? set_rule(c, v, err, len) : 0;
	case K_EXCLUDE:
		return *v ? add_rule(c->excludes, "exclude", v, NULL, err, len) : 0;
	}
	if (set_str(field, v) < 0)
		return errf(err, len, -ENOMEM, "%s: out of memory", k->name);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key *k = find_key(key, NULL);
	char show[80];

	if (!k)
		return errf(err, errlen, -ENOENT, "%s: unknown key", shown(key, show, sizeof(show)));
	return set_value(c, k, value ? value : "", err, errlen);
}

int config_init(struct config *c)
{
	char err[CONFIG_ERR_MAX];

	memset(c, 0, sizeof(*c));
	c->rules = svc_rules_new();
	c->excludes = svc_rules_new();
	if (!c->rules || !c->excludes) {
		config_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (!*keys[i].defval)
			continue;
		if (set_value(c, &keys[i], keys[i].defval, err, sizeof(err)) < 0) {
			config_free(c);
			return -ENOMEM; /* defaults are valid by construction; only OOM fails */
		}
	}
	return 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->listen);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c->basic_auth_user);
	free(c->basic_auth_password_hash);
	free(c->src_file);
	svc_rules_free(c->rules);
	svc_rules_free(c->excludes);
	memset(c, 0, sizeof(*c));
}

/* ---- the file ------------------------------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One "key = value" line (NUL-terminated, modifiable). */
static int parse_line(struct config *c, char *line, const char *fname, int lineno, char *err,
		      size_t errlen)
{
	char *eq, *key, *val, msg[CONFIG_ERR_MAX];
	size_t idx, vl;
	int rc;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return errf(err, errlen, -EINVAL, "%s:%d: expected 'key = value'", fname, lineno);
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key))
		return errf(err, errlen, -EINVAL, "%s:%d: expected 'key = value'", fname, lineno);
	vl = strlen(val);
	if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
		val[vl - 1] = '\0';
		val++;
	}
	if (!find_key(key, &idx))
		return errf(err, errlen, -EINVAL, "%s:%d: %s: unknown key", fname, lineno, key);
	rc = set_value(c, &keys[idx], val, msg, sizeof(msg));
	if (rc < 0)
		return errf(err, errlen, rc == -ENOMEM ? rc : -EINVAL, "%s:%d: %s", fname, lineno, msg);
	c->src_line[idx] = lineno;
	return 0;
}

int config_parse(struct config *c, const char *text, size_t len, const char *fname, char *err,
		 size_t errlen)
{
	char line[4096];
	size_t pos = 0;
	int lineno = 0, rc;

	if (set_str(&c->src_file, fname) < 0)
		return errf(err, errlen, -ENOMEM, "%s: out of memory", fname);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n >= sizeof(line))
			return errf(err, errlen, -EINVAL, "%s:%d: line longer than %zu bytes", fname,
				    lineno, sizeof(line) - 1);
		if (memchr(text + pos, '\0', n))
			return errf(err, errlen, -EINVAL, "%s:%d: NUL byte in line", fname, lineno);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		rc = parse_line(c, line, fname, lineno, err, errlen);
		if (rc < 0)
			return rc;
		pos += n + 1;
	}
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n = 0;
	size_t got = 0;
	int fd, rc = 0;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_BYTES) {
		rc = errf(err, errlen, -EINVAL, "%s: not a regular file of at most %d bytes", path,
			  CONFIG_MAX_FILE_BYTES);
		goto cleanup;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = errf(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	while (got < (size_t)st.st_size && (n = read(fd, *buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (n < 0) {
		rc = errf(err, errlen, -errno, "%s: cannot read: %s", path, strerror(errno));
		goto cleanup;
	}
	*len = got;
cleanup:
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return rc;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len = 0;
	int rc;

	rc = read_file(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = config_parse(c, text, len, path, err, errlen);
	free(text);
	if (rc < 0)
		return rc;
	return config_check(c, err, errlen);
}

/* "FILE:LINE: " of where key idx was set, or "" for defaults and flags. */
static const char *where(const struct config *c, size_t idx, char *buf, size_t len)
{
	if (c->src_file && c->src_line[idx] > 0)
		snprintf(buf, len, "%s:%d: ", c->src_file, c->src_line[idx]);
	else
		buf[0] = '\0';
	return buf;
}

static int check_pair(const struct config *c, const char *a, const char *b, char *err, size_t len)
{
	size_t ia = 0, ib = 0;
	const struct key *ka = find_key(a, &ia), *kb = find_key(b, &ib);
	char *va = *(char **)((char *)c + ka->off), *vb = *(char **)((char *)c + kb->off);
	char loc[PATH_MAX + 32];

	if (va && !vb)
		return errf(err, len, -EINVAL, "%s%s: needs %s as well", where(c, ia, loc, sizeof(loc)), a, b);
	if (vb && !va)
		return errf(err, len, -EINVAL, "%s%s: needs %s as well", where(c, ib, loc, sizeof(loc)), b, a);
	return 0;
}

static int check_readable(const struct config *c, const char *name, char *err, size_t len)
{
	size_t idx = 0;
	const struct key *k = find_key(name, &idx);
	const char *path = *(char **)((char *)c + k->off);
	char loc[PATH_MAX + 32];

	if (path && access(path, R_OK) < 0)
		return errf(err, len, -EINVAL, "%s%s: cannot read '%s': %s", where(c, idx, loc, sizeof(loc)),
			    name, path, strerror(errno));
	return 0;
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = check_pair(c, "tls_cert_file", "tls_key_file", err, errlen)) ||
	    (rc = check_pair(c, "basic_auth_user", "basic_auth_password_hash", err, errlen)) ||
	    (rc = check_readable(c, "tls_cert_file", err, errlen)) ||
	    (rc = check_readable(c, "tls_key_file", err, errlen)))
		return rc;
	return 0;
}

const struct config_key_info *config_keys(size_t *n)
{
	static const char *const type_names[] = {
		[K_UINT] = "int", [K_BOOL] = "bool", [K_LOG] = "enum", [K_LISTEN] = "listen",
		[K_PATH] = "path", [K_USER] = "string", [K_HASH] = "hash", [K_RULE] = "rule", [K_EXCLUDE] = "rule",
	};

	for (size_t i = 0; i < NKEYS; i++)
		key_info[i] = (struct config_key_info){ keys[i].name, type_names[keys[i].type],
							keys[i].defval, keys[i].help };
	*n = NKEYS;
	return key_info;
}

int config_flag_key(const char *flag, char *out, size_t len)
{
	size_t i;

	while (*flag == '-')
		flag++;
	if (!*flag || strlen(flag) >= len)
		return -EINVAL;
	for (i = 0; flag[i]; i++) {
		char ch = flag[i] == '-' ? '_' : flag[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return -EINVAL;
		out[i] = ch;
	}
	out[i] = '\0';
	return 0;
}
