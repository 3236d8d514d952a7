/* Call sites, ORMs and fixes for database findings (include/dbsite.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dbsite.h"

bool dbsite_is_library(const char *file)
{
	if (!file || !*file || file[0] == '<')
		return true;
	if (strstr(file, "/site-packages/") || strstr(file, "/dist-packages/") || strstr(file, "<frozen"))
		return true;
	/* the standard library: .../lib/python3.X/<module> without a further packages dir */
	return strstr(file, "/lib/python3.") || strstr(file, "/lib/python2.") || strstr(file, "/lib64/python3.");
}

enum db_orm dbsite_orm(const struct db_frame *frames, int n)
{
	for (int i = 0; i < n; i++) {
		const char *f = frames[i].file ? frames[i].file : "";

		if (strstr(f, "/django/db/"))
			return DB_ORM_DJANGO;
		if (strstr(f, "/sqlalchemy/"))
			return DB_ORM_SQLALCHEMY;
	}
	return DB_ORM_RAW;
}

int dbsite_pick(const struct db_frame *frames, int n)
{
	if (n <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (!dbsite_is_library(frames[i].file))
			return i;
	return 0;
}

const char *dbsite_orm_name(enum db_orm orm)
{
	static const char *const names[DB_ORM_MAX] = { "raw", "django", "sqlalchemy" };

	return orm >= 0 && orm < DB_ORM_MAX ? names[orm] : "raw";
}

static const char *after_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; (p = strstr(p, word)); p += n)
		if ((p == s || p[-1] == ' ') && p[n] == ' ')
			return p + n + 1;
	return NULL;
}

void dbsite_table(const char *tmpl, char *out, size_t len)
{
	const char *p = after_word(tmpl, "FROM");
	size_t k = 0;

	if (!p)
		p = after_word(tmpl, "INTO");
	if (!p && !strncmp(tmpl, "UPDATE ", 7))
		p = tmpl + 7;
	if (len)
		out[0] = 0;
	if (!p || !len)
		return;
	for (; *p && *p != ' ' && *p != ',' && *p != '(' && *p != ')' && k + 1 < len; p++) {
		if (*p == '"' || *p == '`')
			continue;
		if (*p == '.') { /* schema.table: keep the table */
			k = 0;
			continue;
		}
		out[k++] = *p;
	}
	out[k] = 0;
}

void dbsite_fix(enum db_orm orm, bool cacheable, const char *table, const char *site, char *out, size_t len)
{
	const char *t = table && *table ? table : "the related table";

	if (cacheable) {
		snprintf(out, len,
			 "The same query with the same parameters runs again and again at %s: keep the first "
			 "result (a local variable, a dict keyed by the parameters, or a cache) instead of asking "
			 "the database each time.", site);
		return;
	}
	switch (orm) {
	case DB_ORM_DJANGO:
		snprintf(out, len,
			 "One query on %s per row of the loop at %s: fetch the related objects with the queryset "
			 "being iterated, select_related('<field>') for a ForeignKey/OneToOne or "
			 "prefetch_related('<field>') for a many-to-many or reverse relation.", t, site);
		break;
	case DB_ORM_SQLALCHEMY:
		snprintf(out, len,
			 "A lazy load on %s per row of the loop at %s: load the relationship eagerly in the query "
			 "being iterated, .options(joinedload(Parent.<rel>)) for many-to-one or "
			 ".options(selectinload(Parent.<rel>)) for collections (or lazy='selectin' on the "
			 "relationship).", t, site);
		break;
	default:
		snprintf(out, len,
			 "One query on %s per item of the loop at %s: collect the keys first and fetch all rows "
			 "in one query, WHERE id = ANY(%%s) with a list (psycopg2) or WHERE id IN (...), then "
			 "look them up in a dict.", t, site);
		break;
	}
}

void dbsite_fix_kv(bool cacheable, const char *tmpl, const char *site, char *out, size_t len)
{
	char cmd[32];
	size_t n = strcspn(tmpl, " ");

	snprintf(cmd, sizeof(cmd), "%.*s", (int)(n < sizeof(cmd) - 1 ? n : sizeof(cmd) - 1), tmpl);
	if (cacheable)
		snprintf(out, len,
			 "The same %s with the same arguments runs again and again at %s: keep the first reply "
			 "instead of asking Redis each time.", cmd, site);
	else if (!strcmp(cmd, "GET") || !strcmp(cmd, "HGET") || !strcmp(cmd, "HGETALL") || !strcmp(cmd, "SET"))
		snprintf(out, len,
			 "One %s round trip per item of the loop at %s: batch them, %s for all keys at once, or "
			 "send the loop's commands through one pipeline (redis-py: r.pipeline()).", cmd, site,
			 !strcmp(cmd, "GET") ? "MGET" : !strcmp(cmd, "HGET") ? "HMGET" : !strcmp(cmd, "SET") ? "MSET" :
			 "a pipeline of HGETALL");
	else
		snprintf(out, len,
			 "One %s round trip per item of the loop at %s: send the loop's commands through one "
			 "pipeline (redis-py: r.pipeline(); pipe.execute()) or use the command's multi-key form.",
			 cmd, site);
}
