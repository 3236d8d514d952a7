#!/usr/bin/python3
"""Writes the stored seed corpora of the database parsers, tests/fuzz/corpus/pgproto/, resp/ and
sqlnorm/, from real traffic: a recording proxy between the test workloads
(psycopg2 simple queries, SQL PREPARE/EXECUTE, the raw extended-protocol client, Django, an
SSLRequest) and a throwaway PostgreSQL 15 (tests/e2e/pg.py), each transfer stored as the fuzz
input format of tests/fuzz/fuzz_pgproto.c; the statements the clients sent, plus hand-picked
hostile SQL, for fuzz_sqlnorm.c; redis-py (plain, pipelined, RESP3 HELLO, errors, pub/sub) against a
throwaway redis-server for fuzz_resp.c. Run as root from the repo root when a format changes:
`/usr/bin/python3 tests/fuzz/mkcorpus_db.py`. Deterministic apart from server-side values."""
import os, shutil, socket, struct, subprocess, sys, threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pg  # noqa: E402

PY = "/usr/bin/python3.11"
PYDIR = os.path.join(ROOT, "tests", "py")


def out_dir(name):
    d = os.path.join(HERE, "corpus", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


class Recorder:
    """A TCP proxy on loopback to the server; records (direction, bytes) of every recv."""

    def __init__(self, port):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.target = port
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.lsock.accept()
            s = socket.create_connection(("127.0.0.1", self.target))
            log = []
            self.conns.append(log)
            for a, b, d in ((c, s, 0), (s, c, 1)):
                threading.Thread(target=self.pump, args=(a, b, d, log), daemon=True).start()

    @staticmethod
    def pump(a, b, direction, log):
        while True:
            try:
                data = a.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    b.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            log.append((direction, data))
            b.sendall(data)


def encode(log, midstream=False, head=4096, tail=256):
    """A recorded conversation in fuzz_pgproto's input format, cut like the BPF capture cuts."""
    out = bytearray([1 if midstream else 0])
    for direction, data in log:
        if len(data) > head:
            tl = min(len(data) - head, tail)  # as the BPF program takes it
            skip = min((len(data) - head - tl) // 37, 63)
            h, t = data[:head], data[len(data) - tl:]
            out += bytes([direction | 2 | skip << 2]) + struct.pack("<H", len(h)) + h + struct.pack("<H", len(t)) + t
        else:
            out += bytes([direction]) + struct.pack("<H", len(data)) + data
    return bytes(out)


def run(argv, stdin="\n\n"):
    subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=True)


def frontend_sql(log):
    """The statement texts in the frontend's Query and Parse messages."""
    stream = b"".join(d for dr, d in log if dr == 0)
    i, out = 0, []
    while i + 8 <= len(stream):  # SSLRequest/GSSENCRequest, then the StartupMessage
        n, code = struct.unpack("!II", stream[i:i + 8])
        i += n
        if code not in (80877103, 80877104):
            break
    while i + 5 <= len(stream):
        t, n = stream[i:i + 1], struct.unpack("!I", stream[i + 1:i + 5])[0]
        body = stream[i + 5:i + 1 + n]
        if t == b"Q":
            out.append(body.rstrip(b"\0"))
        elif t == b"P":
            out.append(body.split(b"\0")[1])
        i += 1 + n
    return out


def mysql_sql(log):
    """The COM_QUERY texts the client sent."""
    stream, i, out = b"".join(d for dr, d in log if dr == 0), 0, []
    while i + 4 <= len(stream):
        n = int.from_bytes(stream[i:i + 3], "little")
        body = stream[i + 4:i + 4 + n]
        if stream[i + 3] == 0 and body[:1] == b"\x03" and body[1:] not in out:
            out.append(body[1:])
        i += 4 + n
    return out[:20]


MYSQL_SQL = []
HOSTILE_SQL = [
    b"SELECT 'unterminated", b"SELECT $tag$ never closed", b"/* /* nested */ still open",
    b"SELECT E'\\\\' || e'\\'' || U&'d\\0061t\\+000061' FROM t", b"SELECT ((((((((((((1))))))))))))",
    b"INSERT INTO t VALUES " + b",".join(b"(%d, 'x')" % i for i in range(300)),
    b"SELECT * FROM t WHERE id IN (" + b",".join(b"%d" % i for i in range(500)) + b")",
    b"PREPARE p (int, text) AS UPDATE t SET a = $2 WHERE id = $1", b"EXECUTE p(1, 'zq-literal-8841')",
    b"DEALLOCATE ALL", b"WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
    b"SELECT \"we\"\"ird\", x'ff', b'1', 1.5e-3, .5, 0x1F, -7 FROM \"T\"", b"\xff\xfe\x00SELECT", b";;;",
    b"SELECT a::int[], ARRAY[1,2,3], '{1,2}'::int[] FROM t -- trailing",
]


REDIS_SCRIPT = r"""
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
r.flushdb(); r.set("k", "v" * 6000); r.get("k"); r.get("missing"); r.hset("h", mapping={"a": 1, "b": 2})
r.hgetall("h"); r.mget(["k", "missing", "h"]); r.lpush("l", *range(50)); r.lrange("l", 0, -1)
p = r.pipeline(); [p.incr("n") for _ in range(20)]; p.execute()
try: r.lpush("k", 1)
except redis.ResponseError: pass
r.execute_command("CLIENT", "SETNAME", "x")
ps = r.pubsub(); ps.subscribe("ch"); r.publish("ch", "hi"); ps.get_message(timeout=0.5); ps.close()
import socket, time  # RESP3 (maps, attributes, pushes): redis-py 4.3 speaks RESP2 only
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n"
          b"*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
          b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\nPING\r\n")
time.sleep(0.5); s.recv(1 << 20); s.close()
"""


def redis_conns():
    import tempfile, time
    d = tempfile.mkdtemp()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--dir", d], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        rec = Recorder(port)
        subprocess.run([PY, "-c", REDIS_SCRIPT, str(rec.port)], check=True, timeout=60, capture_output=True)
        time.sleep(0.3)
        return [c for c in rec.conns if c]
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)


