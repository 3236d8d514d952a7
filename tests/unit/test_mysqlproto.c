/* Unit tests for the MySQL protocol parser: the connection phase, COM_QUERY with OK, ERR and text
 * result sets (with and without EOF packets), multiple results, prepared statements executed
 * with parameters, every split of the bytes, an SSL request, midstream start, random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mysqlproto.h"

struct buf {
	uint8_t b[65536];
	size_t n;
};

static void pkt(struct buf *b, uint8_t seq, const void *p, size_t n)
{
	b->b[b->n++] = (uint8_t)n;
	b->b[b->n++] = (uint8_t)(n >> 8);
	b->b[b->n++] = (uint8_t)(n >> 16);
	b->b[b->n++] = seq;
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

#define PKT(b, seq, lit) pkt(b, seq, lit, sizeof(lit) - 1)

static void query(struct buf *b, const char *sql)
{
	uint8_t tmp[1024];

	tmp[0] = 0x03;
	memcpy(tmp + 1, sql, strlen(sql));
	pkt(b, 0, tmp, strlen(sql) + 1);
}

/* A text result set: 1 column, `rows` rows, legacy EOFs or an OK terminator. */
static void resultset(struct buf *b, int rows, bool eofs)
{
	uint8_t seq = 1;

	PKT(b, seq++, "\x01");
	PKT(b, seq++, "\x03" "def" "\x00\x00\x00" "\x02" "id" "\x00" "\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00");
	if (eofs)
		PKT(b, seq++, "\xfe\x00\x00\x22\x00");
	for (int i = 0; i < rows; i++)
		PKT(b, seq++, "\x02" "42");
	if (eofs)
		PKT(b, seq++, "\xfe\x00\x00\x22\x00");
	else
		PKT(b, seq++, "\xfe\x00\x00\x22\x00\x00\x00");
}

struct rec {
	struct pg_query q[64];
	int nq, enc;
	char tmpl[64][SQLNORM_TEMPLATE_MAX];
	uint64_t fps[64];
	int ns;
};

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	struct rec *r = ctx;

	if (r->ns < 64) {
		snprintf(r->tmpl[r->ns], sizeof(r->tmpl[0]), "%s", n->tmpl);
		r->fps[r->ns++] = n->fingerprint;
	}
}

static void on_query(void *ctx, const struct pg_query *q)
{
	struct rec *r = ctx;

	if (r->nq < 64)
		r->q[r->nq++] = *q;
}

static void on_encrypted(void *ctx)
{
	((struct rec *)ctx)->enc++;
}

static const struct pg_callbacks cbs = { on_statement, on_query, on_encrypted };

static const char *tmpl_of(struct rec *r, uint64_t fp)
{
	for (int i = r->ns - 1; i >= 0; i--)
		if (r->fps[i] == fp)
			return r->tmpl[i];
	return "";
}

static void feed_split(struct my_conn *c, enum pg_dir d, const struct buf *b, size_t step, uint64_t ts)
{
	for (size_t off = 0; off < b->n; off += step) {
		size_t n = b->n - off < step ? b->n - off : step;
		struct pg_chunk ch = { .head = b->b + off, .head_len = (uint32_t)n, .total = n, .ts_ns = ts, .tid = 9 };

		my_conn_feed(c, d, &ch);
	}
}

static void handshake(struct buf *fe, struct buf *be)
{
	/* HandshakeResponse41: PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH, user root */
	PKT(fe, 1, "\x05\xa6\x0f\x00" "\x00\x00\x00\x01" "\x21" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
		   "root\0" "\x00" "mysql_native_password\0");
	PKT(be, 2, "\x00\x00\x00\x02\x00\x00\x00");
}

static struct buf fe, be;
static size_t fe_off[32], be_off[32];
static int nsteps;

/* Ends one exchange: the client sends what came since the last mark, then reads the answers. */
static void mark(void)
{
	fe_off[nsteps] = fe.n;
	be_off[nsteps++] = be.n;
}

