/* Fuzz target: Redis protocol reassembly (src/respproto.c). Input as for fuzz_pgproto.c: u8 flags
 * (bit 0: first seen midstream), then transfers: u8 control (bit 0: server to client, bit 1: a
 * tail follows, bits 2-7: uncaptured bytes after the head / 37), a u16-length head, maybe a
 * u16-length tail. Reported commands must end at or after their start, carry a nonzero
 * fingerprint and an operation in range; templates must be bounded, printable and free of
 * argument bytes (only names and '?'). */
#include <ctype.h>

#include "fuzz.h"
#include "respproto.h"

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	size_t len = strnlen(n->tmpl, sizeof(n->tmpl));

	FUZZ_CHECK(n->fingerprint != 0);
	FUZZ_CHECK(len < sizeof(n->tmpl));
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(isupper((unsigned char)n->tmpl[i]) || isdigit((unsigned char)n->tmpl[i]) ||
			   strchr("?_-.| ", n->tmpl[i]));
}

static void on_query(void *ctx, const struct pg_query *q)
{
	(*(uint64_t *)ctx)++;
	FUZZ_CHECK(q->end_ns >= q->start_ns);
	FUZZ_CHECK(q->fingerprint != 0);
	FUZZ_CHECK(q->op >= 0 && q->op < SQL_OP_MAX);
	FUZZ_CHECK(strnlen(q->sqlstate, sizeof(q->sqlstate)) <= 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pg_callbacks cb = { on_statement, on_query, NULL };
	struct fuzz_in in = { data, size };
	uint64_t queries = 0, ts = 1000;
	struct resp_conn *c = resp_conn_new(&cb, &queries, fuzz_uint(&in, 1) & 1);

	FUZZ_CHECK(c != NULL);
	while (in.n) {
		unsigned ctl = (unsigned)fuzz_uint(&in, 1);
		size_t hl, tl = 0;
		char *head = fuzz_chunk(&in, &hl), *tail = (ctl & 2) ? fuzz_chunk(&in, &tl) : NULL;
		struct pg_chunk ch = { .head = (const uint8_t *)head, .head_len = (uint32_t)hl,
				       .tail = (const uint8_t *)tail, .tail_len = (uint32_t)tl,
				       .total = hl + tl + (ctl >> 2) * 37, .ts_ns = ts, .tid = 1 };

		if (ts == 1000)
			(void)resp_classify(ch.head, ch.head_len);
		resp_conn_feed(c, (ctl & 1) ? PG_BACKEND : PG_FRONTEND, &ch);
		ts += 1 + (ctl & 0x3c);
		free(head);
		free(tail);
	}
	FUZZ_CHECK(resp_conn_stats(c)->messages[PG_BACKEND] + resp_conn_stats(c)->dropped + 256 >= queries);
	resp_conn_free(c);
	return 0;
}
