/* MySQL/MariaDB client protocol reassembly for one connection (include/mysqlproto.h): a packet
 * framer per direction keeping a bounded payload prefix, a connection-phase tracker, a queue of
 * commands in flight and a response state machine. End-of-rows is told from a row by the
 * packet itself (0xfe in a packet under 16 MiB; a legacy EOF is exactly 5 bytes), so it works
 * whether or not CLIENT_DEPRECATE_EOF was negotiated and for connections first seen midstream. */
#include <stdlib.h>
#include <string.h>

#include "mysqlproto.h"

#define MAX_PENDING   64
#define KEEP_COMMAND  16384
#define KEEP_RESPONSE 64
#define MAX_PACKET    0xffffffu /* a payload of this length continues in the next packet */

#define CLIENT_PROTOCOL_41 0x00000200u
#define CLIENT_SSL         0x00000800u
#define MORE_RESULTS       0x0008u

enum { COM_QUIT = 0x01, COM_INIT_DB = 0x02, COM_QUERY = 0x03, COM_PING = 0x0e, COM_STMT_PREPARE = 0x16,
       COM_STMT_EXECUTE = 0x17, COM_STMT_SEND_LONG_DATA = 0x18, COM_STMT_CLOSE = 0x19 };

enum pend_kind { P_QUERY, P_PREPARE, P_EXEC, P_SILENT };
enum resp_state { R_FIRST, R_COLDEFS, R_ROWS, R_SKIP };

struct meta {
	uint64_t ts, stack;
	uint32_t tid;
};

struct mstream {
	uint8_t hdr[4];
	uint8_t hdr_have;
	bool in_body, gap, desync, resync_ok, cont, next_cont;
	uint8_t seq;
	uint32_t len, seen;
	uint8_t *buf;
	uint32_t buf_len, keep, cap;
	struct meta meta;
};

struct pending {
	uint8_t kind;
	struct pg_query q;
};

struct stmt {
	uint32_t id;
	bool used;
	uint8_t op;
	uint64_t fp, seq;
};

struct my_conn {
	struct pg_callbacks cb;
	void *ctx;
	struct mstream s[2];
	bool command_phase, encrypted;
	struct pending q[MAX_PENDING];
	unsigned qhead, qlen;
	enum resp_state rs;
	uint64_t left;        /* column definitions (R_COLDEFS) or prepare definitions (R_SKIP) to go */
	bool coldef_eof, eat_eof;
	struct stmt stmts[MY_MAX_STATEMENTS];
	uint64_t seq;
	struct pg_stats st;
};

static const uint8_t commands[] = { 0x01, 0x02, 0x03, 0x0e, 0x11, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f };

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static bool is_command(uint8_t b)
{
	return memchr(commands, b, sizeof(commands)) != NULL;
}

enum pg_class mysql_classify(const uint8_t *b, size_t n)
{
	uint32_t len;

	if (n < 5)
		return PG_CLASS_NO;
	len = le(b, 3);
	if (b[3] == 1 && len >= 32 && len <= 65536 && n >= 8 && (le(b + 4, 4) & CLIENT_PROTOCOL_41))
		return PG_CLASS_STARTUP;
	if (b[3] == 0 && len >= 1 && len < MAX_PACKET && is_command(b[4]))
		return PG_CLASS_MIDSTREAM;
	return PG_CLASS_NO;
}

/* A length-encoded integer at p[0..n); false if it does not fit. */
static bool lenenc(const uint8_t *p, size_t n, uint64_t *v, size_t *used)
{
	static const unsigned width[] = { 2, 3, 8 };

	if (!n)
		return false;
	if (p[0] < 0xfb) {
		*v = p[0], *used = 1;
		return true;
	}
	if (p[0] < 0xfc || p[0] > 0xfe || n < 1 + width[p[0] - 0xfc])
		return false;
	*used = 1 + width[p[0] - 0xfc];
	*v = 0;
	for (unsigned i = 0; i < width[p[0] - 0xfc]; i++)
		*v |= (uint64_t)p[1 + i] << (8 * i);
	return true;
}