static void conversation(void)
{
	fe.n = be.n = 0;
	nsteps = 0;
	handshake(&fe, &be);
	mark();
	query(&fe, "SELECT id FROM `author` WHERE name = \"zq-literal-8841\"");
	resultset(&be, 3, true);
	mark();
	query(&fe, "UPDATE author SET name = 'x' WHERE id = 4");
	PKT(&be, 1, "\x00\x05\x00\x02\x00\x00\x00");
	mark();
	query(&fe, "SELECT nope FROM author");
	PKT(&be, 1, "\xff\x16\x04#42S22Unknown column 'nope'");
	mark();
	query(&fe, "SELECT id FROM author WHERE id < 3");
	resultset(&be, 2, false);
	mark();
	/* a prepared statement with one parameter, executed twice */
	{
		uint8_t prep[128] = { 0x16 };
		const char *sql = "SELECT name FROM author WHERE id = ?";

		memcpy(prep + 1, sql, strlen(sql));
		pkt(&fe, 0, prep, strlen(sql) + 1);
		PKT(&be, 1, "\x00\x07\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00");
		PKT(&be, 2, "\x03" "def" "\x00\x00\x00" "\x01" "?" "\x00" "\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00");
		PKT(&be, 3, "\xfe\x00\x00\x02\x00");
		PKT(&be, 4, "\x03" "def" "\x00\x00\x00" "\x04" "name" "\x00" "\x0c\x21\x00\x00\x01\x00\x00\xfd\x00\x00\x00\x00\x00");
		PKT(&be, 5, "\xfe\x00\x00\x02\x00");
	}
	mark();
	PKT(&fe, 0, "\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x00\x05\x00\x00\x00");
	PKT(&be, 1, "\x01");
	PKT(&be, 2, "\x03" "def" "\x00\x00\x00" "\x04" "name" "\x00" "\x0c\x21\x00\x00\x01\x00\x00\xfd\x00\x00\x00\x00\x00");
	PKT(&be, 3, "\xfe\x00\x00\x02\x00");
	PKT(&be, 4, "\x00\x00\x05" "alice");
	PKT(&be, 5, "\xfe\x00\x00\x02\x00");
	mark();
	PKT(&fe, 0, "\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x00\x06\x00\x00\x00");
	PKT(&be, 1, "\x01");
	PKT(&be, 2, "\x03" "def" "\x00\x00\x00" "\x04" "name" "\x00" "\x0c\x21\x00\x00\x01\x00\x00\xfd\x00\x00\x00\x00\x00");
	PKT(&be, 3, "\xfe\x00\x00\x02\x00");
	PKT(&be, 4, "\xfe\x00\x00\x02\x00");
	mark();
	PKT(&fe, 0, "\x19\x07\x00\x00\x00"); /* COM_STMT_CLOSE: no answer */
	PKT(&fe, 0, "\x0e");                 /* COM_PING */
	PKT(&be, 1, "\x00\x00\x00\x02\x00\x00\x00");
	mark();
	query(&fe, "SELECT 1");
	resultset(&be, 1, true);
	mark();
}

static void check(struct rec *r)
{
	assert_int_equal(r->nq, 8);
	assert_int_equal(r->q[7].rows, 1); /* after COM_STMT_CLOSE (no answer) and a silent COM_PING */
	assert_string_equal(tmpl_of(r, r->q[0].fingerprint), "SELECT id FROM `author` WHERE name = ?");
	assert_int_equal(r->q[0].rows, 3);
	assert_int_equal(r->q[1].op, SQL_OP_UPDATE);
	assert_int_equal(r->q[1].rows, 5);
	assert_true(r->q[2].error);
	assert_string_equal(r->q[2].sqlstate, "42S22");
	assert_int_equal(r->q[3].rows, 2);
	assert_true(r->q[4].flags & PG_Q_PREPARE);
	assert_string_equal(tmpl_of(r, r->q[4].fingerprint), "SELECT name FROM author WHERE id = ?");
	assert_int_equal(r->q[5].fingerprint, r->q[4].fingerprint);
	assert_int_equal(r->q[5].rows, 1);
	assert_int_equal(r->q[6].fingerprint, r->q[4].fingerprint);
	assert_int_equal(r->q[6].rows, 0);
	assert_int_not_equal(r->q[5].params_hash, r->q[6].params_hash);
	for (int i = 0; i < r->nq; i++)
		assert_false(r->q[i].flags & PG_Q_PIPELINED);
	for (int i = 0; i < r->ns; i++)
		assert_null(strstr(r->tmpl[i], "zq-literal"));
}

