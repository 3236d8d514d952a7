/* Probe sites of a CPython interpreter's collector and allocators (include/pyprobe.h). The
 * collector's name and signature per version come from CPython's Modules/gcmodule.c (3.6-3.12) and
 * Python/gc.c (3.13); gcc's constant-propagation clones of collect() in 3.6-3.8 are probed too.
 * USDT sites are read from the SystemTap notes (sourceware.org/systemtap/wiki/UserSpaceProbeImplementation)
 * and attached as plain uprobes, so each is an ordinary perf link that can be closed anywhere. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyprobe.h"
#include "pyrometer_bpf.h"

struct gc_candidate {
	uint16_t min, max; /* versions, 0xMMmm */
	const char *name;
	uint32_t how;      /* PM_GC_ARG_* */
};

static const struct gc_candidate gc_candidates[] = {
	/* 3.10+: gc_collect_main(tstate, generation, ...) */
	{ 0x030a, 0x03ff, "gc_collect_main", PM_GC_ARG_PARM2 },
	/* 3.9: collect(tstate, generation, ...) */
	{ 0x0309, 0x0309, "collect", PM_GC_ARG_PARM2 },
	/* 3.8: collect(state, generation, ...); its clones drop the constant state first */
	{ 0x0308, 0x0308, "collect", PM_GC_ARG_PARM2 },
	{ 0x0308, 0x0308, "collect.constprop.1", PM_GC_ARG_PARM1 },
	/* 3.6, 3.7: collect(generation, ...) */
	{ 0x0306, 0x0307, "collect", PM_GC_ARG_PARM1 },
	/* 3.6-3.8: the _PyGC_CollectNoFail / finalization clone, always the oldest generation */
	{ 0x0306, 0x0308, "collect.constprop.0", PM_GC_ARG_CONST | 2 },
};

static void set_func(struct pyprobe_func *f, const char *name, uint64_t cookie, bool ret)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->cookie = cookie;
	f->ret = ret;
}

/* ---- USDT notes ----------------------------------------------------------------------------- */

/* File offset of virtual address v: inside a PT_LOAD's file image. */
static int vaddr_to_offset(Elf *elf, uint64_t v, uint64_t *off)
{
	GElf_Phdr ph;
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && v >= ph.p_vaddr &&
		    v < ph.p_vaddr + ph.p_filesz) {
			*off = v - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	return -ENOENT;
}

static Elf_Scn *scn_named(Elf *elf, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (gelf_getshdr(scn, sh) && (n = elf_strptr(elf, shstrndx, sh->sh_name)) && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* One stapsdt note's descriptor: pc, base, semaphore, then provider, name, args strings. */
static int parse_note(Elf *elf, const char *desc, size_t len, uint64_t base_addr, const char *provider,
		      const char *name, struct pyprobe_usdt *out)
{
	uint64_t pc, base, sema;
	const char *prov = desc + 24, *nm, *args, *end = desc + len;

	if (len < 24 + 3)
		return -EINVAL;
	memcpy(&pc, desc, 8);
	memcpy(&base, desc + 8, 8);
	memcpy(&sema, desc + 16, 8);
	nm = memchr(prov, 0, end - prov);
	if (!nm++ || nm >= end || !(args = memchr(nm, 0, end - nm)) || ++args > end || !memchr(args, 0, end - args))
		return -EINVAL;
	if (strcmp(prov, provider) || strcmp(nm, name))
		return -ENOENT;
	/* prelinked or moved: the note's base says where .stapsdt.base was at link time */
	if (base_addr && base)
		pc += base_addr - base;
	memset(out, 0, sizeof(*out));
	snprintf(out->args, sizeof(out->args), "%s", args);
	if (vaddr_to_offset(elf, pc, &out->offset))
		return -EINVAL;
	if (sema && vaddr_to_offset(elf, sema, &out->ref_ctr))
		return -EINVAL;
	return 0;
}

static int usdt_in(Elf *elf, const char *provider, const char *name, struct pyprobe_usdt *out)
{
	GElf_Shdr sh, bsh;
	GElf_Nhdr nh;
	Elf_Scn *scn = scn_named(elf, ".note.stapsdt", &sh);
	uint64_t base_addr = scn_named(elf, ".stapsdt.base", &bsh) ? bsh.sh_addr : 0;
	size_t off = 0, name_off, desc_off;
	Elf_Data *data;

	if (!scn || sh.sh_type != SHT_NOTE || !(data = elf_getdata(scn, NULL)))
		return -ENOENT;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type != 3 || nh.n_namesz != sizeof("stapsdt") ||
		    memcmp((const char *)data->d_buf + name_off, "stapsdt", sizeof("stapsdt")))
			continue;
		if (!parse_note(elf, (const char *)data->d_buf + desc_off, nh.n_descsz, base_addr, provider, name, out))
			return 0;
	}
	return -ENOENT;
}

