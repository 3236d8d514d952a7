/* Service attribution from /proc strings: configured override rules, systemd units and
 * container ids in cgroup paths, and names derived from argv that put pre-fork workers
 * (gunicorn, uwsgi, celery, uvicorn) under their master's name. Pure; see include/service.h. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

#define ARGV_MAX    64   /* arguments looked at */
#define CMDLINE_MAX 4096 /* bytes of cmdline looked at */

struct svc_rule {
	enum svc_match kind;
	char *pattern;
	char *service;
	regex_t re; /* SVC_MATCH_CMDLINE only */
};

struct svc_rules {
	struct svc_rule *v;
	size_t n;
};

/* ---- small string helpers ---------------------------------------------------------------- */

/* Copies n bytes of src into out as a label-friendly name: printable ASCII without spaces,
 * anything else becomes '_'; cut to len - 1. */
static void copy_name(char *out, size_t len, const char *src, size_t n)
{
	size_t i;

	if (len > SVC_NAME_MAX)
		len = SVC_NAME_MAX; /* the header's promise, whatever the caller's buffer */
	if (n > len - 1)
		n = len - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		out[i] = (c > ' ' && c < 0x7f) ? (char)c : '_';
	}
	out[i] = '\0';
}

/* "prefix" + src[0..n) into out, cleaned like copy_name. */
static void copy_prefixed(char *out, size_t len, const char *prefix, const char *src, size_t n)
{
	size_t p = strlen(prefix);

	if (len > SVC_NAME_MAX)
		len = SVC_NAME_MAX;
	if (p > len - 1)
		p = len - 1;
	memcpy(out, prefix, p);
	copy_name(out + p, len - p, src, n);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t m = strlen(prefix);

	return n >= m && memcmp(s, prefix, m) == 0;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ---- cgroup paths ------------------------------------------------------------------------- */

/* A maximal run of exactly 64 hex digits in the component: a container id as docker, containerd,
 * CRI-O and podman write it ("docker-<id>.scope", "/docker/<id>", "cri-containerd-<id>.scope",
 * "...slice:cri-containerd:<id>", "libpod-<id>", "crio-<id>.scope", kubepods ".../<id>"). */
static const char *find_container_id(const char *c, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && is_hex(c[j]))
			j++;
		if (j - i == 64)
			return c + i;
		i = j + 1;
	}
	return NULL;
}

/* A kubernetes pod uid in "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice" or the
 * cgroupfs form "pod<uid>"; written with '-' separators. */
static bool find_pod(const char *c, size_t n, char *out, size_t len)
{
	const char *p = NULL, *end = c + n;
	char uid[40];
	size_t k = 0;

	if (starts_with(c, n, "kubepods") && ends_with(c, n, ".slice")) {
		for (const char *q = c; q + 4 <= end; q++)
			if (memcmp(q, "-pod", 4) == 0)
				p = q + 4;
		end -= strlen(".slice");
	} else if (starts_with(c, n, "pod")) {
		p = c + 3;
	}
	if (!p || end - p < 32 || end - p > 36)
		return false;
	for (; p < end; p++) {
		if (!is_hex(*p) && *p != '-' && *p != '_')
			return false;
		uid[k++] = *p == '_' ? '-' : *p;
	}
	copy_prefixed(out, len, "pod:", uid, k);
	return true;
}

/* Units that name no service: login sessions, the manager's own init.scope, transient units of
 * systemd-run without --unit ("run-u12.service", "run-r<hex>.scope") and per-launch desktop
 * scopes ending in "-<digits>.scope". */
static bool is_anonymous_unit(const char *c, size_t n)
{
	size_t stem;

	if (starts_with(c, n, "session-") || starts_with(c, n, "run-") ||
	    (n == strlen("init.scope") && memcmp(c, "init.scope", n) == 0))
		return true;
	if (!ends_with(c, n, ".scope"))
		return false;
	stem = n - strlen(".scope");
	if (stem == 0 || c[stem - 1] < '0' || c[stem - 1] > '9')
		return false;
	while (stem > 0 && c[stem - 1] >= '0' && c[stem - 1] <= '9')
		stem--;
	return stem > 0 && c[stem - 1] == '-';
}

