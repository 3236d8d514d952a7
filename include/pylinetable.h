/* CPython line-number tables, decoded exactly as CPython does: co_lnotab (≤3.9), the 3.10
 * co_linetable, and the 3.11+ location table. Pure: bytes in, line out. */
#ifndef PYLINETABLE_H
#define PYLINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* Line of the instruction at code-unit index `unit` (2-byte units) of a code object of CPython
 * `version` (0xMMmm) whose first line is `firstlineno` and whose table is tab[0..len).
 * A negative unit (frame pushed but not started) gives firstlineno, as CPython does.
 * Returns the line (>= 0; 0 is a real answer for module RESUME), or -1 where CPython has no line
 * for that instruction or the unit lies beyond the table. Never reads outside tab. */
int pylt_line(uint16_t version, const uint8_t *tab, size_t len, int firstlineno, int32_t unit);

#endif
