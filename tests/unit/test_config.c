/* Unit tests for the configuration: defaults, a good file, one error line per bad key, flag
 * overrides, reload into a fresh struct, and the shipped systemd/pyrometer.conf. */
#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static void test_defaults(void **state)
{
	struct config c;

	assert_int_equal(config_init(&c), 0);
	assert_string_equal(c.listen, "127.0.0.1:10164");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, CONFIG_DEFAULT_PORT);
	assert_false(c.listen_ipv6);
	assert_int_equal(c.sample_rate_hz, 19);
	assert_int_equal(c.max_depth, 128);
	assert_int_equal(c.max_processes, 4096);
	assert_int_equal(c.max_stacks, 16384);
	assert_int_equal(c.max_services, 256);
	assert_int_equal(c.window_seconds, 60);
	assert_int_equal(c.scan_interval_seconds, 30);
	assert_false(c.kernel_stacks);
	assert_false(c.native_stacks);
	assert_int_equal(c.log_level, CONFIG_LOG_INFO);
	assert_int_equal(c.http_max_connections, 64);
	assert_int_equal(c.http_max_connections_per_ip, 16);
	assert_int_equal(c.http_timeout_seconds, 15);
	assert_int_equal(c.http_max_request_bytes, 65536);
	assert_null(c.tls_cert_file);
	assert_null(c.basic_auth_user);
	assert_non_null(c.rules);
	assert_int_equal(svc_rules_count(c.rules), 0);
	assert_int_equal(config_check(&c, NULL, 0), 0);
	config_free(&c);
	config_free(&c); /* idempotent */
}

static void test_good_file(void **state)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"  listen = [::1]:9999  \r\n"
		"sample_rate_hz=199\n"
		"max_depth = 64\n"
		"kernel_stacks = yes\n"
		"native_stacks = On\n"
		"log_level = debug\n"
		"window_seconds = 300\n"
		"basic_auth_user = \" prom \"\n"
		"service_override = billing=cgroup:/system.slice/billing-*.service\n"
		"service_override = etl=cmdline:^python3 .*etl#1\\.py\n"
		"exclude = cmdline: --no-trace$\n" /* the blank after the colon is not the pattern's */
		"exclude = cgroup:/system.slice/batch-*.service\n"
		"max_depth = 100\n"
		"   # indented comment\n"
		"max_services = 10"; /* no final newline */
	struct config c;
	char err[CONFIG_ERR_MAX] = "";

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, strlen(text), "good.conf", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 9999);
	assert_true(c.listen_ipv6);
	assert_int_equal(c.sample_rate_hz, 199);
	assert_int_equal(c.max_depth, 100); /* last one wins */
	assert_true(c.kernel_stacks);
	assert_true(c.native_stacks);
	assert_int_equal(c.log_level, CONFIG_LOG_DEBUG);
	assert_int_equal(c.window_seconds, 300);
	assert_string_equal(c.basic_auth_user, " prom ");
	assert_int_equal(c.max_services, 10);
	assert_int_equal(svc_rules_count(c.rules), 2);
	/* The rules work as service overrides. */
	{
		static const char cmd[] = "python3\0/srv/etl#1.py\0";
		struct svc_input in = { .cmdline = cmd, .cmdline_len = sizeof(cmd) };
		char out[SVC_NAME_MAX];

		assert_int_equal(svc_resolve(c.rules, &in, out, sizeof(out)), SVC_SRC_OVERRIDE);
		assert_string_equal(out, "etl");
		assert_null(svc_rules_match(c.excludes, &in));
	}
	/* The exclusions match what they name, and only that. */
	assert_int_equal(svc_rules_count(c.excludes), 2);
	{
		static const char cmd[] = "python3\0job.py\0--no-trace\0";
		struct svc_input by_arg = { .cmdline = cmd, .cmdline_len = sizeof(cmd) };
		struct svc_input by_unit = { .cgroup = "0::/system.slice/batch-7.service\n" };
		struct svc_input other = { .cgroup = "0::/system.slice/web.service\n" };

		assert_non_null(svc_rules_match(c.excludes, &by_arg));
		assert_non_null(svc_rules_match(c.excludes, &by_unit));
		assert_null(svc_rules_match(c.excludes, &other));
	}
	/* basic_auth_user without a hash is caught by the cross-key check, naming the line. */
	assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "good.conf:10: basic_auth_user: needs basic_auth_password_hash as well");
	config_free(&c);
}

