/* Symbolizer of captured Python frames: reads code objects out of the target, decodes names,
 * file and line table, and keeps them in a bounded LRU keyed by (pid, code address). The first
 * hit of an entry in each round (pysym_next_round) re-reads the code object's small header and
 * compares a fingerprint of it, so an address that now holds a different code object is re-read
 * instead of served stale; later hits in the same round are served from the cache. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "procmem.h"
#include "pylinetable.h"
#include "pystr.h"
#include "pysym.h"

#define PYSYM_MAX_CHARS     1024        /* code points kept of a name or file name */
#define PYSYM_MAX_UTF8      (PYSYM_MAX_CHARS * 4 + 4)
#define PYSYM_MAX_LINETABLE (64 * 1024) /* line-table bytes kept; later instructions get line 0 */
#define PYSYM_HDR_MAX       256         /* bytes of the code object read per resolve */
#define NIL                 (-1)

static const char unknown[] = "<unknown>";

struct entry {
	pid_t pid;
	uint64_t code;
	uint64_t fingerprint;
	uint32_t checked;     /* the round its header was last compared in (0: never) */
	uint16_t version;
	int firstlineno;
	char *name, *file;
	uint8_t *tab;
	size_t tablen;
	int32_t hnext;        /* hash chain */
	int32_t prev, next;   /* LRU list, most recent first; next also links the free list */
};

struct pysym {
	struct entry *e;
	size_t cap;
	int32_t *buckets;
	size_t nbuckets; /* power of two */
	int32_t head, tail, free;
	uint32_t round;  /* 0 until pysym_next_round(): every hit is checked */
	struct pysym_stats st;
};

/* The code object's fields, as read in one go from its start. */
struct code_hdr {
	uint8_t raw[PYSYM_HDR_MAX];
	size_t len;
};

struct pysym *pysym_new(size_t max_entries)
{
	struct pysym *s;

	if (!max_entries)
		max_entries = 1;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = max_entries;
	for (s->nbuckets = 16; s->nbuckets < 2 * max_entries; s->nbuckets *= 2)
		;
	s->e = calloc(s->cap, sizeof(*s->e));
	s->buckets = malloc(s->nbuckets * sizeof(*s->buckets));
	if (!s->e || !s->buckets) {
		pysym_free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->nbuckets; i++)
		s->buckets[i] = NIL;
	for (size_t i = 0; i < s->cap; i++)
		s->e[i].next = i + 1 < s->cap ? (int32_t)(i + 1) : NIL;
	s->free = 0;
	s->head = s->tail = NIL;
	return s;
}

static void entry_clear(struct entry *e)
{
	free(e->name);
	free(e->file);
	free(e->tab);
	e->name = e->file = NULL;
	e->tab = NULL;
}

void pysym_free(struct pysym *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->e && i < s->cap; i++)
		entry_clear(&s->e[i]);
	free(s->e);
	free(s->buckets);
	free(s);
}

static size_t bucket_of(const struct pysym *s, pid_t pid, uint64_t code)
{
	uint64_t h = (code >> 4) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uint32_t)pid * 0xc2b2ae3d27d4eb4fULL;

	return (size_t)(h >> 20) & (s->nbuckets - 1);
}

static void lru_unlink(struct pysym *s, int32_t i)
{
	struct entry *e = &s->e[i];

	if (e->prev != NIL)
		s->e[e->prev].next = e->next;
	else
		s->head = e->next;
	if (e->next != NIL)
		s->e[e->next].prev = e->prev;
	else
		s->tail = e->prev;
}

static void lru_push_front(struct pysym *s, int32_t i)
{
	struct entry *e = &s->e[i];

	e->prev = NIL;
	e->next = s->head;
	if (s->head != NIL)
		s->e[s->head].prev = i;
	s->head = i;
	if (s->tail == NIL)
		s->tail = i;
}

static void hash_unlink(struct pysym *s, int32_t i)
{
	int32_t *p = &s->buckets[bucket_of(s, s->e[i].pid, s->e[i].code)];

	while (*p != NIL && *p != i)
		p = &s->e[*p].hnext;
	if (*p == i)
		*p = s->e[i].hnext;
}

/* Removes entry i from the table and LRU and puts it on the free list. */
static void entry_drop(struct pysym *s, int32_t i)
{
	hash_unlink(s, i);
	lru_unlink(s, i);
	entry_clear(&s->e[i]);
	s->e[i].next = s->free;
	s->free = i;
	s->st.entries--;
}

static int32_t lookup(const struct pysym *s, pid_t pid, uint64_t code)
{
	int32_t i = s->buckets[bucket_of(s, pid, code)];

	while (i != NIL && (s->e[i].pid != pid || s->e[i].code != code))
		i = s->e[i].hnext;
	return i;
}

