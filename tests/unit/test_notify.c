/* Unit tests for the sd_notify wrapper: a unix datagram socket stands in for systemd and
 * receives exactly the messages the daemon would send; without NOTIFY_SOCKET nothing is sent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct fake_manager {
	char dir[64];
	char path[108];
	int fd;
};

static void manager_open(struct fake_manager *m, bool abstract)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_usec = 500000 };
	socklen_t len;

	snprintf(m->dir, sizeof(m->dir), "/tmp/test_notify_XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (abstract) {
		/* "@name" in NOTIFY_SOCKET is the abstract name "\0name". */
		snprintf(m->path, sizeof(m->path), "@pyrometer-test-%d", getpid());
		memcpy(a.sun_path + 1, m->path + 1, strlen(m->path) - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(m->path));
	} else {
		snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->path);
		len = sizeof(a);
	}
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", m->path, 1), 0);
}

static void manager_close(struct fake_manager *m)
{
	unsetenv("NOTIFY_SOCKET");
	close(m->fd);
	if (m->path[0] == '/')
		unlink(m->path);
	rmdir(m->dir);
}

/* The next datagram, or "" after the timeout. */
static const char *next_message(struct fake_manager *m, char *buf, size_t len)
{
	ssize_t n = recv(m->fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_messages(void **state)
{
	struct fake_manager m;
	char buf[1024];
	unsigned long long usec;

	manager_open(&m, false);
	assert_true(notify_enabled());
	assert_int_equal(notify_ready(NULL), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "READY=1");
	assert_int_equal(notify_ready("tracking 3 processes"), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "READY=1\nSTATUS=tracking 3 processes");
	assert_int_equal(notify_watchdog(), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "WATCHDOG=1");
	assert_int_equal(notify_reloading(), 0);
	next_message(&m, buf, sizeof(buf));
	assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
	assert_true(usec > 0);
	assert_int_equal(notify_stopping(), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "STOPPING=1");
	/* A status cannot smuggle in another assignment. */
	assert_int_equal(notify_status("scan %d\nREADY=1", 7), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "STATUS=scan 7 READY=1");
	assert_int_equal(notify_ready("a\nWATCHDOG=trigger"), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "READY=1\nSTATUS=a WATCHDOG=trigger");
	/* Nothing else was sent. */
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "");
	manager_close(&m);
}

static void test_abstract_socket(void **state)
{
	struct fake_manager m;
	char buf[256];

	manager_open(&m, true);
	assert_int_equal(notify_watchdog(), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "WATCHDOG=1");
	manager_close(&m);
}

static void test_without_manager(void **state)
{
	struct fake_manager m;
	char buf[256];

	/* A listening socket exists, but NOTIFY_SOCKET is unset: nothing may reach it. */
	manager_open(&m, false);
	unsetenv("NOTIFY_SOCKET");
	assert_false(notify_enabled());
	assert_int_equal(notify_ready("x"), 0);
	assert_int_equal(notify_watchdog(), 0);
	assert_int_equal(notify_reloading(), 0);
	assert_int_equal(notify_stopping(), 0);
	assert_int_equal(notify_status("x"), 0);
	assert_string_equal(next_message(&m, buf, sizeof(buf)), "");
	manager_close(&m);
	/* A manager that went away is an error the caller can log. */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_true(notify_ready(NULL) < 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void **state)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	/* Meant for another process: not ours. */
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	snprintf(pid, sizeof(pid), "%d", getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* systemd/pyrometer.service passes `systemd-analyze verify` without a single complaint (it
 * exits 0 even on unknown keys, so its output must be empty), with the daemon path replaced by
 * /bin/true, which exists before `make install`; and it keeps its Type=notify contract. */
static void test_unit_file(void **state)
{
	char src[512], dir[] = "/tmp/test_notify_unit_XXXXXX", cmd[2048];
	const char *slash = strrchr(__FILE__, '/');
	int rc;

	if (system("command -v systemd-analyze >/dev/null 2>&1") != 0)
		skip();
	snprintf(src, sizeof(src), "%.*s/../../systemd/pyrometer.service", (int)(slash - __FILE__), __FILE__);
	snprintf(cmd, sizeof(cmd), "grep -qx 'Type=notify' %s && grep -q '^WatchdogSec=' %s && "
		 "grep -q '^ExecReload=/bin/kill -HUP $MAINPID' %s", src, src, src);
	assert_int_equal(system(cmd), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "sed 's|/usr/local/sbin/pyrometerd|/bin/true|' %s > %s/pyrometer.service && "
		 "out=$(systemd-analyze verify %s/pyrometer.service 2>&1) && [ -z \"$out\" ] || "
		 "{ echo \"$out\" >&2; false; }", src, dir, dir);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_without_manager),
		cmocka_unit_test(test_watchdog_usec),
		cmocka_unit_test(test_unit_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
