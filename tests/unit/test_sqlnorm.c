/* Unit tests for the SQL normalizer: table of statements -> normalized text, display template and
 * operation; equal fingerprints for spellings of one query, different ones for different
 * queries; parameter hashes that tell values apart without holding them; hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlnorm.h"

struct norm_case {
	const char *sql, *text, *tmpl;
	enum sql_op op;
};

static const struct norm_case cases[] = {
	{ "select id, name from book where author_id = 42", "SELECT id, name FROM book WHERE author_id = ?",
	  "SELECT ... FROM book WHERE author_id = ?", SQL_OP_SELECT },
	{ "SELECT * FROM t WHERE a = 'zq-literal-8841' AND b = -3.5e2", "SELECT * FROM t WHERE a = ? AND b = ?",
	  "SELECT * FROM t WHERE a = ? AND b = ?", SQL_OP_SELECT },
	{ "SELECT name FROM author WHERE id IN (1, 2, 3, 4)", "SELECT name FROM author WHERE id IN (?)",
	  "SELECT name FROM author WHERE id IN (?)", SQL_OP_SELECT },
	{ "SELECT name FROM author WHERE id = ANY(ARRAY[1,2,3])", "SELECT name FROM author WHERE id = ANY(ARRAY[?])",
	  "SELECT name FROM author WHERE id = ANY(ARRAY[?])", SQL_OP_SELECT },
	{ "select name from author where id = any('{1,2,3}')", "SELECT name FROM author WHERE id = ANY(?)",
	  "SELECT name FROM author WHERE id = ANY(?)", SQL_OP_SELECT },
	{ "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, E'z\\'')", "INSERT INTO t (a, b) VALUES (?, ?)",
	  "INSERT INTO t (a, b) VALUES (?, ?)", SQL_OP_INSERT },
	{ "SELECT \"book\".\"id\", \"book\".\"title\" FROM \"book\" WHERE \"book\".\"author_id\" = 7 LIMIT 21",
	  "SELECT \"book\".\"id\", \"book\".\"title\" FROM \"book\" WHERE \"book\".\"author_id\" = ? LIMIT ?",
	  "SELECT ... FROM \"book\" WHERE \"book\".\"author_id\" = ? LIMIT ?", SQL_OP_SELECT },
	{ "  UPDATE  t\n\tSET  x = $1 -- trailing comment\n WHERE id = $2 ;", "UPDATE t SET x = ? WHERE id = ?",
	  "UPDATE t SET x = ? WHERE id = ?", SQL_OP_UPDATE },
	{ "/* app:web /* nested */ */ DELETE FROM t WHERE ts < now() - interval '1 day'",
	  "DELETE FROM t WHERE ts < now() - interval ?", "DELETE FROM t WHERE ts < now() - interval ?", SQL_OP_DELETE },
	{ "select $$it's a $tag$ body$$, $q$x$q$::text", "SELECT ?, ?::text", "SELECT ?, ?::text", SQL_OP_SELECT },
	{ "SELECT count(*) FROM t WHERE flag = true", "SELECT count(*) FROM t WHERE flag = ?",
	  "SELECT ... FROM t WHERE flag = ?", SQL_OP_SELECT },
	{ "WITH x AS (SELECT 1) UPDATE t SET a = 1", "WITH x AS (SELECT ?) UPDATE t SET a = ?",
	  "WITH x AS (SELECT ?) UPDATE t SET a = ?", SQL_OP_UPDATE },
	{ "BEGIN", "BEGIN", "BEGIN", SQL_OP_BEGIN },
	{ "commit;", "COMMIT", "COMMIT", SQL_OP_COMMIT },
	{ "SET search_path = 'public'", "SET search_path = ?", "SET search_path = ?", SQL_OP_SET },
	{ "SELECT a-1, b - 2 FROM t", "SELECT a - ?, b - ? FROM t", "SELECT ... FROM t", SQL_OP_SELECT },
	{ "select x'1f', b'101', 0xff, .5", "SELECT ?, ?, ?, ?", "SELECT ?, ?, ?, ?", SQL_OP_SELECT },
	{ "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v = 3)",
	  "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v = ?)",
	  "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v = ?)", SQL_OP_SELECT },
	{ "CREATE TABLE book (id serial PRIMARY KEY, title text)", "CREATE TABLE book (id serial PRIMARY KEY, title text)",
	  "CREATE TABLE book (id serial PRIMARY KEY, title text)", SQL_OP_DDL },
};