/* A free slot, evicting the least recently used entry when the table is full. */
static int32_t entry_alloc(struct pysym *s)
{
	int32_t i;

	if (s->free == NIL) {
		entry_drop(s, s->tail);
		s->st.evictions++;
	}
	i = s->free;
	s->free = s->e[i].next;
	return i;
}

/* ---- reading the target ------------------------------------------------------------------- */

static size_t code_hdr_len(const struct py_layout *l)
{
	const uint16_t ptrs[] = { l->object_type, l->code_filename, l->code_name, l->code_qualname,
				  l->code_linetable };
	const uint16_t ints[] = { l->code_argcount, l->code_kwonlyargcount, l->code_flags,
				  l->code_firstlineno };
	size_t len = 0;

	for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++)
		if (ptrs[i] != PYOFF_NONE && (size_t)ptrs[i] + 8 > len)
			len = ptrs[i] + 8;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if ((size_t)ints[i] + 4 > len)
			len = ints[i] + 4;
	return len;
}

static uint64_t hdr_u64(const struct code_hdr *h, uint16_t off)
{
	uint64_t v = 0;

	if (off != PYOFF_NONE && (size_t)off + 8 <= h->len)
		memcpy(&v, h->raw + off, 8);
	return v;
}

static int32_t hdr_i32(const struct code_hdr *h, uint16_t off)
{
	int32_t v = 0;

	if (off != PYOFF_NONE && (size_t)off + 4 <= h->len)
		memcpy(&v, h->raw + off, 4);
	return v;
}

/* FNV-1a over the fields that identify a code object: a new object at a reused address
 * differs in at least its string pointers. */