/* Looks at one path component; returns an enum svc_source or -ENOENT. */
static int from_component(const char *c, size_t n, char *out, size_t len)
{
	const char *id = find_container_id(c, n);

	if (id) {
		copy_prefixed(out, len, "container:", id, 12);
		return SVC_SRC_CONTAINER;
	}
	if (find_pod(c, n, out, len))
		return SVC_SRC_CONTAINER;
	if ((ends_with(c, n, ".service") && n > strlen(".service")) ||
	    (ends_with(c, n, ".scope") && n > strlen(".scope"))) {
		if (is_anonymous_unit(c, n))
			return -ENOENT;
		copy_name(out, len, c, n);
		return SVC_SRC_SYSTEMD;
	}
	return -ENOENT;
}

int svc_from_cgroup_path(const char *path, char *out, size_t len)
{
	const char *end;

	if (!path || len < 2)
		return -EINVAL;
	end = path + strcspn(path, "\n");
	/* Leaf first: the innermost unit or container is the most specific owner. */
	while (end > path) {
		const char *start = end;
		int rc;

		while (start > path && start[-1] != '/')
			start--;
		if (end - start > 0 && !(end - start == 2 && memcmp(start, "..", 2) == 0)) {
			rc = from_component(start, (size_t)(end - start), out, len);
			if (rc >= 0)
				return rc;
		}
		end = start > path ? start - 1 : path;
	}
	return -ENOENT;
}

/* Pass 0: the unified "0::" line; pass 1: "name=systemd"; pass 2: every other line. */
static bool line_in_pass(const char *line, const char *ctl, size_t ctl_len, int pass)
{
	bool unified = line[0] == '0' && line + 1 == ctl - 1 && ctl_len == 0;
	bool named = ctl_len == strlen("name=systemd") && memcmp(ctl, "name=systemd", ctl_len) == 0;

	if (pass == 0)
		return unified;
	if (pass == 1)
		return named;
	return !unified && !named;
}

int svc_from_cgroup(const char *text, char *out, size_t len)
{
	if (!text || len < 2)
		return -EINVAL;
	for (int pass = 0; pass < 3; pass++) {
		for (const char *line = text; *line; ) {
			const char *nl = strchr(line, '\n');
			const char *c1 = memchr(line, ':', nl ? (size_t)(nl - line) : strlen(line));
			const char *c2 = c1 ? memchr(c1 + 1, ':', nl ? (size_t)(nl - c1 - 1) : strlen(c1 + 1)) : NULL;

			if (c2 && line_in_pass(line, c1 + 1, (size_t)(c2 - c1 - 1), pass)) {
				int rc = svc_from_cgroup_path(c2 + 1, out, len);

				if (rc >= 0)
					return rc;
			}
			if (!nl)
				break;
			line = nl + 1;
		}
	}
	return -ENOENT;
}

/* ---- argv --------------------------------------------------------------------------------- */

struct args {
	char buf[CMDLINE_MAX + 1];
	const char *v[ARGV_MAX];
	int n;
};

/* Splits NUL-separated argv; a lone argument with spaces (a setproctitle title) is split on
 * spaces as well. */
