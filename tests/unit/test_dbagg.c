/* Unit tests for the database aggregates and call sites: per-operation metrics (checked by
 * exact text), top-K fingerprints with an "other" row, call sites per fingerprint, the queries
 * JSON ordering and limit; call-site picking, ORM detection, table names and fixes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dbagg.h"
#include "dbsite.h"

static void add(struct dbagg *a, int svc, const char *sql, uint64_t ns, uint64_t site)
{
	struct sqlnorm n;
	struct dbagg_query q;

	assert_int_equal(sqlnorm(sql, strlen(sql), false, &n), 0);
	dbagg_template(a, DB_SYS_POSTGRESQL, &n);
	q = (struct dbagg_query){ .op = n.op, .fingerprint = n.fingerprint, .duration_ns = ns, .rows = 1,
				  .site = site };
	dbagg_add(a, svc, &q);
}

static void test_metrics_and_json(void **state)
{
	struct dbagg_opts o = { .max_fingerprints = 2 };
	struct dbagg *a = dbagg_new(&o);
	struct expo *x = expo_new();
	int web = dbagg_service(a, "web"), worker = dbagg_service(a, "worker");
	uint64_t s1 = dbagg_site(a, "book_list", "/srv/app/views.py", 12, DB_ORM_DJANGO);
	json_object *j, *arr, *row, *sites;
	char buf[256];
	enum db_orm orm;

	assert_int_equal(dbagg_service(a, "web"), web);
	assert_int_not_equal(web, worker);
	for (int i = 0; i < 10; i++)
		add(a, web, "SELECT name FROM author WHERE id = 1", 2000000, s1);
	add(a, web, "UPDATE book SET title = 'x' WHERE id = 2", 30000000, 0);
	add(a, web, "DELETE FROM book WHERE id = 3", 1000, 0); /* a third fingerprint: "other" */
	add(a, worker, "SELECT 1", 50000, 0);
	assert_int_equal(dbagg_metrics(a, x), 0);
	const char *page = expo_data(x, NULL);
	assert_non_null(strstr(page, "pyrometer_db_queries_total{service=\"web\",db_system=\"postgresql\",operation=\"SELECT\"} 10\n"));
	assert_non_null(strstr(page, "pyrometer_db_queries_total{service=\"web\",db_system=\"postgresql\",operation=\"DELETE\"} 1\n"));
	assert_non_null(strstr(page, "pyrometer_db_query_duration_seconds_bucket{service=\"web\",db_system=\"postgresql\",operation=\"SELECT\",le=\"0.0025\"} 10\n"));
	assert_non_null(strstr(page, "pyrometer_db_query_duration_seconds_bucket{service=\"web\",db_system=\"postgresql\",operation=\"SELECT\",le=\"0.001\"} 0\n"));
	assert_non_null(strstr(page, "pyrometer_db_rows_total{service=\"worker\",db_system=\"postgresql\",operation=\"SELECT\"} 1\n"));
	assert_null(strstr(page, "author")); /* no template in metrics */

	j = dbagg_queries_json(a, "web", 0);
	arr = json_object_object_get(j, "queries");
	assert_int_equal(json_object_array_length(arr), 3);
	row = json_object_array_get_idx(arr, 0); /* the costliest first: the UPDATE */
	assert_string_equal(json_object_get_string(json_object_object_get(row, "template")),
			    "UPDATE book SET title = ? WHERE id = ?");
	row = json_object_array_get_idx(arr, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(row, "template")),
			    "SELECT name FROM author WHERE id = ?");
	assert_int_equal(json_object_get_int(json_object_object_get(row, "calls")), 10);
	sites = json_object_object_get(row, "callsites");
	assert_int_equal(json_object_array_length(sites), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(sites, 0), "function")),
			    "book_list");
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(sites, 0), "orm")),
			    "django");
	row = json_object_array_get_idx(arr, 2);
	assert_string_equal(json_object_get_string(json_object_object_get(row, "template")), "(other queries)");
	json_object_put(j);
	j = dbagg_queries_json(a, NULL, 1);
	assert_int_equal(json_object_array_length(json_object_object_get(j, "queries")), 1);
	json_object_put(j);

	assert_int_equal(dbagg_site_of(a, s1, buf, sizeof(buf), &orm, NULL), 0);
	assert_string_equal(buf, "book_list (/srv/app/views.py:12)");
	assert_int_equal(dbagg_site_of(a, 12345, buf, sizeof(buf), &orm, NULL), -ENOENT);
	expo_free(x);
	dbagg_free(a);
}

