/* Fuzz target: the configuration file (src/config.c) and the helpers flags go through. The input
 * is the file's text. A parse succeeds, or fails with exactly one line "fuzz.conf:LINE: ..."
 * naming a line that exists; a successful one passes or fails config_check the same way, and
 * the struct frees cleanly either way. Each line is also tried as a listen address and as a flag
 * name. */
#include <errno.h>

#include "config.h"
#include "fuzz.h"

#define FNAME "fuzz.conf"

static void check_err(const char *err, int rc, size_t lines)
{
	long line;

	FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
	FUZZ_CHECK(!strchr(err, '\n'));
	if (rc == -EINVAL && !strncmp(err, FNAME ":", sizeof(FNAME))) {
		line = strtol(err + sizeof(FNAME), NULL, 10);
		FUZZ_CHECK(line >= 1 && (size_t)line <= lines + 1);
	}
}

static void try_helpers(const char *text, size_t len)
{
	char line[512], host[64], key[64];
	uint16_t port;
	bool ipv6;

	for (size_t i = 0, k = 0; i < len && k < 64; k++) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = (nl ? (size_t)(nl - text) : len) - i;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), text + i);
		if (!config_parse_listen(line, host, sizeof(host), &port, &ipv6))
			FUZZ_CHECK(strlen(host) < sizeof(host) && port > 0);
		if (!config_flag_key(line, key, sizeof(key)))
			FUZZ_CHECK(!strchr(key, '-') && strlen(key) < sizeof(key));
		i += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	size_t len, lines = 0;
	uint8_t *text = fuzz_rest(&in, &len);
	char err[CONFIG_ERR_MAX] = "";
	struct config c;
	int rc;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (config_init(&c))
		abort();
	rc = config_parse(&c, (const char *)text, len, FNAME, err, sizeof(err));
	if (rc) {
		check_err(err, rc, lines);
		FUZZ_CHECK(err[0]);
	} else {
		FUZZ_CHECK(c.listen && c.listen_port > 0 && c.rules);
		err[0] = '\0';
		rc = config_check(&c, err, sizeof(err));
		if (rc)
			check_err(err, rc, lines);
	}
	config_free(&c);
	config_free(&c); /* a freed struct may be freed again */
	try_helpers((const char *)text, len);
	free(text);
	return 0;
}
