/* The "io" data source (include/io.h): loads bpf/io.bpf.c (sharing py_procs), and every few
 * seconds folds each tracked process's socket counters and /proc/PID/io into its service's bytes
 * and operations by kind and direction, and the drained TCP peer counters into the service's
 * peers. The only module that touches the io skeleton. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpflog.h"
#include "io.h"
#include "io.skel.h"
#include "service.h"
#include "source.h"

#define POLL_NS (5 * 1000000000ULL)
#define PEERS_PER_SERVICE 32
#define DRAIN_BATCH 256

struct peer {
	char name[64];
	uint64_t connects, failed, connect_ns, connect_max_ns, retransmits, resets_sent, resets_received;
};

struct iosvc {
	char name[SVC_NAME_MAX];
	uint64_t bytes[IO_KINDS][2], ops[IO_KINDS][2];
	struct peer tcp;                        /* totals over every peer */
	uint64_t connect_hist[PM_OFF_HIST_SLOTS];
	struct peer peers[PEERS_PER_SERVICE];
	size_t npeers;
	uint64_t peer_overflow;                 /* peer rows that did not fit (counted in tcp) */
};

struct iopid {
	pid_t pid;
	__u32 slot; /* its pm_proc_cfg.slot: where the kernel counts its socket transfers */
	struct pm_io_proc last;
	struct io_proc_io last_pio;
	bool have_pio;
};

struct io {
	struct engine *e;
	struct io_bpf *skel;
	struct bpf_link *links[6];
	struct iosvc *svcs;
	size_t nsvcs, max_svcs;
	struct iopid *pids;
	size_t npids, pids_cap;
	uint64_t last_poll_ns, dropped_services;
	void *percpu; /* one io_procs value per possible CPU, for reading */
	int ncpus;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- pure helpers --------------------------------------------------------------------------- */

const char *io_kind_name(enum io_kind k)
{
	static const char *const names[IO_KINDS] = { "tcp", "udp", "unix", "socket", "file_pipe", "disk" };

	return (unsigned)k < IO_KINDS ? names[k] : "?";
}

int io_parse_proc_io(const char *text, struct io_proc_io *out)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{ "rchar:", offsetof(struct io_proc_io, rchar) },
		{ "wchar:", offsetof(struct io_proc_io, wchar) },
		{ "syscr:", offsetof(struct io_proc_io, syscr) },
		{ "syscw:", offsetof(struct io_proc_io, syscw) },
		{ "read_bytes:", offsetof(struct io_proc_io, read_bytes) },
		{ "write_bytes:", offsetof(struct io_proc_io, write_bytes) },
	};
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t n = strlen(fields[i].key);
			unsigned long long v;

			if (strncmp(line, fields[i].key, n) || sscanf(line + n, " %llu", &v) != 1)
				continue;
			*(uint64_t *)((char *)out + fields[i].off) = v;
			seen |= 1u << i;
		}
	}
	return seen == (1u << (sizeof(fields) / sizeof(fields[0]))) - 1 ? 0 : -EINVAL;
}

