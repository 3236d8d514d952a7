/* Finds the CPython runtime in another process: which mapped ELF holds _PyRuntime (executable or
 * libpython), its load bias, version and layout, and the glibc TSD slot layout that leads from a
 * thread's fs base to its PyThreadState. Only reads /proc and target memory. */
#define _GNU_SOURCE
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfsym.h"
#include "procmaps.h"
#include "procmem.h"
#include "pytarget.h"

#define TSD_DEFAULT_FIRST_BLOCK 0x310 /* glibc 2.27-2.38 x86_64 offsetof(struct pthread, specific_1stblock) */
#define TSD_SCAN_LO             0x100 /* window searched when the default slot does not hold tstate */
#define TSD_SCAN_HI             0x800
#define TSD_FIRST_BLOCK_KEYS    32    /* keys below this live in specific_1stblock */
#define MAX_INTERPS             64    /* bounds on list walks in a process that may be changing */
#define MAX_THREADS             4096
#define PAGE_MASK_4K            0xfffULL

/* What a mapping's file name says: libpython3.X*.so* or python3.X[d|m|dm]. */
struct py_name {
	bool is_lib;
	int minor; /* -1 when the name carries no version */
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Parses "3.<digits>" at s; returns the minor and sets *rest, or -1. */
static int parse_minor(const char *s, const char **rest)
{
	int minor = 0, digits = 0;

	if (strncmp(s, "3.", 2))
		return -1;
	for (s += 2; isdigit((unsigned char)*s) && digits < 3; s++, digits++)
		minor = minor * 10 + (*s - '0');
	if (!digits)
		return -1;
	*rest = s;
	return minor;
}

static bool classify_name(const char *path, struct py_name *out)
{
	const char *b = base_name(path), *rest;
	int minor;

	if (!strncmp(b, "libpython", 9)) {
		minor = parse_minor(b + 9, &rest);
		if (minor < 0 || !strstr(rest, ".so"))
			return false;
		*out = (struct py_name){ .is_lib = true, .minor = minor };
		return true;
	}
	if (!strncmp(b, "python", 6)) {
		minor = parse_minor(b + 6, &rest);
		if (minor < 0 || (*rest && strcmp(rest, "d") && strcmp(rest, "m") && strcmp(rest, "dm")))
			return false;
		*out = (struct py_name){ .is_lib = false, .minor = minor };
		return true;
	}
	return false;
}

static bool process_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Opens the file behind mapping m as the target sees it: through its root, or through
 * map_files when the file was deleted or replaced (or the root path fails). */
static int open_mapped(pid_t pid, const struct procmaps_entry *m, struct elfsym **out)
{
	char path[PATH_MAX + 64];
	int err = -ENOENT;

	if (!m->deleted) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, m->path);
		err = elfsym_open(path, out);
		if (!err || err == -ENOEXEC)
			return err;
	}
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	err = elfsym_open(path, out);
	if (err && process_gone(pid))
		return -ESRCH;
	return err;
}

static bool needs_libpython(const struct elfsym *e)
{
	const char *names[64];
	size_t n = elfsym_needed(e, names, 64);

	for (size_t i = 0; i < n && i < 64; i++)
		if (!strncmp(names[i], "libpython3.", 11))
			return true;
	return false;
}

/* Picks the mapping holding the runtime, opens its ELF into *elf and notes the name's version. */
static int pick_runtime_elf(pid_t pid, const struct procmaps *maps, const char *exe,
			    const struct procmaps_entry **chosen, struct py_name *name,
			    struct elfsym **elf)
{
	const struct procmaps_entry *exe_map = NULL, *lib_map = NULL;
	struct py_name exe_name = { 0 }, lib_name = { 0 }, nm;
	uint64_t v;
	int err;

	for (size_t i = 0; i < maps->n; i++) {
		const struct procmaps_entry *m = &maps->entries[i];

		if (m->path[0] != '/' || !classify_name(m->path, &nm))
			continue;
		if (nm.is_lib && !lib_map) {
			lib_map = m;
			lib_name = nm;
		} else if (!nm.is_lib && !exe_map) {
			exe_map = m;
			exe_name = nm;
		}
	}
	if (exe_map) {
		err = open_mapped(pid, exe_map, elf);
		if (err)
			return err;
		if (!needs_libpython(*elf)) {
			*chosen = exe_map;
			*name = exe_name;
			return 0;
		}
		elfsym_close(*elf);
		*elf = NULL;
		if (!lib_map)
			return -EAGAIN; /* still inside ld.so: libpython not mapped yet */
	}
	if (lib_map) {
		*chosen = lib_map;
		*name = lib_name;
		return open_mapped(pid, lib_map, elf);
	}
	/* An interpreter under another name (copied or renamed binary): accept the executable if
	 * it defines _PyRuntime. */
	for (size_t i = 0; exe[0] && i < maps->n; i++) {
		if (strcmp(maps->entries[i].path, exe))
			continue;
		if (open_mapped(pid, &maps->entries[i], elf))
			break;
		if (!elfsym_lookup(*elf, "_PyRuntime", &v, NULL)) {
			*chosen = &maps->entries[i];
			*name = (struct py_name){ .is_lib = false, .minor = -1 };
			return 0;
		}
		elfsym_close(*elf);
		*elf = NULL;
		break;
	}
	return process_gone(pid) ? -ESRCH : -ENOEXEC;
}

