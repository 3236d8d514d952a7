/* The MySQL/MariaDB client protocol as seen from the client side of one connection: a pure
 * reassembly state machine with the transfer input, callbacks and query records of the
 * PostgreSQL parser (include/pgproto.h). It follows the connection phase to its OK, then frames
 * commands: COM_QUERY (normalized with the MySQL dialect of sqlnorm), COM_STMT_PREPARE (statement
 * ids learnt from PREPARE_OK), COM_STMT_EXECUTE (parameter bytes hashed), COM_STMT_CLOSE and the
 * simple ones; responses (OK, ERR with SQLSTATE, text and binary result sets with or without
 * EOF packets, multiple results) complete them in order. An SSL request marks the connection
 * encrypted. Unknown framing costs sync until a fresh command starts a transfer. */
#ifndef MYSQLPROTO_H
#define MYSQLPROTO_H

#include "pgproto.h"

#define MY_MAX_STATEMENTS 128 /* prepared statement ids remembered per connection */

struct my_conn;

/* What the first bytes a client sent on a socket look like: a HandshakeResponse41/SSLRequest
 * (PG_CLASS_STARTUP), a command packet (PG_CLASS_MIDSTREAM), or neither. */
enum pg_class mysql_classify(const uint8_t *b, size_t n);
struct my_conn *my_conn_new(const struct pg_callbacks *cb, void *ctx, bool midstream);
void my_conn_free(struct my_conn *c);
void my_conn_feed(struct my_conn *c, enum pg_dir dir, const struct pg_chunk *ch);
bool my_conn_encrypted(const struct my_conn *c);
const struct pg_stats *my_conn_stats(const struct my_conn *c);

#endif