/* ---- statements and the queue --------------------------------------------------------------- */

static struct stmt *stmt_find(struct my_conn *c, uint32_t id)
{
	for (int i = 0; i < MY_MAX_STATEMENTS; i++)
		if (c->stmts[i].used && c->stmts[i].id == id)
			return &c->stmts[i];
	return NULL;
}

static void stmt_put(struct my_conn *c, uint32_t id, uint64_t fp, uint8_t op)
{
	struct stmt *s = stmt_find(c, id);

	if (!s) {
		s = &c->stmts[0];
		for (int i = 0; i < MY_MAX_STATEMENTS && s->used; i++)
			if (!c->stmts[i].used || c->stmts[i].seq < s->seq)
				s = &c->stmts[i];
	}
	*s = (struct stmt){ .id = id, .used = true, .op = op, .fp = fp, .seq = ++c->seq };
}

static struct pending *push(struct my_conn *c, enum pend_kind kind, const struct meta *m)
{
	struct pending *p;

	if (c->qlen == MAX_PENDING) {
		c->st.pending_full++;
		return NULL;
	}
	p = &c->q[(c->qhead + c->qlen++) % MAX_PENDING];
	memset(p, 0, sizeof(*p));
	p->kind = (uint8_t)kind;
	p->q.start_ns = m->ts;
	p->q.tid = m->tid;
	p->q.stack = m->stack;
	p->q.flags = c->qlen > 1 ? PG_Q_PIPELINED : 0;
	if (c->s[PG_BACKEND].desync)
		c->s[PG_BACKEND].resync_ok = true;
	return p;
}

static void finish_head(struct my_conn *c, uint64_t ts)
{
	struct pending *p = &c->q[c->qhead];

	if (!c->qlen)
		return;
	p->q.end_ns = ts >= p->q.start_ns ? ts : p->q.start_ns;
	if (p->kind != P_SILENT && p->q.fingerprint && c->cb.query)
		c->cb.query(c->ctx, &p->q);
	memset(p, 0, sizeof(*p));
	c->qhead = (c->qhead + 1) % MAX_PENDING;
	c->qlen--;
	c->rs = R_FIRST;
}

static void drop_all(struct my_conn *c)
{
	for (unsigned i = 0; i < c->qlen; i++)
		c->st.dropped += c->q[(c->qhead + i) % MAX_PENDING].kind != P_SILENT;
	c->qhead = c->qlen = 0;
	c->rs = R_FIRST;
}

/* ---- frontend ------------------------------------------------------------------------------- */

static void describe(struct my_conn *c, struct pending *p, const uint8_t *sql, size_t n, bool cut)
{
	static __thread struct sqlnorm nm;

	if (sqlnorm_dialect((const char *)sql, n, cut, SQL_DIALECT_MYSQL, &nm) < 0) {
		p->kind = P_SILENT;
		return;
	}
	p->q.fingerprint = nm.fingerprint;
	p->q.op = nm.op;
	p->q.params_hash = nm.params_hash;
	p->q.flags |= nm.truncated ? PG_Q_TRUNCATED : 0;
	if (c->cb.statement)
		c->cb.statement(c->ctx, &nm);
	memset(&nm, 0, sizeof(nm));
}

