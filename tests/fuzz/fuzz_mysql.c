/* Fuzz target: MySQL protocol reassembly (src/mysqlproto.c). Input as for fuzz_pgproto.c: u8 flags
 * (bit 0: first seen midstream), then transfers: u8 control (bit 0: server to client, bit 1: a
 * tail follows, bits 2-7: uncaptured bytes after the head / 37), a u16-length head, maybe a
 * u16-length tail. Reported queries must end at or after their start, carry a nonzero fingerprint,
 * an operation in range and a terminated SQLSTATE; encryption is reported at most once. */
#include "fuzz.h"
#include "mysqlproto.h"

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	FUZZ_CHECK(n->fingerprint != 0);
	FUZZ_CHECK(strnlen(n->text, sizeof(n->text)) < sizeof(n->text));
	FUZZ_CHECK(strnlen(n->tmpl, sizeof(n->tmpl)) < sizeof(n->tmpl));
}

static void on_query(void *ctx, const struct pg_query *q)
{
	FUZZ_CHECK(q->end_ns >= q->start_ns);
	FUZZ_CHECK(q->fingerprint != 0);
	FUZZ_CHECK(q->op >= 0 && q->op < SQL_OP_MAX);
	FUZZ_CHECK(strnlen(q->sqlstate, sizeof(q->sqlstate)) <= 5);
}

static void on_encrypted(void *ctx)
{
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pg_callbacks cb = { on_statement, on_query, on_encrypted };
	struct fuzz_in in = { data, size };
	int encrypted = 0;
	uint64_t ts = 1000;
	struct my_conn *c = my_conn_new(&cb, &encrypted, fuzz_uint(&in, 1) & 1);

	FUZZ_CHECK(c != NULL);
	while (in.n) {
		unsigned ctl = (unsigned)fuzz_uint(&in, 1);
		size_t hl, tl = 0;
		char *head = fuzz_chunk(&in, &hl), *tail = (ctl & 2) ? fuzz_chunk(&in, &tl) : NULL;
		struct pg_chunk ch = { .head = (const uint8_t *)head, .head_len = (uint32_t)hl,
				       .tail = (const uint8_t *)tail, .tail_len = (uint32_t)tl,
				       .total = hl + tl + (ctl >> 2) * 37, .ts_ns = ts, .tid = 1 };

		if (ts == 1000)
			(void)mysql_classify(ch.head, ch.head_len);
		my_conn_feed(c, (ctl & 1) ? PG_BACKEND : PG_FRONTEND, &ch);
		ts += 1 + (ctl & 0x3c);
		free(head);
		free(tail);
	}
	FUZZ_CHECK(encrypted <= 1 && my_conn_encrypted(c) == (encrypted == 1));
	my_conn_free(c);
	return 0;
}
