/* Per-service database query aggregates: counts, latency histograms, rows and errors per
 * (db system, operation) for metrics, and per fingerprint (top-K per service plus one "other"
 * row) with their Python call sites for /api/v1/queries. Templates and call sites are interned
 * in bounded tables. Pure: fed with finished queries, no I/O, no literal values. */
#ifndef DBAGG_H
#define DBAGG_H

#include <stdint.h>

#include <json-c/json.h>

#include "dbsite.h"
#include "expo.h"
#include "sqlnorm.h"

#define DBAGG_BUCKETS 16 /* latency histogram bounds, 100 us .. 10 s */
#define DBAGG_SITES_PER_FP 4

enum db_system { DB_SYS_POSTGRESQL = 0, DB_SYS_REDIS, DB_SYS_MYSQL, DB_SYS_MAX };

struct dbagg_opts {
	size_t max_services;      /* default 256; queries of further services count as dropped */
	size_t max_fingerprints;  /* per service, default 200; further ones go to the "other" row */
	size_t max_templates;     /* default 4096; the least recently used goes */
	size_t max_sites;         /* default 4096; the least recently used goes */
};

/* One finished query as the aggregates see it. */
struct dbagg_query {
	enum db_system sys;
	enum sql_op op;
	uint64_t fingerprint;
	uint64_t duration_ns;
	uint64_t rows;
	bool error;
	bool prepare;            /* a SQL PREPARE: counted apart, not as a run of the statement */
	uint64_t site;           /* call site id from dbagg_site(), 0 = unknown */
};

struct dbagg_stats {
	uint64_t queries, service_cap_drops, other_rows;
};

struct dbagg;

struct dbagg *dbagg_new(const struct dbagg_opts *o);
void dbagg_free(struct dbagg *a);
/* Remembers the template of n->fingerprint, a statement of db system sys. */
void dbagg_template(struct dbagg *a, enum db_system sys, const struct sqlnorm *n);
/* The template and normalized text of fp (and its db system), or NULL. */
const char *dbagg_template_of(const struct dbagg *a, uint64_t fp, const char **text);
enum db_system dbagg_template_system(const struct dbagg *a, uint64_t fp);
/* Interns a call site; returns its id (never 0). */
uint64_t dbagg_site(struct dbagg *a, const char *func, const char *file, int line, enum db_orm orm);
/* "func (file:line)" of a site into out and its ORM; returns 0 or -ENOENT. */
int dbagg_site_of(const struct dbagg *a, uint64_t id, char *out, size_t len, enum db_orm *orm,
		  const char **func);
/* A small id for the service (for the N+1 detector), or -1 past the cap. */
int dbagg_service(struct dbagg *a, const char *service);
const char *dbagg_service_name(const struct dbagg *a, int id);
/* Adds one finished query of a service id. */
void dbagg_add(struct dbagg *a, int service, const struct dbagg_query *q);
/* Counts a new connection of a service (tls false), or marks a counted one encrypted (tls true). */
void dbagg_connection(struct dbagg *a, int service, enum db_system sys, bool tls);
/* pyrometer_db_* families. */
int dbagg_metrics(const struct dbagg *a, struct expo *x);
/* {"queries":[...]} for one service (NULL: all), the `limit` costliest by total time first. */
json_object *dbagg_queries_json(const struct dbagg *a, const char *service, unsigned limit);
void dbagg_get_stats(const struct dbagg *a, struct dbagg_stats *out);
const char *db_system_name(enum db_system s);

#endif
