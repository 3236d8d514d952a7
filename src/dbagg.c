/* Per-service database query aggregates (include/dbagg.h). Templates and call sites sit in
 * fixed tables behind a chained hash index; per-service fingerprint rows are a small array with
 * an "other" row past the cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbagg.h"
#include "service.h"

static const double bounds[DBAGG_BUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					       0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10 };

struct hist {
	uint64_t b[DBAGG_BUCKETS + 1];
	uint64_t count;
	double sum_s;
};

struct opstat {
	struct hist h;
	uint64_t errors, rows;
};

struct fpstat {
	uint64_t fp, calls, errors, rows, prepares;
	uint8_t op, sys;
	struct hist h;
	struct {
		uint64_t id, calls;
	} sites[DBAGG_SITES_PER_FP];
};

struct svc {
	char name[SVC_NAME_MAX];
	struct opstat ops[DB_SYS_MAX][SQL_OP_MAX];
	struct fpstat *fps;
	size_t nfps;
	struct fpstat other;
	uint64_t conns[DB_SYS_MAX], tls_conns[DB_SYS_MAX];
};

/* A fixed table of keyed slots with a chained hash index and least-recently-used eviction. */
struct table {
	size_t cap, nb, used;
	int32_t *head, *next;
	uint64_t *keys, *seq;
	uint64_t clock;
};

struct tmpl {
	uint8_t op, sys;
	char tmpl[SQLNORM_TEMPLATE_MAX];
	char text[SQLNORM_TEXT_MAX];
};

struct site {
	char func[128], file[256];
	int line;
	uint8_t orm;
};

struct dbagg {
	struct dbagg_opts o;
	struct svc *svcs;
	size_t nsvcs;
	struct table tt, st;
	struct tmpl *tmpls;
	struct site *sites;
	struct dbagg_stats stats;
};

/* ---- the keyed table ------------------------------------------------------------------------ */

static int table_init(struct table *t, size_t cap)
{
	t->cap = cap;
	t->nb = cap * 2;
	t->head = malloc(t->nb * sizeof(*t->head));
	t->next = calloc(cap, sizeof(*t->next));
	t->keys = calloc(cap, sizeof(*t->keys));
	t->seq = calloc(cap, sizeof(*t->seq));
	if (!t->head || !t->next || !t->keys || !t->seq)
		return -ENOMEM;
	memset(t->head, 0xff, t->nb * sizeof(*t->head));
	return 0;
}

static void table_free(struct table *t)
{
	free(t->head);
	free(t->next);
	free(t->keys);
	free(t->seq);
}

static long table_find(struct table *t, uint64_t key)
{
	for (int32_t i = t->head[key % t->nb]; i >= 0; i = t->next[i])
		if (t->keys[i] == key) {
			t->seq[i] = ++t->clock;
			return i;
		}
	return -1;
}

static long table_find_const(const struct table *t, uint64_t key)
{
	for (int32_t i = t->head[key % t->nb]; i >= 0; i = t->next[i])
		if (t->keys[i] == key)
			return i;
	return -1;
}

static void table_unlink(struct table *t, size_t slot)
{
	int32_t *p = &t->head[t->keys[slot] % t->nb];

	while (*p >= 0 && (size_t)*p != slot)
		p = &t->next[*p];
	if (*p >= 0)
		*p = t->next[slot];
}

/* The slot for a new key: a free one, else the least recently used one (returned cleared). */
static size_t table_insert(struct table *t, uint64_t key, bool *evicted)
{
	size_t slot = 0;

	*evicted = false;
	if (t->used < t->cap) {
		slot = t->used++;
	} else {
		for (size_t i = 1; i < t->cap; i++)
			if (t->seq[i] < t->seq[slot])
				slot = i;
		table_unlink(t, slot);
		*evicted = true;
	}
	t->keys[slot] = key;
	t->seq[slot] = ++t->clock;
	t->next[slot] = t->head[key % t->nb];
	t->head[key % t->nb] = (int32_t)slot;
	return slot;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

struct dbagg *dbagg_new(const struct dbagg_opts *o)
{
	struct dbagg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	if (!a->o.max_services)
		a->o.max_services = 256;
	if (!a->o.max_fingerprints)
		a->o.max_fingerprints = 200;
	if (!a->o.max_templates)
		a->o.max_templates = 2048;
	if (!a->o.max_sites)
		a->o.max_sites = 4096;
	a->svcs = calloc(a->o.max_services, sizeof(*a->svcs));
	a->tmpls = calloc(a->o.max_templates, sizeof(*a->tmpls));
	a->sites = calloc(a->o.max_sites, sizeof(*a->sites));
	if (!a->svcs || !a->tmpls || !a->sites || table_init(&a->tt, a->o.max_templates) ||
	    table_init(&a->st, a->o.max_sites)) {
		dbagg_free(a);
		return NULL;
	}
	return a;
}

void dbagg_free(struct dbagg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nsvcs; i++)
		free(a->svcs[i].fps);
	free(a->svcs);
	free(a->tmpls);
	free(a->sites);
	table_free(&a->tt);
	table_free(&a->st);
	free(a);
}

