/* Redis protocol reassembly for one client connection (include/respproto.h): a frontend framer
 * for command arrays and inline commands, a backend framer that follows nested RESP2/RESP3
 * replies with a bounded stack, and a queue pairing them in order. Argument bytes are hashed
 * and never kept, except the first bytes of the command and subcommand names. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "respproto.h"

#define MAX_PENDING 256
#define NAME_KEEP   32
#define MAX_BULK    (512ull << 20) /* Redis' own proto-max-bulk-len default */
#define MAX_ELEMS   (1ll << 32)

struct meta {
	uint64_t ts, stack;
	uint32_t tid;
};

/* A CRLF-terminated line, of which the first bytes are kept. */
struct line {
	char b[64];
	uint8_t n;
	bool cr;
};

enum fe_state { FE_START, FE_ARRAY_LINE, FE_BULK_LINE, FE_BULK_BODY, FE_INLINE };

struct fe {
	enum fe_state st;
	struct line ln;
	int64_t nargs, argi;
	uint64_t body_left; /* bulk bytes still to come, CRLF included */
	char arg[2][NAME_KEEP];
	uint8_t arglen[2];
	uint64_t params;
	bool gap, desync;
	struct meta meta;
};

enum be_state { BE_TYPE, BE_LINE, BE_BULK_BODY };

struct be {
	enum be_state st;
	uint8_t type;
	struct line ln;
	uint64_t body_left;
	int depth;
	int64_t left[RESP_MAX_DEPTH];
	uint8_t agg[RESP_MAX_DEPTH];
	uint8_t top;        /* type of the top-level element being read */
	int64_t top_count;
	char err[6];
	bool desync, resync_ok;
	struct meta meta;
};

struct pending {
	struct pg_query q;
};

struct resp_conn {
	struct pg_callbacks cb;
	void *ctx;
	struct fe fe;
	struct be be;
	struct pending q[MAX_PENDING];
	unsigned qhead, qlen;
	bool nopair; /* SUBSCRIBE/MONITOR: replies are no longer one per command */
	struct pg_stats st;
};

/* ---- commands ------------------------------------------------------------------------------- */

static const char *const reads[] = {
	"BITCOUNT", "DBSIZE", "EXISTS", "GET", "GETBIT", "GETRANGE", "HEXISTS", "HGET", "HGETALL", "HKEYS",
	"HLEN", "HMGET", "HSCAN", "HVALS", "KEYS", "LINDEX", "LLEN", "LRANGE", "MGET", "PFCOUNT", "PTTL", "SCAN",
	"SCARD", "SISMEMBER", "SMEMBERS", "SRANDMEMBER", "SSCAN", "STRLEN", "TTL", "TYPE", "XLEN", "XRANGE",
	"XREAD", "ZCARD", "ZCOUNT", "ZRANGE", "ZRANGEBYSCORE", "ZRANK", "ZREVRANGE", "ZSCAN", "ZSCORE",
};
static const char *const writes[] = {
	"APPEND", "DECR", "DECRBY", "DEL", "EXPIRE", "EXPIREAT", "FLUSHALL", "FLUSHDB", "GETDEL", "GETSET", "HDEL",
	"HINCRBY", "HMSET", "HSET", "HSETNX", "INCR", "INCRBY", "INCRBYFLOAT", "LPOP", "LPUSH", "LREM", "LSET",
	"LTRIM", "MSET", "PERSIST", "PEXPIRE", "PFADD", "PSETEX", "PUBLISH", "RENAME", "RPOP", "RPUSH", "SADD",
	"SET", "SETBIT", "SETEX", "SETNX", "SPOP", "SREM", "UNLINK", "XADD", "XDEL", "XTRIM", "ZADD", "ZINCRBY",
	"ZREM",
};
static const char *const with_sub[] = {
	"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "MEMORY", "MODULE", "OBJECT", "PUBSUB",
	"SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
};

