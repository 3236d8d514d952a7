/* Thin wrapper over libsystemd's sd_notify: the daemon's only conversation with its service
 * manager. See include/notify.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

bool notify_enabled(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	return s && *s;
}

/* sd_notify returns > 0 when sent, 0 when there is nobody to tell, < 0 on failure. */
static int send_state(const char *state)
{
	int rc;

	if (!notify_enabled())
		return 0;
	rc = sd_notify(0, state);
	return rc < 0 ? rc : 0;
}

/* Status texts are one line: the protocol separates assignments by newlines. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ')
			*s = ' ';
}

int notify_ready(const char *status)
{
	char buf[512];

	if (!status)
		return send_state("READY=1");
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
	one_line(buf + sizeof("READY=1\nSTATUS=") - 1);
	return send_state(buf);
}

int notify_watchdog(void)
{
	return send_state("WATCHDOG=1");
}

int notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return send_state(buf);
}

int notify_stopping(void)
{
	return send_state("STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "STATUS=");

	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	one_line(buf + n);
	return send_state(buf);
}

uint64_t notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}