def mysql_conns():
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    import test_db  # noqa: E402  the MariaDB helper of the e2e tests
    import time
    srv = test_db.MariaDB()
    try:
        rec = Recorder(srv.port)
        for mode in ("loop", "in"):
            subprocess.run([PY, os.path.join(PYDIR, "db_mysql.py"), str(rec.port), mode, "1", "5"], input="\n\n",
                           check=True, timeout=120, capture_output=True, text=True)
        subprocess.run([PY, "-c", "import pymysql,sys\ntry: pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), "
                        "user='root', ssl={'fake': 1})\nexcept Exception: pass", str(rec.port)], timeout=60)
        time.sleep(0.3)
        return [c for c in rec.conns if c]
    finally:
        srv.stop()


def main():
    d = out_dir("mysql")
    for i, log in enumerate(mysql_conns()):
        for suffix, kw in (("", {}), ("-small", dict(head=64, tail=16))):
            with open(os.path.join(d, f"conn-{i}{suffix}"), "wb") as f:
                f.write(encode(log, **kw))
        with open(os.path.join(d, f"conn-{i}-midstream"), "wb") as f:
            f.write(encode(log[4:], midstream=True))
        MYSQL_SQL.extend(mysql_sql(log))
    d = out_dir("resp")
    for i, log in enumerate(redis_conns()):
        for suffix, kw in (("", {}), ("-small", dict(head=64, tail=16))):
            with open(os.path.join(d, f"conn-{i}{suffix}"), "wb") as f:
                f.write(encode(log, **kw))
        with open(os.path.join(d, f"conn-{i}-midstream"), "wb") as f:
            f.write(encode(log[2:], midstream=True))
    with pg.Server() as srv:
        rec = Recorder(srv.port)
        dsn = f"host=127.0.0.1 port={rec.port} user=postgres dbname=postgres"
        for mode in ("loop", "any", "same", "prepare", "literal"):
            run([PY, os.path.join(PYDIR, "db_psycopg2.py"), dsn, mode, "1", "6"])
        run([PY, os.path.join(PYDIR, "db_extended.py"), "127.0.0.1", str(rec.port), "5"])
        run([PY, os.path.join(PYDIR, "db_django.py"), "127.0.0.1", str(rec.port), "books", "1"])
        run([PY, "-c", "import psycopg2,sys\ntry: psycopg2.connect(sys.argv[1] + ' sslmode=prefer')\n"
                       "except Exception: pass", dsn], stdin="")
        conns = [c for c in rec.conns if c]
    d = out_dir("pgproto")
    for i, log in enumerate(conns):
        with open(os.path.join(d, f"conn-{i}"), "wb") as f:
            f.write(encode(log))
        with open(os.path.join(d, f"conn-{i}-small"), "wb") as f:
            f.write(encode(log, head=64, tail=16))
        # the same conversation joined a few transfers late, as a daemon started later sees it
        with open(os.path.join(d, f"conn-{i}-midstream"), "wb") as f:
            f.write(encode(log[3:], midstream=True))
    d = out_dir("sqlnorm")
    seen = []
    for log in conns:
        for sql in frontend_sql(log):
            if sql not in seen:
                seen.append(sql)
    for i, sql in enumerate(seen + HOSTILE_SQL):
        with open(os.path.join(d, f"sql-{i}"), "wb") as f:
            f.write(bytes([i & 1]) + sql)
    for j, sql in enumerate(MYSQL_SQL + [b"SELECT `a`, \"zq\" FROM t # c\n WHERE x = ? AND y = 'it\\'s'"]):
        with open(os.path.join(d, f"mysql-{j}"), "wb") as f:
            f.write(bytes([2 | (j & 1)]) + sql)
    print(f"pgproto: {len(conns) * 3} seeds, sqlnorm: {len(seen) + len(HOSTILE_SQL) + len(MYSQL_SQL) + 1} seeds")


if __name__ == "__main__":
    main()