static void test_bounded_tables(void **state)
{
	struct dbagg_opts o = { .max_services = 2, .max_templates = 4, .max_sites = 4 };
	struct dbagg *a = dbagg_new(&o);
	struct dbagg_stats st;
	char sql[64];

	assert_int_equal(dbagg_service(a, "a"), 0);
	assert_int_equal(dbagg_service(a, "b"), 1);
	assert_int_equal(dbagg_service(a, "c"), -1);
	for (int i = 0; i < 20; i++) {
		snprintf(sql, sizeof(sql), "SELECT c%d FROM t", i);
		add(a, 0, sql, 1000, dbagg_site(a, "f", "/x.py", i, DB_ORM_RAW));
	}
	add(a, -1, "SELECT 1", 1, 0);
	dbagg_get_stats(a, &st);
	assert_int_equal(st.service_cap_drops, 1);
	/* the newest templates are kept */
	{
		struct sqlnorm n;

		sqlnorm("SELECT c19 FROM t", 17, false, &n);
		assert_non_null(dbagg_template_of(a, n.fingerprint, NULL));
		sqlnorm("SELECT c0 FROM t", 16, false, &n);
		assert_null(dbagg_template_of(a, n.fingerprint, NULL));
	}
	dbagg_free(a);
}

static void test_sites(void **state)
{
	const struct db_frame django[] = {
		{ "CursorWrapper._execute", "/usr/lib/python3/dist-packages/django/db/backends/utils.py", 84 },
		{ "ForwardManyToOneDescriptor.__get__", "/usr/lib/python3/dist-packages/django/db/models/fields/related_descriptors.py", 187 },
		{ "book_list", "/srv/shop/views.py", 14 },
		{ "View.dispatch", "/usr/lib/python3/dist-packages/django/views/generic/base.py", 98 },
	};
	const struct db_frame sqla[] = {
		{ "Connection._execute_context", "/usr/lib/python3/dist-packages/sqlalchemy/engine/base.py", 1800 },
		{ "report", "/home/u/app.py", 40 },
	};
	const struct db_frame raw[] = {
		{ "slow_lookup", "/work/main/tests/py/db_psycopg2.py", 25 },
		{ "main", "/work/main/tests/py/db_psycopg2.py", 70 },
	};
	const struct db_frame libonly[] = { { "run", "/usr/lib/python3.11/threading.py", 975 } };
	char table[64], fix[1024];

	assert_int_equal(dbsite_pick(django, 4), 2);
	assert_int_equal(dbsite_orm(django, 4), DB_ORM_DJANGO);
	assert_int_equal(dbsite_pick(sqla, 2), 1);
	assert_int_equal(dbsite_orm(sqla, 2), DB_ORM_SQLALCHEMY);
	assert_int_equal(dbsite_pick(raw, 2), 0);
	assert_int_equal(dbsite_orm(raw, 2), DB_ORM_RAW);
	assert_int_equal(dbsite_pick(libonly, 1), 0);
	assert_int_equal(dbsite_pick(NULL, 0), -1);
	assert_true(dbsite_is_library("/root/.pyenv/versions/3.12.7/lib/python3.12/socket.py"));
	assert_true(dbsite_is_library("<frozen importlib._bootstrap>"));
	assert_false(dbsite_is_library("/srv/app/lib/pythonic.py"));

	dbsite_table("SELECT ... FROM \"shop_author\" WHERE \"shop_author\".\"id\" = ? LIMIT ?", table, sizeof(table));
	assert_string_equal(table, "shop_author");
	dbsite_table("SELECT ... FROM public.author AS a WHERE a.id = ?", table, sizeof(table));
	assert_string_equal(table, "author");
	dbsite_table("INSERT INTO t (a) VALUES (?)", table, sizeof(table));
	assert_string_equal(table, "t");
	dbsite_table("UPDATE book SET x = ?", table, sizeof(table));
	assert_string_equal(table, "book");
	dbsite_table("BEGIN", table, sizeof(table));
	assert_string_equal(table, "");

	dbsite_fix(DB_ORM_DJANGO, false, "shop_author", "book_list (/srv/shop/views.py:14)", fix, sizeof(fix));
	assert_non_null(strstr(fix, "select_related"));
	assert_non_null(strstr(fix, "prefetch_related"));
	assert_non_null(strstr(fix, "book_list (/srv/shop/views.py:14)"));
	dbsite_fix(DB_ORM_SQLALCHEMY, false, "author", "report (/home/u/app.py:40)", fix, sizeof(fix));
	assert_non_null(strstr(fix, "joinedload"));
	assert_non_null(strstr(fix, "selectinload"));
	dbsite_fix(DB_ORM_RAW, false, "author", "x", fix, sizeof(fix));
	assert_non_null(strstr(fix, "ANY(%s)"));
	dbsite_fix(DB_ORM_RAW, true, "author", "x", fix, sizeof(fix));
	assert_non_null(strstr(fix, "same parameters"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_and_json),
		cmocka_unit_test(test_bounded_tables),
		cmocka_unit_test(test_sites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