/* Feeds the conversation exchange by exchange, each side cut into pieces of `step` bytes. */
static void replay(struct my_conn *c, size_t step)
{
	size_t f = 0, b = 0;

	for (int i = 0; i < nsteps; i++) {
		struct buf part;

		part.n = fe_off[i] - f;
		memcpy(part.b, fe.b + f, part.n);
		feed_split(c, PG_FRONTEND, &part, step, 10 * (uint64_t)i + 1);
		part.n = be_off[i] - b;
		memcpy(part.b, be.b + b, part.n);
		feed_split(c, PG_BACKEND, &part, step, 10 * (uint64_t)i + 2);
		f = fe_off[i];
		b = be_off[i];
	}
}

static void test_conversation(void **state)
{
	conversation();
	for (size_t step = 1; step <= 4096; step = step < 8 ? step + 1 : step * 2) {
		struct rec r = { .nq = 0 };
		struct my_conn *c = my_conn_new(&cbs, &r, false);

		replay(c, step);
		check(&r);
		assert_int_equal(r.q[0].start_ns, 11);
		assert_int_equal(r.q[0].end_ns, 12);
		assert_int_equal(my_conn_stats(c)->desyncs[0] + my_conn_stats(c)->desyncs[1], 0);
		my_conn_free(c);
	}
}

static void test_ssl_and_classify(void **state)
{
	struct rec r = { .nq = 0 };
	struct my_conn *c = my_conn_new(&cbs, &r, false);
	struct buf b = { .n = 0 };

	PKT(&b, 1, "\x05\xae\x0f\x00" "\x00\x00\x00\x01" "\x21" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
	assert_int_equal(mysql_classify(b.b, b.n), PG_CLASS_STARTUP);
	feed_split(c, PG_FRONTEND, &b, 1000, 1);
	assert_int_equal(r.enc, 1);
	assert_true(my_conn_encrypted(c));
	my_conn_free(c);
	b.n = 0;
	query(&b, "SELECT 1");
	assert_int_equal(mysql_classify(b.b, b.n), PG_CLASS_MIDSTREAM);
	assert_int_equal(mysql_classify((const uint8_t *)"GET / HTTP/1.1", 14), PG_CLASS_NO);
	assert_int_equal(mysql_classify((const uint8_t *)"\x00\x00\x00\x08\x04\xd2\x16\x2f", 8), PG_CLASS_NO);
}

static void test_midstream(void **state)
{
	struct rec r = { .nq = 0 };
	struct my_conn *c = my_conn_new(&cbs, &r, true);
	struct buf f = { .n = 0 }, b = { .n = 0 };

	PKT(&b, 3, "\x02" "42"); /* the end of an older answer */
	feed_split(c, PG_BACKEND, &b, 1000, 1);
	query(&f, "DELETE FROM t WHERE id = 1");
	feed_split(c, PG_FRONTEND, &f, 1000, 2);
	b.n = 0;
	PKT(&b, 1, "\x00\x01\x00\x02\x00\x00\x00");
	feed_split(c, PG_BACKEND, &b, 1000, 3);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].op, SQL_OP_DELETE);
	assert_int_equal(r.q[0].rows, 1);
	my_conn_free(c);
}

static void test_random_bytes(void **state)
{
	static uint8_t b[3000];
	unsigned seed = 77;

	for (int round = 0; round < 3000; round++) {
		struct rec r = { .nq = 0 };
		struct my_conn *c = my_conn_new(&cbs, &r, round & 1);

		for (int k = 0; k < 6; k++) {
			size_t len = (size_t)(rand_r(&seed) % sizeof(b));
			struct pg_chunk ch = { .head = b, .head_len = (uint32_t)len, .total = len + (rand_r(&seed) % 4 ? 0 : 60) };

			for (size_t i = 0; i < len; i++)
				b[i] = (uint8_t)(rand_r(&seed) % 3 ? "\x00\x01\x02\x03\x05\xfe\xff\x16\x17"[rand_r(&seed) % 9] : rand_r(&seed));
			my_conn_feed(c, (enum pg_dir)(rand_r(&seed) & 1), &ch);
		}
		for (int i = 0; i < r.nq; i++)
			assert_true(r.q[i].end_ns >= r.q[i].start_ns);
		my_conn_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversation), cmocka_unit_test(test_ssl_and_classify),
		cmocka_unit_test(test_midstream),    cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
