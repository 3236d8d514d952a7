/* libbpf log routing (include/bpflog.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "bpflog.h"

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	static int debug = -1;

	if (debug < 0)
		debug = getenv("PYROMETER_BPF_DEBUG") && *getenv("PYROMETER_BPF_DEBUG") == '1';
	if (level != LIBBPF_WARN && !debug)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void bpflog_init(void)
{
	libbpf_set_print(print_fn);
}
