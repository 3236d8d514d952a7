/* Unit tests for the Redis protocol parser: commands to templates, pipelined commands paired with
 * nested RESP2/RESP3 replies (errors, nil, maps, attributes, pushes), every split of the bytes,
 * uncaptured middles of large values, subscribe mode, loss and recovery of framing, random bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "respproto.h"

struct rec {
	struct pg_query q[512];
	int nq;
	char tmpl[512][SQLNORM_TEMPLATE_MAX];
	uint64_t fps[512];
	int ns;
};

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	struct rec *r = ctx;

	if (r->ns < 512) {
		snprintf(r->tmpl[r->ns], sizeof(r->tmpl[0]), "%s", n->tmpl);
		r->fps[r->ns++] = n->fingerprint;
	}
}

static void on_query(void *ctx, const struct pg_query *q)
{
	struct rec *r = ctx;

	if (r->nq < 512)
		r->q[r->nq++] = *q;
}

static const struct pg_callbacks cbs = { on_statement, on_query, NULL };

static const char *tmpl_of(struct rec *r, uint64_t fp)
{
	for (int i = r->ns - 1; i >= 0; i--)
		if (r->fps[i] == fp)
			return r->tmpl[i];
	return "";
}

static void feed(struct resp_conn *c, enum pg_dir d, const char *s, size_t n, uint64_t ts)
{
	struct pg_chunk ch = { .head = (const uint8_t *)s, .head_len = (uint32_t)n, .total = n, .ts_ns = ts,
			       .tid = 3, .stack = 5 };

	resp_conn_feed(c, d, &ch);
}

#define FEED(c, d, lit, ts) feed(c, d, lit, sizeof(lit) - 1, ts)

static const char cmds[] = "*2\r\n$3\r\nGET\r\n$10\r\nuser:zq-88\r\n"
			   "*3\r\n$4\r\nhset\r\n$1\r\nh\r\n$1\r\nf\r\n"
			   "*5\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
			   "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n"
			   "PING\r\n"
			   "*1\r\n$4\r\nEXEC\r\n"
			   "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n"
			   "*1\r\n$5\r\nHELLO\r\n";
static const char replies[] = "$5\r\nalice\r\n"
			      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
			      "*4\r\n$1\r\n1\r\n$-1\r\n*2\r\n:1\r\n+x\r\n$0\r\n\r\n"
			      "+OK\r\n"
			      "+PONG\r\n"
			      "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n+OK\r\n:7\r\n"
			      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
			      "_\r\n"
			      "%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n";

static void check_conversation(struct rec *r)
{
	assert_int_equal(r->nq, 8);
	assert_string_equal(tmpl_of(r, r->q[0].fingerprint), "GET ?");
	assert_int_equal(r->q[0].op, SQL_OP_READ);
	assert_int_equal(r->q[0].rows, 1);
	assert_string_equal(tmpl_of(r, r->q[1].fingerprint), "HSET ? ?");
	assert_int_equal(r->q[1].op, SQL_OP_WRITE);
	assert_true(r->q[1].error);
	assert_string_equal(r->q[1].sqlstate, "WRONG");
	assert_string_equal(tmpl_of(r, r->q[2].fingerprint), "MGET ? ? ? ...");
	assert_int_equal(r->q[2].rows, 4);
	assert_string_equal(tmpl_of(r, r->q[3].fingerprint), "CLIENT SETNAME ?");
	assert_string_equal(tmpl_of(r, r->q[4].fingerprint), "PING");
	assert_string_equal(tmpl_of(r, r->q[5].fingerprint), "EXEC");
	assert_int_equal(r->q[5].rows, 2); /* the attribute came first and is not the reply */
	assert_int_equal(r->q[6].rows, 0); /* RESP3 null, after a push message that pairs with nothing */
	assert_int_equal(r->q[7].rows, 2);
	assert_int_not_equal(r->q[0].params_hash, r->q[6].params_hash);
	for (int i = 0; i < r->nq; i++)
		assert_int_equal(r->q[i].tid, 3);
}

static void test_conversation(void **state)
{
	struct rec r = { .nq = 0 };
	struct resp_conn *c = resp_conn_new(&cbs, &r, false);

	FEED(c, PG_FRONTEND, cmds, 10);
	FEED(c, PG_BACKEND, replies, 20);
	check_conversation(&r);
	assert_int_equal(r.q[0].start_ns, 10);
	assert_int_equal(r.q[0].end_ns, 20);
	assert_false(r.q[0].flags & PG_Q_PIPELINED);
	assert_true(r.q[7].flags & PG_Q_PIPELINED);
	assert_int_equal(resp_conn_stats(c)->desyncs[0] + resp_conn_stats(c)->desyncs[1], 0);
	for (int i = 0; i < r.ns; i++)
		assert_null(strstr(r.tmpl[i], "zq"));
	resp_conn_free(c);
}

static void test_every_split(void **state)
{
	for (size_t step = 1; step < 40; step++) {
		struct rec r = { .nq = 0 };
		struct resp_conn *c = resp_conn_new(&cbs, &r, false);

		for (size_t off = 0; off < sizeof(cmds) - 1; off += step)
			feed(c, PG_FRONTEND, cmds + off, sizeof(cmds) - 1 - off < step ? sizeof(cmds) - 1 - off : step, 1);
		for (size_t off = 0; off < sizeof(replies) - 1; off += step)
			feed(c, PG_BACKEND, replies + off, sizeof(replies) - 1 - off < step ? sizeof(replies) - 1 - off : step, 2);
		check_conversation(&r);
		resp_conn_free(c);
	}
}