void io_peer_name(unsigned family, const uint8_t *addr, unsigned port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	if (!port)
		snprintf(buf, len, "%s", a);
	else if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

/* ---- tables ---------------------------------------------------------------------------------- */

static struct iosvc *svc_get(struct io *s, const char *name)
{
	for (size_t i = 0; i < s->nsvcs; i++)
		if (!strcmp(s->svcs[i].name, name))
			return &s->svcs[i];
	if (s->nsvcs == s->max_svcs) {
		s->dropped_services++;
		return NULL;
	}
	memset(&s->svcs[s->nsvcs], 0, sizeof(s->svcs[0]));
	snprintf(s->svcs[s->nsvcs].name, sizeof(s->svcs[0].name), "%s", name);
	return &s->svcs[s->nsvcs++];
}

static struct iopid *pid_find(struct io *s, pid_t pid)
{
	for (size_t i = 0; i < s->npids; i++)
		if (s->pids[i].pid == pid)
			return &s->pids[i];
	return NULL;
}

static bool read_proc_io(pid_t pid, struct io_proc_io *out)
{
	char path[64], buf[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return io_parse_proc_io(buf, out) == 0;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The kernel's per-CPU socket counters in a process's slot, summed. A slot is reused: what it
 * holds at tracking time is the baseline (iopid.last), not the new process's. */
static void read_counters(struct io *s, __u32 slot, struct pm_io_proc *sum)
{
	__u32 key = slot;
	const __u64 *cpu;

	*sum = (struct pm_io_proc){ 0 };
	if (bpf_map__lookup_elem(s->skel->maps.io_procs, &key, sizeof(key), s->percpu,
				 s->ncpus * sizeof(struct pm_io_proc), 0))
		return;
	for (int c = 0; c < s->ncpus; c++) {
		__u64 *dst = (__u64 *)sum;

		cpu = (const __u64 *)((const char *)s->percpu + (size_t)c * sizeof(struct pm_io_proc));
		for (size_t i = 0; i < sizeof(*sum) / sizeof(__u64); i++)
			dst[i] += cpu[i];
	}
}

/* Folds what pid did since its last poll into its service. */
static void poll_pid(struct io *s, struct iopid *p)
{
	const char *service = engine_service_of(s->e, p->pid);
	struct pm_io_proc cur = { 0 };
	struct io_proc_io pio;
	struct iosvc *v = service ? svc_get(s, service) : NULL;
	bool have = read_proc_io(p->pid, &pio);

	read_counters(s, p->slot, &cur);
	for (int k = 0; v && k < PM_IO_SOCK_KINDS; k++)
		for (int d = 0; d < 2; d++) {
			v->bytes[k][d] += sub0(cur.bytes[k][d], p->last.bytes[k][d]);
			v->ops[k][d] += sub0(cur.ops[k][d], p->last.ops[k][d]);
		}
	if (v && have && p->have_pio) {
		uint64_t vr = sub0(cur.vfs_bytes[0], p->last.vfs_bytes[0]), vw = sub0(cur.vfs_bytes[1], p->last.vfs_bytes[1]);
		uint64_t or = sub0(cur.vfs_ops[0], p->last.vfs_ops[0]), ow = sub0(cur.vfs_ops[1], p->last.vfs_ops[1]);

		/* rchar/wchar count socket bytes that went through read()/write() too */
		v->bytes[IO_FILE_PIPE][0] += sub0(sub0(pio.rchar, p->last_pio.rchar), vr);
		v->bytes[IO_FILE_PIPE][1] += sub0(sub0(pio.wchar, p->last_pio.wchar), vw);
		v->ops[IO_FILE_PIPE][0] += sub0(sub0(pio.syscr, p->last_pio.syscr), or);
		v->ops[IO_FILE_PIPE][1] += sub0(sub0(pio.syscw, p->last_pio.syscw), ow);
		v->bytes[IO_DISK][0] += sub0(pio.read_bytes, p->last_pio.read_bytes);
		v->bytes[IO_DISK][1] += sub0(pio.write_bytes, p->last_pio.write_bytes);
	}
	p->last = cur;
	if (have) {
		p->last_pio = pio;
		p->have_pio = true;
	}
}

static void peer_add(struct peer *p, const struct pm_tcp_peer_val *v)
{
	p->connects += v->connects;
	p->failed += v->failed;
	p->connect_ns += v->connect_ns;
	if (v->connect_max_ns > p->connect_max_ns)
		p->connect_max_ns = v->connect_max_ns;
	p->retransmits += v->retransmits;
	p->resets_sent += v->resets_sent;
	p->resets_received += v->resets_received;
}

static void on_peer(struct io *s, const struct pm_tcp_peer_key *k, const struct pm_tcp_peer_val *v)
{
	const char *service = engine_service_of(s->e, k->pid);
	struct iosvc *sv = service ? svc_get(s, service) : NULL;
	char name[64];
	size_t i;

	if (!sv)
		return;
	peer_add(&sv->tcp, v);
	for (int b = 0; b < PM_OFF_HIST_SLOTS; b++)
		sv->connect_hist[b] += v->connect_hist[b];
	io_peer_name(k->family, k->addr, k->port, name, sizeof(name));
	for (i = 0; i < sv->npeers && strcmp(sv->peers[i].name, name); i++)
		;
	if (i == sv->npeers) {
		if (sv->npeers == PEERS_PER_SERVICE) {
			sv->peer_overflow++;
			return;
		}
		memset(&sv->peers[i], 0, sizeof(sv->peers[i]));
		snprintf(sv->peers[i].name, sizeof(sv->peers[i].name), "%s", name);
		sv->npeers++;
	}
	peer_add(&sv->peers[i], v);
}

static void drain_peers(struct io *s)
{
	static struct pm_tcp_peer_key keys[DRAIN_BATCH];
	static struct pm_tcp_peer_val vals[DRAIN_BATCH];
	int fd = bpf_map__fd(s->skel->maps.tcp_peers), err;
	struct pm_tcp_peer_key in, out;
	bool first = true;

	for (;;) {
		__u32 n = DRAIN_BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &o);
		if (err && errno != ENOENT)
			return;
		for (__u32 i = 0; i < n; i++)
			on_peer(s, &keys[i], &vals[i]);
		if (err)
			return;
		in = out;
		first = false;
	}
}

static void poll_all(struct io *s)
{
	for (size_t i = 0; i < s->npids; i++)
		poll_pid(s, &s->pids[i]);
	drain_peers(s);
	s->last_poll_ns = mono_ns();
}

/* ---- source hooks ----------------------------------------------------------------------------- */

static void io_stop(void *state)
{
	struct io *s = state;

	if (!s)
		return;
	for (size_t i = 0; i < sizeof(s->links) / sizeof(s->links[0]); i++)
		bpf_link__destroy(s->links[i]);
	io_bpf__destroy(s->skel);
	free(s->svcs);
	free(s->pids);
	free(s->percpu);
	free(s);
}

static int io_start(struct engine *e, const struct engine_opts *o, void **state)
{
	struct io *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->e = e;
	s->max_svcs = o->max_services ? o->max_services : 256;
	s->svcs = calloc(s->max_svcs, sizeof(*s->svcs));
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		err = s->ncpus ? s->ncpus : -EINVAL;
		goto fail;
	}
	s->percpu = calloc((size_t)s->ncpus, sizeof(struct pm_io_proc));
	if (!s->svcs || !s->percpu) {
		err = -ENOMEM;
		goto fail;
	}
	bpflog_init();
	s->skel = io_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto fail;
	}
	err = engine_share_tracked(e, s->skel->obj);
	if (!err)
		err = io_bpf__load(s->skel);
	if (err)
		goto fail;
	{
		struct bpf_program *progs[] = { s->skel->progs.on_send, s->skel->progs.on_recv,
						s->skel->progs.on_state, s->skel->progs.on_retransmit,
						s->skel->progs.on_send_reset, s->skel->progs.on_receive_reset };

		for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
			s->links[i] = bpf_program__attach(progs[i]);
			if (!s->links[i]) {
				err = -errno;
				goto fail;
			}
		}
	}
	s->last_poll_ns = mono_ns();
	*state = s;
	return 0;
