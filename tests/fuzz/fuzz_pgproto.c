/* Fuzz target: PostgreSQL wire reassembly (src/pgproto.c). Input: u8 flags (bit 0: the
 * connection is first seen midstream), then transfers: u8 control (bit 0: backend, bit 1: a tail
 * follows, bits 2-7: uncaptured bytes after the head / 37, as sendmsg's further iovecs leave
 * them even without a tail), a u16-length head, maybe a u16-length tail.
 * Every reported query must have its end at or after its start, a nonzero fingerprint, an
 * operation in range and a NUL-terminated SQLSTATE of at most 5 characters; every described
 * statement must have bounded, terminated texts; counters stay consistent. */
#include "fuzz.h"
#include "pgproto.h"

struct seen {
	uint64_t queries, statements, encrypted;
};

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	((struct seen *)ctx)->statements++;
	FUZZ_CHECK(n->fingerprint != 0);
	FUZZ_CHECK(strnlen(n->text, sizeof(n->text)) < sizeof(n->text));
	FUZZ_CHECK(strnlen(n->tmpl, sizeof(n->tmpl)) < sizeof(n->tmpl));
}

static void on_query(void *ctx, const struct pg_query *q)
{
	((struct seen *)ctx)->queries++;
	FUZZ_CHECK(q->end_ns >= q->start_ns);
	FUZZ_CHECK(q->fingerprint != 0);
	FUZZ_CHECK(q->op >= 0 && q->op < SQL_OP_MAX);
	FUZZ_CHECK(strnlen(q->sqlstate, sizeof(q->sqlstate)) <= 5);
	FUZZ_CHECK(q->error || !q->sqlstate[0]);
}

static void on_encrypted(void *ctx)
{
	((struct seen *)ctx)->encrypted++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pg_callbacks cb = { on_statement, on_query, on_encrypted };
	struct fuzz_in in = { data, size };
	struct seen seen = { 0 };
	bool midstream = fuzz_uint(&in, 1) & 1;
	struct pg_conn *c = pg_conn_new(&cb, &seen, midstream);
	uint64_t ts = 1000;

	FUZZ_CHECK(c != NULL);
	while (in.n) {
		unsigned ctl = (unsigned)fuzz_uint(&in, 1);
		size_t hl, tl = 0;
		char *head = fuzz_chunk(&in, &hl), *tail = (ctl & 2) ? fuzz_chunk(&in, &tl) : NULL;
		struct pg_chunk ch = { .head = (const uint8_t *)head, .head_len = (uint32_t)hl,
				       .tail = (const uint8_t *)tail, .tail_len = (uint32_t)tl,
				       .total = hl + tl + (ctl >> 2) * 37, .ts_ns = ts, .tid = 1, .stack = ts };

		if (ts == 1000)
			(void)pg_classify(ch.head, ch.head_len);
		pg_conn_feed(c, (ctl & 1) ? PG_BACKEND : PG_FRONTEND, &ch);
		ts += 1 + (ctl & 0x3c);
		free(head);
		free(tail);
	}
	FUZZ_CHECK(seen.encrypted <= 1);
	FUZZ_CHECK(pg_conn_encrypted(c) == (seen.encrypted == 1));
	pg_conn_free(c);
	return 0;
}
