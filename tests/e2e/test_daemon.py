"""The daemon for real: system-wide sampling attributed to services from cgroups, Prometheus
scraping it, promtool on /metrics, bad configs and requests, systemd notify, signals."""
import json, os, re, signal, socket, subprocess, tempfile, time, unittest, urllib.parse, urllib.request

import lib

PY = "/usr/bin/python3.11"


def in_cgroup(move):
    return lambda: move(os.getpid())


def wait_for(fn, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    return last


def service_row(d, name):
    return next((s for s in d.json("/api/v1/services")["services"] if s["name"] == name), None)


class Daemon(unittest.TestCase):
    def setUp(self):
        lib.require_root(self)

    def test_services_from_systemd_cgroups(self):
        ma, mb = lib.cgroup_service("a.service"), lib.cgroup_service("b.service")
        pa = lib.start_py(PY, "cpu_split.py", preexec_fn=in_cgroup(ma))
        pb = lib.start_py(PY, "two_threads.py", preexec_fn=in_cgroup(mb))
        try:
            with lib.Daemon() as d:
                def both():
                    a, b = service_row(d, "a.service"), service_row(d, "b.service")
                    ok = a and b and a["cpu_seconds_total"] > 0.5 and b["cpu_seconds_total"] > 0.5
                    return (a, b) if ok else None

                rows = wait_for(both, 20)
                self.assertTrue(rows, d.json("/api/v1/services"))
                a, b = rows
                print(f"  a: {a}\n  b: {b}")
                self.assertIn("cpu_split.py", a["top_function"])
                self.assertIn("two_threads.py", b["top_function"])
                procs = {p["pid"]: p for p in d.json("/api/v1/processes")["processes"]}
                self.assertEqual(procs[pa.pid]["service"], "a.service")
                self.assertEqual(procs[pb.pid]["service"], "b.service")
                self.assertTrue(procs[pa.pid]["sources"]["cpu_python_stacks"])
                self.assertTrue(procs[pa.pid]["sources"]["usdt"])  # Debian's python3.11 has USDT notes
        finally:
            lib.stop(pa)
            lib.stop(pb)
            lib.cgroup_remove(ma)
            lib.cgroup_remove(mb)

    def test_prometheus_scrapes_per_service_cpu(self):
        move = lib.cgroup_service("pmtest-prom.service")
        p = lib.start_py(PY, "cpu_split.py", preexec_fn=in_cgroup(move))
        prom_dir = tempfile.mkdtemp(prefix="prom-")
        prom = None
        try:
            with lib.Daemon() as d:
                port = lib.free_port()
                with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
                    f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                            "scrape_configs:\n  - job_name: pyrometer\n    static_configs:\n"
                            f"      - targets: ['127.0.0.1:{d.port}']\n")
                prom = subprocess.Popen(["prometheus", f"--config.file={prom_dir}/prometheus.yml",
                                         f"--storage.tsdb.path={prom_dir}/data",
                                         f"--web.listen-address=127.0.0.1:{port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                q = urllib.parse.quote('pyrometer_cpu_seconds_total{service="pmtest-prom.service"}')

                def query():
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={q}",
                                                    timeout=2) as r:
                            res = json.load(r)["data"]["result"]
                    except OSError:
                        return None
                    return res if res and float(res[0]["value"][1]) > 0 else None

                res = wait_for(query, 40)
                print(f"  PromQL result: {res}")
                self.assertTrue(res, "Prometheus never returned a non-zero CPU series")
                self.assertEqual(res[0]["metric"]["job"], "pyrometer")
        finally:
            if prom:
                prom.terminate()
                prom.wait()
            lib.stop(p)
            lib.cgroup_remove(move)
            subprocess.run(["rm", "-rf", prom_dir])

    def test_promtool_accepts_metrics(self):
        p = lib.start_py(PY, "cpu_split.py")
        try:
            with lib.Daemon() as d:
                time.sleep(2.5)
                text = d.get("/metrics")
        finally:
            lib.stop(p)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
        print(f"  /metrics: {len(text)} bytes, promtool rc={r.returncode} {r.stdout!r} {r.stderr!r}")
        self.assertEqual(r.returncode, 0)
        self.assertEqual((r.stdout + r.stderr).strip(), b"")
        for fam in (b"pyrometer_build_info", b"pyrometer_cpu_seconds_total", b"pyrometer_tracked_processes",
                    b"pyrometer_bpf_drops_total", b"pyrometer_self_resident_memory_bytes"):
            self.assertIn(fam, text)
        self.assertNotIn(b'pid="', text)

    def test_bad_requests_get_4xx_and_daemon_keeps_serving(self):
        with lib.Daemon() as d:
            self.assertEqual(d.get_status("/nope")[0], 404)
            self.assertEqual(d.get_status("/api/v1/profile?pid=abc")[0], 400)
            self.assertEqual(d.get_status("/api/v1/profile?service=a&pid=1")[0], 400)
            self.assertEqual(d.get_status("/api/v1/profile?pid=1&seconds=99999")[0], 400)
            self.assertEqual(d.get_status("/api/v1/profile?pid=1&format=gif")[0], 400)
            self.assertEqual(d.get_status("/api/v1/profile?service=%00%ff")[0], 400)
            self.assertEqual(d.get_status("/api/v1/processes/99999999")[0], 400)
            code, body = d.get_status("/api/v1/stacks?pid=4000000")
            self.assertEqual(code, 404)
            self.assertIn("error", json.loads(body))
            junk = [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                    b"\x00\xff" * 100, b"POST /metrics HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nx",
                    b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"y" * 100000 + b"\r\n\r\n",
                    b"GET /api/v1/profile?pid=%%%% HTTP/1.1\r\n\r\n", b"\r\n\r\n\r\n"]
            t0 = time.monotonic()
            for i in range(1000):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=2)
                try:
                    s.sendall(junk[i % len(junk)])
                    s.shutdown(socket.SHUT_WR)
                    s.recv(4096)
                except OSError:
                    pass
                finally:
                    s.close()
            print(f"  1000 malformed requests in {time.monotonic()-t0:.1f}s")
            self.assertIn(b"pyrometer_build_info", d.get("/metrics"))
            self.assertIsNone(d.p.poll())

    def test_bad_config_is_one_line_exit_2(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# comment\nsample_rate_hz = 5000000\n")
        r = subprocess.run([lib.DAEMON, "--config", f.name], capture_output=True, text=True, timeout=10)
        os.unlink(f.name)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("sample_rate_hz", r.stderr)
        self.assertIn(":2", r.stderr)
        r = subprocess.run([lib.DAEMON, "--no-such-flag", "1"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([lib.DAEMON, "--listen", "300.1.1.1:x", "--check-config"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("listen", r.stderr)

    def test_excluded_processes_are_not_traced(self):
        idle = "import time\nwhile True: time.sleep(0.05)"
        keep = subprocess.Popen([PY, "-c", idle, "keep-me"])
        early = subprocess.Popen([PY, "-c", idle, "skip-me"])
        late = None
        try:
            with lib.Daemon(config_text="exclude = cmdline:skip-me$\n") as d:
                def pids():
                    return {p["pid"] for p in d.json("/api/v1/processes")["processes"]}

                late = subprocess.Popen([PY, "-c", idle, "skip-me"])  # found at exec, not by the scan
                self.assertTrue(wait_for(lambda: keep.pid in pids(), 20), d.json("/api/v1/processes"))
                time.sleep(2)  # the late one's discovery retries are long done
                seen = pids()
                self.assertNotIn(early.pid, seen)
                self.assertNotIn(late.pid, seen)
                metrics = d.get("/metrics").decode()
                excluded = float(re.search(r'^pyrometer_discovery_total\{result="excluded"\} (\S+)$', metrics,
                                           re.M).group(1))
                print(f"  tracked {sorted(seen)}, excluded {excluded:.0f} (early {early.pid}, late {late.pid})")
                self.assertGreaterEqual(excluded, 2)
                # SIGHUP with one more rule stops tracing a process that is traced now
                with open(d.config, "a") as f:
                    f.write("exclude = cmdline:keep-me$\n")
                d.p.send_signal(signal.SIGHUP)
                self.assertTrue(wait_for(lambda: keep.pid not in pids(), 10), d.json("/api/v1/processes"))
                # and with no rules at all, the excluded ones are traced after the reload
                with open(d.config, "w") as f:
                    f.write("")
                d.p.send_signal(signal.SIGHUP)
                self.assertTrue(wait_for(lambda: {keep.pid, early.pid, late.pid} <= pids(), 10),
                                d.json("/api/v1/processes"))
                self.assertIsNone(d.p.poll())
        finally:
            for p in (keep, early, late):
                if p:
                    p.kill()
                    p.wait()

    def test_notify_ready_watchdog_reload_and_clean_stop(self):
        sock_path = os.path.join(tempfile.mkdtemp(), "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(15)
        port = lib.free_port()
        conf = os.path.join(os.path.dirname(sock_path), "empty.conf")
        open(conf, "w").close()
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="1000000")
        p = subprocess.Popen([lib.DAEMON, "--config", conf, "--listen", f"127.0.0.1:{port}"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            msgs = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not any("WATCHDOG=1" in m for m in msgs):
                msgs.append(s.recv(4096).decode())
            self.assertTrue(any("READY=1" in m for m in msgs), msgs)
            self.assertTrue(any("WATCHDOG=1" in m for m in msgs), msgs)
            p.send_signal(signal.SIGHUP)
            msgs = []
            while len(msgs) < 8 and not any("RELOADING=1" in m for m in msgs):
                msgs.append(s.recv(4096).decode())
            self.assertTrue(any("RELOADING=1" in m for m in msgs), msgs)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(15), 0)
        finally:
            if p.poll() is None:
                p.kill()
            s.close()


if __name__ == "__main__":
    unittest.main()