struct bad_case {
	const char *line;
	const char *want; /* the whole message, after "bad.conf:3: " */
};

static const struct bad_case bad_cases[] = {
	{ "listen = 127.0.0.1", "listen: must be IPV4:PORT, [IPV6]:PORT or localhost:PORT with PORT 1..65535, got '127.0.0.1'" },
	{ "listen = 127.0.0.1:0", NULL },
	{ "listen = 127.0.0.1:65536", NULL },
	{ "listen = ::1:80", NULL },
	{ "listen = example.com:80", NULL },
	{ "listen = 300.1.1.1:80", NULL },
	{ "listen = [::1]80", NULL },
	{ "listen = :80", NULL },
	{ "sample_rate_hz = 0", "sample_rate_hz: must be an integer in 1..1000, got '0'" },
	{ "sample_rate_hz = 1001", NULL },
	{ "sample_rate_hz = -5", NULL },
	{ "sample_rate_hz = 99hz", "sample_rate_hz: must be an integer in 1..1000, got '99hz'" },
	{ "sample_rate_hz = 0x10", NULL },
	{ "sample_rate_hz = 99999999999999999999", NULL },
	{ "sample_rate_hz =", "sample_rate_hz: must be an integer in 1..1000, got ''" },
	{ "max_depth = 257", "max_depth: must be an integer in 1..256, got '257'" },
	{ "max_processes = 0", NULL },
	{ "max_processes = 100000", NULL },
	{ "max_stacks = 10", NULL },
	{ "max_services = 70000", NULL },
	{ "window_seconds = 5", NULL },
	{ "scan_interval_seconds = 0", NULL },
	{ "http_max_connections = 0", NULL },
	{ "http_max_connections_per_ip = 5000", NULL },
	{ "http_timeout_seconds = 601", NULL },
	{ "http_max_request_bytes = 100", NULL },
	{ "kernel_stacks = maybe", "kernel_stacks: must be true or false, got 'maybe'" },
	{ "native_stacks = 2", NULL },
	{ "log_level = verbose", "log_level: must be error, warning, info or debug, got 'verbose'" },
	{ "tls_cert_file = relative/cert.pem", "tls_cert_file: must be an absolute path, got 'relative/cert.pem'" },
	{ "tls_key_file = key.pem", NULL },
	{ "basic_auth_user = a:b", "basic_auth_user: must be 1..64 characters without ':' or control characters" },
	{ "basic_auth_password_hash = secret", "basic_auth_password_hash: must be a complete bcrypt ($2b$, $2y$), sha512crypt ($6$) or yescrypt ($y$) hash" },
	{ "basic_auth_password_hash = $1$abc$def", NULL },               /* md5crypt: refused */
	{ "basic_auth_password_hash = $2b$10$tooShort", NULL },          /* truncated bcrypt */
	{ "basic_auth_password_hash = $6$salt$x", NULL },                /* truncated sha512crypt */
	{ "service_override = billing", "service_override: expected NAME=KIND:PATTERN" },
	{ "service_override = billing=path:/x", "service_override: KIND must be cgroup, exe or cmdline" },
	{ "service_override = billing=cgroup:", "service_override: empty PATTERN" },
	{ "service_override = =cgroup:/x", NULL },
	{ "service_override = two words=cgroup:/x", "service_override: NAME must be 1..127 characters without whitespace" },
	{ "service_override = x=cmdline:([", "service_override: PATTERN is no valid extended regular expression" },
	{ "exclude = cmdline", "exclude: expected KIND:PATTERN" },
	{ "exclude = path:/x", "exclude: KIND must be cgroup, exe or cmdline" },
	{ "exclude = exe:", "exclude: empty PATTERN" },
	{ "exclude = exe:  ", "exclude: empty PATTERN" },
	{ "exclude = cmdline:a{1,9}{1,9}", "exclude: PATTERN is too costly (stacked or nested repetitions, backreferences)" },
	{ "exclude = cmdline:([", "exclude: PATTERN is no valid extended regular expression" },
	{ "no_such_key = 1", "no_such_key: unknown key" },
	{ "listen 127.0.0.1:80", NULL },
	{ "Listen = 127.0.0.1:80", NULL },
	{ "= 5", NULL },
};

