"""A slow local TCP server: answers each connection's first line after argv[1] seconds, then
closes. Prints 'ready PORT'; runs until killed."""
import socket, sys, threading, time


def serve(conn, delay):
    with conn:
        conn.recv(4096)
        time.sleep(delay)
        conn.sendall(b"pong\n")


def main():
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print("ready", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, delay), daemon=True).start()


if __name__ == "__main__":
    main()
