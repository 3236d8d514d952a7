/* Verdicts and findings of the off-CPU source: the per-service verdict with the stacks behind it,
 * "tight CPU loop", "I/O-bound on disk: fsync in G", "lock-bound", "CPU-starved" and "blocked
 * event loop in H (sync call X)" findings, each with the usual fix, rendered as JSON. Pure: the
 * caller supplies resolved frames, clocks and source lines; nothing here reads files or maps. */
#ifndef OFFFIND_H
#define OFFFIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "profile.h"
#include "verdict.h"

#define OFFFIND_MAX_STALLS 128 /* distinct (service, code, cause) stall findings kept */

struct offfind_frame {
	const char *name, *file;
	int line;
};

/* What a stack says: the application frame that is to blame and what it waited in. */
struct offfind_evidence {
	char code[384];     /* innermost application frame "qualname (file:line)" (else innermost) */
	char function[256]; /* its qualname */
	char leaf[384];     /* innermost Python frame "qualname (file:line)" */
	char syscall[32];   /* the kernel leaf frame ("fsync"), or "" */
	char stack[2048];   /* Python frames root first, ';'-separated, cut with "..." */
	double seconds;     /* weight of this stack */
};

struct offfind_verdict {
	struct verdict v;
	unsigned window_s;
	uint64_t ns[VC_N];
	uint64_t gil_ns;                 /* of ns[VC_LOCK]: waits for the GIL */
	struct offfind_evidence top[2];  /* for v.dominant and v.second */
	bool has_top[2];
};

/* A stall of an event loop, with the stack that explains it (innermost first). */
struct offfind_stall {
	const char *service;
	pid_t pid, tid;
	uint64_t dur_ns, off_ns, block_ns, threshold_ns;
	unsigned block_syscall;             /* PM_OFF_NO_SYSCALL if none */
	const struct offfind_frame *frames; /* of the blocking call, or of the on-CPU samples */
	uint32_t nframes;
	bool cpu;                           /* frames are on-CPU samples, not a blocking call */
	uint32_t cpu_samples;
	const char *source_line;            /* the application frame's line of source, or NULL */
	uint64_t now_ns;                    /* CLOCK_MONOTONIC */
};

struct offfind;

/* window_s: how long findings stay after they were last seen. */
struct offfind *offfind_new(unsigned window_s);
void offfind_free(struct offfind *f);

/* Index of the innermost application frame (not stdlib/site-packages, and not a module body
 * below library frames), else 0 (the innermost frame); -1 if n == 0. */
int offfind_app_frame(const struct offfind_frame *frames, uint32_t n);
/* Fills ev from stack s of p (root first; a "[reason]" marker root and a kernel leaf frame are
 * recognized), its weight multiplied by unit_seconds. */
void offfind_evidence(const struct profile *p, const struct prof_stack *s, double unit_seconds,
		      struct offfind_evidence *ev);

/* Replaces the service's verdict (pid: one of its processes, for the findings). */
int offfind_set_verdict(struct offfind *f, const char *service, pid_t pid, const struct offfind_verdict *v);
/* The service's current verdict, or NULL. */
const struct offfind_verdict *offfind_get_verdict(struct offfind *f, const char *service);
/* Records one event-loop stall (merged with earlier ones of the same code and cause). */
void offfind_add_stall(struct offfind *f, const struct offfind_stall *s);

/* Appends every current finding to arr. */
void offfind_findings_json(struct offfind *f, uint64_t now_ns, json_object *arr);
/* Adds "verdict" and "verdict_detail" to a /api/v1/services row. */
void offfind_service_json(struct offfind *f, const char *service, json_object *row);

#endif
