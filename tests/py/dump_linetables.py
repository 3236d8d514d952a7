"""Writes, for every code object compiled from this interpreter's own stdlib, its raw line table and
the line CPython reports for each code unit, as a binary stream for tests/tools/linetable_check.c.

Expected lines come from the Python-level API (co_positions() on 3.11+, co_lines() on 3.10,
dis.findlinestarts() on 3.8/3.9) and are checked here against PyCode_Addr2Line(code, unit * 2),
which is what CPython uses for a frame's line; disagreements are counted in the trailer.
Runs on 3.8+ (no newer syntax). Usage: dump_linetables.py [stdlib-dir] > stream

Stream (native byte order, same host): b"PYLT" u32 format=1, then records.
  b"C" u16 version(0xMMmm) i32 firstlineno u32 table_len u32 n_units u16 name_len,
       name, table bytes, i32 expected[n_units + 1] for units -1 .. n_units-1 (-1 = no line)
  b"E" u32 files_ok u32 files_failed u32 code_objects u64 addr2line_checked u64 addr2line_differ
"""
import array, ctypes, dis, itertools, os, struct, sys, sysconfig, warnings

VERSION = (sys.version_info[0] << 8) | sys.version_info[1]
SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}

# int PyCode_Addr2Line(PyCodeObject *, int). Called with a pre-wrapped py_object and no argtypes,
# which halves ctypes' per-call cost (plain ints convert to C int); PyDLL keeps the GIL held.
addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.restype = ctypes.c_int


def raw_table(code):
    return code.co_lnotab if sys.version_info < (3, 10) else code.co_linetable


def expected_lines(code):
    """Line per code unit from the Python-level API, -1 where CPython has none."""
    n = len(code.co_code) // 2
    if sys.version_info >= (3, 11):
        exp = [-1 if p[0] is None else p[0] for p in itertools.islice(code.co_positions(), n)]
        return exp + [-1] * (n - len(exp))
    exp = [-1] * n
    if sys.version_info >= (3, 10):
        for start, end, line in code.co_lines():
            for u in range(start // 2, min(end // 2, n)):
                exp[u] = -1 if line is None else line
    else:
        # Line starts: every offset takes the line of the last start at or before it.
        starts = sorted(dis.findlinestarts(code))
        k, line = 0, -1
        for u in range(n):
            while k < len(starts) and starts[k][0] <= u * 2:
                line = starts[k][1]
                k += 1
            exp[u] = line
    return exp


def walk(code):
    todo = [code]
    while todo:
        c = todo.pop()
        yield c
        todo.extend(reversed([k for k in c.co_consts if hasattr(k, "co_code")]))


def source_files(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(d, f)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else sysconfig.get_paths()["stdlib"]
    warnings.simplefilter("ignore")
    out = sys.stdout.buffer
    out.write(b"PYLT" + struct.pack("=I", 1))
    ok = failed = ncode = checked = differ = 0
    for path in source_files(root):
        try:
            with open(path, "rb") as fh:
                top = compile(fh.read(), path, "exec", dont_inherit=True)
        except Exception:  # SyntaxError, ValueError (null bytes), RecursionError, ...
            failed += 1
            continue
        ok += 1
        rel = os.path.relpath(path, root)
        for code in walk(top):
            exp = expected_lines(code)
            # What a frame at each unit reports; unit -1 is a frame that has not started yet.
            actual = list(map(addr2line, itertools.repeat(ctypes.py_object(code), len(exp) + 1),
                              range(-2, 2 * len(exp), 2)))
            for u, line in enumerate(exp if exp != actual[1:] else ()):
                if actual[u + 1] != line:
                    if differ < 5:
                        sys.stderr.write("addr2line differs: %s:%s unit %d api=%d addr2line=%d\n"
                                         % (rel, code.co_name, u, line, actual[u + 1]))
                    differ += 1
            checked += len(exp)
            tab = raw_table(code)
            name = ("%s:%s:%d" % (rel, getattr(code, "co_qualname", code.co_name),
                                  code.co_firstlineno)).encode("utf-8", "replace")[:65535]
            out.write(b"C" + struct.pack("=HiIIH", VERSION, code.co_firstlineno, len(tab),
                                         len(exp), len(name)))
            out.write(name)
            out.write(tab)
            out.write(array.array("i", [actual[0]] + exp).tobytes())
            ncode += 1
    out.write(b"E" + struct.pack("=IIIQQ", ok, failed, ncode, checked, differ))
    out.flush()


if __name__ == "__main__":
    main()
