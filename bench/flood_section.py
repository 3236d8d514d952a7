"""The "flood" section of `make bench` (registered into bench/run.py's table on import): the daemon
under its busiest stream, the database wire capture. python3.11 processes pipeline PING/GET
commands to a real redis-server on a unix socket (bench/py/flood_redis.py, one send() per command)
for FLOOD_SECONDS, paced to FLOOD_RATE sends + receives per second, then once more flat out; each
send and receive is one ring-buffer record. Reports what was offered, what the daemon streamed and
parsed, the records lost to a full ring, how full the ring got and how long the daemon left it
undrained (its consumer and producer positions, mapped read-only), and the daemon's CPU."""
import ctypes, json, mmap, os, re, statistics, struct, subprocess, sys, threading, time

import __main__ as run

sys.path.insert(0, os.path.join(run.ROOT, "tests", "e2e"))
import lib  # noqa: E402
from test_db import RedisServer  # noqa: E402  the suite's redis-server: unix socket, no persistence

GEN = os.path.join(run.ROOT, "bench", "py", "flood_redis.py")
FLOOD_PROCS = 2          # one process reaches ~100k events/s with the capture on: two leave headroom
FLOOD_RATE = 120000      # events/s offered in all (the target is 0 drops at >= 100k/s)
FLOOD_SECONDS = 10
SERVICE = "flood_redis"  # the service name the daemon gives the generators (their script's name)


def metric(text, name, **labels):
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{([^}]*)\})? (\S+)$", text, re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def counters(d):
    """(records streamed, records lost to a full ring or a full copier queue, commands of the
    generators parsed) so far. /metrics drains the ring buffer first, so every record streamed by
    now has been handled."""
    text = d.get("/metrics").decode()
    return (metric(text, "pyrometer_db_capture_events_total"),
            metric(text, "pyrometer_db_capture_drops_total", reason="ringbuf_full") +
            metric(text, "pyrometer_db_capture_drops_total", reason="queue_full"),
            metric(text, "pyrometer_db_queries_total", service=SERVICE))


def daemon_map(pid, name):
    """bpftool's description of the BPF map called `name` that process pid holds open (found by
    the map ids in its fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                m = re.search(r"^map_id:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    out = subprocess.run(["bpftool", "map", "show", "--json"], capture_output=True, text=True).stdout
    return next(m for m in json.loads(out or "[]") if m["id"] in ids and m.get("name") == name)


class RingWatch:
    """Samples a BPF ring buffer's consumer and producer positions every 2 ms from a thread: the
    peak fill (bytes produced, not yet consumed) and the longest stretch with records waiting while
    the consumer did not move (the daemon's longest gap between drains)."""
    BPF_MAP_GET_FD_BY_ID = 14
    NR_BPF = 321  # x86_64

    def __init__(self, map_id):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(struct.pack("III", map_id, 0, 0), 128)
        fd = libc.syscall(self.NR_BPF, self.BPF_MAP_GET_FD_BY_ID, attr, 128)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "BPF_MAP_GET_FD_BY_ID")
        try:
            page = mmap.PAGESIZE
            self.cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=0)
            self.prod = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        finally:
            os.close(fd)
        self.peak = 0
        self.gap = 0.0
        self.produced = 0  # bytes written into the ring while watched (records and their 8-byte headers)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def positions(self):
        return struct.unpack_from("<Q", self.cons)[0], struct.unpack_from("<Q", self.prod)[0]

    def run(self):
        last_cons, first_prod = self.positions()
        since = time.monotonic()
        while not self.stop_flag.wait(0.002):
            cons, prod = self.positions()
            now = time.monotonic()
            self.peak = max(self.peak, prod - cons)
            if cons != last_cons or prod == cons:
                last_cons, since = cons, now
            else:
                self.gap = max(self.gap, now - since)
            self.produced = prod - first_prod

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()
        self.cons.close()
        self.prod.close()


