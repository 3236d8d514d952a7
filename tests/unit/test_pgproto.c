/* Unit tests for the PostgreSQL wire parser: real message sequences (startup, simple and
 * extended protocol, SQL PREPARE/EXECUTE, errors, pipelining), every split of a transfer into
 * pieces, captured heads and tails with uncaptured middles, loss and recovery of framing,
 * SSL negotiation, and random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgproto.h"

/* ---- message builders ----------------------------------------------------------------------- */

struct buf {
	uint8_t b[65536];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = { v >> 8, v };

	put(b, x, 2);
}

static void putz(struct buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

/* A typed message: type, then a body assembled by the caller in `body`. */
static void msg(struct buf *b, char type, const struct buf *body)
{
	put(b, &type, 1);
	put32(b, (uint32_t)body->n + 4);
	put(b, body->b, body->n);
}

static void startup(struct buf *b)
{
	struct buf body = { .n = 0 };

	put32(&body, 196608);
	putz(&body, "user");
	putz(&body, "app");
	putz(&body, "database");
	putz(&body, "shop");
	put(&body, "", 1);
	put32(b, (uint32_t)body.n + 4);
	put(b, body.b, body.n);
}

static void query(struct buf *b, const char *sql)
{
	struct buf body = { .n = 0 };

	putz(&body, sql);
	msg(b, 'Q', &body);
}

static void parse(struct buf *b, const char *name, const char *sql)
{
	struct buf body = { .n = 0 };

	putz(&body, name);
	putz(&body, sql);
	put16(&body, 0);
	msg(b, 'P', &body);
}

static void bind1(struct buf *b, const char *portal, const char *stmt, const char *param)
{
	struct buf body = { .n = 0 };

	putz(&body, portal);
	putz(&body, stmt);
	put16(&body, 0);
	put16(&body, 1);
	put32(&body, (uint32_t)strlen(param));
	put(&body, param, strlen(param));
	put16(&body, 0);
	msg(b, 'B', &body);
}

static void execute(struct buf *b, const char *portal)
{
	struct buf body = { .n = 0 };

	putz(&body, portal);
	put32(&body, 0);
	msg(b, 'E', &body);
}

static void simple(struct buf *b, char type)
{
	struct buf body = { .n = 0 };

	msg(b, type, &body);
}

static void complete_tag(struct buf *b, const char *tag)
{
	struct buf body = { .n = 0 };

	putz(&body, tag);
	msg(b, 'C', &body);
}

static void ready_msg(struct buf *b)
{
	struct buf body = { .n = 0 };

	put(&body, "I", 1);
	msg(b, 'Z', &body);
}

static void datarow(struct buf *b, size_t bytes)
{
	struct buf body = { .n = 0 };
	static char junk[60000];

	memset(junk, 'x', sizeof(junk));
	put16(&body, 1);
	put32(&body, (uint32_t)bytes);
	put(&body, junk, bytes);
	msg(b, 'D', &body);
}

static void error_msg(struct buf *b, const char *code)
{
	struct buf body = { .n = 0 };

	put(&body, "S", 1);
	putz(&body, "ERROR");
	put(&body, "C", 1);
	putz(&body, code);
	put(&body, "M", 1);
	putz(&body, "duplicate key value: Key (id)=(zq-literal-8841)");
	put(&body, "", 1);
	msg(b, 'E', &body);
}

static void auth_ok(struct buf *b)
{
	struct buf body = { .n = 0 };

	put32(&body, 0);
	msg(b, 'R', &body);
	body.n = 0;
	putz(&body, "server_version");
	putz(&body, "15.18");
	msg(b, 'S', &body);
	body.n = 0;
	put32(&body, 1234);
	put32(&body, 5678);
	msg(b, 'K', &body);
	ready_msg(b);
}

/* ---- a recording connection ----------------------------------------------------------------- */

struct rec {
	struct pg_query q[256];
	int nq;
	char tmpl[256][SQLNORM_TEMPLATE_MAX];
	uint64_t fps[256];
	int ns;
	int encrypted;
};

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	struct rec *r = ctx;

	if (r->ns < 256) {
		snprintf(r->tmpl[r->ns], sizeof(r->tmpl[0]), "%s", n->tmpl);
		r->fps[r->ns++] = n->fingerprint;
	}
}

