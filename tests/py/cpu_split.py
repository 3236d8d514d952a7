"""CPU ground truth: ~75 % of CPU time in hot_a(), ~25 % in cold_b(), measured by the process's
own CPU clock. Prints 'ready' once running; runs until killed (or argv[1] seconds)."""
import sys, time


def spin():
    x = 0
    for i in range(2000):
        x += i * i
    return x


def hot_a(budget):
    end = time.thread_time() + budget
    while time.thread_time() < end:
        spin()


def cold_b(budget):
    end = time.thread_time() + budget
    while time.thread_time() < end:
        spin()


def main():
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 1e9
    print("ready", flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        hot_a(0.030)
        cold_b(0.010)


main()
