/* PostgreSQL v3 wire protocol reassembly for one client connection (include/pgproto.h): two
 * framing streams (frontend, backend) that keep a bounded prefix of each message body, a queue
 * of queries in flight paired with the backend's answers in protocol order, and the connection's
 * prepared statements and portals as fingerprints. Bodies are wiped once dispatched. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgproto.h"

#define PG_CODE_V3      196608u   /* 3.0 */
#define PG_CODE_CANCEL  80877102u
#define PG_CODE_SSL     80877103u
#define PG_CODE_GSSENC  80877104u
#define PG_MAX_MSG      (1u << 30)
#define PG_MAX_STARTUP  10000u    /* the server's own limit for a startup packet */

enum pend_kind { PEND_SIMPLE, PEND_EXEC, PEND_SYNC };
#define PEND_SILENT 0x8000 /* keeps protocol pairing but is not reported */

struct meta {
	uint64_t ts, stack;
	uint32_t tid;
};

struct stream {
	uint8_t hdr[5];
	uint8_t hdr_have;
	bool untyped;   /* frontend: the next message has no type byte (startup phase) */
	bool want_byte; /* backend: the one-byte answer to SSLRequest/GSSENCRequest is due */
	bool in_body;
	bool gap;       /* some body bytes were not captured */
	bool desync;
	uint8_t type;
	uint32_t body_len, body_seen;
	uint8_t *buf;
	uint32_t buf_len, buf_cap, keep;
	struct meta meta; /* of the transfer in which the message began */
};

struct pending {
	uint8_t kind;
	struct pg_query q;
};

struct stmt {
	uint64_t name; /* hash of the name; 0 = free slot */
	uint64_t fp, seq;
	uint8_t op;
	uint32_t flags;
};

struct portal {
	uint64_t name; /* hash of the name; 0 = free slot (the unnamed portal hashes like any name) */
	uint64_t fp, params;
	uint8_t op;
	uint32_t flags;
};

struct pg_conn {
	struct pg_callbacks cb;
	void *ctx;
	struct stream s[2];
	struct pending q[PG_MAX_PENDING];
	unsigned qhead, qlen;
	struct stmt stmts[PG_MAX_STATEMENTS];
	struct portal portals[PG_MAX_PORTALS];
	uint64_t seq;
	bool encrypted;
	struct pg_stats st;
};

static const char frontend_types[] = "QPBESDCHXFpdcf";
static const char backend_types[] = "RKSZTDCEN123nstIGHWAcdvV";

/* ---- small readers over a kept body --------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n, i;
	bool bad;
};

static const char *rd_cstr(struct rd *r, size_t *len)
{
	const uint8_t *z = r->i < r->n ? memchr(r->p + r->i, 0, r->n - r->i) : NULL;
	const char *s;

	if (!z) {
		r->bad = true;
		return NULL;
	}
	s = (const char *)r->p + r->i;
	*len = (size_t)(z - (r->p + r->i));
	r->i += *len + 1;
	return s;
}

static uint32_t rd_be(struct rd *r, unsigned bytes)
{
	uint32_t v = 0;

	if (r->n - r->i < bytes || r->i > r->n) {
		r->bad = true;
		return 0;
	}
	for (unsigned k = 0; k < bytes; k++)
		v = v << 8 | r->p[r->i++];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = sqlnorm_hash(SQLNORM_HASH_SEED, s, n);

	return h ? h : 1;
}

/* ---- classification ------------------------------------------------------------------------- */

static bool plausible_typed(const uint8_t *b, size_t n, const char *types)
{
	uint32_t len;

	if (n < 5 || !b[0] || !strchr(types, b[0]))
		return false;
	len = be32(b + 1);
	if (len < 4 || len > PG_MAX_MSG)
		return false;
	if (strchr("SHX", b[0]) && types == frontend_types && len != 4)
		return false;
	return true;
}

enum pg_class pg_classify(const uint8_t *b, size_t n)
{
	uint32_t len, code;

