"""Redis wire flood for `make bench` (the "flood" section). Usage: flood_redis.py UNIXSOCKET RATE SECONDS [WINDOW]
Connects over the unix socket with a raw socket (no client library: the Python side stays cheap
so the syscall rate is high), prints 'ready', waits for a line on stdin, then for SECONDS sends
windows of WINDOW pipelined commands (PING and GET alternately, one send() syscall each) and
receives their replies, paced so that sends + receives come to RATE per second (flat out when it
cannot keep up). Prints 'done SENDS RECVS COMMANDS SECONDS': every send and every receive that
returned bytes is one capture event of the daemon."""
import socket, sys, time

PING = b"*1\r\n$4\r\nPING\r\n"
GET = b"*2\r\n$3\r\nGET\r\n$5\r\nflood\r\n"
VALUE = b"0123456789"
REPLY_PING = b"+PONG\r\n"
REPLY_GET = b"$%d\r\n%s\r\n" % (len(VALUE), VALUE)


def roundtrip(s, cmds, reply_bytes):
    """Sends each command with its own syscall, then reads until reply_bytes arrived; returns the
    number of receives."""
    for c in cmds:
        s.send(c)
    got = recvs = 0
    while got < reply_bytes:
        n = len(s.recv(65536))
        if not n:
            raise SystemExit("redis closed the connection")
        got += n
        recvs += 1
    return recvs


def main():
    path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    set_cmd = b"*3\r\n$3\r\nSET\r\n$5\r\nflood\r\n$%d\r\n%s\r\n" % (len(VALUE), VALUE)
    roundtrip(s, [set_cmd], 5)  # +OK: the first send is a command array, the socket is Redis from here
    cmds = [PING if i % 2 == 0 else GET for i in range(window)]
    reply_bytes = sum(len(REPLY_PING if c is PING else REPLY_GET) for c in cmds)
    print("ready", flush=True)
    sys.stdin.readline()
    sends = recvs = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        ahead = (sends + recvs) / rate - (now - t0)
        if ahead > 0:
            time.sleep(min(ahead, end - now))
            continue
        recvs += roundtrip(s, cmds, reply_bytes)
        sends += window
    elapsed = time.perf_counter() - t0
    print(f"done {sends} {recvs} {sends} {elapsed:.6f}", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