const char *db_system_name(enum db_system s)
{
	static const char *const names[DB_SYS_MAX] = { "postgresql", "redis", "mysql" };

	return s >= 0 && s < DB_SYS_MAX ? names[s] : "other";
}

/* ---- templates and call sites --------------------------------------------------------------- */

void dbagg_template(struct dbagg *a, enum db_system sys, const struct sqlnorm *n)
{
	long i = table_find(&a->tt, n->fingerprint);
	bool ev;

	if (i >= 0)
		return;
	i = (long)table_insert(&a->tt, n->fingerprint, &ev);
	a->tmpls[i].op = (uint8_t)n->op;
	a->tmpls[i].sys = (uint8_t)sys;
	snprintf(a->tmpls[i].tmpl, sizeof(a->tmpls[i].tmpl), "%s", n->tmpl);
	snprintf(a->tmpls[i].text, sizeof(a->tmpls[i].text), "%s", n->text);
}

const char *dbagg_template_of(const struct dbagg *a, uint64_t fp, const char **text)
{
	long i = table_find_const(&a->tt, fp);

	if (text)
		*text = i >= 0 ? a->tmpls[i].text : NULL;
	return i >= 0 ? a->tmpls[i].tmpl : NULL;
}

enum db_system dbagg_template_system(const struct dbagg *a, uint64_t fp)
{
	long i = table_find_const(&a->tt, fp);

	return i >= 0 ? (enum db_system)a->tmpls[i].sys : DB_SYS_POSTGRESQL;
}

static uint64_t site_key(const char *func, const char *file, int line)
{
	uint64_t h = sqlnorm_hash(SQLNORM_HASH_SEED, func, strlen(func) + 1);

	h = sqlnorm_hash(h, file, strlen(file) + 1);
	h = sqlnorm_hash(h, &line, sizeof(line));
	return h ? h : 1;
}

uint64_t dbagg_site(struct dbagg *a, const char *func, const char *file, int line, enum db_orm orm)
{
	uint64_t key = site_key(func ? func : "", file ? file : "", line);
	long i = table_find(&a->st, key);
	bool ev;

	if (i < 0) {
		i = (long)table_insert(&a->st, key, &ev);
		snprintf(a->sites[i].func, sizeof(a->sites[i].func), "%s", func ? func : "");
		snprintf(a->sites[i].file, sizeof(a->sites[i].file), "%s", file ? file : "");
		a->sites[i].line = line;
	}
	a->sites[i].orm = (uint8_t)orm;
	return key;
}

int dbagg_site_of(const struct dbagg *a, uint64_t id, char *out, size_t len, enum db_orm *orm,
		  const char **func)
{
	long i = id ? table_find_const(&a->st, id) : -1;

	if (i < 0) {
		snprintf(out, len, "<unknown>");
		if (orm)
			*orm = DB_ORM_RAW;
		if (func)
			*func = "<unknown>";
		return -ENOENT;
	}
	snprintf(out, len, "%s (%s:%d)", a->sites[i].func, a->sites[i].file, a->sites[i].line);
	if (orm)
		*orm = (enum db_orm)a->sites[i].orm;
	if (func)
		*func = a->sites[i].func;
	return 0;
}

/* ---- services ------------------------------------------------------------------------------- */

int dbagg_service(struct dbagg *a, const char *service)
{
	for (size_t i = 0; i < a->nsvcs; i++)
		if (!strcmp(a->svcs[i].name, service))
			return (int)i;
	if (a->nsvcs == a->o.max_services)
		return -1;
	a->svcs[a->nsvcs].fps = calloc(a->o.max_fingerprints, sizeof(struct fpstat));
	if (!a->svcs[a->nsvcs].fps)
		return -1;
	snprintf(a->svcs[a->nsvcs].name, sizeof(a->svcs[0].name), "%s", service);
	return (int)a->nsvcs++;
}

const char *dbagg_service_name(const struct dbagg *a, int id)
{
	return id >= 0 && (size_t)id < a->nsvcs ? a->svcs[id].name : "unknown";
}

static void hist_add(struct hist *h, uint64_t ns)
{
	double s = ns / 1e9;
	int k = 0;

	while (k < DBAGG_BUCKETS && s > bounds[k])
		k++;
	h->b[k]++;
	h->count++;
	h->sum_s += s;
}