	if (n >= 8) {
		len = be32(b);
		code = be32(b + 4);
		if ((code == PG_CODE_SSL || code == PG_CODE_GSSENC) && len == 8)
			return PG_CLASS_STARTUP;
		if (code == PG_CODE_CANCEL && len == 16)
			return PG_CLASS_STARTUP;
		if (code >> 16 == 3 && len >= 8 && len <= PG_MAX_STARTUP)
			return PG_CLASS_STARTUP;
	}
	/* midstream: a Query or Parse whose length fits, or a Bind/Execute/Sync run */
	if (plausible_typed(b, n, frontend_types) && strchr("QPBES", b[0]))
		return PG_CLASS_MIDSTREAM;
	return PG_CLASS_NO;
}

/* ---- statements and portals ----------------------------------------------------------------- */

static struct stmt *stmt_find(struct pg_conn *c, uint64_t name)
{
	for (int i = 0; i < PG_MAX_STATEMENTS; i++)
		if (c->stmts[i].name == name)
			return &c->stmts[i];
	return NULL;
}

static void stmt_put(struct pg_conn *c, uint64_t name, uint64_t fp, enum sql_op op, uint32_t flags)
{
	struct stmt *s = stmt_find(c, name);

	if (!s) { /* a free slot, else the oldest statement makes room */
		s = &c->stmts[0];
		for (int i = 0; i < PG_MAX_STATEMENTS && s->name; i++)
			if (!c->stmts[i].name || c->stmts[i].seq < s->seq)
				s = &c->stmts[i];
	}
	*s = (struct stmt){ .name = name, .fp = fp, .op = (uint8_t)op, .flags = flags, .seq = ++c->seq };
}

static void stmt_drop(struct pg_conn *c, uint64_t name)
{
	struct stmt *s = stmt_find(c, name);

	if (s)
		memset(s, 0, sizeof(*s));
}

static struct portal *portal_slot(struct pg_conn *c, uint64_t name)
{
	for (int i = 0; i < PG_MAX_PORTALS; i++)
		if (c->portals[i].name == name)
			return &c->portals[i];
	for (int i = 0; i < PG_MAX_PORTALS; i++)
		if (!c->portals[i].name)
			return &c->portals[i];
	return &c->portals[name % PG_MAX_PORTALS];
}

/* ---- the queue of queries in flight --------------------------------------------------------- */

static struct pending *head(struct pg_conn *c)
{
	return c->qlen ? &c->q[c->qhead] : NULL;
}

static void pop(struct pg_conn *c)
{
	memset(&c->q[c->qhead], 0, sizeof(c->q[0]));
	c->qhead = (c->qhead + 1) % PG_MAX_PENDING;
	c->qlen--;
}

static struct pending *push(struct pg_conn *c, enum pend_kind kind, const struct meta *m)
{
	bool inflight = false;
	struct pending *p;

	if (c->qlen == PG_MAX_PENDING) {
		c->st.pending_full++;
		return NULL;
	}
	for (unsigned i = 0; i < c->qlen && kind != PEND_SYNC; i++)
		if (c->q[(c->qhead + i) % PG_MAX_PENDING].kind != PEND_SYNC) {
			inflight = true;
			break;
		}
	p = &c->q[(c->qhead + c->qlen++) % PG_MAX_PENDING];
	memset(p, 0, sizeof(*p));
	p->kind = (uint8_t)kind;
	p->q.flags = inflight ? PG_Q_PIPELINED : 0;
	p->q.start_ns = m->ts;
	p->q.tid = m->tid;
	p->q.stack = m->stack;
	return p;
}

static void complete(struct pg_conn *c, struct pending *p, uint64_t ts, uint32_t extra_flags)
{
	p->q.end_ns = ts >= p->q.start_ns ? ts : p->q.start_ns;
	p->q.flags |= extra_flags;
	if (!(p->q.flags & PEND_SILENT) && p->q.fingerprint && c->cb.query)
		c->cb.query(c->ctx, &p->q);
}

static void drop_all(struct pg_conn *c)
{
	while (c->qlen) {
		if (c->q[c->qhead].kind != PEND_SYNC && !(c->q[c->qhead].q.flags & PEND_SILENT))
			c->st.dropped++;
		pop(c);
	}
}

/* ReadyForQuery: the simple query (or the Sync) at the head is done. After a loss of framing,
 * everything in flight finished by now, timings known, outcomes not. */
