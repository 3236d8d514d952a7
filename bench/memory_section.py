"""The "memory" section of `make bench` (registered into bench/run.py's table on import): an
allocation-heavy Python benchmark (tests/py/memory_work.py churn: dicts, lists, strings, ~7000
collections/s) with the daemon's memory source on vs off (the daemon runs in both, with
memory_tracking = false for off), the same benchmark while `pyrometer alloc` records it, and what
the kernel says the memory programs cost per event."""
import json, os, signal, statistics, subprocess, sys, time, urllib.request

import __main__ as run

WORK = os.path.join(run.ROOT, "tests", "py", "memory_work.py")
ROUNDS = 3000
MEM_PROGS = ("on_rss_stat", "on_gc_enter", "on_gc_exit")


def start_daemon(*conf_lines):
    return run.start_daemon("--scan-interval-seconds", "1", conf_lines=conf_lines)


def stop(d):
    d.terminate()
    d.wait()


def process(d, pid):
    try:
        return json.loads(urllib.request.urlopen(f"{d.url}/api/v1/processes/{pid}", timeout=5).read())
    except OSError:
        return None


def churn(daemon=None, alloc=False, info=None, marks=None, rounds=ROUNDS):
    """CPU seconds of the benchmark's own process (user + system: uprobe traps and BPF programs
    run in its context, other load on the host does not count), timed once the daemon tracks it
    and its GC probes have settled on the busy process (they attach 1 s after tracking, then
    follow the collection rate)."""
    p = subprocess.Popen([run.PY, WORK, "churn", str(rounds), "wait"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    rec = None
    try:
        assert p.stdout.readline().strip() == "ready"
        if daemon:
            deadline = time.monotonic() + 20
            while not process(daemon, p.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(4)
            if info is not None:
                info.append(process(daemon, p.pid))
        if alloc:
            rec = subprocess.Popen([run.CLI, "alloc", "--pid", str(p.pid), "--seconds", "600", "-o", "/dev/null"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            rec.stderr.readline()  # "recording allocations ...": the probes are on
        if marks is not None:
            marks.append((time.monotonic(), prog_stats(MEM_PROGS)))
        p.stdin.write("go\n")
        p.stdin.flush()
        secs = float(p.stdout.readline().split()[1])
        if marks is not None:
            marks.append((time.monotonic(), prog_stats(MEM_PROGS)))
        return secs
    finally:
        if rec:
            rec.send_signal(signal.SIGINT)
            rec.communicate(timeout=60)
        p.wait()


def prog_stats(names, ids=None):
    """{name: (run_cnt, run_time_ns)} summed over loaded programs of those names (of `ids` only,
    when given: other daemons on the host may run the same programs)."""
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout
    got = {}
    for prog in json.loads(out or "[]"):
        if prog.get("name") in names and (ids is None or prog["id"] in ids):
            c, t = got.get(prog["name"], (0, 0))
            got[prog["name"]] = (c + prog.get("run_cnt", 0), t + prog.get("run_time_ns", 0))
    return got


@run.section("memory")
def bench_memory(reps):
    rows = []
    reps = max(3, min(reps, 7))
    on, off, info = [], [], []
    for i in range(reps):
        for enabled in ((True, False) if i % 2 == 0 else (False, True)):
            d = start_daemon(f"memory_tracking = {'true' if enabled else 'false'}")
            try:
                (on if enabled else off).append(churn(d, info=info if enabled else None))
            finally:
                stop(d)
    ratios = [a / b for a, b in zip(on, off)]
    med = statistics.median(ratios)
    spread = max(ratios) - min(ratios)
    gc = next((x["sources"]["memory"]["gc_pauses"] for x in info if x), "?")
    rows.append(dict(name="allocation-heavy benchmark (churn, ~7000 GCs/s), memory source on vs off (slowdown, CPU time)",
                     target="<= 1 %", result=f"{100 * (med - 1):+.2f} % (spread {100 * spread:.2f} pts, {reps} pairs;"
                                             f" GC probes: {gc})", ok=med - 1 <= 0.01, value=med - 1))

    plain, recorded = [], []
    for _ in range(3):  # a tenth of the rounds under alloc: it is that slow
        plain.append(churn(rounds=ROUNDS // 10))
        recorded.append(churn(alloc=True, rounds=ROUNDS // 10))
    slow = statistics.median(r / p for r, p in zip(recorded, plain))
    rows.append(dict(name="same benchmark while `pyrometer alloc` records it (slowdown, CPU time)", target="reported",
                     result=f"{slow:.1f}x ({statistics.median(recorded):.2f} s vs {statistics.median(plain):.2f} s"
                            f" for {ROUNDS // 10} rounds)", ok=True, value=slow))

    # the kernel's own accounting of the memory programs during one benchmark run, and per
    # resident-page change of a process the daemon does not track (a C loop of first touches)
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=False)
    names, marks = MEM_PROGS, []
    before = {p["id"] for p in json.loads(subprocess.run(["bpftool", "prog", "show", "--json"],
                                                         capture_output=True, text=True).stdout or "[]")}
    d = start_daemon()
    try:
        churn(d, marks=marks)
        (t0, s0), (t1, s1) = marks
        mine = {p["id"] for p in json.loads(subprocess.run(["bpftool", "prog", "show", "--json"],
                                                           capture_output=True, text=True).stdout or "[]")} - before
        f0 = prog_stats(("on_rss_stat",), mine)
        faults = subprocess.run([os.path.join(run.BUILD, "tests", "faultloop"), "64", "20"], capture_output=True,
                                text=True, check=True)
        f1 = prog_stats(("on_rss_stat",), mine)
    finally:
        stop(d)
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"], check=False)
    if "on_rss_stat" in f0 and "on_rss_stat" in f1 and f1["on_rss_stat"][0] > f0["on_rss_stat"][0]:
        runs = f1["on_rss_stat"][0] - f0["on_rss_stat"][0]
        per = (f1["on_rss_stat"][1] - f0["on_rss_stat"][1]) / runs
        rows.append(dict(name="on_rss_stat per resident-page change of an untracked process (bpf_stats, incl. "
                              "its own timing)", target="reported",
                         result=f"{per:.0f} ns over {runs} events (a first-touch fault here: {float(faults.stdout):.0f} ns)",
                         ok=True, value=per))
    parts = []
    for n in names:
        if n in s0 and n in s1 and s1[n][0] > s0[n][0]:
            runs = s1[n][0] - s0[n][0]
            parts.append(f"{n} {(s1[n][1] - s0[n][1]) / runs:.0f} ns x {runs / (t1 - t0):.0f}/s")
    rows.append(dict(name="memory BPF programs during the benchmark (bpf_stats): run time x rate, host-wide",
                     target="reported", result=", ".join(parts) or "no runs", ok=bool(parts), value=0))
    return rows
