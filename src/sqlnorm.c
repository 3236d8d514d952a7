/* SQL fingerprinting (include/sqlnorm.h): a PostgreSQL-flavoured lexer turns the text into a
 * bounded token array in which every literal is already '?', a rewrite pass collapses lists and
 * VALUES tuples, and a renderer writes the normalized text and the display template while
 * hashing. Literal bytes only ever reach the parameter hash. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlnorm.h"

#define MAX_TOKENS 4096
#define WORDS_MAX  (32 * 1024)

enum tok_type { T_WORD, T_KEYWORD, T_QIDENT, T_LIT, T_PARAM, T_PUNCT, T_OPER };

struct tok {
	uint8_t type;
	uint8_t spaced; /* whitespace or a comment preceded it in the text */
	uint16_t len;
	uint32_t off; /* into lex.words (T_WORD, T_KEYWORD, T_QIDENT, T_PUNCT, T_OPER) */
};

struct lex {
	const char *s;
	size_t n, i;
	struct tok t[MAX_TOKENS];
	size_t nt;
	char words[WORDS_MAX];
	size_t nw;
	bool gap; /* whitespace seen since the last token */
	bool mysql;
	uint64_t params;
	unsigned nlits;
	bool truncated;
};

static const char *const keywords[] = {
	"ABORT", "ALL", "ALTER", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "BEGIN", "BETWEEN", "BY",
	"CALL", "CASE", "CAST", "CHECK", "CLOSE", "COLLATE", "COMMIT", "COMMITTED", "CONFLICT", "CONSTRAINT",
	"COPY", "CREATE", "CROSS", "CURSOR", "DATABASE", "DEALLOCATE", "DECLARE", "DEFAULT", "DELETE", "DESC",
	"DISTINCT", "DO", "DROP", "ELSE", "END", "ESCAPE", "EXCEPT", "EXECUTE", "EXISTS", "EXPLAIN", "FALSE",
	"FETCH", "FILTER", "FIRST", "FOR", "FOREIGN", "FROM", "FULL", "GRANT", "GROUP", "HAVING", "IF",
	"ILIKE", "IN", "INDEX", "INNER", "INSERT", "INTERSECT", "INTO", "IS", "ISOLATION", "JOIN", "KEY",
	"LATERAL", "LEFT", "LEVEL", "LIKE", "LIMIT", "LISTEN", "LOCKED", "MOVE", "NATURAL", "NEXT", "NOT",
	"NOTHING", "NOTIFY", "NOWAIT", "NULL", "NULLS", "OF", "OFFSET", "ON", "ONLY", "OR", "ORDER", "OUTER",
	"OVER", "PARTITION", "PREPARE", "PRIMARY", "READ", "RECURSIVE", "REFERENCES", "RELEASE",
	"REPEATABLE", "RESET", "RETURNING", "REVOKE", "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT",
	"SCHEMA", "SELECT", "SEQUENCE", "SERIALIZABLE", "SESSION", "SET", "SHARE", "SHOW", "SIMILAR",
	"SKIP", "SOME", "START", "TABLE", "TEMP", "TEMPORARY", "THEN", "TO", "TRANSACTION", "TRUE",
	"TRUNCATE", "UNION", "UNIQUE", "UNLISTEN", "UPDATE", "USING", "VACUUM", "VALUES", "VIEW", "WHEN",
	"WHERE", "WINDOW", "WITH", "WORK", "WRITE",
};

static const char *const op_names[SQL_OP_MAX] = {
	[SQL_OP_OTHER] = "OTHER",   [SQL_OP_SELECT] = "SELECT", [SQL_OP_INSERT] = "INSERT",
	[SQL_OP_UPDATE] = "UPDATE", [SQL_OP_DELETE] = "DELETE", [SQL_OP_BEGIN] = "BEGIN",
	[SQL_OP_COMMIT] = "COMMIT", [SQL_OP_ROLLBACK] = "ROLLBACK", [SQL_OP_DDL] = "DDL",
	[SQL_OP_SET] = "SET",       [SQL_OP_COPY] = "COPY",     [SQL_OP_READ] = "READ",
	[SQL_OP_WRITE] = "WRITE",
};

const char *sql_op_name(enum sql_op op)
{
	return op >= 0 && op < SQL_OP_MAX ? op_names[op] : "OTHER";
}

uint64_t sqlnorm_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