static void ready(struct pg_conn *c, uint64_t ts, bool resynced)
{
	struct pending *p;

	while ((p = head(c))) {
		if (resynced) {
			if (p->kind != PEND_SYNC)
				complete(c, p, ts, PG_Q_RESYNCED);
			pop(c);
			continue;
		}
		if (p->kind == PEND_SYNC) {
			pop(c);
			return;
		}
		if (p->kind == PEND_SIMPLE) {
			complete(c, p, ts, 0);
			pop(c);
			return;
		}
		/* an Execute the server skipped after an error in its batch */
		if (!(p->q.flags & PEND_SILENT))
			c->st.dropped++;
		pop(c);
	}
}

static uint64_t tag_rows(const char *tag, size_t n)
{
	size_t i = n;
	uint64_t v = 0, mul = 1;

	while (i && tag[i - 1] >= '0' && tag[i - 1] <= '9' && n - i < 19) {
		v += (uint64_t)(tag[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	return i < n && (i == 0 || tag[i - 1] == ' ') ? v : 0;
}

static void error_code(const uint8_t *b, size_t n, char out[6])
{
	struct rd r = { .p = b, .n = n };

	while (!r.bad && r.i < r.n && b[r.i]) {
		uint8_t field = b[r.i++];
		size_t len;
		const char *v = rd_cstr(&r, &len);

		if (v && field == 'C' && len == 5) {
			memcpy(out, v, 5);
			out[5] = 0;
			return;
		}
	}
	memcpy(out, "?????", 6);
}

/* ---- backend messages ----------------------------------------------------------------------- */

static void backend_msg(struct pg_conn *c, struct stream *s)
{
	struct pending *p = head(c);
	uint64_t ts = s->meta.ts;

	switch (s->type) {
	case 'C': {
		size_t n = s->buf_len && s->buf[s->buf_len - 1] == 0 ? s->buf_len - 1 : s->buf_len;
		uint64_t rows = tag_rows((const char *)s->buf, n);

		if (p && p->kind == PEND_SIMPLE) {
			p->q.rows += rows;
		} else if (p && p->kind == PEND_EXEC) {
			p->q.rows = rows;
			complete(c, p, ts, 0);
			pop(c);
		}
		break;
	}
	case 'I':
	case 's':
		if (p && p->kind == PEND_EXEC) {
			complete(c, p, ts, 0);
			pop(c);
		}
		break;
	case 'E':
		if (p && p->kind != PEND_SYNC) {
			p->q.error = true;
			error_code(s->buf, s->buf_len, p->q.sqlstate);
			if (p->kind == PEND_EXEC) {
				complete(c, p, ts, 0);
				pop(c);
			}
		}
		break;
	case 'Z':
		ready(c, ts, false);
		break;
	default:
		break;
	}
}

/* ---- frontend messages ---------------------------------------------------------------------- */

static void describe(struct pg_conn *c, const struct sqlnorm *n)
{
	if (c->cb.statement)
		c->cb.statement(c->ctx, n);
}

static void query_msg(struct pg_conn *c, struct stream *s, bool cut)
{
	static __thread struct sqlnorm n;
	struct pending *p = push(c, PEND_SIMPLE, &s->meta);
	struct stmt *st;

	if (!p)
		return;
	if (sqlnorm((const char *)s->buf, s->buf_len, cut, &n) < 0) {
		p->q.flags |= PEND_SILENT; /* an empty query */
		return;
	}
	p->q.fingerprint = n.fingerprint;
	p->q.params_hash = n.params_hash;
	p->q.op = n.op;
	p->q.flags |= n.truncated ? PG_Q_TRUNCATED : 0;
	switch (n.kind) {
	case SQLNORM_PREPARE:
		stmt_put(c, name_hash(n.name, strlen(n.name)), n.fingerprint, n.op, n.truncated ? PG_Q_TRUNCATED : 0);
		p->q.flags |= PG_Q_PREPARE;
		p->q.params_hash = 0;
		break;
	case SQLNORM_EXECUTE:
		st = stmt_find(c, name_hash(n.name, strlen(n.name)));
		if (st) {
			p->q.fingerprint = st->fp;
			p->q.op = st->op;
			p->q.flags |= PG_Q_PREPARED | st->flags;
			memset(&n, 0, sizeof(n));
			return;
		}
		break;
	case SQLNORM_DEALLOCATE:
		if (n.name[0])
			stmt_drop(c, name_hash(n.name, strlen(n.name)));
		else
			memset(c->stmts, 0, sizeof(c->stmts));
		break;
	default:
		break;
	}
	describe(c, &n);
	memset(&n, 0, sizeof(n));
}

static void parse_msg(struct pg_conn *c, struct stream *s, bool cut)
{
	static __thread struct sqlnorm n;
	struct rd r = { .p = s->buf, .n = s->buf_len };
	const char *name = NULL, *q;
	size_t nlen = 0, qlen = 0;

	name = rd_cstr(&r, &nlen);
	if (!name)
		return;
	q = rd_cstr(&r, &qlen);
	if (!q) { /* the text was cut: normalize what we have */
		q = (const char *)s->buf + r.i;
		qlen = s->buf_len - r.i;
		cut = true;
	}
	if (sqlnorm(q, qlen, cut, &n) < 0)
		return;
	stmt_put(c, name_hash(name, nlen), n.fingerprint, n.op, PG_Q_EXTENDED | (n.truncated ? PG_Q_TRUNCATED : 0));
	describe(c, &n);
	memset(&n, 0, sizeof(n));
}

/* Bind: portal, statement, parameter formats, parameter values (hashed), result formats. */
static void bind_msg(struct pg_conn *c, struct stream *s, bool cut)
{
	struct rd r = { .p = s->buf, .n = s->buf_len };
	const char *portal, *stmt;
	size_t plen = 0, slen = 0;
	uint64_t h = SQLNORM_HASH_SEED;
	uint32_t nfmt, npar;
	struct portal *po;
	struct stmt *st;

	portal = rd_cstr(&r, &plen);
	stmt = portal ? rd_cstr(&r, &slen) : NULL;
	if (!stmt)
		return;
	nfmt = rd_be(&r, 2);
	for (uint32_t i = 0; i < nfmt && !r.bad; i++)
		rd_be(&r, 2);
	npar = rd_be(&r, 2);
	for (uint32_t i = 0; i < npar && !r.bad; i++) {
		uint32_t len = rd_be(&r, 4);

		h = sqlnorm_hash(h, &len, sizeof(len));
		if (len == 0xffffffffu || r.bad)
			continue;
		if (len > r.n - r.i) {
			r.bad = true;
			break;
		}
		h = sqlnorm_hash(h, r.p + r.i, len);
		r.i += len;
	}
	st = stmt_find(c, name_hash(stmt, slen));
	po = portal_slot(c, name_hash(portal, plen));
	*po = (struct portal){ .name = name_hash(portal, plen) };
	if (st) {
		po->fp = st->fp;
		po->op = st->op;
		po->flags = st->flags | PG_Q_EXTENDED;
	}
	if (r.bad || cut)
		po->flags |= PG_Q_NO_PARAMS;
	else
		po->params = npar ? (h ? h : 1) : 0;
}

static void execute_msg(struct pg_conn *c, struct stream *s)
{
	struct rd r = { .p = s->buf, .n = s->buf_len };
	const char *portal;
	size_t plen = 0;
	struct pending *p = push(c, PEND_EXEC, &s->meta);
	struct portal *po;

	if (!p)
		return;
	portal = rd_cstr(&r, &plen);
	po = portal ? portal_slot(c, name_hash(portal, plen)) : NULL;
	if (!po || po->name != name_hash(portal, plen) || !po->fp) {
		c->st.unknown_portal++;
		p->q.flags |= PEND_SILENT;
		return;
	}
	p->q.fingerprint = po->fp;
	p->q.op = po->op;
	p->q.params_hash = po->params;
	p->q.flags |= po->flags;
}

static void close_msg(struct pg_conn *c, struct stream *s)
{
	struct rd r = { .p = s->buf, .n = s->buf_len };
	uint32_t what = rd_be(&r, 1);
	size_t nlen = 0;
	const char *name = rd_cstr(&r, &nlen);
	struct portal *po;

	if (!name)
		return;
	if (what == 'S') {
		stmt_drop(c, name_hash(name, nlen));
	} else if (what == 'P') {
		po = portal_slot(c, name_hash(name, nlen));
		if (po->name == name_hash(name, nlen))
			memset(po, 0, sizeof(*po));
	}
}

static void startup_msg(struct pg_conn *c, struct stream *s)
{
	uint32_t code = s->buf_len >= 4 ? be32(s->buf) : 0;

	if (code == PG_CODE_SSL || code == PG_CODE_GSSENC) {
		c->s[PG_BACKEND].want_byte = true; /* still untyped: a StartupMessage follows an 'N' */
	} else if (code >> 16 == 3) {
		s->untyped = false;
		push(c, PEND_SYNC, &s->meta); /* the first ReadyForQuery ends the startup */
	} else if (code != PG_CODE_CANCEL) {
		s->desync = true; /* protocol 2 or garbage */
		c->st.desyncs[PG_FRONTEND]++;
	}
}

static void frontend_msg(struct pg_conn *c, struct stream *s, bool cut)
{
	struct pending *p;

	switch (s->type) {
	case 'Q':
		query_msg(c, s, cut);
		break;
	case 'P':
		parse_msg(c, s, cut);
		break;
	case 'B':
		bind_msg(c, s, cut);
		break;
	case 'E':
		execute_msg(c, s);
		break;
	case 'S':
		push(c, PEND_SYNC, &s->meta);
		break;
	case 'C':
		close_msg(c, s);
		break;
	case 'F': /* FunctionCall: answered by FunctionCallResponse and ReadyForQuery */
		p = push(c, PEND_SIMPLE, &s->meta);
		if (p)
			p->q.flags |= PEND_SILENT;
		break;
	default:
		break;
	}
}

/* ---- framing -------------------------------------------------------------------------------- */

static uint32_t keep_for(const struct stream *s, enum pg_dir dir)
{
	if (s->untyped)
		return 8;
	if (dir == PG_FRONTEND)
		return strchr("QP", s->type) ? PG_KEEP_QUERY : strchr("BEC", s->type) ? PG_KEEP_OTHER : 0;
	return strchr("CE", s->type) ? 256 : s->type == 'Z' ? 1 : 0;
}

static void reset(struct stream *s)
{
	if (s->buf && s->buf_len)
		memset(s->buf, 0, s->buf_len);
	s->hdr_have = 0;
	s->in_body = s->gap = false;
	s->buf_len = s->body_len = s->body_seen = 0;
}

static void lose_sync(struct pg_conn *c, enum pg_dir dir)
{
	struct stream *s = &c->s[dir];

	reset(s);
	s->desync = true;
	s->untyped = false;
	c->st.desyncs[dir]++;
}

static void finish(struct pg_conn *c, enum pg_dir dir)
{
	struct stream *s = &c->s[dir];
	bool cut = s->gap || s->buf_len < s->body_len;

	c->st.messages[dir]++;
	if (dir == PG_FRONTEND && s->untyped)
		startup_msg(c, s);
	else if (dir == PG_FRONTEND)
		frontend_msg(c, s, cut);
	else
		backend_msg(c, s);
	reset(s);
}

static bool header(struct pg_conn *c, enum pg_dir dir)
{
	struct stream *s = &c->s[dir];
	uint32_t len;

	if (s->untyped) {
		len = be32(s->hdr);
		if (len < 8 || len > PG_MAX_STARTUP)
			return false;
		s->type = 0;
	} else {
		s->type = s->hdr[0];
		len = be32(s->hdr + 1);
		if (!plausible_typed(s->hdr, 5, dir == PG_FRONTEND ? frontend_types : backend_types))
			return false;
	}
	s->in_body = true;
	s->body_len = len - 4;
	s->body_seen = s->buf_len = 0;
	s->keep = keep_for(s, dir);
	if (s->keep > s->buf_cap) {
		uint8_t *b = realloc(s->buf, s->keep);

		if (!b)
			s->keep = s->buf_cap;
		else
			s->buf = b, s->buf_cap = s->keep;
	}
	return true;
}

static void body(struct stream *s, const uint8_t *p, size_t take)
{
	size_t room = s->keep > s->buf_len ? s->keep - s->buf_len : 0;

	if (room && !s->gap) {
		size_t k = take < room ? take : room;

		memcpy(s->buf + s->buf_len, p, k);
		s->buf_len += (uint32_t)k;
	}
	s->body_seen += (uint32_t)take;
}

static void ssl_answer(struct pg_conn *c, uint8_t b)
{
	c->s[PG_BACKEND].want_byte = false;
	if (b == 'S' || b == 'G') {
		c->encrypted = true;
		drop_all(c);
		if (c->cb.encrypted)
			c->cb.encrypted(c->ctx);
	}
	/* 'N': the client goes on in the clear with a StartupMessage */
}

static void feed_bytes(struct pg_conn *c, enum pg_dir dir, const uint8_t *p, size_t n, const struct meta *m)
{
	struct stream *s = &c->s[dir];

	while (n && !s->desync && !c->encrypted) {
		if (!s->in_body) {
			unsigned need = s->untyped ? 4 : 5, take;

			if (dir == PG_BACKEND && s->want_byte && !s->hdr_have && (p[0] == 'S' || p[0] == 'N' || p[0] == 'G')) {
				ssl_answer(c, p[0]);
				p++, n--;
				continue;
			}
			if (!s->hdr_have)
				s->meta = *m;
			take = need - s->hdr_have < n ? need - s->hdr_have : (unsigned)n;
			memcpy(s->hdr + s->hdr_have, p, take);
			s->hdr_have += (uint8_t)take;
			p += take, n -= take;
			if (s->hdr_have < need)
				return;
			if (!header(c, dir)) {
				lose_sync(c, dir);
				return;
			}
		} else {
			size_t left = s->body_len - s->body_seen, take = n < left ? n : left;

			body(s, p, take);
			p += take, n -= take;
		}
		if (s->in_body && s->body_seen == s->body_len)
			finish(c, dir);
	}
}

static void skip_bytes(struct pg_conn *c, enum pg_dir dir, uint64_t n)
{
	struct stream *s = &c->s[dir];

	if (!n || s->desync || c->encrypted)
		return;
	if (!s->in_body || n > (uint64_t)(s->body_len - s->body_seen)) {
		lose_sync(c, dir);
		return;
	}
	s->body_seen += (uint32_t)n;
	s->gap = true;
	if (s->body_seen == s->body_len)
		finish(c, dir);
}

/* A receive that ends with ReadyForQuery ends at a message boundary: framing starts again. */
static void backend_resync(struct pg_conn *c, const struct pg_chunk *ch)
{
	const uint8_t *end = ch->tail_len ? ch->tail + ch->tail_len : ch->head + ch->head_len;
	uint32_t have = ch->tail_len ? ch->tail_len : ch->head_len;
	struct stream *s = &c->s[PG_BACKEND];

	if (!ch->tail_len && ch->head_len != ch->total)
		return;
	if (have < 6 || end[-6] != 'Z' || be32(end - 5) != 5 || !strchr("ITE", end[-1]) || !end[-1])
		return;
	s->desync = false;
	reset(s);
	c->st.resyncs[PG_BACKEND]++;
	ready(c, ch->ts_ns, true);
}

void pg_conn_feed(struct pg_conn *c, enum pg_dir dir, const struct pg_chunk *ch)
{
	struct meta m = { .ts = ch->ts_ns, .stack = ch->stack, .tid = ch->tid };
	struct stream *s = &c->s[dir];
	uint64_t mid = ch->total - ch->head_len - ch->tail_len;

	if (c->encrypted || ch->total < (uint64_t)ch->head_len + ch->tail_len)
		return;
	if (s->desync && dir == PG_FRONTEND && plausible_typed(ch->head, ch->head_len, frontend_types)) {
		s->desync = false;
		reset(s);
		c->st.resyncs[PG_FRONTEND]++;
	}
	feed_bytes(c, dir, ch->head, ch->head_len, &m);
	skip_bytes(c, dir, mid);
	feed_bytes(c, dir, ch->tail, ch->tail_len, &m);
	if (dir == PG_BACKEND && s->desync)
		backend_resync(c, ch);
}

struct pg_conn *pg_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cb = *cb;
	c->ctx = ctx;
	c->s[PG_FRONTEND].untyped = !midstream;
	/* midstream, a response may be half read: wait for a ReadyForQuery at a receive's end */
	c->s[PG_BACKEND].desync = midstream;
	return c;
}

void pg_conn_free(struct pg_conn *c)
{
	if (!c)
		return;
	drop_all(c);
	for (int d = 0; d < 2; d++) {
		if (c->s[d].buf)
			memset(c->s[d].buf, 0, c->s[d].buf_cap);
		free(c->s[d].buf);
	}
	free(c);
}

bool pg_conn_encrypted(const struct pg_conn *c)
{
	return c->encrypted;
}

const struct pg_stats *pg_conn_stats(const struct pg_conn *c)
{
	return &c->st;
}
