/* Fuzz target: service attribution (src/service.c) from what /proc says about a process.
 * Input: FUZZ_SEP-separated /proc/PID/cgroup text, raw /proc/PID/cmdline (NUL-separated argv),
 * exe path, comm, the parent's service (empty: none), then one byte for the output buffer size.
 * Every stage runs with and without a few override rules; a name is always produced by
 * svc_resolve, fits its buffer and is a label-friendly token (printable ASCII, no spaces). */
#include <errno.h>

#include "fuzz.h"
#include "service.h"

static struct svc_rules *rules;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	rules = svc_rules_new();
	if (!rules || svc_rules_add(rules, SVC_MATCH_CGROUP, "/system.slice/billing-*.service", "billing") ||
	    svc_rules_add(rules, SVC_MATCH_CMDLINE, "^/usr/bin/python3 /srv/(etl|jobs)/", "etl") ||
	    svc_rules_add(rules, SVC_MATCH_EXE, "/opt/legacy/bin/python*", "legacy"))
		abort();
	return 0;
}

static void check_name(const char *out, size_t len, int rc, bool always)
{
	size_t n = strnlen(out, len);

	if (rc < 0) {
		FUZZ_CHECK(!always || rc == -EINVAL);
		return;
	}
	FUZZ_CHECK(rc <= SVC_SRC_UNKNOWN);
	FUZZ_CHECK(n > 0 && n < len && n < SVC_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] > ' ' && out[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t cmdline_len, parent_len, len;
	char *cgroup = fuzz_field(&in, NULL), *cmdline = fuzz_field(&in, &cmdline_len);
	char *exe = fuzz_field(&in, NULL), *comm = fuzz_field(&in, NULL);
	char *parent = fuzz_field(&in, &parent_len), *out;
	struct svc_input si = { cgroup, cmdline, cmdline_len, exe, comm, parent_len ? parent : NULL };
	int rc;

	len = 1 + (size_t)fuzz_uint(&in, 1);
	out = malloc(len);
	if (!out)
		abort();
	rc = svc_resolve(NULL, &si, out, len);
	FUZZ_CHECK(rc >= 0 || len < SVC_NAME_MAX);
	check_name(out, len, rc, true);
	rc = svc_resolve(rules, &si, out, len);
	check_name(out, len, rc, true);
	rc = svc_from_cgroup(cgroup, out, len);
	check_name(out, len, rc, false);
	rc = svc_from_cgroup_path(cgroup, out, len);
	check_name(out, len, rc, false);
	rc = svc_from_cmdline(cmdline, cmdline_len, exe, comm, out, len);
	check_name(out, len, rc, false);
	/* Missing pieces are allowed. */
	si = (struct svc_input){ .cmdline = cmdline, .cmdline_len = cmdline_len };
	rc = svc_resolve(rules, &si, out, len);
	check_name(out, len, rc, true);
	free(out);
	free(cgroup);
	free(cmdline);
	free(exe);
	free(comm);
	free(parent);
	return 0;
}
