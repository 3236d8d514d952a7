"""The "twins" section of `make bench` (registered into bench/run.py's table on import): each
workload runs as two identical processes at the same time, one traced by the daemon with every
source on and its twin excluded from tracing (`exclude = cmdline:...`), and the roles swap every
round. Both twins live through the same moment of a noisy VM, so the ratio between them is a far
steadier figure than on/off runs taken one after the other; a round with no daemon at all gives
the twins' own asymmetry (the noise floor). What it counts: everything the daemon costs the
traced process (its BPF programs in that process's context, all sources together), so for one
source's target it is an upper bound. What it does not: the daemon's own userspace CPU, which
both twins share (measured in the "daemon" section)."""
import contextlib, os, statistics, subprocess, time

import __main__ as run

TAGS = ("twin-a", "twin-b")
AIO = os.path.join(run.ROOT, "tests", "py", "aio_app.py")
PGLOOP = os.path.join(run.ROOT, "bench", "py", "pgloop.py")
CHURN = os.path.join(run.ROOT, "tests", "py", "memory_work.py")


@contextlib.contextmanager
def twin_daemon(twins, traced, untraced, settle=1):
    """A daemon (defaults: every source on) tracing twins[traced] and excluding twins[untraced] (by its
    last argument), once it does and `settle` seconds later; no daemon when traced is None."""
    if traced is None:
        yield
        return
    d = run.start_daemon(conf_lines=(f"exclude = cmdline:{untraced}$",))
    try:
        if not run.daemon_tracks(d, twins[traced].pid):
            raise RuntimeError(f"the daemon did not track {traced}")
        if run.daemon_tracks(d, twins[untraced].pid, timeout=0.5):
            raise RuntimeError(f"the daemon tracks {untraced}, which it should exclude")
        time.sleep(settle)
        yield
    finally:
        d.terminate()
        d.wait()


def rounds(reps, run_round):
    """[(traced value, untraced value)] per round, roles swapped each round, plus [(a, b)] of a round
    with no daemon after every second one. run_round(traced, untraced) -> {tag: value}, called with
    (None, None) for the rounds without a daemon."""
    paired, control = [], []
    for i in range(reps):
        traced, untraced = TAGS if i % 2 == 0 else TAGS[::-1]
        got = run_round(traced, untraced)
        paired.append((got[traced], got[untraced]))
        if i % 2 == 1:
            got = run_round(None, None)
            control.append((got[TAGS[0]], got[TAGS[1]]))
    return paired, control


def long_lived_rounds(reps, twins, measure):
    """rounds() over twins that live through all of them: a warm-up, then measure() -> {tag: value}
    under each round's daemon; the twins are killed at the end."""
    def run_round(traced, untraced):
        with twin_daemon(twins, traced, untraced):
            return measure()

    try:
        measure()  # warm up
        return rounds(reps, run_round)
    finally:
        for p in twins.values():
            p.kill()
            p.wait()


def row(name, target, limit, paired, control, unit, higher_is_better):
    """The cost of being traced: loss of a rate, or growth of a time."""
    def cost(t, u):
        return 1 - t / u if higher_is_better else t / u - 1
    costs = [cost(t, u) for t, u in paired]
    floor = [abs(cost(a, b)) for a, b in control]
    med, spread = run.median_spread(costs)
    traced = statistics.median(t for t, _ in paired)
    untraced = statistics.median(u for _, u in paired)
    return dict(name=name, target=target,
                result=f"{traced:.{unit[1]}f} vs {untraced:.{unit[1]}f} {unit[0]} ({100 * med:+.1f} %, spread "
                       f"{100 * spread:.1f} pts, {len(costs)} rounds; twins without a daemon differ by "
                       f"{100 * statistics.median(floor):.1f} % median)",
                ok=limit is None or med <= limit, value=med)


# ---- aiohttp under wrk ---------------------------------------------------------------------------

def wrk_start(port, seconds):
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds}s",
                             f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, text=True)


