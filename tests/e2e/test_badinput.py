"""Bad input at the edges, table-driven over what exists: every pyrometer verb and each of its
flags (from `pyrometer --help` and `pyrometer VERB --help`), and every pyrometerd flag and
configuration key (from `pyrometerd --help`). Each bad value must end the program with exit
status 2, nothing on stdout, and one clear error line on stderr naming the flag or key (verbs
may follow it with lines of their own --help text). No daemon is needed: validation happens
before anything is contacted, so PYROMETER_SERVER points at a closed port to catch a flag that
slips through (that would fail with 1, not 2)."""
import os, re, subprocess, tempfile, unittest

import lib

ENV = dict(os.environ, PYROMETER_SERVER=f"http://127.0.0.1:{lib.free_port()}")

# Bad values by metavar (CLI) ...
METAVAR_BAD = {
    "PID": ["abc", "0", "-1", "99999999999", "12x", ""],
    "S": ["abc", "-1", "", "nan"],
    "N": ["abc", "-1", "", "99999999999999999999", "1.5"],
    "HZ": ["abc", "0", "-1", "", "99999999999999999999"],
    "BYTES": ["abc", "-1", "", "99999999999999999999"],
    "F": ["nope", ""],
    "B": ["nope", ""],
    "W": ["nope", ""],
    "URL": ["ftp://example", "", "http://"],
}
# ... and by configuration key type, told by the key's default (daemon). Keys of their own first.
# (An empty value unsets a string key, so "" is no bad value for those.)
KEY_BAD = {
    "listen": ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "example.com:80", "[::1]:", ":80", ""],
    "log_level": ["loud", "", "debug,info"],
    "tls_cert_file": ["relative.pem", "/nonexistent/cert.pem"],
    "tls_key_file": ["relative.pem", "/nonexistent/key.pem"],
    "basic_auth_user": ["a\tb", "new\nline"],
    "basic_auth_password_hash": ["plaintext", "$1$md5$crypt", "$2b$10$short", "$6$salt$x"],
    "service_override": ["x", "=cgroup:/a", "a=path:/x", "a=cgroup:", "a=cmdline:([", "a b=exe:/x",
                         "a=cmdline:x++++++++++++++++++++++++++++++++"],
    "exclude": ["x", ":/a", "path:/x", "cgroup:", "cmdline:([", "cmdline:(a{1,200}){1,200}"],
}
INT_BAD = ["abc", "-1", "", "99999999999999999999", "1.5", " 5", "5x", "0x10"]
BOOL_BAD = ["maybe", "", "2", "yess"]


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=ENV)


def verbs():
    out = run([lib.CLI, "--help"]).stdout
    return re.findall(r"^  ([a-z]+) {2,}", out.split("verbs:", 1)[1], re.M)


def verb_flags(verb):
    """[(flag, metavar or None)] from `pyrometer VERB --help`, and that text."""
    r = run([lib.CLI, verb, "--help"])
    text = r.stdout + r.stderr
    flags = re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)(?: ([A-Z][A-Z:]*))?", text, re.M)
    return [(f, m or None) for f, m in flags if f != "--help"], text


def daemon_keys():
    """{key: default} from `pyrometerd --help`."""
    out = run([lib.DAEMON, "--help"]).stdout
    keys = dict(re.findall(r"^  --([a-z_]+) .*\(default ([^)]*)\)$", out, re.M))
    keys.pop("config", None)  # --config FILE is the file itself, tested in test_bad_flags
    return keys


def bad_for_key(key, default):
    if key in KEY_BAD:
        return KEY_BAD[key]
    if re.fullmatch(r"\d+", default):
        return INT_BAD
    if default in ("true", "false"):
        return BOOL_BAD
    return None