static int cmp(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

static bool in(const char *name, const char *const *tab, size_t n)
{
	return bsearch(name, tab, n, sizeof(*tab), cmp) != NULL;
}

#define IN(name, tab) in(name, tab, sizeof(tab) / sizeof(tab[0]))

/* An upper-cased, printable copy of a name (never data: names only). */
static void clean_name(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[k++] = isalnum(ch) || (ch && strchr("_-.| ", ch)) ? (char)toupper(ch) : '?';
	}
	out[k] = 0;
}

void resp_describe(const char *name, size_t len, unsigned nargs, struct sqlnorm *out)
{
	char cmd[NAME_KEEP + 1];
	size_t pos;

	memset(out, 0, sizeof(*out));
	clean_name(name, len, cmd, sizeof(cmd));
	out->op = IN(cmd, reads) ? SQL_OP_READ : IN(cmd, writes) ? SQL_OP_WRITE : SQL_OP_OTHER;
	pos = (size_t)snprintf(out->text, sizeof(out->text), "%s", cmd[0] ? cmd : "?");
	for (unsigned i = 0; i < nargs && i < 3 && pos + 3 < sizeof(out->text); i++)
		pos += (size_t)snprintf(out->text + pos, sizeof(out->text) - pos, " ?");
	if (nargs > 3)
		snprintf(out->text + pos, sizeof(out->text) - pos, " ...");
	snprintf(out->tmpl, sizeof(out->tmpl), "%.*s", (int)sizeof(out->tmpl) - 1, out->text);
	out->nliterals = nargs;
	out->fingerprint = sqlnorm_hash(sqlnorm_hash(SQLNORM_HASH_SEED, "redis", 5), out->text, strlen(out->text));
	if (!out->fingerprint)
		out->fingerprint = 1;
}

enum pg_class resp_classify(const uint8_t *b, size_t n)
{
	size_t i = 1;

	if (n < 4 || b[0] != '*')
		return PG_CLASS_NO;
	while (i < n && i < 12 && isdigit(b[i]))
		i++;
	if (i == 1 || i + 2 >= n || b[i] != '\r' || b[i + 1] != '\n' || b[i + 2] != '$')
		return PG_CLASS_NO;
	return PG_CLASS_STARTUP;
}

/* ---- the queue ------------------------------------------------------------------------------ */

static void drop_all(struct resp_conn *c)
{
	c->st.dropped += c->qlen;
	c->qhead = c->qlen = 0;
	memset(c->q, 0, sizeof(c->q));
}

static void push_command(struct resp_conn *c)
{
	struct fe *f = &c->fe;
	unsigned nargs = f->nargs > 0 ? (unsigned)(f->nargs - 1) : 0, sub = 0;
	static __thread struct sqlnorm n;
	char cmd[NAME_KEEP + 1], full[2 * NAME_KEEP + 2];
	struct pending *p;

	clean_name(f->arg[0], f->arglen[0], cmd, sizeof(cmd));
	if (IN(cmd, with_sub) && f->nargs >= 2 && f->arglen[1]) {
		char subname[NAME_KEEP + 1];

		clean_name(f->arg[1], f->arglen[1], subname, sizeof(subname));
		snprintf(full, sizeof(full), "%s %s", cmd, subname);
		sub = 1;
	} else {
		snprintf(full, sizeof(full), "%s", cmd);
	}
	resp_describe(full, strlen(full), nargs - sub, &n);
	c->st.messages[PG_FRONTEND]++;
	if (!strcmp(cmd, "SUBSCRIBE") || !strcmp(cmd, "PSUBSCRIBE") || !strcmp(cmd, "SSUBSCRIBE") ||
	    !strcmp(cmd, "MONITOR")) {
		c->nopair = true;
		drop_all(c);
	}
	if (c->cb.statement)
		c->cb.statement(c->ctx, &n);
	if (c->nopair)
		return;
	if (c->be.desync)
		c->be.resync_ok = true;
	if (c->qlen == MAX_PENDING) {
		c->st.pending_full++;
		return;
	}
	p = &c->q[(c->qhead + c->qlen++) % MAX_PENDING];
	memset(p, 0, sizeof(*p));
	p->q.fingerprint = n.fingerprint;
	p->q.op = n.op;
	p->q.params_hash = f->gap ? 0 : (f->params ? f->params : 1);
	p->q.flags = (f->gap ? PG_Q_NO_PARAMS : 0) | (c->qlen > 1 ? PG_Q_PIPELINED : 0);
	p->q.start_ns = f->meta.ts;
	p->q.tid = f->meta.tid;
	p->q.stack = f->meta.stack;
}

