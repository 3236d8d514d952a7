/* Fuzz target: ELF queries (src/elfsym.c over libelf) as interpreter discovery runs them. The
 * input is the whole file, served from a memfd through /proc/self/fd so elfsym_open maps it as
 * it would a binary on disk. Every query discovery uses is asked; answers that name memory
 * (read_vaddr) must stay inside the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elfsym.h"
#include "fuzz.h"

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	memfd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

/* Reads of several sizes at vaddr into an exact-size heap buffer, so an out-of-range copy is
 * caught by ASan on either side. */
static void read_at(const struct elfsym *e, uint64_t vaddr, size_t size)
{
	static const size_t lens[] = { 1, 4, 8, 64, 4096 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *buf = malloc(lens[i]);
		int rc;

		if (!buf)
			abort();
		rc = elfsym_read_vaddr(e, vaddr, buf, lens[i]);
		FUZZ_CHECK(rc == 0 || rc == -EFAULT);
		FUZZ_CHECK(rc != 0 || lens[i] <= size);
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const syms[] = { "_PyRuntime", "Py_Version", "PyCode_Type", "_Py_NoneStruct",
					    "" };
	static const char *const sections[] = { ".PyRuntime", ".note.stapsdt", ".dynamic", ".symtab", "" };
	const char *needed[8];
	struct elfsym *e;
	uint64_t v, sz, off;
	size_t n;

	if (ftruncate(memfd, 0) < 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	if (elfsym_open(path, &e))
		return 0;
	(void)elfsym_type(e);
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
		if (!elfsym_lookup(e, syms[i], &v, &sz))
			read_at(e, v, size);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!elfsym_section(e, sections[i], &v, &sz))
			read_at(e, v, size);
	if (!elfsym_first_load(e, &v, &off))
		read_at(e, v, size);
	read_at(e, 0, size);
	n = elfsym_needed(e, needed, 8);
	for (size_t i = 0; i < n && i < 8; i++)
		FUZZ_CHECK(strlen(needed[i]) < size);
	(void)elfsym_has_usdt(e, "python");
	elfsym_close(e);
	return 0;
}