/* Each bad line, at line 3 of an otherwise good file, gives exactly one line naming file:3. */
static void test_bad_keys(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		char text[512], err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
		struct config c;
		int rc;

		snprintf(text, sizeof(text), "# good\nsample_rate_hz = 50\n%s\nmax_depth = 7\n", b->line);
		assert_int_equal(config_init(&c), 0);
		rc = config_parse(&c, text, strlen(text), "bad.conf", err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("'%s': got %d, want -EINVAL", b->line, rc);
		if (strncmp(err, "bad.conf:3: ", 12) != 0 || strchr(err, '\n'))
			fail_msg("'%s': message '%s' is not one line naming bad.conf:3", b->line, err);
		if (b->want) {
			snprintf(want, sizeof(want), "bad.conf:3: %s", b->want);
			assert_string_equal(err, want);
		} else {
			/* The key is named (unless the line has none). */
			char key[64];

			sscanf(b->line, "%63[a-z_]", key);
			if (b->line[0] != '=' && b->line[0] != 'L' && strstr(b->line, " = ") &&
			    !strstr(err, key))
				fail_msg("'%s': message '%s' does not name the key", b->line, err);
		}
		/* Parsing stopped at the bad line: line 4 was not applied. */
		assert_int_equal(c.max_depth, 128);
		assert_int_equal(c.sample_rate_hz, 50);
		config_free(&c);
	}
}