static double hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * h->count + 0.5), acc = 0;

	if (!h->count)
		return 0;
	if (!want)
		want = 1;
	for (int k = 0; k < DBAGG_BUCKETS; k++) {
		acc += h->b[k];
		if (acc >= want)
			return bounds[k];
	}
	return bounds[DBAGG_BUCKETS - 1];
}

static struct fpstat *fp_row(struct dbagg *a, struct svc *s, uint64_t fp)
{
	for (size_t i = 0; i < s->nfps; i++)
		if (s->fps[i].fp == fp)
			return &s->fps[i];
	if (s->nfps == a->o.max_fingerprints) {
		a->stats.other_rows++;
		return &s->other;
	}
	s->fps[s->nfps].fp = fp;
	return &s->fps[s->nfps++];
}

static void site_count(struct fpstat *f, uint64_t site)
{
	int low = 0;

	if (!site)
		return;
	for (int i = 0; i < DBAGG_SITES_PER_FP; i++) {
		if (f->sites[i].id == site) {
			f->sites[i].calls++;
			return;
		}
		if (f->sites[i].calls < f->sites[low].calls)
			low = i;
	}
	/* a new site replaces the least used one when all are taken */
	f->sites[low].id = site;
	f->sites[low].calls = 1;
}

void dbagg_add(struct dbagg *a, int service, const struct dbagg_query *q)
{
	struct svc *s;
	struct opstat *o;
	struct fpstat *f;

	a->stats.queries++;
	if (service < 0 || (size_t)service >= a->nsvcs || q->sys >= DB_SYS_MAX || q->op >= SQL_OP_MAX) {
		a->stats.service_cap_drops++;
		return;
	}
	s = &a->svcs[service];
	f = fp_row(a, s, q->fingerprint);
	f->op = (uint8_t)q->op;
	f->sys = (uint8_t)q->sys;
	if (q->prepare) {
		f->prepares++;
		return;
	}
	o = &s->ops[q->sys][q->op];
	hist_add(&o->h, q->duration_ns);
	o->errors += q->error;
	o->rows += q->rows;
	hist_add(&f->h, q->duration_ns);
	f->calls++;
	f->errors += q->error;
	f->rows += q->rows;
	site_count(f, q->site);
}

void dbagg_connection(struct dbagg *a, int service, enum db_system sys, bool tls)
{
	if (service < 0 || (size_t)service >= a->nsvcs || sys >= DB_SYS_MAX)
		return;
	if (tls)
		a->svcs[service].tls_conns[sys]++;
	else
		a->svcs[service].conns[sys]++;
}

void dbagg_get_stats(const struct dbagg *a, struct dbagg_stats *out)
{
	*out = a->stats;
}

/* ---- exposition ----------------------------------------------------------------------------- */

#define TRY(x)                    \
	do {                      \
		int rc_ = (x);    \
		if (rc_ < 0)      \
			return rc_; \
	} while (0)

static int op_family(const struct dbagg *a, struct expo *x, int what)
{
	for (size_t i = 0; i < a->nsvcs; i++)
		for (int sys = 0; sys < DB_SYS_MAX; sys++)
			for (int op = 0; op < SQL_OP_MAX; op++) {
				const struct opstat *o = &a->svcs[i].ops[sys][op];
				struct expo_label l[] = { { "service", a->svcs[i].name },
							  { "db_system", db_system_name(sys) },
							  { "operation", sql_op_name(op) } };

				if (!o->h.count)
					continue;
				if (what == 0)
					TRY(expo_value_u64(x, l, 3, o->h.count));
				else if (what == 1)
					TRY(expo_histogram(x, l, 3, bounds, o->h.b, DBAGG_BUCKETS, o->h.sum_s));
				else if (what == 2)
					TRY(expo_value_u64(x, l, 3, o->errors));
				else
					TRY(expo_value_u64(x, l, 3, o->rows));
			}
	return 0;
}

