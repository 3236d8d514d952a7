/* Shared helpers for the libFuzzer targets in tests/fuzz/fuzz_NAME.c. A target defines
 * LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize), keeps no state between inputs
 * that changes what an input does, frees what it allocates, and calls FUZZ_CHECK on the
 * properties its parser promises. Seeds live in tests/fuzz/corpus/NAME/ and are replayed by
 * replay_main.c under ASan+UBSan in `make test`; `make fuzz` runs the libFuzzer builds. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise is a finding: report it and abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* Inputs with several fields separate them with this byte (ASCII record separator), which no
 * real /proc text, cgroup path or config line contains. */
#define FUZZ_SEP 0x1e

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* The next field up to FUZZ_SEP (or the end) as a fresh NUL-terminated heap copy of exactly
 * len + 1 bytes, so reads past it are caught; *len gets its length. Never NULL (aborts on
 * OOM); an exhausted input yields "". The caller frees. */
static inline char *fuzz_field(struct fuzz_in *in, size_t *len)
{
	const uint8_t *sep = in->n ? memchr(in->p, FUZZ_SEP, in->n) : NULL;
	size_t n = sep ? (size_t)(sep - in->p) : in->n;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n + (sep ? 1 : 0);
	in->n -= n + (sep ? 1 : 0);
	if (len)
		*len = n;
	return s;
}

/* The next field as a u16 little-endian length and that many bytes (fewer at the end of the
 * input), for binary fields that may contain FUZZ_SEP. Same ownership as fuzz_field. */
static inline char *fuzz_chunk(struct fuzz_in *in, size_t *len)
{
	size_t n = in->n >= 2 ? (size_t)(in->p[0] | in->p[1] << 8) : 0;
	char *s;

	in->p += in->n >= 2 ? 2 : in->n;
	in->n -= in->n >= 2 ? 2 : in->n;
	n = n < in->n ? n : in->n;
	s = malloc(n + 1);
	if (!s)
		abort();
	if (n)
		memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->n -= n;
	if (len)
		*len = n;
	return s;
}

/* Fixed-size little-endian integers from the front of the input; 0 once it is exhausted. */
static inline uint64_t fuzz_uint(struct fuzz_in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

/* An exact-size heap copy of the rest of the input (at least 1 byte allocated). */
static inline uint8_t *fuzz_rest(struct fuzz_in *in, size_t *len)
{
	uint8_t *b = malloc(in->n ? in->n : 1);

	if (!b)
		abort();
	if (in->n)
		memcpy(b, in->p, in->n);
	*len = in->n;
	in->p += in->n;
	in->n = 0;
	return b;
}

/* Whether s[0..n) is well-formed UTF-8 without NUL (what goes into JSON and labels). */
static inline bool fuzz_utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p++, need, min;
		uint32_t cp;

		if (!c)
			return false;
		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < need)
			return false;
		for (unsigned i = 0; i < need; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

#endif
