/* I/O accounting, the "io" data source (bpf/io.bpf.c + src/io.c): bytes and operations per service
 * by kind (TCP, UDP, unix and other sockets exactly, from the socket layer's tracepoints; regular
 * files and pipes from /proc/PID/io minus the socket bytes that went through read/write; disk from
 * the block-layer bytes /proc/PID/io reports) and direction, plus TCP peers (connect latency,
 * failures, retransmits, resets). No syscall tracepoints. Pure helpers are exposed for tests. */
#ifndef IO_H
#define IO_H

#include <stddef.h>
#include <stdint.h>

struct source_ops;
extern const struct source_ops io_source;

enum io_kind {
	IO_TCP = 0,
	IO_UDP,
	IO_UNIX,
	IO_SOCKET, /* other socket families */
	IO_FILE_PIPE, /* read/write on regular files, pipes and ttys */
	IO_DISK,      /* bytes that reached the block layer (no operation counts) */
	IO_KINDS,
};

/* "tcp", "udp", "unix", "socket", "file_pipe", "disk". */
const char *io_kind_name(enum io_kind k);

/* The counters of /proc/PID/io. */
struct io_proc_io {
	uint64_t rchar, wchar, syscr, syscw, read_bytes, write_bytes;
};
/* Parses the text of /proc/PID/io. Returns 0, or -EINVAL when a counter is missing. */
int io_parse_proc_io(const char *text, struct io_proc_io *out);

/* "10.1.2.3:5432", "[::1]:8080", or without ":port" when port is 0 (an inbound peer). family is
 * AF_INET or AF_INET6, addr its 4 or 16 bytes (network order). */
void io_peer_name(unsigned family, const uint8_t *addr, unsigned port, char *buf, size_t len);

#endif
