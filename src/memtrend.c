/* Resident-memory trends, GC share and growth-by-stack tables for the memory source (see
 * include/memtrend.h). Pure: no I/O. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtrend.h"

#define NS 1000000000ULL

/* ---- /proc parsers ---------------------------------------------------------------------- */

int mt_parse_statm(const char *text, long page_size, uint64_t *rss, uint64_t *anon)
{
	unsigned long long size, resident, shared;

	if (!text || page_size <= 0 || sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3)
		return -EINVAL;
	*rss = resident * (uint64_t)page_size;
	*anon = (resident > shared ? resident - shared : 0) * (uint64_t)page_size;
	return 0;
}

static bool status_kb(const char *text, const char *key, uint64_t *kb)
{
	size_t klen = strlen(key);
	unsigned long long v;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) || p[klen] != ':')
			continue;
		if (sscanf(p + klen + 1, " %llu", &v) != 1)
			return false;
		*kb = v;
		return true;
	}
	return false;
}

int mt_parse_status_anon_shmem(const char *text, uint64_t *bytes)
{
	uint64_t anon = 0, shmem = 0;
	bool a, s;

	if (!text)
		return -EINVAL;
	a = status_kb(text, "RssAnon", &anon);
	s = status_kb(text, "RssShmem", &shmem);
	if (!a && !s)
		return -EINVAL;
	*bytes = (anon + shmem) * 1024;
	return 0;
}

int mt_parse_stat_cpu(const char *text, long ticks_per_second, uint64_t *cpu_ns)
{
	const char *p = text ? strrchr(text, ')') : NULL;
	unsigned long long ut, st;
	int skipped = 0;

	if (!p || ticks_per_second <= 0)
		return -EINVAL;
	p++;
	/* fields 3 (state) .. 13 (cmajflt) come before utime and stime */
	while (*p && skipped < 11) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		skipped++;
	}
	if (skipped < 11 || sscanf(p, " %llu %llu", &ut, &st) != 2)
		return -EINVAL;
	*cpu_ns = (ut + st) * (NS / (uint64_t)ticks_per_second);
	return 0;
}

/* ---- the sample ring ---------------------------------------------------------------------- */

void mt_ring_init(struct mt_ring *r, unsigned window_s)
{
	memset(r, 0, sizeof(*r));
	r->step_ns = (uint64_t)window_s * NS / 96;
	if (r->step_ns < NS)
		r->step_ns = NS;
}

const struct mt_sample *mt_ring_at(const struct mt_ring *r, unsigned i)
{
	return &r->s[(r->head + i) % MT_RING];
}

