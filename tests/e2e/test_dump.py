"""`pyrometer dump`: every thread's stack of a live CPython, compared with the target's own
sys._current_frames() on every interpreter of the machine; plus the error paths (no such process,
not a Python process, bad flags)."""
import json, os, re, subprocess, tempfile, time, unittest

import lib


def wait_tasks(pid, n, timeout=10):
    """Waits until the process has n tasks (the reporter thread of three_threads.py has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(os.listdir(f"/proc/{pid}/task")) == n:
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} still has {len(os.listdir(f'/proc/{pid}/task'))} tasks")


class DumpTest(unittest.TestCase):
    def setUp(self):
        lib.require_root(self)
        if not os.access(lib.CLI, os.X_OK):
            self.skipTest(f"{lib.CLI} not built")

    def start_workload(self, interp):
        fd, out = tempfile.mkstemp(prefix="three_threads.", suffix=".json")
        os.close(fd)
        self.addCleanup(os.unlink, out)
        p = lib.start_py(interp, "three_threads.py", out)
        self.addCleanup(lib.stop, p)
        wait_tasks(p.pid, 3)
        with open(out) as f:
            doc = json.load(f)
        self.version = doc["version"]
        return p, {t["thread_id"]: t["frames"] for t in doc["threads"]}

    def test_json_matches_current_frames(self):
        interps = lib.interpreters()
        self.assertTrue(interps, "no CPython interpreters found")
        for label, interp in interps:
            with self.subTest(interp=label):
                p, expected = self.start_workload(interp)
                r = lib.run_cli("dump", "--pid", p.pid, "--json")
                doc = json.loads(r.stdout)
                self.assertEqual(doc["pid"], p.pid)
                # full version from Py_Version on 3.11+, major.minor from the file name before
                v = tuple(map(int, self.version.split(".")))
                want = self.version if v >= (3, 11) else "%d.%d" % v[:2]
                self.assertEqual(doc["python_version"], want)
                got = {t["thread_id"]: t for t in doc["threads"]}
                self.assertEqual(sorted(got), sorted(expected))
                tasks = {int(t) for t in os.listdir(f"/proc/{p.pid}/task")}
                for ident, frames in expected.items():
                    th = got[ident]
                    self.assertEqual(th["frames"], frames, f"thread {ident:#x}")
                    self.assertFalse(th["truncated"])
                    self.assertFalse(th["read_error"])
                    self.assertIn(th["tid"], tasks)
                self.assertEqual({t["tid"] for t in doc["threads"]}, tasks)
                main = [t for t in doc["threads"] if t["frames"] and
                        t["frames"][0]["name"] == "park_main"]
                self.assertEqual(len(main), 1)
                self.assertEqual(main[0]["tid"], p.pid)

    def test_text_output(self):
        for label, interp in lib.interpreters():
            with self.subTest(interp=label):
                p, expected = self.start_workload(interp)
                r = lib.run_cli("dump", "--pid", p.pid)
                blocks = {}
                for block in r.stdout.split("\n\n")[1:]:
                    lines = block.strip("\n").splitlines()
                    if not lines:
                        continue
                    m = re.fullmatch(r"Thread 0x([0-9a-f]+) \(tid (\d+)\)", lines[0])
                    self.assertTrue(m, lines[0])
                    blocks[int(m.group(1), 16)] = lines[1:]
                self.assertEqual(sorted(blocks), sorted(expected))
                for ident, frames in expected.items():
                    want = [f"    {f['name']} ({f['file']}:{f['line']})" for f in frames]
                    self.assertEqual(blocks[ident], want)

    def assert_one_line_error(self, r, pattern):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], pattern)

    def test_no_such_process(self):
        # a pid that existed a moment ago and has been reaped
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(os.path.exists(f"/proc/{p.pid}"))
        r = lib.run_cli("dump", "--pid", p.pid, check=False)
        self.assert_one_line_error(r, rf"no process with pid {p.pid}")

    def test_not_python(self):
        p = subprocess.Popen(["sleep", "100"])
        self.addCleanup(lib.stop, p)
        time.sleep(0.2)
        r = lib.run_cli("dump", "--pid", p.pid, check=False)
        self.assert_one_line_error(r, rf"process {p.pid} is not a CPython process")

    def test_bad_flags(self):
        for args in (["dump"], ["dump", "--bogus"], ["dump", "--pid"], ["dump", "--pid", "x"],
                     ["dump", "--pid", "1", "extra"]):
            with self.subTest(args=args):
                r = lib.run_cli(*args, check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertRegex(r.stderr, r"usage: pyrometer dump|invalid pid")


if __name__ == "__main__":
    unittest.main()