static void on_query(void *ctx, const struct pg_query *q)
{
	struct rec *r = ctx;

	if (r->nq < 256)
		r->q[r->nq++] = *q;
}

static void on_encrypted(void *ctx)
{
	((struct rec *)ctx)->encrypted++;
}

static const struct pg_callbacks cbs = { on_statement, on_query, on_encrypted };

static const char *tmpl_of(struct rec *r, uint64_t fp)
{
	for (int i = r->ns - 1; i >= 0; i--)
		if (r->fps[i] == fp)
			return r->tmpl[i];
	return NULL;
}

static void feed(struct pg_conn *c, enum pg_dir d, const struct buf *b, uint64_t ts)
{
	struct pg_chunk ch = { .head = b->b, .head_len = (uint32_t)b->n, .total = b->n, .ts_ns = ts, .tid = 7,
			       .stack = 99 };

	pg_conn_feed(c, d, &ch);
}

/* Feeds b in pieces of `step` bytes (each its own transfer). */
static void feed_split(struct pg_conn *c, enum pg_dir d, const struct buf *b, size_t step, uint64_t ts)
{
	for (size_t off = 0; off < b->n; off += step) {
		size_t n = b->n - off < step ? b->n - off : step;
		struct pg_chunk ch = { .head = b->b + off, .head_len = (uint32_t)n, .total = n, .ts_ns = ts };

		pg_conn_feed(c, d, &ch);
	}
}

/* Feeds b as one transfer of which only head_len first and tail_len last bytes were captured. */
static void feed_captured(struct pg_conn *c, enum pg_dir d, const struct buf *b, size_t head_len,
			  size_t tail_len, uint64_t ts)
{
	struct pg_chunk ch = { .head = b->b, .head_len = (uint32_t)head_len, .tail = b->b + b->n - tail_len,
			       .tail_len = (uint32_t)tail_len, .total = b->n, .ts_ns = ts };

	pg_conn_feed(c, d, &ch);
}

static struct pg_conn *connected(struct rec *r)
{
	struct pg_conn *c = pg_conn_new(&cbs, r, false);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	startup(&fe);
	auth_ok(&be);
	feed(c, PG_FRONTEND, &fe, 1);
	feed(c, PG_BACKEND, &be, 2);
	return c;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_classify(void **state)
{
	struct buf b = { .n = 0 };

	startup(&b);
	assert_int_equal(pg_classify(b.b, b.n), PG_CLASS_STARTUP);
	b.n = 0;
	put32(&b, 8);
	put32(&b, 80877103);
	assert_int_equal(pg_classify(b.b, b.n), PG_CLASS_STARTUP);
	b.n = 0;
	query(&b, "SELECT 1");
	assert_int_equal(pg_classify(b.b, b.n), PG_CLASS_MIDSTREAM);
	assert_int_equal(pg_classify((const uint8_t *)"GET / HTTP/1.1\r\n", 16), PG_CLASS_NO);
	assert_int_equal(pg_classify((const uint8_t *)"POST /x HTTP/1.1\r\n", 18), PG_CLASS_NO);
	assert_int_equal(pg_classify((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14), PG_CLASS_NO);
	assert_int_equal(pg_classify((const uint8_t *)"\x16\x03\x01\x02\x00\x01", 6), PG_CLASS_NO);
	assert_int_equal(pg_classify((const uint8_t *)"Q", 1), PG_CLASS_NO);
}

static void test_simple_query(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	query(&fe, "SELECT id, name FROM author WHERE id = 42");
	simple(&be, 'T');
	datarow(&be, 10);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed(c, PG_FRONTEND, &fe, 1000);
	feed(c, PG_BACKEND, &be, 1500);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].start_ns, 1000);
	assert_int_equal(r.q[0].end_ns, 1500);
	assert_int_equal(r.q[0].rows, 1);
	assert_int_equal(r.q[0].op, SQL_OP_SELECT);
	assert_int_equal(r.q[0].tid, 7);
	assert_int_equal(r.q[0].stack, 99);
	assert_false(r.q[0].error);
	assert_string_equal(tmpl_of(&r, r.q[0].fingerprint), "SELECT ... FROM author WHERE id = ?");
	assert_int_not_equal(r.q[0].params_hash, 0);
	assert_int_equal(pg_conn_stats(c)->desyncs[0] + pg_conn_stats(c)->desyncs[1], 0);
	pg_conn_free(c);
}

