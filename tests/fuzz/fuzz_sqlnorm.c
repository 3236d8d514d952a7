/* Fuzz target: SQL fingerprinting (src/sqlnorm.c). Input: u8 flags (bit 0: input truncated,
 * bit 1: MySQL dialect), then statement text. The normalized text and template must be NUL-terminated inside their
 * buffers, the fingerprint nonzero, no string literal or $n parameter may survive outside a
 * quoted identifier, the operation must be in range, and the same text must fingerprint the
 * same way twice. */
#include "fuzz.h"
#include "sqlnorm.h"

/* No '...' literal and no $digit outside "quoted identifiers" (PostgreSQL); no '...' or "..."
 * outside `quoted identifiers` (MySQL). */
static void check_literal_free(const char *s, size_t cap, bool mysql)
{
	char q = mysql ? '`' : '"';
	bool quoted = false;
	size_t n = strnlen(s, cap);

	FUZZ_CHECK(n < cap);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == q)
			quoted = !quoted;
		if (quoted)
			continue;
		FUZZ_CHECK(s[i] != '\'' && !(mysql && s[i] == '"'));
		/* $n is a PostgreSQL parameter; in MySQL "$2" is an identifier */
		FUZZ_CHECK(mysql || !(s[i] == '$' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9' &&
			     (i == 0 || s[i - 1] == ' ' || s[i - 1] == '(' || s[i - 1] == ',' || s[i - 1] == '=')));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned flags = (unsigned)fuzz_uint(&in, 1);
	bool cut = flags & 1, mysql = flags & 2;
	enum sql_dialect d = mysql ? SQL_DIALECT_MYSQL : SQL_DIALECT_PG;
	size_t len;
	uint8_t *sql = fuzz_rest(&in, &len);
	static struct sqlnorm a, b;
	int rc = sqlnorm_dialect((const char *)sql, len, cut, d, &a);

	FUZZ_CHECK(rc == 0 || rc == -22);
	if (rc == 0) {
		FUZZ_CHECK(a.fingerprint != 0);
		FUZZ_CHECK(a.op >= 0 && a.op < SQL_OP_MAX);
		FUZZ_CHECK(a.kind >= SQLNORM_PLAIN && a.kind <= SQLNORM_DEALLOCATE);
		FUZZ_CHECK(strnlen(a.name, sizeof(a.name)) < sizeof(a.name));
		check_literal_free(a.text, sizeof(a.text), mysql);
		check_literal_free(a.tmpl, sizeof(a.tmpl), mysql);
		FUZZ_CHECK(!a.nliterals == !a.params_hash);
		FUZZ_CHECK(sqlnorm_dialect((const char *)sql, len, cut, d, &b) == 0);
		FUZZ_CHECK(a.fingerprint == b.fingerprint && a.params_hash == b.params_hash);
		FUZZ_CHECK(!strcmp(a.text, b.text) && !strcmp(a.tmpl, b.tmpl));
	}
	free(sql);
	return 0;
}
