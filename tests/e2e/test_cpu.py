"""CPU profiles with real Python stacks, sampled in BPF (`pyrometer record`), on every interpreter
this machine has: split ground truth, symbolization share, threads, deep recursion, new processes."""
import os, subprocess, time, unittest

import lib

RATE = 297      # Hz per CPU: more samples per second than the default 99, same code path
SECONDS = 4


def record(pid, *extra, seconds=SECONDS, rate=RATE):
    r = lib.run_cli("record", "--pid", pid, "--duration", seconds, "--rate", rate, *extra,
                    timeout=seconds + 60)
    return lib.parse_folded(r.stdout), r.stderr


def share(stacks, pred):
    total = sum(stacks.values())
    return sum(n for s, n in stacks.items() if pred(s)) / total if total else 0.0


def has_func(name):
    return lambda stack: any(lib.frame_name(f) == name for f in stack)


class CpuProfiles(unittest.TestCase):
    def setUp(self):
        lib.require_root(self)

    def test_split_ground_truth_every_interpreter(self):
        interps = lib.interpreters()
        self.assertTrue(interps, "no CPython interpreters found")
        versions = {label for label, _ in interps}
        for label, exe in interps:
            with self.subTest(interpreter=label):
                p = lib.start_py(exe, "cpu_split.py")
                try:
                    time.sleep(0.3)
                    stacks, err = record(p.pid)
                finally:
                    lib.stop(p)
                total = sum(stacks.values())
                a = sum(n for s, n in stacks.items() if has_func("hot_a")(s))
                b = sum(n for s, n in stacks.items() if has_func("cold_b")(s))
                symbolized = share(stacks, lambda s: not any(
                    "<unknown>" in f or f.startswith("[") for f in s))
                print(f"  {label}: {total} samples, hot_a {a}, cold_b {b}, "
                      f"split {100*a/max(a+b,1):.1f}%, symbolized {100*symbolized:.1f}%")
                self.assertGreater(total, 200, f"too few samples: {err}")
                self.assertAlmostEqual(100 * a / (a + b), 75, delta=7)
                self.assertGreaterEqual(symbolized, 0.95)
                # the leaf frames carry real file and line
                leaf = next(s for s in stacks if has_func("hot_a")(s))
                self.assertTrue(any("cpu_split.py:" in f for f in leaf), leaf)
        self.assertIn("debian-3.11", versions)

    def test_threads_attributed_to_their_own_stacks(self):
        for label, exe in lib.interpreters():
            with self.subTest(interpreter=label):
                p = lib.start_py(exe, "two_threads.py")
                try:
                    _, tid_a, tid_b = p.ready_line.split()
                    stacks, _ = record(p.pid, "--threads", seconds=3)
                finally:
                    lib.stop(p)
                by_thread = {}
                for s, n in stacks.items():
                    by_thread.setdefault(s[0], {}).setdefault(
                        "alpha" if has_func("work_alpha")(s) else
                        "beta" if has_func("work_beta")(s) else "other", 0)
                    by_thread[s[0]]["alpha" if has_func("work_alpha")(s) else
                                    "beta" if has_func("work_beta")(s) else "other"] += n
                ta = next(v for k, v in by_thread.items() if k.startswith(f"thread {tid_a}"))
                tb = next(v for k, v in by_thread.items() if k.startswith(f"thread {tid_b}"))
                print(f"  {label}: alpha thread {ta}, beta thread {tb}")
                self.assertGreater(ta.get("alpha", 0), 100)
                self.assertGreater(tb.get("beta", 0), 100)
                self.assertEqual(ta.get("beta", 0), 0)
                self.assertEqual(tb.get("alpha", 0), 0)

    def test_deep_recursion_is_truncated_with_top_frames(self):
        exe = "/usr/bin/python3.11"
        p = lib.start_py(exe, "deep.py", 500)
        try:
            stacks, _ = record(p.pid, seconds=2)
        finally:
            lib.stop(p)
        spin = {s: n for s, n in stacks.items() if has_func("leaf_spin")(s)}
        self.assertTrue(spin, stacks)
        s = max(spin, key=spin.get)
        self.assertEqual(s[0], "[truncated]")
        self.assertEqual(lib.frame_name(s[-1]), "leaf_spin")
        self.assertEqual(len(s) - 1, 128)  # default depth, counted from the leaf
        self.assertTrue(all(lib.frame_name(f) == "descend" for f in s[1:-1]))

    def test_process_started_after_recording_is_profiled(self):
        for label, exe in [("debian-3.11", "/usr/bin/python3.11")] + \
                [i for i in lib.interpreters() if i[0].startswith("pyenv-3.12")]:
            with self.subTest(interpreter=label):
                p = lib.start_py(exe, "spawner.py", 1.0)
                try:
                    stacks, _ = record(p.pid, "--subprocesses", seconds=4)
                finally:
                    lib.stop(p)
                    subprocess.run(["pkill", "-f", "def child_work"], check=False)
                n = sum(v for s, v in stacks.items() if has_func("child_work")(s))
                print(f"  {label}: child_work samples {n}")
                self.assertGreater(n, 100)

    def test_bad_targets_give_one_line_errors(self):
        r = lib.run_cli("record", "--pid", 4000000, "--duration", 1, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            r = lib.run_cli("record", "--pid", sleeper.pid, "--duration", 1, check=False)
        finally:
            sleeper.kill()
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a Python process", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        r = lib.run_cli("record", "--pid", "abc", check=False)
        self.assertEqual(r.returncode, 2)
        r = lib.run_cli("record", "--pid", 1, "--rate", "0", check=False)
        self.assertEqual(r.returncode, 2)

    def test_target_exiting_mid_recording_keeps_profile(self):
        p = lib.start_py("/usr/bin/python3.11", "cpu_split.py", 1.5)
        stacks, err = record(p.pid, seconds=10)
        p.wait()
        self.assertIn("exited", err)
        self.assertGreater(sum(v for s, v in stacks.items() if has_func("hot_a")(s)), 50)


if __name__ == "__main__":
    unittest.main()
