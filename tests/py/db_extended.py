"""A tiny PostgreSQL extended-protocol client on a raw socket, for the database tests.
Usage: db_extended.py HOST PORT N. Prints 'ready', waits for a line on stdin, connects (trust
auth), then: Parse of a named statement once and N Bind/Execute/Sync runs of it with different
parameters; one unnamed Parse/Bind/Execute/Sync; prints 'done RUNS' and waits for a line."""
import socket, struct, sys


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def read_until_ready(sock, buf=b""):
    """Reads backend messages until ReadyForQuery; returns (types seen, leftover)."""
    types = []
    while True:
        while len(buf) >= 5:
            t, n = buf[0:1], struct.unpack("!I", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            types.append(t)
            buf = buf[1 + n:]
            if t == b"Z":
                return types, buf
            if t == b"E":
                raise RuntimeError("server error")
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk


def bind(portal, stmt, params):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        v = p.encode()
        body += struct.pack("!I", len(v)) + v
    return msg(b"B", body + struct.pack("!H", 0))


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    if host.startswith("/"):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(f"{host}/.s.PGSQL.{port}")
    else:
        sock = socket.create_connection((host, port))
    params = cstr("user") + cstr("postgres") + cstr("database") + cstr("postgres") + b"\0"
    sock.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    _, buf = read_until_ready(sock)
    sock.sendall(msg(b"P", cstr("s_author_by_id") + cstr("SELECT name FROM author WHERE id = $1") +
                     struct.pack("!H", 0)) + msg(b"S"))
    _, buf = read_until_ready(sock, buf)
    for i in range(n):
        sock.sendall(bind("", "s_author_by_id", [str(i + 1)]) + msg(b"E", cstr("") + struct.pack("!I", 0)) +
                     msg(b"S"))
        _, buf = read_until_ready(sock, buf)
    sock.sendall(msg(b"P", cstr("") + cstr("SELECT count(*) FROM author WHERE id < $1") + struct.pack("!H", 0)) +
                 bind("", "", ["10"]) + msg(b"D", b"P" + cstr("")) + msg(b"E", cstr("") + struct.pack("!I", 0)) +
                 msg(b"S"))
    _, buf = read_until_ready(sock, buf)
    print(f"done {n + 1}", flush=True)
    sys.stdin.readline()
    sock.sendall(msg(b"X"))
    sock.close()


if __name__ == "__main__":
    main()
