"""End-to-end checks of the profile output formats (no BPF needed): a synthetic profile is built
from folded text by build/tests/mkprofile and written by the real writers; then real consumers
read it back: `go tool pprof` and `protoc --decode` for pprof, json for speedscope, xmllint and a
headless Chromium (screenshot, query-parameter zoom, and real mouse hover/click driven through the
DevTools protocol over --remote-debugging-pipe) for the SVG flame graph."""
import gzip, json, os, random, re, select, shutil, struct, subprocess, tempfile, time, unittest
import xml.etree.ElementTree as ET
import zlib

from lib import BUILD, ROOT, parse_folded

MKPROFILE = os.path.join(BUILD, "tests", "mkprofile")
PROTO_DIR = os.path.join(ROOT, "proto")
PERIOD_NS = 10_000_000
SVG_NS = "{http://www.w3.org/2000/svg}"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def synthetic_folded(seed=7, nstacks=400):
    """Deterministic folded text over a small call graph: Python frames with and without lines, a
    thread root, native and kernel leaves, a marker, and names that need escaping."""
    rnd = random.Random(seed)
    funcs = [f"mod{i}.f{i} (/srv/app/mod{i % 5}.py:{10 + i})" for i in range(30)]
    funcs.append("Handler.get (/srv/app/views.py)")
    callees = {f: rnd.sample(funcs, 3) for f in funcs}
    leaves = ["libc_read", "PyObject_Malloc", "do_syscall_64_[k]", "copy_user_generic_[k]",
              "[truncated]", "odd\\x3bname", "back\\\\slash"]
    lines = []
    for _ in range(nstacks):
        frames = ["main_[t]", "main (/srv/app/main.py:5)"]
        f = rnd.choice(funcs[:4])
        for _ in range(rnd.randint(1, 9)):
            frames.append(f)
            f = rnd.choice(callees[f])
        if rnd.random() < 0.5:
            frames.append(rnd.choice(leaves))
            if frames[-1] == "libc_read":
                frames.append("vfs_read_[k]")
        lines.append(";".join(frames) + f" {rnd.randint(1, 50)}")
    return "\n".join(lines) + "\n"


def output_label(frame):
    """What a folded frame prints as after a round trip: annotations like _[k] are input-only."""
    return re.sub(r"_\[[ktp]\]$", "", frame)


def expected_stacks(folded):
    out = {}
    for stack, n in parse_folded(folded).items():
        key = tuple(output_label(f) for f in stack)
        out[key] = out.get(key, 0) + n
    return out


def func_name(label):
    """pprof Function.name of an output label: Python 'qualname (path:line)' -> 'qualname'."""
    name = label.split(" (", 1)[0] if label.endswith(")") and " (" in label else label
    return name.replace("\\x3b", ";").replace("\\\\", "\\")


def png_pixels(path):
    """(width, height, rows of RGB tuples) from a non-interlaced 8-bit RGB/RGBA PNG, stdlib only."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and not interlace, f"unsupported PNG {hdr}"
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), [], 0
    for _ in range(h):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class CDP:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out,
    NUL-terminated JSON messages): enough to open a page, evaluate JS and send mouse input."""

    def __init__(self, exe, url, width=1300, height=900):
        self.profile_dir = tempfile.mkdtemp(prefix="pyrometer-cdp-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        args = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile_dir}",
                f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"]
        import fcntl

        def pipe_fds():
            # in the child: park both ends above the range first, so placing them on 3 and 4
            # cannot clobber one with the other whatever numbers the parent got
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 20)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 20)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(args, preexec_fn=pipe_fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf, self.next_id = b"", 0
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method, session=None, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise AssertionError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise AssertionError(f"no CDP reply to {method}")
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise AssertionError(f"chromium closed the pipe during {method}")
            self.buf += chunk

    def js(self, expr):
        r = self.call("Runtime.evaluate", session=self.session, expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"JS error in {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expr):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expr}")

    def mouse(self, kind, x, y, **extra):
        self.call("Input.dispatchMouseEvent", session=self.session, type=kind, x=x, y=y, **extra)

    def click(self, x, y):
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, button="left", clickCount=1)
        self.mouse("mouseReleased", x, y, button="left", clickCount=1)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        shutil.rmtree(self.profile_dir, ignore_errors=True)


class FormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(MKPROFILE, os.X_OK):
            raise AssertionError(f"{MKPROFILE} missing: run `make all` first")
        cls.tmp = tempfile.mkdtemp(prefix="pyrometer-formats-")
        cls.folded = synthetic_folded()
        cls.expected = expected_stacks(cls.folded)
        cls.total = sum(cls.expected.values())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def mkprofile(self, fmt, *args, text=None, name=None):
        path = os.path.join(self.tmp, name or f"profile.{fmt}")
        r = subprocess.run([MKPROFILE, "-f", fmt, "-o", path, *map(str, args)],
                           input=(text or self.folded).encode(), capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return path

    # ---- folded ------------------------------------------------------------------------------

    def test_folded_roundtrip(self):
        out = open(self.mkprofile("folded")).read()
        lines = out.splitlines()
        self.assertEqual(lines, sorted(lines), "folded output is not sorted")
        self.assertEqual(len(lines), len(set(l.rpartition(" ")[0] for l in lines)))
        self.assertEqual(parse_folded(out), self.expected)
        self.assertIn("odd\\x3bname", out)  # escapes survive the round trip
        # The output parses back to itself.
        again = subprocess.run([MKPROFILE, "-f", "folded"], input=out.encode(), capture_output=True)
        self.assertEqual(again.stdout.decode(), out)

    # ---- pprof -------------------------------------------------------------------------------

    def pprof_file(self):
        return self.mkprofile("pprof", "-p", PERIOD_NS, "-s", 1_700_000_000_000_000_000,
                              "-d", 30_000_000_000)

    def test_pprof_go_tool(self):
        go = shutil.which("go")
        if not go:
            self.skipTest("go not installed (test_pprof_protoc_decode covers the format)")
        path = self.pprof_file()
        env = dict(os.environ, HOME=self.tmp, PPROF_TMPDIR=self.tmp)
        raw = subprocess.run([go, "tool", "pprof", "-raw", path], capture_output=True, text=True,
                             env=env, timeout=120)
        self.assertEqual(raw.returncode, 0, raw.stderr)
        self.assertIn("PeriodType: cpu nanoseconds", raw.stdout)
        self.assertIn(f"Period: {PERIOD_NS}", raw.stdout)
        self.assertIn("Duration: 30s", raw.stdout)
        samples = re.findall(r"^\s+(\d+)\s+(\d+): [\d ]+$", raw.stdout, re.M)
        self.assertEqual(len(samples), len(self.expected))
        self.assertEqual(sum(int(a) for a, _ in samples), self.total)
        self.assertEqual(sum(int(b) for _, b in samples), self.total * PERIOD_NS)
        # -top: per-function flat (leaf) counts match what the input says.
        top = subprocess.run([go, "tool", "pprof", "-top", "-nodecount=1000", "-sample_index=samples",
                              path], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(top.returncode, 0, top.stderr)
        self.assertIn(f"of {self.total} total", top.stdout)
        want = {}
        for stack, n in self.expected.items():
            want[func_name(stack[-1])] = want.get(func_name(stack[-1]), 0) + n
        got = {}
        for m in re.finditer(r"^\s+(\d+)\s+[\d.]+%\s+[\d.]+%\s+(\d+)\s+[\d.]+%\s+(.+)$", top.stdout, re.M):
            if int(m.group(1)):
                got[m.group(3)] = int(m.group(1))
        self.assertEqual(got, want)

    def test_pprof_protoc_decode(self):
        protoc = shutil.which("protoc")
        if not protoc:
            self.skipTest("protoc not installed")
        data = open(self.pprof_file(), "rb").read()
        self.assertEqual(data[:2], b"\x1f\x8b")
        text = subprocess.run([protoc, "--decode", "perftools.profiles.Profile", f"--proto_path={PROTO_DIR}",
                               "profile.proto"], input=gzip.decompress(data), capture_output=True,
                              timeout=60)
        self.assertEqual(text.returncode, 0, text.stderr.decode())
        out = text.stdout.decode()
        samples = re.findall(r"^sample \{\n((?:  .*\n)*?)\}", out, re.M)
        self.assertEqual(len(samples), len(self.expected))
        counts = [[int(v) for v in re.findall(r"value: (-?\d+)", s)] for s in samples]
        self.assertTrue(all(len(c) == 2 and c[1] == c[0] * PERIOD_NS for c in counts))
        self.assertEqual(sum(c[0] for c in counts), self.total)
        self.assertRegex(out, r'string_table: ""\n')  # index 0 is ""
        self.assertIn("time_nanos: 1700000000000000000", out)

    # ---- speedscope --------------------------------------------------------------------------

    def test_speedscope(self):
        doc = json.load(open(self.mkprofile("speedscope", "-t", "synthetic")))
        self.assertEqual(doc["$schema"], "https://www.speedscope.app/file-format-schema.json")
        prof = doc["profiles"][0]
        self.assertEqual((prof["type"], prof["unit"], prof["name"]), ("sampled", "none", "synthetic"))
        self.assertEqual(sum(prof["weights"]), self.total)
        self.assertEqual(prof["endValue"], self.total)
        frames = doc["shared"]["frames"]
        got = {}
        for stack, w in zip(prof["samples"], prof["weights"]):
            key = tuple(frames[i]["name"] for i in stack)
            got[key] = got.get(key, 0) + w
        want = {}
        for stack, n in self.expected.items():
            key = tuple(func_name(f) for f in stack)
            want[key] = want.get(key, 0) + n
        self.assertEqual(got, want)

    # ---- SVG ---------------------------------------------------------------------------------

    def svg_file(self):
        return self.mkprofile("svg", "-p", PERIOD_NS, "-t", "synthetic <profile> & co", name="fg.svg")

    def test_svg_xmllint(self):
        xmllint = shutil.which("xmllint")
        if not xmllint:
            self.skipTest("xmllint not installed (apt libxml2-utils)")
        path = self.svg_file()
        r = subprocess.run([xmllint, "--noout", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        root = ET.parse(path).getroot()
        titles = [t.text for t in root.iter(SVG_NS + "title")]
        self.assertIn(f"all \u2014 {self.total} samples (100.00%)", titles)
        main = sum(n for s, n in self.expected.items() if s[:2] == ("main", "main (/srv/app/main.py:5)"))
        self.assertIn(f"main (/srv/app/main.py:5) \u2014 {main} samples ({100 * main / self.total:.2f}%)",
                      titles)

    def chrome(self):
        exe = chromium()
        if not exe:
            self.skipTest("chromium not installed")
        return exe

    def test_svg_chromium_screenshot(self):
        exe, path = self.chrome(), self.svg_file()
        png = os.path.join(self.tmp, "fg.png")
        with tempfile.TemporaryDirectory() as prof:
            r = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={prof}", f"--screenshot={png}",
                                "--window-size=1200,800", "file://" + path],
                               capture_output=True, text=True, timeout=120)
        self.assertTrue(os.path.exists(png), r.stderr[-2000:])
        w, h, rows = png_pixels(png)
        self.assertEqual((w, h), (1200, 800))
        colors = {}
        for row in rows:
            for px in row:
                colors[px] = colors.get(px, 0) + 1
        self.assertGreater(len(colors), 50, "screenshot looks blank")
        # Pixels per colour family: frames of each kind were painted.
        green = sum(n for (r_, g, b), n in colors.items() if g > r_ + 30 and g > b + 60)  # Python
        blue = sum(n for (r_, g, b), n in colors.items() if b > r_ + 60 and b > g + 20)   # kernel
        red = sum(n for (r_, g, b), n in colors.items() if r_ > g + 40 and r_ > b + 90)   # native
        self.assertGreater(green, 20000, "no Python frames visible")
        self.assertGreater(blue, 500, "no kernel frames visible")
        self.assertGreater(red, 500, "no native frames visible")

    def dump_dom(self, url):
        with tempfile.TemporaryDirectory() as prof:
            r = subprocess.run([self.chrome(), *CHROMIUM_FLAGS, f"--user-data-dir={prof}", "--dump-dom", url],
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return ET.fromstring(r.stdout)

    @staticmethod
    def frames_of(root):
        out = []
        for g in root.iter(SVG_NS + "g"):
            if "f" in g.get("class", "").split():
                title = g.find(SVG_NS + "title").text
                out.append((title.rsplit(" \u2014 ", 1)[0], g))
        return out

    def test_svg_js_query_zoom_and_search(self):
        path = self.svg_file()
        target = "mod1.f1 (/srv/app/mod1.py:11)"
        q = "zoom=" + target.replace(" ", "%20").replace("/", "%2F").replace(":", "%3A")
        root = self.dump_dom(f"file://{path}?{q}&search=copy_user")
        self.assertEqual(root.get("data-zoom"), target)
        frames = self.frames_of(root)
        cands = [g for label, g in frames if label == target]
        zoomed = max(cands, key=lambda g: int(g.get("data-v")))
        s, v, d = (int(zoomed.get(k)) for k in ("data-s", "data-v", "data-d"))
        rect = zoomed.find(SVG_NS + "rect")
        self.assertAlmostEqual(float(rect.get("width")), 1180.0, places=1)
        shown = hidden = parents = 0
        for label, g in frames:
            gs, gv, gd = (int(g.get(k)) for k in ("data-s", "data-v", "data-d"))
            visible = "display: none" not in g.get("style", "")
            width = float(g.find(SVG_NS + "rect").get("width"))
            if gd >= d and gs >= s and gs + gv <= s + v:
                self.assertTrue(visible, label)
                self.assertAlmostEqual(width, gv / v * 1180.0, delta=0.02)
                shown += 1
            elif gd < d and gs <= s and gs + gv >= s + v:
                self.assertIn("parent", g.get("class"))
                parents += 1
            else:
                self.assertFalse(visible, f"{label} outside the zoomed subtree is visible")
                hidden += 1
        self.assertEqual(parents, d)
        self.assertGreater(hidden, 10)
        self.assertGreater(shown, 1)
        # Search: the matched share is the union of the matching frames' ranges.
        want = sum(n for st, n in self.expected.items() if any("copy_user" in f for f in st))
        self.assertEqual(int(root.get("data-matched")), want)
        self.assertTrue(any(g.find(SVG_NS + "rect").get("fill") == "rgb(230,0,230)"
                            for label, g in frames if "copy_user" in label))

    def test_svg_js_mouse_hover_click_reset(self):
        exe, path = self.chrome(), self.svg_file()
        cdp = CDP(exe, "file://" + path)
        try:
            cdp.wait_for("typeof rootG === 'object' && rootG !== null")
            target = "main (/srv/app/main.py:5)"
            box = cdp.js(f"""(() => {{
                const g = frames.filter(g => label(g) === {json.dumps(target)})[0];
                const r = g.querySelector('rect').getBoundingClientRect();
                return [r.x + 5, r.y + r.height / 2, r.width, g.querySelector('title').textContent];
            }})()""")
            x, y, width0, title = box
            self.assertGreater(width0, 1000)
            cdp.mouse("mouseMoved", x, y)
            self.assertEqual(cdp.js("document.getElementById('details').textContent"), title)
            # Click a narrower frame: it must fill the width, and Reset zoom must appear.
            pick = cdp.js("""(() => {
                const gs = frames.filter(g => +g.getAttribute('data-d') >= 4 &&
                                              +g.getAttribute('data-v') * 20 > +rootG.getAttribute('data-v'));
                const g = gs[0], r = g.querySelector('rect').getBoundingClientRect();
                return [r.x + r.width / 2, r.y + r.height / 2, label(g), r.width];
            })()""")
            px, py, plabel, pwidth = pick
            self.assertLess(pwidth, 1100)
            cdp.click(px, py)
            self.assertEqual(cdp.js("svg.getAttribute('data-zoom')"), plabel)
            zw = cdp.js(f"""frames.filter(g => label(g) === {json.dumps(plabel)} &&
                             g.style.display !== 'none' && !g.classList.contains('parent'))
                           .map(g => +g.querySelector('rect').getAttribute('width'))""")
            self.assertIn(1180.0, zw)
            self.assertTrue(cdp.js("!document.getElementById('unzoom').classList.contains('hide')"))
            hidden = cdp.js("frames.filter(g => g.style.display === 'none').length")
            self.assertGreater(hidden, 0)
            ub = cdp.js("""(() => { const r = document.getElementById('unzoom').getBoundingClientRect();
                                    return [r.x + r.width / 2, r.y + r.height / 2]; })()""")
            cdp.click(*ub)
            self.assertIsNone(cdp.js("svg.getAttribute('data-zoom')"))
            self.assertEqual(cdp.js("frames.filter(g => g.style.display === 'none').length"), 0)
            w = cdp.js(f"""+frames.filter(g => label(g) === {json.dumps(target)})[0]
                           .querySelector('rect').getAttribute('width')""")
            self.assertAlmostEqual(w, width0, delta=0.05)
        finally:
            cdp.close()


if __name__ == "__main__":
    unittest.main()
