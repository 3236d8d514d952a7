/* The "pgwire" data source (include/pgwire.h): loads bpf/pgwire.bpf.c sharing the CPU sampler's
 * py_procs, has its ring buffer copied by a thread of its own (src/ringq.c) and drains that every
 * engine turn into one PostgreSQL parser per (pid, fd),
 * turns finished queries into per-service aggregates and N+1 bursts, and resolves the Python
 * stack captured at send time into a call site once per (pid, stack). Only this file touches the
 * capture's BPF objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpflog.h"
#include "dbagg.h"
#include "dbsite.h"
#include "nplusone.h"
#include "pgproto.h"
#include "pgwire.h"
#include "pgwire.skel.h"
#include "mysqlproto.h"
#include "respproto.h"
#include "ringq.h"
#include "source.h"

#define SITE_CACHE 8192 /* (pid, stack) -> call site, direct-mapped */
/* The copier drains the kernel ring (PM_DB_RINGBUF, 8 MiB) once a quarter of it is unread into a
 * queue of up to DB_QUEUE_BYTES, so the ring never fills while the engine thread waits on /proc. */
#define DB_QUEUE_BYTES (16u << 20)

struct conn_ref;

struct conn {
	uint32_t pid; /* 0: free slot */
	int32_t fd;
	int svc;
	bool tls;
	enum db_system sys;
	struct pg_conn *pg;     /* DB_SYS_POSTGRESQL */
	struct resp_conn *resp; /* DB_SYS_REDIS */
	struct my_conn *my;     /* DB_SYS_MYSQL */
	struct conn_ref *ref;   /* the parsers' callback context, owned with the parser */
};

struct site_entry {
	uint32_t pid;
	uint64_t stack, site;
};

struct pgwire {
	struct engine *e;
	struct pgwire_bpf *skel;
	struct ringq *rq; /* db_events, copied by its own thread (include/ringq.h) */
	size_t stack_value_size;
	struct pm_py_stack *stack_buf;
	struct conn *conns; /* open addressing on (pid, fd), PGWIRE_MAX_CONNS * 2 slots */
	size_t nslots, nconns;
	struct site_entry sites[SITE_CACHE];
	struct dbagg *agg;
	struct np *np;
	uint64_t bad_events, conn_cap_drops, not_pg, lost_stacks, tls_conns;
	uint64_t parser_desyncs, parser_dropped;
	bool paused; /* db_capture = false since a reload: the kernel side streams nothing */
	bool chained; /* db_send/db_recv run as the I/O source's tail calls, not from links of their own */
};

/* ---- the connection table ------------------------------------------------------------------- */

static size_t conn_hash(const struct pgwire *w, uint32_t pid, int32_t fd)
{
	uint64_t h = ((uint64_t)pid << 32 | (uint32_t)fd) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 20) % w->nslots;
}

static struct conn *conn_find(struct pgwire *w, uint32_t pid, int32_t fd)
{
	for (size_t i = conn_hash(w, pid, fd), n = 0; n < w->nslots; i = (i + 1) % w->nslots, n++) {
		if (!w->conns[i].pid)
			return NULL;
		if (w->conns[i].pid == pid && w->conns[i].fd == fd)
			return &w->conns[i];
	}
	return NULL;
}

static void count_parser(struct pgwire *w, const struct conn *c)
{
	const struct pg_stats *st = c->pg ? pg_conn_stats(c->pg) : c->resp ? resp_conn_stats(c->resp)
				  : c->my ? my_conn_stats(c->my) : NULL;

	if (!st)
		return;
	w->parser_desyncs += st->desyncs[0] + st->desyncs[1];
	w->parser_dropped += st->dropped + st->pending_full;
}

/* Linear-probing delete: later members of the run move back into the hole. */
static void conn_remove(struct pgwire *w, struct conn *c)
{
	size_t hole = (size_t)(c - w->conns), i = hole;

	pg_conn_free(c->pg);
	resp_conn_free(c->resp);
	my_conn_free(c->my);
	free(c->ref);
	memset(c, 0, sizeof(*c));
	w->nconns--;
	for (;;) {
		size_t home;

		i = (i + 1) % w->nslots;
		if (!w->conns[i].pid)
			return;
		home = conn_hash(w, w->conns[i].pid, w->conns[i].fd);
		/* move i into the hole unless its home lies cyclically in (hole, i] */
		if ((i > hole && (home <= hole || home > i)) || (i < hole && home <= hole && home > i)) {
			w->conns[hole] = w->conns[i]; /* its conn_ref finds it by (pid, fd) */
			memset(&w->conns[i], 0, sizeof(w->conns[i]));
			hole = i;
		}
	}
}

