"""psycopg2 query loop for `make bench`. Usage: pgloop.py DSN N
Connects, prints 'ready', waits for a line on stdin, runs N primary-key SELECTs and prints the
wall seconds they took."""
import sys, time

import psycopg2

conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()
n = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
for i in range(n):
    cur.execute("SELECT name FROM author WHERE id = %s", (i % 1000 + 1,))
    cur.fetchone()
print(f"{time.perf_counter() - t0:.6f}", flush=True)
