"""Long-lived workload of the churn and fault tests (tests/e2e/test_churn.py). Prints 'ready'.
Modes (argv[1]):
  idle          burns ~5 ms of CPU every 100 ms in busy_tick(), so it is sampled but light
  deep N        the same at the bottom of N nested calls (stack reads have work to do)
  exec PATH ARGV0 ARGS...  waits for a line on stdin, then os.execv(PATH, [ARGV0, ARGS...])
                (into /bin/sleep or another interpreter)
  forkstorm N   waits for a line on stdin, forks N children that exit at once, reaps them,
                prints 'done', then idles
Runs on Python 3.6+."""
import os, sys, time


def busy_tick():
    t = time.perf_counter()
    x = 0
    while time.perf_counter() - t < 0.005:
        x += 1
    return x


def idle():
    while True:
        busy_tick()
        time.sleep(0.095)


def deep(n):
    if n == 0:
        idle()
    deep(n - 1)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "idle"
    print("ready", flush=True)
    if mode == "idle":
        idle()
    elif mode == "deep":
        deep(int(sys.argv[2]))
    elif mode == "exec":
        sys.stdin.readline()
        os.execv(sys.argv[2], sys.argv[3:])
    elif mode == "forkstorm":
        sys.stdin.readline()
        n = int(sys.argv[2])
        for _ in range(n):
            if os.fork() == 0:
                os._exit(0)
            # reap as we go so the storm never hits the task limit
            while True:
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
        while True:
            try:
                os.wait()
            except ChildProcessError:
                break
        print("done", flush=True)
        idle()


if __name__ == "__main__":
    main()