/* The same conversation cut into pieces of every size from 1 byte gives the same queries. */
static void test_every_split(void **state)
{
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	startup(&fe);
	auth_ok(&be);
	for (int i = 0; i < 5; i++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "SELECT name FROM author WHERE id = %d", i);
		query(&fe, sql);
	}
	for (int i = 0; i < 5; i++) {
		simple(&be, 'T');
		datarow(&be, 5);
		complete_tag(&be, "SELECT 1");
		ready_msg(&be);
	}
	for (size_t step = 1; step <= 64; step++) {
		struct rec r = { .nq = 0 };
		struct pg_conn *c = pg_conn_new(&cbs, &r, false);

		feed_split(c, PG_FRONTEND, &fe, step, 10);
		feed_split(c, PG_BACKEND, &be, step, 20);
		assert_int_equal(r.nq, 5);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(r.q[i].fingerprint, r.q[0].fingerprint);
			if (r.q[i].rows != 1) fail_msg("step %zu q %d rows %llu", step, i, (unsigned long long)r.q[i].rows);
		}
		assert_int_not_equal(r.q[1].params_hash, r.q[0].params_hash);
		pg_conn_free(c);
	}
}

static void test_extended(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	/* a named statement, executed three times; the third with the first one's parameter */
	parse(&fe, "s1", "SELECT title FROM book WHERE author_id = $1");
	bind1(&fe, "", "s1", "17");
	simple(&fe, 'D');
	execute(&fe, "");
	simple(&fe, 'S');
	feed(c, PG_FRONTEND, &fe, 100);
	be.n = 0;
	put(&be, "1\0\0\0\4" "2\0\0\0\4", 10);
	simple(&be, 'T');
	datarow(&be, 3);
	datarow(&be, 3);
	complete_tag(&be, "SELECT 2");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 300);
	fe.n = 0;
	bind1(&fe, "", "s1", "18");
	execute(&fe, "");
	simple(&fe, 'S');
	bind1(&fe, "", "s1", "17");
	execute(&fe, "");
	simple(&fe, 'S');
	feed(c, PG_FRONTEND, &fe, 400);
	be.n = 0;
	put(&be, "2\0\0\0\4", 5);
	complete_tag(&be, "SELECT 0");
	ready_msg(&be);
	put(&be, "2\0\0\0\4", 5);
	complete_tag(&be, "SELECT 2");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 450);

	assert_int_equal(r.nq, 3);
	assert_string_equal(tmpl_of(&r, r.q[0].fingerprint), "SELECT title FROM book WHERE author_id = ?");
	assert_int_equal(r.q[0].rows, 2);
	assert_int_equal(r.q[0].end_ns - r.q[0].start_ns, 200);
	assert_true(r.q[0].flags & PG_Q_EXTENDED);
	assert_int_equal(r.q[1].fingerprint, r.q[0].fingerprint);
	assert_int_equal(r.q[1].rows, 0);
	assert_int_not_equal(r.q[1].params_hash, r.q[0].params_hash);
	assert_int_equal(r.q[2].params_hash, r.q[0].params_hash);
	/* the third was sent behind the second, in the same transfer: no round trip of its own */
	assert_false(r.q[0].flags & PG_Q_PIPELINED);
	assert_false(r.q[1].flags & PG_Q_PIPELINED);
	assert_true(r.q[2].flags & PG_Q_PIPELINED);
	assert_int_not_equal(r.q[0].params_hash, 0);
	pg_conn_free(c);
}

static void test_extended_error_skips_batch(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	parse(&fe, "", "INSERT INTO t (id) VALUES ($1)");
	bind1(&fe, "", "", "1");
	execute(&fe, "");
	bind1(&fe, "", "", "2");
	execute(&fe, ""); /* skipped by the server after the error */
	simple(&fe, 'S');
	parse(&fe, "", "SELECT 1");
	bind1(&fe, "", "", "x");
	execute(&fe, "");
	simple(&fe, 'S');
	feed(c, PG_FRONTEND, &fe, 10);
	put(&be, "1\0\0\0\4" "2\0\0\0\4", 10);
	error_msg(&be, "23505");
	ready_msg(&be);
	put(&be, "1\0\0\0\4" "2\0\0\0\4", 10);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 20);
	assert_int_equal(r.nq, 2);
	assert_true(r.q[0].error);
	assert_string_equal(r.q[0].sqlstate, "23505");
	assert_int_equal(r.q[0].op, SQL_OP_INSERT);
	assert_false(r.q[1].error);
	assert_int_equal(r.q[1].op, SQL_OP_SELECT);
	assert_int_equal(pg_conn_stats(c)->dropped, 1);
	pg_conn_free(c);
}

