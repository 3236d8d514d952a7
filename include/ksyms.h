/* Kernel symbols from /proc/kallsyms, for naming kernel stack frames. */
#ifndef KSYMS_H
#define KSYMS_H

#include <stdint.h>
#include <stdio.h>

struct ksyms;

/* Parses kallsyms-format text from f (pure: any stream). NULL on OOM or when no symbol has an address
 * (unprivileged readers see zeros). */
struct ksyms *ksyms_parse(FILE *f);
/* Loads /proc/kallsyms. */
struct ksyms *ksyms_load(void);
void ksyms_free(struct ksyms *k);
/* The symbol containing addr, or NULL. */
const char *ksyms_lookup(const struct ksyms *k, uint64_t addr);

#endif
