"""Sleeps, then starts a child interpreter (same executable) that burns CPU in child_work().
Prints 'ready' at once, so a recorder can attach before the child exists."""
import subprocess, sys, time

CHILD = """
def child_work():
    x = 0
    while True:
        for i in range(1000):
            x += i
child_work()
"""
print("ready", flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
child = subprocess.Popen([sys.executable, "-c", CHILD])
try:
    child.wait()
finally:
    child.kill()