static int compute_bias(const struct procmaps *maps, const struct procmaps_entry *m,
			const struct elfsym *elf, uint64_t *bias)
{
	const struct procmaps_entry *base;
	uint64_t vaddr, off;

	if (elfsym_type(elf) == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	if (elfsym_type(elf) != ET_DYN || elfsym_first_load(elf, &vaddr, &off))
		return -ENOEXEC;
	base = procmaps_find(maps, m->path, 0);
	if (!base)
		return -ENOEXEC;
	*bias = base->start - (vaddr & ~PAGE_MASK_4K);
	return 0;
}

/* Address of a symbol in the target, or 0 when the ELF does not define it. */
static uint64_t symbol_addr(const struct elfsym *elf, const char *name, uint64_t bias)
{
	uint64_t v;

	return elfsym_lookup(elf, name, &v, NULL) ? 0 : v + bias;
}

static int detect_version(struct py_target *t, const struct elfsym *elf, const struct py_name *nm)
{
	uint64_t addr = symbol_addr(elf, "Py_Version", t->bias);
	uint32_t hex;
	int err;

	if (addr) {
		err = procmem_read_u32(t->pid, addr, &hex);
		if (err)
			return err;
		if ((hex >> 24) != 3)
			return -ENOEXEC;
		t->version_hex = hex;
		t->version = (uint16_t)(hex >> 16);
		return 0;
	}
	if (nm->minor < 0)
		return -ENOTSUP; /* a renamed pre-3.11 interpreter: no way to know the layout */
	t->version = (uint16_t)(0x0300 | nm->minor);
	return 0;
}

static int locate_runtime(struct py_target *t, const struct elfsym *elf)
{
	uint64_t v;

	if (!elfsym_lookup(elf, "_PyRuntime", &v, NULL) ||
	    !elfsym_section(elf, ".PyRuntime", &v, NULL)) {
		t->runtime_addr = v + t->bias;
		return 0;
	}
	return -ENOEXEC;
}

/* 3.13+: the interpreter's own _Py_DebugOffsets must agree with the generated layout. */
static int check_debug_offsets(const struct py_target *t)
{
	size_t need = py_layout_debug_size(t->layout);
	uint8_t *buf;
	int err;

	if (!need)
		return 0;
	buf = malloc(need);
	if (!buf)
		return -ENOMEM;
	err = procmem_read(t->pid, t->runtime_addr, buf, need);
	if (!err)
		err = py_layout_check_debug(t->layout, buf, need) == -EPROTO ? -ENOTSUP : 0;
	free(buf);
	return err;
}

/* Reads the TSS key; -EAGAIN while the runtime has not created it. */
static int read_tss_key(const struct py_target *t, int32_t *key)
{
	uint32_t init, k;
	int err;

	err = procmem_read_u32(t->pid, t->runtime_addr + t->layout->runtime_tss_initialized, &init);
	if (!err)
		err = procmem_read_u32(t->pid, t->runtime_addr + t->layout->runtime_tss_key, &k);
	if (err)
		return err;
	if (!init || (int32_t)k < 0)
		return -EAGAIN;
	*key = (int32_t)k;
	return 0;
}

/* Looks for the TSD block offset in thread `pthread` whose slot for key holds tstate: the default
 * first, then the scan window. Returns the offset, or 0 if no slot matches. */
static uint32_t find_tsd_block(pid_t pid, uint64_t pthread, int32_t key, uint64_t tstate)
{
	uint64_t v, win[(TSD_SCAN_HI - TSD_SCAN_LO) / 8];
	uint64_t slot = 16 * (uint64_t)key + 8;

	if (!procmem_read_u64(pid, pthread + TSD_DEFAULT_FIRST_BLOCK + slot, &v) && v == tstate)
		return TSD_DEFAULT_FIRST_BLOCK;
	if (procmem_read(pid, pthread + TSD_SCAN_LO + slot, win, sizeof(win)))
		return 0;
	for (uint32_t off = TSD_SCAN_LO; off < TSD_SCAN_HI; off += 8)
		if (win[(off - TSD_SCAN_LO) / 8] == tstate)
			return off;
	return 0;
}

/* Verifies (or learns) the glibc TSD layout on the interpreters' threads. Returns 0 with
 * t->tsd_first_block set, -EAGAIN if no thread state exists yet, -ENOENT if no thread's slot
 * could be found (t keeps the default). */
static int verify_tsd(struct py_target *t, int32_t key)
{
	const struct py_layout *l = t->layout;
	uint64_t interp, tstate, pthread;
	bool any = false;
	uint32_t off;
	int err;

	t->tsd_first_block = TSD_DEFAULT_FIRST_BLOCK;
	if (key >= TSD_FIRST_BLOCK_KEYS)
		return -ENOENT; /* second-level TSD blocks: the BPF walker cannot follow them either */
	err = procmem_read_u64(t->pid, t->runtime_addr + l->runtime_interp_head, &interp);
	for (int i = 0; !err && interp && i < MAX_INTERPS; i++) {
		err = procmem_read_u64(t->pid, interp + l->interp_threads_head, &tstate);
		for (int j = 0; !err && tstate && j < MAX_THREADS; j++) {
			any = true;
			err = procmem_read_u64(t->pid, tstate + l->tstate_thread_id, &pthread);
			if (!err && pthread && (off = find_tsd_block(t->pid, pthread, key, tstate))) {
				t->tsd_first_block = off;
				return 0;
			}
			if (!err)
				err = procmem_read_u64(t->pid, tstate + l->tstate_next, &tstate);
		}
		if (!err)
			err = procmem_read_u64(t->pid, interp + l->interp_next, &interp);
	}
	if (err == -ESRCH)
		return err;
	return any ? -ENOENT : -EAGAIN;
}

static int finish_target(struct py_target *t, const struct elfsym *elf)
{
	int32_t key;
	int err;

	t->layout = py_layout_for(t->version);
	if (!t->layout)
		return -ENOTSUP;
	err = locate_runtime(t, elf);
	if (!err)
		err = check_debug_offsets(t);
	if (err)
		return err;
	t->none_addr = symbol_addr(elf, "_Py_NoneStruct", t->bias);
	t->code_type_addr = symbol_addr(elf, "PyCode_Type", t->bias);
	t->has_usdt = elfsym_has_usdt(elf, "python");
	err = read_tss_key(t, &key);
	if (err)
		return err;
	err = verify_tsd(t, key);
	return err == -ENOENT ? 0 : err;
}

int py_discover(pid_t pid, struct py_target *t)
{
	const struct procmaps_entry *m = NULL;
	struct procmaps maps = { 0 };
	struct elfsym *elf = NULL;
	struct py_name nm;
	char link[64];
	ssize_t n;
	int err;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	err = procmaps_read(pid, &maps);
	if (err)
		return err;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, t->exe, sizeof(t->exe) - 1);
	t->exe[n > 0 ? n : 0] = '\0';
	err = pick_runtime_elf(pid, &maps, t->exe, &m, &nm, &elf);
	if (err)
		goto cleanup;
	snprintf(t->elf_path, sizeof(t->elf_path), "%s", m->path);
	t->shared = nm.is_lib;
	err = compute_bias(&maps, m, elf, &t->bias);
	if (!err)
		err = detect_version(t, elf, &nm);
	if (!err)
		err = finish_target(t, elf);
	if (err && err != -ESRCH && process_gone(pid))
		err = -ESRCH;
cleanup:
	elfsym_close(elf);
	procmaps_free(&maps);
	return err;
}