static void reply_done(struct resp_conn *c, uint64_t ts)
{
	struct be *b = &c->be;
	struct pending *p;

	c->st.messages[PG_BACKEND]++;
	if (c->nopair || !c->qlen)
		return;
	p = &c->q[c->qhead];
	p->q.end_ns = ts >= p->q.start_ns ? ts : p->q.start_ns;
	if (b->top == '-' || b->top == '!') {
		p->q.error = true;
		memcpy(p->q.sqlstate, b->err, sizeof(p->q.sqlstate));
	} else if (strchr("*~%", b->top)) {
		p->q.rows = b->top_count > 0 ? (uint64_t)b->top_count : 0;
	} else if (strchr("$=", b->top)) {
		p->q.rows = b->top_count >= 0;
	}
	if (c->cb.query)
		c->cb.query(c->ctx, &p->q);
	memset(p, 0, sizeof(*p));
	c->qhead = (c->qhead + 1) % MAX_PENDING;
	c->qlen--;
}

/* ---- lines ---------------------------------------------------------------------------------- */

/* Consumes bytes up to and including CRLF. Returns bytes used; *done when the line ended. */
static size_t line_feed(struct line *l, const uint8_t *p, size_t n, bool *done)
{
	for (size_t i = 0; i < n; i++) {
		if (l->cr && p[i] == '\n') {
			l->cr = false;
			if (l->n && l->b[l->n - 1] == '\r')
				l->n--;
			l->b[l->n] = 0;
			*done = true;
			return i + 1;
		}
		l->cr = p[i] == '\r';
		if ((size_t)l->n + 1 < sizeof(l->b))
			l->b[l->n++] = (char)p[i];
	}
	*done = false;
	return n;
}

static bool parse_int(const struct line *l, size_t from, int64_t *out)
{
	const char *s = l->b + from;
	char *end;
	long long v;

	if (!*s || l->n >= sizeof(l->b) - 1)
		return false;
	v = strtoll(s, &end, 10);
	if (*end || end == s)
		return false;
	*out = v;
	return true;
}

/* ---- frontend ------------------------------------------------------------------------------- */

static void fe_reset(struct fe *f)
{
	bool desync = f->desync;

	memset(f, 0, sizeof(*f));
	f->desync = desync;
}

static void fe_lose(struct resp_conn *c)
{
	fe_reset(&c->fe);
	c->fe.desync = true;
	c->st.desyncs[PG_FRONTEND]++;
}

static void fe_arg_bytes(struct fe *f, const uint8_t *p, size_t n)
{
	/* the payload part only (not the CRLF) */
	uint64_t payload = f->body_left > 2 ? f->body_left - 2 : 0;
	size_t take = n < payload ? n : (size_t)payload;

	if (f->argi < 2) {
		int a = (int)f->argi;
		size_t room = NAME_KEEP - f->arglen[a], k = take < room ? take : room;

		memcpy(f->arg[a] + f->arglen[a], p, k);
		f->arglen[a] += (uint8_t)k;
	}
	if (f->argi >= 1)
		f->params = sqlnorm_hash(f->params ? f->params : SQLNORM_HASH_SEED, p, take);
}

static void inline_command(struct resp_conn *c)
{
	struct fe *f = &c->fe;
	char *s = f->ln.b, *sp;
	size_t len;

	while (*s == ' ')
		s++;
	if (!*s)
		return;
	sp = strchr(s, ' ');
	len = sp ? (size_t)(sp - s) : strlen(s);
	f->arglen[0] = (uint8_t)(len < NAME_KEEP ? len : NAME_KEEP);
	memcpy(f->arg[0], s, f->arglen[0]);
	f->nargs = 1;
	for (char *q = sp; q && *q; q++)
		if (*q == ' ' && q[1] && q[1] != ' ')
			f->nargs++;
	f->params = sp ? sqlnorm_hash(SQLNORM_HASH_SEED, sp, strlen(sp)) : 0;
	f->gap = f->ln.n >= sizeof(f->ln.b) - 1;
	push_command(c);
}

