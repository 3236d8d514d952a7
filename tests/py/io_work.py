"""Known I/O for the io source: after 'go' on stdin, moves exact byte counts over TCP (by
sendall/recv, as Python's socket module does, and by write/read on the descriptors, as libuv does),
UDP, a unix socket pair, a pipe and a file (fsync'd), makes CONNECTS good TCP connects and one to a
closed port, then prints 'done' and idles. Prints 'ready' first."""
import os, socket, sys, tempfile, threading, time

MB = 1 << 20
TCP, TCP_RW, UDP, UNIX, PIPE, FILE, CONNECTS = 3 * MB, 1 * MB, 64 * 1000, 2 * MB, 1 * MB, 4 * MB, 20


def tcp_transfer():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]
    got = []

    def serve():
        conn, _ = srv.accept()
        n = 0
        while n < TCP:
            n += len(conn.recv(65536))
        got.append(n)
        conn.close()
        for _ in range(CONNECTS):  # the short connects below
            srv.accept()[0].close()

    t = threading.Thread(target=serve)
    t.start()
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"t" * TCP)
    c.close()
    for _ in range(CONNECTS):
        socket.create_connection(("127.0.0.1", port)).close()
    t.join()
    return port


def tcp_rw_transfer():
    """TCP_RW bytes by os.write on one end and os.read on the other: read(2)/write(2) on sockets,
    which /proc/PID/io's rchar/wchar count too."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    chunk = b"w" * 16384
    for _ in range(TCP_RW // len(chunk)):
        os.write(c.fileno(), chunk)
        n = 0
        while n < len(chunk):
            n += len(os.read(conn.fileno(), len(chunk) - n))
    for s in (c, conn, srv):
        s.close()


def udp_transfer():
    a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    for _ in range(UDP // 1000):
        a.sendto(b"u" * 1000, b.getsockname())
        b.recv(2000)


def unix_transfer():
    a, b = socket.socketpair()
    chunk = b"x" * 65536
    for _ in range(UNIX // len(chunk)):
        a.sendall(chunk)
        n = 0
        while n < len(chunk):
            n += len(b.recv(65536))


def pipe_transfer():
    r, w = os.pipe()
    chunk = b"p" * 4096
    for _ in range(PIPE // len(chunk)):
        os.write(w, chunk)
        os.read(r, len(chunk))


def file_transfer():
    with tempfile.TemporaryFile(dir="/var/tmp") as f:
        f.write(b"f" * FILE)
        f.flush()
        os.fsync(f.fileno())


def refused_connect():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = s.getsockname()[1]
    s.close()
    try:
        socket.create_connection(("127.0.0.1", port)).close()
    except ConnectionRefusedError:
        pass
    return port


def main():
    print("ready", flush=True)
    sys.stdin.readline()
    port = tcp_transfer()
    tcp_rw_transfer()
    udp_transfer()
    unix_transfer()
    pipe_transfer()
    file_transfer()
    closed = refused_connect()
    print("done", port, closed, flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
