"""Exposure of the daemon's HTTP endpoint: HTTPS with a certificate made here (openssl) and basic
auth with a crypt(3) hash (openssl passwd -6, and bcrypt), checked with curl: a scrape without
credentials gets 401, with them 200, over TLS only (plain HTTP and TLS < 1.2 refused); a real
Prometheus scrapes it with basic_auth + tls_config; the default listen address is loopback; and
no request makes the API read files or memory it was not meant to. The systemd unit's offline
`systemd-analyze security` exposure is reported and held at its driven-down level, and its
ProtectHome=yes claim (interpreters under /root still found) is reproduced with unshare."""
import json, os, re, shutil, socket, subprocess, tempfile, time, unittest, urllib.request

import lib

USER, PASSWORD = "prom", "s3cret pass"


def curl(*args, timeout=20):
    """(exit code, HTTP status or 0, headers + body) of one curl request."""
    r = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "-w", "\n%{http_code}", *args],
                       capture_output=True, text=True, timeout=timeout)
    out = r.stdout.rsplit("\n", 1)
    status = int(out[1]) if len(out) == 2 and out[1].isdigit() else 0
    return r.returncode, status, out[0] + r.stderr


def sha512crypt(password):
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


def bcrypt(password):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))
    return h if h and h.startswith("$2") else None


