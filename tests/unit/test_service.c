/* Unit tests for service attribution: tables of real-looking cgroup paths, /proc/PID/cgroup
 * files (v1, v2, hybrid), command lines of Python services and pre-fork servers, overrides. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service.h"

#define ID64 "3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"
#define ID12 "3f2a9c1d8e7b"

struct path_case {
	const char *path;
	int src; /* expected enum svc_source, or -ENOENT */
	const char *name;
};

static const struct path_case path_cases[] = {
	{ "/system.slice/nginx.service", SVC_SRC_SYSTEMD, "nginx.service" },
	{ "/system.slice/a.service", SVC_SRC_SYSTEMD, "a.service" },
	{ "/system.slice/system-getty.slice/getty@tty1.service", SVC_SRC_SYSTEMD, "getty@tty1.service" },
	{ "/system.slice/billing-api.service/", SVC_SRC_SYSTEMD, "billing-api.service" },
	{ "/system.slice/pg\\x2dproxy.service", SVC_SRC_SYSTEMD, "pg\\x2dproxy.service" },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/myjob.service",
	  SVC_SRC_SYSTEMD, "myjob.service" },
	{ "/user.slice/user-1000.slice/user@1000.service/init.scope", SVC_SRC_SYSTEMD, "user@1000.service" },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope",
	  SVC_SRC_SYSTEMD, "user@1000.service" },
	{ "/system.slice/mytool.scope", SVC_SRC_SYSTEMD, "mytool.scope" },
	{ "/user.slice/user-0.slice/session-3.scope", -ENOENT, NULL },
	{ "/system.slice/run-u42.service", -ENOENT, NULL },
	{ "/system.slice/run-r0f3e2d1c4b5a69788796a5b4c3d2e1f0.scope", -ENOENT, NULL },
	{ "/init.scope", -ENOENT, NULL },
	{ "/", -ENOENT, NULL },
	{ "", -ENOENT, NULL },
	{ "/user.slice", -ENOENT, NULL },
	{ "/process_api/76ff7ee18e797210443f91dbf538a3ff", -ENOENT, NULL },
	{ "/../../system.slice/cron.service", SVC_SRC_SYSTEMD, "cron.service" },
	{ "/.service", -ENOENT, NULL },
	/* docker, systemd and cgroupfs drivers */
	{ "/system.slice/docker-" ID64 ".scope", SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/docker/" ID64, SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/docker/" ID64 "/system.slice/nginx.service", SVC_SRC_SYSTEMD, "nginx.service" },
	/* containerd / CRI-O / podman, plain and under kubernetes */
	{ "/system.slice/cri-containerd-" ID64 ".scope", SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8a4f2b3c_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice/cri-containerd-" ID64 ".scope",
	  SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8a4f2b3c_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice/crio-" ID64 ".scope",
	  SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/kubepods/burstable/pod8a4f2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c/" ID64, SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/kubepods/besteffort/pod8a4f2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c", SVC_SRC_CONTAINER,
	  "pod:8a4f2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c" },
	{ "/kubepods.slice/kubepods-pod8a4f2b3c_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice", SVC_SRC_CONTAINER,
	  "pod:8a4f2b3c-1d2e-4f5a-9b8c-7d6e5f4a3b2c" },
	{ "/system.slice/containerd.service/kubepods-burstable-pod8a4f2b3c_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice:cri-containerd:" ID64,
	  SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/machine.slice/libpod-" ID64 ".scope/container", SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64 ".scope",
	  SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/libpod_parent/libpod-" ID64, SVC_SRC_CONTAINER, "container:" ID12 },
	{ "/default/" ID64, SVC_SRC_CONTAINER, "container:" ID12 },
	/* 63 or 65 hex digits are no container id */
	{ "/docker/" "3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1", -ENOENT, NULL },
	{ "/docker/" ID64 "0", -ENOENT, NULL },
};

static void test_cgroup_paths(void **state)
{
	char out[SVC_NAME_MAX];

	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		int rc = svc_from_cgroup_path(c->path, out, sizeof(out));

		if (rc != c->src)
			fail_msg("%s: got %d (%s), want %d", c->path, rc, rc >= 0 ? out : "", c->src);
		if (c->name && strcmp(out, c->name) != 0)
			fail_msg("%s: got '%s', want '%s'", c->path, out, c->name);
	}
}

