"""The `pyrometer` CLI against a real pyrometerd (started here on a free loopback port with a
temporary config): status, top (one-shot, JSON and live on a pseudo-terminal), processes, profile
in all four formats checked by real readers (go tool pprof / protoc, json, xmllint) with the SVG's
top frames matched against folded output; then with the daemon stopped: one-line errors, exit 1,
and the standalone fallback of `profile --pid`; HTTPS with basic auth. Usage errors exit 2 without
any daemon."""
import gzip, json, os, pty, re, select, shutil, signal, subprocess, tempfile, time, unittest
import xml.etree.ElementTree as ET

import lib

PY = "/usr/bin/python3.11"
SERVICE = "pmtest-cli.service"
SVG_NS = "{http://www.w3.org/2000/svg}"
PROTO_DIR = os.path.join(lib.ROOT, "proto")
UNREACHABLE = re.compile(r"^pyrometer: cannot reach pyrometerd at (\S+): .+ \(is it running\?\)\n$")


def cli(*args, env=None, timeout=120):
    e = dict(os.environ)
    e.pop("PYROMETER_SERVER", None)
    e.update(env or {})
    return subprocess.run([lib.CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e)


def by_depth_folded(stacks):
    """{depth: {function name: samples}} from parse_folded output (depth 0 = outermost frame)."""
    out = {}
    for stack, n in stacks.items():
        for d, frame in enumerate(stack):
            names = out.setdefault(d, {})
            names[lib.frame_name(frame)] = names.get(lib.frame_name(frame), 0) + n
    return out


def by_depth_svg(path):
    """The same from the SVG flame graph's frames (<g class="f" data-d data-v><title>label — ..."""
    out, root = {}, ET.parse(path).getroot()
    for g in root.iter(SVG_NS + "g"):
        if "f" not in g.get("class", "").split():
            continue
        d = int(g.get("data-d"))
        if d == 0:
            continue  # the "all" root
        label = g.find(SVG_NS + "title").text.rsplit(" \u2014 ", 1)[0]
        names = out.setdefault(d - 1, {})
        names[lib.frame_name(label)] = names.get(lib.frame_name(label), 0) + int(g.get("data-v"))
    return out


def heaviest(names):
    return max(names.items(), key=lambda kv: kv[1])[0]


def share(names, name):
    return names.get(name, 0) / max(1, sum(names.values()))


class Usage(unittest.TestCase):
    """Bad flags and parameters: exit 2, an error line and the verb's usage line; no daemon needed."""

    def test_bad_flags_exit_2(self):
        cases = [
            ("status", "--bogus"), ("status", "extra"), ("status", "--timeout", "0"),
            ("status", "--user", "nocolon"), ("status", "--server", "ftp://h:1"),
            ("top", "--interval", "0"), ("top", "--interval", "abc"), ("top", "--interval", "3601"),
            ("top", "stray"),
            ("profile",), ("profile", "--pid", "1", "--service", "x"), ("profile", "--pid", "0"),
            ("profile", "--pid", "abc"), ("profile", "--pid", "1", "--seconds", "0"),
            ("profile", "--pid", "1", "--seconds", "3601"), ("profile", "--pid", "1", "--seconds", "1.5"),
            ("profile", "--pid", "1", "--format", "png"), ("profile", "--pid", "1", "--json"),
            ("profile", "--service", ""), ("processes", "--pid", "-3"), ("processes", "--nope"),
            ("no-such-verb",),
        ]
        for args in cases:
            with self.subTest(args=args):
                r = cli(*args, timeout=10)
                self.assertEqual(r.returncode, 2, f"{args}: rc {r.returncode}, stderr {r.stderr!r}")
                self.assertEqual(r.stdout, "")
                lines = r.stderr.splitlines()
                self.assertTrue(lines and len(lines) <= 3, r.stderr)
                if args[0] != "no-such-verb":
                    self.assertTrue(any(l.startswith(f"usage: pyrometer {args[0]}") for l in lines), r.stderr)

    def test_help_exit_0(self):
        for verb in ("status", "top", "profile", "processes"):
            r = cli(verb, "--help", timeout=10)
            self.assertEqual(r.returncode, 0)
            self.assertIn(f"usage: pyrometer {verb}", r.stdout)
            self.assertIn("--server URL", r.stdout)
        r = cli("--help", timeout=10)
        for verb in ("status", "top", "profile", "processes"):
            self.assertRegex(r.stdout, rf"\n  {verb} ")


class WithDaemon(unittest.TestCase):
    """One CPU-bound workload (cpu_split.py: ~75 % hot_a, ~25 % cold_b, both in spin) in a cgroup
    named like a systemd unit, one daemon for all tests of the class."""

    @classmethod
    def setUpClass(cls):
        lib.require_root(cls)
        cls.tmp = tempfile.mkdtemp(prefix="pyrometer-cli-")
        cls.move = lib.cgroup_service(SERVICE)
        cls.work = lib.start_py(PY, "cpu_split.py", preexec_fn=lambda: cls.move(os.getpid()))
        try:
            # 99 Hz rather than the default 19: the captures below count samples against the rate
            # (3 s of a busy thread ~297), which also shows the flag reaching the sampler
            cls.d = lib.Daemon("--sample-rate-hz", "99")
        except Exception:
            lib.stop(cls.work)
            lib.cgroup_remove(cls.move)
            raise
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = [s for s in cls.d.json("/api/v1/services")["services"] if s["name"] == SERVICE]
            if rows and rows[0]["cpu_percent"] > 0 and rows[0]["top_function"]:
                break
            time.sleep(0.5)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        lib.stop(cls.work)
        lib.cgroup_remove(cls.move)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_ok(self, *args, **kw):
        r = cli(*args, "--server", self.d.url, **kw)
        self.assertEqual(r.returncode, 0, f"pyrometer {' '.join(map(str, args))}: {r.stderr}")
        return r

    # ---- status ----------------------------------------------------------------------------

    def test_status(self):
        r = self.run_ok("status")
        print("  " + r.stdout.replace("\n", "\n  ").rstrip())
        self.assertRegex(r.stdout, rf"^pyrometerd \S+ at {re.escape(self.d.url)}: ok, up \d")
        procs = int(re.search(r"^  processes +(\d+)$", r.stdout, re.M).group(1))
        self.assertGreaterEqual(procs, 1)
        doc = json.loads(self.run_ok("status", "--json").stdout)
        self.assertEqual(doc["status"], "ok")
        self.assertGreaterEqual(doc["processes"], 1)
        self.assertGreater(doc["samples"], 0)
        # the server from the environment instead of the flag
        r = cli("status", "--json", env={"PYROMETER_SERVER": self.d.url.removeprefix("http://")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "ok")

    # ---- top -------------------------------------------------------------------------------

    def test_top_once(self):
        r = self.run_ok("top", "--once")
        print("  " + r.stdout.replace("\n", "\n  ").rstrip())
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(f"pyrometerd {self.d.url} "), lines[0])
        head = next(i for i, l in enumerate(lines) if l.startswith("SERVICE"))
        rows = [re.match(r"^(\S+)\s+(\d+)\s+(\d+\.\d)(?:  (.*))?$", l) for l in lines[head + 1:]]
        self.assertTrue(rows and all(rows), lines[head + 1:])
        cpu = [float(m.group(3)) for m in rows]
        self.assertEqual(cpu, sorted(cpu, reverse=True), "not sorted by CPU")
        mine = next((m for m in rows if m.group(1) == SERVICE), None)
        self.assertIsNotNone(mine, r.stdout)
        self.assertGreaterEqual(int(mine.group(2)), 1)
        self.assertGreater(float(mine.group(3)), 20.0)  # a busy loop: most of a core
        tail = mine.group(4) or ""
        if "VERDICT" in lines[head]:  # the daemon has verdicts: that column comes first
            verdict, _, tail = tail.partition(" ")
            self.assertIn(verdict, ("cpu-bound", "mixed", "cpu-starved"))
            tail = tail.strip()
        self.assertRegex(tail, r"^spin \(.*/cpu_split\.py:\d+\)$")
        # --json carries the same row
        doc = json.loads(self.run_ok("top", "--json").stdout)
        row = next(s for s in doc["services"] if s["name"] == SERVICE)
        self.assertGreater(row["cpu_percent"], 0)
        self.assertTrue(row["top_function"].startswith("spin ("), row)

    def test_top_not_a_tty_prints_once(self):
        t0 = time.monotonic()
        r = self.run_ok("top", timeout=20)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(r.stdout.count("SERVICE"), 1)
        self.assertNotIn("\033[", r.stdout)

    def test_top_interval_without_tty_repeats(self):
        p = subprocess.Popen([lib.CLI, "top", "--interval", "0.3", "--server", self.d.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertGreaterEqual(out.count("SERVICE"), 3)
        self.assertNotIn("\033[", out)

    def test_top_live_on_terminal(self):
        master, slave = os.openpty()
        p = subprocess.Popen([lib.CLI, "top", "--interval", "0.5", "--server", self.d.url],
                             stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        out, deadline = b"", time.monotonic() + 2.2
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(10), 0)
        os.close(master)
        text = out.decode(errors="replace")
        self.assertGreaterEqual(text.count("\033[H"), 3, "no in-place refreshes")
        self.assertIn("\033[J", text)
        self.assertIn(SERVICE, text)

    # ---- processes -------------------------------------------------------------------------

    def test_processes(self):
        pid = self.work.pid
        r = self.run_ok("processes")
        m = re.search(rf"^{pid}\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$", r.stdout, re.M)
        self.assertIsNotNone(m, r.stdout)
        self.assertEqual(m.group(1), SERVICE)
        self.assertEqual(m.group(2), "3.11.2")
        self.assertIn("cpu_python_stacks", m.group(4).split(" ")[0].split(","))
        doc = json.loads(self.run_ok("processes", "--json").stdout)
        mine = next(p for p in doc["processes"] if p["pid"] == pid)
        self.assertTrue(mine["sources"]["cpu_python_stacks"])
        one = self.run_ok("processes", "--pid", pid)
        self.assertRegex(one.stdout, rf"(?m)^service +{re.escape(SERVICE)}$")
        self.assertRegex(one.stdout, r"(?m)^python +3\.11\.2$")
        self.assertEqual(json.loads(self.run_ok("processes", "--pid", pid, "--json").stdout)["pid"], pid)
        # a pid the daemon does not track: the daemon's error, one line, exit 1
        r = cli("processes", "--pid", "4000000", "--server", self.d.url)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("pyrometer: "))

    # ---- profile ---------------------------------------------------------------------------

    def profile(self, fmt, *extra, seconds=3):
        out = os.path.join(self.tmp, f"p-{fmt}-{len(extra)}.{fmt}")
        t0 = time.monotonic()
        self.run_ok("profile", "--pid", self.work.pid, "--seconds", seconds, "--format", fmt, "-o", out, *extra)
        return out, time.monotonic() - t0

    def check_folded(self, path):
        stacks = lib.parse_folded(open(path).read())
        total = sum(stacks.values())
        self.assertTrue(all(n > 0 for n in stacks.values()))
        funcs = by_depth_folded(stacks)
        leafs = {}
        for stack, n in stacks.items():
            leafs[lib.frame_name(stack[-1])] = leafs.get(lib.frame_name(stack[-1]), 0) + n
        hot = sum(n for s, n in stacks.items() if any(lib.frame_name(f) == "hot_a" for f in s))
        cold = sum(n for s, n in stacks.items() if any(lib.frame_name(f) == "cold_b" for f in s))
        print(f"  folded: {total} samples, hot_a {hot}, cold_b {cold}, leaves {leafs}")
        self.assertGreater(hot + cold, 0)
        self.assertGreater(hot / (hot + cold), 0.55)
        self.assertLess(hot / (hot + cold), 0.92)
        return stacks, total, funcs

    def test_profile_folded(self):
        path, dt = self.profile("folded")
        self.assertGreaterEqual(dt, 2.9, "capture mode should collect the next 3 s")
        stacks, total, _ = self.check_folded(path)
        # 99 Hz for 3 s of a busy thread: ~297 samples; allow for scheduling and drain edges
        self.assertGreater(total, 150)
        self.assertLess(total, 400)
        self.assertTrue(all(f.endswith(")") for s in stacks for f in s if "cpu_split.py" in f))

    def test_profile_speedscope(self):
        path, _ = self.profile("speedscope")
        doc = json.load(open(path))
        self.assertEqual(doc["$schema"], "https://www.speedscope.app/file-format-schema.json")
        prof = doc["profiles"][0]
        names = [f["name"] for f in doc["shared"]["frames"]]
        self.assertIn("hot_a", names)
        self.assertIn("spin", names)
        self.assertGreater(sum(prof["weights"]), 150)
        self.assertEqual(len(prof["samples"]), len(prof["weights"]))
        self.assertTrue(all(0 <= i < len(names) for s in prof["samples"] for i in s))

    def test_profile_pprof(self):
        path, _ = self.profile("pprof")
        data = open(path, "rb").read()
        self.assertEqual(data[:2], b"\x1f\x8b", "pprof is gzipped")
        checked = False
        go = shutil.which("go")
        if go:
            env = dict(os.environ, HOME=self.tmp, PPROF_TMPDIR=self.tmp)
            raw = subprocess.run([go, "tool", "pprof", "-raw", path], capture_output=True, text=True,
                                 env=env, timeout=180)
            self.assertEqual(raw.returncode, 0, raw.stderr)
            samples = [int(a) for a in re.findall(r"^\s+(\d+)\s+\d+: [\d ]+$", raw.stdout, re.M)]
            self.assertGreater(sum(samples), 150)
            self.assertRegex(raw.stdout, r"\bhot_a\b")
            checked = True
        protoc = shutil.which("protoc")
        if protoc:
            text = subprocess.run([protoc, "--decode", "perftools.profiles.Profile", f"--proto_path={PROTO_DIR}",
                                   "profile.proto"], input=gzip.decompress(data), capture_output=True, timeout=60)
            self.assertEqual(text.returncode, 0, text.stderr.decode())
            self.assertIn('"hot_a"', text.stdout.decode())
            checked = True
        if not checked:
            self.skipTest("neither go nor protoc installed")

    def test_profile_svg_matches_folded(self):
        svg, _ = self.profile("svg")
        r = subprocess.run(["xmllint", "--noout", svg], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        folded, _ = self.profile("folded")
        self.compare_top_frames(by_depth_svg(svg), by_depth_folded(lib.parse_folded(open(folded).read())), 0.15)

    def test_profile_svg_renders_in_chromium(self):
        """The daemon's SVG flame graph, opened by a real browser, shows the flame graph (Python
        frames painted in their colour), not an error page."""
        from test_formats import CHROMIUM_FLAGS, chromium, png_pixels
        exe = chromium()
        if not exe:
            self.skipTest("chromium not installed")
        svg, _ = self.profile("svg")
        png = os.path.join(self.tmp, "daemon-fg.png")
        with tempfile.TemporaryDirectory() as prof:
            r = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={prof}", f"--screenshot={png}",
                                "--window-size=1200,700", "file://" + svg], capture_output=True, text=True,
                               timeout=120)
        self.assertTrue(os.path.exists(png), r.stderr[-2000:])
        w, h, rows = png_pixels(png)
        colors = {}
        for row in rows:
            for px in row:
                colors[px] = colors.get(px, 0) + 1
        green = sum(n for (r_, g, b), n in colors.items() if g > r_ + 30 and g > b + 60)
        print(f"  screenshot {w}x{h}: {len(colors)} colours, {green} Python-frame pixels")
        self.assertGreater(len(colors), 20, "screenshot looks blank")
        self.assertGreater(green, 5000, "no Python frames visible")

    def test_profile_service_window_svg_matches_folded(self):
        """Two back-to-back --window profiles of the service cover (nearly) the same history, so the
        SVG's frames must agree closely with the folded text."""
        outs = {}
        for fmt in ("svg", "folded"):
            outs[fmt] = os.path.join(self.tmp, f"window.{fmt}")
            t0 = time.monotonic()
            self.run_ok("profile", "--service", SERVICE, "--window", "--seconds", 10, "-f", fmt, "-o", outs[fmt])
            self.assertLess(time.monotonic() - t0, 5, "window mode answers from history")
        folded = lib.parse_folded(open(outs["folded"]).read())
        self.assertGreater(sum(folded.values()), 50)
        self.compare_top_frames(by_depth_svg(outs["svg"]), by_depth_folded(folded), 0.05)

    def compare_top_frames(self, svg, folded, tol):
        depths = [d for d in range(4) if d in folded]
        self.assertEqual(len(depths), 4, f"folded stacks too shallow: {folded}")
        for d in depths:
            self.assertIn(d, svg, f"SVG has no frames at depth {d}")
            top_f, top_s = heaviest(folded[d]), heaviest(svg[d])
            print(f"  depth {d}: folded {top_f} {share(folded[d], top_f):.2f}, svg {top_s} {share(svg[d], top_s):.2f}")
            self.assertEqual(top_s, top_f, f"depth {d}")
            self.assertAlmostEqual(share(svg[d], top_f), share(folded[d], top_f), delta=tol)
        self.assertEqual([heaviest(folded[d]) for d in depths], ["<module>", "main", "hot_a", "spin"])

    def test_profile_json_summary_and_stdout(self):
        out = os.path.join(self.tmp, "summary.folded")
        r = self.run_ok("profile", "--pid", self.work.pid, "--seconds", 1, "-o", out, "--json")
        doc = json.loads(r.stdout)
        self.assertEqual(doc["source"], "daemon")
        self.assertEqual((doc["pid"], doc["seconds"], doc["format"], doc["mode"]), (self.work.pid, 1, "folded", "capture"))
        self.assertEqual(doc["bytes"], os.path.getsize(out))
        # without -o the profile itself goes to stdout
        r = self.run_ok("profile", "--pid", self.work.pid, "--seconds", 1)
        self.assertGreater(sum(lib.parse_folded(r.stdout).values()), 20)

    def test_profile_progress_on_terminal(self):
        out = os.path.join(self.tmp, "tty.folded")
        master, slave = os.openpty()
        p = subprocess.Popen([lib.CLI, "profile", "--pid", str(self.work.pid), "--seconds", "3", "-o", out,
                              "--server", self.d.url], stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        buf = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        self.assertEqual(p.wait(10), 0, buf)
        os.close(master)
        text = buf.decode(errors="replace")
        self.assertIn(f"profiling pid {self.work.pid}: 1/3 s", text)
        self.assertIn(f"profiling pid {self.work.pid}: 2/3 s", text)
        self.assertGreater(sum(lib.parse_folded(open(out).read()).values()), 100)

    def test_profile_unknown_targets(self):
        """The daemon's JSON error, naming the target, as the one line."""
        for args in (("--service", "no-such.service"), ("--pid", "4000000")):
            r = cli("profile", *args, "--seconds", 1, "--server", self.d.url)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertTrue(r.stderr.startswith("pyrometer: ") and "HTTP" not in r.stderr, r.stderr)
            self.assertIn(args[1], r.stderr)


class StoppedDaemon(unittest.TestCase):
    """The daemon's port after it stopped: every verb says so in one line; profile --pid records
    standalone."""

    @classmethod
    def setUpClass(cls):
        lib.require_root(cls)
        d = lib.Daemon()
        cls.url = d.url
        d.stop()
        cls.tmp = tempfile.mkdtemp(prefix="pyrometer-cli-stopped-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_unreachable(self, r):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        m = UNREACHABLE.match(r.stderr)
        self.assertIsNotNone(m, repr(r.stderr))
        self.assertEqual(m.group(1), self.url)

    def test_one_line_exit_1(self):
        for args in (("status",), ("status", "--json"), ("top", "--once"), ("top",), ("processes",),
                     ("processes", "--pid", "1"), ("profile", "--service", "x.service", "--seconds", "1"),
                     ("profile", "--pid", "1", "--window")):
            with self.subTest(args=args):
                t0 = time.monotonic()
                self.assert_unreachable(cli(*args, "--server", self.url, timeout=30))
                self.assertLess(time.monotonic() - t0, 5)
        self.assert_unreachable(cli("status", env={"PYROMETER_SERVER": self.url}))

    def test_profile_pid_falls_back_to_standalone(self):
        work = lib.start_py(PY, "cpu_split.py")
        try:
            for fmt in ("folded", "svg"):
                out = os.path.join(self.tmp, f"standalone.{fmt}")
                r = cli("profile", "--pid", work.pid, "--seconds", 2, "-f", fmt, "-o", out, "--json",
                        "--server", self.url)
                self.assertEqual(r.returncode, 0, r.stderr)
                notes = [l for l in r.stderr.splitlines() if "standalone" in l]
                self.assertEqual(len(notes), 1, r.stderr)
                self.assertRegex(notes[0], rf"^pyrometer: pyrometerd not reachable at {re.escape(self.url)} "
                                           rf"\(.+\); recording pid {work.pid} standalone$")
                doc = json.loads(r.stdout)
                self.assertEqual((doc["source"], doc["bytes"]), ("standalone", os.path.getsize(out)))
            stacks = lib.parse_folded(open(os.path.join(self.tmp, "standalone.folded")).read())
            total = sum(stacks.values())
            hot = sum(n for s, n in stacks.items() if any(lib.frame_name(f) == "hot_a" for f in s))
            print(f"  standalone: {total} samples, hot_a {hot}")
            self.assertGreater(total, 100)
            self.assertGreater(hot / total, 0.5)
            x = subprocess.run(["xmllint", "--noout", os.path.join(self.tmp, "standalone.svg")],
                               capture_output=True, text=True)
            self.assertEqual(x.returncode, 0, x.stderr)
        finally:
            lib.stop(work)

    def test_fallback_reports_a_non_python_pid(self):
        p = subprocess.Popen(["sleep", "30"])
        try:
            r = cli("profile", "--pid", p.pid, "--seconds", 1, "--server", self.url)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"process {p.pid} is not a Python process", r.stderr)
        finally:
            p.kill()
            p.wait()


class TlsAndAuth(unittest.TestCase):
    """A daemon with HTTPS (self-signed certificate made here) and basic auth (sha512crypt hash):
    --cacert, --insecure and --user work; a missing CA, no or wrong credentials and plain HTTP
    each fail in one line with exit 1."""

    @classmethod
    def setUpClass(cls):
        lib.require_root(cls)
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        cls.tmp = tempfile.mkdtemp(prefix="pyrometer-cli-tls-")
        cert, key = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        pwhash = subprocess.run(["openssl", "passwd", "-6", "pw:with colon"], check=True, capture_output=True,
                                text=True).stdout.strip()
        conf = os.path.join(cls.tmp, "pyrometer.conf")
        with open(conf, "w") as f:
            f.write(f"tls_cert_file = {cert}\ntls_key_file = {key}\n"
                    f"basic_auth_user = alice\nbasic_auth_password_hash = {pwhash}\n")
        cls.port = lib.free_port()
        cls.url, cls.cert = f"https://127.0.0.1:{cls.port}", cert
        cls.log = open(os.path.join(cls.tmp, "log"), "w+")
        cls.p = subprocess.Popen([lib.DAEMON, "--config", conf, "--listen", f"127.0.0.1:{cls.port}"],
                                 stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if cls.p.poll() is not None:
                break
            if cli("status", "--server", cls.url, "--insecure", "--user", "alice:pw:with colon",
                   timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        cls.tearDownClass()
        raise RuntimeError("pyrometerd with TLS did not come up")

    @classmethod
    def tearDownClass(cls):
        if cls.p.poll() is None:
            cls.p.terminate()
            cls.p.wait(10)
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_cacert_and_user(self):
        r = cli("status", "--json", "--server", self.url, "--cacert", self.cert, "--user", "alice:pw:with colon")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "ok")
        r = cli("top", "--once", "--server", self.url, "--insecure", "--user", "alice:pw:with colon")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("SERVICE", r.stdout)

    def test_failures_are_one_line(self):
        good = ("--user", "alice:pw:with colon")
        cases = [
            (("--server", self.url, *good), r"^pyrometer: request to pyrometerd at .* failed: .*certificate"),
            (("--server", self.url, "--cacert", self.cert), r"^pyrometer: authentication required$"),
            (("--server", self.url, "--insecure", "--user", "alice:wrong"), r"^pyrometer: authentication required$"),
            (("--server", f"http://127.0.0.1:{self.port}", *good), r"^pyrometer: request to pyrometerd at "),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                r = cli("status", *args, timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertRegex(r.stderr.rstrip("\n"), want)


if __name__ == "__main__":
    unittest.main()
