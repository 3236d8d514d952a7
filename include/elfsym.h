/* Read-only queries on one ELF file through libelf: symbols (.dynsym, then .symtab), type, the
 * first PT_LOAD segment, DT_NEEDED, sections by name and SystemTap USDT notes. */
#ifndef ELFSYM_H
#define ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsym;

/* Opens path. Returns 0, -ENOENT/-EACCES/... from open(2), or -ENOEXEC if it is not an ELF. */
int elfsym_open(const char *path, struct elfsym **out);
void elfsym_close(struct elfsym *e);

/* e_type: ET_EXEC, ET_DYN, ... */
int elfsym_type(const struct elfsym *e);

/* The defined symbol `name` (.dynsym first, then .symtab): st_value and st_size. 0 or -ENOENT. */
int elfsym_lookup(const struct elfsym *e, const char *name, uint64_t *value, uint64_t *size);

/* p_vaddr and p_offset of the first PT_LOAD program header. 0 or -ENOENT. */
int elfsym_first_load(const struct elfsym *e, uint64_t *vaddr, uint64_t *offset);

/* Up to max DT_NEEDED names into names[] (strings owned by e). Returns how many exist (may be
 * more than max). */
size_t elfsym_needed(const struct elfsym *e, const char **names, size_t max);

/* sh_addr and sh_size of the section called name. 0 or -ENOENT. */
int elfsym_section(const struct elfsym *e, const char *name, uint64_t *addr, uint64_t *size);

/* Copies len file-backed bytes at virtual address vaddr (unrelocated) into buf. 0, or -EFAULT when
 * the range is not entirely inside one PT_LOAD's file image. */
int elfsym_read_vaddr(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len);

/* Whether .note.stapsdt carries at least one probe of `provider` (e.g. "python"). */
bool elfsym_has_usdt(const struct elfsym *e, const char *provider);

#endif
