/* CPython line-number tables decoded the way CPython's own PyCode_Addr2Line does it: co_lnotab
 * (3.6-3.9), the 3.10 co_linetable and the 3.11+ location table. The bytes come from another
 * process's memory, so every read is bounded by the table length and a malformed table yields -1. */
#include <errno.h>
#include <limits.h>

#include "pylinetable.h"

#define PYLT_NO_LINE     (-1)
#define PY310_NO_LINE    (-128) /* 3.10 line delta meaning "this range has no line" */

/* 3.11+ location-entry kinds (Objects/locations.md); 0-9 are the "short" forms. */
enum {
	LOC_ONE_LINE0  = 10,
	LOC_ONE_LINE2  = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG       = 14,
	LOC_NONE       = 15,
};

/* Lines are accumulated in 64 bits so hostile deltas cannot overflow; anything CPython could not
 * have produced for a real instruction (negative, beyond int) is reported as "no line". */
static int line_or_none(int64_t line)
{
	return line >= 0 && line <= INT_MAX ? (int)line : PYLT_NO_LINE;
}

/* co_lnotab: (address delta, line delta) byte pairs. The line at byte offset addr is firstlineno
 * plus the line delta of every pair whose cumulative address is <= addr; a trailing odd byte is
 * ignored. The table records line starts only, so its last line runs to the end of the code. */
static int lnotab_line(const uint8_t *tab, size_t len, int firstlineno, int64_t addr)
{
	int64_t line = firstlineno, at = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		at += tab[i];
		if (at > addr)
			break;
		line += (int8_t)tab[i + 1]; /* signed since 3.6 */
	}
	return line_or_none(line);
}

/* 3.10 co_linetable: (byte delta, line delta) pairs, each a range [end, end + delta). A pair
 * whose line delta is -128 has no line and leaves the running line alone. Zero-width pairs only
 * move the running line: CPython folds them into the next range, whose own pair decides its line,
 * which is what walking on while end <= addr does (CPython 3.10 Objects/lnotab_notes.txt,
 * codeobject.c advance / PyLineTable_NextAddressRange / _PyCode_CheckLineNumber). */
static int linetable310_line(const uint8_t *tab, size_t len, int firstlineno, int64_t addr)
{
	int64_t computed = firstlineno, end = 0, line = PYLT_NO_LINE;

	for (size_t i = 0; end <= addr; i += 2) {
		/* CPython asserts a full pair is left; a truncated table has no answer here. */
		if (i + 1 >= len)
			return PYLT_NO_LINE;
		end += tab[i];
		if ((int8_t)tab[i + 1] == PY310_NO_LINE) {
			line = PYLT_NO_LINE;
		} else {
			computed += (int8_t)tab[i + 1];
			line = computed;
		}
	}
	return line_or_none(line);
}

/* Unsigned varint at tab[*pos]: 6-bit groups, least significant first, 0x40 = more follows.
 * Like CPython it does not stop at entry boundaries; unlike CPython it stops at the table's end
 * and refuses more groups than a 32-bit value needs. */
static int read_varint(const uint8_t *tab, size_t len, size_t *pos, uint32_t *out)
{
	uint32_t val = 0;
	unsigned int shift = 0;
	uint8_t b;

	do {
		if (*pos >= len || shift > 30)
			return -EINVAL;
		b = tab[(*pos)++];
		val |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = val;
	return 0;
}

static int read_signed_varint(const uint8_t *tab, size_t len, size_t pos, int64_t *out)
{
	uint32_t uval;
	int err = read_varint(tab, len, &pos, &uval);

	if (err)
		return err;
	*out = (uval & 1) ? -(int64_t)(uval >> 1) : (int64_t)(uval >> 1);
	return 0;
}

/* Line delta of the entry whose first byte is tab[pos] (CPython codeobject.c get_line_delta):
 * only the one-line, no-columns and long forms move the line; kind 15 ("no location") does not. */
static int loc_line_delta(const uint8_t *tab, size_t len, size_t pos, int64_t *delta)
{
	int kind = (tab[pos] >> 3) & 15;

	*delta = 0;
	if (kind >= LOC_ONE_LINE0 && kind <= LOC_ONE_LINE2)
		*delta = kind - LOC_ONE_LINE0;
	else if (kind == LOC_NO_COLUMNS || kind == LOC_LONG)
		return read_signed_varint(tab, len, pos + 1, delta);
	return 0;
}

/* 3.11+ location table: each entry covers (head & 7) + 1 code units starting where the previous
 * one ended; the next entry begins at the next byte with bit 7 set, as CPython's advance() finds
 * it. The answer is the line of the entry with start <= unit < end, -1 for a kind-15 entry. */
static int loctable_line(const uint8_t *tab, size_t len, int firstlineno, int64_t unit)
{
	int64_t line = firstlineno, end = 0, delta;
	size_t pos = 0;
	int kind;

	while (pos < len) {
		kind = (tab[pos] >> 3) & 15;
		end += (tab[pos] & 7) + 1;
		if (loc_line_delta(tab, len, pos, &delta))
			return PYLT_NO_LINE;
		line += delta;
		if (unit < end)
			return kind == LOC_NONE ? PYLT_NO_LINE : line_or_none(line);
		do
			pos++;
		while (pos < len && !(tab[pos] & 0x80));
	}
	return PYLT_NO_LINE;
}

int pylt_line(uint16_t version, const uint8_t *tab, size_t len, int firstlineno, int32_t unit)
{
	/* Before 3.6 there is no wordcode, so a code-unit index means nothing. */
	if (version < 0x0306)
		return PYLT_NO_LINE;
	if (unit < 0)
		return line_or_none(firstlineno);
	if (!tab)
		len = 0;
	if (version <= 0x0309)
		return lnotab_line(tab, len, firstlineno, (int64_t)unit * 2);
	if (version == 0x030a)
		return linetable310_line(tab, len, firstlineno, (int64_t)unit * 2);
	return loctable_line(tab, len, firstlineno, unit);
}
