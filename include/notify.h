/* systemd service notifications (sd_notify(3)) for Type=notify: readiness, watchdog pings,
 * reload and stop. Every call is a no-op returning 0 when NOTIFY_SOCKET is unset (not started
 * by systemd), so callers need no special case. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* True if the service manager listens (NOTIFY_SOCKET is set). */
bool notify_enabled(void);
/* "READY=1" (with "STATUS=..." if status is not NULL). Returns 0 or -errno. */
int notify_ready(const char *status);
/* "WATCHDOG=1". Returns 0 or -errno. */
int notify_watchdog(void);
/* "RELOADING=1" and "MONOTONIC_USEC=..." (as Type=notify-reload wants); send notify_ready()
 * when the reload is done. Returns 0 or -errno. */
int notify_reloading(void);
/* "STOPPING=1". Returns 0 or -errno. */
int notify_stopping(void);
/* "STATUS=<printf text>" (control characters replaced). Returns 0 or -errno. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog period the manager asked for (WatchdogSec=), in microseconds, or 0 if none.
 * Ping at half of it. */
uint64_t notify_watchdog_usec(void);

#endif
