/* Fuzz target: what the off-CPU source reads from a traced program's files: a line of its Python
 * source (offcpu_src_line) and the callee on it (offcpu_src_callee), and /proc/PID/io text
 * (io_parse_proc_io). The input is a file's bytes; every line number up to the count of lines + 1
 * is tried. A line comes back NUL-terminated, without newline or leading blanks, within its
 * buffer; a callee is a dotted name, as long as reported, that occurs in the line. */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"
#include "io.h"
#include "offcpu.h"

static void check_callee(const char *line)
{
	char out[64];
	size_t n = offcpu_src_callee(line, out, sizeof(out));

	FUZZ_CHECK(n == strlen(out) && n < sizeof(out));
	if (!n)
		return;
	FUZZ_CHECK(strstr(line, out) != NULL);
	FUZZ_CHECK(isalpha((unsigned char)out[0]) || out[0] == '_');
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(isalnum((unsigned char)out[i]) || out[i] == '_' || out[i] == '.');
	FUZZ_CHECK(out[n - 1] != '.');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct io_proc_io pio;
	char line[256];
	size_t lines = 0;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (size_t k = 0; k <= lines + 1 && k < 512; k++) {
		int rc = offcpu_src_line(text, size, (int)k, line, sizeof(line));

		FUZZ_CHECK(rc == 0 || rc == -ENOENT);
		if (k == 0)
			FUZZ_CHECK(rc == -ENOENT);
		if (rc)
			continue;
		FUZZ_CHECK(strlen(line) < sizeof(line) && !strchr(line, '\n'));
		FUZZ_CHECK(line[0] != ' ' && line[0] != '\t');
		check_callee(line);
	}
	if (size < 4096) {
		char *z = malloc(size + 1);

		if (!z)
			return 0;
		memcpy(z, data, size);
		z[size] = 0;
		FUZZ_CHECK(io_parse_proc_io(z, &pio) == 0 || io_parse_proc_io(z, &pio) == -EINVAL);
		free(z);
	}
	return 0;
}
