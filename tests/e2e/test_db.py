"""Database queries from the wire against a real PostgreSQL 15 started for this module (loopback
and a unix socket): psycopg2 loops (N+1 with the call-site line, batched ANY, repeated identical
queries, the time floor and its config key), exact query counts, SQL PREPARE/EXECUTE and a raw
extended-protocol client, a Django view with and without select_related, a SQLAlchemy lazy-load
loop, TLS connections counted but not parsed, no literal anywhere the daemon speaks, and hostile
peers that must not crash or wedge it.
Workloads run under Debian's /usr/bin/python3.11 (python3-psycopg2, -django, -sqlalchemy)."""
import json, os, re, select, signal, subprocess, time, unittest

import lib
import pg

PY = "/usr/bin/python3.11"
SRV = None
LITERALS = ("zq-literal-8841", "4276318491")


def setUpModule():
    global SRV
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root for BPF")
    if not pg.available():
        raise unittest.SkipTest("PostgreSQL 15 is not installed (scripts/deps.sh)")
    SRV = pg.Server()


def tearDownModule():
    if SRV:
        SRV.stop()


def line_of(script, marker):
    with open(os.path.join(lib.PYDIR, script)) as f:
        for n, text in enumerate(f, 1):
            if "# " + marker in text:
                return n
    raise AssertionError(f"{marker} not in {script}")


def readline(p, timeout):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        raise AssertionError(f"workload {p.args} printed nothing in {timeout}s")
    return p.stdout.readline().strip()


def prog_ids(prog_name):
    """The ids of the loaded BPF programs called prog_name (bpftool)."""
    progs = json.loads(subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout)
    return {p["id"] for p in progs if p.get("name") == prog_name}


def attached_links(ids):
    """How many BPF links attach one of the programs ids (bpftool)."""
    links = json.loads(subprocess.run(["bpftool", "link", "show", "--json"], capture_output=True, text=True).stdout)
    return sum(1 for link in links if link.get("prog_id") in ids)


def chained(ids, chain):
    """How many slots of the prog array called chain hold one of the programs ids (bpftool)."""
    maps = subprocess.run(["bpftool", "map", "dump", "name", chain, "--json"], capture_output=True, text=True)
    entries = json.loads(maps.stdout) if maps.returncode == 0 else []
    return sum(1 for e in entries if e.get("formatted", {}).get("value") in ids)


def db_hooks():
    """Where the wire capture runs from: links of its own, or the I/O hooks' tail calls."""
    ids = prog_ids("db_send")
    return attached_links(ids) + chained(ids, "sock_send_chain")