class TlsDaemon:
    """pyrometerd with TLS and basic auth on a free loopback port (lib.Daemon speaks plain HTTP)."""

    def __init__(self, hash_):
        self.dir = tempfile.mkdtemp(prefix="pm-tls-")
        self.cert, self.key = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        os.chmod(self.key, 0o600)
        self.port = lib.free_port()
        conf = os.path.join(self.dir, "pyrometer.conf")
        with open(conf, "w") as f:
            f.write(f"tls_cert_file = {self.cert}\ntls_key_file = {self.key}\n"
                    f"basic_auth_user = {USER}\nbasic_auth_password_hash = {hash_}\n")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen([lib.DAEMON, "--config", conf, "--listen", f"127.0.0.1:{self.port}"],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"https://localhost:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"pyrometerd exited {self.p.returncode}: {self.logtext()}")
            if curl("--cacert", self.cert, self.url + "/healthz")[1] == 200:
                return
            time.sleep(0.2)
        raise RuntimeError("pyrometerd with TLS did not come up: " + self.logtext())

    def logtext(self):
        self.log.flush()
        return open(self.log.name).read()

    def get(self, path, *extra):
        return curl("--cacert", self.cert, *extra, self.url + path)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.p.returncode


class Exposure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root for BPF")
        cls.d = TlsDaemon(sha512crypt(PASSWORD))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_scrape_needs_credentials_over_tls(self):
        d, auth = self.d, f"{USER}:{PASSWORD}"
        rc, no_creds, text = d.get("/metrics")
        self.assertEqual((rc, no_creds), (0, 401), text)
        self.assertRegex(text, r'(?i)www-authenticate: basic realm="pyrometer"')
        rc, ok, text = d.get("/metrics", "-u", auth)
        self.assertEqual((rc, ok), (0, 200), text)
        self.assertIn("pyrometer_build_info", text)
        wrong = [d.get("/metrics", "-u", u)[1] for u in (f"{USER}:nope", f"other:{PASSWORD}", f"{USER}:",
                                                        f"{USER}:{PASSWORD}x")]
        api = (d.get("/api/v1/services")[1], d.get("/api/v1/services", "-u", auth)[1])
        public = d.get("/healthz")[1]
        print(f"  https /metrics: no credentials {no_creds}, right ones {ok}, wrong ones {wrong}; "
              f"/api/v1/services {api}; /healthz without credentials {public}")
        self.assertEqual(wrong, [401] * 4)
        self.assertEqual(api, (401, 200))
        self.assertEqual(public, 200)  # liveness probes need no password

    def test_plain_http_and_old_tls_are_refused(self):
        d = self.d
        rc_plain, st_plain, _ = curl(f"http://127.0.0.1:{d.port}/metrics", "-u", f"{USER}:{PASSWORD}")
        rc_old, st_old, text_old = d.get("/metrics", "-u", f"{USER}:{PASSWORD}", "--tls-max", "1.1")
        rc_unverified, _, _ = curl(d.url + "/healthz")  # our self-signed cert is not trusted by default
        v = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{d.port}", "-brief"], input="",
                           capture_output=True, text=True, timeout=20)
        proto = re.search(r"Protocol version: (\S+)", v.stdout + v.stderr)
        print(f"  plain HTTP: curl exit {rc_plain} status {st_plain}; TLS<=1.1: curl exit {rc_old}; "
              f"untrusted cert: curl exit {rc_unverified}; negotiated {proto.group(1) if proto else '?'}")
        self.assertNotEqual(st_plain, 200)
        self.assertNotEqual(rc_old, 0, text_old)
        self.assertEqual(rc_unverified, 60)  # CURLE_PEER_FAILED_VERIFICATION
        self.assertTrue(proto and proto.group(1) in ("TLSv1.3", "TLSv1.2"), v.stdout + v.stderr)

    def test_bcrypt_hash(self):
        h = bcrypt(PASSWORD)
        if not h:
            self.skipTest("this libcrypt has no bcrypt")
        d = TlsDaemon(h)
        try:
            codes = (d.get("/metrics")[1], d.get("/metrics", "-u", f"{USER}:{PASSWORD}")[1],
                     d.get("/metrics", "-u", f"{USER}:wrong")[1])
            print(f"  bcrypt ({h[:7]}...): {codes}")
            self.assertEqual(codes, (401, 200, 401))
        finally:
            d.stop()

    def test_prometheus_scrapes_with_tls_and_basic_auth(self):
        if not shutil.which("prometheus"):
            self.skipTest("prometheus not installed")
        d = self.d
        prom_dir = tempfile.mkdtemp(prefix="prom-tls-")
        pw_file = os.path.join(prom_dir, "pw")
        with open(pw_file, "w") as f:
            f.write(PASSWORD)
        port = lib.free_port()
        with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n  - job_name: pyrometer\n    scheme: https\n"
                    f"    basic_auth:\n      username: {USER}\n      password_file: {pw_file}\n"
                    f"    tls_config:\n      ca_file: {d.cert}\n      server_name: localhost\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{d.port}']\n"
                    "  - job_name: pyrometer-noauth\n    scheme: https\n"
                    f"    tls_config:\n      ca_file: {d.cert}\n      server_name: localhost\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{d.port}']\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={prom_dir}/prometheus.yml",
                                 f"--storage.tsdb.path={prom_dir}/data", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def targets():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=2) as r:
                        active = json.load(r)["data"]["activeTargets"]
                except OSError:
                    return None
                got = {t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in active}
                return got if got.get("pyrometer", ("",))[0] == "up" and \
                    got.get("pyrometer-noauth", ("",))[0] == "down" else None

            deadline, got = time.monotonic() + 40, None
            while time.monotonic() < deadline and not got:
                got = targets()
                time.sleep(1)
            print(f"  Prometheus targets: {got}")
            self.assertTrue(got, "Prometheus never scraped with credentials (or scraped without)")
            self.assertIn("401", got["pyrometer-noauth"][1])
        finally:
            prom.terminate()
            prom.wait()
            shutil.rmtree(prom_dir, ignore_errors=True)

    def test_api_reads_nothing_it_should_not(self):
        d, auth = self.d, ("-u", f"{USER}:{PASSWORD}")
        other = subprocess.Popen(["sleep", "30"])  # a live process that is no Python
        probes = ["/api/v1/processes/../../../etc/passwd", "/api/v1/processes/%2e%2e%2fetc%2fpasswd",
                  "/api/v1/profile?service=../../etc/passwd", "/api/v1/profile?pid=1&format=../../etc/passwd",
                  f"/api/v1/stacks?pid={other.pid}", f"/api/v1/profile?pid={other.pid}&mode=window",
                  f"/api/v1/processes/{other.pid}", "/api/v1/stacks?pid=1", "/etc/passwd",
                  "/api/v1/stacks?pid=0x400000", "/api/v1/processes/1"]
        got = {}
        try:
            for path in probes:
                rc, st, text = d.get(path, "--path-as-is", *auth)
                got[path] = st
                self.assertNotIn("root:x:0:0", text, path)
                self.assertIn(st, (400, 404), f"{path}: {text[-300:]}")
        finally:
            other.kill()
            other.wait()
        print(f"  hostile paths and params: {sorted(set(got.values()))} ({len(got)} requests), nothing read")

    def test_default_listen_is_loopback(self):
        out = subprocess.run([lib.DAEMON, "--help"], capture_output=True, text=True).stdout
        m = re.search(r"--listen .*\(default ([^)]*)\)", out)
        self.assertTrue(m, out)
        host = m.group(1).rsplit(":", 1)[0]
        print(f"  default listen {m.group(1)}")
        self.assertIn(host, ("127.0.0.1", "[::1]", "localhost"))
        # and the daemon really binds only there when nothing overrides it
        port = int(m.group(1).rsplit(":", 1)[1])
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            self.skipTest(f"port {port} is taken on this host")
        finally:
            s.close()
        conf = os.path.join(tempfile.mkdtemp(), "c.conf")
        open(conf, "w").close()
        p = subprocess.Popen([lib.DAEMON, "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, where = time.monotonic() + 20, None
            while time.monotonic() < deadline and not where:
                where = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                                       text=True).stdout
                where = where if f"pid={p.pid}," in where else None
                time.sleep(0.2)
            print(f"  bound: {where.split()[3] if where else None}")
            self.assertTrue(where)
            self.assertEqual(where.split()[3], f"127.0.0.1:{port}")
        finally:
            p.terminate()
            p.wait(20)


UNIT = os.path.join(lib.ROOT, "systemd", "pyrometer.service")
EXPOSURE_MAX = 2.5  # driven down from 2.9; raise only with a reason in the unit


class Unit(unittest.TestCase):
    def test_exposure_score(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", UNIT], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
        self.assertTrue(m, r.stdout + r.stderr)
        left = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("\u2717")]
        print(f"  systemd-analyze security --offline=yes: {m.group(1)} (open items: {', '.join(left)})")
        self.assertLessEqual(float(m.group(1)), EXPOSURE_MAX)

    def test_protect_home_keeps_interpreters_under_root_visible(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        pyenv = [p for _, p in lib.interpreters() if p.startswith(("/root/", "/home/"))]
        if not pyenv:
            self.skipTest("no interpreter under /root or /home")
        text = open(UNIT).read()
        self.assertRegex(text, r"(?m)^ProtectHome=yes$")
        caps = re.search(r"(?m)^CapabilityBoundingSet=(.*)$", text).group(1).lower().replace("cap_", "").split()
        work = lib.start_py(pyenv[0], "cpu_split.py")
        conf = os.path.join(tempfile.mkdtemp(), "c.conf")
        open(conf, "w").close()
        port = lib.free_port()
        # the unit's namespace: /root and /home replaced by inaccessible directories
        inner = ("mount -t tmpfs -o mode=000 none /root && mount -t tmpfs -o mode=000 none /home && "
                 "! test -e /root/.pyenv && exec setpriv --bounding-set=-all," + ",".join("+" + c for c in caps) +
                 f" {lib.DAEMON} --config {conf} --listen 127.0.0.1:{port}")
        d = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", inner],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline, rows = time.monotonic() + 20, []
            while time.monotonic() < deadline and not rows:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/stacks?pid={work.pid}", timeout=2) as r:
                        rows = [f for t in json.load(r)["threads"] for f in t["frames"]]
                except OSError:
                    time.sleep(0.3)
            print(f"  with /root hidden: {pyenv[0]} tracked, {len(rows)} frames, e.g. {rows[:1]}")
            self.assertTrue(any(f["file"].endswith("cpu_split.py") for f in rows), d.poll())
        finally:
            d.terminate()
            d.communicate(timeout=30)
            lib.stop(work)


if __name__ == "__main__":
    unittest.main()