static void test_table(void **state)
{
	struct sqlnorm n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct norm_case *c = &cases[i];

		assert_int_equal(sqlnorm(c->sql, strlen(c->sql), false, &n), 0);
		if (strcmp(n.text, c->text) || strcmp(n.tmpl, c->tmpl) || n.op != c->op)
			fail_msg("case %zu: '%s'\n  text '%s'\n  tmpl '%s'\n  op %s", i, c->sql, n.text, n.tmpl,
				 sql_op_name(n.op));
		assert_int_not_equal(n.fingerprint, 0);
		assert_false(n.truncated);
	}
}

static uint64_t fp(const char *sql)
{
	struct sqlnorm n;

	assert_int_equal(sqlnorm(sql, strlen(sql), false, &n), 0);
	return n.fingerprint;
}

static uint64_t ph(const char *sql)
{
	struct sqlnorm n;

	assert_int_equal(sqlnorm(sql, strlen(sql), false, &n), 0);
	return n.params_hash;
}

static void test_fingerprints(void **state)
{
	assert_int_equal(fp("SELECT a FROM t WHERE id = 1"), fp("select  A\nfrom T where ID=99 -- x"));
	assert_int_equal(fp("SELECT a FROM t WHERE id IN (1)"), fp("SELECT a FROM t WHERE id IN (1,2,3,4,5)"));
	assert_int_equal(fp("INSERT INTO t VALUES (1,2)"), fp("INSERT INTO t VALUES (3,4),(5,6),(7,8)"));
	assert_int_equal(fp("SELECT a FROM t WHERE id = $1"), fp("SELECT a FROM t WHERE id = 5"));
	assert_int_not_equal(fp("SELECT a FROM t WHERE id = 1"), fp("SELECT b FROM t WHERE id = 1"));
	assert_int_not_equal(fp("SELECT a FROM t WHERE id = 1"), fp("SELECT a FROM u WHERE id = 1"));
	assert_int_not_equal(fp("SELECT a FROM \"T\""), fp("SELECT a FROM t"));
	/* stable across builds: a fixed value */
	assert_int_equal(fp("SELECT 1"), fp("select 2"));
}

static void test_params_hash(void **state)
{
	struct sqlnorm n;

	assert_int_equal(ph("SELECT a FROM t WHERE id = 1"), ph("select a from t where id = 1"));
	assert_int_not_equal(ph("SELECT a FROM t WHERE id = 1"), ph("SELECT a FROM t WHERE id = 2"));
	assert_int_not_equal(ph("SELECT a FROM t WHERE x = 'ab' AND y = 'c'"),
			     ph("SELECT a FROM t WHERE x = 'a' AND y = 'bc'"));
	assert_int_equal(ph("SELECT a FROM t WHERE id = $1"), 0);
	assert_int_equal(sqlnorm("SELECT 'zq-literal-8841'", 24, false, &n), 0);
	assert_null(strstr(n.text, "zq-literal"));
	assert_null(strstr(n.tmpl, "8841"));
	assert_int_equal(n.nliterals, 1);
}

static void test_prepare_execute(void **state)
{
	struct sqlnorm n, plain;
	const char *p = "PREPARE get_author (int) AS SELECT name FROM author WHERE id = $1";

	assert_int_equal(sqlnorm(p, strlen(p), false, &n), 0);
	assert_int_equal(n.kind, SQLNORM_PREPARE);
	assert_string_equal(n.name, "get_author");
	assert_string_equal(n.text, "SELECT name FROM author WHERE id = ?");
	assert_int_equal(n.op, SQL_OP_SELECT);
	assert_int_equal(sqlnorm("SELECT name FROM author WHERE id = 3", 36, false, &plain), 0);
	assert_int_equal(n.fingerprint, plain.fingerprint);

	assert_int_equal(sqlnorm("EXECUTE get_author(17)", 22, false, &n), 0);
	assert_int_equal(n.kind, SQLNORM_EXECUTE);
	assert_string_equal(n.name, "get_author");
	assert_int_not_equal(n.params_hash, 0);
	assert_int_equal(sqlnorm("DEALLOCATE PREPARE get_author", 29, false, &n), 0);
	assert_int_equal(n.kind, SQLNORM_DEALLOCATE);
	assert_string_equal(n.name, "get_author");
	assert_int_equal(sqlnorm("DEALLOCATE ALL", 14, false, &n), 0);
	assert_int_equal(n.kind, SQLNORM_DEALLOCATE);
	assert_string_equal(n.name, "");
}

