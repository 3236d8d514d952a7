/* The Redis protocol (RESP2 and RESP3) as seen from the client side of one connection: a pure
 * reassembly state machine with the same transfer input, callbacks and query records as the
 * PostgreSQL parser (include/pgproto.h). Commands (arrays of bulk strings, or inline lines) become
 * templates of the command name and '?' per argument ("HGET ? ?"), with the argument bytes only
 * hashed; replies are paired with commands in order (pipelining), nested aggregates, RESP3
 * attributes and push messages included. Unknown framing puts a direction out of sync until a
 * transfer starts a fresh command/reply. */
#ifndef RESPPROTO_H
#define RESPPROTO_H

#include "pgproto.h"

#define RESP_MAX_DEPTH 32 /* nesting of aggregate replies followed; deeper ones desync */

struct resp_conn;

/* Whether the first bytes a client sent look like a RESP command ("*<n>\r\n$"). */
enum pg_class resp_classify(const uint8_t *b, size_t n);
/* Describes a command by name and argument count: template, fingerprint, operation (READ or
 * WRITE for known commands). Exposed for tests. */
void resp_describe(const char *name, size_t len, unsigned nargs, struct sqlnorm *out);
struct resp_conn *resp_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream);
void resp_conn_free(struct resp_conn *c);
void resp_conn_feed(struct resp_conn *c, enum pg_dir dir, const struct pg_chunk *ch);
const struct pg_stats *resp_conn_stats(const struct resp_conn *c);

#endif
