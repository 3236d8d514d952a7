"""PyMySQL workload for the database tests. Usage: db_mysql.py PORT MODE BATCHES N
Prints 'ready', waits for a line on stdin, connects to MariaDB on 127.0.0.1:PORT as root, creates
and fills the author table, runs BATCHES batches 0.8 s apart and prints 'done', then waits for a
line. MODE loop: one SELECT per author from the line marked MY-LOOP-LINE (an N+1); in: one
SELECT ... WHERE id IN (...) per batch."""
import sys, time

import pymysql


def lookup(cur, i):
    cur.execute("SELECT name FROM author WHERE name = %s", (f"author {i}",))  # MY-LOOP-LINE
    return cur.fetchone()


def main():
    port, mode, batches, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print("ready", flush=True)
    sys.stdin.readline()
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", database="test", autocommit=True)
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS author")
    cur.execute("CREATE TABLE author (id INT PRIMARY KEY, name VARCHAR(100))")
    cur.executemany("INSERT INTO author VALUES (%s, %s)", [(i, f"author {i}") for i in range(1, 2001)])
    for b in range(batches):
        if b:
            time.sleep(0.8)
        if mode == "loop":
            for i in range(1, n + 1):
                lookup(cur, i)
        else:
            cur.execute("SELECT id, name FROM author WHERE id IN %s", (list(range(1, n + 1)),))
            cur.fetchall()
    print("done", flush=True)
    sys.stdin.readline()
    conn.close()


if __name__ == "__main__":
    main()