struct file_case {
	const char *text;
	int src;
	const char *name;
};

static const struct file_case file_cases[] = {
	/* cgroup v2 */
	{ "0::/system.slice/a.service\n", SVC_SRC_SYSTEMD, "a.service" },
	/* this machine: v1 hybrid, everything at the root but one memory cgroup */
	{ "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
	  "4:memory:/process_api/76ff7ee18e797210443f91dbf538a3ff\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n",
	  -ENOENT, NULL },
	/* hybrid with the unit in the name=systemd hierarchy only */
	{ "9:name=systemd:/system.slice/b.service\n4:memory:/\n0::/\n", SVC_SRC_SYSTEMD, "b.service" },
	/* hybrid, unified line wins over name=systemd */
	{ "1:name=systemd:/system.slice/old.service\n0::/system.slice/new.service\n", SVC_SRC_SYSTEMD, "new.service" },
	/* pure v1 docker (cgroupfs driver): every controller says /docker/<id> */
	{ "12:pids:/docker/" ID64 "\n11:cpu,cpuacct:/docker/" ID64 "\n1:name=systemd:/docker/" ID64 "\n",
	  SVC_SRC_CONTAINER, "container:" ID12 },
	/* only a v1 controller knows */
	{ "3:cpu,cpuacct:/system.slice/c.service\n1:name=systemd:/\n0::/\n", SVC_SRC_SYSTEMD, "c.service" },
	/* no trailing newline, garbage lines */
	{ "garbage\n::\n0::/system.slice/d.service", SVC_SRC_SYSTEMD, "d.service" },
	{ "", -ENOENT, NULL },
};

static void test_cgroup_files(void **state)
{
	char out[SVC_NAME_MAX];

	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *c = &file_cases[i];
		int rc = svc_from_cgroup(c->text, out, sizeof(out));

		if (rc != c->src)
			fail_msg("case %zu: got %d (%s), want %d", i, rc, rc >= 0 ? out : "", c->src);
		if (c->name && strcmp(out, c->name) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out, c->name);
	}
}

struct cmd_case {
	const char *argv; /* arguments separated by '|' (turned into NULs) */
	const char *exe;
	int src;
	const char *name;
};

