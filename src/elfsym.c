/* ELF queries with libelf for interpreter discovery: symbol values, load segments, DT_NEEDED,
 * sections and USDT notes. Files are mapped read-only and never modified. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfsym.h"

struct elfsym {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
};

int elfsym_open(const char *path, struct elfsym **out)
{
	struct elfsym *e;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &e->ehdr) ||
	    elf_getshdrstrndx(e->elf, &e->shstrndx)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	*out = e;
	return 0;
cleanup:
	elfsym_close(e);
	return err;
}

void elfsym_close(struct elfsym *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

int elfsym_type(const struct elfsym *e)
{
	return e->ehdr.e_type;
}

/* The first section of type `type`, or NULL. */
static Elf_Scn *section_of_type(const struct elfsym *e, GElf_Word type, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e->elf, scn)))
		if (gelf_getshdr(scn, sh) && sh->sh_type == type)
			return scn;
	return NULL;
}

static int lookup_in(const struct elfsym *e, GElf_Word type, const char *name, uint64_t *value,
		     uint64_t *size)
{
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Scn *scn = section_of_type(e, type, &sh);
	Elf_Data *data;
	const char *s;
	size_t n;

	if (!scn || !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
		return -ENOENT;
	n = sh.sh_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		s = elf_strptr(e->elf, sh.sh_link, sym.st_name);
		if (s && !strcmp(s, name)) {
			*value = sym.st_value;
			if (size)
				*size = sym.st_size;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym_lookup(const struct elfsym *e, const char *name, uint64_t *value, uint64_t *size)
{
	if (!lookup_in(e, SHT_DYNSYM, name, value, size))
		return 0;
	return lookup_in(e, SHT_SYMTAB, name, value, size);
}

int elfsym_first_load(const struct elfsym *e, uint64_t *vaddr, uint64_t *offset)
{
	GElf_Phdr ph;
	size_t n;

	if (elf_getphdrnum(e->elf, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			*vaddr = ph.p_vaddr;
			*offset = ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elfsym_read_vaddr(const struct elfsym *e, uint64_t vaddr, void *buf, size_t len)
{
	const char *image;
	size_t n, size;
	GElf_Phdr ph;

	if (elf_getphdrnum(e->elf, &n))
		return -EFAULT;
	image = elf_rawfile(e->elf, &size);
	for (size_t i = 0; image && i < n; i++) {
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr > ph.p_filesz ||
		    len > ph.p_filesz - (vaddr - ph.p_vaddr))
			continue;
		/* A hostile p_offset must not wrap the sum around to a small number. */
		if (ph.p_offset > size || vaddr - ph.p_vaddr > size - ph.p_offset ||
		    len > size - ph.p_offset - (vaddr - ph.p_vaddr))
			return -EFAULT;
		memcpy(buf, image + ph.p_offset + (vaddr - ph.p_vaddr), len);
		return 0;
	}
	return -EFAULT;
}

size_t elfsym_needed(const struct elfsym *e, const char **names, size_t max)
{
	GElf_Shdr sh;
	GElf_Dyn dyn;
	Elf_Scn *scn = section_of_type(e, SHT_DYNAMIC, &sh);
	Elf_Data *data;
	size_t count = 0;
	const char *s;

	if (!scn || !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
		return 0;
	for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
		if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag != DT_NEEDED)
			continue;
		s = elf_strptr(e->elf, sh.sh_link, dyn.d_un.d_val);
		if (!s)
			continue;
		if (count < max)
			names[count] = s;
		count++;
	}
	return count;
}

static Elf_Scn *section_named(const struct elfsym *e, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	const char *s;

	while ((scn = elf_nextscn(e->elf, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		s = elf_strptr(e->elf, e->shstrndx, sh->sh_name);
		if (s && !strcmp(s, name))
			return scn;
	}
	return NULL;
}

int elfsym_section(const struct elfsym *e, const char *name, uint64_t *addr, uint64_t *size)
{
	GElf_Shdr sh;

	if (!section_named(e, name, &sh))
		return -ENOENT;
	*addr = sh.sh_addr;
	if (size)
		*size = sh.sh_size;
	return 0;
}

/* A stapsdt note's descriptor: three addresses (pc, base, semaphore), then provider, name and
 * argument strings, each NUL-terminated. */
static bool note_is_provider(const struct elfsym *e, const char *desc, size_t len,
			     const char *provider)
{
	size_t addrs = (e->ehdr.e_ident[EI_CLASS] == ELFCLASS64 ? 8 : 4) * 3;

	if (len <= addrs)
		return false;
	return strnlen(desc + addrs, len - addrs) == strlen(provider) &&
	       !memcmp(desc + addrs, provider, strlen(provider));
}

bool elfsym_has_usdt(const struct elfsym *e, const char *provider)
{
	GElf_Shdr sh;
	GElf_Nhdr nh;
	Elf_Scn *scn = section_named(e, ".note.stapsdt", &sh);
	Elf_Data *data;
	size_t off = 0, name_off, desc_off;

	if (!scn || sh.sh_type != SHT_NOTE || !(data = elf_getdata(scn, NULL)))
		return false;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == 3 && nh.n_namesz == sizeof("stapsdt") &&
		    !memcmp((const char *)data->d_buf + name_off, "stapsdt", sizeof("stapsdt")) &&
		    note_is_provider(e, (const char *)data->d_buf + desc_off, nh.n_descsz, provider))
			return true;
	}
	return false;
}