fail:
	io_stop(s);
	return err < 0 ? err : -EINVAL;
}

static void io_track(void *state, const struct py_target *t, const char *service)
{
	struct io *s = state;
	struct iopid *p = pid_find(s, t->pid);
	struct pm_proc_cfg cfg;
	__u32 key = t->pid;

	if (p)
		return;
	if (s->npids == s->pids_cap) {
		size_t cap = s->pids_cap ? s->pids_cap * 2 : 64;
		struct iopid *n = realloc(s->pids, cap * sizeof(*n));

		if (!n)
			return;
		s->pids = n;
		s->pids_cap = cap;
	}
	if (bpf_map__lookup_elem(s->skel->maps.py_procs, &key, sizeof(key), &cfg, sizeof(cfg), 0))
		return; /* untracked already */
	p = &s->pids[s->npids++];
	memset(p, 0, sizeof(*p));
	p->pid = t->pid;
	p->slot = cfg.slot;
	/* I/O before tracking belongs to no one (nor what the slot's previous process left): from now */
	read_counters(s, p->slot, &p->last);
	p->have_pio = read_proc_io(t->pid, &p->last_pio);
}

static void io_untrack(void *state, pid_t pid)
{
	struct io *s = state;
	struct iopid *p = pid_find(s, pid);

	if (!p)
		return;
	poll_pid(s, p); /* the socket counters are still in the kernel */
	*p = s->pids[--s->npids];
}

