/* Prometheus families of the off-CPU aggregates (include/offagg.h): off-CPU time by reason,
 * scheduler counters, blocking-wait and event-loop histograms, stalls, the verdict and its shares,
 * and what the kernel side lost. Labels are bounded: service, reason, category, verdict, kind. */
#include <errno.h>

#include "expo.h"
#include "offagg.h"
#include "offcpu.h"
#include "offfind.h"

struct metric_ctx {
	struct offfind *find;
	struct expo *x;
	int pass, err;
};

static double hist_bounds[PM_OFF_HIST_SLOTS - 1];

static int hist_metric(struct expo *x, const char *service, const char *reason, const struct offagg_hist *h)
{
	struct expo_label l[2] = { { "service", service }, { "reason", reason } };
	uint64_t any = 0;

	for (int i = 0; i < PM_OFF_HIST_SLOTS; i++)
		any += h->slots[i];
	if (!any)
		return 0;
	return expo_histogram(x, l, reason ? 2 : 1, hist_bounds, h->slots, PM_OFF_HIST_SLOTS - 1, h->sum_ns / 1e9);
}

static int verdict_rows(struct metric_ctx *m, const struct offagg_info *i)
{
	const struct offfind_verdict *v = offfind_get_verdict(m->find, i->service);
	struct expo_label l[2] = { { "service", i->service }, { "verdict", NULL } };
	int err = 0;

	if (!v)
		return 0;
	if (m->pass == 6) {
		l[1].value = verdict_kind_name(v->v.kind);
		return expo_value(m->x, l, 2, 1);
	}
	l[1].name = "category";
	for (int c = 0; c < VC_N && !err; c++) {
		l[1].value = verdict_cat_name(c);
		err = expo_value(m->x, l, 2, v->v.share[c]);
	}
	return err;
}

static void metric_row(const struct offagg_info *i, void *ctx)
{
	struct metric_ctx *m = ctx;
	struct expo_label l[2] = { { "service", i->service }, { "reason", NULL } };

	if (m->err)
		return;
	switch (m->pass) {
	case 0:
		for (unsigned r = 0; r < PM_OFF_ALL_REASONS && !m->err; r++) {
			l[1].value = offcpu_reason_name(r);
			m->err = expo_value(m->x, l, 2, i->total_ns[r] / 1e9);
		}
		break;
	case 1:
		m->err = expo_value(m->x, l, 1, i->oncpu_ns / 1e9);
		break;
	case 2:
		l[1] = (struct expo_label){ "kind", "voluntary" };
		m->err = expo_value_u64(m->x, l, 2, i->voluntary);
		l[1].value = "involuntary";
		if (!m->err)
			m->err = expo_value_u64(m->x, l, 2, i->involuntary);
		break;
	case 3:
		for (unsigned r = 0; r < PM_OFF_REASONS && !m->err; r++)
			m->err = hist_metric(m->x, i->service, offcpu_reason_name(r), &i->hist[r]);
		break;
	case 4:
		m->err = hist_metric(m->x, i->service, NULL, &i->hist[OFFAGG_HIST_LOOP]);
		break;
	case 5:
		m->err = expo_value_u64(m->x, l, 1, i->stalls);
		break;
	default:
		m->err = verdict_rows(m, i);
	}
}

static const struct {
	const char *name;
	enum expo_type type;
	const char *help;
} families[] = {
	{ "pyrometer_offcpu_seconds_total", EXPO_COUNTER,
	  "Thread time off-CPU by reason (runq: runnable without a CPU; wait: condition waits)." },
	{ "pyrometer_sched_oncpu_seconds_total", EXPO_COUNTER, "Thread time on-CPU, from context switches." },
	{ "pyrometer_sched_switches_total", EXPO_COUNTER, "Context switches of a service's threads, by kind." },
	{ "pyrometer_offcpu_block_seconds", EXPO_HISTOGRAM,
	  "Durations of blocking waits (disk, network, lock, ...) and run-queue waits, by reason." },
	{ "pyrometer_event_loop_stretch_seconds", EXPO_HISTOGRAM,
	  "Time an event loop ran between returning from epoll_wait and polling again." },
	{ "pyrometer_event_loop_stalls_total", EXPO_COUNTER,
	  "Event-loop stretches longer than loop_stall_ms (each one is a blocked event loop)." },
	{ "pyrometer_verdict", EXPO_GAUGE, "The service's verdict over the window; always 1." },
	{ "pyrometer_verdict_share", EXPO_GAUGE, "Share of the service's thread time per category over the window." },
};

static int drop_metrics(const struct offagg *a, const struct offagg_drops *d, struct expo *x)
{
	const struct {
		const char *reason;
		uint64_t v;
	} rows[] = {
		{ "count_map_full", d->count_map_full },
		{ "stack_map_full", d->stack_map_full },
		{ "stack_evicted", d->stack_evicted },
		{ "stall_ring_full", d->stall_ring_full },
		{ "stretch_untimed", d->stretch_untimed },
	};
	struct expo_label l = { "reason", NULL };
	struct offagg_stats as;
	int err;

	offagg_get_stats(a, &as);
	err = expo_family(x, "pyrometer_offcpu_drops_total", EXPO_COUNTER,
			  "Off-CPU intervals, stacks or stall records lost in the kernel path, by reason.");
	for (size_t i = 0; !err && i < sizeof(rows) / sizeof(rows[0]); i++) {
		l.value = rows[i].reason;
		err = expo_value_u64(x, &l, 1, rows[i].v);
	}
	if (!err)
		err = expo_family(x, "pyrometer_offcpu_dropped_seconds_total", EXPO_COUNTER,
				  "Off-CPU time not kept because a bounded table was full, by table.");
	if (!err) {
		l = (struct expo_label){ "table", "services" };
		err = expo_value(x, &l, 1, as.dropped_service_cap_ns / 1e9);
	}
	if (!err) {
		l.value = "stacks";
		err = expo_value(x, &l, 1, as.dropped_stack_cap_ns / 1e9);
	}
	if (!err)
		err = expo_family(x, "pyrometer_offcpu_stack_walks_total", EXPO_COUNTER,
				  "Python stacks walked in the kernel at blocking points and in stalled event loops.");
	return err ? err : expo_value_u64(x, NULL, 0, d->walks);
}

int offagg_metrics(struct offagg *a, struct offfind *f, const struct offagg_drops *d, struct expo *x)
{
	struct metric_ctx m = { .find = f, .x = x };

	if (!hist_bounds[0])
		for (int i = 0; i < PM_OFF_HIST_SLOTS - 1; i++)
			hist_bounds[i] = (double)(2ULL << i) / 1e6; /* upper bound of slot i: 2^(i+1) us */
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		m.err = expo_family(x, families[i].name, families[i].type, families[i].help);
		if (m.err)
			return m.err;
		m.pass = (int)i;
		offagg_foreach(a, metric_row, &m);
		if (m.err)
			return m.err;
	}
	return drop_metrics(a, d, x);
}
