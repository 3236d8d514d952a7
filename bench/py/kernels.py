"""pyperformance-like CPU kernels for `make bench`: recursion, dict/str work, numeric loops.
Usage: kernels.py ITERATIONS [wait] -> prints the wall seconds the kernels took. With "wait" it
warms up, prints "ready" and waits for a line on stdin before the timed part, so a profiler can
attach and settle first."""
import sys, time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def dict_str(n):
    d = {}
    for i in range(n):
        k = "k%d" % (i % 997)
        d[k] = d.get(k, "") [:20] + str(i)
    return len("".join(sorted(d)))


def numeric(n):
    acc = 0.0
    for i in range(1, n):
        acc += (i * 1.0001) ** 0.5 / i
    return acc


def run(iterations):
    for _ in range(iterations):
        fib(20)
        dict_str(20000)
        numeric(60000)


if __name__ == "__main__":
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    run(2)  # warm-up
    if len(sys.argv) > 2 and sys.argv[2] == "wait":
        print("ready", flush=True)
        sys.stdin.readline()
    t0, c0 = time.perf_counter(), time.process_time()
    run(iters)
    # wall seconds, then the process's own CPU seconds (user + system: sampling interrupts and the
    # BPF program run on the sampled thread and are charged to it; steal time on a VM is not)
    print(f"{time.perf_counter() - t0:.6f} {time.process_time() - c0:.6f}")