static void command(struct my_conn *c, struct mstream *s, bool cut)
{
	const uint8_t *b = s->buf;
	uint32_t n = s->buf_len;
	struct pending *p;
	struct stmt *st;

	c->st.messages[PG_FRONTEND]++;
	if (!n || s->seq != 0 || s->cont)
		return; /* auth data, LOCAL INFILE contents, a continuation */
	switch (b[0]) {
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return; /* no response */
	case COM_STMT_CLOSE:
		if (n >= 5 && (st = stmt_find(c, le(b + 1, 4))))
			st->used = false;
		return;
	case COM_QUERY:
		if ((p = push(c, P_QUERY, &s->meta)))
			describe(c, p, b + 1, n - 1, cut);
		return;
	case COM_STMT_PREPARE:
		if ((p = push(c, P_PREPARE, &s->meta))) {
			describe(c, p, b + 1, n - 1, cut);
			p->q.flags |= PG_Q_PREPARE | PG_Q_EXTENDED;
			p->q.params_hash = 0;
		}
		return;
	case COM_STMT_EXECUTE:
		if (!(p = push(c, P_EXEC, &s->meta)))
			return;
		st = n >= 5 ? stmt_find(c, le(b + 1, 4)) : NULL;
		if (!st) {
			c->st.unknown_portal++;
			p->kind = P_SILENT;
			return;
		}
		p->q.fingerprint = st->fp;
		p->q.op = st->op;
		p->q.flags |= PG_Q_EXTENDED;
		if (cut || n < 10)
			p->q.flags |= PG_Q_NO_PARAMS;
		else if (n > 10)
			p->q.params_hash = sqlnorm_hash(SQLNORM_HASH_SEED, b + 10, n - 10) | 1;
		return;
	default:
		if ((p = push(c, P_SILENT, &s->meta)))
			p->q.fingerprint = 0;
		return;
	}
}

/* The connection phase from the client: an SSLRequest turns the connection encrypted. */
static void client_auth(struct my_conn *c, struct mstream *s)
{
	c->st.messages[PG_FRONTEND]++;
	if (s->seq == 1 && s->len == 32 && s->buf_len >= 4 && (le(s->buf, 4) & CLIENT_SSL)) {
		c->encrypted = true;
		drop_all(c);
		if (c->cb.encrypted)
			c->cb.encrypted(c->ctx);
	}
}

/* ---- backend -------------------------------------------------------------------------------- */

/* 0xfe opens a row only in a packet of 16 MiB or more: anything shorter ends the rows. */
static bool end_marker(const struct mstream *s)
{
	return s->buf_len && s->buf[0] == 0xfe && s->len < MAX_PACKET && !s->cont;
}

/* The status flags of an OK (0x00/0xfe header) or EOF packet. */
static uint16_t status_of(const struct mstream *s)
{
	const uint8_t *b = s->buf;
	uint64_t v;
	size_t u1, u2;

	if (s->len == 5 && b[0] == 0xfe)
		return s->buf_len >= 5 ? (uint16_t)le(b + 3, 2) : 0;
	if (!lenenc(b + 1, s->buf_len - 1, &v, &u1) || !lenenc(b + 1 + u1, s->buf_len - 1 - u1, &v, &u2) ||
	    s->buf_len < 1 + u1 + u2 + 2)
		return 0;
	return (uint16_t)le(b + 1 + u1 + u2, 2);
}

static void error_packet(struct my_conn *c, const struct mstream *s)
{
	struct pending *p = c->qlen ? &c->q[c->qhead] : NULL;

	if (!p)
		return;
	p->q.error = true;
	if (s->buf_len >= 9 && s->buf[3] == '#')
		memcpy(p->q.sqlstate, s->buf + 4, 5);
	else
		memcpy(p->q.sqlstate, "HY000", 5);
	p->q.sqlstate[5] = 0;
}