static void split_args(struct args *a, const char *cmdline, size_t len)
{
	size_t n = len < CMDLINE_MAX ? len : CMDLINE_MAX;
	char *p, *end;

	memcpy(a->buf, cmdline, n);
	a->buf[n] = '\0';
	end = a->buf + n;
	a->n = 0;
	for (p = a->buf; p < end && a->n < ARGV_MAX; p += strlen(p) + 1)
		a->v[a->n++] = p;
	while (a->n > 0 && !*a->v[a->n - 1]) /* trailing padding */
		a->n--;
	if (a->n == 1 && strchr(a->v[0], ' ')) {
		a->n = 0;
		for (p = strtok(a->buf, " "); p && a->n < ARGV_MAX; p = strtok(NULL, " "))
			a->v[a->n++] = p;
	}
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* The module part of an app spec "pkg.mod:attr" / "pkg.mod:factory()". */
static size_t module_len(const char *spec)
{
	return strcspn(spec, ":(");
}

/* Flags of gunicorn and uvicorn that take no value; any other flag without '=' is assumed to
 * consume the next argument. */
static const char *const server_bool_flags[] = {
	"-R", "-D", "-v", "-h", "-V", "--reload", "--daemon", "--preload", "--no-sendfile",
	"--reuse-port", "--check-config", "--print-config", "--spew", "--capture-output",
	"--strip-header-spaces", "--initgroups", "--enable-stdio-inheritance", "--log-syslog",
	"--suppress-ragged-eofs", "--do-handshake-on-connect", "--disable-redirect-access-to-syslog",
	"--version", "--help", "--factory", "--proxy-headers", "--no-proxy-headers",
	"--access-log", "--no-access-log", "--use-colors", "--no-use-colors", "--no-server-header",
	"--no-date-header", "--server-header", "--date-header", NULL,
};

/* gunicorn / uvicorn: "<server>:<module>" from --name/-n or the first positional app spec. */
static int name_app_server(const char *server, const char *const *v, int n, char *out, size_t len)
{
	const char *app = NULL, *name = NULL;
	char prefix[32];

	for (int i = 0; i < n; i++) {
		const char *a = v[i];

		if (a[0] != '-') {
			if (!app)
				app = a;
			continue;
		}
		if (starts_with(a, strlen(a), "--name="))
			name = a + strlen("--name=");
		else if ((strcmp(a, "-n") == 0 || strcmp(a, "--name") == 0) && i + 1 < n)
			name = v[i + 1];
		if (strchr(a, '=') || in_list(a, server_bool_flags) || (a[1] != '-' && a[2]))
			continue; /* value attached, or no value */
		i++;
	}
	if (name)
		app = name;
	snprintf(prefix, sizeof(prefix), "%s:", server);
	if (!app || module_len(app) == 0) {
		copy_name(out, len, server, strlen(server));
		return SVC_SRC_CMDLINE;
	}
	copy_prefixed(out, len, prefix, app, module_len(app));
	return SVC_SRC_CMDLINE;
}

/* Value of an option given as "--opt VALUE", "--opt=VALUE" or (short) "-oVALUE". */
static const char *opt_value(const char *const *v, int n, const char *const *names)
{
	for (int i = 0; i < n; i++) {
		for (const char *const *o = names; *o; o++) {
			size_t m = strlen(*o);

			if (strcmp(v[i], *o) == 0 && i + 1 < n)
				return v[i + 1];
			if (strncmp(v[i], *o, m) == 0 && v[i][m] == '=' && m > 2)
				return v[i] + m + 1;
			if (m == 2 && strncmp(v[i], *o, 2) == 0 && v[i][2] && v[i][1] != '-')
				return v[i] + 2;
		}
	}
	return NULL;
}

/* A file's basename without its extension. */
static void put_stem(char *out, size_t len, const char *prefix, const char *path)
{
	const char *b = basename_of(path), *dot = strrchr(b, '.');

	copy_prefixed(out, len, prefix, b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
}

/* uwsgi: "uwsgi:<module>" from --module/-w/--wsgi, else the --wsgi-file stem, else the stem of
 * the configuration file (--ini/--yaml/--xml/--json or a positional "app.ini"). */
static int name_uwsgi(const char *const *v, int n, char *out, size_t len)
{
	static const char *const mod_opts[] = { "--module", "-w", "--wsgi", NULL };
	static const char *const file_opts[] = { "--wsgi-file", "--file", NULL };
	static const char *const cfg_opts[] = { "--ini", "--yaml", "--yml", "--xml", "--json", NULL };
	const char *s;

	if ((s = opt_value(v, n, mod_opts)) && module_len(s)) {
		copy_prefixed(out, len, "uwsgi:", s, module_len(s));
		return SVC_SRC_CMDLINE;
	}
	if ((s = opt_value(v, n, file_opts)) || (s = opt_value(v, n, cfg_opts))) {
		put_stem(out, len, "uwsgi:", s);
		return SVC_SRC_CMDLINE;
	}
	for (int i = 0; i < n; i++) {
		size_t m = strlen(v[i]);

		if (v[i][0] != '-' && (ends_with(v[i], m, ".ini") || ends_with(v[i], m, ".yaml") ||
				       ends_with(v[i], m, ".yml") || ends_with(v[i], m, ".xml") ||
				       ends_with(v[i], m, ".json"))) {
			put_stem(out, len, "uwsgi:", v[i]);
			return SVC_SRC_CMDLINE;
		}
	}
	copy_name(out, len, "uwsgi", 5);
	return SVC_SRC_CMDLINE;
}

/* celery: "celery:<app>" ("celery-beat:<app>" for beat) from -A/--app. */
static int name_celery(const char *const *v, int n, char *out, size_t len)
{
	static const char *const app_opts[] = { "-A", "--app", NULL };
	const char *app = opt_value(v, n, app_opts);
	bool beat = false;

	for (int i = 0; i < n; i++) {
		if (strcmp(v[i], "worker") == 0)
			break;
		if (strcmp(v[i], "beat") == 0) {
			beat = true;
			break;
		}
	}
	if (!app || !module_len(app)) {
		copy_name(out, len, beat ? "celery-beat" : "celery", beat ? 11 : 6);
		return SVC_SRC_CMDLINE;
	}
	copy_prefixed(out, len, beat ? "celery-beat:" : "celery:", app, module_len(app));
	return SVC_SRC_CMDLINE;
}

/* A framework known by the name of its entry point (script, module or argv[0]); the arguments
 * after it follow. Returns -ENOENT if name is no known framework. */
static int name_framework(const char *name, const char *const *v, int n, char *out, size_t len)
{
	if (strcmp(name, "gunicorn") == 0 || strcmp(name, "gunicorn.app.wsgiapp") == 0)
		return name_app_server("gunicorn", v, n, out, len);
	if (strcmp(name, "uvicorn") == 0)
		return name_app_server("uvicorn", v, n, out, len);
	if (strcmp(name, "celery") == 0)
		return name_celery(v, n, out, len);
	if (strcmp(name, "uwsgi") == 0 || strcmp(name, "uwsgi-core") == 0)
		return name_uwsgi(v, n, out, len);
	return -ENOENT;
}

/* setproctitle titles of the frameworks' processes:
 *   "gunicorn: master [myapp.wsgi:application]", "gunicorn: worker [myapp.wsgi:application]"
 *   "[celeryd: celery@host:MainProcess] -active- (worker -A proj -l info)"
 *   "uWSGI master", "uWSGI worker 3" */
static int name_from_title(const char *title, char *out, size_t len)
{
	const char *lb, *rb;
	struct args *a;
	int rc = -ENOENT;

	if (strncmp(title, "gunicorn: ", 10) == 0) {
		lb = strchr(title, '[');
		rb = lb ? strchr(lb, ']') : NULL;
		if (lb && rb && rb > lb + 1) {
			char spec[SVC_NAME_MAX];

			copy_name(spec, sizeof(spec), lb + 1, (size_t)(rb - lb - 1));
			copy_prefixed(out, len, "gunicorn:", spec, module_len(spec));
		} else {
			copy_name(out, len, "gunicorn", 8);
		}
		return SVC_SRC_CMDLINE;
	}
	if (strncmp(title, "uWSGI ", 6) == 0) {
		copy_name(out, len, "uwsgi", 5);
		return SVC_SRC_CMDLINE;
	}
	if (strncmp(title, "[celeryd: ", 10) != 0)
		return -ENOENT;
	lb = strchr(title, '(');
	rb = lb ? strrchr(lb, ')') : NULL;
	if (!lb || !rb || !(a = malloc(sizeof(*a)))) {
		copy_name(out, len, "celery", 6);
		return SVC_SRC_CMDLINE;
	}
	split_args(a, lb + 1, (size_t)(rb - lb - 1));
	rc = name_celery(a->v, a->n, out, len);
	free(a);
	return rc;
}

static bool is_python(const char *base)
{
	const char *p;

	if (strncmp(base, "python", 6) == 0)
		p = base + 6;
	else if (strncmp(base, "pypy", 4) == 0)
		p = base + 4;
	else
		return false;
	return strspn(p, "0123456789.dm") == strlen(p);
}

/* After the interpreter: skips its options and names the module (-m) or script. */
static int name_python(const char *const *v, int n, const char *exe, char *out, size_t len)
{
	for (int i = 1; i < n; i++) {
		const char *a = v[i];

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			const char *b;
			size_t m;
			char dir[SVC_NAME_MAX], stem[SVC_NAME_MAX];
			int rc;

			if (strcmp(a, "-") == 0)
				break; /* stdin */
			/* "python3 pkg/" and "python3 pkg/__main__.py" run the package. */
			copy_name(dir, sizeof(dir), a, strlen(a));
			m = strlen(dir);
			while (m > 1 && dir[m - 1] == '/')
				dir[--m] = '\0';
			if (ends_with(dir, m, "/__main__.py")) {
				dir[m - strlen("/__main__.py")] = '\0';
				m = strlen(dir);
			}
			b = basename_of(dir);
			m = strlen(b);
			if (ends_with(b, m, ".py") || ends_with(b, m, ".pyz") || ends_with(b, m, ".pyw"))
				m = (size_t)(strrchr(b, '.') - b);
			if (m == 0)
				break;
			copy_name(stem, sizeof(stem), b, m);
			rc = name_framework(stem, v + i + 1, n - i - 1, out, len);
			if (rc < 0)
				copy_name(out, len, stem, strlen(stem));
			return rc >= 0 ? rc : SVC_SRC_CMDLINE;
		}
		if (a[1] == '-') { /* long options: only --check-hash-based-pycs takes a value */
			if (strcmp(a, "--check-hash-based-pycs") == 0)
				i++;
			else if (strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0)
				break;
			continue;
		}
		for (const char *f = a + 1; *f; f++) {
			if (!strchr("cmWX", *f))
				continue;
			const char *val = f[1] ? f + 1 : (i + 1 < n ? v[++i] : NULL);

			if (*f == 'c' || !val)
				goto exe; /* "-c CODE": nothing names the program */
			if (*f == 'm') {
				int rc;

				char mod[SVC_NAME_MAX];

				copy_name(mod, sizeof(mod), val, strlen(val));
				rc = name_framework(mod, v + i + 1, n - i - 1, out, len);
				if (rc < 0)
					copy_name(out, len, mod, strlen(mod));
				return rc >= 0 ? rc : SVC_SRC_CMDLINE;
			}
			break; /* -W / -X value consumed */
		}
	}
exe:
	if (exe && *basename_of(exe)) {
		copy_name(out, len, basename_of(exe), strlen(basename_of(exe)));
		return SVC_SRC_EXE;
	}
	copy_name(out, len, basename_of(v[0]), strlen(basename_of(v[0])));
	return SVC_SRC_EXE;
}

static int cmdline_name(const char *cmdline, size_t cmdline_len, const char *exe, const char *comm,
			char *out, size_t len)
{
	struct args *a;
	const char *argv0;
	int rc;

	if (!cmdline || !cmdline_len || !*cmdline)
		return -ENOENT;
	rc = name_from_title(cmdline, out, len);
	if (rc >= 0)
		return rc;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	split_args(a, cmdline, cmdline_len);
	if (a->n == 0) {
		rc = -ENOENT;
		goto cleanup;
	}
	argv0 = basename_of(a->v[0]);
	if (is_python(argv0) || (!*argv0 && exe && is_python(basename_of(exe)))) {
		rc = name_python(a->v, a->n, exe, out, len);
		goto cleanup;
	}
	rc = name_framework(argv0, a->v + 1, a->n - 1, out, len);
	if (rc >= 0)
		goto cleanup;
	/* A program (embedding Python, or a console script run directly via its shebang). */
	if (*argv0) {
		copy_name(out, len, argv0, strlen(argv0));
		rc = SVC_SRC_EXE;
	}
cleanup:
	free(a);
	return rc;
}

int svc_from_cmdline(const char *cmdline, size_t cmdline_len, const char *exe, const char *comm,
		     char *out, size_t len)
{
	int rc;

	if (len < 2)
		return -EINVAL;
	rc = cmdline_name(cmdline, cmdline_len, exe, comm, out, len);
	if (rc >= 0 && out[0])
		return rc;
	if (rc == -ENOMEM)
		return rc;
	/* Kernel threads and zombies have no cmdline: fall back to exe, then comm. */
	if (exe && *basename_of(exe)) {
		copy_name(out, len, basename_of(exe), strlen(basename_of(exe)));
		return SVC_SRC_EXE;
	}
	if (comm && strcspn(comm, "\n")) {
		copy_name(out, len, comm, strcspn(comm, "\n"));
		return SVC_SRC_EXE;
	}
	return -ENOENT;
}

/* ---- override rules ------------------------------------------------------------------------ */

struct svc_rules *svc_rules_new(void)
{
	return calloc(1, sizeof(struct svc_rules));
}

void svc_rules_free(struct svc_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].kind == SVC_MATCH_CMDLINE)
			regfree(&r->v[i].re);
		free(r->v[i].pattern);
		free(r->v[i].service);
	}
	free(r->v);
	free(r);
}

