"""Workload for tests/e2e/test_dump.py: three threads parked forever in known functions (main in
time.sleep via park_main, one in time.sleep via leaf_sleep, one in Event.wait). Once all three
stacks are stable, a short-lived reporter thread writes their sys._current_frames() stacks to
argv[1] as JSON (innermost frame first: name, file, line), prints "ready" and exits."""
import json, sys, threading, time

OUT = sys.argv[1]
forever = threading.Event()
parked = {"park_main": threading.Event(), "leaf_sleep": threading.Event(),
          "waiter": threading.Event()}


def frame_name(code):
    # pyrometer reports co_qualname where CPython has it (3.11+), else co_name
    return getattr(code, "co_qualname", code.co_name)


def leaf_sleep():
    parked["leaf_sleep"].set()
    time.sleep(3600)


def sleeper():
    leaf_sleep()


def waiter():
    parked["waiter"].set()
    forever.wait()


def park_main():
    parked["park_main"].set()
    time.sleep(3600)


def snapshot(idents):
    frames = sys._current_frames()
    out = []
    for ident in idents:
        f, stack = frames.get(ident), []
        while f is not None:
            stack.append({"name": frame_name(f.f_code), "file": f.f_code.co_filename,
                          "line": f.f_lineno})
            f = f.f_back
        out.append({"thread_id": ident, "frames": stack})
    return out


def report(idents):
    for e in parked.values():
        e.wait(10)
    # Parked means: the same stacks three times in a row, 50 ms apart.
    prev, same = None, 0
    while same < 3:
        time.sleep(0.05)
        cur = snapshot(idents)
        same = same + 1 if cur == prev else 0
        prev = cur
    with open(OUT, "w") as f:
        json.dump({"version": "%d.%d.%d" % sys.version_info[:3], "threads": prev}, f)
    print("ready", flush=True)


def main():
    ts = [threading.Thread(target=sleeper, daemon=True), threading.Thread(target=waiter, daemon=True)]
    for t in ts:
        t.start()
    idents = [threading.main_thread().ident] + [t.ident for t in ts]
    threading.Thread(target=report, args=(idents,), daemon=True).start()
    park_main()


main()
