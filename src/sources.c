/* The data sources the daemon runs besides on-CPU sampling (include/source.h). One line each. */
#include <stddef.h>

#include "memory.h"
#include "io.h"
#include "offcpu.h"
#include "pgwire.h"
#include "source.h"

const struct source_ops *const pyrometer_sources[] = {
	&memory_source,
	&offcpu_source,
	&io_source,
	&pgwire_source,
	NULL,
};