size_t svc_rules_count(const struct svc_rules *r)
{
	return r ? r->n : 0;
}

int svc_match_parse(const char *s, enum svc_match *kind)
{
	if (strcmp(s, "cgroup") == 0)
		*kind = SVC_MATCH_CGROUP;
	else if (strcmp(s, "exe") == 0)
		*kind = SVC_MATCH_EXE;
	else if (strcmp(s, "cmdline") == 0)
		*kind = SVC_MATCH_CMDLINE;
	else
		return -EINVAL;
	return 0;
}

static bool valid_service_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= SVC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* Skips a bracket expression starting at p ('['), classes like [:alpha:] included; returns the
 * character after its ']' or NULL if it never closes. */
static const char *skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p && *p != ']'; p++)
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *end = strchr(p + 2, p[1]);

			if (!end || end[1] != ']')
				return NULL;
			p = end + 1;
		}
	return *p ? p + 1 : NULL;
}

/* Whether glibc's regcomp/regexec could take gigabytes or exponential time on an extended regex.
 * regcomp copies the tree under '+' once and under {m,n} n times, so repetitions of repetitions
 * grow it exponentially ("a++++...", "((a{1,255}){1,255}){1,255}"), and its epsilon closures
 * explode on stacked '?'/'+' ("a+++???+++"). So: at most REGEX_MAX_NODES copied nodes, no
 * quantifier right after another (POSIX leaves those undefined anyway), at most REGEX_MAX_QNEST
 * quantifiers nested through groups, REGEX_MAX_DEPTH groups deep. Backreferences (\1..\9, a GNU
 * extension) can take exponential time per match on a process's arguments, which any local user
 * chooses, so they are refused too. Patterns regcomp would reject anyway count as cheap. */
