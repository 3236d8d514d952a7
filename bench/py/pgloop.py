"""psycopg2 query loop for `make bench`. Usage: pgloop.py DSN N [SECONDS]
Connects, prints 'ready', waits for a line on stdin, runs N primary-key SELECTs and prints the
wall seconds they took. With N = 0, runs SECONDS of them per line read instead and prints the
queries per second, until stdin closes."""
import sys, time

import psycopg2

conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
n = int(sys.argv[2])


def query(i):
    cur.execute("SELECT name FROM author WHERE id = %s", (i % 1000 + 1,))
    cur.fetchone()


print("ready", flush=True)
if n:
    sys.stdin.readline()
    t0 = time.perf_counter()
    for i in range(n):
        query(i)
    print(f"{time.perf_counter() - t0:.6f}", flush=True)
else:
    seconds = float(sys.argv[3])
    while sys.stdin.readline():
        t0 = time.perf_counter()
        i = 0
        while True:
            for _ in range(100):
                query(i)
                i += 1
            took = time.perf_counter() - t0
            if took >= seconds:
                break
        print(f"{i / took:.1f}", flush=True)
