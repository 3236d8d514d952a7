/* Where a query came from in the Python code, and what to do about an N+1 there: picks the call
 * site (the innermost application frame) from a stack captured at send time, recognizes the ORM
 * on the stack, names the table a template reads, and writes the fix for a finding. Pure. */
#ifndef DBSITE_H
#define DBSITE_H

#include <stdbool.h>
#include <stddef.h>

enum db_orm { DB_ORM_RAW = 0, DB_ORM_DJANGO, DB_ORM_SQLALCHEMY, DB_ORM_MAX };

struct db_frame {
	const char *name; /* qualified function name */
	const char *file;
	int line;
};

/* True for the standard library, site-packages/dist-packages, frozen modules and <...> files. */
bool dbsite_is_library(const char *file);
/* The ORM whose frames are on the stack (frames[0] innermost), or DB_ORM_RAW. */
enum db_orm dbsite_orm(const struct db_frame *frames, int n);
/* Index of the call site: the innermost frame that is not library code; 0 if all are. -1 if n is 0. */
int dbsite_pick(const struct db_frame *frames, int n);
/* "raw", "django", "sqlalchemy". */
const char *dbsite_orm_name(enum db_orm orm);
/* The first table after FROM (or INTO/UPDATE) in a template, quotes and schema dropped:
 * "SELECT ... FROM \"shop_author\" WHERE ..." -> "shop_author". "" if none. */
void dbsite_table(const char *tmpl, char *out, size_t len);
/* The advice for an N+1 (cacheable = false) or a repeated identical query (cacheable = true)
 * seen at `site` ("func (file:line)") on `table`. */
void dbsite_fix(enum db_orm orm, bool cacheable, const char *table, const char *site, char *out, size_t len);
/* The same for a key-value store (Redis) command template ("GET ?"). */
void dbsite_fix_kv(bool cacheable, const char *tmpl, const char *site, char *out, size_t len);

#endif