static void test_big_value_gap(void **state)
{
	struct rec r = { .nq = 0 };
	struct resp_conn *c = resp_conn_new(&cbs, &r, false);
	static char big[100000];
	size_t n = (size_t)sprintf(big, "$90000\r\n");
	struct pg_chunk ch;

	memset(big + n, 'v', 90000);
	memcpy(big + n + 90000, "\r\n", 2);
	n += 90002;
	FEED(c, PG_FRONTEND, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 1);
	ch = (struct pg_chunk){ .head = (const uint8_t *)big, .head_len = 4096, .tail = (const uint8_t *)big + n - 256,
				.tail_len = 256, .total = n, .ts_ns = 9 };
	resp_conn_feed(c, PG_BACKEND, &ch);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].end_ns, 9);
	/* a SET with a big value sent with a gap: parameters unknown */
	memcpy(big, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$90000\r\n", 29);
	ch = (struct pg_chunk){ .head = (const uint8_t *)big, .head_len = 4096, .tail = (const uint8_t *)"vv\r\n",
				.tail_len = 4, .total = 29 + 90002, .ts_ns = 10 };
	memset(big + 29, 'v', 4096 - 29);
	resp_conn_feed(c, PG_FRONTEND, &ch);
	FEED(c, PG_BACKEND, "+OK\r\n", 11);
	assert_int_equal(r.nq, 2);
	assert_true(r.q[1].flags & PG_Q_NO_PARAMS);
	assert_int_equal(resp_conn_stats(c)->desyncs[0] + resp_conn_stats(c)->desyncs[1], 0);
	resp_conn_free(c);
}

static void test_subscribe_and_desync(void **state)
{
	struct rec r = { .nq = 0 };
	struct resp_conn *c = resp_conn_new(&cbs, &r, false);

	FEED(c, PG_FRONTEND, "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", 1);
	FEED(c, PG_BACKEND, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", 2);
	assert_int_equal(r.nq, 0);
	resp_conn_free(c);

	memset(&r, 0, sizeof(r));
	c = resp_conn_new(&cbs, &r, false);
	FEED(c, PG_FRONTEND, "*1\r\n$4\r\nPING\r\n", 1);
	FEED(c, PG_BACKEND, "?garbage\r\n", 2);
	assert_int_equal(resp_conn_stats(c)->desyncs[PG_BACKEND], 1);
	FEED(c, PG_FRONTEND, "*1\r\n$4\r\nPING\r\n", 3);
	FEED(c, PG_BACKEND, "+PONG\r\n", 4);
	assert_int_equal(r.nq, 1);
	assert_int_equal(r.q[0].start_ns, 3);
	FEED(c, PG_FRONTEND, "*x\r\n", 5);
	assert_int_equal(resp_conn_stats(c)->desyncs[PG_FRONTEND], 1);
	FEED(c, PG_FRONTEND, "*1\r\n$4\r\nPING\r\n", 6);
	FEED(c, PG_BACKEND, "+PONG\r\n", 7);
	assert_int_equal(r.nq, 2);
	resp_conn_free(c);
}

static void test_classify_describe(void **state)
{
	struct sqlnorm n;

	assert_int_equal(resp_classify((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14), PG_CLASS_STARTUP);
	assert_int_equal(resp_classify((const uint8_t *)"*\r\n$", 4), PG_CLASS_NO);
	assert_int_equal(resp_classify((const uint8_t *)"GET / HTTP/1.1", 14), PG_CLASS_NO);
	resp_describe("get", 3, 1, &n);
	assert_string_equal(n.tmpl, "GET ?");
	assert_int_equal(n.op, SQL_OP_READ);
	resp_describe("\x01weird\xff", 7, 0, &n);
	assert_string_equal(n.tmpl, "?WEIRD?");
	assert_int_equal(n.op, SQL_OP_OTHER);
}

static void test_random_bytes(void **state)
{
	static uint8_t b[2048];
	unsigned seed = 4242;

	for (int round = 0; round < 3000; round++) {
		struct rec r = { .nq = 0 };
		struct resp_conn *c = resp_conn_new(&cbs, &r, round & 1);

		for (int k = 0; k < 6; k++) {
			size_t len = (size_t)(rand_r(&seed) % sizeof(b));
			struct pg_chunk ch = { .head = b, .head_len = (uint32_t)len, .total = len + (rand_r(&seed) % 4 ? 0 : 50) };

			for (size_t i = 0; i < len; i++)
				b[i] = (uint8_t)(rand_r(&seed) % 3 ? "*$+-:%|>\r\n0123456789"[rand_r(&seed) % 20] : rand_r(&seed));
			resp_conn_feed(c, (enum pg_dir)(rand_r(&seed) & 1), &ch);
		}
		for (int i = 0; i < r.nq; i++)
			assert_true(r.q[i].end_ns >= r.q[i].start_ns);
		resp_conn_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversation),      cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_big_value_gap),     cmocka_unit_test(test_subscribe_and_desync),
		cmocka_unit_test(test_classify_describe), cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