int pyprobe_usdt_find(const char *path, const char *provider, const char *name, struct pyprobe_usdt *out)
{
	int fd, err;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf && elf_kind(elf) == ELF_K_ELF ? usdt_in(elf, provider, name, out) : -ENOEXEC;
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* struct pt_regs slots (arch/x86/include/asm/ptrace.h) by register name, any width */
static const struct {
	const char *names[4];
	int slot;
} x86_regs[] = {
	{ { "rax", "eax", "ax", "al" }, 10 },   { { "rbx", "ebx", "bx", "bl" }, 5 },
	{ { "rcx", "ecx", "cx", "cl" }, 11 },   { { "rdx", "edx", "dx", "dl" }, 12 },
	{ { "rsi", "esi", "si", "sil" }, 13 },  { { "rdi", "edi", "di", "dil" }, 14 },
	{ { "rbp", "ebp", "bp", "bpl" }, 4 },   { { "rsp", "esp", "sp", "spl" }, 19 },
	{ { "r8", "r8d", "r8w", "r8b" }, 9 },   { { "r9", "r9d", "r9w", "r9b" }, 8 },
	{ { "r10", "r10d", "r10w", "r10b" }, 7 }, { { "r11", "r11d", "r11w", "r11b" }, 6 },
	{ { "r12", "r12d", "r12w", "r12b" }, 3 }, { { "r13", "r13d", "r13w", "r13b" }, 2 },
	{ { "r14", "r14d", "r14w", "r14b" }, 1 }, { { "r15", "r15d", "r15w", "r15b" }, 0 },
	{ { "rip", "eip", "ip", "" }, 16 },
};

static int reg_slot(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(x86_regs) / sizeof(x86_regs[0]); i++)
		for (int w = 0; w < 4; w++)
			if (*x86_regs[i].names[w] && strlen(x86_regs[i].names[w]) == len &&
			    !strncmp(x86_regs[i].names[w], name, len))
				return x86_regs[i].slot;
	return -1;
}

int pyprobe_usdt_arg(const char *args, unsigned index, uint64_t *spec)
{
	const char *p = args, *at, *q;
	char *end;
	long size, off = 0;
	int slot;

	while (*p == ' ')
		p++;
	for (unsigned i = 0; i < index; i++) {
		p = strchr(p, ' ');
		if (!p)
			return -ENOENT;
		while (*p == ' ')
			p++;
	}
	if (!*p)
		return -ENOENT;
	size = strtol(p, &end, 10);
	if (end == p || *end != '@' || (labs(size) != 1 && labs(size) != 2 && labs(size) != 4 && labs(size) != 8))
		return -EINVAL;
	at = end + 1;
	if (*at == '$') { /* constant */
		off = strtol(at + 1, &end, 10);
		if (end == at + 1 || (*end && *end != ' '))
			return -EINVAL;
		*spec = PM_USDT_ARG(PM_USDT_CONST, 0, labs(size), size < 0, off);
		return 0;
	}
	if (*at == '%') { /* register */
		q = at + 1;
		while (*q && *q != ' ')
			q++;
		if ((slot = reg_slot(at + 1, (size_t)(q - at - 1))) < 0)
			return -EINVAL;
		*spec = PM_USDT_ARG(PM_USDT_REG, slot, labs(size), size < 0, 0);
		return 0;
	}
	/* memory: [off](%reg) */
	if (*at != '(') {
		off = strtol(at, &end, 10);
		if (end == at || *end != '(')
			return -EINVAL;
		at = end;
	}
	if (at[1] != '%' || !(q = strchr(at, ')')) || (q[1] && q[1] != ' ') || (slot = reg_slot(at + 2, (size_t)(q - at - 2))) < 0 ||
	    off < INT32_MIN || off > INT32_MAX)
		return -EINVAL;
	*spec = PM_USDT_ARG(PM_USDT_DEREF, slot, labs(size), size < 0, off);
	return 0;
}

/* ---- the collector -------------------------------------------------------------------------- */