class CliFlags(unittest.TestCase):
    def check(self, argv, must_name, help_text):
        r = run(argv)
        lines = r.stderr.splitlines()
        what = f"{' '.join(argv[1:])!r}: exit {r.returncode}, stderr {r.stderr[:400]!r}"
        self.assertEqual(r.returncode, 2, what)
        self.assertEqual(r.stdout, "", what)
        self.assertTrue(lines, what)
        self.assertRegex(lines[0], r"^(pyrometer|[a-z]+): ", what)
        self.assertIn(must_name, lines[0], what)
        # anything after the error line is the verb's own usage text
        extra = [l for l in lines[1:] if l.strip() and l not in help_text]
        self.assertEqual(extra, [], what)

    def test_every_verb_and_flag(self):
        checked = 0
        vs = verbs()
        self.assertGreaterEqual(len(vs), 6, vs)
        for verb in vs:
            flags, help_text = verb_flags(verb)
            self.assertTrue(flags, f"{verb} --help lists no flags")
            with self.subTest(verb=verb):
                self.check([lib.CLI, verb, "--no-such-flag"], "--no-such-flag", help_text)
                self.check([lib.CLI, verb, "--no-such-flag=1"], "--no-such-flag", help_text)
                self.check([lib.CLI, verb, "stray-argument"] + (["--pid", "1"] if verb in ("record", "dump", "alloc") else []),
                           "stray-argument", help_text)
                checked += 3
                if re.search(r"^usage: pyrometer \S+ (\(|--pid)", help_text, re.M):
                    self.check([lib.CLI, verb], "--", help_text)  # a required target is missing
                    checked += 1
                for flag, meta in flags:
                    if not meta:
                        continue
                    self.check([lib.CLI, verb, flag], flag.lstrip("-")[:3], help_text)  # value missing
                    checked += 1
                    for bad in METAVAR_BAD.get(meta, []):
                        form = [f"{flag}={bad}"] if checked % 2 else [flag, bad]
                        self.check([lib.CLI, verb, *form], flag.lstrip("-").split("-")[0], help_text)
                        checked += 1
        self.check([lib.CLI, "no-such-verb"], "no-such-verb", "")
        print(f"  {len(vs)} verbs, {checked} bad invocations, each exit 2 with one error line")


class DaemonFlags(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="badinput-")
        self.conf = os.path.join(self.dir, "pyrometer.conf")
        open(self.conf, "w").close()

    def check(self, argv, must_name, file_line=None):
        r = run(argv)
        what = f"{' '.join(argv[1:])!r}: exit {r.returncode}, stderr {r.stderr[:400]!r}"
        self.assertEqual(r.returncode, 2, what)
        self.assertEqual(r.stdout, "", what)
        self.assertEqual(len(r.stderr.splitlines()), 1, what)
        self.assertTrue(r.stderr.startswith("pyrometerd: "), what)
        self.assertIn(must_name, r.stderr, what)
        if file_line:
            self.assertIn(file_line, r.stderr, what)

    def test_every_key_as_flag_and_in_the_file(self):
        keys = daemon_keys()
        self.assertIn("listen", keys)
        untested = [k for k, d in keys.items() if bad_for_key(k, d) is None]
        self.assertEqual(untested, [], "new string keys need bad values in KEY_BAD")
        n = 0
        for key, default in keys.items():
            for i, bad in enumerate(bad_for_key(key, default)):
                flag = "--" + key.replace("_", "-")
                form = [f"{flag}={bad}"] if i % 2 else [flag, bad]
                with self.subTest(key=key, value=bad):
                    self.check([lib.DAEMON, "--config", self.conf, "--check-config", *form], key)
                    # the file form trims blanks around values and cannot hold a newline
                    if "\n" not in bad and bad == bad.strip():
                        with open(self.conf, "w") as f:
                            f.write(f"# bad value on line 2\n{key} = {bad}\n")
                        self.check([lib.DAEMON, "--config", self.conf, "--check-config"], key,
                                   f"{self.conf}:2:")
                        open(self.conf, "w").close()
                    n += 2
        print(f"  {len(keys)} keys, {n} bad values (flag and file), each exit 2 with one line")

    def test_bad_flags(self):
        self.check([lib.DAEMON, "--no-such-flag", "1", "--check-config"], "--no-such-flag")
        self.check([lib.DAEMON, "--sample-rate-hz"], "--sample-rate-hz")
        self.check([lib.DAEMON, "stray"], "stray")
        self.check([lib.DAEMON, "--config"], "--config")
        self.check([lib.DAEMON, "--config", os.path.join(self.dir, "missing.conf"), "--check-config"],
                   "missing.conf")
        # pairs that only make sense together
        self.check([lib.DAEMON, "--config", self.conf, "--check-config", "--basic-auth-user", "prom"],
                   "basic_auth")
        self.check([lib.DAEMON, "--config", self.conf, "--check-config", "--tls-key-file", self.conf],
                   "tls_")
        with open(self.conf, "w") as f:
            f.write("no equals sign here\n")
        self.check([lib.DAEMON, "--config", self.conf, "--check-config"], f"{self.conf}:1")
        r = run([lib.DAEMON, "--config", self.conf, "--check-config", "--sample-rate-hz", "1000"])
        self.assertEqual(r.returncode, 2)  # the file is still bad
        open(self.conf, "w").close()
        r = run([lib.DAEMON, "--config", self.conf, "--check-config", "--sample-rate-hz", "1000"])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "pyrometerd: configuration OK"), r.stderr)


if __name__ == "__main__":
    unittest.main()
