/* Discovery of CPython interpreters in other processes: which ELF holds the runtime, where
 * _PyRuntime is, which version and struct layout apply. Reads /proc/PID/{maps,root} and ELF files;
 * never stops the target. */
#ifndef PYTARGET_H
#define PYTARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyoffsets.h"
#include "pyrometer_bpf.h"

struct py_target {
	pid_t pid;
	uint16_t version;          /* 0xMMmm */
	uint32_t version_hex;      /* full PY_VERSION_HEX when the binary exports Py_Version, else 0 */
	uint64_t runtime_addr;     /* &_PyRuntime in the target */
	uint64_t none_addr;        /* &_Py_NoneStruct, 0 if unknown */
	uint64_t code_type_addr;   /* &PyCode_Type, used to validate code objects; 0 if unknown */
	uint64_t bias;             /* load bias of the runtime's ELF */
	uint32_t tsd_first_block;  /* glibc specific_1stblock offset in struct pthread */
	const struct py_layout *layout;
	bool shared;               /* runtime in libpython3.X.so, not the executable */
	bool has_usdt;             /* ELF carries .note.stapsdt python probes */
	char elf_path[PATH_MAX];   /* path of that ELF inside the target's mount namespace */
	char exe[PATH_MAX];        /* /proc/PID/exe target */
};

/* Fills *t for process pid. Returns 0, or
 *   -ESRCH   no such process (or it exited during discovery),
 *   -ENOEXEC not a CPython process (no python runtime mapped),
 *   -ENOTSUP CPython of a version without a layout in this build (t->version is set),
 *   -EAGAIN  interpreter mapped but not yet initialized (retry later),
 *   other -errno on I/O errors. */
int py_discover(pid_t pid, struct py_target *t);

/* The BPF-side configuration for a discovered target. */
void py_target_cfg(const struct py_target *t, struct pm_proc_cfg *cfg);

/* "3.11.2" style text of t's version into buf. */
void py_version_str(const struct py_target *t, char *buf, size_t len);

#endif