static void fe_feed(struct resp_conn *c, const uint8_t *p, size_t n, const struct meta *m)
{
	struct fe *f = &c->fe;
	bool done;
	size_t used;

	while (n && !f->desync) {
		switch (f->st) {
		case FE_START:
			fe_reset(f);
			f->meta = *m;
			f->st = p[0] == '*' ? FE_ARRAY_LINE : FE_INLINE;
			if (p[0] == '*')
				p++, n--;
			break;
		case FE_INLINE:
			used = line_feed(&f->ln, p, n, &done);
			p += used, n -= used;
			if (done) {
				inline_command(c);
				f->st = FE_START;
			}
			break;
		case FE_ARRAY_LINE:
			used = line_feed(&f->ln, p, n, &done);
			p += used, n -= used;
			if (!done)
				break;
			if (!parse_int(&f->ln, 0, &f->nargs) || f->nargs > 1048576) {
				fe_lose(c);
				return;
			}
			f->ln.n = 0;
			f->argi = 0;
			f->st = f->nargs > 0 ? FE_BULK_LINE : FE_START;
			break;
		case FE_BULK_LINE: {
			int64_t len;

			used = line_feed(&f->ln, p, n, &done);
			p += used, n -= used;
			if (!done)
				break;
			if (f->ln.b[0] != '$' || !parse_int(&f->ln, 1, &len) || len < 0 || (uint64_t)len > MAX_BULK) {
				fe_lose(c);
				return;
			}
			f->ln.n = 0;
			f->body_left = (uint64_t)len + 2;
			f->st = FE_BULK_BODY;
			break;
		}
		case FE_BULK_BODY: {
			size_t take = n < f->body_left ? n : (size_t)f->body_left;

			fe_arg_bytes(f, p, take);
			f->body_left -= take;
			p += take, n -= take;
			if (f->body_left)
				break;
			if (++f->argi < f->nargs) {
				f->st = FE_BULK_LINE;
			} else {
				push_command(c);
				f->st = FE_START;
			}
			break;
		}
		}
	}
}

static void fe_skip(struct resp_conn *c, uint64_t n)
{
	struct fe *f = &c->fe;

	if (!n || f->desync)
		return;
	/* a gap stays inside one argument's payload */
	if (f->st != FE_BULK_BODY || f->body_left < 2 || n > f->body_left - 2) {
		fe_lose(c);
		return;
	}
	f->body_left -= n;
	f->gap = true;
}

/* ---- backend -------------------------------------------------------------------------------- */

static void be_lose(struct resp_conn *c)
{
	struct be *b = &c->be;

	memset(b, 0, sizeof(*b));
	b->desync = true;
	c->st.desyncs[PG_BACKEND]++;
	drop_all(c);
}

/* A complete value at the current depth; closes the aggregates it completes. */
static void value_done(struct resp_conn *c, uint64_t ts)
{
	struct be *b = &c->be;

	for (;;) {
		if (!b->depth) {
			if (b->top != '|' && b->top != '>')
				reply_done(c, ts);
			b->top = 0;
			return;
		}
		if (--b->left[b->depth - 1] > 0)
			return;
		b->depth--;
	}
}

static bool aggregate(struct resp_conn *c, uint8_t type, int64_t count, uint64_t ts)
{
	struct be *b = &c->be;

	if (count < -1 || count > MAX_ELEMS)
		return false;
	if (count <= 0) {
		value_done(c, ts);
		return true;
	}
	if (b->depth == RESP_MAX_DEPTH)
		return false;
	b->agg[b->depth] = type;
	b->left[b->depth++] = (type == '%' || type == '|') ? count * 2 : count;
	return true;
}

