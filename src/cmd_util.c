/* Small argument helpers shared by the CLI verbs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

int cmd_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cmd_parse_pid(const char *s)
{
	long v;

	if (cmd_parse_long(s, 1, 4194304, &v) < 0) {
		fprintf(stderr, "pyrometer: invalid pid '%s'\n", s ? s : "");
		return -1;
	}
	return (int)v;
}
