/* SQL fingerprinting: one statement's text in, a literal-free normalized form, a short display
 * template, a stable 64-bit fingerprint and a hash of the literal values out. Literals (strings,
 * numbers, booleans, $n parameters) become '?', IN (...) / ARRAY[...] lists and VALUES tuples
 * collapse, comments go, whitespace and keyword case are normalized, unquoted identifiers fold
 * to lower case. Pure; no literal byte is ever copied into the result. */
#ifndef SQLNORM_H
#define SQLNORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SQLNORM_TEXT_MAX     1024 /* normalized text kept (the fingerprint covers all of it) */
#define SQLNORM_TEMPLATE_MAX 256  /* display template, cut with "..." */
#define SQLNORM_NAME_MAX     64   /* PREPARE/EXECUTE statement names */

/* The statement's operation, a bounded set (a metric label). */
enum sql_op {
	SQL_OP_OTHER = 0,
	SQL_OP_SELECT,
	SQL_OP_INSERT,
	SQL_OP_UPDATE,
	SQL_OP_DELETE,
	SQL_OP_BEGIN,
	SQL_OP_COMMIT,
	SQL_OP_ROLLBACK,
	SQL_OP_DDL,    /* CREATE, ALTER, DROP, TRUNCATE */
	SQL_OP_SET,    /* SET, SHOW, RESET */
	SQL_OP_COPY,
	SQL_OP_READ,   /* key-value stores (Redis): a command that only reads */
	SQL_OP_WRITE,  /* key-value stores: a command that changes data */
	SQL_OP_MAX,
};

/* What the statement does with server-side prepared statements (SQL PREPARE/EXECUTE). */
enum sqlnorm_kind {
	SQLNORM_PLAIN = 0,
	SQLNORM_PREPARE,    /* PREPARE name AS stmt: the result describes stmt, name is set */
	SQLNORM_EXECUTE,    /* EXECUTE name (args): name is set, params_hash covers the args */
	SQLNORM_DEALLOCATE, /* DEALLOCATE [PREPARE] name | ALL (name "" for ALL) */
};

struct sqlnorm {
	uint64_t fingerprint;  /* never 0 */
	uint64_t params_hash;  /* hash of the literal values in order; 0 when there are none */
	enum sql_op op;
	enum sqlnorm_kind kind;
	bool truncated;        /* the input or the normalized text was longer than kept */
	unsigned nliterals;
	char name[SQLNORM_NAME_MAX];
	char text[SQLNORM_TEXT_MAX];         /* "SELECT a, b FROM t WHERE id IN (?)" */
	char tmpl[SQLNORM_TEMPLATE_MAX];     /* "SELECT ... FROM t WHERE id IN (?)" */
};

/* How the text is lexed: PostgreSQL ("..." identifiers, $n parameters, $tag$ strings) or MySQL
 * ('...' and "..." strings with backslash escapes, `...` identifiers, ? parameters, # comments). */
enum sql_dialect { SQL_DIALECT_PG = 0, SQL_DIALECT_MYSQL = 1 };

/* Normalizes sql[0..len) (need not be NUL-terminated; a NUL ends it) as PostgreSQL.
 * input_truncated says the caller saw only a prefix of the statement. Returns 0, or -EINVAL for
 * text with no token. */
int sqlnorm(const char *sql, size_t len, bool input_truncated, struct sqlnorm *out);
/* The same in a given dialect. */
int sqlnorm_dialect(const char *sql, size_t len, bool input_truncated, enum sql_dialect d, struct sqlnorm *out);

/* "SELECT", "INSERT", ... for op. */
const char *sql_op_name(enum sql_op op);

/* The hash sqlnorm uses, exposed so callers hash other bytes (Bind parameters) the same way. */
uint64_t sqlnorm_hash(uint64_t h, const void *data, size_t len);
#define SQLNORM_HASH_SEED 0xcbf29ce484222325ULL

#endif
