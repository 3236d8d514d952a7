"""Memory workloads for tests/e2e/test_memory.py and bench/run.py. Usage: memory_work.py MODE [ARG]
  leak       keeps 10 KB per call in a dict that is never evicted (remember_request), ~100 calls/s
  stable     the same work, but the dict keeps only the last 100 entries (handle_request)
  bigread F  reads all of file F at once in load_everything() every few seconds, holding it briefly
  cycles     builds many short-lived reference cycles (make_cycles): the collector works hard
  twosites   allocates at two sites, 2000 B vs 1000 B objects in equal numbers (site_big, site_small)
  churn N [wait]  allocation-heavy benchmark: N rounds of dicts, lists, strings, tuples; prints
             "WALL CPU" seconds. With wait it keeps churning (untimed) until a line arrives on
             stdin, so whatever watches it settles on a busy process, then times N rounds
Prints 'ready' once set up, then runs until killed (churn: until done)."""
import gc, os, sys, time

CACHE = {}
RECENT = {}


def remember_request(i):
    CACHE[i] = b"x" * 10240  # never evicted: grows forever


def handle_request(i):
    RECENT[i % 100] = b"x" * 10240  # bounded


def paced(fn):
    i = 0
    while True:
        fn(i)
        i += 1
        if i % 10 == 0:
            time.sleep(0.1)


def load_everything(path):
    with open(path, "rb") as f:
        data = f.read()
    return len(data)


def bigread(path):
    while True:
        load_everything(path)
        time.sleep(3)


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def make_cycles(n):
    for _ in range(n):
        root = Node()
        for _ in range(5):
            Node(root)


def cycles():
    while True:
        make_cycles(1000)


def site_big(keep, n=2000):
    for _ in range(50):
        keep.append(b"a" * n)  # n is not a constant: the compiler cannot fold it


def site_small(keep, n=1000):
    for _ in range(50):
        keep.append(b"b" * n)


def twosites():
    while True:
        keep = []
        site_big(keep)
        site_small(keep)
        time.sleep(0.0005)


def churn_round():
    rows = [{"id": i, "name": "user%d" % i, "tags": ["a", "b", str(i)]} for i in range(2000)]
    index = {r["name"]: r for r in rows}
    pairs = [(r["id"], len(r["tags"])) for r in index.values()]
    text = ",".join(r["name"] for r in rows)
    return len(pairs) + len(text.split(","))


def churn(rounds):
    t, c = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        churn_round()
    return time.perf_counter() - t, time.process_time() - c


def churn_until_stdin():
    import select
    while not select.select([sys.stdin], [], [], 0)[0]:
        churn_round()
    sys.stdin.readline()


def main():
    mode = sys.argv[1]
    if mode == "churn":
        rounds = int(sys.argv[2])
        print("ready", flush=True)
        if len(sys.argv) > 3 and sys.argv[3] == "wait":
            churn_until_stdin()
        print("%.6f %.6f" % churn(rounds), flush=True)
        return
    print("ready", os.getpid(), flush=True)
    if mode == "leak":
        paced(remember_request)
    elif mode == "stable":
        paced(handle_request)
    elif mode == "bigread":
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 2)
        bigread(sys.argv[2])
    elif mode == "cycles":
        cycles()
    elif mode == "twosites":
        twosites()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
