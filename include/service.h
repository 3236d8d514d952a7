/* Service attribution: which service a process belongs to, from the text of /proc/PID/cgroup,
 * /proc/PID/cmdline and the exe path. Order: configured overrides, then the systemd unit or
 * container id from the cgroup path, then a name from the command line that groups pre-fork
 * workers with their master. Pure functions on strings; no I/O. */
#ifndef SERVICE_H
#define SERVICE_H

#include <stddef.h>

/* Every service name fits in SVC_NAME_MAX bytes including the NUL; longer names are cut. */
#define SVC_NAME_MAX 128
/* At most this many override rules. */
#define SVC_RULES_MAX 256

/* Where a name came from (returned by the svc_* functions, >= 0). */
enum svc_source {
	SVC_SRC_OVERRIDE = 0,  /* a configured rule */
	SVC_SRC_SYSTEMD = 1,   /* "NAME.service" / "NAME.scope" from the cgroup path */
	SVC_SRC_CONTAINER = 2, /* "container:<12 hex>" or "pod:<uid>" from the cgroup path */
	SVC_SRC_CMDLINE = 3,   /* from argv: "gunicorn:app", "celery:proj", "mod", "script" */
	SVC_SRC_EXE = 4,       /* basename of argv[0] or of the exe path */
	SVC_SRC_UNKNOWN = 5,   /* nothing usable: "unknown" */
};

enum svc_match {
	SVC_MATCH_CGROUP = 0,  /* fnmatch(3) glob on each cgroup path; '*' also matches '/' */
	SVC_MATCH_EXE = 1,     /* fnmatch(3) glob on the exe path */
	SVC_MATCH_CMDLINE = 2, /* POSIX extended regex searched in argv joined by single spaces */
};

/* What is known of one process. Any field may be NULL (cmdline_len 0). */
struct svc_input {
	const char *cgroup;     /* contents of /proc/PID/cgroup, NUL-terminated */
	const char *cmdline;    /* raw /proc/PID/cmdline: NUL-separated argv */
	size_t cmdline_len;
	const char *exe;        /* readlink of /proc/PID/exe */
	const char *comm;       /* /proc/PID/comm, without the newline */
	/* The resolved service of the parent process when the caller tracks it. A process whose
	 * own name says no more than its framework ("gunicorn", "celery", "uwsgi", "uvicorn") or
	 * only its interpreter (SVC_SRC_EXE: multiprocessing children, forked workers that
	 * renamed themselves) takes the parent's name, so pre-fork workers join their master. */
	const char *parent_service;
};

struct svc_rules;

/* An empty rule list, or NULL on OOM. */
struct svc_rules *svc_rules_new(void);
/* Frees the rules; accepts NULL. */
void svc_rules_free(struct svc_rules *r);
/* Appends a rule; rules are tried in order and the first match wins. Returns 0, -EINVAL for a
 * bad kind, an empty pattern, a regex that does not compile or a service name that is empty,
 * too long or has control characters; -EOVERFLOW for a regex too costly to compile or match
 * (stacked or nested repetitions growing past 20000 nodes, backreferences); -E2BIG past
 * SVC_RULES_MAX; -ENOMEM. */
int svc_rules_add(struct svc_rules *r, enum svc_match kind, const char *pattern, const char *service);
size_t svc_rules_count(const struct svc_rules *r);
/* The service name of the first rule matching the process, or NULL (rules may be NULL). */
const char *svc_rules_match(const struct svc_rules *rules, const struct svc_input *in);
/* Parses "cgroup" / "exe" / "cmdline" into *kind; -EINVAL otherwise. */
int svc_match_parse(const char *s, enum svc_match *kind);

/* The service of a process (rules may be NULL). Always writes a non-empty name into out (len >=
 * SVC_NAME_MAX recommended) and returns its enum svc_source; -EINVAL if out is too small. */
int svc_resolve(const struct svc_rules *rules, const struct svc_input *in, char *out, size_t len);

/* ---- the stages, exposed for tests ------------------------------------------------------ */
/* The service named by the contents of /proc/PID/cgroup: tries the unified ("0::") line, then
 * "name=systemd", then every other controller's path. Returns SVC_SRC_SYSTEMD or
 * SVC_SRC_CONTAINER, or -ENOENT if no path names a unit or a container. */
int svc_from_cgroup(const char *cgroup_text, char *out, size_t len);
/* Same for one cgroup path such as "/system.slice/nginx.service". */
int svc_from_cgroup_path(const char *path, char *out, size_t len);
/* A name from argv (NUL-separated) and the exe path: SVC_SRC_CMDLINE or SVC_SRC_EXE, or
 * -ENOENT when there is nothing to go on. */
int svc_from_cmdline(const char *cmdline, size_t cmdline_len, const char *exe, const char *comm,
		     char *out, size_t len);

#endif
