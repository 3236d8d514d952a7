/* Turns one drained CPU sample (Python frames as code addresses, optional kernel/native ips) into a
 * symbolized stack of a struct profile, root first. Shared by `record` and the daemon. */
#ifndef SAMPLEFOLD_H
#define SAMPLEFOLD_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "ksyms.h"
#include "profile.h"
#include "pysym.h"
#include "pytarget.h"

struct samplefold_opts {
	const char *process_label; /* root pseudo-frame naming the process, or NULL */
	const char *thread_label;  /* next pseudo-frame naming the thread, or NULL */
};

/* Writes frame ids for sample s of target t (NULL if the process is no longer known) into ids
 * (capacity max). Returns the number of ids, or -errno. Unresolvable parts become marker frames
 * ("[unknown]", "[truncated]", "[no Python frame]"). */
int samplefold(struct profile *p, struct pysym *sym, const struct ksyms *ks, const struct py_target *t,
	       const struct cpu_sample *s, const struct samplefold_opts *o, uint32_t *ids, size_t max);

#endif