static int kw_cmp(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

static bool is_keyword(const char *upper)
{
	return bsearch(upper, keywords, sizeof(keywords) / sizeof(keywords[0]), sizeof(keywords[0]), kw_cmp);
}

/* ---- lexer ---------------------------------------------------------------------------------- */

static bool ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool oper_char(char c)
{
	return c && strchr("+-*/<>=~!@#%^&|`?", c);
}

static struct tok *push(struct lex *l, enum tok_type type, const char *text, size_t len)
{
	struct tok *t;

	if (l->nt == MAX_TOKENS || l->nw + len > WORDS_MAX || len > 0xffff) {
		l->truncated = true;
		return NULL;
	}
	t = &l->t[l->nt++];
	t->type = (uint8_t)type;
	t->spaced = l->gap;
	l->gap = false;
	t->len = (uint16_t)len;
	t->off = (uint32_t)l->nw;
	if (len)
		memcpy(l->words + l->nw, text, len);
	l->nw += len;
	return t;
}

/* A literal: its bytes go to the parameter hash, never into a token. */
static void literal(struct lex *l, char kind, size_t from, size_t to)
{
	l->params = sqlnorm_hash(sqlnorm_hash(l->params, &kind, 1), l->s + from, to - from);
	l->nlits++;
	push(l, T_LIT, NULL, 0);
}

static void skip_quoted(struct lex *l, char q, bool backslash)
{
	l->i++;
	while (l->i < l->n) {
		char c = l->s[l->i];

		if (backslash && c == '\\' && l->i + 1 < l->n) {
			l->i += 2;
			continue;
		}
		l->i++;
		if (c == q) {
			if (l->i < l->n && l->s[l->i] == q) { /* doubled quote */
				l->i++;
				continue;
			}
			return;
		}
	}
	l->truncated = true; /* unterminated: the statement was cut */
}

static bool skip_comment(struct lex *l)
{
	const char *s = l->s;

	if (s[l->i] == '-' && l->i + 1 < l->n && s[l->i + 1] == '-') {
		while (l->i < l->n && s[l->i] != '\n')
			l->i++;
		return true;
	}
	if (s[l->i] == '/' && l->i + 1 < l->n && s[l->i + 1] == '*') {
		int depth = 0;

		while (l->i < l->n) {
			if (s[l->i] == '/' && l->i + 1 < l->n && s[l->i + 1] == '*') {
				depth++;
				l->i += 2;
			} else if (s[l->i] == '*' && l->i + 1 < l->n && s[l->i + 1] == '/') {
				l->i += 2;
				if (--depth == 0)
					return true;
			} else {
				l->i++;
			}
		}
		return true;
	}
	return false;
}

/* $tag$ ... $tag$ (tag may be empty); returns false if s[i] does not open one. */
static bool dollar_string(struct lex *l)
{
	size_t start = l->i, j = l->i + 1, taglen;

	while (j < l->n && l->s[j] != '$' && (ident_char((unsigned char)l->s[j]) && l->s[j] != '$'))
		j++;
	if (j >= l->n || l->s[j] != '$' || (j > start + 1 && isdigit((unsigned char)l->s[start + 1])))
		return false;
	taglen = j - start + 1;
	for (size_t k = j + 1; k + taglen <= l->n; k++) {
		if (l->s[k] == '$' && !memcmp(l->s + k, l->s + start, taglen)) {
			l->i = k + taglen;
			literal(l, '$', start, l->i);
			return true;
		}
	}
	l->i = l->n;
	l->truncated = true;
	literal(l, '$', start, l->n);
	return true;
}

static void number(struct lex *l)
{
	size_t start = l->i;
	const char *s = l->s;

	if (s[l->i] == '-')
		l->i++;
	if (s[l->i] == '0' && l->i + 1 < l->n && (s[l->i + 1] == 'x' || s[l->i + 1] == 'X')) {
		l->i += 2;
		while (l->i < l->n && isxdigit((unsigned char)s[l->i]))
			l->i++;
	} else {
		while (l->i < l->n && (isdigit((unsigned char)s[l->i]) || s[l->i] == '_'))
			l->i++;
		if (l->i < l->n && s[l->i] == '.')
			for (l->i++; l->i < l->n && isdigit((unsigned char)s[l->i]);)
				l->i++;
		if (l->i + 1 < l->n && (s[l->i] == 'e' || s[l->i] == 'E') &&
		    (isdigit((unsigned char)s[l->i + 1]) ||
		     ((s[l->i + 1] == '+' || s[l->i + 1] == '-') && l->i + 2 < l->n &&
		      isdigit((unsigned char)s[l->i + 2])))) {
			l->i += 2;
			while (l->i < l->n && isdigit((unsigned char)s[l->i]))
				l->i++;
		}
	}
	literal(l, 'n', start, l->i);
}

/* Whether a '-' here is a sign: after nothing, an operator, '(' ',' or a keyword. */
static bool minus_is_sign(const struct lex *l)
{
	const struct tok *p = l->nt ? &l->t[l->nt - 1] : NULL;

	if (!p || p->type == T_OPER || p->type == T_KEYWORD)
		return true;
	if (p->type == T_PUNCT)
		return l->words[p->off] == '(' || l->words[p->off] == ',' || l->words[p->off] == '[';
	return false;
}

static void word(struct lex *l)
{
	size_t start = l->i, len;
	char buf[128];

	while (l->i < l->n && ident_char((unsigned char)l->s[l->i]))
		l->i++;
	len = l->i - start;
	/* E'..', B'..', X'..', N'..' and U&'..' are literals */
	if (l->i < l->n && l->s[l->i] == '\'' && len == 1 && strchr("eEbBxXnN", l->s[start])) {
		skip_quoted(l, '\'', l->s[start] == 'e' || l->s[start] == 'E');
		literal(l, 's', start, l->i);
		return;
	}
	if (len == 1 && (l->s[start] == 'u' || l->s[start] == 'U') && l->i + 1 < l->n && l->s[l->i] == '&' &&
	    l->s[l->i + 1] == '\'') {
		l->i++;
		skip_quoted(l, '\'', false);
		literal(l, 's', start, l->i);
		return;
	}
	if (len < sizeof(buf)) {
		for (size_t k = 0; k < len; k++)
			buf[k] = (char)toupper((unsigned char)l->s[start + k]);
		buf[len] = 0;
		if (!strcmp(buf, "TRUE") || !strcmp(buf, "FALSE")) {
			literal(l, 'b', start, l->i);
			return;
		}
		if (is_keyword(buf)) {
			push(l, T_KEYWORD, buf, len);
			return;
		}
		for (size_t k = 0; k < len; k++)
			buf[k] = (char)tolower((unsigned char)l->s[start + k]);
		push(l, T_WORD, buf, len);
		return;
	}
	push(l, T_WORD, l->s + start, len); /* overlong identifier: kept as written */
}

/* A quoted identifier; one the text cut off before its closing quote may hold anything (the
 * rest of the statement, literals included): it counts as a literal. */
static void quoted_ident(struct lex *l, char q, size_t start)
{
	bool was = l->truncated;

	skip_quoted(l, q, false);
	if (!was && l->truncated)
		literal(l, 'i', start, l->i);
	else
		push(l, T_QIDENT, l->s + start, l->i - start);
}

static void lex_one(struct lex *l)
{
	const char *s = l->s;
	unsigned char c = (unsigned char)s[l->i];
	size_t start = l->i;

	if (isspace(c)) {
		l->i++;
		l->gap = true;
	} else if (skip_comment(l)) {
		l->gap = true;
	} else if (l->mysql && c == '#') {
		while (l->i < l->n && s[l->i] != '\n')
			l->i++;
		l->gap = true;
	} else if (c == '\'' || (l->mysql && c == '"')) {
		skip_quoted(l, (char)c, l->mysql);
		literal(l, 's', start, l->i);
	} else if (l->mysql && c == '`') {
		quoted_ident(l, '`', start);
	} else if (l->mysql && c == '?') {
		l->i++;
		push(l, T_PARAM, NULL, 0);
	} else if (l->mysql && c == '$') {
		word(l);
	} else if (c == '"') {
		quoted_ident(l, '"', start);
	} else if (isdigit(c) || (c == '.' && l->i + 1 < l->n && isdigit((unsigned char)s[l->i + 1])) ||
		   (c == '-' && l->i + 1 < l->n && isdigit((unsigned char)s[l->i + 1]) && minus_is_sign(l))) {
		number(l);
	} else if (c == '$' && l->i + 1 < l->n && isdigit((unsigned char)s[l->i + 1])) {
		for (l->i++; l->i < l->n && isdigit((unsigned char)s[l->i]);)
			l->i++;
		push(l, T_PARAM, NULL, 0);
	} else if (c == '$' && dollar_string(l)) {
	} else if (ident_start(c)) {
		word(l);
	} else if (c == ':' && l->i + 1 < l->n && s[l->i + 1] == ':') {
		l->i += 2;
		push(l, T_PUNCT, "::", 2);
	} else if (strchr("()[],;.:", c)) {
		l->i++;
		push(l, T_PUNCT, s + start, 1);
	} else if (oper_char((char)c) && !(l->mysql && strchr("`#?", c))) {
		while (l->i < l->n && oper_char(s[l->i]) && !(l->mysql && strchr("`#?", s[l->i])) &&
		       !(l->i > start && l->i + 1 < l->n &&
			 ((s[l->i] == '-' && s[l->i + 1] == '-') || (s[l->i] == '/' && s[l->i + 1] == '*'))))
			l->i++;
		push(l, T_OPER, s + start, l->i - start);
	} else {
		l->i++; /* stray byte (control character, lone backslash): dropped */
	}
}

static void lex(struct lex *l)
{
	while (l->i < l->n && !l->truncated)
		lex_one(l);
	if (l->i < l->n)
		l->truncated = true;
}

/* ---- rewrite -------------------------------------------------------------------------------- */

static bool is_punct(const struct lex *l, const struct tok *t, char c)
{
	return t->type == T_PUNCT && t->len == 1 && l->words[t->off] == c;
}

static bool is_kw(const struct lex *l, const struct tok *t, const char *kw)
{
	return t->type == T_KEYWORD && t->len == strlen(kw) && !memcmp(l->words + t->off, kw, t->len);
}

static bool is_value(const struct tok *t)
{
	return t->type == T_LIT || t->type == T_PARAM;
}

/* Index just past the group opened at t[i] ('(' or '['), or n if unclosed. */
static size_t group_end(const struct lex *l, size_t i, size_t n)
{
	int depth = 0;

	for (; i < n; i++) {
		if (is_punct(l, &l->t[i], '(') || is_punct(l, &l->t[i], '['))
			depth++;
		else if ((is_punct(l, &l->t[i], ')') || is_punct(l, &l->t[i], ']')) && --depth == 0)
			return i + 1;
	}
	return n;
}

/* t[i] opens a group holding only values and commas (an IN list, an ARRAY literal). */
static bool value_list(const struct lex *l, size_t i, size_t end)
{
	size_t k;

	for (k = i + 1; k + 1 < end; k++)
		if (!is_value(&l->t[k]) && !is_punct(l, &l->t[k], ','))
			return false;
	return k > i + 1 && end - i >= 3;
}

/* Rewrites t[from..n) in place: IN (?, ?, ...) -> IN (?), ARRAY[?, ...] -> ARRAY[?],
 * VALUES (..), (..) -> VALUES (..). Returns the new end. */
static size_t collapse(struct lex *l, size_t from, size_t n)
{
	size_t w = from;

	for (size_t r = from; r < n;) {
		const struct tok *prev = w > from ? &l->t[w - 1] : NULL;

		if (prev && (is_kw(l, prev, "IN") || is_kw(l, prev, "ARRAY")) &&
		    (is_punct(l, &l->t[r], '(') || is_punct(l, &l->t[r], '['))) {
			size_t end = group_end(l, r, n);

			if (end <= n && value_list(l, r, end) &&
			    (is_punct(l, &l->t[end - 1], ')') || is_punct(l, &l->t[end - 1], ']'))) {
				l->t[w++] = l->t[r];
				l->t[w++] = l->t[r + 1];
				l->t[w++] = l->t[end - 1];
				r = end;
				continue;
			}
		}
		if (prev && is_kw(l, prev, "VALUES") && is_punct(l, &l->t[r], '(')) {
			size_t end = group_end(l, r, n);

			while (r < end)
				l->t[w++] = l->t[r++];
			/* further tuples: ", (" ... ")" */
			while (r + 1 < n && is_punct(l, &l->t[r], ',') && is_punct(l, &l->t[r + 1], '('))
				r = group_end(l, r + 1, n);
			continue;
		}
		l->t[w++] = l->t[r++];
	}
	return w;
}

/* ---- render --------------------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
	bool cut;
	uint64_t h;
	bool hash;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (o->cut)
		return;
	if (o->len + n + 1 > o->cap) {
		o->cut = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static bool space_between(const struct lex *l, const struct tok *p, const struct tok *c)
{
	if (!p)
		return false;
	if (c->type == T_PUNCT && strchr(",);.]:", l->words[c->off]))
		return false;
	if (p->type == T_PUNCT && strchr("([.:", l->words[p->off]))
		return false;
	/* "count(*)" but "INSERT INTO t (a)": after a name, as the text had it */
	if (c->type == T_PUNCT && l->words[c->off] == '(' && (p->type == T_WORD || p->type == T_QIDENT))
		return c->spaced;
	if (c->type == T_PUNCT && (l->words[c->off] == '(' || l->words[c->off] == '['))
		return !(p->type == T_WORD || p->type == T_QIDENT || is_kw(l, p, "ANY") || is_kw(l, p, "ALL") ||
			 is_kw(l, p, "SOME") || is_kw(l, p, "CAST") || is_kw(l, p, "ARRAY") ||
			 is_punct(l, p, ']') || is_punct(l, p, ')'));
	return true;
}