static const struct cmd_case cmd_cases[] = {
	/* plain Python programs */
	{ "/usr/bin/python3|/srv/app/worker.py|--queue|high", "/usr/bin/python3.11", SVC_SRC_CMDLINE, "worker" },
	{ "python3|-u|-X|dev|-W|ignore|tests/py/cpu_burn.py", "/usr/bin/python3.11", SVC_SRC_CMDLINE, "cpu_burn" },
	{ "python3|-uB|script.py", NULL, SVC_SRC_CMDLINE, "script" },
	{ "python3|-Wignore|-Xfrozen_modules=off|script.py", NULL, SVC_SRC_CMDLINE, "script" },
	{ "/root/.pyenv/versions/3.12.1/bin/python3.12|-m|http.server|8000", NULL, SVC_SRC_CMDLINE, "http.server" },
	{ "python3|-mmyapp.main", NULL, SVC_SRC_CMDLINE, "myapp.main" },
	{ "python|-OO|-m|pkg", NULL, SVC_SRC_CMDLINE, "pkg" },
	{ "python3.11|/srv/tool/run_jobs", NULL, SVC_SRC_CMDLINE, "run_jobs" },
	{ "python3|mypkg/", NULL, SVC_SRC_CMDLINE, "mypkg" },
	{ "python3|/opt/svc/__main__.py", NULL, SVC_SRC_CMDLINE, "svc" },
	{ "python3|app.pyz", NULL, SVC_SRC_CMDLINE, "app" },
	{ "pypy3|bench.py", NULL, SVC_SRC_CMDLINE, "bench" },
	{ "python3|--check-hash-based-pycs|never|s.py", NULL, SVC_SRC_CMDLINE, "s" },
	{ "/usr/bin/python3|-c|from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
	  "/usr/bin/python3.11", SVC_SRC_EXE, "python3.11" },
	{ "python3|-", "/usr/bin/python3.11", SVC_SRC_EXE, "python3.11" },
	{ "python3", "/usr/bin/python3.11", SVC_SRC_EXE, "python3.11" },
	{ "python3|-ic|x=1", "/usr/bin/python3.11", SVC_SRC_EXE, "python3.11" },
	/* gunicorn: master and forked workers share argv; setproctitle rewrites it */
	{ "/usr/bin/python3|/srv/venv/bin/gunicorn|-w|4|-b|127.0.0.1:8000|myapp.wsgi:application", NULL,
	  SVC_SRC_CMDLINE, "gunicorn:myapp.wsgi" },
	{ "/srv/venv/bin/python|/srv/venv/bin/gunicorn|--workers=4|--bind=0.0.0.0:80|--preload|shop.app:create_app()",
	  NULL, SVC_SRC_CMDLINE, "gunicorn:shop.app" },
	{ "python3|-m|gunicorn|-k|uvicorn.workers.UvicornWorker|-w4|api.main:app", NULL,
	  SVC_SRC_CMDLINE, "gunicorn:api.main" },
	{ "python3|/usr/bin/gunicorn|-c|/etc/gunicorn.conf.py", NULL, SVC_SRC_CMDLINE, "gunicorn" },
	{ "python3|/usr/bin/gunicorn|--name|billing|billing.wsgi", NULL, SVC_SRC_CMDLINE, "gunicorn:billing" },
	{ "gunicorn: master [myapp.wsgi:application]", NULL, SVC_SRC_CMDLINE, "gunicorn:myapp.wsgi" },
	{ "gunicorn: worker [myapp.wsgi:application]", NULL, SVC_SRC_CMDLINE, "gunicorn:myapp.wsgi" },
	{ "gunicorn: worker [billing]", NULL, SVC_SRC_CMDLINE, "gunicorn:billing" },
	{ "gunicorn: worker", NULL, SVC_SRC_CMDLINE, "gunicorn" },
	/* uvicorn */
	{ "python3|/srv/venv/bin/uvicorn|--host|0.0.0.0|--reload|api.main:app", NULL, SVC_SRC_CMDLINE, "uvicorn:api.main" },
	/* uwsgi: a C program embedding Python */
	{ "uwsgi|--ini|/etc/uwsgi/apps-enabled/shop.ini", "/usr/bin/uwsgi-core", SVC_SRC_CMDLINE, "uwsgi:shop" },
	{ "/usr/bin/uwsgi|--master|--processes|4|--module=blog.wsgi:application|--http|:8000", NULL,
	  SVC_SRC_CMDLINE, "uwsgi:blog.wsgi" },
	{ "uwsgi|--http|:9090|--wsgi-file|/srv/foo/app.py", NULL, SVC_SRC_CMDLINE, "uwsgi:app" },
	{ "uwsgi|/etc/uwsgi/wiki.ini", NULL, SVC_SRC_CMDLINE, "uwsgi:wiki" },
	{ "uwsgi|-w|mysite.wsgi", NULL, SVC_SRC_CMDLINE, "uwsgi:mysite.wsgi" },
	{ "uWSGI worker 3", "/usr/bin/uwsgi-core", SVC_SRC_CMDLINE, "uwsgi" },
	{ "uwsgi", NULL, SVC_SRC_CMDLINE, "uwsgi" },
	/* celery */
	{ "/usr/bin/python3|/usr/local/bin/celery|-A|proj|worker|-l|info|-c|4", NULL, SVC_SRC_CMDLINE, "celery:proj" },
	{ "python3|-m|celery|--app=proj.celery:app|worker", NULL, SVC_SRC_CMDLINE, "celery:proj.celery" },
	{ "python3|/usr/bin/celery|worker|-Aorders", NULL, SVC_SRC_CMDLINE, "celery:orders" },
	{ "python3|/usr/bin/celery|-A|proj|beat|-s|/var/lib/celerybeat-schedule", NULL, SVC_SRC_CMDLINE,
	  "celery-beat:proj" },
	{ "[celeryd: celery@web1:MainProcess] -active- (-A proj worker -l info)", NULL, SVC_SRC_CMDLINE, "celery:proj" },
	{ "[celeryd: celery@web1:ForkPoolWorker-2]", NULL, SVC_SRC_CMDLINE, "celery" },
	{ "python3|/usr/bin/celery|worker", NULL, SVC_SRC_CMDLINE, "celery" },
	/* not Python at all, odd bytes */
	{ "/usr/sbin/nginx", NULL, SVC_SRC_EXE, "nginx" },
	{ "python3|my script\x01.py", NULL, SVC_SRC_CMDLINE, "my_script_" },
};