def metric_sum(text, name, **labels):
    total = 0.0
    for m in re.finditer(r"^" + re.escape(name) + r"\{([^}]*)\} (\S+)$", text, re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


class DbCase(unittest.TestCase):
    def daemon(self, config=""):
        d = lib.Daemon("--scan-interval-seconds", "1", config_text=config)
        self.addCleanup(d.stop)
        health = d.json("/api/v1/health")
        self.assertEqual(health["sources"].get("pgwire"), "running", health)
        return d

    def wait_for(self, what, fn, timeout=30, show=None):
        """fn() once it is true; on timeout fails with show() (what the daemon had) in the message."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}" + (f": {show()}" if show else ""))
            time.sleep(0.2)

    def run_workload(self, d, script, *args, timeout=60):
        """Starts a workload, waits until the daemon tracks it, lets it run; returns (p, 'done' line)."""
        p = lib.start_py(PY, script, *args, stdin=subprocess.PIPE)
        self.addCleanup(lib.stop, p)
        self.wait_for(f"{script} to be tracked",
                      lambda: any(x["pid"] == p.pid for x in d.json("/api/v1/processes")["processes"]))
        p.stdin.write("\n")
        p.stdin.flush()
        done = readline(p, timeout)
        self.assertTrue(done.startswith("done"), f"{script}: {done!r} {p.stderr.read() if p.poll() else ''}")
        return p, done

    def finish(self, p):
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(10)

    def queries(self, d, service):
        return d.json(f"/api/v1/queries?service={service}&limit=1000")["queries"]

    def db_findings(self, d, service):
        return [f for f in d.json("/api/v1/findings")["findings"]
                if f["kind"].startswith("db_") and f["service"] == service]

    def template_row(self, d, service, template):
        rows = [q for q in self.queries(d, service) if q["template"] == template]
        return rows[0] if rows else None


class Psycopg2(DbCase):
    def test_loop_is_nplusone_at_its_line_with_exact_counts(self):
        d = self.daemon()
        p, done = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "loop", 2, 50)
        sent = int(done.split()[1])
        self.assertEqual(sent, 104)
        loop_line = line_of("db_psycopg2.py", "LOOP-LINE")
        f = self.wait_for("the N+1 finding of both bursts", lambda: [
            x for x in self.db_findings(d, "db_psycopg2") if x["kind"] == "db_nplusone" and x["evidence"]["bursts"] >= 2],
            show=lambda: (self.queries(d, "db_psycopg2"), self.db_findings(d, "db_psycopg2")))
        self.assertEqual(len(f), 1, f)
        f = f[0]
        self.assertTrue(f["code"].endswith(f"db_psycopg2.py:{loop_line})"), f["code"])
        self.assertTrue(f["code"].startswith("slow_lookup "), f["code"])
        self.assertEqual(f["evidence"]["template"], "SELECT ... FROM author WHERE name = ?")
        self.assertEqual(f["evidence"]["repeats_last_burst"], 50)
        self.assertEqual(f["evidence"]["bursts"], 2)
        self.assertEqual(f["evidence"]["orm"], "raw")
        self.assertGreaterEqual(f["evidence"]["last_burst_seconds"], 0.05)
        self.assertIn("ANY(", f["fix"])
        self.assertEqual(f["pid"], p.pid)

        # every statement the program sent, no more, no less (an idle database otherwise)
        metrics = d.get("/metrics").decode()
        self.assertEqual(metric_sum(metrics, "pyrometer_db_queries_total", service="db_psycopg2"), sent)
        self.assertEqual(metric_sum(metrics, "pyrometer_db_queries_total", service="db_psycopg2",
                                    operation="SELECT"), 100)
        self.assertEqual(metric_sum(metrics, "pyrometer_db_query_duration_seconds_count",
                                    service="db_psycopg2", db_system="postgresql", operation="SELECT"), 100)
        row = self.template_row(d, "db_psycopg2", "SELECT ... FROM author WHERE name = ?")
        self.assertEqual(row["calls"], 100)
        self.assertEqual(row["rows"], 100)
        self.assertEqual(row["errors"], 0)
        self.assertEqual([(s["function"], s["line"]) for s in row["callsites"]], [("slow_lookup", loop_line)])
        self.assertGreater(row["mean_seconds"], 0.0005)  # a sequential scan, timed send -> completion

        r = lib.run_cli("queries", "--server", d.url, "--service", "db_psycopg2")
        self.assertIn("SELECT ... FROM author WHERE name = ?", r.stdout)
        self.assertIn(f"slow_lookup (", r.stdout)
        self.assertIn(f"db_psycopg2.py:{loop_line})", r.stdout)
        self.assertIn("[nplusone]", r.stdout)
        self.finish(p)

    def test_reload_pauses_and_resumes_the_capture(self):
        """db_capture = false on SIGHUP stops the counting at once and db_capture = true starts it again,
        on the same connection, without a restart."""
        d = self.daemon()
        p = lib.start_py(PY, "db_psycopg2.py", SRV.dsn(), "fastloop", 3, 30, stdin=subprocess.PIPE,
                         env=dict(os.environ, STEPPED="1"))
        self.addCleanup(lib.stop, p)
        self.wait_for("db_psycopg2.py to be tracked",
                      lambda: any(x["pid"] == p.pid for x in d.json("/api/v1/processes")["processes"]))

        def step(expect):
            p.stdin.write("\n")
            p.stdin.flush()
            line = readline(p, 60)
            self.assertTrue(line.startswith(expect), line)
            return int(line.split()[1])

        def counted():
            return metric_sum(d.get("/metrics").decode(), "pyrometer_db_queries_total", service="db_psycopg2")

        def capture(on):
            with open(d.config, "w") as f:
                f.write("" if on else "db_capture = false\n")
            d.p.send_signal(signal.SIGHUP)
            self.wait_for(f"db capture {'on' if on else 'off'}", lambda: re.search(
                rf"^pyrometer_db_capture_enabled {int(on)}$", d.get("/metrics").decode(), re.M))

        first = step("batch")  # the setup and one batch, captured
        self.wait_for(f"{first} queries counted", lambda: counted() == first, show=counted)
        links = db_hooks()
        self.assertGreaterEqual(links, 1)
        capture(False)
        self.assertFalse(d.json(f"/api/v1/processes/{p.pid}")["sources"]["db_queries"])
        self.assertEqual(db_hooks(), links - 1)  # unhooked: the host pays nothing for it
        second = step("batch")  # not captured
        time.sleep(1.5)  # a few engine turns: anything streamed would be counted by now
        self.assertEqual(counted(), first)
        capture(True)
        done = step("done")  # captured again, the connection joined afresh at its next query
        resumed = done - second
        self.assertEqual(db_hooks(), links)
        # nothing was in flight across the resume (the batch started after it): every query counts
        self.wait_for("the resumed batch counted", lambda: counted() == first + resumed,
                      show=lambda: (first, resumed, counted()))
        print(f"  counted {first} on, 0 of {second - first} paused, {counted() - first} of {resumed} resumed")
        self.assertIsNone(d.p.poll())
        self.finish(p)

    def test_batched_any_is_no_finding_over_unix_socket(self):
        d = self.daemon()
        p, done = self.run_workload(d, "db_psycopg2.py", SRV.dsn(unix=True), "any", 3, 50)
        sent = int(done.split()[1])
        self.wait_for("the queries", lambda: sum(q["calls"] for q in self.queries(d, "db_psycopg2")) >= sent)
        time.sleep(1.0)  # bursts end after 0.5 s of quiet
        self.assertEqual(self.db_findings(d, "db_psycopg2"), [])
        row = self.template_row(d, "db_psycopg2", "SELECT ... FROM author WHERE id = ANY(ARRAY[?])")
        self.assertIsNotNone(row, self.queries(d, "db_psycopg2"))
        self.assertEqual(row["calls"], 3)
        self.assertEqual(row["rows"], 150)
        self.assertEqual(sum(q["calls"] for q in self.queries(d, "db_psycopg2")), sent)
        metrics = d.get("/metrics").decode()
        self.assertEqual(metric_sum(metrics, "pyrometer_db_connections_total", service="db_psycopg2",
                                    encrypted="false"), 1)
        self.finish(p)

    def test_same_parameters_repeated_is_cacheable_not_nplusone(self):
        d = self.daemon()
        p, _ = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "same", 1, 50)
        same_line = line_of("db_psycopg2.py", "SAME-LINE")
        f = self.wait_for("the repeated-query finding", lambda: [x for x in self.db_findings(d, "db_psycopg2")
                                                                 if x["kind"] == "db_repeated_query"],
                          show=lambda: (self.queries(d, "db_psycopg2"), self.db_findings(d, "db_psycopg2")))
        self.assertTrue(f[0]["code"].endswith(f"db_psycopg2.py:{same_line})"), f[0]["code"])
        self.assertEqual(f[0]["evidence"]["repeats_last_burst"], 50)
        self.assertIn("same parameters", f[0]["fix"])
        self.assertEqual([x for x in self.db_findings(d, "db_psycopg2") if x["kind"] == "db_nplusone"], [])
        self.finish(p)

    def test_time_floor_and_its_config_key(self):
        fast_line = line_of("db_psycopg2.py", "FAST-LINE")
        d = self.daemon()
        p, _ = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "fastloop", 1, 50)
        row = self.wait_for("the fast loop", lambda: self.template_row(d, "db_psycopg2",
                                                                       "SELECT name FROM author WHERE id = ?"))
        time.sleep(1.0)
        row = self.template_row(d, "db_psycopg2", "SELECT name FROM author WHERE id = ?")
        self.assertEqual(row["calls"], 50)
        self.assertLess(row["total_seconds"], 0.05, "the loopback lookups should be under the default floor")
        self.assertEqual(self.db_findings(d, "db_psycopg2"), [])
        self.finish(p)
        d.stop()

        d = self.daemon("nplusone_min_total_ms = 1\nnplusone_min_repeats = 10\n")
        p, _ = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "fastloop", 1, 50)
        f = self.wait_for("the N+1 finding under a 1 ms floor", lambda: self.db_findings(d, "db_psycopg2"))
        self.assertEqual(f[0]["kind"], "db_nplusone")
        self.assertTrue(f[0]["code"].endswith(f"db_psycopg2.py:{fast_line})"), f[0]["code"])
        self.finish(p)

    def test_sql_prepare_execute_has_the_statement_template(self):
        d = self.daemon()
        p, done = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "prepare", 1, 20)
        row = self.wait_for("the prepared statement's runs", lambda: self.template_row(
            d, "db_psycopg2", "SELECT ... FROM author WHERE name = ?"))
        self.assertEqual(row["calls"], 20)
        self.assertEqual(row["prepares"], 1)
        self.assertEqual(row["callsites"][0]["line"], line_of("db_psycopg2.py", "EXECUTE-LINE"))
        self.assertEqual(sum(q["calls"] + q["prepares"] for q in self.queries(d, "db_psycopg2")),
                         int(done.split()[1]))
        self.finish(p)

    def test_extended_protocol_named_and_unnamed(self):
        SRV.psql("DROP TABLE IF EXISTS author; CREATE TABLE author (id int PRIMARY KEY, name text);"
                 "INSERT INTO author SELECT g, 'a' || g FROM generate_series(1, 100) g")
        d = self.daemon()
        p, done = self.run_workload(d, "db_extended.py", "127.0.0.1", SRV.port, 30)
        row = self.wait_for("the named statement", lambda: self.template_row(
            d, "db_extended", "SELECT name FROM author WHERE id = ?"))
        self.wait_for("all runs", lambda: self.template_row(
            d, "db_extended", "SELECT name FROM author WHERE id = ?")["calls"] >= 30)
        row = self.template_row(d, "db_extended", "SELECT name FROM author WHERE id = ?")
        self.assertEqual(row["calls"], 30)
        self.assertEqual(row["rows"], 30)
        unnamed = self.wait_for("the unnamed statement", lambda: self.template_row(
            d, "db_extended", "SELECT ... FROM author WHERE id < ?"))
        self.assertEqual(unnamed["calls"], 1)
        self.assertEqual(unnamed["rows"], 1)
        self.assertEqual(sum(q["calls"] for q in self.queries(d, "db_extended")), int(done.split()[1]))
        self.finish(p)

    def test_no_literal_leaves_the_parser(self):
        d = self.daemon()
        p, _ = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "literal", 2)
        self.wait_for("the literal queries", lambda: self.template_row(
            d, "db_psycopg2", "SELECT id FROM author WHERE name = ? OR id = ?"))
        self.assertIsNotNone(self.template_row(d, "db_psycopg2", "SELECT id FROM author WHERE bio = ?"))
        self.finish(p)
        pages = {path: d.get(path).decode(errors="replace")
                 for path in ("/metrics", "/api/v1/queries?limit=10000", "/api/v1/findings", "/api/v1/services",
                              "/api/v1/processes", "/api/v1/health")}
        pages["log"] = d.logtext()
        pages["cli"] = lib.run_cli("queries", "--server", d.url).stdout
        for where, text in pages.items():
            for lit in LITERALS:
                self.assertNotIn(lit, text, f"literal {lit} in {where}")


class Orms(DbCase):
    CONFIG = "nplusone_min_total_ms = 1\n"  # loopback answers in ~0.1 ms; the 50 ms default is for networks

    def test_django_view_nplusone_and_select_related(self):
        d = self.daemon(self.CONFIG)
        p, _ = self.run_workload(d, "db_django.py", "127.0.0.1", SRV.port, "books-related", 2)
        self.wait_for("the related view's queries", lambda: self.queries(d, "db_django"))
        time.sleep(1.5)
        self.assertEqual(self.db_findings(d, "db_django"), [])
        self.finish(p)

        p, done = self.run_workload(d, "db_django.py", "127.0.0.1", SRV.port, "books", 2)
        self.assertEqual(int(done.split()[1]), 102)  # Django's own count: 1 + 50 per request
        f = self.wait_for("the Django N+1", lambda: [x for x in self.db_findings(d, "db_django")
                                                      if x["kind"] == "db_nplusone"])
        f = f[0]
        self.assertEqual(f["evidence"]["function"], "book_list")
        self.assertIn("book_list", f["title"])
        self.assertTrue(f["code"].endswith(f"views.py:{line_of('djshop/views.py', 'N+1-LINE')})"), f["code"])
        self.assertEqual(f["evidence"]["orm"], "django")
        self.assertEqual(f["evidence"]["table"], "djshop_author")
        self.assertEqual(f["evidence"]["repeats_last_burst"], 50)
        self.assertIn("select_related", f["fix"])
        self.assertNotIn("book_list_related", json.dumps(self.db_findings(d, "db_django")))
        self.finish(p)

    def test_sqlalchemy_lazy_load_loop(self):
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{SRV.port}/postgres"
        d = self.daemon(self.CONFIG)
        p, _ = self.run_workload(d, "db_sqlalchemy.py", url, "selectin", 2)
        self.wait_for("the selectin queries", lambda: self.queries(d, "db_sqlalchemy"))
        time.sleep(1.5)
        self.assertEqual(self.db_findings(d, "db_sqlalchemy"), [])
        self.finish(p)

        p, _ = self.run_workload(d, "db_sqlalchemy.py", url, "lazy", 2)
        f = self.wait_for("the lazy-load N+1", lambda: [x for x in self.db_findings(d, "db_sqlalchemy")
                                                         if x["kind"] == "db_nplusone"])
        f = f[0]
        self.assertEqual(f["evidence"]["orm"], "sqlalchemy")
        self.assertEqual(f["evidence"]["function"], "report")
        self.assertTrue(f["code"].endswith(f"db_sqlalchemy.py:{line_of('db_sqlalchemy.py', 'LAZY-LINE')})"),
                        f["code"])
        self.assertIn("joinedload", f["fix"])
        self.assertIn("selectinload", f["fix"])
        self.finish(p)


class Hostile(DbCase):
    def test_malformed_server_does_not_crash_or_wedge_the_daemon(self):
        d = self.daemon()
        p = lib.start_py(PY, "db_hostile.py", 6, stdin=subprocess.PIPE)
        self.addCleanup(lib.stop, p)
        self.wait_for("the hostile workload to be tracked",
                      lambda: any(x["pid"] == p.pid for x in d.json("/api/v1/processes")["processes"]))
        p.stdin.write("\n")
        p.stdin.flush()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:  # the daemon answers all along
            self.assertEqual(d.json("/api/v1/health", timeout=5)["status"], "ok")
            d.get("/api/v1/queries")
            time.sleep(0.5)
        done = readline(p, 30)
        self.assertTrue(done.startswith("done"), done)
        self.assertGreater(int(done.split()[1]), 10)
        self.assertIsNone(d.p.poll(), "pyrometerd exited: " + d.logtext())
        metrics = d.get("/metrics").decode()
        self.assertGreater(metric_sum(metrics, "pyrometer_db_connections_total", service="db_hostile"), 10)
        self.assertGreater(metric_sum(metrics, "pyrometer_db_capture_drops_total", reason="parser_desync"), 0)
        # and it still follows a real database afterwards
        q, done = self.run_workload(d, "db_psycopg2.py", SRV.dsn(), "any", 1, 10)
        self.wait_for("queries after the hostile peers",
                      lambda: sum(x["calls"] for x in self.queries(d, "db_psycopg2")) == int(done.split()[1]))
        self.finish(q)
        for lit in LITERALS:
            self.assertNotIn(lit, d.get("/api/v1/queries?limit=10000").decode() + d.logtext())


class Tls(DbCase):
    def test_encrypted_connection_is_counted_not_parsed(self):
        with pg.Server(ssl=True) as srv:
            d = self.daemon()
            p, done = self.run_workload(d, "db_psycopg2.py", srv.dsn() + " sslmode=require", "any", 2, 10)
            self.wait_for("the encrypted connection", lambda: metric_sum(
                d.get("/metrics").decode(), "pyrometer_db_connections_total", service="db_psycopg2",
                encrypted="true") == 1)
            time.sleep(1.0)
            metrics = d.get("/metrics").decode()
            self.assertEqual(metric_sum(metrics, "pyrometer_db_queries_total", service="db_psycopg2"), 0)
            self.assertEqual(metric_sum(metrics, "pyrometer_db_capture_drops_total", reason="parser_desync"), 0)
            self.assertEqual(self.queries(d, "db_psycopg2"), [])
            self.finish(p)


class RedisServer:
    """redis-server on a unix socket in a temporary directory, no persistence; stopped on exit."""

    def __init__(self):
        import shutil, tempfile
        self.dir = tempfile.mkdtemp(prefix="pyrometer-redis-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.p = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", self.sock, "--save", "",
                                   "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline or self.p.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        self._rm = shutil.rmtree

    def stop(self):
        self.p.terminate()
        self.p.wait(10)
        self._rm(self.dir, ignore_errors=True)


@unittest.skipUnless(os.access("/usr/bin/redis-server", os.X_OK), "redis-server is not installed (scripts/deps.sh)")
class Redis(DbCase):
    CONFIG = "nplusone_min_total_ms = 0\n"  # a unix-socket round trip takes ~30 us: count repeats only

    def setUp(self):
        self.srv = RedisServer()
        self.addCleanup(self.srv.stop)

    def test_hget_loop_is_nplusone_pipeline_is_not(self):
        d = self.daemon(self.CONFIG)
        p, done = self.run_workload(d, "db_redis.py", self.srv.sock, "pipeline", 2, 30)
        sent = int(done.split()[1])
        self.wait_for("the pipelined commands", lambda: sum(q["calls"] for q in self.queries(d, "db_redis")) >= sent)
        time.sleep(1.0)
        self.assertEqual(self.db_findings(d, "db_redis"), [])
        row = self.template_row(d, "db_redis", "HGET ? ?")
        self.assertEqual(row["calls"], 60)
        self.assertEqual(row["db_system"], "redis")
        self.assertEqual(row["operation"], "READ")
        self.assertEqual(self.template_row(d, "db_redis", "HSET ? ? ?")["calls"], 30)
        self.assertEqual(sum(q["calls"] for q in self.queries(d, "db_redis")), sent)
        self.finish(p)

        p, done = self.run_workload(d, "db_redis.py", self.srv.sock, "loop", 2, 30)
        f = self.wait_for("the HGET N+1", lambda: [x for x in self.db_findings(d, "db_redis")
                                                    if x["kind"] == "db_nplusone"])
        self.assertEqual(len(f), 1, f)
        f = f[0]
        self.assertTrue(f["code"].startswith("lookup "), f["code"])
        self.assertTrue(f["code"].endswith(f"db_redis.py:{line_of('db_redis.py', 'HGET-LINE')})"), f["code"])
        self.assertEqual(f["evidence"]["db_system"], "redis")
        self.assertEqual(f["evidence"]["repeats_last_burst"], 30)
        self.assertIn("HMGET", f["fix"])
        metrics = d.get("/metrics").decode()
        self.assertEqual(metric_sum(metrics, "pyrometer_db_queries_total", service="db_redis", db_system="redis",
                                    operation="READ"), 120)
        for lit in LITERALS:
            self.assertNotIn(lit, metrics + d.get("/api/v1/queries?limit=10000").decode() +
                             d.get("/api/v1/findings").decode() + d.logtext())
        self.finish(p)


class MariaDB:
    """mariadbd on loopback (and a unix socket) over a fresh data directory, no grant checks, no
    persistence worth keeping; stopped and removed on exit."""

    def __init__(self):
        import pwd, shutil, tempfile
        self._rm = shutil.rmtree
        self.dir = tempfile.mkdtemp(prefix="pyrometer-mariadb-")
        pw = pwd.getpwnam("mysql")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)  # the server creates its socket here
        data = os.path.join(self.dir, "data")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=mysql",
                        "--skip-test-db", "--auth-root-authentication-method=normal"],
                       check=True, capture_output=True, timeout=120)
        os.makedirs(os.path.join(data, "test"), exist_ok=True)
        os.chown(os.path.join(data, "test"), pw.pw_uid, pw.pw_gid)
        self.port = lib.free_port()
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.p = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={data}", "--user=mysql",
                                   f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.sock}",
                                   "--skip-grant-tables", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                                   f"--pid-file={self.dir}/mysqld.pid", f"--log-error={self.dir}/err.log"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline or self.p.poll() is not None:
                self.stop()
                raise RuntimeError("mariadbd did not start")
            time.sleep(0.1)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self._rm(self.dir, ignore_errors=True)


@unittest.skipUnless(os.access("/usr/sbin/mariadbd", os.X_OK), "mariadb-server is not installed (scripts/deps.sh)")
class Mysql(DbCase):
    CONFIG = "nplusone_min_total_ms = 1\n"

    @classmethod
    def setUpClass(cls):
        cls.srv = MariaDB()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_pymysql_loop_is_nplusone_in_is_not(self):
        d = self.daemon(self.CONFIG)
        p, _ = self.run_workload(d, "db_mysql.py", self.srv.port, "in", 2, 50)
        row = self.wait_for("the IN query", lambda: self.template_row(
            d, "db_mysql", "SELECT ... FROM author WHERE id IN (?)"))
        self.wait_for("both IN queries", lambda: self.template_row(
            d, "db_mysql", "SELECT ... FROM author WHERE id IN (?)")["calls"] == 2)
        row = self.template_row(d, "db_mysql", "SELECT ... FROM author WHERE id IN (?)")
        self.assertEqual(row["rows"], 100)
        self.assertEqual(row["db_system"], "mysql")
        time.sleep(1.0)
        self.assertEqual(self.db_findings(d, "db_mysql"), [])
        self.finish(p)

        p, _ = self.run_workload(d, "db_mysql.py", self.srv.port, "loop", 2, 50)
        f = self.wait_for("the MySQL N+1", lambda: [x for x in self.db_findings(d, "db_mysql")
                                                     if x["kind"] == "db_nplusone"])
        self.assertEqual(len(f), 1, f)
        f = f[0]
        self.assertTrue(f["code"].startswith("lookup "), f["code"])
        self.assertTrue(f["code"].endswith(f"db_mysql.py:{line_of('db_mysql.py', 'MY-LOOP-LINE')})"), f["code"])
        self.assertEqual(f["evidence"]["db_system"], "mysql")
        self.assertEqual(f["evidence"]["repeats_last_burst"], 50)
        self.assertIn("ANY(", f["fix"])
        row = self.wait_for("all loop queries", lambda: (lambda r: r if r and r["calls"] == 100 else None)(
            self.template_row(d, "db_mysql", "SELECT name FROM author WHERE name = ?")))
        self.assertEqual(row["rows"], 100)
        self.assertEqual(row["callsites"][0]["line"], line_of("db_mysql.py", "MY-LOOP-LINE"))
        metrics = d.get("/metrics").decode()
        self.assertGreaterEqual(metric_sum(metrics, "pyrometer_db_queries_total", service="db_mysql",
                                           db_system="mysql", operation="SELECT"), 102)
        self.assertEqual(metric_sum(metrics, "pyrometer_db_capture_drops_total", reason="parser_desync"), 0)
        self.finish(p)


if __name__ == "__main__":
    unittest.main()