/* The fingerprint hashes tokens (type and text), so spacing choices never change it. */
static void emit_tok(struct out *o, const struct lex *l, const struct tok *t)
{
	uint8_t type = t->type == T_PARAM ? T_LIT : t->type;

	if (o->hash) {
		o->h = sqlnorm_hash(o->h, &type, 1);
		if (type != T_LIT)
			o->h = sqlnorm_hash(o->h, l->words + t->off, t->len);
	}
	if (t->type == T_LIT || t->type == T_PARAM)
		emit(o, "?", 1);
	else
		emit(o, l->words + t->off, t->len);
}

/* The index of the FROM closing the select list that starts at i, or 0 if there is none. */
static size_t select_list_end(const struct lex *l, size_t i, size_t n)
{
	int depth = 0;

	for (; i < n; i++) {
		const struct tok *t = &l->t[i];

		if (is_punct(l, t, '(') || is_punct(l, t, '['))
			depth++;
		else if (is_punct(l, t, ')') || is_punct(l, t, ']') || is_punct(l, t, ';'))
			if (--depth < 0)
				return 0;
		if (depth == 0 && is_kw(l, t, "FROM"))
			return i;
	}
	return 0;
}

static void render(struct out *o, const struct lex *l, size_t from, size_t n, bool collapse_select)
{
	const struct tok *prev = NULL;

	for (size_t i = from; i < n; i++) {
		const struct tok *t = &l->t[i];

		if (space_between(l, prev, t))
			emit(o, " ", 1);
		emit_tok(o, l, t);
		prev = t;
		if (collapse_select && is_kw(l, t, "SELECT")) {
			size_t j = i + 1, end;

			bool distinct = j < n && is_kw(l, &l->t[j], "DISTINCT");

			j += distinct;
			end = select_list_end(l, j, n);
			if (end > j + 1) {
				emit(o, distinct ? " DISTINCT ..." : " ...", distinct ? 13 : 4);
				i = end - 1;
				prev = &l->t[i];
			}
		}
	}
}

