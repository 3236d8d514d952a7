"""redis-py workload for the database tests. Usage: db_redis.py UNIXSOCKET MODE BATCHES N
Prints 'ready', waits for a line on stdin, connects over the unix socket, fills N user hashes,
runs BATCHES batches 0.8 s apart and prints 'done COMMANDS' with the number of commands sent
(the setup's included), then waits for a line. MODE loop: one HGET per user from the line marked
HGET-LINE (an N+1); pipeline: the same HGETs through one pipeline (one round trip)."""
import sys, time

import redis


def lookup(r, i):
    return r.hget(f"user:{i}", "name")  # HGET-LINE


def main():
    sock, mode, batches, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print("ready", flush=True)
    sys.stdin.readline()
    r = redis.Redis(unix_socket_path=sock)
    sent = 0
    r.flushdb()
    sent += 1
    setup = r.pipeline(transaction=False)  # one round trip: the setup is no N+1 itself
    for i in range(n):
        setup.hset(f"user:{i}", "name", f"zq-literal-8841-{i}")
        sent += 1
    setup.execute()
    for b in range(batches):
        if b:
            time.sleep(0.8)
        if mode == "loop":
            for i in range(n):
                lookup(r, i)
                sent += 1
        else:
            p = r.pipeline(transaction=False)
            for i in range(n):
                p.hget(f"user:{i}", "name")
            p.execute()
            sent += n
    print(f"done {sent}", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
