"""The "arms" section of `make bench` (registered into bench/run.py's table on import): where the
aiohttp service's on-vs-off loss comes from. Every round runs every arm once, in an order rotated
each round so the VM's slow drift cancels: no daemon, the daemon with its defaults, the daemon with
the app excluded (what the host pays without the app being traced: timers, the syscall path, the
daemon's own CPU), and the daemon with one source turned off at a time. Each arm's loss is taken
against the no-daemon run of its own round; the table gives the median, mean and standard deviation
over the rounds, so a source's share is the drop from "defaults" to "defaults minus it"."""
import os, statistics, subprocess, time

import __main__ as run

ARM_SECONDS = 4
ARMS = {
    "no daemon": None,
    "defaults": (),
    "defaults, the app excluded": ("exclude = cmdline:aio_app\\.py async$",),
    "defaults, CPU sampler at 1 Hz": ("sample_rate_hz = 1",),
    "defaults, loop detection off (loop_stall_ms = 0)": ("loop_stall_ms = 0",),
    "defaults, DB capture off": ("db_capture = false",),
    "defaults, memory off": ("memory_tracking = false",),
}


def app_run_ns(pid):
    """CPU time the app's threads have run so far (schedstat: net of the time the hypervisor stole)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def measure(port, pid):
    """(requests/s, the app's CPU ns per request) of one wrk run."""
    c0 = app_run_ns(pid)
    rps = run.wrk_run(port, ARM_SECONDS)[0]
    return rps, (app_run_ns(pid) - c0) / (rps * ARM_SECONDS)


def arm(port, pid, conf):
    """measure() with no daemon (conf None) or a daemon of conf that is up (and tracks pid unless
    conf excludes it)."""
    if conf is None:
        return measure(port, pid)
    d = run.start_daemon(conf_lines=conf)
    try:
        excluded = any(line.startswith("exclude") for line in conf)
        if not excluded and not run.daemon_tracks(d, pid):
            raise RuntimeError("the daemon did not track the app")
        time.sleep(1)
        return measure(port, pid)
    finally:
        d.terminate()
        d.wait()


@run.section("arms")
def bench_arms(reps):
    app = subprocess.Popen(["taskset", "-c", "0", run.PY, os.path.join(run.ROOT, "tests", "py", "aio_app.py"),
                            "async"], stdout=subprocess.PIPE, text=True)
    # PYROMETER_BENCH_ARMS=0,1,3 runs only those arms (by their place in ARMS; 0 is always run)
    pick = os.environ.get("PYROMETER_BENCH_ARMS")
    names = [n for i, n in enumerate(ARMS) if not pick or i == 0 or str(i) in pick.split(",")]
    losses = {n: [] for n in names if ARMS[n] is not None}
    cpu = {n: [] for n in losses}
    try:
        port = int(app.stdout.readline().split()[1])
        run.wrk_run(port, 2)  # warm up
        for i in range(max(3, reps)):
            order = names[i % len(names):] + names[:i % len(names)]
            got = {n: arm(port, app.pid, ARMS[n]) for n in order}
            for n in losses:
                losses[n].append(1 - got[n][0] / got["no daemon"][0])
                cpu[n].append(got[n][1] / got["no daemon"][1] - 1)
    finally:
        app.kill()
        app.wait()
    rows = []
    for n, xs in losses.items():
        rows.append(dict(name=f"aiohttp under wrk, interleaved arms: {n} vs no daemon: RPS loss", target="reported",
                         result=f"{100 * statistics.median(xs):+.1f} % median (mean {100 * statistics.mean(xs):+.1f}, "
                                f"sd {100 * statistics.stdev(xs):.1f}, {len(xs)} rounds); the app's CPU per request "
                                f"{100 * statistics.median(cpu[n]):+.1f} % (sd {100 * statistics.stdev(cpu[n]):.1f})",
                         ok=True, value=statistics.median(xs)))
    return rows