/* ---- statement kinds ------------------------------------------------------------------------ */

static enum sql_op op_of(const struct lex *l, size_t from, size_t n)
{
	static const struct { const char *kw; enum sql_op op; } first[] = {
		{ "SELECT", SQL_OP_SELECT },   { "VALUES", SQL_OP_SELECT },     { "TABLE", SQL_OP_SELECT },
		{ "INSERT", SQL_OP_INSERT },   { "UPDATE", SQL_OP_UPDATE },     { "DELETE", SQL_OP_DELETE },
		{ "BEGIN", SQL_OP_BEGIN },     { "START", SQL_OP_BEGIN },       { "COMMIT", SQL_OP_COMMIT },
		{ "END", SQL_OP_COMMIT },      { "ROLLBACK", SQL_OP_ROLLBACK }, { "ABORT", SQL_OP_ROLLBACK },
		{ "CREATE", SQL_OP_DDL },      { "ALTER", SQL_OP_DDL },         { "DROP", SQL_OP_DDL },
		{ "TRUNCATE", SQL_OP_DDL },    { "SET", SQL_OP_SET },           { "SHOW", SQL_OP_SET },
		{ "RESET", SQL_OP_SET },       { "COPY", SQL_OP_COPY },
	};
	size_t i = from;
	int depth = 0;