bool mt_ring_add(struct mt_ring *r, const struct mt_sample *s)
{
	if (r->n) {
		const struct mt_sample *last = mt_ring_at(r, r->n - 1);

		/* a little slack so a 1 s tick jittering early does not skip a step */
		if (s->t_ns < last->t_ns || s->t_ns - last->t_ns < r->step_ns - r->step_ns / 20)
			return false;
	}
	if (r->n < MT_RING) {
		r->s[(r->head + r->n) % MT_RING] = *s;
		r->n++;
	} else {
		r->s[r->head] = *s;
		r->head = (r->head + 1) % MT_RING;
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_double(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : v[n / 2 - 1] / 2 + v[n / 2] / 2;
}

/* Median of the slopes between samples h apart (h = half of them): robust to outliers. */
static double half_window_slope(const struct mt_sample *const *w, unsigned k)
{
	double slopes[MT_RING];
	unsigned h = k / 2, m = 0;

	for (unsigned i = 0; i + h < k; i++) {
		double dt = (double)(w[i + h]->t_ns - w[i]->t_ns) / NS;

		if (dt > 0)
			slopes[m++] = ((double)w[i + h]->anon - (double)w[i]->anon) / dt;
	}
	return m ? median_double(slopes, m) : 0;
}

void mt_trend_eval(const struct mt_ring *r, const struct mt_leak_opts *o, uint64_t now_ns, struct mt_trend *out)
{
	const struct mt_sample *w[MT_RING];
	uint64_t window_ns = (uint64_t)o->window_s * NS, from, vals[MT_RING];
	unsigned k = 0;

	memset(out, 0, sizeof(*out));
	if (!r->n)
		return;
	if (!now_ns)
		now_ns = mt_ring_at(r, r->n - 1)->t_ns;
	from = now_ns > window_ns ? now_ns - window_ns : 0;
	for (unsigned i = 0; i < r->n; i++) {
		const struct mt_sample *s = mt_ring_at(r, i);

		if (s->t_ns >= from && s->t_ns <= now_ns)
			w[k++] = s;
	}
	out->samples = k;
	if (k < 2)
		return;
	out->span_s = (double)(w[k - 1]->t_ns - w[0]->t_ns) / NS;
	out->covered = k >= 8 && out->span_s >= 0.85 * o->window_s;
	out->slope_bps = half_window_slope(w, k);
	out->growth_bytes = (int64_t)(out->slope_bps * out->span_s);
	if (k < 8)
		return;
	for (unsigned q = 0; q < 4; q++) {
		unsigned a = q * k / 4, b = (q + 1) * k / 4;

		for (unsigned i = a; i < b; i++)
			vals[i - a] = w[i]->anon;
		out->quarter_median[q] = median_u64(vals, b - a);
	}
	out->steady = out->growth_bytes > 0;
	for (unsigned q = 1; q < 4 && out->steady; q++) {
		/* each quarter must carry at least a quarter of its fair share of the growth */
		uint64_t need = (uint64_t)out->growth_bytes / 16;

		out->steady = out->quarter_median[q] > out->quarter_median[q - 1] &&
			      out->quarter_median[q] - out->quarter_median[q - 1] >= need;
	}
	out->leak = out->covered && out->steady && out->growth_bytes > 0 &&
		    (uint64_t)out->growth_bytes >= o->min_growth_bytes;
}

bool mt_gc_share(const struct mt_ring *r, const struct mt_sample *now, unsigned period_s, double *share,
		 uint64_t *dcpu_ns, uint64_t *dgc_ns)
{
	uint64_t from = now->t_ns > (uint64_t)period_s * NS ? now->t_ns - (uint64_t)period_s * NS : 0;
	const struct mt_sample *base = NULL;
	uint64_t dcpu, dgc;

	for (unsigned i = 0; i < r->n && !base; i++) {
		const struct mt_sample *s = mt_ring_at(r, i);

		if (s->t_ns >= from && s->t_ns < now->t_ns)
			base = s;
	}
	if (!base || now->cpu_ns < base->cpu_ns || now->gc_ns < base->gc_ns)
		return false;
	dcpu = now->cpu_ns - base->cpu_ns;
	dgc = now->gc_ns - base->gc_ns;
	if (dcpu_ns)
		*dcpu_ns = dcpu;
	if (dgc_ns)
		*dgc_ns = dgc;
	if (!dcpu)
		return false;
	/* CPU time is counted in clock ticks, GC time exactly: the ratio can overshoot a little */
	*share = (double)dgc / dcpu > 1 ? 1 : (double)dgc / dcpu;
	return true;
}

/* ---- stacks behind the growth ------------------------------------------------------------- */

void mt_stacks_init(struct mt_stacks *m, unsigned window_s)
{
	memset(m, 0, sizeof(*m));
	m->subwin_ns = (uint64_t)window_s * NS / MT_SUBWIN;
	if (m->subwin_ns < NS)
		m->subwin_ns = NS;
}

struct mt_stack *mt_stacks_find(struct mt_stacks *m, uint64_t hash)
{
	for (int i = 0; i < MT_MAX_STACKS; i++)
		if (m->s[i].used && m->s[i].hash == hash)
			return &m->s[i];
	return NULL;
}

/* Clears the slots of every entry that fell out of the windows since the last write. */
static void rotate(struct mt_stacks *m, uint64_t now_ns)
{
	uint64_t sub = now_ns / m->subwin_ns + 1, sec = now_ns / NS + 1; /* +1: 0 means "never" */

	if (!m->sub_at) {
		m->sub_at = sub;
		m->sec_at = sec;
		return;
	}
	for (int i = 0; i < MT_MAX_STACKS; i++) {
		struct mt_stack *st = &m->s[i];

		if (!st->used)
			continue;
		for (uint64_t j = m->sub_at + 1; j <= sub && j <= m->sub_at + MT_SUBWIN; j++)
			st->growth[j % MT_SUBWIN] = 0;
		for (uint64_t j = m->sec_at + 1; j <= sec && j <= m->sec_at + MT_SPIKE_SLOTS; j++)
			st->fault[j % MT_SPIKE_SLOTS] = 0;
	}
	if (sub > m->sub_at)
		m->sub_at = sub;
	if (sec > m->sec_at)
		m->sec_at = sec;
}

uint64_t mt_stack_window_growth(const struct mt_stacks *m, const struct mt_stack *st, uint64_t now_ns)
{
	uint64_t sub = now_ns / m->subwin_ns + 1, sum = 0;

	for (uint64_t j = 0; j < MT_SUBWIN && j < m->sub_at; j++) {
		uint64_t abs = m->sub_at - j;

		if (abs + MT_SUBWIN > sub)
			sum += st->growth[abs % MT_SUBWIN];
	}
	return sum;
}

uint64_t mt_stack_recent_faults(const struct mt_stacks *m, const struct mt_stack *st, uint64_t now_ns,
				unsigned *seconds)
{
	uint64_t sec = now_ns / NS + 1, sum = 0;
	unsigned busy = 0;

	for (uint64_t j = 0; j < MT_SPIKE_SLOTS && j < m->sec_at; j++) {
		uint64_t abs = m->sec_at - j;

		if (abs + MT_SPIKE_SLOTS > sec && st->fault[abs % MT_SPIKE_SLOTS]) {
			sum += st->fault[abs % MT_SPIKE_SLOTS];
			busy++;
		}
	}
	if (seconds)
		*seconds = busy;
	return sum;
}

struct mt_stack *mt_stacks_get(struct mt_stacks *m, uint64_t now_ns, uint64_t hash, const char *site,
			       const char *stack)
{
	struct mt_stack *st = mt_stacks_find(m, hash), *victim = NULL;
	uint64_t least = UINT64_MAX;

	if (st)
		return st;
	for (int i = 0; i < MT_MAX_STACKS && !victim; i++)
		if (!m->s[i].used)
			victim = &m->s[i];
	for (int i = 0; i < MT_MAX_STACKS && !victim; i++) {
		struct mt_stack *c = &m->s[i];
		uint64_t score = mt_stack_window_growth(m, c, now_ns) + mt_stack_recent_faults(m, c, now_ns, NULL);

		if (score < least) {
			least = score;
			st = c;
		}
	}
	if (!victim) {
		victim = st;
		m->evictions++;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->hash = hash;
	snprintf(victim->site, sizeof(victim->site), "%s", site ? site : "");
	snprintf(victim->stack, sizeof(victim->stack), "%s", stack ? stack : "");
	return victim;
}

void mt_stacks_charge(struct mt_stacks *m, struct mt_stack *st, uint64_t now_ns, uint64_t fault_bytes,
		      uint64_t growth_bytes)
{
	rotate(m, now_ns);
	st->growth[m->sub_at % MT_SUBWIN] += growth_bytes;
	st->fault[m->sec_at % MT_SPIKE_SLOTS] += fault_bytes;
	st->growth_total += growth_bytes;
	st->fault_total += fault_bytes;
}

struct ranked {
	const struct mt_stack *st;
	uint64_t growth, faults;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth < y->growth ? 1 : -1;
	if (x->faults != y->faults)
		return x->faults < y->faults ? 1 : -1;
	return strcmp(x->st->site, y->st->site);
}

size_t mt_stacks_top(const struct mt_stacks *m, uint64_t now_ns, const struct mt_stack **out, size_t max)
{
	struct ranked r[MT_MAX_STACKS];
	size_t n = 0;

	for (int i = 0; i < MT_MAX_STACKS; i++) {
		const struct mt_stack *st = &m->s[i];
		uint64_t g;

		if (!st->used || !(g = mt_stack_window_growth(m, st, now_ns)))
			continue;
		r[n++] = (struct ranked){ st, g, st->fault_total };
	}
	qsort(r, n, sizeof(r[0]), cmp_ranked);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = r[i].st;
	return n < max ? n : max;
}

size_t mt_stacks_spikes(struct mt_stacks *m, uint64_t now_ns, uint64_t threshold, struct mt_spike *out,
			size_t max)
{
	size_t n = 0;

	for (int i = 0; i < MT_MAX_STACKS; i++) {
		struct mt_stack *st = &m->s[i];
		unsigned secs;
		uint64_t recent;

		if (!st->used)
			continue;
		recent = mt_stack_recent_faults(m, st, now_ns, &secs);
		if (st->spiking && recent < threshold / 2)
			st->spiking = false;
		if ((!st->spiking && recent < threshold) || n >= max)
			continue;
		out[n++] = (struct mt_spike){ st, recent, secs, !st->spiking };
		st->spiking = true;
	}
	return n;
}

void mt_format_bytes(double bytes, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = bytes < 0 ? -bytes : bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u >= 2 ? "%s%.1f %s" : "%s%.0f %s", bytes < 0 ? "-" : "", v, units[u]);
}
