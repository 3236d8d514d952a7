/* Off-CPU time, run-queue wait, the per-service verdict and blocked event loops: the "offcpu" data
 * source of the daemon (bpf/offcpu.bpf.c + src/offcpu.c, rolling state in src/offagg.c), and the
 * pure naming and classification helpers it and its tests share (src/offcpu_names.c). */
#ifndef OFFCPU_H
#define OFFCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyrometer_bpf.h"
#include "verdict.h"

/* The registered source (src/sources.c). */
struct source_ops;
extern const struct source_ops offcpu_source;

#define OFFCPU_DEFAULT_STALL_MS 100

struct engine;
struct profile;
/* The off-CPU profile of a service over the last `seconds` of the rolling window: stacks rooted in
 * a "[reason]" frame, Python frames, the syscall as a kernel leaf, weighted in nanoseconds. Takes
 * the engine lock (call from an HTTP handler, not a hook). NULL with errno ENOENT (no such
 * service), ENODEV (the source is not running) or ENOMEM; the caller frees it. */
struct profile *offcpu_profile(struct engine *e, const char *service, unsigned seconds);

/* ---- pure helpers ---------------------------------------------------------------------------- */
/* "runq", "disk", "net", "lock", "gil", "sleep", "poll", "pipe", "other", "wait" for
 * enum pm_off_reason and PM_OFF_WAIT; "?" otherwise. */
const char *offcpu_reason_name(unsigned reason);
/* The verdict category of a reason (the GIL counts as a lock). */
enum verdict_cat offcpu_reason_cat(unsigned reason);
/* The x86_64 name of syscall nr ("fsync"), or NULL if this table does not know it. */
const char *offcpu_syscall_name(unsigned nr);
/* The Python call that usually blocks in syscall nr ("time.sleep" for clock_nanosleep,
 * "os.fsync" for fsync, "socket.recv" for recvfrom), or NULL. */
const char *offcpu_syscall_pycall(unsigned nr);
/* True for files of the standard library, site-packages/dist-packages and frozen modules: frames
 * that are not "the application's code". */
bool offcpu_is_library_file(const char *file);
/* True when a futex wait in this innermost Python frame waits for work rather than for a
 * contended lock: threading's Condition.wait, Event.wait, Thread.join, a pool worker's queue. */
bool offcpu_is_idle_wait(const char *name, const char *file);
/* The dotted name of the first call on a line of source ("time.sleep" from
 * "    time.sleep(0.2)  # x", "requests.get" from "r = requests.get(url)"). Returns the length,
 * or 0 when the line holds no call (out is then ""). */
size_t offcpu_src_callee(const char *line, char *out, size_t len);
/* The text of line `lineno` (1-based) of a source buffer, without its newline and leading
 * blanks, into out. Returns 0 or -ENOENT. */
int offcpu_src_line(const char *text, size_t len, int lineno, char *out, size_t outlen);

#endif