#define REGEX_MAX_NODES 20000
#define REGEX_MAX_DEPTH 32
#define REGEX_MAX_QNEST 3

struct regex_group {
	size_t nodes, last; /* nodes so far; nodes of the last element (what a quantifier copies) */
	int qnest, lastq;   /* deepest quantifier nesting inside; that of the last element */
};

/* Applies a quantifier copying the last element n times in all. */
static bool quantify(struct regex_group *g, unsigned long n, bool *prev_quant)
{
	if (*prev_quant)
		return false;
	*prev_quant = true;
	g->nodes += g->last * (n - 1);
	g->last *= n;
	g->lastq++;
	if (g->lastq > g->qnest)
		g->qnest = g->lastq;
	return g->lastq <= REGEX_MAX_QNEST;
}

static bool regex_too_costly(const char *p)
{
	struct regex_group g[REGEX_MAX_DEPTH + 1] = { 0 };
	bool prev_quant = false;
	int d = 0;

	for (; *p; p++) {
		struct regex_group elem = { .nodes = 1 };
		unsigned long m, n;
		char *end;

		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				return true;
			if (p[1])
				p++;
			break;
		case '[':
			if (!(p = skip_bracket(p)))
				return false; /* regcomp will refuse it */
			p--;
			break;
		case '(':
			if (d == REGEX_MAX_DEPTH)
				return true;
			g[++d] = (struct regex_group){ 0 };
			prev_quant = false;
			continue;
		case ')':
			if (d)
				elem = (struct regex_group){ .nodes = g[d].nodes + 1, .qnest = g[d].qnest }, d--;
			break;
		case '|':
			g[d].last = 0;
			g[d].lastq = 0;
			prev_quant = false;
			continue;
		case '*':
		case '?':
		case '+':
			if (!quantify(&g[d], *p == '+' ? 2 : 1, &prev_quant))
				return true;
			goto bounded;
		case '{':
			m = strtoul(p + 1, &end, 10);
			n = *end == ',' ? (isdigit((unsigned char)end[1]) ? strtoul(end + 1, &end, 10) : m + 1) : m;
			if (!isdigit((unsigned char)p[1]) || (*end != '}' && !(*end == ',' && end[1] == '}')))
				break; /* no bound: a literal '{' */
			p = *end == ',' ? end + 1 : end;
			if (!quantify(&g[d], n > 0x7fff ? 0x7fff : n ? n : 1, &prev_quant))
				return true;
			goto bounded;
		}
		prev_quant = false;
		g[d].nodes += elem.nodes;
		g[d].last = elem.nodes;
		g[d].lastq = elem.qnest;
		if (elem.qnest > g[d].qnest)
			g[d].qnest = elem.qnest;
bounded:
		if (g[d].nodes > REGEX_MAX_NODES || g[d].last > REGEX_MAX_NODES)
			return true;
	}
	return false;
}