static void first_packet(struct my_conn *c, struct mstream *s)
{
	struct pending *p = &c->q[c->qhead];
	const uint8_t *b = s->buf;
	uint64_t v;
	size_t used;

	if (b[0] == 0xff) {
		error_packet(c, s);
		finish_head(c, s->meta.ts);
	} else if (b[0] == 0x00 && p->kind == P_PREPARE && s->buf_len >= 9) {
		uint64_t nparams = le(b + 7, 2), ncols = le(b + 5, 2);

		stmt_put(c, le(b + 1, 4), p->q.fingerprint, (uint8_t)p->q.op);
		c->left = nparams + ncols;
		if (c->left) {
			c->rs = R_SKIP;
		} else {
			finish_head(c, s->meta.ts);
		}
	} else if (b[0] == 0x00 && s->len >= 7) {
		if (lenenc(b + 1, s->buf_len - 1, &v, &used))
			p->q.rows += v;
		if (!(status_of(s) & MORE_RESULTS))
			finish_head(c, s->meta.ts);
	} else if (b[0] == 0xfb) {
		/* LOCAL INFILE: the client sends the file, then an OK follows */
	} else if (lenenc(b, s->buf_len, &v, &used) && v > 0 && v < 65536) {
		c->rs = R_COLDEFS;
		c->left = v;
		c->coldef_eof = false;
	} else {
		finish_head(c, s->meta.ts);
	}
}

static void response(struct my_conn *c, struct mstream *s)
{
	struct pending *p = &c->q[c->qhead];

	c->st.messages[PG_BACKEND]++;
	if (!s->buf_len)
		return;
	if (c->eat_eof && c->rs == R_FIRST && s->len == 5 && s->buf[0] == 0xfe) {
		c->eat_eof = false; /* the EOF after a PREPARE_OK's definitions */
		return;
	}
	c->eat_eof = false;
	if (!c->qlen)
		return;
	switch (c->rs) {
	case R_FIRST:
		first_packet(c, s);
		break;
	case R_COLDEFS:
		if (!s->cont && --c->left == 0)
			c->rs = R_ROWS;
		break;
	case R_ROWS:
		if (s->buf[0] == 0xff && !s->cont) {
			error_packet(c, s);
			finish_head(c, s->meta.ts);
		} else if (end_marker(s)) {
			/* without CLIENT_DEPRECATE_EOF an EOF also closes the column definitions */
			if (s->len == 5 && !c->coldef_eof && !p->q.rows) {
				c->coldef_eof = true;
				break;
			}
			if (status_of(s) & MORE_RESULTS)
				c->rs = R_FIRST;
			else
				finish_head(c, s->meta.ts);
		} else if (!s->cont) {
			p->q.rows++;
		}
		break;
	case R_SKIP:
		if (s->len == 5 && s->buf[0] == 0xfe)
			break; /* an EOF between the parameter and the column definitions */
		if (--c->left == 0) {
			finish_head(c, s->meta.ts);
			c->eat_eof = true;
		}
		break;
	}
}

static void server_auth(struct my_conn *c, struct mstream *s)
{
	c->st.messages[PG_BACKEND]++;
	if (s->buf_len && s->buf[0] == 0x00 && s->seq >= 2)
		c->command_phase = true;
}

/* ---- framing -------------------------------------------------------------------------------- */

static void reset(struct mstream *s)
{
	if (s->buf_len)
		memset(s->buf, 0, s->buf_len);
	s->hdr_have = 0;
	s->in_body = s->gap = false;
	s->buf_len = s->len = s->seen = 0;
}

static void lose(struct my_conn *c, enum pg_dir dir)
{
	reset(&c->s[dir]);
	c->s[dir].desync = true;
	c->s[dir].resync_ok = false;
	c->s[dir].next_cont = false;
	c->st.desyncs[dir]++;
	if (dir == PG_BACKEND)
		drop_all(c);
}

static void packet(struct my_conn *c, enum pg_dir dir)
{
	struct mstream *s = &c->s[dir];
	bool cut = s->gap || s->buf_len < s->len;

	if (dir == PG_FRONTEND)
		c->command_phase ? command(c, s, cut) : client_auth(c, s);
	else
		c->command_phase ? response(c, s) : server_auth(c, s);
	s->next_cont = s->len == MAX_PACKET;
	reset(s);
}

