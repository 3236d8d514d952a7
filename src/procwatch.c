/* Process lifecycle events: loads bpf/proc.bpf.c and turns its ring-buffer records into callbacks,
 * checking each record's envelope (length, kind) before trusting it. */
#include <errno.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "bpflog.h"
#include "proc.skel.h"
#include "procwatch.h"

struct procwatch {
	struct proc_bpf *skel;
	struct ring_buffer *rb;
	procwatch_fn fn;
	void *ctx;
	uint64_t malformed;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct procwatch *w = ctx;
	const struct pm_proc_event *ev = data;

	if (len < sizeof(*ev) || ev->hdr.len != sizeof(*ev) || ev->hdr.kind < PM_EV_EXEC ||
	    ev->hdr.kind > PM_EV_FORK) {
		w->malformed++;
		return 0;
	}
	w->fn(ev, w->ctx);
	return 0;
}

int procwatch_open(procwatch_fn fn, void *ctx, struct procwatch **out)
{
	struct procwatch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	bpflog_init();
	w->fn = fn;
	w->ctx = ctx;
	w->skel = proc_bpf__open_and_load();
	if (!w->skel) {
		err = -errno;
		goto fail;
	}
	err = proc_bpf__attach(w->skel);
	if (err)
		goto fail;
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.proc_events), on_record, w, NULL);
	if (!w->rb) {
		err = -errno;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	procwatch_close(w);
	return err < 0 ? err : -EINVAL;
}

void procwatch_close(struct procwatch *w)
{
	if (!w)
		return;
	ring_buffer__free(w->rb);
	proc_bpf__destroy(w->skel);
	free(w);
}

int procwatch_poll(struct procwatch *w, int timeout_ms)
{
	int n = ring_buffer__poll(w->rb, timeout_ms);

	return n == -EINTR ? 0 : n;
}

int procwatch_fd(struct procwatch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

uint64_t procwatch_drops(struct procwatch *w)
{
	return w->skel->bss->proc_drops;
}

uint64_t procwatch_malformed(struct procwatch *w)
{
	return w->malformed;
}