int svc_rules_add(struct svc_rules *r, enum svc_match kind, const char *pattern, const char *service)
{
	struct svc_rule rule = { .kind = kind }, *nv;

	if (kind > SVC_MATCH_CMDLINE || !pattern || !*pattern || !valid_service_name(service))
		return -EINVAL;
	if (r->n >= SVC_RULES_MAX)
		return -E2BIG;
	if (kind == SVC_MATCH_CMDLINE && regex_too_costly(pattern))
		return -EOVERFLOW;
	if (kind == SVC_MATCH_CMDLINE && regcomp(&rule.re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	nv = realloc(r->v, (r->n + 1) * sizeof(*nv));
	rule.pattern = strdup(pattern);
	rule.service = strdup(service);
	if (!nv || !rule.pattern || !rule.service) {
		if (kind == SVC_MATCH_CMDLINE)
			regfree(&rule.re);
		free(rule.pattern);
		free(rule.service);
		if (nv)
			r->v = nv;
		return -ENOMEM;
	}
	r->v = nv;
	r->v[r->n++] = rule;
	return 0;
}

static bool match_cgroup(const char *glob, const char *text)
{
	char path[1024];

	for (const char *line = text; line && *line; ) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;

		if (c2) {
			size_t m = n - (size_t)(c2 + 1 - line);

			if (m < sizeof(path)) {
				memcpy(path, c2 + 1, m);
				path[m] = '\0';
				if (fnmatch(glob, path, 0) == 0)
					return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static bool match_cmdline(const regex_t *re, const char *cmdline, size_t len)
{
	char buf[CMDLINE_MAX + 1];
	size_t n = len < CMDLINE_MAX ? len : CMDLINE_MAX;

	memcpy(buf, cmdline, n);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return regexec(re, buf, 0, NULL, 0) == 0;
}

static const char *match_rules(const struct svc_rules *r, const struct svc_input *in)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const struct svc_rule *rule = &r->v[i];

		switch (rule->kind) {
		case SVC_MATCH_CGROUP:
			if (in->cgroup && match_cgroup(rule->pattern, in->cgroup))
				return rule->service;
			break;
		case SVC_MATCH_EXE:
			if (in->exe && fnmatch(rule->pattern, in->exe, 0) == 0)
				return rule->service;
			break;
		case SVC_MATCH_CMDLINE:
			if (in->cmdline && in->cmdline_len &&
			    match_cmdline(&rule->re, in->cmdline, in->cmdline_len))
				return rule->service;
			break;
		}
	}
	return NULL;
}

const char *svc_rules_match(const struct svc_rules *rules, const struct svc_input *in)
{
	return match_rules(rules, in);
}

/* A name that says no more than the framework or the interpreter. */
static bool is_weak(int src, const char *name)
{
	static const char *const bare[] = { "gunicorn", "celery", "celery-beat", "uwsgi", "uvicorn", NULL };

	return src == SVC_SRC_EXE || (src == SVC_SRC_CMDLINE && in_list(name, bare));
}

int svc_resolve(const struct svc_rules *rules, const struct svc_input *in, char *out, size_t len)
{
	const char *name;
	int rc;

	if (len < sizeof("unknown"))
		return -EINVAL;
	name = match_rules(rules, in);
	if (name) {
		copy_name(out, len, name, strlen(name));
		return SVC_SRC_OVERRIDE;
	}
	if (in->cgroup && (rc = svc_from_cgroup(in->cgroup, out, len)) >= 0)
		return rc;
	rc = svc_from_cmdline(in->cmdline, in->cmdline_len, in->exe, in->comm, out, len);
	if (rc >= 0 && is_weak(rc, out) && in->parent_service && *in->parent_service) {
		copy_name(out, len, in->parent_service, strlen(in->parent_service));
		return SVC_SRC_CMDLINE;
	}
	if (rc >= 0)
		return rc;
	snprintf(out, len, "unknown");
	return SVC_SRC_UNKNOWN;
}
