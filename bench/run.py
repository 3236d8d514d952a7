#!/usr/bin/python3
"""`make bench`: overhead and throughput of pyrometer measured side by side in one run.
Every figure is a ratio of interleaved on/off runs (median and spread over REPS pairs), never an
absolute time, because these machines are noisy 2-core VMs. Writes bench/results/latest.{md,json}
and prints the table. Usage: run.py [--reps N] [--only SECTION ...]."""
import argparse, json, os, signal, statistics, subprocess, sys, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("O", "build"))
CLI = os.path.join(BUILD, "pyrometer")
PY = "/usr/bin/python3.11"
RESULTS = os.path.join(ROOT, "bench", "results")
SECTIONS = {}


def section(name):
    def deco(fn):
        SECTIONS[name] = fn
        return fn
    return deco


def median_spread(xs):
    return statistics.median(xs), (max(xs) - min(xs)) if xs else 0.0


def run_kernels(iters, with_record=False, profiler=None):
    """Wall seconds of the CPU kernels. The profiler (with_record: `pyrometer record` at 99 Hz on the
    process; or a callable returning a started Popen/handle to stop) attaches and settles before the
    timed part starts (steady-state overhead)."""
    p = subprocess.Popen([PY, os.path.join(ROOT, "bench", "py", "kernels.py"), str(iters), "wait"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    rec = None
    if with_record:
        rec = subprocess.Popen([CLI, "record", "--pid", str(p.pid), "--rate", "99", "-o", "/dev/null"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    p.stdin.write("go\n")
    p.stdin.flush()
    out = p.stdout.readline()
    p.wait()
    if rec:
        rec.wait(timeout=30)
    return float(out.split()[1])  # the process's CPU seconds: robust to steal time on a VM


def perf_record():
    return subprocess.Popen(["perf", "record", "-F", "99", "-g", "-a", "-o", "/dev/null"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_proc(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


@section("peers")
def bench_peers(reps):
    """The same kernels with no profiler, with pyrometerd (default configuration, whole host) and
    with `perf record -F 99 -g -a`, interleaved."""
    iters, res = 12, {"none": [], "pyrometerd": [], "perf": []}
    for _ in range(reps):
        res["none"].append(run_kernels(iters))
        d = start_daemon()
        time.sleep(2)
        res["pyrometerd"].append(run_kernels(iters))
        stop_proc(d)
        pr = perf_record()
        time.sleep(1)
        res["perf"].append(run_kernels(iters))
        stop_proc(pr)
    rows = []
    for name, target in (("pyrometerd", "<= 0.5 %"), ("perf", "peer")):
        ratios = [on / off for on, off in zip(res[name], res["none"])]
        med, spread = median_spread(ratios)
        rows.append(dict(name=f"CPU kernels with {name} (99 Hz) vs none (slowdown)", target=target,
                         result=f"{100*(med-1):+.2f} % (spread {100*spread:.2f} pts, {reps} pairs)",
                         ok=(med - 1 <= 0.005) if name == "pyrometerd" else True, value=med - 1))
    return rows


@section("cpu")
def bench_cpu(reps):
    rows = []
    iters = 12
    ratios = []
    for i in range(reps):
        if i % 2:  # alternate the order so drift cancels
            on = run_kernels(iters, True)
            off = run_kernels(iters, False)
        else:
            off = run_kernels(iters, False)
            on = run_kernels(iters, True)
        ratios.append(on / off)
    med, spread = median_spread(ratios)
    rows.append(dict(name="CPU kernels, `record` at 99 Hz vs none (slowdown)", target="<= 0.5 %",
                     result=f"{100*(med-1):+.2f} % (spread {100*spread:.2f} pts, {reps} pairs)",
                     ok=med - 1 <= 0.005, value=med - 1))

    # BPF run time per sample, from the kernel's own accounting (BPF_ENABLE_STATS, refcounted)
    p = subprocess.Popen([PY, os.path.join(ROOT, "bench", "py", "kernels.py"), "200", "wait"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    rec = subprocess.Popen([CLI, "record", "--pid", str(p.pid), "--rate", "99", "--duration", "4",
                            "--bpf-stats", "-o", "/dev/null"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    p.stdin.write("go\n")
    p.stdin.flush()
    err = rec.communicate(timeout=60)[1]
    p.kill()
    p.wait()
    import re
    m = re.search(r"on_cpu_sample: (\d+) runs, (\d+) ns", err)
    runs, ns = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    per = ns / runs if runs else float("nan")
    rows.append(dict(name="BPF run time per CPU sample (bpf_stats)", target="reported",
                     result=f"{per/1000:.2f} µs over {runs} samples", ok=runs > 0, value=per))
    return rows


def proc_cpu_rss(pid):
    """(CPU seconds used so far, RSS bytes) of pid from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def start_daemon(*flags, conf_lines=()):
    """pyrometerd on a free loopback port with a config file of conf_lines, once it answers."""
    import socket, tempfile, urllib.request
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("".join(line + "\n" for line in conf_lines))
    conf.close()
    d = subprocess.Popen([os.path.join(BUILD, "pyrometerd"), "--config", conf.name, "--listen",
                          f"127.0.0.1:{port}", *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    d.port = port
    d.url = f"http://127.0.0.1:{port}"
    return d


def daemon_usage(seconds):
    d = start_daemon()
    time.sleep(3)  # settle: start-up scan, first drains
    c0, _ = proc_cpu_rss(d.pid)
    time.sleep(seconds)
    c1, rss = proc_cpu_rss(d.pid)
    d.terminate()
    d.wait()
    return 100 * (c1 - c0) / seconds, rss


@section("daemon")
def bench_daemon(reps):
    rows = []
    for n in (0, 50, 200):
        idle = [subprocess.Popen([PY, "-c", "import time\nwhile True: time.sleep(1)"]) for _ in range(n)]
        try:
            time.sleep(1 + n / 100)
            cpu, rss = daemon_usage(20)
        finally:
            for p in idle:
                p.kill()
        rows.append(dict(name=f"pyrometerd with {n} idle Python processes: CPU",
                         target="<= 1 % of a core" if n == 50 else "reported",
                         result=f"{cpu:.2f} %", ok=cpu <= 1.0 or n != 50, value=cpu))
        rows.append(dict(name=f"pyrometerd with {n} idle Python processes: RSS", target="<= 64 MiB",
                         result=f"{rss/2**20:.1f} MiB", ok=rss <= 64 * 2**20, value=rss))
    busy = [subprocess.Popen([PY, os.path.join(ROOT, "tests", "py", "cpu_split.py")], stdout=subprocess.DEVNULL)
            for _ in range(4)]
    try:
        cpu, rss = daemon_usage(20)
        rows.append(dict(name="pyrometerd with 4 busy Python processes: CPU", target="reported",
                         result=f"{cpu:.2f} %", ok=True, value=cpu))
        rows.append(dict(name="pyrometerd with 4 busy Python processes: RSS", target="<= 64 MiB",
                         result=f"{rss/2**20:.1f} MiB", ok=rss <= 64 * 2**20, value=rss))
    finally:
        for p in busy:
            p.kill()
    return rows


def daemon_tracks(d, pid, timeout=20):
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            procs = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{d.port}/api/v1/processes",
                                                      timeout=5).read())["processes"]
            if any(p["pid"] == pid for p in procs):
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


SYSFLOOR = os.path.join(BUILD, "tests", "sysfloor")
OFFCPUTIME = "/usr/sbin/offcputime"  # libbpf-tools (Debian)


def ns_per_syscall(n=2000000):
    """Median of three timed getppid() loops (a C loop, so only the syscall path is measured)."""
    runs = [float(subprocess.run([SYSFLOOR, "loop", str(n)], capture_output=True, text=True,
                                 check=True, timeout=120).stdout) for _ in range(3)]
    return statistics.median(runs)


def with_floor(fn, mode="pair"):
    """fn() while the empty sys_enter (+ sys_exit) programs are attached."""
    p = subprocess.Popen([SYSFLOOR, "attach", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        return fn()
    finally:
        p.stdin.close()
        p.wait()


def with_daemon(fn, *flags):
    d = start_daemon(*flags)
    try:
        time.sleep(2)  # settled: programs attached, first scan done
        return fn()
    finally:
        d.terminate()
        d.wait()


WRK_SECONDS = 5  # one wrk run of the HTTP rows


def wrk_run(port, seconds=WRK_SECONDS):
    """(requests per second, p99 latency in ms) of wrk against the app, wrk pinned to CPU 1."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    rps = float(out.split("Requests/sec:")[1].split()[0])
    p99 = out.split(" 99%")[1].split()[0]
    unit = 1e-3 if p99.endswith("us") else 1e3 if p99.endswith("s") and not p99.endswith("ms") else 1
    return rps, float(p99.rstrip("mus")) * unit


def prog_ids():
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout
    return {p["id"]: p for p in json.loads(out or "[]")}


def prog_runs(ids):
    """{name: (run_cnt, run_time_ns)} of the given programs now."""
    now = prog_ids()
    return {now[i]["name"]: (now[i].get("run_cnt", 0), now[i].get("run_time_ns", 0)) for i in ids if i in now}


@section("offcpu")
def bench_offcpu(reps):
    """Off-CPU/I-O sources: what syscall tracepoints cost every syscall on the host (pyrometerd vs the
    empty-program floor, wall clock and the kernel's own per-program accounting), and a Python HTTP
    service's throughput and tail latency with the daemon on and, as the peer, with offcputime."""
    rows = []
    reps = max(3, min(reps, 5))
    base, floor, ours, quiet, floor1, loops, no_loop = [], [], [], [], [], [], []
    for _ in range(reps):  # no event loop on the host: the daemon attaches no epoll hook
        b0 = ns_per_syscall()
        no_loop.append(with_daemon(ns_per_syscall) - b0)
    # an idle asyncio app (an epoll instance) alive: the daemons below attach their epoll hooks
    aio = subprocess.Popen([PY, os.path.join(ROOT, "tests", "py", "aio_app.py"), "async"], stdout=subprocess.PIPE,
                           text=True)
    try:
        aio.stdout.readline()
        for _ in range(reps):
            base.append(ns_per_syscall())
            floor.append(with_floor(ns_per_syscall))
            ours.append(with_daemon(ns_per_syscall))
            quiet.append(with_daemon(ns_per_syscall, "--loop-stall-ms", "0", "--db-capture", "false"))
            floor1.append(with_floor(ns_per_syscall, "enter"))
            loops.append(with_daemon(ns_per_syscall, "--db-capture", "false"))
    finally:
        aio.kill()
        aio.wait()
    b = statistics.median(base)
    added_floor = statistics.median(f - b for f in floor)
    added_ours = statistics.median(o - b for o in ours)
    added_quiet = statistics.median(q - b for q in quiet)
    ratio = added_ours / added_floor if added_floor > 0 else float("nan")
    rows.append(dict(name="added ns per syscall: empty sys_enter+sys_exit pair (the floor)", target="reported",
                     result=f"{added_floor:.0f} ns over {b:.0f} ns bare ({reps} rounds)", ok=True, value=added_floor))
    rows.append(dict(name="added ns per syscall: pyrometerd, default config, no event loop on the host (epoll hooks "
                     "not attached)", target="reported",
                     result=f"{statistics.median(no_loop):.0f} ns", ok=True, value=statistics.median(no_loop)))
    rows.append(dict(name="added ns per syscall: pyrometerd, default config (all sources), an asyncio app tracked",
                     target="<= 1.5x the floor", result=f"{added_ours:.0f} ns ({ratio:.2f}x the floor)",
                     ok=ratio <= 1.5, value=ratio))
    rows.append(dict(name="added ns per syscall: pyrometerd, loop_stall_ms=0 db_capture=false (no syscall "
                     "programs)", target="reported", result=f"{added_quiet:.0f} ns", ok=True, value=added_quiet))
    added_floor1 = statistics.median(f - b for f in floor1)
    added_loops = statistics.median(x - b for x in loops)
    ratio1 = added_loops / added_floor1 if added_floor1 > 0 else float("nan")
    rows.append(dict(name="added ns per syscall: pyrometerd, db_capture=false (offcpu's epoll hook on the "
                     "per-syscall tracepoints) vs an empty sys_enter", target="<= 1.5x the floor",
                     result=f"{added_loops:.0f} ns vs {added_floor1:.0f} ns ({ratio1:.2f}x)", ok=ratio1 <= 1.5,
                     value=ratio1))

    # the kernel's accounting of each program per syscall: robust on a noisy host
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
    before = set(prog_ids())
    d = start_daemon()
    fl = subprocess.Popen([SYSFLOOR, "attach", "pair"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert fl.stdout.readline().strip() == "ready"
        time.sleep(2)
        mine = set(prog_ids()) - before
        r0 = prog_runs(mine)
        calls = 3000000
        ns_per_syscall(calls)
        r1 = prog_runs(mine)
    finally:
        fl.stdin.close()
        fl.wait()
        d.terminate()
        d.wait()
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"], check=False)
    # every program that ran during the getppid loop: how often per syscall, and for how long
    ran = {n: (r1[n][0] - r0[n][0], r1[n][1] - r0[n][1]) for n in r1 if n in r0 and r1[n][0] > r0[n][0]}
    ours = sorted(n for n in ran if not n.startswith("floor_"))
    per_call_ours = sum(ran[n][1] for n in ours) / calls
    rows.append(dict(name="BPF programs run during a getppid loop (bpf_stats): runs per syscall x ns per run",
                     target="reported",
                     result=", ".join(f"{n} {ran[n][0] / calls:.2f} x {ran[n][1] / ran[n][0]:.1f} ns"
                                      for n in sorted(ran)) + f"; pyrometerd's total {per_call_ours:.1f} ns/syscall",
                     ok=True, value=per_call_ours))

    return rows + http_rows(reps, added_ours)


def offcputime():
    """libbpf-tools offcputime tracing the whole host (its defaults, output discarded), once its
    sched_switch program is attached."""
    before = set(prog_ids())
    p = subprocess.Popen([OFFCPUTIME], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not any(v.get("name") == "sched_switch" for i, v in prog_ids().items() if i not in before):
        if time.monotonic() > deadline or p.poll() is not None:
            stop_proc(p)
            raise RuntimeError("offcputime did not attach")
        time.sleep(0.1)
    return p


def stop_offcputime(p):
    """SIGINT: offcputime then walks its maps and prints (not timed), then exits."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wrk_alongside(port, pid, what):
    """wrk_run() with nothing, with a fresh daemon that tracks pid, or with offcputime attached."""
    if what == "off":
        return wrk_run(port)
    if what == "offcputime":
        p = offcputime()
        try:
            time.sleep(1)
            return wrk_run(port)
        finally:
            stop_offcputime(p)
    d = start_daemon()
    try:
        daemon_tracks(d, pid)
        time.sleep(1)
        return wrk_run(port)
    finally:
        d.terminate()
        d.wait()


def wrk_rows(label, on, off, target, max_loss=None):
    """RPS loss and p99 ratio of paired (rps, p99) runs with something vs without: medians of the pairs."""
    loss = [1 - n[0] / f[0] for f, n in zip(off, on)]
    p99 = [n[1] / f[1] for f, n in zip(off, on)]
    med, spread = median_spread(loss)
    med99, spread99 = median_spread(p99)
    name = f"aiohttp service under wrk (loopback), {label} vs off"
    return [dict(name=f"{name}: RPS", target=target,
                 result=f"{statistics.median(n[0] for n in on):.0f} vs {statistics.median(f[0] for f in off):.0f}"
                        f" req/s ({100 * med:+.1f} % loss, spread {100 * spread:.1f} pts, {len(loss)} pairs)",
                 ok=max_loss is None or med <= max_loss, value=med),
            dict(name=f"{name}: p99 latency", target="reported",
                 result=f"{statistics.median(n[1] for n in on):.2f} vs {statistics.median(f[1] for f in off):.2f}"
                        f" ms ({med99:.2f}x, spread {spread99:.2f})", ok=True, value=med99)]


def host_busy_ns():
    """CPU time the host spent busy (user, nice, system, irq, softirq over all CPUs) so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) * 1e9 / os.sysconf("SC_CLK_TCK")


ACCOUNTING_WINDOWS = 3


def accounting(window, added_per_syscall, host_ns):
    """What the daemon added to each request in one wrk window with bpf_stats on: its programs' run
    time net of bpf_stats' own cost per run (the empty floor program's run time), its syscall
    tracepoint path, its own CPU; and that as a share of host_ns (the host's CPU per request)."""
    r0, t0, c0, rps, r1, t1, c1 = window
    hooks = []
    for n in ("on_switch", "on_wakeup", "on_epoll_wait", "on_sys_enter", "on_send", "on_recv", "db_send", "db_recv"):
        if n in r0 and n in r1 and r1[n][0] > r0[n][0]:
            runs = r1[n][0] - r0[n][0]
            hooks.append(f"{n} {(r1[n][1] - r0[n][1]) / runs:.0f} ns x {runs / (t1 - t0):.0f}/s")
    reqs = rps * WRK_SECONDS
    empty = (r1["floor_enter"][1] - r0["floor_enter"][1]) / max(1, r1["floor_enter"][0] - r0["floor_enter"][0])
    bpf_ns = sum((r1[n][1] - r0[n][1]) - (r1[n][0] - r0[n][0]) * empty
                 for n in r1 if n in r0 and not n.startswith("floor_")) / reqs
    syscalls = (r1["floor_enter"][0] - r0["floor_enter"][0]) / reqs
    daemon_ns = (c1 - c0) * 1e9 / reqs
    added = bpf_ns + syscalls * max(0.0, added_per_syscall) + daemon_ns
    return dict(hooks=hooks, bpf=bpf_ns, syscalls=syscalls, daemon=daemon_ns, empty=empty, rps=rps, added=added,
                share=added / host_ns)


def http_rows(reps, added_per_syscall):
    """A Python HTTP service (aiohttp on CPU 0) under wrk (CPU 1) on loopback: requests/s and p99 with
    nothing, with the daemon and with libbpf-tools offcputime alongside, interleaved per round; and
    what the daemon adds to each request by the kernel's own accounting."""
    rows = []
    app = subprocess.Popen(["taskset", "-c", "0", PY, os.path.join(ROOT, "tests", "py", "aio_app.py"), "async"],
                           stdout=subprocess.PIPE, text=True)
    try:
        port = int(app.stdout.readline().split()[1])
        wrk_run(port, 2)  # warm up
        wrk = {"off": [], "pyrometerd": [], "offcputime": []}
        busy_per_req = []  # host CPU per request with nothing alongside
        for i in range(reps):
            order = list(wrk)[i % 3:] + list(wrk)[:i % 3]  # rotated each round so drift cancels
            for name in order:
                b0 = host_busy_ns()
                wrk[name].append(wrk_alongside(port, app.pid, name))
                if name == "off":
                    busy_per_req.append((host_busy_ns() - b0) / (wrk[name][-1][0] * WRK_SECONDS))
        # one more run with the kernel's accounting on: what the scheduler hooks cost per event
        # (and the empty sys_enter/sys_exit pair alongside: bpf_stats' own cost per run, and the syscalls)
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
        before = set(prog_ids())
        d = start_daemon()
        fl = subprocess.Popen([SYSFLOOR, "attach", "pair"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert fl.stdout.readline().strip() == "ready"
            daemon_tracks(d, app.pid)
            time.sleep(1)
            mine = set(prog_ids()) - before
            # three windows: these VMs slow down 2x for seconds at a time, so one window can be an outlier
            windows = []
            for _ in range(ACCOUNTING_WINDOWS):
                r0, t0, c0 = prog_runs(mine), time.monotonic(), proc_cpu_rss(d.pid)[0]
                rps = wrk_run(port)[0]
                windows.append((r0, t0, c0, rps, prog_runs(mine), time.monotonic(), proc_cpu_rss(d.pid)[0]))
        finally:
            fl.stdin.close()
            fl.wait()
            d.terminate()
            d.wait()
            subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"], check=False)
        host_ns = statistics.median(busy_per_req)
        shares = [accounting(w, added_per_syscall, host_ns) for w in windows]
        mid = sorted(shares, key=lambda x: x["share"])[len(shares) // 2]
        each = ", ".join(f"{100 * x['share']:.2f}" for x in shares)
        rows.append(dict(name="offcpu/io/pgwire BPF hooks under that load (bpf_stats, the median window): run time x "
                              "rate", target="reported", result=", ".join(mid["hooks"]), ok=True, value=0))
        rows.append(dict(name="aiohttp under wrk: what the daemon adds to each request, by the kernel's accounting "
                              "(its BPF run time net of bpf_stats' own, its syscall tracepoint path, its own CPU) "
                              "vs the host's CPU time per request with no daemon", target="<= 2 %",
                         result=f"{mid['added'] / 1000:.2f} µs = {100 * mid['share']:.2f} % of "
                                f"{host_ns / 1000:.1f} µs (median of {len(shares)} windows: "
                                f"{each} %; BPF {mid['bpf']:.0f} ns, "
                                f"{mid['syscalls']:.1f} syscalls x {added_per_syscall:.0f} ns, daemon "
                                f"{mid['daemon']:.0f} ns; bpf_stats {mid['empty']:.0f} ns/run; {mid['rps']:.0f} req/s)",
                         ok=mid["share"] <= 0.02, value=mid["share"]))
        rows += wrk_rows("daemon on", wrk["pyrometerd"], wrk["off"], "<= 2 % loss", 0.02)
        rows += wrk_rows("libbpf-tools offcputime (whole host) alongside", wrk["offcputime"], wrk["off"], "peer")
    finally:
        app.kill()
        app.wait()
    return rows


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import db_section  # noqa: E402,F401  the "db" section (bench/db_section.py) registers itself
import memory_section  # noqa: E402,F401  the "memory" section (bench/memory_section.py)
import flood_section  # noqa: E402,F401  the "flood" section (bench/flood_section.py)
import twins_section  # noqa: E402,F401  the "twins" section (bench/twins_section.py)
import arms_section  # noqa: E402,F401  the "arms" section (bench/arms_section.py)


def write(rows):
    os.makedirs(RESULTS, exist_ok=True)
    md = ["| benchmark | target | result | met |", "|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['name']} | {r['target']} | {r['result']} | {'yes' if r['ok'] else '**no**'} |")
    text = "\n".join(md) + "\n"
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(dict(time=time.time(), rows=rows), f, indent=1)
    print(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (BPF)")
    rows = []
    for name, fn in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows += fn(args.reps)
    write(rows)


if __name__ == "__main__":
    main()
