/* Database queries from the wire: the "pgwire" data source of the daemon (bpf/pgwire.bpf.c +
 * src/pgwire.c). It captures the socket traffic of tracked Python processes, parses PostgreSQL
 * connections with src/pgproto.c, aggregates queries per service (src/dbagg.c), finds N+1 loops
 * and repeated identical queries (src/nplusone.c) with their Python call sites (src/dbsite.c),
 * and serves /api/v1/queries. */
#ifndef PGWIRE_H
#define PGWIRE_H

#include <stdbool.h>

#include <json-c/json.h>

struct engine;
struct source_ops;

/* The registered source (src/sources.c). */
extern const struct source_ops pgwire_source;

#define PGWIRE_MAX_CONNS 2048 /* connections parsed at once; further ones are left to the kernel filter */

/* Options (engine_opts.db; zeroes: defaults). */
struct pgwire_opts {
	bool disabled;              /* db_capture = false: the source does not start */
	unsigned min_repeats;       /* nplusone_min_repeats, default 5 */
	unsigned min_total_ms;      /* nplusone_min_total_ms, default 50 */
	bool min_total_set;         /* min_total_ms was given (0 is a valid floor) */
};

/* {"queries":[...]} for /api/v1/queries: one service (NULL: all), at most `limit` rows
 * (0: all), costliest first. NULL + errno ENODEV when the source is not running. Locks the
 * engine. */
json_object *pgwire_queries_json(struct engine *e, const char *service, unsigned limit);

#endif
