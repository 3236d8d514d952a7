"""psycopg2 workload for the database tests. Usage: db_psycopg2.py DSN MODE BATCHES [N]
Prints 'ready', waits for a line on stdin, then connects, creates and fills the author table,
runs BATCHES batches (0.8 s apart) and prints 'done QUERIES' with the number of statements it
sent (the four of the setup included), and waits for a line before exiting. With STEPPED=1 in the
environment, each batch but the last is followed by 'batch QUERIES' and a wait for a line instead.
MODE:
  loop     one slow SELECT per author, N per batch (an N+1 from the line marked LOOP-LINE)
  fastloop one primary-key SELECT per author id, N per batch (fast: below the default time floor)
  any      one SELECT ... WHERE id = ANY(%s) per batch
  same     the same SELECT with the same parameter N times per batch (cacheable)
  prepare  SQL PREPARE once, then EXECUTE N times per batch
  literal  queries carrying the literals 'zq-literal-8841' and 4276318491
The author table is filled by setup(); queries read a padded column so each takes some time."""
import os, sys, time

import psycopg2


def setup(cur):
    cur.execute("DROP TABLE IF EXISTS author")
    cur.execute("CREATE TABLE author (id int PRIMARY KEY, name text, bio text)")
    cur.execute("INSERT INTO author SELECT g, 'author ' || g, repeat('x', 200) FROM generate_series(1, 100000) g")
    cur.execute("ANALYZE author")


def slow_lookup(cur, i):
    # a sequential scan (no index on name): about a millisecond, like a lookup across a network
    cur.execute("SELECT id, name FROM author WHERE name = %s", (f"author {i}",))  # LOOP-LINE
    return cur.fetchone()


def batch(cur, mode, n):
    sent = 0
    if mode == "loop":
        for i in range(1, n + 1):
            slow_lookup(cur, i)
            sent += 1
    elif mode == "fastloop":
        for i in range(1, n + 1):
            cur.execute("SELECT name FROM author WHERE id = %s", (i,))  # FAST-LINE
            cur.fetchone()
            sent += 1
    elif mode == "any":
        cur.execute("SELECT id, name FROM author WHERE id = ANY(%s)", (list(range(1, n + 1)),))
        cur.fetchall()
        sent += 1
    elif mode == "same":
        for _ in range(n):
            cur.execute("SELECT id, name FROM author WHERE name = %s", ("author 7",))  # SAME-LINE
            cur.fetchone()
            sent += 1
    elif mode == "prepare":
        for i in range(1, n + 1):
            cur.execute("EXECUTE by_name(%s)", (f"author {i}",))  # EXECUTE-LINE
            cur.fetchone()
            sent += 1
    elif mode == "literal":
        cur.execute("SELECT id FROM author WHERE name = 'zq-literal-8841' OR id = 4276318491")
        cur.fetchall()
        cur.execute("SELECT id FROM author WHERE bio = %s", ("zq-literal-8841",))
        cur.fetchall()
        sent += 2
    return sent


def main():
    dsn, mode, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    print("ready", flush=True)
    sys.stdin.readline()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    setup(cur)
    sent = 4
    if mode == "prepare":
        cur.execute("PREPARE by_name (text) AS SELECT id, name FROM author WHERE name = $1")
        sent += 1
    stepped = os.environ.get("STEPPED") == "1"
    for b in range(batches):
        if b and stepped:
            print(f"batch {sent}", flush=True)
            sys.stdin.readline()
        elif b:
            time.sleep(0.8)
        sent += batch(cur, mode, n)
    print(f"done {sent}", flush=True)
    sys.stdin.readline()
    conn.close()


if __name__ == "__main__":
    main()
