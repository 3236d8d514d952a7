/* tracefs_parse_id on id-file texts, and tracefs_find_root/tracefs_event_id on a fake tracefs tree
 * in a temporary directory (events/syscalls/NAME/id files), so no root and no tracefs are needed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tracefs.h"

static void test_parse_id(void **state)
{
	static const struct { const char *text; int want; } cases[] = {
		{ "1069\n", 1069 }, { "1069", 1069 }, { "1\n", 1 }, { "2147483647\n", 2147483647 },
		{ "", -EINVAL }, { "\n", -EINVAL }, { "0\n", -EINVAL }, { "-5\n", -EINVAL },
		{ "12x\n", -EINVAL }, { " 12\n", -EINVAL }, { "12\n\n", -EINVAL }, { "2147483648\n", -EINVAL },
		{ "99999999999\n", -EINVAL }, { "0x10\n", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = tracefs_parse_id(cases[i].text, strlen(cases[i].text));

		if (got != cases[i].want)
			fail_msg("'%s': got %d, want %d", cases[i].text, got, cases[i].want);
	}
	assert_int_equal(tracefs_parse_id("12\0", 3), -EINVAL); /* a NUL is no digit */
}

struct tree {
	char dir[64];
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* mkdir -p DIR/REL */
static void mkdirs(const char *dir, const char *rel)
{
	char path[256];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);

	for (int i = (int)strlen(dir) + 1; i <= n; i++) {
		if (path[i] != '/' && path[i])
			continue;
		path[i] = '\0';
		(void)mkdir(path, 0755);
		if (i < n)
			path[i] = '/';
	}
}

/* dir/empty (no events/), dir/full/events/syscalls/{sys_enter_epoll_wait,bad,blank}/id */
static int tree_setup(void **state)
{
	static struct tree t;
	static const struct { const char *event, *text; } ids[] = {
		{ "sys_enter_epoll_wait", "1069\n" }, { "bad", "id?\n" }, { "blank", "" },
	};
	char rel[128], path[256];

	snprintf(t.dir, sizeof(t.dir), "/tmp/test_tracefs_XXXXXX");
	if (!mkdtemp(t.dir))
		return -1;
	mkdirs(t.dir, "empty");
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(rel, sizeof(rel), "full/events/syscalls/%s", ids[i].event);
		mkdirs(t.dir, rel);
		snprintf(path, sizeof(path), "%s/%s/id", t.dir, rel);
		put(path, ids[i].text);
	}
	*state = &t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	return system(cmd) ? -1 : 0;
}

static void test_find_root(void **state)
{
	struct tree *t = *state;
	char empty[128], full[128], missing[128];

	snprintf(empty, sizeof(empty), "%s/empty", t->dir);
	snprintf(full, sizeof(full), "%s/full", t->dir);
	snprintf(missing, sizeof(missing), "%s/missing", t->dir);
	{
		const char *const first[] = { full, empty }, *const second[] = { missing, empty, full },
				  *const none[] = { missing, empty };

		assert_int_equal(tracefs_find_root(first, 2), 0);
		assert_int_equal(tracefs_find_root(second, 3), 2);
		assert_int_equal(tracefs_find_root(none, 2), -ENOENT);
		assert_int_equal(tracefs_find_root(none, 0), -ENOENT);
	}
}

static void test_event_id(void **state)
{
	struct tree *t = *state;
	char full[128];

	snprintf(full, sizeof(full), "%s/full", t->dir);
	assert_int_equal(tracefs_event_id(full, "syscalls", "sys_enter_epoll_wait"), 1069);
	assert_int_equal(tracefs_event_id(full, "syscalls", "sys_enter_epoll_pwait2"), -ENOENT);
	assert_int_equal(tracefs_event_id(full, "sched", "sched_switch"), -ENOENT);
	assert_int_equal(tracefs_event_id(full, "syscalls", "bad"), -EINVAL);
	assert_int_equal(tracefs_event_id(full, "syscalls", "blank"), -EINVAL);
	/* names are single path components */
	assert_int_equal(tracefs_event_id(full, "syscalls", "../syscalls/sys_enter_epoll_wait"), -EINVAL);
	assert_int_equal(tracefs_event_id(full, "..", "syscalls"), -EINVAL);
	assert_int_equal(tracefs_event_id(full, "", "sys_enter_epoll_wait"), -EINVAL);
	assert_int_equal(tracefs_event_id("/nonexistent", "syscalls", "sys_enter_epoll_wait"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_id),
		cmocka_unit_test(test_find_root),
		cmocka_unit_test(test_event_id),
	};

	return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
