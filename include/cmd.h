/* CLI verbs: each `pyrometer VERB` lives in src/cmd_VERB.c as int cmd_VERB(argc, argv), where
 * argv[0] is the verb. Returns the process exit code: 0 ok, 1 runtime failure, 2 usage error. */
#ifndef CMD_H
#define CMD_H

#include <stddef.h>

#include <json-c/json.h>

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_record(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_processes(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_queries(int argc, char **argv);

/* Common helpers for verbs. */
/* Parses a positive pid; returns it or -1 (and prints "pyrometer: invalid pid 'x'"). */
int cmd_parse_pid(const char *s);
/* Parses a decimal in [min,max]; returns 0 or -EINVAL. */
int cmd_parse_long(const char *s, long min, long max, long *out);

/* `top`'s table, a pure function so it is tested without a daemon. */
struct top_row {
	const char *name;
	int processes;
	double cpu_percent;
	const char *top_function; /* "" if none */
	const char *verdict;      /* "cpu-bound", ... (offcpu source); NULL or "": no VERDICT column */
};
/* Rows from a /api/v1/services answer (pointers into `services`), sorted by CPU % descending,
 * then name. Returns the row count or -EINVAL (not that shape) / -ENOMEM; free(*rows). */
int top_rows_from_json(json_object *services, struct top_row **rows);
/* The table text, no line longer than `width` columns (0: unlimited; names and functions are
 * cut with "..."). Returns a malloc'd string or NULL on ENOMEM. */
char *top_format(const struct top_row *rows, size_t n, unsigned width);

/* `report`'s text from /api/v1/services and /api/v1/findings answers (a pure function): the
 * services that have a verdict, then the findings, only those of `service` when not NULL.
 * Returns a malloc'd string or NULL on ENOMEM. */
char *report_format(json_object *services, json_object *findings, const char *service);

#endif