static bool header(struct my_conn *c, enum pg_dir dir)
{
	struct mstream *s = &c->s[dir];
	uint32_t keep;

	s->len = le(s->hdr, 3);
	s->seq = s->hdr[3];
	s->cont = s->next_cont;
	s->in_body = true;
	s->seen = s->buf_len = 0;
	keep = dir == PG_FRONTEND ? KEEP_COMMAND : KEEP_RESPONSE;
	s->keep = s->len < keep ? s->len : keep;
	if (s->keep > s->cap) {
		uint8_t *b = realloc(s->buf, s->keep);

		if (!b)
			return false;
		s->buf = b;
		s->cap = s->keep;
	}
	return true;
}

static void feed_bytes(struct my_conn *c, enum pg_dir dir, const uint8_t *p, size_t n, const struct meta *m)
{
	struct mstream *s = &c->s[dir];

	while (n && !s->desync && !c->encrypted) {
		if (!s->in_body) {
			size_t want = 4 - (size_t)s->hdr_have, take = want < n ? want : n;

			if (!s->hdr_have)
				s->meta = *m;
			memcpy(s->hdr + s->hdr_have, p, take);
			s->hdr_have += (uint8_t)take;
			p += take, n -= take;
			if (s->hdr_have < 4)
				return;
			if (!header(c, dir)) {
				lose(c, dir);
				return;
			}
		} else {
			size_t left = s->len - s->seen, take = n < left ? n : left, room = s->keep - s->buf_len;

			if (!s->gap && room)
				memcpy(s->buf + s->buf_len, p, take < room ? take : room), s->buf_len += (uint32_t)(take < room ? take : room);
			s->seen += (uint32_t)take;
			p += take, n -= take;
		}
		if (s->in_body && s->seen == s->len)
			packet(c, dir);
	}
}

static void skip_bytes(struct my_conn *c, enum pg_dir dir, uint64_t n)
{
	struct mstream *s = &c->s[dir];

	if (!n || s->desync || c->encrypted)
		return;
	if (!s->in_body || n > (uint64_t)(s->len - s->seen)) {
		lose(c, dir);
		return;
	}
	s->seen += (uint32_t)n;
	s->gap = true;
	if (s->seen == s->len)
		packet(c, dir);
}

void my_conn_feed(struct my_conn *c, enum pg_dir dir, const struct pg_chunk *ch)
{
	struct meta m = { .ts = ch->ts_ns, .stack = ch->stack, .tid = ch->tid };
	struct mstream *s = &c->s[dir];
	uint64_t mid;

	if (c->encrypted || ch->total < (uint64_t)ch->head_len + ch->tail_len)
		return;
	mid = ch->total - ch->head_len - ch->tail_len;
	/* a transfer that starts a command (sequence 0) or its first answer (sequence 1) re-frames */
	if (s->desync && ch->head_len >= 5 &&
	    ((dir == PG_FRONTEND && ch->head[3] == 0 && is_command(ch->head[4])) ||
	     (dir == PG_BACKEND && s->resync_ok && ch->head[3] == 1 && c->qlen))) {
		s->desync = false;
		reset(s);
		c->command_phase = true;
		c->st.resyncs[dir]++;
	}
	feed_bytes(c, dir, ch->head, ch->head_len, &m);
	skip_bytes(c, dir, mid);
	feed_bytes(c, dir, ch->tail, ch->tail_len, &m);
}

struct my_conn *my_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream)
{
	struct my_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cb = *cb;
	c->ctx = ctx;
	c->command_phase = midstream;
	/* midstream, a response may be half read: wait for the answer to a command we saw */
	c->s[PG_BACKEND].desync = midstream;
	return c;
}

void my_conn_free(struct my_conn *c)
{
	if (!c)
		return;
	drop_all(c);
	for (int d = 0; d < 2; d++) {
		if (c->s[d].buf)
			memset(c->s[d].buf, 0, c->s[d].cap);
		free(c->s[d].buf);
	}
	free(c);
}

bool my_conn_encrypted(const struct my_conn *c)
{
	return c->encrypted;
}

const struct pg_stats *my_conn_stats(const struct my_conn *c)
{
	return &c->st;
}
