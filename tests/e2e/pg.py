"""A throwaway PostgreSQL server for the tests: initdb in a temporary directory as the postgres
user, trust authentication, listening on 127.0.0.1 on a free port and on a unix socket in that
directory; stopped and removed on exit. With ssl=True it also serves TLS with a throwaway
self-signed certificate. Usage:

    with pg.Server() as srv:
        srv.dsn()            # "host=127.0.0.1 port=N user=postgres dbname=postgres"
        srv.dsn(unix=True)   # the same over the unix socket
        srv.psql("CREATE TABLE ...")
"""
import os, pwd, shutil, socket, subprocess, tempfile, time

PGBIN = "/usr/lib/postgresql/15/bin"


def available():
    return os.access(os.path.join(PGBIN, "initdb"), os.X_OK)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, user="postgres", ssl=False):
        self.user = user
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="pyrometer-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sockdir = self.dir
        pw = pwd.getpwnam(user)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        self._as_user([os.path.join(PGBIN, "initdb"), "-D", self.data, "-A", "trust", "-U", user,
                       "--no-sync", "-E", "UTF8", "--locale=C"])
        ssl_opts = self._make_cert(pw) if ssl else ""
        opts = (f"{ssl_opts}-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.sockdir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 "
                "-c shared_buffers=32MB -c autovacuum=off -c log_min_messages=fatal -c logging_collector=off")
        self._as_user([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"),
                       "-o", opts, "-w", "-t", "60", "start"])
        self._wait_ready()

    def _make_cert(self, pw):
        """A throwaway self-signed certificate in the data directory; returns the server options."""
        crt, key = os.path.join(self.data, "server.crt"), os.path.join(self.data, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "1", "-subj",
                        "/CN=localhost", "-keyout", key, "-out", crt], check=True, capture_output=True)
        for f in (crt, key):
            os.chown(f, pw.pw_uid, pw.pw_gid)
        os.chmod(key, 0o600)
        return "-c ssl=on "

    def _as_user(self, argv, **kw):
        return subprocess.run(["runuser", "-u", self.user, "--", *argv], check=True, capture_output=True,
                              text=True, **kw)

    def _wait_ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = subprocess.run([os.path.join(PGBIN, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not become ready: " + self.logtext())

    def logtext(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()
        except OSError:
            return ""

    def dsn(self, unix=False, dbname="postgres"):
        host = self.sockdir if unix else "127.0.0.1"
        return f"host={host} port={self.port} user={self.user} dbname={dbname}"

    def psql(self, sql, dbname="postgres"):
        """Runs SQL through psql over the unix socket; returns its stdout."""
        return self._as_user([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
                              "-p", str(self.port), "-d", dbname, "-At", "-c", sql]).stdout

    def stop(self):
        if os.path.isdir(self.data):
            try:
                self._as_user([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