static void test_sql_prepare_execute(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	struct buf fe = { .n = 0 }, be = { .n = 0 };
	uint64_t plain;

	query(&fe, "PREPARE by_author (int) AS SELECT title FROM book WHERE author_id = $1");
	feed(c, PG_FRONTEND, &fe, 1);
	complete_tag(&be, "PREPARE");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 2);
	for (int i = 0; i < 3; i++) {
		fe.n = 0;
		query(&fe, i == 2 ? "EXECUTE by_author(5)" : "execute BY_AUTHOR (4)");
		feed(c, PG_FRONTEND, &fe, 10);
		be.n = 0;
		complete_tag(&be, "SELECT 3");
		ready_msg(&be);
		feed(c, PG_BACKEND, &be, 20);
	}
	fe.n = 0;
	query(&fe, "SELECT title FROM book WHERE author_id = 9");
	feed(c, PG_FRONTEND, &fe, 30);
	feed(c, PG_BACKEND, &be, 40);
	assert_int_equal(r.nq, 5);
	plain = r.q[4].fingerprint;
	assert_true(r.q[0].flags & PG_Q_PREPARE);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(r.q[i].fingerprint, plain);
		assert_true(r.q[i].flags & PG_Q_PREPARED);
		assert_int_equal(r.q[i].rows, 3);
	}
	assert_int_equal(r.q[1].params_hash, r.q[2].params_hash);
	assert_int_not_equal(r.q[1].params_hash, r.q[3].params_hash);
	pg_conn_free(c);
}

/* A large result: only the head and tail of the receive were captured. */
static void test_head_tail_capture(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	query(&fe, "SELECT body FROM blob");
	feed(c, PG_FRONTEND, &fe, 5);
	simple(&be, 'T');
	datarow(&be, 50000);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed_captured(c, PG_BACKEND, &be, 64, 32, 9);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].rows, 1);
	assert_int_equal(r.q[0].end_ns, 9);
	assert_int_equal(pg_conn_stats(c)->desyncs[PG_BACKEND], 0);

	/* several DataRows: a header lands in the uncaptured middle, ReadyForQuery resyncs */
	fe.n = be.n = 0;
	query(&fe, "SELECT body FROM blob LIMIT 3");
	feed(c, PG_FRONTEND, &fe, 10);
	simple(&be, 'T');
	for (int i = 0; i < 3; i++)
		datarow(&be, 10000);
	complete_tag(&be, "SELECT 3");
	ready_msg(&be);
	feed_captured(c, PG_BACKEND, &be, 64, 6, 30);
	assert_int_equal(r.nq, 2);
	assert_int_equal(r.q[1].end_ns, 30);
	assert_true(r.q[1].flags & PG_Q_RESYNCED);
	assert_int_equal(pg_conn_stats(c)->desyncs[PG_BACKEND], 1);
	assert_int_equal(pg_conn_stats(c)->resyncs[PG_BACKEND], 1);

	/* and the connection goes on normally */
	fe.n = be.n = 0;
	query(&fe, "SELECT 1");
	feed(c, PG_FRONTEND, &fe, 40);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 41);
	assert_int_equal(r.nq, 3);
	assert_false(r.q[2].flags & PG_Q_RESYNCED);
	pg_conn_free(c);
}

