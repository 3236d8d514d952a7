/* Cross-checks pylt_line against a real interpreter: reads the stream written by
 * tests/py/dump_linetables.py on stdin, decodes every code unit of every code object and compares
 * with the line CPython reported. Prints "units=N mismatches=M ..."; exits 0 only on a full match. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pylinetable.h"

#define FORMAT_VERSION  1
#define MAX_SHOWN       10
#define MAX_TABLE       (16u << 20)
#define MAX_UNITS       (16u << 20)

struct totals {
	uint64_t units, lined, mismatches, code_objects;
	uint32_t files_ok, files_failed, dumper_code_objects;
	uint64_t addr2line_checked, addr2line_differ;
};

struct record {
	uint16_t version;
	int32_t firstlineno;
	uint32_t table_len, n_units;
	uint16_t name_len;
	char name[65536];
	uint8_t *table;
	int32_t *expected; /* units -1 .. n_units-1 */
};

static int read_exact(void *buf, size_t n)
{
	return fread(buf, 1, n, stdin) == n ? 0 : -EIO;
}

#define READ_FIELD(f) read_exact(&(f), sizeof(f))

static int read_record(struct record *r)
{
	void *p;

	if (READ_FIELD(r->version) || READ_FIELD(r->firstlineno) || READ_FIELD(r->table_len) ||
	    READ_FIELD(r->n_units) || READ_FIELD(r->name_len))
		return -EIO;
	if (r->table_len > MAX_TABLE || r->n_units > MAX_UNITS)
		return -E2BIG;
	if (read_exact(r->name, r->name_len))
		return -EIO;
	r->name[r->name_len] = '\0';
	/* Exact size, fresh per record, so a SAN=1 build catches the decoder reading past it. */
	free(r->table);
	r->table = malloc(r->table_len);
	if (!r->table && r->table_len)
		return -ENOMEM;
	p = realloc(r->expected, ((size_t)r->n_units + 1) * sizeof(int32_t));
	if (!p)
		return -ENOMEM;
	r->expected = p;
	if (read_exact(r->table, r->table_len) ||
	    read_exact(r->expected, ((size_t)r->n_units + 1) * sizeof(int32_t)))
		return -EIO;
	return 0;
}

static void check_record(const struct record *r, struct totals *t)
{
	for (int64_t u = -1; u < (int64_t)r->n_units; u++) {
		int want = r->expected[u + 1];
		int got = pylt_line(r->version, r->table, r->table_len, r->firstlineno, (int32_t)u);

		if (u >= 0) {
			t->units++;
			t->lined += want >= 0;
		}
		if (got == want)
			continue;
		if (t->mismatches < MAX_SHOWN)
			printf("mismatch %s version=%#06x unit=%" PRId64 " expected=%d got=%d\n",
			       r->name, r->version, u, want, got);
		t->mismatches++;
	}
	t->code_objects++;
}

static int read_trailer(struct totals *t)
{
	if (READ_FIELD(t->files_ok) || READ_FIELD(t->files_failed) ||
	    READ_FIELD(t->dumper_code_objects) || READ_FIELD(t->addr2line_checked) ||
	    READ_FIELD(t->addr2line_differ))
		return -EIO;
	return 0;
}

static int check_stream(struct totals *t)
{
	struct record *r = calloc(1, sizeof(*r));
	char magic[4];
	uint32_t format;
	int tag, err = -ENOMEM;

	if (!r)
		goto cleanup;
	err = -EPROTO;
	if (read_exact(magic, sizeof(magic)) || memcmp(magic, "PYLT", 4) || READ_FIELD(format) ||
	    format != FORMAT_VERSION)
		goto cleanup;
	while ((tag = getchar()) == 'C') {
		err = read_record(r);
		if (err)
			goto cleanup;
		check_record(r, t);
	}
	/* A dumper that died mid-way leaves no trailer: that is a failure, not a short pass. */
	err = tag == 'E' ? read_trailer(t) : -EPROTO;
	if (!err && t->dumper_code_objects != t->code_objects)
		err = -EPROTO;
cleanup:
	if (r) {
		free(r->table);
		free(r->expected);
	}
	free(r);
	return err;
}

int main(void)
{
	struct totals t = { 0 };
	int err = check_stream(&t);

	printf("units=%" PRIu64 " mismatches=%" PRIu64 " lined=%" PRIu64 " code_objects=%" PRIu64
	       " files_ok=%u files_failed=%u addr2line_checked=%" PRIu64 " addr2line_differ=%" PRIu64 "\n",
	       t.units, t.mismatches, t.lined, t.code_objects, t.files_ok, t.files_failed,
	       t.addr2line_checked, t.addr2line_differ);
	if (err) {
		fprintf(stderr, "Failed to read the line-table stream: %s\n", strerror(-err));
		return 2;
	}
	if (t.addr2line_differ) {
		fprintf(stderr, "The dumper's expectations disagree with PyCode_Addr2Line\n");
		return 3;
	}
	return t.mismatches ? 1 : 0;
}