static void io_tick(void *state, uint64_t now)
{
	struct io *s = state;

	if (now - s->last_poll_ns >= POLL_NS)
		poll_all(s);
}

/* ---- exposition --------------------------------------------------------------------------------- */

static const char *const dirs[2] = { "read", "write" };

static int svc_metrics(struct io *s, struct expo *x, int pass)
{
	static double bounds[PM_OFF_HIST_SLOTS - 1];
	int err = 0;

	for (int i = 0; i < PM_OFF_HIST_SLOTS - 1; i++)
		bounds[i] = (double)(2ULL << i) / 1e6;
	for (size_t i = 0; i < s->nsvcs && !err; i++) {
		const struct iosvc *v = &s->svcs[i];
		struct expo_label l[3] = { { "service", v->name }, { "kind", NULL }, { "direction", NULL } };

		switch (pass) {
		case 0:
		case 1:
			for (int k = 0; k < IO_KINDS && !err; k++)
				for (int d = 0; d < 2 && !err; d++) {
					if (pass == 1 && k == IO_DISK)
						continue;
					l[1].value = io_kind_name(k);
					l[2].value = dirs[d];
					err = expo_value_u64(x, l, 3, pass ? v->ops[k][d] : v->bytes[k][d]);
				}
			break;
		case 2:
			l[1] = (struct expo_label){ "result", "ok" };
			err = expo_value_u64(x, l, 2, v->tcp.connects);
			l[1].value = "failed";
			if (!err)
				err = expo_value_u64(x, l, 2, v->tcp.failed);
			break;
		case 3:
			if (v->tcp.connects)
				err = expo_histogram(x, l, 1, bounds, v->connect_hist, PM_OFF_HIST_SLOTS - 1,
						     v->tcp.connect_ns / 1e9);
			break;
		case 4:
			err = expo_value_u64(x, l, 1, v->tcp.retransmits);
			break;
		case 5:
			l[1] = (struct expo_label){ "direction", "sent" };
			err = expo_value_u64(x, l, 2, v->tcp.resets_sent);
			l[1].value = "received";
			if (!err)
				err = expo_value_u64(x, l, 2, v->tcp.resets_received);
			break;
		}
	}
	return err;
}