int dbagg_metrics(const struct dbagg *a, struct expo *x)
{
	TRY(expo_family(x, "pyrometer_db_queries_total", EXPO_COUNTER,
			"Database queries of a service seen on the wire, by db system and operation."));
	TRY(op_family(a, x, 0));
	TRY(expo_family(x, "pyrometer_db_query_duration_seconds", EXPO_HISTOGRAM,
			"Query latency seen by the client, from sending the query to its completion."));
	TRY(op_family(a, x, 1));
	TRY(expo_family(x, "pyrometer_db_query_errors_total", EXPO_COUNTER, "Queries answered with an error."));
	TRY(op_family(a, x, 2));
	TRY(expo_family(x, "pyrometer_db_rows_total", EXPO_COUNTER,
			"Rows returned or affected, from the servers' completion tags."));
	TRY(op_family(a, x, 3));
	TRY(expo_family(x, "pyrometer_db_connections_total", EXPO_COUNTER,
			"Database connections seen, by whether they were encrypted (not parsed when so)."));
	for (size_t i = 0; i < a->nsvcs; i++)
		for (int sys = 0; sys < DB_SYS_MAX; sys++) {
			const struct svc *s = &a->svcs[i];
			struct expo_label l[] = { { "service", s->name }, { "db_system", db_system_name(sys) },
						  { "encrypted", "false" } };

			if (!s->conns[sys])
				continue;
			TRY(expo_value_u64(x, l, 3, s->conns[sys] - s->tls_conns[sys]));
			l[2].value = "true";
			TRY(expo_value_u64(x, l, 3, s->tls_conns[sys]));
		}
	return 0;
}

static json_object *row_json(const struct dbagg *a, const struct svc *s, const struct fpstat *f, bool other)
{
	json_object *o = json_object_new_object(), *sites = json_object_new_array();
	const char *text = NULL, *tmpl = other ? "(other queries)" : dbagg_template_of(a, f->fp, &text);
	char fp[20];

	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)f->fp);
	json_object_object_add(o, "service", json_object_new_string(s->name));
	json_object_object_add(o, "db_system", json_object_new_string(other ? "" : db_system_name(f->sys)));
	json_object_object_add(o, "operation", json_object_new_string(other ? "OTHER" : sql_op_name(f->op)));
	json_object_object_add(o, "fingerprint", json_object_new_string(other ? "" : fp));
	json_object_object_add(o, "template", json_object_new_string(tmpl ? tmpl : "<template not seen>"));
	json_object_object_add(o, "normalized", json_object_new_string(text ? text : ""));
	json_object_object_add(o, "calls", json_object_new_uint64(f->calls));
	json_object_object_add(o, "errors", json_object_new_uint64(f->errors));
	json_object_object_add(o, "rows", json_object_new_uint64(f->rows));
	json_object_object_add(o, "prepares", json_object_new_uint64(f->prepares));
	json_object_object_add(o, "total_seconds", json_object_new_double(f->h.sum_s));
	json_object_object_add(o, "mean_seconds", json_object_new_double(f->calls ? f->h.sum_s / f->calls : 0));
	json_object_object_add(o, "p50_seconds", json_object_new_double(hist_quantile(&f->h, 0.5)));
	json_object_object_add(o, "p99_seconds", json_object_new_double(hist_quantile(&f->h, 0.99)));
	for (int i = 0; i < DBAGG_SITES_PER_FP; i++) {
		long k = f->sites[i].id ? table_find_const(&a->st, f->sites[i].id) : -1;
		json_object *so;

		if (k < 0)
			continue;
		so = json_object_new_object();
		json_object_object_add(so, "function", json_object_new_string(a->sites[k].func));
		json_object_object_add(so, "file", json_object_new_string(a->sites[k].file));
		json_object_object_add(so, "line", json_object_new_int(a->sites[k].line));
		json_object_object_add(so, "orm", json_object_new_string(dbsite_orm_name(a->sites[k].orm)));
		json_object_object_add(so, "calls", json_object_new_uint64(f->sites[i].calls));
		json_object_array_add(sites, so);
	}
	json_object_object_add(o, "callsites", sites);
	return o;
}

static int by_total_desc(const void *x, const void *y)
{
	double a = json_object_get_double(json_object_object_get(*(json_object *const *)x, "total_seconds"));
	double b = json_object_get_double(json_object_object_get(*(json_object *const *)y, "total_seconds"));

	return a < b ? 1 : a > b ? -1 : 0;
}

json_object *dbagg_queries_json(const struct dbagg *a, const char *service, unsigned limit)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t n;

	for (size_t i = 0; i < a->nsvcs; i++) {
		const struct svc *s = &a->svcs[i];

		if (service && strcmp(service, s->name))
			continue;
		for (size_t k = 0; k < s->nfps; k++)
			if (s->fps[k].calls || s->fps[k].prepares)
				json_object_array_add(arr, row_json(a, s, &s->fps[k], false));
		if (s->other.calls)
			json_object_array_add(arr, row_json(a, s, &s->other, true));
	}
	json_object_array_sort(arr, by_total_desc);
	n = json_object_array_length(arr);
	if (limit && n > limit)
		json_object_array_del_idx(arr, limit, n - limit);
	json_object_object_add(o, "queries", arr);
	return o;
}
