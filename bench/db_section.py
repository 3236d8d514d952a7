"""The "db" section of `make bench` (registered into bench/run.py's table on import): parser and
normalizer throughput on one core, a psycopg2 loop with the capture on vs off (the daemon runs in
both; --db-capture false for off), the same loop with the capture switched on and off by SIGHUP
every second, and the kernel-measured time of the capture programs."""
import json, os, re, signal, statistics, subprocess, sys, time, urllib.request

import __main__ as run

sys.path.insert(0, os.path.join(run.ROOT, "tests", "e2e"))
import lib  # noqa: E402
import pg  # noqa: E402


def prog_stats(name):
    """(run_cnt, run_time_ns) summed over loaded BPF programs called `name` (kernel bpf_stats)."""
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout
    progs = [p for p in json.loads(out or "[]") if p.get("name") == name]
    return sum(p.get("run_cnt", 0) for p in progs), sum(p.get("run_time_ns", 0) for p in progs)


def tracks(d, pid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p["pid"] == pid for p in d.json("/api/v1/processes")["processes"]):
            return True
        time.sleep(0.2)
    return False


def pg_loop(dsn, n, daemon=None):
    """Wall seconds of n psycopg2 primary-key SELECTs, once the daemon (if any) tracks the loop."""
    p = subprocess.Popen([run.PY, os.path.join(run.ROOT, "bench", "py", "pgloop.py"), dsn, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        if daemon:
            tracks(daemon, p.pid)
            time.sleep(0.5)
        p.stdin.write("go\n")
        p.stdin.flush()
        return float(p.stdout.readline())
    finally:
        p.kill()
        p.wait()


def median_ci(xs, rounds=2000):
    """95 % bootstrap interval of the median of xs."""
    import random
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(rounds))
    return meds[int(0.025 * rounds)], meds[int(0.975 * rounds)]


def set_capture(d, on):
    """db_capture on or off by a reload, once /metrics says it applied."""
    with open(d.config, "w") as f:
        f.write("" if on else "db_capture = false\n")
    d.p.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not re.search(rf"^pyrometer_db_capture_enabled {int(on)}$", d.get("/metrics").decode(), re.M):
        assert time.monotonic() < deadline, "the reload did not apply"
        time.sleep(0.02)


def toggled_loop(dsn, pairs, window=0.25):
    """One psycopg2 loop under one daemon whose capture a reload switches on and off (hooks attached
    or detached) every window seconds, in ABBA order: adjacent windows share the host's state, so
    the pairs' ratios see far less of its drift than separate runs. Returns [(on q/s, off q/s)]."""
    p = subprocess.Popen([run.PY, os.path.join(run.ROOT, "bench", "py", "pgloop.py"), dsn, "0", str(window)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = []
    try:
        assert p.stdout.readline().strip() == "ready"
        with lib.Daemon() as d:
            tracks(d, p.pid)
            for i in range(pairs):
                got = {}
                for on in ((True, False) if i % 2 == 0 else (False, True)):
                    set_capture(d, on)
                    p.stdin.write("go\n")
                    p.stdin.flush()
                    got[on] = float(p.stdout.readline())
                out.append((got[True], got[False]))
    finally:
        p.kill()
        p.wait()
    return out


class BpfStats:
    """kernel.bpf_stats_enabled on for the block, as it was after."""

    def __enter__(self):
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            self.was = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")

    def __exit__(self, *exc):
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(self.was)


@run.section("db")
def bench_db(reps):
    rows = []
    out = subprocess.run([os.path.join(run.BUILD, "tests", "dbparse_bench"), "2"], capture_output=True,
                         text=True, check=True).stdout
    qps = {k: float(v) for k, v in (line.split() for line in out.splitlines())}
    rows.append(dict(name="SQL normalizer throughput (sqlnorm, ORM-shaped statements)", target="reported",
                     result=f"{qps['sqlnorm']/1e6:.2f} M queries/s/core", ok=True, value=qps["sqlnorm"]))
    rows.append(dict(name="PostgreSQL wire parser throughput (pgproto, query + 5-message answer)",
                     target=">= 100 k queries/s/core", result=f"{qps['pgproto']/1e6:.2f} M queries/s/core",
                     ok=qps["pgproto"] >= 1e5, value=qps["pgproto"]))
    n, pairs = 20000, max(3, min(reps, 7))
    on, off, per_call, per_query, net_query = [], [], [], [], []
    with pg.Server() as srv:
        srv.psql("CREATE TABLE author (id int PRIMARY KEY, name text); "
                 "INSERT INTO author SELECT g, 'author ' || g FROM generate_series(1, 1000) g")
        dsn = srv.dsn(unix=True)
        pg_loop(dsn, 2000)  # warm the server
        for _ in range(pairs):
            with lib.Daemon("--db-capture", "false") as d:
                off.append(pg_loop(dsn, n, d))
            with lib.Daemon() as d:
                on.append(pg_loop(dsn, n, d))
        toggled = toggled_loop(dsn, 40 * reps)
        # the kernel's own accounting, in runs of their own: bpf_stats slows every BPF program
        # the kernel's own accounting, in runs of their own: bpf_stats slows every BPF program by two
        # clock reads, which the empty programs of tests/sysfloor measure alongside
        empty = []
        for _ in range(3):
            with lib.Daemon() as d, BpfStats():
                def measured():
                    c0 = [prog_stats(x) for x in ("db_send", "db_recv", "floor_enter")]
                    pg_loop(dsn, n, d)
                    return c0, [prog_stats(x) for x in ("db_send", "db_recv", "floor_enter")]
                c0, c1 = run.with_floor(measured)
            runs = sum(b[0] - a[0] for a, b in zip(c0[:2], c1[:2]))
            ns = sum(b[1] - a[1] for a, b in zip(c0[:2], c1[:2]))
            if runs and c1[2][0] > c0[2][0]:
                per_call.append(ns / runs)
                per_query.append(ns / n)
                empty.append((c1[2][1] - c0[2][1]) / (c1[2][0] - c0[2][0]))
                net_query.append((ns - runs * empty[-1]) / n)
    ratios = [a / b for a, b in zip(on, off)]
    med, spread = run.median_spread(ratios)
    best = min(on) / min(off)
    rows.append(dict(name=f"psycopg2 loop of {n} PK SELECTs (unix socket), capture on vs off (slowdown)",
                     target="<= 3 %", result=f"{100*(med-1):+.2f} % median, {100*(best-1):+.2f} % best-of "
                     f"(spread {100*spread:.2f} pts, {statistics.median(off)*1e6/n:.0f} µs/query off, "
                     f"{len(ratios)} pairs)", ok=med - 1 <= 0.03, value=med - 1))
    slow = [off / on - 1 for on, off in toggled]
    tmed, tspread = run.median_spread(slow)
    lo, hi = median_ci(slow)
    rows.append(dict(name="same loop, capture switched on/off by SIGHUP under one daemon (ABBA pairs of "
                          "0.25 s windows; slowdown)", target="<= 3 %",
                     result=f"{100*tmed:+.2f} % median (95 % interval {100*lo:+.2f} .. {100*hi:+.2f} %, bootstrap; "
                            f"spread {100*tspread:.1f} pts, {statistics.median(o for _, o in toggled):.0f} q/s off, "
                            f"{len(slow)} pairs)", ok=tmed <= 0.03, value=tmed))
    if per_call:
        rows.append(dict(name="capture BPF time per socket transfer on the whole host (sock_send_length+sock_recv_length)",
                         target="reported", result=f"{statistics.median(per_call):.0f} ns", ok=True,
                         value=statistics.median(per_call)))
        rows.append(dict(name="capture BPF time per query of the loop (host total / queries, upper bound)",
                         target="reported", result=f"{statistics.median(per_query)/1000:.2f} µs", ok=True,
                         value=statistics.median(per_query)))
        # the query time of the toggled loop's capture-off windows: many more samples than the pairs
        net, query_ns = statistics.median(net_query), 1e9 / statistics.median(o for _, o in toggled)
        rows.append(dict(name="same, less bpf_stats' own cost per run (an empty program's run time alongside), "
                              "as a share of the query time", target="reported",
                         result=f"{net/1000:.2f} µs = {100*net/query_ns:.2f} % of {query_ns/1000:.0f} µs/query "
                                f"(accounting {statistics.median(empty):.0f} ns per run)", ok=True, value=net))
    return rows
