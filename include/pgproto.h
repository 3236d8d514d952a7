/* The PostgreSQL wire protocol (v3) as seen from the client side of one connection: a pure
 * reassembly state machine fed with the captured bytes of each send/recv (a head, maybe a tail,
 * and the count of bytes in between that were not captured). It frames messages in both
 * directions, normalizes statements (simple Query, Parse, SQL PREPARE/EXECUTE) through sqlnorm,
 * pairs Execute/Query with CommandComplete/ErrorResponse/ReadyForQuery and reports each finished
 * query with its timing, rows and SQLSTATE. Robust to partial and hostile bytes: unknown framing
 * puts a direction out of sync until a safe point (ReadyForQuery at the end of a receive, a
 * plausible header at the start of a send). Query text is dropped once normalized. */
#ifndef PGPROTO_H
#define PGPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlnorm.h"

#define PG_MAX_PENDING    64    /* queries in flight on one connection (pipelining) */
#define PG_MAX_STATEMENTS 128   /* named prepared statements remembered per connection */
#define PG_MAX_PORTALS    8     /* named portals remembered per connection */
#define PG_KEEP_QUERY     16384 /* query text kept for normalizing (longer ones are cut) */
#define PG_KEEP_OTHER     1024  /* bytes kept of other messages (Bind, ErrorResponse, ...) */

enum pg_dir { PG_FRONTEND = 0, PG_BACKEND = 1 }; /* client -> server, server -> client */

/* What the first bytes a client sent on a socket look like. */
enum pg_class {
	PG_CLASS_NO = 0,     /* not PostgreSQL */
	PG_CLASS_STARTUP,    /* StartupMessage v3, SSLRequest, GSSENCRequest or CancelRequest */
	PG_CLASS_MIDSTREAM,  /* a typed frontend message: a connection opened before we looked */
};

/* One captured transfer. head[0..head_len) are its first bytes, tail[0..tail_len) its last ones,
 * total its size: total - head_len - tail_len bytes in the middle were not captured. */
struct pg_chunk {
	const uint8_t *head, *tail;
	uint32_t head_len, tail_len;
	uint64_t total;
	uint64_t ts_ns;    /* send: when it was handed to the kernel; recv: when it arrived */
	uint32_t tid;
	uint64_t stack;    /* Python stack id at send time (0: none) */
};

#define PG_Q_EXTENDED    0x01 /* Parse/Bind/Execute */
#define PG_Q_PREPARED    0x02 /* SQL EXECUTE of a PREPAREd statement */
#define PG_Q_TRUNCATED   0x04 /* the statement text was cut before normalizing */
#define PG_Q_NO_PARAMS   0x08 /* the parameter bytes were not all seen: params_hash is 0 */
#define PG_Q_PREPARE     0x10 /* a SQL PREPARE (describes the prepared statement, runs nothing) */
#define PG_Q_RESYNCED    0x20 /* completion seen after a loss of framing: rows/SQLSTATE unknown */
#define PG_Q_PIPELINED   0x40 /* sent while an earlier query was in flight: no round trip of its own */

struct pg_query {
	uint64_t fingerprint;  /* sqlnorm fingerprint; the statement callback carried its template */
	uint64_t params_hash;  /* literals (simple) or Bind parameter bytes (extended); 0 = unknown */
	enum sql_op op;
	uint64_t start_ns, end_ns;
	uint64_t rows;         /* from the CommandComplete tags */
	bool error;
	char sqlstate[6];      /* "" unless error */
	uint32_t tid;
	uint64_t stack;
	uint32_t flags;        /* PG_Q_* */
};

struct pg_stats {
	uint64_t messages[2];     /* framed messages per direction */
	uint64_t desyncs[2];      /* losses of framing per direction */
	uint64_t resyncs[2];
	uint64_t unknown_portal;  /* Execute of a statement prepared before we looked */
	uint64_t pending_full;    /* queries dropped because PG_MAX_PENDING were in flight */
	uint64_t dropped;         /* in-flight queries dropped at a resync or the connection's end */
};

struct pg_callbacks {
	/* A statement was described (Query, Parse or PREPARE): n carries its template. */
	void (*statement)(void *ctx, const struct sqlnorm *n);
	/* A query finished. */
	void (*query)(void *ctx, const struct pg_query *q);
	/* The connection switched to TLS or GSSAPI encryption: nothing more can be read. */
	void (*encrypted)(void *ctx);
};

struct pg_conn;

/* Classifies the first bytes a client sent on a socket. */
enum pg_class pg_classify(const uint8_t *b, size_t n);
/* A parser for one connection; midstream: the connection was already past its startup. NULL on
 * ENOMEM. */
struct pg_conn *pg_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream);
/* Frees the parser; queries still in flight are dropped (counted). Accepts NULL. */
void pg_conn_free(struct pg_conn *c);
/* Feeds one transfer in one direction. Never fails: bad bytes only cost sync. */
void pg_conn_feed(struct pg_conn *c, enum pg_dir dir, const struct pg_chunk *ch);
bool pg_conn_encrypted(const struct pg_conn *c);
const struct pg_stats *pg_conn_stats(const struct pg_conn *c);

#endif
