"""The systemd unit: it verifies, and the daemon works under exactly its capability bounding set
(and not with less). PID 1 is not systemd on these machines, so the unit is checked offline and
its privileges are reproduced with setpriv."""
import os, re, subprocess, time, unittest

import lib

UNIT = os.path.join(lib.ROOT, "systemd", "pyrometer.service")
PY = "/usr/bin/python3.11"


def unit_caps():
    text = open(UNIT).read()
    m = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    return [c.strip().lower().removeprefix("cap_") for c in m.group(1).split()]


def services_under(caps, want="cpu_split"):
    """Service names the daemon reports (waiting up to 8 s for `want`) when its bounding set is
    exactly `caps`."""
    conf = os.path.join(lib.tempfile.mkdtemp(), "c.conf")
    open(conf, "w").close()
    port = lib.free_port()
    bset = "-all" + "".join(f",+{c}" for c in caps)
    p = subprocess.Popen(["setpriv", "--bounding-set", bset, "--", lib.DAEMON, "--config", conf,
                          "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    import json, urllib.request
    names = None
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/services", timeout=1) as r:
                    rows = json.load(r)["services"]
                names = {s["name"] for s in rows if s["cpu_samples_total"] > 0}
                if want in names:
                    break
            except OSError:
                pass
            time.sleep(0.3)
    finally:
        p.terminate()
        out = p.communicate(timeout=10)[0]
    return names, out


class SystemdUnit(unittest.TestCase):
    def test_unit_verifies(self):
        r = subprocess.run(["systemd-analyze", "verify", UNIT], capture_output=True, text=True)
        # the binary path only exists after `make install`; anything else is a real complaint
        complaints = [l for l in (r.stdout + r.stderr).splitlines()
                      if l.strip() and "/usr/local/sbin/pyrometerd" not in l]
        self.assertEqual(complaints, [])
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", UNIT], capture_output=True,
                           text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
        self.assertTrue(m, r.stdout + r.stderr)
        print(f"  systemd-analyze security exposure: {m.group(1)}")
        self.assertLess(float(m.group(1)), 5.0)

    def test_capabilities_are_exactly_enough(self):
        lib.require_root(self)
        caps = unit_caps()
        p = lib.start_py(PY, "cpu_split.py")
        try:
            names, out = services_under(caps)
            print(f"  with {caps}: {names}")
            self.assertIn("cpu_split", names or set(), out)
            for needed in ("sys_ptrace", "perfmon"):
                fewer = [c for c in caps if c != needed]
                names, out = services_under(fewer)
                print(f"  without {needed}: {names}")
                self.assertFalse(names and "cpu_split" in names, f"{needed} looks unnecessary: {out}")
        finally:
            lib.stop(p)


if __name__ == "__main__":
    unittest.main()
