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