void py_target_cfg(const struct py_target *t, struct pm_proc_cfg *cfg)
{
	const struct py_layout *l = t->layout;

	memset(cfg, 0, sizeof(*cfg));
	cfg->runtime_addr = t->runtime_addr;
	cfg->none_addr = t->none_addr;
	cfg->tsd_first_block = t->tsd_first_block;
	cfg->py_version = t->version;
	cfg->flags = PM_PROC_VERIFY_TID;
	cfg->off = (struct pm_walk_offsets){
		.runtime_tss_key = l->runtime_tss_key,
		.tstate_frame = l->tstate_frame,
		.cframe_current_frame = l->cframe_current_frame,
		.frame_code = l->frame_code,
		.frame_previous = l->frame_previous,
		.frame_instr = l->frame_instr,
		.frame_owner = l->frame_owner,
		.code_adaptive = l->code_adaptive,
		.instr_kind = l->instr_kind,
		.owner_skip_min = l->owner_skip_min,
		.tstate_thread_id = l->tstate_thread_id,
	};
}

void py_version_str(const struct py_target *t, char *buf, size_t len)
{
	if (t->version_hex)
		snprintf(buf, len, "%u.%u.%u", t->version_hex >> 24, (t->version_hex >> 16) & 0xff,
			 (t->version_hex >> 8) & 0xff);
	else
		snprintf(buf, len, "%u.%u", t->version >> 8, t->version & 0xff);
}
