#!/usr/bin/python3
"""End-to-end test runner: discovers tests/e2e/test_*.py (unittest), runs them as root against the
real build, prints one line per test with its duration and a closing 'e2e: N passed, N failed,
N skipped' line. Usage: run.py [-k substring] [module ...]."""
import argparse, os, sys, time, unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def _line(self, test, word, extra=""):
        dt = time.monotonic() - getattr(self, "_t0", time.monotonic())
        self.stream.write(f"[{word:4}] {test.id()} ({dt:.1f}s){extra}\n")
        self.stream.flush()

    passed = 0

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        self.passed += 1
        self._line(test, "ok")

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._line(test, "FAIL")
        self.stream.write(self._exc_info_to_string(err, test) + "\n")

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._line(test, "ERR")
        self.stream.write(self._exc_info_to_string(err, test) + "\n")

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line(test, "skip", f": {reason}")


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[], help="run tests whose id contains this")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.modules:
        suite = unittest.TestSuite(loader.loadTestsFromName(m.removesuffix(".py")) for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = [t for t in iter_tests(suite) if not args.k or any(k in t.id() for k in args.k)]
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0, resultclass=Result)
    t0 = time.monotonic()
    res = runner.run(unittest.TestSuite(tests))
    failed = len(res.failures) + len(res.errors)
    passed = res.passed
    print(f"e2e: {passed} passed, {failed} failed, {len(res.skipped)} skipped ({time.monotonic()-t0:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