	while (i < n && is_punct(l, &l->t[i], '('))
		i++;
	if (i >= n)
		return SQL_OP_OTHER;
	if (is_kw(l, &l->t[i], "WITH")) {
		for (; i < n; i++) {
			const struct tok *t = &l->t[i];

			depth += is_punct(l, t, '(') - is_punct(l, t, ')');
			if (depth == 0 && (is_kw(l, t, "SELECT") || is_kw(l, t, "INSERT") || is_kw(l, t, "UPDATE") ||
					   is_kw(l, t, "DELETE")))
				break;
		}
		if (i >= n)
			return SQL_OP_SELECT;
	}
	for (size_t k = 0; k < sizeof(first) / sizeof(first[0]); k++)
		if (is_kw(l, &l->t[i], first[k].kw))
			return first[k].op;
	return SQL_OP_OTHER;
}

static void copy_name(const struct lex *l, const struct tok *t, char *out)
{
	size_t n = t->len < SQLNORM_NAME_MAX - 1 ? t->len : SQLNORM_NAME_MAX - 1;

	memcpy(out, l->words + t->off, n);
	out[n] = 0;
	if (t->type == T_KEYWORD) /* a name that happens to be a keyword: compare folded */
		for (size_t k = 0; k < n; k++)
			out[k] = (char)tolower((unsigned char)out[k]);
}

