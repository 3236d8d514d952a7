/* Fuzz target: kallsyms text (src/ksyms.c). The input is the file's text, read through a
 * memory stream. Lookups of every parsed address, of the addresses around them and of the
 * extremes must return a name from the table or NULL below the first symbol. */
#include <inttypes.h>

#include "fuzz.h"
#include "ksyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t len;
	uint8_t *text = fuzz_rest(&in, &len);
	FILE *f = fmemopen(text, len ? len : 1, "r");
	struct ksyms *k;
	char line[64];

	if (!f)
		abort();
	if (!len)
		fgetc(f); /* an empty input is an empty stream */
	k = ksyms_parse(f);
	fclose(f);
	if (k) {
		/* The first address-like word of each line, looked up exactly and around it. */
		for (const char *p = (const char *)text; p && p < (const char *)text + len;) {
			const char *nl = memchr(p, '\n', (size_t)((const char *)text + len - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)((const char *)text + len - p);
			unsigned long long a;

			snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
			if (sscanf(line, "%llx", &a) == 1 && a) {
				const char *s = ksyms_lookup(k, a);

				FUZZ_CHECK(!s || strlen(s) < 256);
				(void)ksyms_lookup(k, a - 1);
				(void)ksyms_lookup(k, a + 1);
			}
			p = nl ? nl + 1 : NULL;
		}
		(void)ksyms_lookup(k, 0);
		(void)ksyms_lookup(k, UINT64_MAX);
	}
	FUZZ_CHECK(ksyms_lookup(NULL, 1) == NULL);
	ksyms_free(k);
	free(text);
	return 0;
}
