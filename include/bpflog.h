/* Routes libbpf's own log: warnings to stderr, debug chatter only with PYROMETER_BPF_DEBUG=1. */
#ifndef BPFLOG_H
#define BPFLOG_H

void bpflog_init(void);

#endif