static bool is_name(const struct tok *t)
{
	return t->type == T_WORD || t->type == T_QIDENT || t->type == T_KEYWORD;
}

/* PREPARE/EXECUTE/DEALLOCATE: sets out->kind and name; returns the first token of the statement
 * to describe (the one after AS for PREPARE), or `from`. */
static size_t prepared(const struct lex *l, size_t from, size_t n, struct sqlnorm *out)
{
	size_t i = from;

	if (n - from >= 2 && is_kw(l, &l->t[i], "PREPARE") && is_name(&l->t[i + 1])) {
		copy_name(l, &l->t[i + 1], out->name);
		i += 2;
		if (i < n && is_punct(l, &l->t[i], '('))
			i = group_end(l, i, n);
		if (i < n && is_kw(l, &l->t[i], "AS")) {
			out->kind = SQLNORM_PREPARE;
			return i + 1;
		}
		out->name[0] = 0;
		return from;
	}
	if (n - from >= 2 && is_kw(l, &l->t[i], "EXECUTE") && is_name(&l->t[i + 1])) {
		out->kind = SQLNORM_EXECUTE;
		copy_name(l, &l->t[i + 1], out->name);
	} else if (n - from >= 2 && is_kw(l, &l->t[i], "DEALLOCATE")) {
		i++;
		if (is_kw(l, &l->t[i], "PREPARE") && i + 1 < n)
			i++;
		out->kind = SQLNORM_DEALLOCATE;
		if (!is_kw(l, &l->t[i], "ALL") && is_name(&l->t[i]))
			copy_name(l, &l->t[i], out->name);
	}
	return from;
}

int sqlnorm(const char *sql, size_t len, bool input_truncated, struct sqlnorm *out)
{
	return sqlnorm_dialect(sql, len, input_truncated, SQL_DIALECT_PG, out);
}

int sqlnorm_dialect(const char *sql, size_t len, bool input_truncated, enum sql_dialect d, struct sqlnorm *out)
{
	static __thread struct lex l;
	struct out text = { .buf = out->text, .cap = sizeof(out->text), .h = SQLNORM_HASH_SEED, .hash = true };
	struct out tmpl = { .buf = out->tmpl, .cap = sizeof(out->tmpl) - 3 };
	const char *nul = memchr(sql, 0, len);
	size_t from, n;

	memset(out, 0, sizeof(*out));
	l.s = sql;
	l.n = nul ? (size_t)(nul - sql) : len;
	l.i = l.nt = l.nw = 0;
	l.gap = false;
	l.mysql = d == SQL_DIALECT_MYSQL;
	l.params = SQLNORM_HASH_SEED;
	l.nlits = 0;
	l.truncated = false;
	lex(&l);
	n = l.nt;
	/* a trailing ';' does not make another statement */
	while (n && is_punct(&l, &l.t[n - 1], ';'))
		n--;
	if (!n)
		return -EINVAL;
	from = prepared(&l, 0, n, out);
	n = collapse(&l, from, n);
	render(&text, &l, from, n, false);
	render(&tmpl, &l, from, n, true);
	if (tmpl.cut)
		memcpy(out->tmpl + tmpl.len, "...", 4);
	out->fingerprint = finish(text.h);
	out->params_hash = l.nlits ? finish(l.params) : 0;
	out->nliterals = l.nlits;
	out->op = op_of(&l, from, n);
	out->truncated = input_truncated || l.truncated || text.cut;
	if (out->kind == SQLNORM_EXECUTE || out->kind == SQLNORM_DEALLOCATE)
		out->op = SQL_OP_OTHER;
	memset(&l.words, 0, l.nw); /* identifiers only, but leave nothing of the statement behind */
	return 0;
}
