"""Starts short-lived interpreters for tests/e2e/test_churn.py from inside the test's cgroup
(children inherit it, and no per-child preexec hook slows the spawning). Prints 'ready', waits
for a line 'N CONCURRENCY' on stdin, then runs N children, CONCURRENCY at a time: every 10th
burns 0.2 s of CPU, every 5th runs the next interpreter named on the command line (else the
first). Prints 'pid P' for each child as it starts and 'done N FAILED' at the end of a round;
an empty line ends it. Usage: churn_spawner.py INTERP [INTERP...]"""
import subprocess, sys, time

BURN = "import time\nt = time.time()\nwhile time.time() - t < 0.2: pass\n"


def round_(n, concurrency, interps):
    running, started, failed = [], 0, 0
    while started < n or running:
        while started < n and len(running) < concurrency:
            interp = interps[0] if started % 5 or len(interps) == 1 else interps[1 + (started // 5) % (len(interps) - 1)]
            p = subprocess.Popen([interp, "-c", BURN if started % 10 == 3 else "pass"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print("pid", p.pid, flush=True)
            running.append(p)
            started += 1
        still = []
        for p in running:
            if p.poll() is None:
                still.append(p)
            elif p.returncode:
                failed += 1
        running = still
        time.sleep(0.002)
    print("done", n, failed, flush=True)


def main():
    interps = sys.argv[1:]
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        n, c = map(int, line.split())
        round_(n, c, interps)


if __name__ == "__main__":
    main()