static void test_mysql_dialect(void **state)
{
	struct sqlnorm n;
	const char *q = "SELECT `t`.`id` FROM `t` WHERE `name` = \"zq-literal-8841\" AND b = 'it\\'s' "
			"AND c = ? # trailing comment\n LIMIT 5";

	assert_int_equal(sqlnorm_dialect(q, strlen(q), false, SQL_DIALECT_MYSQL, &n), 0);
	assert_string_equal(n.text, "SELECT `t`.`id` FROM `t` WHERE `name` = ? AND b = ? AND c = ? LIMIT ?");
	assert_null(strstr(n.text, "zq-literal"));
	assert_int_equal(n.nliterals, 3);
	/* the same text as PostgreSQL keeps "..." as an identifier: the dialect matters */
	assert_int_equal(sqlnorm("SELECT \"x\"", 10, false, &n), 0);
	assert_string_equal(n.text, "SELECT \"x\"");
	assert_int_equal(sqlnorm_dialect("SELECT \"x\"", 10, false, SQL_DIALECT_MYSQL, &n), 0);
	assert_string_equal(n.text, "SELECT ?");
}

static void test_limits(void **state)
{
	struct sqlnorm n, m;
	size_t len = 200000, pos = 0;
	char *big = malloc(len + 64);

	pos += (size_t)sprintf(big, "INSERT INTO t (a) VALUES (1)");
	while (pos + 16 < len)
		pos += (size_t)sprintf(big + pos, ", (%zu)", pos);
	assert_int_equal(sqlnorm(big, pos, false, &n), 0);
	assert_string_equal(n.text, "INSERT INTO t (a) VALUES (?)");
	assert_true(n.truncated); /* more tokens than kept */
	assert_int_equal(sqlnorm(big, 100, true, &m), 0);
	assert_true(m.truncated);
	assert_int_equal(m.fingerprint, n.fingerprint); /* a cut VALUES list normalizes the same */

	/* long select lists: the text is cut, the template shows "..." */
	pos = (size_t)sprintf(big, "SELECT ");
	for (int i = 0; i < 400; i++)
		pos += (size_t)sprintf(big + pos, "col_%d, ", i);
	pos += (size_t)sprintf(big + pos, "x FROM t WHERE a = 1");
	assert_int_equal(sqlnorm(big, pos, false, &n), 0);
	assert_true(n.truncated);
	assert_string_equal(n.tmpl, "SELECT ... FROM t WHERE a = ?");
	assert_true(strlen(n.text) < SQLNORM_TEXT_MAX);

	assert_int_equal(sqlnorm("", 0, false, &n), -EINVAL);
	assert_int_equal(sqlnorm(" -- only a comment", 18, false, &n), -EINVAL);
	assert_int_equal(sqlnorm(";;;", 3, false, &n), -EINVAL);
	free(big);
}

static void test_hostile(void **state)
{
	static const char *const bad[] = {
		"'unterminated", "\"unterminated", "$tag$ never closed", "/* never closed", "E'\\",
		"SELECT ((((((((((", ")))))]]]", "\x01\x02\xff\xfe", "$", "$1$2$$", "U&", "x'", "--",
		"VALUES (", "IN (", "ARRAY[1,", "PREPARE", "PREPARE x AS", "EXECUTE", "DEALLOCATE PREPARE",
	};
	struct sqlnorm n;
	char nulls[] = "SELECT 1\0 'secret'";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sqlnorm(bad[i], strlen(bad[i]), false, &n);

		assert_true(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			assert_true(strlen(n.text) < SQLNORM_TEXT_MAX);
			assert_true(strlen(n.tmpl) < SQLNORM_TEMPLATE_MAX);
		}
	}
	assert_int_equal(sqlnorm(nulls, sizeof(nulls) - 1, false, &n), 0);
	assert_string_equal(n.text, "SELECT ?");
	/* a quoted identifier cut before its closing quote swallows literals: it is dropped as one */
	assert_int_equal(sqlnorm("SELECT \"a, 'zq-literal-8841'", 28, true, &n), 0);
	assert_null(strstr(n.text, "zq"));
	assert_int_equal(sqlnorm_dialect("SELECT a <<`b`, 'zq-literal-8841", 32, true, SQL_DIALECT_MYSQL, &n), 0);
	assert_null(strstr(n.text, "zq"));
	assert_int_equal(sqlnorm("'zq-literal-8841", 16, false, &n), 0);
	assert_true(n.truncated);
	assert_null(strstr(n.text, "zq"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),         cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_params_hash),   cmocka_unit_test(test_prepare_execute),
		cmocka_unit_test(test_limits),        cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_mysql_dialect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