static int io_metrics(void *state, struct expo *x)
{
	static const struct {
		const char *name;
		enum expo_type type;
		const char *help;
	} fams[] = {
		{ "pyrometer_io_bytes_total", EXPO_COUNTER,
		  "Bytes read and written by kind: sockets from the socket layer, file_pipe from read/write "
		  "on files, pipes and ttys, disk as reached the block layer." },
		{ "pyrometer_io_operations_total", EXPO_COUNTER, "Read and write operations by kind." },
		{ "pyrometer_tcp_connects_total", EXPO_COUNTER, "Outgoing TCP connects, by result." },
		{ "pyrometer_tcp_connect_seconds", EXPO_HISTOGRAM, "Latency of successful outgoing TCP connects." },
		{ "pyrometer_tcp_retransmits_total", EXPO_COUNTER, "TCP segments retransmitted on a service's sockets." },
		{ "pyrometer_tcp_resets_total", EXPO_COUNTER, "TCP resets sent and received on a service's sockets." },
	};
	struct io *s = state;
	int err;

	poll_all(s); /* a scrape sees the counters as they are now */
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		err = expo_family(x, fams[f].name, fams[f].type, fams[f].help);
		if (!err)
			err = svc_metrics(s, x, (int)f);
		if (err)
			return err;
	}
	err = expo_family(x, "pyrometer_io_peer_drops_total", EXPO_COUNTER,
			  "TCP peer rows lost: kernel table full, or past the per-service cap.");
	if (!err) {
		uint64_t n = s->skel->bss->peer_drops;

		for (size_t i = 0; i < s->nsvcs; i++)
			n += s->svcs[i].peer_overflow;
		err = expo_value_u64(x, NULL, 0, n);
	}
	return err;
}

static json_object *peer_json(const struct peer *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "peer", json_object_new_string(p->name));
	json_object_object_add(o, "connects", json_object_new_uint64(p->connects));
	json_object_object_add(o, "failed", json_object_new_uint64(p->failed));
	json_object_object_add(o, "connect_ms_avg",
			       json_object_new_double(p->connects ? p->connect_ns / 1e6 / p->connects : 0));
	json_object_object_add(o, "connect_ms_max", json_object_new_double(p->connect_max_ns / 1e6));
	json_object_object_add(o, "retransmits", json_object_new_uint64(p->retransmits));
	json_object_object_add(o, "resets_sent", json_object_new_uint64(p->resets_sent));
	json_object_object_add(o, "resets_received", json_object_new_uint64(p->resets_received));
	return o;
}

static void io_service_json(void *state, const char *service, json_object *row)
{
	struct io *s = state;
	json_object *o, *bytes, *ops, *tcp, *peers;
	const struct iosvc *v = NULL;

	for (size_t i = 0; i < s->nsvcs && !v; i++)
		if (!strcmp(s->svcs[i].name, service))
			v = &s->svcs[i];
	if (!v)
		return;
	o = json_object_new_object();
	bytes = json_object_new_object();
	ops = json_object_new_object();
	for (int k = 0; k < IO_KINDS; k++) {
		json_object *b = json_object_new_object(), *n = json_object_new_object();

		for (int d = 0; d < 2; d++) {
			json_object_object_add(b, dirs[d], json_object_new_uint64(v->bytes[k][d]));
			json_object_object_add(n, dirs[d], json_object_new_uint64(v->ops[k][d]));
		}
		json_object_object_add(bytes, io_kind_name(k), b);
		if (k != IO_DISK)
			json_object_object_add(ops, io_kind_name(k), n);
		else
			json_object_put(n);
	}
	tcp = peer_json(&v->tcp);
	json_object_object_del(tcp, "peer");
	peers = json_object_new_array();
	for (size_t i = 0; i < v->npeers; i++)
		json_object_array_add(peers, peer_json(&v->peers[i]));
	json_object_object_add(tcp, "peers", peers);
	json_object_object_add(o, "bytes", bytes);
	json_object_object_add(o, "operations", ops);
	json_object_object_add(o, "tcp", tcp);
	json_object_object_add(row, "io", o);
}

static void io_process_json(void *state, pid_t pid, json_object *sources)
{
	struct io *s = state;

	json_object_object_add(sources, "io", json_object_new_boolean(pid_find(s, pid) != NULL));
}

const struct source_ops io_source = {
	.name = "io",
	.start = io_start,
	.stop = io_stop,
	.track = io_track,
	.untrack = io_untrack,
	.tick = io_tick,
	.metrics = io_metrics,
	.service_json = io_service_json,
	.process_json = io_process_json,
};