static void test_file_level_errors(void **state)
{
	struct config c;
	char err[CONFIG_ERR_MAX], *big;

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, "a = 1\0b", 7, "nul.conf", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "nul.conf:1: NUL byte in line");
	big = malloc(10000);
	memset(big, 'x', 10000);
	assert_int_equal(config_parse(&c, big, 10000, "long.conf", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "long.conf:1: line longer than 4095 bytes");
	free(big);
	assert_int_equal(config_load(&c, "/nonexistent/pyrometer.conf", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/pyrometer.conf: cannot open: No such file or directory");
	assert_int_equal(config_load(&c, "/tmp", err, sizeof(err)), -EINVAL);
	config_free(&c);
}

/* Flags go through config_set after the file and win; their errors name the key only. */
static void test_flags_override(void **state)
{
	static const char text[] = "sample_rate_hz = 50\nlisten = 0.0.0.0:9000\n";
	struct config c;
	char err[CONFIG_ERR_MAX], key[64];

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, strlen(text), "f.conf", err, sizeof(err)), 0);
	assert_int_equal(config_flag_key("--sample-rate-hz", key, sizeof(key)), 0);
	assert_string_equal(key, "sample_rate_hz");
	assert_int_equal(config_set(&c, key, "250", err, sizeof(err)), 0);
	assert_int_equal(c.sample_rate_hz, 250);
	assert_int_equal(config_set(&c, "listen", "localhost:1234", err, sizeof(err)), 0);
	assert_string_equal(c.listen, "localhost:1234");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 1234);
	assert_int_equal(config_set(&c, "max_depth", "999", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "max_depth: must be an integer in 1..256, got '999'");
	assert_int_equal(c.max_depth, 128);
	assert_int_equal(config_set(&c, "bogus", "1", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "bogus: unknown key");
	/* An empty string unsets an optional key. */
	assert_int_equal(config_set(&c, "tls_cert_file", "/etc/x.pem", err, sizeof(err)), 0);
	assert_string_equal(c.tls_cert_file, "/etc/x.pem");
	assert_int_equal(config_set(&c, "tls_cert_file", "", err, sizeof(err)), 0);
	assert_null(c.tls_cert_file);
	assert_int_equal(config_flag_key("--Bad_Flag", key, sizeof(key)), -EINVAL);
	assert_int_equal(config_flag_key("--", key, sizeof(key)), -EINVAL);
	config_free(&c);
}

static void test_password_hashes(void **state)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], err[CONFIG_ERR_MAX];
	static const char *const methods[] = { "$2b$", "$6$", "$y$" };
	struct crypt_data cd;
	struct config c;

	assert_int_equal(config_init(&c), 0);
	for (size_t i = 0; i < 3; i++) {
		const char *h;

		assert_non_null(crypt_gensalt_rn(methods[i], i == 0 ? 4 : 0, NULL, 0, setting, sizeof(setting)));
		memset(&cd, 0, sizeof(cd));
		h = crypt_rn("s3cret", setting, &cd, sizeof(cd));
		assert_non_null(h);
		if (config_set(&c, "basic_auth_password_hash", h, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", h, err);
		assert_string_equal(c.basic_auth_password_hash, h);
	}
	assert_int_equal(config_set(&c, "basic_auth_user", "prom", err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	config_free(&c);
}

static void test_tls_check(void **state)
{
	char dir[] = "/tmp/test_config_XXXXXX", cert[64], key[64], text[256], err[CONFIG_ERR_MAX];
	struct config c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	f = fopen(cert, "w");
	fputs("x", f);
	fclose(f);
	/* Cert without key. */
	snprintf(text, sizeof(text), "tls_cert_file = %s\n", cert);
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, strlen(text), "t.conf", err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:1: tls_cert_file: needs tls_key_file as well");
	config_free(&c);
	/* Key file missing. */
	snprintf(text, sizeof(text), "tls_cert_file = %s\n\ntls_key_file = %s\n", cert, key);
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, strlen(text), "t.conf", err, sizeof(err)), 0);
	assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:3: tls_key_file: cannot read '"));
	assert_non_null(strstr(err, "No such file or directory"));
	config_free(&c);
	unlink(cert);
	rmdir(dir);
}

/* SIGHUP: load into a fresh struct; swap only when it is good. */
static int reload(struct config *cur, const char *path)
{
	struct config fresh;
	char err[CONFIG_ERR_MAX];
	int rc;

	rc = config_init(&fresh);
	if (rc < 0)
		return rc;
	rc = config_load(&fresh, path, err, sizeof(err));
	if (rc == 0)
		rc = config_set(&fresh, "log_level", "debug", err, sizeof(err)); /* a flag */
	if (rc < 0) {
		config_free(&fresh);
		return rc;
	}
	config_free(cur);
	*cur = fresh;
	return 0;
}

static void test_reload(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config cur;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(config_init(&cur), 0);
	dprintf(fd, "sample_rate_hz = 10\nservice_override = a=exe:/x/*\n");
	assert_int_equal(reload(&cur, path), 0);
	assert_int_equal(cur.sample_rate_hz, 10);
	assert_int_equal(cur.log_level, CONFIG_LOG_DEBUG);
	assert_int_equal(svc_rules_count(cur.rules), 1);
	/* A bad edit leaves the running configuration as it was. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	dprintf(fd, "sample_rate_hz = 20\nmax_depth = lots\n");
	assert_int_equal(reload(&cur, path), -EINVAL);
	assert_int_equal(cur.sample_rate_hz, 10);
	assert_int_equal(svc_rules_count(cur.rules), 1);
	/* A good edit replaces everything, rules included (no duplicates). */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	dprintf(fd, "sample_rate_hz = 30\nservice_override = a=exe:/x/*\nservice_override = b=exe:/y/*\n");
	assert_int_equal(reload(&cur, path), 0);
	assert_int_equal(cur.sample_rate_hz, 30);
	assert_int_equal(svc_rules_count(cur.rules), 2);
	close(fd);
	unlink(path);
	config_free(&cur);
}

/* systemd/pyrometer.conf documents every key with its default, and parses as shipped. */
static void test_shipped_file(void **state)
{
	char path[512], line[1024], err[CONFIG_ERR_MAX];
	const struct config_key_info *keys;
	size_t nkeys;
	bool seen[CONFIG_MAX_KEYS] = { false };
	struct config c;
	FILE *f;
	const char *slash = strrchr(__FILE__, '/');

	/* __FILE__ is tests/unit/test_config.c relative to the repository root. */
	snprintf(path, sizeof(path), "%.*s/../../systemd/pyrometer.conf", (int)(slash - __FILE__), __FILE__);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	keys = config_keys(&nkeys);
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < nkeys; i++) {
			size_t n = strlen(keys[i].name);
			char want[256];

			if (line[0] != '#' || strncmp(line + 1, keys[i].name, n) != 0 || strncmp(line + 1 + n, " = ", 3))
				continue;
			seen[i] = true;
			if (!*keys[i].defval)
				continue;
			snprintf(want, sizeof(want), "#%s = %s\n", keys[i].name, keys[i].defval);
			if (strcmp(line, want) != 0)
				fail_msg("%s: '%s' does not show the default '%s'", path, line, keys[i].defval);
			/* Uncommented, the documented default parses. */
			assert_int_equal(config_init(&c), 0);
			assert_int_equal(config_parse(&c, line + 1, strlen(line + 1), path, err, sizeof(err)), 0);
			config_free(&c);
		}
	}
	fclose(f);
	for (size_t i = 0; i < nkeys; i++)
		if (!seen[i])
			fail_msg("%s does not document key %s", path, keys[i].name);
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_file_level_errors),
		cmocka_unit_test(test_flags_override),
		cmocka_unit_test(test_password_hashes),
		cmocka_unit_test(test_tls_check),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_shipped_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