static uint64_t fingerprint(const struct py_layout *l, const struct code_hdr *h)
{
	const uint64_t vals[] = {
		hdr_u64(h, l->object_type), hdr_u64(h, l->code_filename), hdr_u64(h, l->code_name),
		hdr_u64(h, l->code_qualname), hdr_u64(h, l->code_linetable),
		(uint64_t)(uint32_t)hdr_i32(h, l->code_argcount) << 32 |
			(uint32_t)hdr_i32(h, l->code_kwonlyargcount),
		(uint64_t)(uint32_t)hdr_i32(h, l->code_flags) << 32 |
			(uint32_t)hdr_i32(h, l->code_firstlineno),
	};
	uint64_t fp = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		for (int b = 0; b < 8; b++)
			fp = (fp ^ ((vals[i] >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
	return fp;
}

static int read_code_hdr(const struct py_target *t, uint64_t code, struct code_hdr *h)
{
	int err;

	h->len = code_hdr_len(t->layout);
	if (h->len > sizeof(h->raw))
		return -EINVAL;
	err = procmem_read(t->pid, code, h->raw, h->len);
	if (err)
		return err;
	if (t->code_type_addr && hdr_u64(h, t->layout->object_type) != t->code_type_addr)
		return -EINVAL; /* not (or no longer) a code object */
	return 0;
}

/* Reads the str object at addr into a malloc'd UTF-8 string. */
static int read_str(const struct py_target *t, uint64_t addr, char **out)
{
	const struct py_layout *l = t->layout;
	uint8_t hdr[128], *data = NULL;
	struct pystr_shape sh;
	uint64_t where, len;
	uint32_t state;
	size_t n;
	char *utf8 = NULL;
	int err;

	if ((size_t)l->unicode_compact_data + 8 > sizeof(hdr))
		return -EINVAL;
	err = procmem_read(t->pid, addr, hdr, l->unicode_compact_data + 8);
	if (err)
		return err;
	memcpy(&state, hdr + l->unicode_state, 4);
	memcpy(&len, hdr + l->unicode_length, 8);
	pystr_shape(l, state, &sh);
	if (!sh.kind || (int64_t)len < 0)
		return -EINVAL;
	if (sh.compact)
		where = addr + (sh.ascii ? l->unicode_ascii_data : l->unicode_compact_data);
	else
		memcpy(&where, hdr + l->unicode_compact_data, 8); /* PyUnicodeObject.data.any */
	n = len > PYSYM_MAX_CHARS ? PYSYM_MAX_CHARS : (size_t)len;
	data = malloc(n * (size_t)sh.kind + 1);
	utf8 = malloc(PYSYM_MAX_UTF8);
	if (!data || !utf8) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = procmem_read(t->pid, where, data, n * (size_t)sh.kind);
	if (err)
		goto cleanup;
	pystr_to_utf8(data, n, sh.kind, utf8, PYSYM_MAX_UTF8);
	*out = utf8;
	utf8 = NULL;
cleanup:
	free(data);
	free(utf8);
	return err;
}

static int read_linetable(const struct py_target *t, uint64_t bytes_obj, uint8_t **tab,
			  size_t *len)
{
	const struct py_layout *l = t->layout;
	int64_t size;
	size_t n;
	int err;

	*tab = NULL;
	*len = 0;
	if (!bytes_obj)
		return 0;
	err = procmem_read(t->pid, bytes_obj + l->varobject_size, &size, sizeof(size));
	if (err)
		return err;
	if (size <= 0)
		return size < 0 ? -EINVAL : 0;
	n = size > PYSYM_MAX_LINETABLE ? PYSYM_MAX_LINETABLE : (size_t)size;
	*tab = malloc(n);
	if (!*tab)
		return -ENOMEM;
	err = procmem_read(t->pid, bytes_obj + l->bytes_sval, *tab, n);
	if (err) {
		free(*tab);
		*tab = NULL;
		return err;
	}
	*len = n;
	return 0;
}

/* Fills entry e (already cleared) from the code object whose header is h. */
static int entry_fill(const struct py_target *t, uint64_t code, const struct code_hdr *h,
		      struct entry *e)
{
	const struct py_layout *l = t->layout;
	uint64_t name = 0;
	int err;

	if (l->code_qualname != PYOFF_NONE)
		name = hdr_u64(h, l->code_qualname);
	if (!name)
		name = hdr_u64(h, l->code_name);
	err = read_str(t, name, &e->name);
	if (!err)
		err = read_str(t, hdr_u64(h, l->code_filename), &e->file);
	if (!err)
		err = read_linetable(t, hdr_u64(h, l->code_linetable), &e->tab, &e->tablen);
	if (err) {
		entry_clear(e);
		return err;
	}
	e->pid = t->pid;
	e->code = code;
	e->version = t->version;
	e->firstlineno = hdr_i32(h, l->code_firstlineno);
	e->fingerprint = fingerprint(l, h);
	return 0;
}

/* The code-unit index of a captured position (see enum pm_instr_kind). */
static int32_t unit_of(const struct py_layout *l, int32_t lasti)
{
	if (l->instr_kind == PM_INSTR_LASTI_BYTES)
		return lasti < 0 ? -1 : lasti / 2;
	return lasti;
}

static void fill_out(const struct py_target *t, const struct entry *e, int32_t lasti,
		     struct pysym_frame *out)
{
	int line = pylt_line(e->version, e->tab, e->tablen, e->firstlineno,
			     unit_of(t->layout, lasti));

	out->name = e->name;
	out->file = e->file;
	out->line = line > 0 ? line : 0;
}

int pysym_resolve(struct pysym *s, const struct py_target *t, uint64_t code, int32_t lasti,
		  struct pysym_frame *out)
{
	struct code_hdr h;
	int32_t i;
	int err;

	*out = (struct pysym_frame){ .name = unknown, .file = unknown, .line = 0 };
	if (!t->layout)
		return -EINVAL;
	i = lookup(s, t->pid, code);
	if (i != NIL && s->round && s->e[i].checked == s->round) {
		s->st.hits++;
		fill_out(t, &s->e[i], lasti, out);
		return 0;
	}
	err = read_code_hdr(t, code, &h);
	if (i != NIL) {
		/* An unreadable target (it exited) keeps its cached symbols: late stacks resolve. */
		if ((err && err != -EINVAL) ||
		    (!err && fingerprint(t->layout, &h) == s->e[i].fingerprint)) {
			s->st.hits++;
			s->e[i].checked = s->round;
			lru_unlink(s, i);
			lru_push_front(s, i);
			fill_out(t, &s->e[i], lasti, out);
			return 0;
		}
		s->st.stale++;
		entry_drop(s, i);
	}
	s->st.misses++;
	if (err) {
		s->st.failures++;
		return err;
	}
	i = entry_alloc(s);
	err = entry_fill(t, code, &h, &s->e[i]);
	if (err) {
		s->e[i].next = s->free;
		s->free = i;
		s->st.failures++;
		return err;
	}
	s->e[i].checked = s->round;
	s->e[i].hnext = s->buckets[bucket_of(s, t->pid, code)];
	s->buckets[bucket_of(s, t->pid, code)] = i;
	lru_push_front(s, i);
	s->st.entries++;
	fill_out(t, &s->e[i], lasti, out);
	return 0;
}

void pysym_next_round(struct pysym *s)
{
	if (++s->round == 0) /* wrapped: 0 means "never checked" */
		s->round = 1;
}

void pysym_forget(struct pysym *s, pid_t pid)
{
	int32_t i = s->head, next;

	while (i != NIL) {
		next = s->e[i].next;
		if (s->e[i].pid == pid)
			entry_drop(s, i);
		i = next;
	}
}

void pysym_get_stats(const struct pysym *s, struct pysym_stats *st)
{
	*st = s->st;
}