def wrk_rps(p):
    out = p.communicate(timeout=120)[0]
    return float(out.split("Requests/sec:")[1].split()[0])


def http_twins(reps):
    """Two aiohttp apps sharing CPU 0, each under its own wrk (both wrks on CPU 1), at once."""
    apps, ports = {}, {}
    for tag in TAGS:
        apps[tag] = subprocess.Popen(["taskset", "-c", "0", run.PY, AIO, "async", tag], stdout=subprocess.PIPE,
                                     text=True)
        ports[tag] = int(apps[tag].stdout.readline().split()[1])
    def measure():
        ws = {tag: wrk_start(ports[tag], 5) for tag in TAGS}
        return {tag: wrk_rps(w) for tag, w in ws.items()}

    paired, control = long_lived_rounds(reps, apps, measure)
    return row("aiohttp twins under wrk at once (CPU 0 shared), traced vs excluded: RPS", "<= 2 % loss", 0.02,
               paired, control, ("req/s", 0), True)


# ---- psycopg2 loop --------------------------------------------------------------------------------

def pg_twins(reps):
    import db_section
    with db_section.pg.Server() as srv:
        srv.psql("CREATE TABLE author (id int PRIMARY KEY, name text); "
                 "INSERT INTO author SELECT g, 'author ' || g FROM generate_series(1, 1000) g")
        dsn = srv.dsn(unix=True)
        loops = {tag: subprocess.Popen([run.PY, PGLOOP, dsn, "0", "4", tag], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True) for tag in TAGS}
        for p in loops.values():
            assert p.stdout.readline().strip() == "ready"

        def measure():
            for p in loops.values():
                p.stdin.write("go\n")
                p.stdin.flush()
            return {tag: float(p.stdout.readline()) for tag, p in loops.items()}

        paired, control = long_lived_rounds(reps, loops, measure)
    # two loops and their two backends keep both CPUs busy, so this loss is relative to the CPU a
    # query takes (client + server), not to its wall time as in the db section's row with the target
    return row("psycopg2 twins (PK SELECT loops for 4 s at once, unix socket; CPU-bound: loss per CPU of a query), "
               "traced vs excluded: queries/s", "reported", None, paired, control, ("q/s", 0), True)


# ---- allocation-heavy churn ------------------------------------------------------------------------

def churn_start():
    """Both churn twins on CPU 0, waiting for "go": each one's CPU seconds are its own, and neither
    runs on a different (virtual) CPU than its twin, which on these VMs differ by up to 20 %."""
    procs = {tag: subprocess.Popen(["taskset", "-c", "0", run.PY, CHURN, "churn", "3000", "wait", tag],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for tag in TAGS}
    for p in procs.values():
        assert p.stdout.readline().strip() == "ready"
    return procs


def churn_round(traced, untraced):
    """{tag: CPU seconds} of one run of both twins, with a daemon tracing `traced` (None: no daemon).
    The twins are short-lived, so each round starts them, and the daemon tracks them first."""
    procs = churn_start()
    try:
        # GC probes attach 1 s after tracking, then follow the collection rate
        with twin_daemon(procs, traced, untraced, settle=4):
            for p in procs.values():
                p.stdin.write("go\n")
                p.stdin.flush()
            return {tag: float(p.stdout.readline().split()[1]) for tag, p in procs.items()}
    finally:
        for p in procs.values():
            p.wait()


def churn_twins(reps):
    """Two churn benchmarks at once, sharing CPU 0: CPU seconds of each."""
    paired, control = rounds(reps, churn_round)
    return row("allocation-heavy churn twins (sharing CPU 0, at once), traced vs excluded: CPU seconds",
               "<= 1 %", 0.01, paired, control, ("s", 2), False)


@run.section("twins")
def bench_twins(reps):
    reps = max(4, min(reps, 8))
    return [http_twins(reps), pg_twins(reps), churn_twins(reps)]
