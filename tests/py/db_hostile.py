"""Hostile PostgreSQL peers for the database tests. Usage: db_hostile.py SECONDS
A fake server on loopback answers every client with malformed protocol bytes (random garbage,
absurd lengths, truncated messages, an SSL 'S' then garbage, endless DataRows), while clients in
this same process connect to it with a valid startup and keep sending queries. Prints 'ready'
after the server listens, waits for a line on stdin, runs for SECONDS, prints 'done N' with the
number of client connections made."""
import random, socket, struct, sys, threading, time

rng = random.Random(8841)


def garbage(kind):
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
    if kind == 1:  # a message claiming 1 GiB
        return b"D" + struct.pack("!I", 0x3fffffff) + b"x" * 100
    if kind == 2:  # truncated CommandComplete and a bogus ReadyForQuery
        return b"C\0\0\0\x20SELECT" + b"Z\0\0\0\x05"
    if kind == 3:  # SSL accepted, then noise
        return b"S" + bytes(rng.randrange(256) for _ in range(500))
    if kind == 4:  # negative and tiny lengths
        return b"T\xff\xff\xff\xff" + b"E\0\0\0\x01" + b"Z\0\0\0\x00"
    # many tiny valid-looking DataRows, then ReadyForQuery
    return (b"D\0\0\0\x06\0\0" * 2000) + b"C\0\0\0\x0dSELECT 1\0" + b"Z\0\0\0\x05I"


def serve(lsock, stop):
    lsock.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = lsock.accept()
        except socket.timeout:
            continue
        try:
            c.settimeout(0.5)
            c.recv(4096)
            for _ in range(rng.randrange(1, 6)):
                c.sendall(garbage(rng.randrange(6)))
                try:
                    c.recv(4096)
                except socket.timeout:
                    pass
        except OSError:
            pass
        finally:
            c.close()


def client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    params = b"user\0postgres\0database\0postgres\0\0"
    try:
        if rng.random() < 0.3:
            s.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
        else:
            s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
        for _ in range(5):
            try:
                s.recv(65536)
            except socket.timeout:
                pass
            q = b"SELECT 'zq-literal-8841'\0"
            s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
    except OSError:
        pass
    finally:
        s.close()


def main():
    seconds = float(sys.argv[1])
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    stop = threading.Event()
    t = threading.Thread(target=serve, args=(lsock, stop), daemon=True)
    t.start()
    print("ready", flush=True)
    sys.stdin.readline()
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        client(port)
        n += 1
    stop.set()
    t.join()
    print(f"done {n}", flush=True)


if __name__ == "__main__":
    main()
