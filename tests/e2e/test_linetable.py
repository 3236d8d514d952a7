"""Line-table decoder against the real interpreters: every code unit of every code object compiled
from each interpreter's own stdlib must decode (pylt_line, via build/tests/linetable_check) to the
line CPython reports (tests/py/dump_linetables.py, itself checked against PyCode_Addr2Line)."""
import concurrent.futures, os, re, subprocess, time, unittest

import lib

CHECKER = os.path.join(lib.BUILD, "tests", "linetable_check")
DUMPER = os.path.join(lib.PYDIR, "dump_linetables.py")
MIN_UNITS = 500_000  # the smallest stdlib here (Debian 3.11, no test/) has ~1.9M units
REQUIRED = {"3.10", "3.11", "3.12", "3.13"}


def minor_of(exe):
    out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def run_pair(exe):
    """Pipes the dumper into the checker; returns (checker stdout, dumper stderr, rcs, seconds)."""
    t0 = time.monotonic()
    dump = subprocess.Popen([exe, DUMPER], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check = subprocess.run([CHECKER], stdin=dump.stdout, capture_output=True, text=True,
                               timeout=180)
    finally:
        dump.stdout.close()
        try:
            dump_err = dump.stderr.read().decode(errors="replace")
            dump.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dump.kill()
            dump.wait()
        dump.stderr.close()
    return check.stdout, dump_err + check.stderr, dump.returncode, check.returncode, \
        time.monotonic() - t0


def parse_counts(text):
    m = re.search(r"^units=\d+ .*$", text, re.M)
    if not m:
        return None
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(0))}


class LineTableTest(unittest.TestCase):
    def test_stdlib_every_unit_matches_cpython(self):
        self.assertTrue(os.access(CHECKER, os.X_OK), f"{CHECKER} missing: run make tools")
        interps = lib.interpreters()
        if not interps:
            raise unittest.SkipTest("no CPython 3.8-3.13 on this machine")
        minors = {label: minor_of(exe) for label, exe in interps}
        # Biggest stdlibs first so two workers finish together.
        interps.sort(key=lambda li: (li[0].startswith("debian"), minors[li[0]]), reverse=True)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip([l for l, _ in interps], pool.map(run_pair, [e for _, e in interps])))
        print(f"\n  line tables: {len(interps)} interpreters in {time.monotonic() - t0:.1f}s")
        for label, exe in interps:
            out, err, dump_rc, check_rc, secs = results[label]
            counts = parse_counts(out)
            summary = [l for l in out.splitlines() if l.startswith("units=")]
            print(f"  {label:16} {summary[0] if summary else '(no counts)'} ({secs:.1f}s)")
            with self.subTest(interpreter=label):
                how = f"killed by signal {-dump_rc}" if dump_rc < 0 else f"exit {dump_rc}"
                self.assertEqual(dump_rc, 0, f"dumper {how} under {exe}: {err[-2000:]}")
                self.assertIsNotNone(counts, f"no counts from the checker: {out!r} {err[-2000:]}")
                self.assertEqual(counts["addr2line_differ"], 0,
                                 f"expectations disagree with PyCode_Addr2Line: {err[-2000:]}")
                self.assertEqual(counts["mismatches"], 0, f"decoder mismatches:\n{out}")
                self.assertEqual(check_rc, 0, f"checker failed: {out} {err[-2000:]}")
                self.assertGreaterEqual(counts["units"], MIN_UNITS)
                self.assertEqual(counts["addr2line_checked"], counts["units"])
                self.assertGreaterEqual(counts["files_ok"], 500)
                self.assertLess(counts["files_failed"], counts["files_ok"] // 20)
        missing = REQUIRED - set(minors.values())
        if missing:
            raise unittest.SkipTest(f"checked {sorted(set(minors.values()))}, but no interpreter "
                                    f"for {sorted(missing)}")


if __name__ == "__main__":
    unittest.main()