def tracked(d, pids, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = {p["pid"] for p in d.json("/api/v1/processes")["processes"]}
        if pids <= have:
            return True
        time.sleep(0.2)
    return False


def flood(sock, rate):
    """One flood against a fresh daemon (default configuration): dict of what was offered, streamed,
    parsed and dropped, and the daemon's CPU % over the flood."""
    gens = [subprocess.Popen([run.PY, GEN, sock, str(rate / FLOOD_PROCS), str(FLOOD_SECONDS)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(FLOOD_PROCS)]
    try:
        for g in gens:
            assert g.stdout.readline().strip() == "ready"
        with lib.Daemon() as d:
            if not tracked(d, {g.pid for g in gens}):
                raise RuntimeError(f"the daemon did not track the flood generators: {d.logtext()[-2000:]}")
            time.sleep(1)  # settled: the generators' first scan and probes are done
            rb = daemon_map(d.p.pid, "db_events")
            with RingWatch(rb["id"]) as ring:
                c0, t0 = counters(d), time.monotonic()
                cpu0, _ = run.proc_cpu_rss(d.p.pid)
                for g in gens:
                    g.stdin.write("go\n")
                    g.stdin.flush()
                done = [g.stdout.readline().split() for g in gens]
                cpu1, _ = run.proc_cpu_rss(d.p.pid)
                t1 = time.monotonic()
            c1 = counters(d)
        for g in gens:
            g.stdin.write("\n")
            g.stdin.flush()
    finally:
        for g in gens:
            lib.stop(g)
    secs = max(float(x[4]) for x in done)
    return dict(offered=sum(int(x[1]) + int(x[2]) for x in done) / secs,
                streamed=(c1[0] - c0[0]) / secs, drops=c1[1] - c0[1],
                parsed=c1[2] - c0[2], sent=sum(int(x[3]) for x in done),
                cpu=100 * (cpu1 - cpu0) / (t1 - t0), peak=ring.peak, gap=ring.gap, size=rb["max_entries"],
                record=ring.produced / max(1, c1[0] - c0[0] + c1[1] - c0[1]))


def flood_row(name, target, runs, ok):
    med = statistics.median
    off = [r["offered"] for r in runs]
    parsed, sent = sum(r["parsed"] for r in runs), sum(r["sent"] for r in runs)
    size, record = runs[0]["size"], med(r["record"] for r in runs)
    return dict(name=name, target=target,
                result=f"offered {med(off)/1e3:.0f}k events/s (range {min(off)/1e3:.0f}k-{max(off)/1e3:.0f}k), "
                       f"handled {med(r['streamed'] for r in runs)/1e3:.0f}k/s (streamed host-wide, all drained; "
                       f"{parsed:.0f} of {sent} commands parsed), {sum(r['drops'] for r in runs):.0f} drops (ring or queue full); "
                       f"ring {size/2**20:.0f} MiB = {size/record/med(off):.2f} s of this flood ({record:.0f} B/record), "
                       f"peak fill {max(r['peak'] for r in runs)/2**20:.2f} MiB, longest undrained "
                       f"{1e3*max(r['gap'] for r in runs):.0f} ms; daemon CPU {med(r['cpu'] for r in runs):.1f} % "
                       f"of a core ({len(runs)} runs)",
                ok=ok, value=sum(r["drops"] for r in runs))


@run.section("flood")
def bench_flood(reps):
    reps = max(1, min(reps, 5))
    srv = RedisServer()
    try:
        paced, flat = [], []
        for _ in range(reps):  # interleaved: drift on the host touches both alike
            paced.append(flood(srv.sock, FLOOD_RATE))
            flat.append(flood(srv.sock, 1e9))
    finally:
        srv.stop()
    ok = all(r["drops"] == 0 for r in paced) and statistics.median(r["offered"] for r in paced) >= 1e5
    return [flood_row(f"pyrometerd under a Redis wire flood ({FLOOD_PROCS} python3.11 processes pipelining "
                      f"PING/GET, {FLOOD_SECONDS} s, paced): DB ring-buffer records", "0 drops at >= 100k events/s",
                      paced, ok),
            flood_row(f"same flood, generators flat out (2 cores shared with redis-server and the daemon)",
                      "reported", flat, True)]