static size_t to_cmdline(const char *spec, char *buf, size_t len)
{
	size_t n = strlen(spec);

	assert_true(n + 1 < len);
	memcpy(buf, spec, n + 1);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	return n + 1; /* as the kernel reports it: with the final NUL */
}

static void test_cmdlines(void **state)
{
	char buf[1024], out[SVC_NAME_MAX];

	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		size_t n = to_cmdline(c->argv, buf, sizeof(buf));
		int rc = svc_from_cmdline(buf, n, c->exe, NULL, out, sizeof(out));

		if (rc != c->src)
			fail_msg("%s: got %d (%s), want %d", c->argv, rc, rc >= 0 ? out : "", c->src);
		if (strcmp(out, c->name) != 0)
			fail_msg("%s: got '%s', want '%s'", c->argv, out, c->name);
	}
}

static void test_cmdline_edges(void **state)
{
	char out[SVC_NAME_MAX], big[8192];

	/* No cmdline (kernel thread, zombie): exe, then comm. */
	assert_int_equal(svc_from_cmdline(NULL, 0, "/usr/bin/python3.11", "python3", out, sizeof(out)), SVC_SRC_EXE);
	assert_string_equal(out, "python3.11");
	assert_int_equal(svc_from_cmdline("", 1, NULL, "kworker/0:1\n", out, sizeof(out)), SVC_SRC_EXE);
	assert_string_equal(out, "kworker/0:1");
	assert_int_equal(svc_from_cmdline(NULL, 0, NULL, NULL, out, sizeof(out)), -ENOENT);
	/* setproctitle padding: trailing NULs. */
	assert_int_equal(svc_from_cmdline("python3\0a.py\0\0\0\0", 16, NULL, NULL, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_string_equal(out, "a");
	/* Huge cmdline, huge names: cut, never overflow. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "python3\0", 8);
	assert_int_equal(svc_from_cmdline(big, sizeof(big), NULL, NULL, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_int_equal(strlen(out), SVC_NAME_MAX - 1);
	/* Small output buffers cut as well. */
	assert_int_equal(svc_from_cmdline("python3\0abcdef.py\0", 18, NULL, NULL, out, 4), SVC_SRC_CMDLINE);
	assert_string_equal(out, "abc");
	assert_int_equal(svc_from_cgroup_path("/system.slice/" "abcdefgh.service", out, 6), SVC_SRC_SYSTEMD);
	assert_string_equal(out, "abcde");
}

static void test_resolve_order(void **state)
{
	static const char cmd[] = "/usr/bin/python3\0/srv/venv/bin/gunicorn\0app:app\0";
	struct svc_input in = {
		.cgroup = "1:name=systemd:/\n0::/system.slice/web.service\n",
		.cmdline = cmd, .cmdline_len = sizeof(cmd), .exe = "/usr/bin/python3.11",
	};
	struct svc_rules *r = svc_rules_new();
	char out[SVC_NAME_MAX];

	/* cgroup beats cmdline */
	assert_int_equal(svc_resolve(NULL, &in, out, sizeof(out)), SVC_SRC_SYSTEMD);
	assert_string_equal(out, "web.service");
	/* no unit: cmdline */
	in.cgroup = "0::/\n";
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_string_equal(out, "gunicorn:app");
	/* nothing at all */
	in.cmdline = NULL;
	in.cmdline_len = 0;
	in.exe = NULL;
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_UNKNOWN);
	assert_string_equal(out, "unknown");
	svc_rules_free(r);
}

static void test_parent_inheritance(void **state)
{
	static const char spawn[] = "python3\0-c\0from multiprocessing.spawn import spawn_main\0";
	static const char worker[] = "[celeryd: celery@h:ForkPoolWorker-1]";
	static const char own[] = "python3\0child.py\0";
	struct svc_input in = { .cmdline = spawn, .cmdline_len = sizeof(spawn), .exe = "/usr/bin/python3.11",
				.parent_service = "trainer" };
	char out[SVC_NAME_MAX];

	assert_int_equal(svc_resolve(NULL, &in, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_string_equal(out, "trainer");
	in.cmdline = worker;
	in.cmdline_len = sizeof(worker);
	in.parent_service = "celery:proj";
	assert_int_equal(svc_resolve(NULL, &in, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_string_equal(out, "celery:proj");
	/* A child with a name of its own keeps it. */
	in.cmdline = own;
	in.cmdline_len = sizeof(own);
	assert_int_equal(svc_resolve(NULL, &in, out, sizeof(out)), SVC_SRC_CMDLINE);
	assert_string_equal(out, "child");
	/* Without a parent the weak name stays. */
	in.cmdline = spawn;
	in.cmdline_len = sizeof(spawn);
	in.parent_service = NULL;
	assert_int_equal(svc_resolve(NULL, &in, out, sizeof(out)), SVC_SRC_EXE);
	assert_string_equal(out, "python3.11");
}

static void test_overrides(void **state)
{
	static const char cmd[] = "/usr/bin/python3\0/srv/billing/worker.py\0--queue=invoices\0";
	struct svc_input in = {
		.cgroup = "1:name=systemd:/system.slice/billing-worker@3.service\n0::/\n",
		.cmdline = cmd, .cmdline_len = sizeof(cmd), .exe = "/opt/py/bin/python3.12",
	};
	struct svc_rules *r = svc_rules_new();
	enum svc_match k;
	char out[SVC_NAME_MAX];

	assert_int_equal(svc_match_parse("cgroup", &k), 0);
	assert_int_equal(k, SVC_MATCH_CGROUP);
	assert_int_equal(svc_match_parse("exe", &k), 0);
	assert_int_equal(k, SVC_MATCH_EXE);
	assert_int_equal(svc_match_parse("cmdline", &k), 0);
	assert_int_equal(k, SVC_MATCH_CMDLINE);
	assert_int_equal(svc_match_parse("path", &k), -EINVAL);

	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "worker\\.py .*--queue=invoices", "invoicing"), 0);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CGROUP, "/system.slice/billing-worker@*.service", "billing"), 0);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_EXE, "/opt/py/*", "opt-python"), 0);
	assert_int_equal(svc_rules_count(r), 3);
	/* The first matching rule wins. */
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_OVERRIDE);
	assert_string_equal(out, "invoicing");
	in.cmdline = "python3\0other.py\0";
	in.cmdline_len = 17;
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_OVERRIDE);
	assert_string_equal(out, "billing");
	in.cgroup = "0::/system.slice/x.service\n";
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_OVERRIDE);
	assert_string_equal(out, "opt-python");
	in.exe = "/usr/bin/python3";
	assert_int_equal(svc_resolve(r, &in, out, sizeof(out)), SVC_SRC_SYSTEMD);
	assert_string_equal(out, "x.service");

	/* Refusals. */
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "([unclosed", "x"), -EINVAL);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CGROUP, "", "x"), -EINVAL);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CGROUP, "/x", ""), -EINVAL);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CGROUP, "/x", "two words"), -EINVAL);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CGROUP, "/x", "tab\there"), -EINVAL);
	assert_int_equal(svc_rules_add(r, (enum svc_match)7, "/x", "x"), -EINVAL);
	/* Regexes glibc would take gigabytes or exponential time for (found by tests/fuzz). */
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "a++++++++++++++++++++++++++++++++", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "((a{1,255}){1,255}){1,255}", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "(a*)*\\1", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "x{(a+){10000}", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "^/\xc1\xc1+++???++++++++d", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "a*?", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "((((a?)?)?)?)", "x"), -EOVERFLOW);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "/[0-9a-f]{64}/(web|api)+ [[:alpha:]]{1,32}", "x"), 0);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "^(python3?|uwsgi) .*((--ini|-w) \\S+)?$", "x"), 0);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_CMDLINE, "x{2}|y{1,3}|z{1,}", "x"), 0);
	while (svc_rules_count(r) < SVC_RULES_MAX)
		assert_int_equal(svc_rules_add(r, SVC_MATCH_EXE, "/nothing/*", "n"), 0);
	assert_int_equal(svc_rules_add(r, SVC_MATCH_EXE, "/nothing/*", "n"), -E2BIG);
	svc_rules_free(r);
	svc_rules_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_cgroup_files),
		cmocka_unit_test(test_cmdlines),
		cmocka_unit_test(test_cmdline_edges),
		cmocka_unit_test(test_resolve_order),
		cmocka_unit_test(test_parent_inheritance),
		cmocka_unit_test(test_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