static void set_kernel_state(struct pgwire *w, uint32_t pid, int32_t fd, enum pm_db_state state)
{
	struct pm_db_conn_key k = { .pid = pid, .fd = fd };
	struct pm_db_conn v = { .state = (uint8_t)state };

	bpf_map__update_elem(w->skel->maps.db_conns, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

/* ---- parser callbacks ----------------------------------------------------------------------- */

/* Parser callbacks find their connection through this, since slots move on deletion. */
struct conn_ref {
	struct pgwire *w;
	uint32_t pid;
	int32_t fd;
};

static struct conn *ref_conn(void *ctx)
{
	struct conn_ref *r = ctx;

	return conn_find(r->w, r->pid, r->fd);
}

static void on_statement(void *ctx, const struct sqlnorm *n)
{
	struct conn_ref *r = ctx;
	struct conn *c = ref_conn(ctx);

	dbagg_template(r->w->agg, c ? c->sys : DB_SYS_POSTGRESQL, n);
}

/* The call site of a query: the innermost application frame of the stack captured at send. */
static uint64_t site_of(struct pgwire *w, uint32_t pid, uint64_t stack)
{
	struct site_entry *c = &w->sites[(stack ^ pid * 0x9e3779b97f4a7c15ULL) % SITE_CACHE];
	char func[128] = "", file[256] = "";
	enum db_orm orm = DB_ORM_RAW;
	int line = 0;
	bool have = false;

	if (!stack)
		return 0;
	if (c->pid == pid && c->stack == stack)
		return c->site;
	memset(w->stack_buf, 0, w->stack_value_size);
	if (bpf_map__lookup_elem(w->skel->maps.db_stacks, &stack, sizeof(stack), w->stack_buf,
				 w->stack_value_size, 0)) {
		w->lost_stacks++;
		return 0;
	}
	for (uint32_t i = 0; i < w->stack_buf->nframes && i < PM_DB_MAX_DEPTH; i++) {
		const struct pm_py_frame *f = &w->stack_buf->frames[i];
		const char *name, *path;
		struct db_frame df;
		int ln;

		if (engine_symbolize(w->e, pid, f->code, f->lasti, &name, &path, &ln) < 0)
			continue;
		df = (struct db_frame){ name, path, ln };
		if (orm == DB_ORM_RAW)
			orm = dbsite_orm(&df, 1);
		/* the innermost frame stands in until an application frame shows up */
		if (!have || (dbsite_is_library(file) && !dbsite_is_library(path))) {
			snprintf(func, sizeof(func), "%s", name);
			snprintf(file, sizeof(file), "%s", path);
			line = ln;
			have = true;
		}
	}
	if (!have)
		return 0;
	c->pid = pid;
	c->stack = stack;
	c->site = dbagg_site(w->agg, func, file, line, orm);
	return c->site;
}

/* A process is attributed again after exec (or a reload): queries follow its current service. */
static void conn_service(struct pgwire *w, struct conn *c)
{
	const char *service = engine_service_of(w->e, (pid_t)c->pid);

	if (service && strcmp(service, dbagg_service_name(w->agg, c->svc)))
		c->svc = dbagg_service(w->agg, service);
}

static void on_query(void *ctx, const struct pg_query *q)
{
	struct conn_ref *r = ctx;
	struct pgwire *w = r->w;
	struct conn *c = ref_conn(ctx);
	struct dbagg_query aq;
	uint64_t site;

	if (!c)
		return;
	conn_service(w, c);
	site = site_of(w, c->pid, q->stack);
	aq = (struct dbagg_query){ .sys = c->sys, .op = q->op, .fingerprint = q->fingerprint,
				   .duration_ns = q->end_ns - q->start_ns, .rows = q->rows, .error = q->error,
				   .prepare = q->flags & PG_Q_PREPARE, .site = site };
	dbagg_add(w->agg, c->svc, &aq);
	/* a pipelined query shares its round trip with the one before: not a repeat of its own */
	if (!(q->flags & (PG_Q_PREPARE | PG_Q_PIPELINED)) && c->svc >= 0) {
		struct np_query nq = { .pid = c->pid, .tid = q->tid, .service = (uint32_t)c->svc,
				       .fingerprint = q->fingerprint, .params_hash = q->params_hash, .callsite = site,
				       .start_ns = q->start_ns, .end_ns = q->end_ns };

		np_add(w->np, &nq);
	}
}

static void on_encrypted(void *ctx)
{
	struct conn_ref *r = ctx;
	struct conn *c = ref_conn(ctx);

	if (!c)
		return;
	c->tls = true;
	r->w->tls_conns++;
	dbagg_connection(r->w->agg, c->svc, c->sys, true);
	set_kernel_state(r->w, c->pid, c->fd, PM_DB_TLS);
}

static const struct pg_callbacks callbacks = { on_statement, on_query, on_encrypted };

/* ---- events --------------------------------------------------------------------------------- */

static struct conn *conn_open(struct pgwire *w, const struct pm_db_event *ev)
{
	const char *service = engine_service_of(w->e, (pid_t)ev->hdr.pid);
	enum db_system sys = ev->state == PM_DB_REDIS ? DB_SYS_REDIS : ev->state == PM_DB_MYSQL ? DB_SYS_MYSQL
											: DB_SYS_POSTGRESQL;
	enum pg_class cls = sys == DB_SYS_REDIS	  ? resp_classify(ev->data, ev->head_len)
			    : sys == DB_SYS_MYSQL ? mysql_classify(ev->data, ev->head_len)
						  : pg_classify(ev->data, ev->head_len);
	bool midstream = ev->state == PM_DB_PG_MID || ev->dir == PM_DB_RECV || cls == PG_CLASS_MIDSTREAM;
	struct conn_ref *ref;
	size_t i;

	if (!service)
		return NULL;
	if (ev->dir == PM_DB_SEND && cls == PG_CLASS_NO) {
		w->not_pg++;
		set_kernel_state(w, ev->hdr.pid, ev->fd, PM_DB_OTHER);
		return NULL;
	}
	if (w->nconns >= PGWIRE_MAX_CONNS) {
		w->conn_cap_drops++;
		set_kernel_state(w, ev->hdr.pid, ev->fd, PM_DB_OTHER);
		return NULL;
	}
	ref = malloc(sizeof(*ref));
	if (!ref)
		return NULL;
	*ref = (struct conn_ref){ w, ev->hdr.pid, ev->fd };
	for (i = conn_hash(w, ev->hdr.pid, ev->fd); w->conns[i].pid; i = (i + 1) % w->nslots)
		;
	w->conns[i] = (struct conn){ .pid = ev->hdr.pid, .fd = ev->fd, .ref = ref, .sys = sys };
	if (sys == DB_SYS_REDIS)
		w->conns[i].resp = resp_conn_new(&callbacks, ref, midstream);
	else if (sys == DB_SYS_MYSQL)
		w->conns[i].my = my_conn_new(&callbacks, ref, midstream);
	else
		w->conns[i].pg = pg_conn_new(&callbacks, ref, midstream);
	if (!w->conns[i].pg && !w->conns[i].resp && !w->conns[i].my) {
		free(ref);
		memset(&w->conns[i], 0, sizeof(w->conns[i]));
		return NULL;
	}
	w->nconns++;
	w->conns[i].svc = dbagg_service(w->agg, service);
	dbagg_connection(w->agg, w->conns[i].svc, w->conns[i].sys, false);
	return &w->conns[i];
}

static void conn_close(struct pgwire *w, struct conn *c)
{
	count_parser(w, c);
	conn_remove(w, c);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct pgwire *w = ctx;
	const struct pm_db_event *ev = data;
	struct pg_chunk ch;
	struct conn *c;

	if (len < sizeof(*ev) || ev->hdr.len > len || ev->hdr.len != sizeof(*ev) + ev->head_len + ev->tail_len ||
	    ev->head_len > PM_DB_HEAD || ev->tail_len > PM_DB_TAIL ||
	    ev->total < (uint64_t)ev->head_len + ev->tail_len) {
		w->bad_events++;
		return 0;
	}
	c = conn_find(w, ev->hdr.pid, ev->fd);
	if (ev->hdr.kind == PM_EV_DB_CLOSE) {
		if (c)
			conn_close(w, c);
		return 0;
	}
	if (ev->hdr.kind != PM_EV_DB_DATA) {
		w->bad_events++;
		return 0;
	}
	if (!c && !(c = conn_open(w, ev)))
		return 0;
	ch = (struct pg_chunk){ .head = ev->data, .head_len = ev->head_len, .tail = ev->data + ev->head_len,
				.tail_len = ev->tail_len, .total = ev->total,
				.ts_ns = ev->hdr.ts_ns, .tid = ev->hdr.tid,
				.stack = ev->py_stack };
	if (c->resp)
		resp_conn_feed(c->resp, ev->dir == PM_DB_SEND ? PG_FRONTEND : PG_BACKEND, &ch);
	else if (c->my)
		my_conn_feed(c->my, ev->dir == PM_DB_SEND ? PG_FRONTEND : PG_BACKEND, &ch);
	else
		pg_conn_feed(c->pg, ev->dir == PM_DB_SEND ? PG_FRONTEND : PG_BACKEND, &ch);
	return 0;
}

/* Hands every record the copier queued, and what the kernel ring holds now, to on_event. */
static void drain_events(struct pgwire *w)
{
	ringq_consume(w->rq, on_event, w);
}

/* ---- the two socket hooks ------------------------------------------------------------------- */

/* Runs db_send/db_recv on every socket transfer of a tracked process: as the tail calls of the
 * I/O source's programs on the same tracepoints when that source runs (bpf/sockchain.bpf.h: one
 * program entry per transfer instead of two), else from links of their own. Returns 0 or -errno. */
static int hooks_on(struct pgwire *w)
{
	struct pgwire_bpf *s = w->skel;
	__u32 zero = 0;
	int send_fd, recv_fd;

	w->chained = engine_source_running(w->e, "io");
	if (w->chained) {
		send_fd = bpf_program__fd(s->progs.db_send);
		recv_fd = bpf_program__fd(s->progs.db_recv);
		if (bpf_map__update_elem(s->maps.sock_send_chain, &zero, sizeof(zero), &send_fd, sizeof(send_fd), 0) ||
		    bpf_map__update_elem(s->maps.sock_recv_chain, &zero, sizeof(zero), &recv_fd, sizeof(recv_fd), 0)) {
			int err = -errno;

			bpf_map__delete_elem(s->maps.sock_send_chain, &zero, sizeof(zero), 0);
			return err;
		}
		return 0;
	}
	s->links.db_send = bpf_program__attach(s->progs.db_send);
	s->links.db_recv = s->links.db_send ? bpf_program__attach(s->progs.db_recv) : NULL;
	if (!s->links.db_recv) {
		int err = -errno;

		bpf_link__destroy(s->links.db_send);
		s->links.db_send = NULL;
		return err;
	}
	return 0;
}

/* Stops both hooks: the host pays nothing for the capture from here. */
static void hooks_off(struct pgwire *w)
{
	struct pgwire_bpf *s = w->skel;
	__u32 zero = 0;

	if (w->chained) {
		bpf_map__delete_elem(s->maps.sock_send_chain, &zero, sizeof(zero), 0);
		bpf_map__delete_elem(s->maps.sock_recv_chain, &zero, sizeof(zero), 0);
	}
	bpf_link__destroy(s->links.db_send);
	bpf_link__destroy(s->links.db_recv);
	s->links.db_send = s->links.db_recv = NULL;
}

/* ---- source hooks --------------------------------------------------------------------------- */

static void pgwire_stop(void *state)
{
	struct pgwire *w = state;

	if (!w)
		return;
	ringq_free(w->rq);
	if (w->skel)
		hooks_off(w);
	pgwire_bpf__destroy(w->skel);
	for (size_t i = 0; w->conns && i < w->nslots; i++)
		if (w->conns[i].pid) {
			pg_conn_free(w->conns[i].pg);
			resp_conn_free(w->conns[i].resp);
			my_conn_free(w->conns[i].my);
			free(w->conns[i].ref);
		}
	free(w->conns);
	free(w->stack_buf);
	dbagg_free(w->agg);
	np_free(w->np);
	free(w);
}

static int load(struct pgwire *w)
{
	int err;

	w->skel = pgwire_bpf__open();
	if (!w->skel)
		return -errno;
	w->skel->rodata->max_depth = PM_DB_MAX_DEPTH;
	bpf_map__set_value_size(w->skel->maps.db_stacks, w->stack_value_size);
	err = engine_share_tracked(w->e, w->skel->obj);
	if (err)
		return err;
	err = pgwire_bpf__load(w->skel);
	if (err)
		return err;
	err = hooks_on(w);
	if (err)
		return err;
	return ringq_start(bpf_map__fd(w->skel->maps.db_events), DB_QUEUE_BYTES, &w->rq);
}

static int pgwire_start(struct engine *e, const struct engine_opts *o, void **state)
{
	const struct pgwire_opts *po = &o->db;
	struct np_opts npo = { .min_repeats = po->min_repeats,
			       .min_total_ns = (po->min_total_set ? po->min_total_ms : NP_DEFAULT_MIN_TOTAL_MS) *
					       1000000ULL };
	struct dbagg_opts ao = { .max_services = o->max_services };
	struct pgwire *w;
	int err;

	if (po->disabled)
		return -ECANCELED;
	bpflog_init();
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->e = e;
	w->nslots = PGWIRE_MAX_CONNS * 2;
	w->conns = calloc(w->nslots, sizeof(*w->conns));
	w->stack_value_size = offsetof(struct pm_py_stack, frames) + PM_DB_MAX_DEPTH * sizeof(struct pm_py_frame);
	w->stack_buf = calloc(1, sizeof(*w->stack_buf));
	w->agg = dbagg_new(&ao);
	w->np = np_new(&npo);
	if (!w->conns || !w->stack_buf || !w->agg || !w->np) {
		err = -ENOMEM;
		goto fail;
	}
	err = load(w);
	if (err)
		goto fail;
	*state = w;
	return 0;
fail:
	pgwire_stop(w);
	return err < 0 ? err : -EINVAL;
}

/* Closes the parsers of pid's connections (every process's for pid 0) and ends their open bursts. */
static void close_conns(struct pgwire *w, uint32_t pid)
{
	for (size_t i = 0; i < w->nslots;) {
		uint32_t owner = w->conns[i].pid;

		if (owner && (!pid || owner == pid)) {
			if (!pid)
				np_forget_pid(w->np, owner, 0);
			conn_close(w, &w->conns[i]); /* a later entry may move into i: look again */
		} else {
			i++;
		}
	}
	if (pid)
		np_forget_pid(w->np, pid, 0); /* its bursts, connection or not */
}

/* Forgets a process's sockets, here and in the kernel (a reused pid starts afresh). */
static void pgwire_untrack(void *state, pid_t pid)
{
	struct pgwire *w = state;
	struct pm_db_conn_key k, next, dead[256];
	int fd = bpf_map__fd(w->skel->maps.db_conns), n = 0;
	bool first = true;

	drain_events(w); /* what it sent before it went */
	close_conns(w, (uint32_t)pid);
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		if (next.pid == (uint32_t)pid && n < 256)
			dead[n++] = next;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	for (size_t i = 0; i < SITE_CACHE; i++)
		if (w->sites[i].pid == (uint32_t)pid)
			memset(&w->sites[i], 0, sizeof(w->sites[i]));
}

/* db_capture switched by a reload. Pausing unhooks db_send/db_recv (hooks_off(): the host pays nothing
 * for them from then on), finishes what the kernel already streamed and closes every connection's
 * parser: the stream has a gap from here, so after resuming each connection is joined afresh at
 * its next message (as at start-up, for connections older than the daemon). */
static void pgwire_reload(void *state, const struct engine_opts *o)
{
	struct pgwire *w = state;

	if (o->db.disabled == w->paused)
		return;
	if (!o->db.disabled) {
		int err = hooks_on(w);

		if (err) {
			fprintf(stderr, "pyrometerd: db capture: cannot resume (%s), still paused\n", strerror(-err));
			return;
		}
		w->paused = false;
		return;
	}
	hooks_off(w);
	w->paused = true;
	drain_events(w);
	close_conns(w, 0);
}

static void pgwire_tick(void *state, uint64_t now)
{
	struct pgwire *w = state;

	drain_events(w);
	np_tick(w->np, now);
}


static uint64_t bpf_stat(struct pgwire *w, enum pm_db_stat idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;
	uint32_t key = idx;

	if (ncpu <= 0 || bpf_map__lookup_elem(w->skel->maps.db_stats, &key, sizeof(key), vals,
					      sizeof(uint64_t) * ncpu, 0))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

struct find_count {
	struct pgwire *w;
	uint64_t *counts; /* [service * 2 + kind - 1] */
};

static void count_finding(const struct np_finding *f, void *ctx)
{
	struct find_count *fc = ctx;

	fc->counts[f->service * 2 + (f->kind == NP_CACHEABLE)]++;
}

#define TRY(x)                    \
	do {                      \
		int rc_ = (x);    \
		if (rc_ < 0)      \
			return rc_; \
	} while (0)

static int findings_metric(struct pgwire *w, struct expo *x)
{
	static uint64_t counts[2 * 65536];
	struct find_count fc = { w, counts };

	memset(counts, 0, sizeof(counts));
	np_foreach(w->np, count_finding, &fc);
	TRY(expo_family(x, "pyrometer_db_findings", EXPO_GAUGE,
			"Current database findings of a service: nplusone loops and repeated identical queries."));
	for (int s = 0; s < 65536; s++) {
		const char *name = dbagg_service_name(w->agg, s);
		struct expo_label l[] = { { "service", name }, { "kind", "nplusone" } };

		if (!strcmp(name, "unknown") && s)
			break;
		if (!counts[s * 2] && !counts[s * 2 + 1])
			continue;
		TRY(expo_value_u64(x, l, 2, counts[s * 2]));
		l[1].value = "repeated_query";
		TRY(expo_value_u64(x, l, 2, counts[s * 2 + 1]));
	}
	return 0;
}

static int pgwire_metrics(void *state, struct expo *x)
{
	struct pgwire *w = state;
	struct expo_label r[1] = { { "reason", "ringbuf_full" } };
	struct np_stats ns;

	drain_events(w);
	np_get_stats(w->np, &ns);
	TRY(dbagg_metrics(w->agg, x));
	TRY(findings_metric(w, x));
	TRY(expo_family(x, "pyrometer_db_capture_enabled", EXPO_GAUGE,
			"1 while database queries are captured, 0 while a reloaded configuration pauses the capture."));
	TRY(expo_value_u64(x, NULL, 0, !w->paused));
	TRY(expo_family(x, "pyrometer_db_capture_events_total", EXPO_COUNTER,
			"Socket transfers of database connections streamed from the kernel."));
	TRY(expo_value_u64(x, NULL, 0, bpf_stat(w, PM_DB_STAT_EVENTS)));
	TRY(expo_family(x, "pyrometer_db_capture_drops_total", EXPO_COUNTER,
			"Database capture data lost or refused, by reason."));
	TRY(expo_value_u64(x, r, 1, bpf_stat(w, PM_DB_STAT_RB_FULL)));
	r[0].value = "queue_full";
	TRY(expo_value_u64(x, r, 1, ringq_dropped(w->rq)));
	r[0].value = "stack_map_full";
	TRY(expo_value_u64(x, r, 1, bpf_stat(w, PM_DB_STAT_STACK_FULL)));
	r[0].value = "stack_evicted";
	TRY(expo_value_u64(x, r, 1, w->lost_stacks));
	r[0].value = "connection_cap";
	TRY(expo_value_u64(x, r, 1, w->conn_cap_drops));
	r[0].value = "malformed_record";
	TRY(expo_value_u64(x, r, 1, w->bad_events));
	r[0].value = "parser_desync";
	TRY(expo_value_u64(x, r, 1, w->parser_desyncs));
	r[0].value = "burst_thread_cap";
	TRY(expo_value_u64(x, r, 1, ns.thread_cap_drops));
	return 0;
}

struct find_ctx {
	struct pgwire *w;
	json_object *arr;
};

static void finding_json(const struct np_finding *f, void *ctx)
{
	struct find_ctx *fc = ctx;
	struct pgwire *w = fc->w;
	json_object *o = json_object_new_object(), *ev = json_object_new_object();
	const char *text = NULL, *tmpl = dbagg_template_of(w->agg, f->fingerprint, &text), *func;
	bool cacheable = f->kind == NP_CACHEABLE;
	char site[512], table[128], title[768], fix[1024], fp[20];
	enum db_orm orm;

	enum db_system sys = dbagg_template_system(w->agg, f->fingerprint);

	dbagg_site_of(w->agg, f->callsite, site, sizeof(site), &orm, &func);
	tmpl = tmpl ? tmpl : "<template not seen>";
	table[0] = 0;
	if (sys == DB_SYS_REDIS) {
		dbsite_fix_kv(cacheable, tmpl, site, fix, sizeof(fix));
	} else {
		dbsite_table(tmpl, table, sizeof(table));
		dbsite_fix(orm, cacheable, table, site, fix, sizeof(fix));
	}
	snprintf(title, sizeof(title), cacheable ? "Repeated identical query in %s: %u x %s with the same parameters"
						 : "N+1 queries in %s: %u x %s in one burst",
		 func, f->last_repeats, tmpl);
	snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)f->fingerprint);
	json_object_object_add(o, "kind", json_object_new_string(cacheable ? "db_repeated_query" : "db_nplusone"));
	json_object_object_add(o, "service", json_object_new_string(dbagg_service_name(w->agg, (int)f->service)));
	json_object_object_add(o, "pid", json_object_new_int((int)f->pid));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "code", json_object_new_string(site));
	json_object_object_add(ev, "db_system", json_object_new_string(db_system_name(sys)));
	json_object_object_add(ev, "template", json_object_new_string(tmpl));
	json_object_object_add(ev, "normalized", json_object_new_string(text ? text : ""));
	json_object_object_add(ev, "fingerprint", json_object_new_string(fp));
	json_object_object_add(ev, "table", json_object_new_string(table));
	json_object_object_add(ev, "orm", json_object_new_string(dbsite_orm_name(orm)));
	json_object_object_add(ev, "function", json_object_new_string(func));
	json_object_object_add(ev, "repeats_last_burst", json_object_new_int((int)f->last_repeats));
	json_object_object_add(ev, "repeats_max_burst", json_object_new_int((int)f->max_repeats));
	json_object_object_add(ev, "bursts", json_object_new_uint64(f->bursts));
	json_object_object_add(ev, "queries", json_object_new_uint64(f->queries));
	json_object_object_add(ev, "total_seconds", json_object_new_double(f->total_ns / 1e9));
	json_object_object_add(ev, "last_burst_seconds", json_object_new_double(f->last_total_ns / 1e9));
	json_object_object_add(ev, "distinct_parameter_sets", json_object_new_int((int)f->last_distinct_params));
	json_object_object_add(o, "evidence", ev);
	json_object_object_add(o, "fix", json_object_new_string(fix));
	json_object_array_add(fc->arr, o);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void pgwire_findings(void *state, json_object *arr)
{
	struct pgwire *w = state;
	struct find_ctx fc = { w, arr };

	drain_events(w);
	np_tick(w->np, mono_ns());
	np_foreach(w->np, finding_json, &fc);
}

/* ---- /api/v1/queries -------------------------------------------------------------------------- */

struct queries_arg {
	const char *service;
	unsigned limit;
};

static json_object *queries_locked(void *state, void *arg)
{
	struct pgwire *w = state;
	struct queries_arg *a = arg;

	drain_events(w);
	return dbagg_queries_json(w->agg, a->service, a->limit);
}

json_object *pgwire_queries_json(struct engine *e, const char *service, unsigned limit)
{
	struct queries_arg a = { service, limit };

	return engine_source_call(e, pgwire_source.name, queries_locked, &a);
}

static void pgwire_process_json(void *state, pid_t pid, json_object *sources)
{
	struct pgwire *w = state;

	json_object_object_add(sources, "db_queries", json_object_new_boolean(!w->paused));
}

const struct source_ops pgwire_source = {
	.name = "pgwire",
	.start = pgwire_start,
	.stop = pgwire_stop,
	.untrack = pgwire_untrack,
	.tick = pgwire_tick,
	.reload = pgwire_reload,
	.metrics = pgwire_metrics,
	.findings = pgwire_findings,
	.process_json = pgwire_process_json,
};
