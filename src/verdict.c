/* The per-service verdict rule (include/verdict.h): shares of thread time -> one word. */
#include <errno.h>
#include <string.h>

#include "verdict.h"

static const char *const kind_names[VK_N] = {
	[VK_IDLE] = "idle",
	[VK_CPU_BOUND] = "cpu-bound",
	[VK_CPU_STARVED] = "cpu-starved",
	[VK_IO_DISK] = "io-bound:disk",
	[VK_IO_NET] = "io-bound:network",
	[VK_LOCK_BOUND] = "lock-bound",
	[VK_MIXED] = "mixed",
};

static const char *const cat_names[VC_N] = {
	[VC_CPU] = "cpu",     [VC_RUNQ] = "runq", [VC_DISK] = "disk", [VC_NET] = "net",   [VC_LOCK] = "lock",
	[VC_SLEEP] = "sleep", [VC_POLL] = "poll", [VC_WAIT] = "wait", [VC_PIPE] = "pipe", [VC_OTHER] = "other",
};

const char *verdict_kind_name(enum verdict_kind k)
{
	return (unsigned)k < VK_N ? kind_names[k] : "?";
}

const char *verdict_cat_name(enum verdict_cat c)
{
	return (unsigned)c < VC_N ? cat_names[c] : "?";
}

enum verdict_kind verdict_of_cat(enum verdict_cat c)
{
	switch (c) {
	case VC_CPU:
		return VK_CPU_BOUND;
	case VC_RUNQ:
		return VK_CPU_STARVED;
	case VC_DISK:
		return VK_IO_DISK;
	case VC_NET:
		return VK_IO_NET;
	case VC_LOCK:
		return VK_LOCK_BOUND;
	default:
		return VK_IDLE;
	}
}

/* The busy categories ranked: *first and *second (VC_N when absent). */
static void rank_busy(const uint64_t *ns, enum verdict_cat *first, enum verdict_cat *second)
{
	*first = *second = VC_N;
	for (int c = 0; c < VC_NBUSY; c++) {
		if (!ns[c])
			continue;
		if (*first == VC_N || ns[c] > ns[*first]) {
			*second = *first;
			*first = c;
		} else if (*second == VC_N || ns[c] > ns[*second]) {
			*second = c;
		}
	}
}

static void rank_all(const uint64_t *ns, enum verdict_cat *first)
{
	*first = VC_N;
	for (int c = 0; c < VC_N; c++)
		if (ns[c] && (*first == VC_N || ns[c] > ns[*first]))
			*first = c;
}

int verdict_decide(const struct verdict_in *in, struct verdict *out)
{
	double total = 0, busy = 0;

	memset(out, 0, sizeof(*out));
	if (!in->window_ns)
		return -EINVAL;
	for (int c = 0; c < VC_N; c++) {
		total += (double)in->ns[c];
		if (c < VC_NBUSY)
			busy += (double)in->ns[c];
	}
	for (int c = 0; total > 0 && c < VC_N; c++)
		out->share[c] = in->ns[c] / total;
	for (int c = 0; busy > 0 && c < VC_NBUSY; c++)
		out->busy_share[c] = in->ns[c] / busy;
	out->busy_threads = busy / (double)in->window_ns;
	rank_busy(in->ns, &out->dominant, &out->second);
	if (out->busy_threads < VERDICT_IDLE_BUSY || out->dominant == VC_N) {
		out->kind = VK_IDLE;
		rank_all(in->ns, &out->dominant); /* where the idle time went */
		out->second = VC_N;
	} else if (out->busy_share[out->dominant] >= VERDICT_DOMINANT)
		out->kind = verdict_of_cat(out->dominant);
	else
		out->kind = VK_MIXED;
	return 0;
}
