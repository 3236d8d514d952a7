"""Workloads with a known place where their time goes, one per verdict (argv[1] picks it):
cpu (a pure-Python loop), fsync (a direct write + fsync loop), net PORT (a client waiting on a slow TCP
server), lock (threads contending on one lock), hog (a CPU loop; run three pinned to one CPU),
sleep (a sleeper), mixio (short sleeps and pipe round trips, for the offcputime comparison),
gil (two threads in a CPU loop, taking turns on the GIL, while the main thread sleeps).
Prints 'ready' once running; runs until killed."""
import mmap, os, socket, sys, tempfile, threading, time


def spin_cpu():
    x = 0
    while True:
        for i in range(10000):
            x += i * i
        x &= 0xffff


def write_synced(path):
    """A write + fsync loop whose writes are 16 MiB and direct: the thread waits on the device (~90 %
    of each round on these VMs, whose disks absorb a 4 KiB write + fsync in 0.1 ms) and copies nothing
    through the page cache. Falls back to buffered 4 KiB writes + fsync where O_DIRECT is refused."""
    size = 16 << 20
    try:
        fd, direct = os.open(path, os.O_WRONLY | os.O_DIRECT), True
    except OSError:
        fd, direct = os.open(path, os.O_WRONLY), False
    os.unlink(path)  # nothing is left behind when the workload is killed
    while not direct:
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
    buf = mmap.mmap(-1, size)  # page-aligned, as O_DIRECT wants
    buf.write(b"x" * size)
    while True:
        for i in range(4):
            os.pwrite(fd, buf, i * size)
            os.fsync(fd)


def wait_for_server(port):
    while True:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"ping\n")
            while s.recv(4096):
                pass


def contend(lock):
    while True:
        with lock:
            end = time.thread_time() + 0.0005
            while time.thread_time() < end:
                pass
            time.sleep(0.002)


def hog():
    x = 0
    while True:
        x = (x * 31 + 7) & 0xffffffff


def nap():
    while True:
        time.sleep(0.2)


def pipe_round_trips():
    r, w = os.pipe()
    r2, w2 = os.pipe()

    def echo():
        while True:
            os.write(w2, os.read(r, 1))

    threading.Thread(target=echo, daemon=True).start()
    while True:
        for _ in range(50):
            os.write(w, b"x")
            os.read(r2, 1)
        time.sleep(0.005)


def main():
    mode = sys.argv[1]
    if mode == "cpu":
        target, args = spin_cpu, ()
    elif mode == "fsync":
        fd, path = tempfile.mkstemp(prefix="pyrometer-fsync-", dir="/var/tmp")
        os.close(fd)
        target, args = write_synced, (path,)
    elif mode == "net":
        target, args = wait_for_server, (int(sys.argv[2]),)
    elif mode == "lock":
        lock = threading.Lock()
        for _ in range(3):
            threading.Thread(target=contend, args=(lock,), daemon=True).start()
        target, args = contend, (lock,)
    elif mode == "hog":
        target, args = hog, ()
    elif mode == "sleep":
        target, args = nap, ()
    elif mode == "mixio":
        target, args = pipe_round_trips, ()
    elif mode == "gil":
        for _ in range(2):
            threading.Thread(target=spin_cpu, daemon=True).start()
        target, args = nap, ()
    else:
        sys.exit(f"unknown mode {mode}")
    print("ready", os.getpid(), flush=True)
    target(*args)


if __name__ == "__main__":
    main()
