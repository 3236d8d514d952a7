/* Throughput of the database parsers on one core, for `make bench`: a conversation of ORM-shaped
 * queries (simple and extended protocol, with row descriptions, rows and completions) is fed
 * through pgproto transfer by transfer, and the statements alone through sqlnorm. Prints
 * "sqlnorm QPS" and "pgproto QPS" (queries per CPU second). Usage: dbparse_bench [SECONDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgproto.h"
#include "sqlnorm.h"

static const char *const statements[] = {
	"SELECT \"shop_author\".\"id\", \"shop_author\".\"name\", \"shop_author\".\"email\" FROM \"shop_author\" "
	"WHERE \"shop_author\".\"id\" = 4217 LIMIT 21",
	"SELECT books.id, books.title, books.author_id, books.published FROM books WHERE books.author_id = 17 "
	"AND books.published > '2020-01-01' ORDER BY books.published DESC LIMIT 50",
	"INSERT INTO audit (user_id, action, payload, at) VALUES (42, 'login', '{\"ip\": \"10.1.2.3\"}', now()) "
	"RETURNING id",
	"UPDATE sessions SET last_seen = now(), hits = hits + 1 WHERE key = 'c2Vzc2lvbi1rZXktMTIzNDU2Nzg5MA'",
	"SELECT id, name FROM author WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)",
};

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t put_msg(uint8_t *b, char type, const void *body, size_t n)
{
	uint32_t len = (uint32_t)n + 4;

	b[0] = (uint8_t)type;
	b[1] = len >> 24, b[2] = len >> 16, b[3] = len >> 8, b[4] = (uint8_t)len;
	memcpy(b + 5, body, n);
	return n + 5;
}

/* One server answer: RowDescription, two DataRows, CommandComplete, ReadyForQuery. */
static size_t answer(uint8_t *b)
{
	static const uint8_t rowdesc[] = { 0, 1, 'i', 'd', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 23, 0, 4, 255, 255, 255, 255, 0, 0 };
	static const uint8_t row[] = { 0, 1, 0, 0, 0, 4, '4', '2', '1', '7' };
	size_t n = 0;

	n += put_msg(b + n, 'T', rowdesc, sizeof(rowdesc));
	n += put_msg(b + n, 'D', row, sizeof(row));
	n += put_msg(b + n, 'D', row, sizeof(row));
	n += put_msg(b + n, 'C', "SELECT 2", 9);
	n += put_msg(b + n, 'Z', "I", 1);
	return n;
}

static void on_query(void *ctx, const struct pg_query *q)
{
	(*(uint64_t *)ctx)++;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2, t0;
	static const uint8_t startup[] = { 0, 0, 0, 8, 0, 3, 0, 0 };
	static uint8_t fe[5][1024], be[512];
	size_t fel[5], bel = answer(be);
	struct pg_callbacks cb = { .query = on_query };
	struct sqlnorm n;
	uint64_t done = 0, reported = 0;
	struct pg_conn *c;

	for (int i = 0; i < 5; i++)
		fel[i] = put_msg(fe[i], 'Q', statements[i], strlen(statements[i]) + 1);

	t0 = cpu_seconds();
	for (done = 0; cpu_seconds() - t0 < seconds;)
		for (int k = 0; k < 1000; k++, done++)
			sqlnorm(statements[done % 5], strlen(statements[done % 5]), false, &n);
	printf("sqlnorm %.0f\n", done / (cpu_seconds() - t0));

	c = pg_conn_new(&cb, &reported, false);
	{
		struct pg_chunk ch = { .head = startup, .head_len = 8, .total = 8 };
		static const uint8_t ready[] = { 'Z', 0, 0, 0, 5, 'I' };
		struct pg_chunk r = { .head = ready, .head_len = 6, .total = 6 };

		pg_conn_feed(c, PG_FRONTEND, &ch);
		pg_conn_feed(c, PG_BACKEND, &r);
	}
	t0 = cpu_seconds();
	for (done = 0; cpu_seconds() - t0 < seconds;)
		for (int k = 0; k < 1000; k++, done++) {
			struct pg_chunk q = { .head = fe[done % 5], .head_len = (uint32_t)fel[done % 5],
					      .total = fel[done % 5], .ts_ns = done * 1000 };
			struct pg_chunk a = { .head = be, .head_len = (uint32_t)bel, .total = bel,
					      .ts_ns = done * 1000 + 500 };

			pg_conn_feed(c, PG_FRONTEND, &q);
			pg_conn_feed(c, PG_BACKEND, &a);
		}
	printf("pgproto %.0f\n", done / (cpu_seconds() - t0));
	pg_conn_free(c);
	if (reported != done) {
		fprintf(stderr, "dbparse_bench: %llu of %llu queries reported\n", (unsigned long long)reported,
			(unsigned long long)done);
		return 1;
	}
	return 0;
}
