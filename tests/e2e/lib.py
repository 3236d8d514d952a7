"""Shared helpers for the end-to-end tests: where the binaries are, which Python interpreters this
machine has, and how to start workloads and the CLI. Everything runs for real (root, BPF)."""
import glob, os, re, shutil, signal, subprocess, sys, tempfile, time, unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("O", "build"))
CLI = os.path.join(BUILD, "pyrometer")
DAEMON = os.path.join(BUILD, "pyrometerd")
PYDIR = os.path.join(ROOT, "tests", "py")  # Python workloads used by the tests


def pyenv_root():
    for cand in (os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv"), "/root/.pyenv"):
        if cand and os.path.isdir(os.path.join(cand, "versions")):
            return cand
    exe = shutil.which("pyenv")
    if exe:
        out = subprocess.run([exe, "root"], capture_output=True, text=True).stdout.strip()
        if out:
            return out
    return None


def interpreters(min_version=(3, 8), max_version=(3, 13)):
    """[(label, path)] for every CPython on the machine in range: Debian's static /usr/bin/python3.11
    and each pyenv build (shared libpython)."""
    found = []
    if os.access("/usr/bin/python3.11", os.X_OK):
        found.append(("debian-3.11", "/usr/bin/python3.11"))
    root = pyenv_root()
    if root:
        for d in sorted(glob.glob(os.path.join(root, "versions", "3.*"))):
            m = re.match(r"(\d+)\.(\d+)", os.path.basename(d))
            if not m:
                continue
            v = (int(m.group(1)), int(m.group(2)))
            exe = os.path.join(d, "bin", f"python{v[0]}.{v[1]}")
            if min_version <= v <= max_version and os.access(exe, os.X_OK):
                found.append((f"pyenv-{os.path.basename(d)}", exe))
    return found


def require_root(test):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root for BPF (run the suite as root)")


def start_py(interp, script, *args, **kw):
    """Starts a workload from tests/py and waits until it prints its 'ready' line."""
    p = subprocess.Popen([interp, os.path.join(PYDIR, script), *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        err = p.stderr.read() if p.poll() is not None else ""
        p.kill()
        raise RuntimeError(f"{script} under {interp} did not start: {line!r} {err}")
    p.ready_line = line.strip()
    return p


def stop(p):
    if p and p.poll() is None:
        p.kill()
    if p:
        p.wait()


def run_cli(*args, timeout=120, check=True):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"pyrometer {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r


def parse_folded(text):
    """{tuple(frames root first): count} from folded output."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, _, n = line.rpartition(" ")
        out[tuple(stack.split(";"))] = out.get(tuple(stack.split(";")), 0) + int(n)
    return out


def frame_name(frame):
    """'qualname (path:line)' -> 'qualname'."""
    return frame.split(" (", 1)[0]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """build/pyrometerd on a free loopback port with a temporary config; stopped on exit. prefix is
    a command that execs the rest of its arguments (so the daemon keeps its pid), e.g. unshare."""

    def __init__(self, *flags, config_text="", prefix=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pyrometerd-")
        self.config = os.path.join(self.dir, "pyrometer.conf")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen([*prefix, DAEMON, "--config", self.config, "--listen", f"127.0.0.1:{self.port}",
                                   *map(str, flags)], stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"pyrometerd exited {self.p.returncode}: {self.logtext()}")
            try:
                self.get("/api/v1/health", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pyrometerd did not come up: " + self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def get(self, path, timeout=30):
        import urllib.request
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.read()

    def get_status(self, path, timeout=30):
        import urllib.error, urllib.request
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path, timeout=30):
        import json
        return json.loads(self.get(path, timeout))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.p.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def cgroup_service(name):
    """Creates cgroups named like a systemd unit (.../system.slice/NAME) in the systemd-named v1
    hierarchy and in cgroup2 where mounted; returns a function that moves a pid into them."""
    dirs = []
    for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.procs")):
            d = os.path.join(root, "system.slice", name)
            os.makedirs(d, exist_ok=True)
            dirs.append(d)

    def move(pid):
        for d in dirs:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))
    move.dirs = dirs
    return move


def cgroup_remove(move):
    for d in move.dirs:
        try:
            os.rmdir(d)
        except OSError:
            pass
