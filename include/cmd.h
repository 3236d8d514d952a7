/* CLI verbs: each `pyrometer VERB` lives in src/cmd_VERB.c as int cmd_VERB(argc, argv), where
 * argv[0] is the verb. Returns the process exit code: 0 ok, 1 runtime failure, 2 usage error. */
#ifndef CMD_H
#define CMD_H

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_record(int argc, char **argv);
int cmd_dump(int argc, char **argv);

/* Common helpers for verbs. */
/* Parses a positive pid; returns it or -1 (and prints "pyrometer: invalid pid 'x'"). */
int cmd_parse_pid(const char *s);
/* Parses a decimal in [min,max]; returns 0 or -EINVAL. */
int cmd_parse_long(const char *s, long min, long max, long *out);

#endif
