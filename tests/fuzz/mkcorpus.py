#!/usr/bin/python3
"""Writes the stored seed corpora tests/fuzz/corpus/NAME/ from real data on this machine: line
tables and str, code and bytes objects dumped from every installed interpreter, /proc maps,
cgroup and cmdline files of running processes, small ELF files compiled here, kallsyms lines,
the shipped configuration, and HTTP requests the daemon really gets. Run as root from the repo
root when a format changes (`/usr/bin/python3 tests/fuzz/mkcorpus.py`); the corpora stay small
(a few hundred KB in all) and are committed. Deterministic selection, no randomness."""
import glob, os, re, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import lib  # noqa: E402

SEP = b"\x1e"  # FUZZ_SEP in tests/fuzz/fuzz.h


def out_dir(name):
    d = os.path.join(HERE, "corpus", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def all_interpreters():
    found = lib.interpreters(min_version=(3, 6), max_version=(3, 13))
    return [(label, exe, tuple(map(int, re.search(r"(\d+)\.(\d+)", exe).groups()))) for label, exe in found]


# ---- CPython line tables ----------------------------------------------------------------------

def linetables():
    d = out_dir("linetable")
    dumper = os.path.join(ROOT, "tests", "py", "dump_linetables.py")
    for label, exe, (maj, mnr) in all_interpreters():
        if (maj, mnr) < (3, 8):
            continue  # the dumper needs 3.8+; 3.6/3.7 share 3.8's co_lnotab format
        stdlib = subprocess.run([exe, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
        raw = subprocess.run([exe, dumper, os.path.join(stdlib, "json")], capture_output=True,
                             check=True).stdout
        assert raw[:4] == b"PYLT"
        pos, recs = 8, []
        while raw[pos:pos + 1] == b"C":
            ver, first, tlen, nunits, nlen = struct.unpack_from("=HiIIH", raw, pos + 1)
            pos += 1 + struct.calcsize("=HiIIH")
            name = raw[pos:pos + nlen].decode("utf-8", "replace")
            pos += nlen
            tab = raw[pos:pos + tlen]
            pos += tlen + 4 * (nunits + 1)
            recs.append((tlen, name, first, tab))
        # a spread of sizes: the smallest, a few in the middle, the largest under 2 KB
        recs = sorted(r for r in recs if r[0] <= 2048)
        pick = [recs[int(i * (len(recs) - 1) / 7)] for i in range(8)] if len(recs) >= 8 else recs
        for i, (tlen, name, first, tab) in enumerate(pick):
            write(d, f"{label}-{i}", struct.pack("<i", first) + tab)
    # hostile shapes the unit tests also use
    write(d, "neg-first", struct.pack("<i", -5) + bytes([0x80 | (14 << 3), 0x7f, 0x7f, 0x7f, 0x01]))
    write(d, "int-max", struct.pack("<i", 2**31 - 1) + bytes([4, 127] * 8))


# ---- str and code objects from live interpreters ----------------------------------------------

# Runs inside each interpreter: raw bytes of str objects (state word + code points) and of one
# code object with its name, file name and line-table bytes, as hex lines.
OBJECT_DUMPER = r'''
import ctypes, sys
def raw(o, n=None):
    return ctypes.string_at(id(o), n or sys.getsizeof(o))
for s in ["handle_request", "caf\u00e9.py", "/srv/\u65e5\u672c/app.py", "emoji \U0001F600", ""]:
    kind = 1 if max(map(ord, s), default=0) < 256 else 2 if max(map(ord, s)) < 65536 else 4
    b = raw(s)
    data = b[len(b) - (len(s) + 1) * kind:len(b) - kind]
    print("str", b[32:36].hex(), data.hex())
SRC = """
def Outer():
    class Svc:
        def handle(self, x):
            y = x + 1
            return y * 2
    return Svc
"""
ns = {}
exec(compile(SRC, "/srv/\u65e5\u672c/app.py", "exec"), ns)
code = ns["Outer"]().handle.__code__
tab = code.co_lnotab if sys.version_info < (3, 10) else code.co_linetable
name = getattr(code, "co_qualname", code.co_name)
print("code", raw(code, 256).hex(), raw(name).hex(), raw(code.co_filename).hex(), raw(tab).hex())
if sys.version_info >= (3, 13):
    rt = ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime")
    print("debug", ctypes.string_at(ctypes.addressof(rt), 1024).hex())
'''


def objects():
    ds, dc, dd = out_dir("pystr"), out_dir("pysym"), out_dir("pyoffsets")
    for label, exe, (maj, mnr) in all_interpreters():
        out = subprocess.run([exe, "-c", OBJECT_DUMPER], capture_output=True, text=True, check=True).stdout
        sel = bytes([mnr - 6])
        for i, line in enumerate(l for l in out.splitlines() if l.startswith("str ")):
            _, state, data = line.split(" ") + [""] * (3 - len(line.split(" ")))
            write(ds, f"{label}-{i}", sel + bytes.fromhex(state) + struct.pack("<H", 4096) + bytes.fromhex(data))
        for line in out.splitlines():
            f = line.split(" ")
            if f[0] == "code":
                for lasti in (0, 6, 40):
                    head = sel + bytes([0x7f]) + struct.pack("<i", lasti)
                    write(dc, f"{label}-lasti{lasti}", head + b"".join(struct.pack("<H", len(bytes.fromhex(x))) + bytes.fromhex(x) for x in f[1:5]))
            if f[0] == "debug":
                write(dd, f"{label}", sel + bytes.fromhex(f[1]))
        write(dd, f"{label}-short", sel + b"xdebugpy" + bytes(16))


# ---- ELF files -------------------------------------------------------------------------------

ELF_SRC = r'''
#include <stdio.h>
/* stand-ins for what discovery looks up, in a .PyRuntime section like CPython 3.11+ */
__attribute__((section(".PyRuntime"), used)) char _PyRuntime[256] = "runtime";
const unsigned int Py_Version = 0x030b02f0;
char PyCode_Type[64], _Py_NoneStruct[16];
/* one SystemTap USDT note of provider "python", as <sys/sdt.h> writes it */
__asm__(".pushsection .note.stapsdt,\"?\",\"note\"\n"
        ".balign 4\n .4byte 992f-991f, 994f-993f, 3\n"
        "991: .asciz \"stapsdt\"\n992: .balign 4\n"
        "993: .8byte 0, 0, 0\n .asciz \"python\"\n .asciz \"function__entry\"\n .asciz \"8@%rax\"\n"
        "994: .balign 4\n.popsection\n");
int main(void) { puts(_PyRuntime); return 0; }
'''


def elves():
    d = out_dir("elf")
    tmp = tempfile.mkdtemp()
    src = os.path.join(tmp, "py.c")
    with open(src, "w") as f:
        f.write(ELF_SRC)
    variants = {"shared": ["-shared", "-fPIC"], "pie": ["-pie", "-fPIE"], "exec": ["-no-pie"],
                "stripped": ["-shared", "-fPIC", "-s"]}
    for name, flags in variants.items():
        out = os.path.join(tmp, name)
        subprocess.run(["gcc", "-Os", "-o", out, src, *flags], check=True)
        write(d, name, open(out, "rb").read())
    shutil.rmtree(tmp)
    write(d, "truncated-header", open(os.path.join(d, "shared"), "rb").read()[:100])


# ---- /proc text ------------------------------------------------------------------------------

def proc_files():
    dm, ds = out_dir("procmaps"), out_dir("service")
    procs = []
    for label, exe, (maj, mnr) in all_interpreters()[:3]:
        procs.append((label, subprocess.Popen([exe, "-c", "import sys, mmap, os, tempfile\n"
                                                "f = tempfile.NamedTemporaryFile(); f.write(b'x' * 4096); f.flush()\n"
                                                "m = mmap.mmap(f.fileno(), 4096); f.close()\n"
                                                "print('ready', flush=True); sys.stdin.read()"],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)))
    try:
        for label, p in procs:
            p.stdout.readline()
            maps = open(f"/proc/{p.pid}/maps", "rb").read()
            write(dm, label, maps)
        write(dm, "shell", open(f"/proc/{os.getppid()}/maps", "rb").read()[:8192])
        write(dm, "kthread-empty", b"")
        write(dm, "bad-line", b"00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/x\nnot a line\n")
        # real processes: whatever runs here, a few of them
        n = 0
        for pid in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
            try:
                cg = open(f"/proc/{pid}/cgroup", "rb").read()
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()[:1024]
                exe = os.readlink(f"/proc/{pid}/exe").encode()
                comm = open(f"/proc/{pid}/comm", "rb").read().strip()
            except OSError:
                continue
            if not cmd:
                continue
            write(ds, f"real-{n}", SEP.join([cg, cmd, exe, comm, b""]) + SEP + bytes([200]))
            n += 1
            if n == 12:
                break
    finally:
        for _, p in procs:
            p.kill()
            p.wait()
    ID = b"3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"
    synthetic = [
        (b"0::/system.slice/billing-api.service\n", b"/usr/bin/python3\0/srv/etl/run.py\0", b"/usr/bin/python3.11", b"python3"),
        (b"12:pids:/docker/" + ID + b"\n1:name=systemd:/docker/" + ID + b"\n0::/\n",
         b"gunicorn: worker [myapp.wsgi:application]", b"/usr/local/bin/python3.12", b"gunicorn"),
        (b"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8a4f2b3c_1d2e_4f5a_9b8c_7d6e5f4a3b2c.slice/cri-containerd-" + ID + b".scope\n",
         b"/usr/bin/python3\0-m\0celery\0-A\0proj\0worker\0-l\0info\0", b"/usr/bin/python3.11", b"celery"),
        (b"0::/user.slice/user-1000.slice/session-3.scope\n",
         b"uwsgi\0--ini\0/etc/uwsgi/shop.ini\0", b"/usr/bin/uwsgi-core", b"uwsgi"),
        (b"0::/\n", b"/usr/bin/python3.11\0-m\0uvicorn\0--factory\0app.main:create_app\0--port\0800\0",
         b"/usr/bin/python3.11", b"uvicorn"),
    ]
    for i, (cg, cmd, exe, comm) in enumerate(synthetic):
        write(ds, f"synthetic-{i}", SEP.join([cg, cmd, exe, comm, b"gunicorn:myapp.wsgi"]) + SEP + bytes([127]))


def ksyms():
    d = out_dir("ksyms")
    lines = open("/proc/kallsyms", "rb").read().splitlines()
    step = max(1, len(lines) // 200)
    write(d, "head", b"\n".join(lines[:150]) + b"\n")
    write(d, "spread", b"\n".join(lines[::step][:200]) + b"\n")
    write(d, "modules", b"\n".join([l for l in lines if l.endswith(b"]")][:100]) + b"\n")
    write(d, "unprivileged", b"\n".join(re.sub(rb"^[0-9a-f]+", b"0" * 16, l) for l in lines[:50]) + b"\n")


# ---- configuration and HTTP ------------------------------------------------------------------

def configs():
    d = out_dir("config")
    shipped = open(os.path.join(ROOT, "systemd", "pyrometer.conf"), "rb").read()
    write(d, "shipped", shipped)
    # every documented key set to its shown value: the commented examples, uncommented
    write(d, "all-keys", b"\n".join(re.sub(rb"^#(?=[a-z_]+ = )", b"", l) for l in shipped.splitlines()
                                    if re.match(rb"^#[a-z_]+ = ", l)) + b"\n")
    write(d, "quoted", b'listen = "[::1]:10164"\nlog_level = debug\nsample_rate_hz = 1000\n'
                       b'service_override = web=cgroup:/system.slice/web-*.service\n')
    write(d, "bad-value", b"max_depth = 0\n")
    write(d, "tls-auth", b"tls_cert_file = /etc/pyrometer/tls.crt\ntls_key_file = /etc/pyrometer/tls.key\n"
                         b"basic_auth_user = prometheus\n"
                         b"basic_auth_password_hash = $6$rounds=1000$fuzzsalt$VaozQpX6.rHlYgQ8XkQuQwnkNdGdaeCOvmZC4qxWknLh/eg/UKI7XrlNFcouj7rjYRe.I0VJYPdKlgC8OexQQ0\n")


def http():
    dp, dr = out_dir("httpparam"), out_dir("httpreq")
    rng = struct.pack("<qq", 1, 4194304)
    for i, (v, m, p) in enumerate([(b"4242", b"GET", b"/api/v1/processes/4242"), (b"-1", b"HEAD", b"/healthz"),
                                   (b"99999999999999999999", b"POST", b"/api/v1/reload"),
                                   (b"gunicorn:myapp.wsgi", b"GET", b"/"), (b"a b", b"PUT", b"/metrics"),
                                   (b"0", b"GET", b"/api/v1/processes/")]):
        write(dp, f"p{i}", rng + SEP.join([v, m, p]))
    auth = b"Authorization: Basic cHJvbTpzZWNyZXQ=\r\n"  # prom:secret
    reqs = [
        (0, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/profile?service=svc&seconds=5&format=svg HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/profile?pid=4242&mode=window&format=pprof HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/profile?service=svc&format=speedscope HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/stacks?pid=4242 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/processes/4242 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"HEAD /api/v1/services HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"POST /api/v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
        (0, b"GET /api/v1/profile?service=svc&service=svc2 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /api/v1/stacks?pid=%00 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"GET /../../etc/passwd HTTP/1.0\r\n\r\n"),
        (0, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/findings HTTP/1.1\r\nHost: x\r\n\r\n"),
        (1, b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"),
        (1, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbTp3cm9uZw==\r\n\r\n"),
        (1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        (0, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),  # a TLS hello at a plain server
    ]
    for i, (which, r) in enumerate(reqs):
        write(dr, f"r{i}", bytes([which]) + r)


def main():
    if os.geteuid() != 0:
        sys.exit("mkcorpus: run as root (reads other processes' /proc files and kallsyms addresses)")
    for step in (linetables, objects, elves, proc_files, ksyms, configs, http):
        step()
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(HERE, "corpus", "*", "*")))
    print(f"mkcorpus: {len(glob.glob(os.path.join(HERE, 'corpus', '*', '*')))} files, {total} bytes")


if __name__ == "__main__":
    main()