static int gc_usdt(const char *path, struct pyprobe_gc *out)
{
	struct pyprobe_usdt start, done;
	uint64_t arg;
	int err = pyprobe_usdt_find(path, "python", "gc__start", &start);

	if (!err)
		err = pyprobe_usdt_find(path, "python", "gc__done", &done);
	if (err)
		return err;
	if (pyprobe_usdt_arg(start.args, 0, &arg))
		arg = 0; /* time the pause anyway; the generation is then unknown */
	set_func(&out->funcs[0], "gc__start", arg ? PM_GC_ARG_USDT | arg : PM_GC_ARG_UNKNOWN, false);
	out->funcs[0].offset = start.offset;
	out->funcs[0].ref_ctr = start.ref_ctr;
	set_func(&out->funcs[1], "gc__done", 0, false);
	out->funcs[1].offset = done.offset;
	out->funcs[1].ref_ctr = done.ref_ctr;
	out->funcs[1].end = true;
	out->nfuncs = 2;
	out->kind = PYPROBE_GC_USDT;
	return 0;
}

int pyprobe_gc_find(const char *path, uint16_t version, struct pyprobe_gc *out)
{
	struct elfsym *e;
	uint64_t value, size;
	int err;

	memset(out, 0, sizeof(*out));
	err = gc_usdt(path, out);
	if (err != -ENOENT)
		return err;
	memset(out, 0, sizeof(*out));
	err = elfsym_open(path, &e);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(gc_candidates) / sizeof(gc_candidates[0]); i++) {
		const struct gc_candidate *c = &gc_candidates[i];

		if (version < c->min || version > c->max || out->nfuncs >= PYPROBE_MAX_FUNCS)
			continue;
		if (elfsym_lookup(e, c->name, &value, &size) || !value)
			continue;
		set_func(&out->funcs[out->nfuncs++], c->name, c->how, true);
	}
	elfsym_close(e);
	out->kind = out->nfuncs ? PYPROBE_GC_UPROBE : PYPROBE_GC_NONE;
	return out->nfuncs ? 0 : -ENOENT;
}

void pyprobe_gc_describe(const struct pyprobe_gc *g, char *buf, size_t len)
{
	size_t n;

	switch (g->kind) {
	case PYPROBE_GC_USDT:
		snprintf(buf, len, "usdt python:gc__start/gc__done");
		return;
	case PYPROBE_GC_UPROBE:
		n = (size_t)snprintf(buf, len, "uprobe");
		for (unsigned i = 0; i < g->nfuncs && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : " ", g->funcs[i].name);
		return;
	default:
		snprintf(buf, len, "none");
	}
}

static bool has(const struct elfsym *e, const char *name)
{
	uint64_t value, size;

	return !elfsym_lookup(e, name, &value, &size) && value;
}

int pyprobe_alloc_python(const struct elfsym *e, struct pyprobe_alloc *out)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} impl[] = {
		{ "_PyObject_Malloc", PM_ALLOC_MALLOC },   { "_PyObject_Calloc", PM_ALLOC_CALLOC },
		{ "_PyObject_Realloc", PM_ALLOC_REALLOC }, { "_PyObject_Free", PM_ALLOC_FREE },
	}, api[] = {
		{ "PyObject_Malloc", PM_ALLOC_MALLOC },   { "PyObject_Calloc", PM_ALLOC_CALLOC },
		{ "PyObject_Realloc", PM_ALLOC_REALLOC }, { "PyObject_Free", PM_ALLOC_FREE },
		{ "PyMem_Malloc", PM_ALLOC_MALLOC },      { "PyMem_Calloc", PM_ALLOC_CALLOC },
		{ "PyMem_Realloc", PM_ALLOC_REALLOC },    { "PyMem_Free", PM_ALLOC_FREE },
	};
	bool complete = true;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 4; i++)
		complete = complete && has(e, impl[i].name);
	if (complete) {
		/* pymalloc's functions take the allocator's ctx first */
		for (size_t i = 0; i < 4; i++)
			set_func(&out->funcs[out->nfuncs++], impl[i].name, impl[i].kind | PM_ALLOC_CTX,
				 impl[i].kind != PM_ALLOC_FREE);
		out->complete = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
		if (has(e, api[i].name))
			set_func(&out->funcs[out->nfuncs++], api[i].name, api[i].kind, api[i].kind != PM_ALLOC_FREE);
	return out->nfuncs ? 0 : -ENOENT;
}

int pyprobe_alloc_libc(const struct elfsym *e, struct pyprobe_alloc *out)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} fns[] = {
		{ "malloc", PM_ALLOC_MALLOC },   { "calloc", PM_ALLOC_CALLOC },
		{ "realloc", PM_ALLOC_REALLOC }, { "free", PM_ALLOC_FREE },
	};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 4; i++)
		if (has(e, fns[i].name))
			set_func(&out->funcs[out->nfuncs++], fns[i].name, fns[i].kind | PM_ALLOC_RAW,
				 fns[i].kind != PM_ALLOC_FREE);
	out->complete = out->nfuncs == 4;
	return out->nfuncs ? 0 : -ENOENT;
}