static bool be_line(struct resp_conn *c, uint64_t ts)
{
	struct be *b = &c->be;
	int64_t v = 0;

	switch (b->type) {
	case '+': case ':': case '_': case ',': case '#': case '(':
		value_done(c, ts);
		return true;
	case '-':
		if (!b->depth) {
			size_t k = strcspn(b->ln.b, " ");

			memcpy(b->err, b->ln.b, k < 5 ? k : 5);
			b->err[k < 5 ? k : 5] = 0;
		}
		value_done(c, ts);
		return true;
	case '$': case '=': case '!':
		if (!parse_int(&b->ln, 0, &v) || v < -1 || (v >= 0 && (uint64_t)v > MAX_BULK))
			return false;
		if (!b->depth)
			b->top_count = v;
		if (v == -1) {
			value_done(c, ts);
			return true;
		}
		b->body_left = (uint64_t)v + 2;
		b->st = BE_BULK_BODY;
		return true;
	case '*': case '%': case '~': case '>': case '|':
		if (!parse_int(&b->ln, 0, &v))
			return false;
		if (!b->depth)
			b->top_count = v;
		return aggregate(c, b->type, v, ts);
	default:
		return false;
	}
}

static void be_feed(struct resp_conn *c, const uint8_t *p, size_t n, uint64_t ts)
{
	struct be *b = &c->be;
	bool done;
	size_t used;

	while (n && !b->desync) {
		switch (b->st) {
		case BE_TYPE:
			if (!strchr("+-:$*_,#!=(%~>|", p[0]) || !p[0]) {
				be_lose(c);
				return;
			}
			b->type = p[0];
			if (!b->depth) {
				b->top = p[0];
				b->top_count = 0;
				b->err[0] = 0;
			}
			b->ln.n = 0;
			b->ln.cr = false;
			b->st = BE_LINE;
			p++, n--;
			break;
		case BE_LINE:
			used = line_feed(&b->ln, p, n, &done);
			p += used, n -= used;
			if (!done)
				break;
			b->st = BE_TYPE;
			if (!be_line(c, ts)) {
				be_lose(c);
				return;
			}
			break;
		case BE_BULK_BODY: {
			size_t take = n < b->body_left ? n : (size_t)b->body_left;

			b->body_left -= take;
			p += take, n -= take;
			if (!b->body_left) {
				b->st = BE_TYPE;
				value_done(c, ts);
			}
			break;
		}
		}
	}
}

static void be_skip(struct resp_conn *c, uint64_t n)
{
	struct be *b = &c->be;

	if (!n || b->desync)
		return;
	if (b->st != BE_BULK_BODY || n >= b->body_left) {
		be_lose(c);
		return;
	}
	b->body_left -= n;
}

/* ---- connection ----------------------------------------------------------------------------- */

void resp_conn_feed(struct resp_conn *c, enum pg_dir dir, const struct pg_chunk *ch)
{
	struct meta m = { .ts = ch->ts_ns, .stack = ch->stack, .tid = ch->tid };
	uint64_t mid;

	if (ch->total < (uint64_t)ch->head_len + ch->tail_len)
		return;
	mid = ch->total - ch->head_len - ch->tail_len;
	if (dir == PG_FRONTEND) {
		if (c->fe.desync && ch->head_len && ch->head[0] == '*') {
			fe_reset(&c->fe);
			c->fe.desync = false;
			c->st.resyncs[PG_FRONTEND]++;
		}
		fe_feed(c, ch->head, ch->head_len, &m);
		fe_skip(c, mid);
		fe_feed(c, ch->tail, ch->tail_len, &m);
		return;
	}
	if (c->be.desync && c->be.resync_ok && c->qlen) {
		memset(&c->be, 0, sizeof(c->be));
		c->st.resyncs[PG_BACKEND]++;
	}
	be_feed(c, ch->head, ch->head_len, ch->ts_ns);
	be_skip(c, mid);
	be_feed(c, ch->tail, ch->tail_len, ch->ts_ns);
}

struct resp_conn *resp_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream)
{
	struct resp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cb = *cb;
	c->ctx = ctx;
	c->be.desync = midstream;
	return c;
}

void resp_conn_free(struct resp_conn *c)
{
	if (!c)
		return;
	c->st.dropped += c->qlen;
	memset(c, 0, sizeof(*c)); /* the first bytes of names and the hashes go with it */
	free(c);
}

const struct pg_stats *resp_conn_stats(const struct resp_conn *c)
{
	return &c->st;
}
