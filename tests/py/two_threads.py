"""Two threads burning CPU in different functions; the main thread sleeps. Prints
'ready <tid of alpha> <tid of beta>'."""
import threading, time

tids = {}


def work_alpha():
    tids["alpha"] = threading.get_native_id()
    x = 0
    while True:
        for i in range(1000):
            x += i


def work_beta():
    tids["beta"] = threading.get_native_id()
    x = 0
    while True:
        for i in range(1000):
            x ^= i


for fn in (work_alpha, work_beta):
    threading.Thread(target=fn, daemon=True).start()
while len(tids) < 2:
    time.sleep(0.01)
print("ready", tids["alpha"], tids["beta"], flush=True)
while True:
    time.sleep(1)