static void test_long_query_cut(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	static struct buf fe, be;
	static char sql[40000];
	size_t n = (size_t)sprintf(sql, "INSERT INTO t (a) VALUES (1)");

	while (n < sizeof(sql) - 16)
		n += (size_t)sprintf(sql + n, ", (%zu)", n);
	fe.n = be.n = 0;
	query(&fe, sql);
	simple(&fe, 'X');
	feed_captured(c, PG_FRONTEND, &fe, 4096, 5, 1);
	complete_tag(&be, "INSERT 0 5000");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 2);
	assert_int_equal(r.nq, 1);
	assert_true(r.q[0].flags & PG_Q_TRUNCATED);
	assert_int_equal(r.q[0].rows, 5000);
	assert_string_equal(tmpl_of(&r, r.q[0].fingerprint), "INSERT INTO t (a) VALUES (?)");
	assert_int_equal(pg_conn_stats(c)->desyncs[PG_FRONTEND], 0);
	pg_conn_free(c);
}

static void test_ssl(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = pg_conn_new(&cbs, &r, false);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	/* refused: the client goes on in the clear */
	put32(&fe, 8);
	put32(&fe, 80877103);
	feed(c, PG_FRONTEND, &fe, 1);
	put(&be, "N", 1);
	feed(c, PG_BACKEND, &be, 2);
	fe.n = be.n = 0;
	startup(&fe);
	query(&fe, "SELECT 1");
	feed(c, PG_FRONTEND, &fe, 3);
	auth_ok(&be);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 4);
	assert_int_equal(r.nq, 1);
	assert_false(pg_conn_encrypted(c));
	pg_conn_free(c);

	/* accepted: encrypted from here on */
	memset(&r, 0, sizeof(r));
	c = pg_conn_new(&cbs, &r, false);
	fe.n = be.n = 0;
	put32(&fe, 8);
	put32(&fe, 80877103);
	feed(c, PG_FRONTEND, &fe, 1);
	put(&be, "S\x16\x03\x03", 4);
	feed(c, PG_BACKEND, &be, 2);
	assert_int_equal(r.encrypted, 1);
	assert_true(pg_conn_encrypted(c));
	fe.n = 0;
	query(&fe, "SELECT 1");
	feed(c, PG_FRONTEND, &fe, 3);
	assert_int_equal(r.nq, 0);
	pg_conn_free(c);
}

static void test_midstream(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = pg_conn_new(&cbs, &r, true);
	struct buf fe = { .n = 0 }, be = { .n = 0 };

	/* the tail of an earlier response first, then a whole exchange */
	datarow(&be, 20);
	complete_tag(&be, "SELECT 1");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 1);
	query(&fe, "UPDATE t SET a = 1");
	feed(c, PG_FRONTEND, &fe, 2);
	be.n = 0;
	complete_tag(&be, "UPDATE 4");
	ready_msg(&be);
	feed(c, PG_BACKEND, &be, 3);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].op, SQL_OP_UPDATE);
	assert_int_equal(r.q[0].rows, 4);
	pg_conn_free(c);
}

static void test_pipeline_cap(void **state)
{
	struct rec r = { .nq = 0 };
	struct pg_conn *c = connected(&r);
	static struct buf fe;

	fe.n = 0;
	for (int i = 0; i < PG_MAX_PENDING + 10; i++)
		query(&fe, "SELECT 1");
	feed(c, PG_FRONTEND, &fe, 1);
	assert_int_equal(pg_conn_stats(c)->pending_full, 10);
	pg_conn_free(c);
	assert_int_equal(r.nq, 0);
}

static void test_random_bytes(void **state)
{
	static uint8_t b[4096];
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		struct rec r = { .nq = 0 };
		struct pg_conn *c = pg_conn_new(&cbs, &r, round & 1);
		int n = 1 + rand_r(&seed) % 8;

		for (int k = 0; k < n; k++) {
			size_t len = (size_t)(rand_r(&seed) % sizeof(b));
			struct pg_chunk ch = { .head = b, .head_len = (uint32_t)len, .total = len + (rand_r(&seed) % 3 ? 0 : 100) };

			for (size_t i = 0; i < len; i++)
				b[i] = (uint8_t)(rand_r(&seed) % 7 ? rand_r(&seed) : "QPBESZCDT\0"[rand_r(&seed) % 10]);
			pg_conn_feed(c, (enum pg_dir)(rand_r(&seed) & 1), &ch);
		}
		pg_conn_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_simple_query),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_extended_error_skips_batch),
		cmocka_unit_test(test_sql_prepare_execute),
		cmocka_unit_test(test_head_tail_capture),
		cmocka_unit_test(test_long_query_cut),
		cmocka_unit_test(test_ssl),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_pipeline_cap),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
