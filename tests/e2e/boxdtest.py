"""A small language for end-to-end tests of the real `boxd` binary.

Every suite (one tests/e2e/test_*.py file, one behaviour area) gets its own
temp directory, its own `boxd local serve --port 0` on a fresh state dir, and
one Cli per user, each with its own config, cache and home directories, so
suites can run side by side (ctest -j) and never touch the real user's files.

    suite = Suite(__file__)

    @suite.test
    def exit_code_propagates(t):
        vm = t.alice.create_box("exit")
        t.alice.run("box", "exec", vm, "--", "sh", "-c", "exit 3").expect_exit(3)

    suite.main()

How it works and what can go wrong:
- The server is started with stdout redirected to a file, which we poll for
  the contract's `key: value` lines up to `ready` (so a chatty server can never
  block on a full pipe). If it exits or is not ready within the timeout, the
  test fails with the tail of its stderr log. A server that failed to start
  once is not retried for every test: later tests fail at once with the same
  message, so a broken binary costs seconds, not minutes.
- Every command runs with a timeout in its own session (process group); on
  timeout the whole group is killed and the test fails, never hangs.
- `--port 0` gives new ports on every (re)start, so a Cli asks its server for
  the current URLs on every run: kill -9 + restart on the same state dir is
  transparent to the tests.
- At the end the suite destroys what its users created (best effort), stops
  its servers, and kills any process still running from its temp directory.
  On failure the directory is kept (server logs, every command with its
  output in commands.log) and its path is printed.
- The file exits nonzero on any failure and closes with `N passed, N failed`;
  when every test was skipped it exits 77 (SKIP_EXIT), which ctest reports as
  skipped, not passed.

Python 3 stdlib only (run with /usr/bin/python3).
"""

import hashlib
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

ALICE_KEY = "bxd_alice000000000000000000000000000000000"
BOB_KEY = "bxd_bob00000000000000000000000000000000000"
USERS = {"alice": ALICE_KEY, "bob": BOB_KEY}

SERVER_READY_TIMEOUT = 30.0
# Exit code of a suite none of whose tests could run here (every one raised
# Skip): tests/CMakeLists.txt sets it as the suites' SKIP_RETURN_CODE.
SKIP_EXIT = 77
DEFAULT_RUN_TIMEOUT = 30.0


class Failure(AssertionError):
    """A test expectation that did not hold."""


class Skip(Exception):
    """The test cannot run here (says why)."""


def fail(message):
    raise Failure(message)


def expect(condition, message):
    if not condition:
        raise Failure(message)


def expect_equal(actual, expected, what="value"):
    if actual != expected:
        raise Failure(f"{what}: expected {expected!r}, got {actual!r}")


def eventually(probe, timeout=10.0, interval=0.1, what="condition"):
    """Calls probe() until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise Failure(f"{what} did not hold within {timeout:.1f}s (last: {last!r})")
        time.sleep(interval)


def host_pids_with_argv(argv, prefix=False):
    """Host pids whose command line is exactly argv (prefix=True: starts with
    argv, whose last word may be cut short)."""
    wanted = b"\0".join(a.encode() for a in argv) + (b"" if prefix else b"\0")
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
                if cmdline.startswith(wanted) if prefix else cmdline == wanted:
                    pids.append(int(entry))
        except OSError:
            continue
    return pids

def dead_port():
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def file_mode(path):
    return os.stat(path).st_mode & 0o777


def _clip(text, limit=3000):
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters)"


def _binary():
    path = os.environ.get("BOXD_BIN", "")
    if not path:
        return None
    return str(Path(path).resolve())


class Result:
    """The outcome of one `boxd` run: exit code, stdout, stderr, duration."""

    def __init__(self, argv, code, stdout_bytes, stderr_bytes, duration):
        self.argv = argv
        self.code = code
        self.stdout_bytes = stdout_bytes
        self.stderr_bytes = stderr_bytes
        self.stdout = stdout_bytes.decode("utf-8", "replace")
        self.stderr = stderr_bytes.decode("utf-8", "replace")
        self.duration = duration

    def describe(self, problem):
        return (
            f"{problem}\n"
            f"  command: {shlex.join(['boxd', *self.argv[1:]])}\n"
            f"  exit:    {self.code} after {self.duration:.2f}s\n"
            f"  stdout:  {_clip(self.stdout)!r}\n"
            f"  stderr:  {_clip(self.stderr)!r}"
        )

    def expect_exit(self, code):
        if self.code != code:
            raise Failure(self.describe(f"expected exit {code}, got {self.code}"))
        return self

    def expect_ok(self):
        return self.expect_exit(0)

    def expect_failure(self):
        if self.code == 0:
            raise Failure(self.describe("expected a nonzero exit"))
        return self

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise Failure(self.describe(f"stdout is not one JSON document ({e})")) from None

    def expect_stdout(self, text):
        if self.stdout != text:
            raise Failure(self.describe(f"expected stdout exactly {text!r}"))
        return self

    def expect_stdout_contains(self, text):
        if text not in self.stdout:
            raise Failure(self.describe(f"expected stdout to contain {text!r}"))
        return self

    def expect_stderr_contains(self, text):
        if text not in self.stderr:
            raise Failure(self.describe(f"expected stderr to contain {text!r}"))
        return self

    def expect_error_line(self, message):
        """stderr starts with exactly `error: <message>` (a `hint:` may follow)."""
        lines = self.stderr.splitlines()
        first = lines[0] if lines else ""
        if first != f"error: {message}":
            raise Failure(self.describe(f"expected first stderr line exactly 'error: {message}'"))
        for extra in lines[1:]:
            if not extra.startswith("hint:"):
                raise Failure(self.describe(f"unexpected stderr line after the error: {extra!r}"))
        return self

    def expect_not_in_output(self, secret, what="secret"):
        if secret in self.stdout or secret in self.stderr:
            raise Failure(self.describe(f"the {what} appears in the output"))
        return self

    def lines(self):
        return self.stdout.splitlines()


class Server:
    """One `boxd local serve --port 0` process on its own state dir."""

    def __init__(self, suite, name="server", args=(), keys=None):
        self.suite = suite
        self.name = name
        self.dir = suite.dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.dir / "state"
        self.args = list(args)
        self.keys = dict(USERS if keys is None else keys)
        self.proc = None
        self.info = {}
        self.starts = 0
        self.start_error = None
        self.env = {}  # extra environment for the next start (BOXD_LOCAL_* switches)

    # The URLs of the running instance (they change on every restart).
    @property
    def api_url(self):
        return self.info["api_url"]

    @property
    def exchange_url(self):
        return self.info["exchange_url"]

    @property
    def runtime(self):
        return self.info.get("runtime", "")

    @property
    def proxy_url(self):
        return self.info["proxy_url"]

    @property
    def log_path(self):
        return self.dir / "server.log"

    def argv(self):
        argv = [self.suite.bin, "local", "serve", "--port", "0", "--state-dir", str(self.state_dir)]
        for user, key in self.keys.items():
            argv += ["--api-key", f"{key}={user}"]
        return argv + self.args

    def start(self, timeout=SERVER_READY_TIMEOUT):
        if self.start_error:
            raise Failure(self.start_error)
        self.starts += 1
        stdout_path = self.dir / f"stdout.{self.starts}"
        env = self.suite.clean_env()
        env["HOME"] = str(self.dir / "home")
        env["XDG_DATA_HOME"] = str(self.dir / "home" / "data")
        env["XDG_CONFIG_HOME"] = str(self.dir / "home" / "config")
        env["XDG_CACHE_HOME"] = str(self.dir / "home" / "cache")
        env.update(self.env)
        (self.dir / "home").mkdir(exist_ok=True)
        with open(stdout_path, "wb") as out, open(self.log_path, "ab") as log:
            log.write(f"==== start {self.starts}: {shlex.join(self.argv())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=log, env=env, cwd=self.dir,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            info, ready = self._parse(stdout_path)
            if ready:
                self.info = info
                for key in ("api_url", "exchange_url"):
                    if key not in info:
                        self._give_up(f"server said ready without '{key}:' on stdout")
                return self
            if self.proc.poll() is not None:
                self._give_up(f"server exited with {self.proc.returncode} before 'ready'")
            if time.monotonic() >= deadline:
                self._kill(signal.SIGKILL)
                self._give_up(f"server not ready within {timeout:.0f}s")
            time.sleep(0.02)

    @staticmethod
    def _parse(path):
        info, ready = {}, False
        for line in path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line == "ready":
                ready = True
                break
            key, sep, value = line.partition(": ")
            if sep:
                info[key.strip()] = value.strip()
        return info, ready

    def _give_up(self, problem):
        tail = ""
        try:
            tail = self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            pass
        self.start_error = (f"{problem}\n  command: {shlex.join(self.argv())}\n"
                            f"  server stderr (tail):\n{tail}")
        raise Failure(self.start_error)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self, sig):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=15.0):
        """Graceful: SIGTERM, then SIGKILL if it does not exit in time."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill(signal.SIGKILL)
            self.proc.wait(5)
            raise Failure(f"server did not exit within {timeout:.0f}s of SIGTERM")

    def kill9(self):
        """SIGKILL to the server process only (boxes may survive it, as in a crash)."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self, graceful=True):
        if graceful:
            self.stop()
        else:
            self.kill9()
        return self.start()

    def find_state_file(self, filename):
        """The path of a file with this name anywhere under the state dir (or None)."""
        for root, _dirs, files in os.walk(self.state_dir):
            if filename in files:
                return Path(root) / filename
        return None


class Cli:
    """The `boxd` CLI as one user sees it: own config, cache and home dirs."""

    def __init__(self, suite, server, user, key):
        self.suite = suite
        self.server = server
        self.user = user
        self.key = key
        self.dir = suite.dir / "users" / f"{user}-{len(suite.clis)}"
        self.home = self.dir / "home"
        self.config_dir = self.dir / "config" / "boxd"
        self.cache_home = self.dir / "cache"
        self.xdg_config_home = self.dir / "xdg-config"
        for d in (self.home, self.cache_home, self.xdg_config_home):
            d.mkdir(parents=True, exist_ok=True)
        self.extra_env = {}
        self.unset = set()
        self.created = []

    def env(self):
        env = self.suite.clean_env()
        env.update({
            "HOME": str(self.home),
            "BOXD_CONFIG_DIR": str(self.config_dir),
            "XDG_CACHE_HOME": str(self.cache_home),
            "XDG_CONFIG_HOME": str(self.xdg_config_home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
        })
        if self.server is not None and self.server.info:
            env["BOXD_API_URL"] = self.server.api_url
            env["BOXD_EXCHANGE_URL"] = self.server.exchange_url
        if self.key:
            env["BOXD_API_KEY"] = self.key
        env.update(self.extra_env)
        for name in self.unset:
            env.pop(name, None)
        return env

    def token_cache_path(self, exchange_url=None):
        """Where the contract says the JWT for (exchange_url, key) is cached."""
        url = exchange_url or self.server.exchange_url
        digest = hashlib.sha256(f"{url}\n{self.key}".encode()).hexdigest()
        return self.cache_home / "boxd" / "tokens" / f"{digest}.json"

    def run(self, *args, input=None, env=None, unset=(), timeout=DEFAULT_RUN_TIMEOUT,
            hold_stdin=False):
        """Runs `boxd ARGS...`; stdin is /dev/null unless `input` (bytes/str) is
        given, or `hold_stdin` keeps an open pipe that is never written or closed."""
        if self.server is not None and not self.server.info:
            self.server.start()
        argv = [self.suite.bin, *[str(a) for a in args]]
        full_env = self.env()
        full_env.update(env or {})
        for name in unset:
            full_env.pop(name, None)
        if isinstance(input, str):
            input = input.encode()
        held = None
        if input is not None:
            stdin = subprocess.PIPE
        elif hold_stdin:
            read_end, held = os.pipe()
            stdin = read_end
        else:
            stdin = subprocess.DEVNULL
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=full_env, cwd=self.home, start_new_session=True)
        if hold_stdin:
            os.close(read_end)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            result = Result(argv, proc.returncode, out, err, time.monotonic() - started)
            self.suite.log_run(self.user, result)
            raise Failure(result.describe(f"timed out after {timeout:.0f}s")) from None
        finally:
            if held is not None:
                os.close(held)
        result = Result(argv, proc.returncode, out, err, time.monotonic() - started)
        self.suite.log_run(self.user, result)
        return result

    # Shorthands that read like the behaviour.
    def create_box(self, name, *flags):
        doc = self.run("box", "create", name, *flags, "--json", timeout=60).expect_ok().json()
        self.created.append(name)
        expect_equal(doc.get("name"), name, "created box name")
        return name

    def get(self, vm):
        return self.run("box", "get", vm, "--json").expect_ok().json()

    def status(self, vm):
        return self.get(vm).get("status")

    def exec(self, vm, *command, **kwargs):
        return self.run("box", "exec", vm, "--", *command, **kwargs)

    def sh(self, vm, script, **kwargs):
        """Runs one shell string in the box and expects success; returns stdout."""
        return self.run("box", "exec", vm, "--", script, **kwargs).expect_ok().stdout

    def serve_http(self, vm, port, text):
        """Starts `python3 -m http.server PORT` in the box (background, detached),
        serving index.txt containing `text`, on every address of the box (the
        proxy connects to the box's own address, as to a VM's)."""
        www = f"/tmp/www-{port}"
        self.sh(vm, f"mkdir -p {www} && echo {shlex.quote(text)} > {www}/index.txt && "
                    f"(setsid nohup /usr/bin/python3 -m http.server {port} --bind 0.0.0.0 "
                    f"--directory {www} >/dev/null 2>&1 < /dev/null &)")

    def list_names(self):
        return [vm.get("name") for vm in self.run("box", "list", "--json").expect_ok().json()]


class ExchangeCounter:
    """A loopback HTTP relay in front of the key exchange that counts POSTs.
    close() makes its port unreachable while the URL stays the same, which is
    what a JWT cache keyed by exchange URL must survive."""

    def __init__(self, target_url):
        counter = self
        self.target_url = target_url
        self.posts = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                counter.posts += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = urllib.request.Request(counter.target_url, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=10) as reply:
                        status, payload = reply.status, reply.read()
                except urllib.error.HTTPError as e:
                    status, payload = e.code, e.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1/auth/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def http_get(url, host, path="/", timeout=5.0):
    """GET `url` + `path` with this Host header. Returns (status, body text);
    status 0 when no HTTP answer came (connection refused or reset)."""
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        reply = conn.getresponse()
        return reply.status, reply.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return 0, ""
    finally:
        conn.close()


def pb_varint(n):
    """A protobuf varint (for requests sent as raw bytes)."""
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_field(number, wire_type, payload):
    """One protobuf field: its tag, then the payload (length-prefixed for
    wire type 2; a varint field's payload is pb_varint(value))."""
    if wire_type == 2:
        payload = pb_varint(len(payload)) + payload
    return pb_varint(number << 3 | wire_type) + payload


def grpc_or_skip():
    """/usr/bin/python3's python3-grpcio, for calls sent as raw bytes; the
    test is skipped where it is not installed."""
    try:
        import grpc
    except ImportError:
        raise Skip("python3-grpcio is not installed") from None
    return grpc


def bearer_metadata(server, api_key):
    """gRPC metadata with a token exchanged for api_key on `server`."""
    return [("authorization", f"Bearer {exchange_token(server.exchange_url, api_key)}")]


def exchange_token(exchange_url, api_key):
    """Does the key exchange the way the contract describes; returns the JWT."""
    request = urllib.request.Request(exchange_url, data=json.dumps({"api_key": api_key}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())["token"]


class Suite:
    """A tiny test runner: tests run in order, failures are reported with
    the command that failed, and the temp dir is kept when anything failed."""

    def __init__(self, file):
        self.name = Path(file).stem
        self.bin = _binary()
        self.dir = Path(tempfile.mkdtemp(prefix=f"boxd-e2e-{self.name}-"))
        self.tests = []
        self.servers = []
        self.clis = []
        self.counter = 0
        self.log = open(self.dir / "commands.log", "a", encoding="utf-8")
        self._server = None
        self._users = {}

    # Registration
    def test(self, fn):
        self.tests.append(fn)
        return fn

    # Fixtures
    def clean_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOXD_", "XDG_"))}
        env.pop("NO_COLOR", None)
        env["LC_ALL"] = "C.UTF-8"
        env["PATH"] = env.get("PATH") or "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        return env

    def new_server(self, name=None, args=(), keys=None, start=True):
        server = Server(self, name or f"server{len(self.servers)}", args, keys)
        self.servers.append(server)
        if start:
            server.start()
        return server

    @property
    def server(self):
        """The suite's shared server, started on first use."""
        if self._server is None:
            self._server = self.new_server("server", start=False)
        if not self._server.running():
            self._server.start()
        return self._server

    def cli(self, user="alice", server=None, key=None):
        """A fresh CLI identity (new config, cache and home) for this user.
        server=None: the suite's server; server=False: no server at all (the
        test points BOXD_API_URL/BOXD_EXCHANGE_URL somewhere itself)."""
        if key is None:
            key = USERS.get(user, "")
        if server is None:
            server = self.server
        elif server is False:
            server = None
        cli = Cli(self, server, user, key)
        self.clis.append(cli)
        return cli

    def user(self, name):
        if name not in self._users:
            self._users[name] = self.cli(name)
        return self._users[name]

    @property
    def alice(self):
        return self.user("alice")

    @property
    def bob(self):
        return self.user("bob")

    def box_name(self, prefix="box"):
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def log_run(self, user, result):
        self.log.write(f"[{user}] $ {shlex.join(['boxd', *result.argv[1:]])}\n"
                       f"  exit {result.code} in {result.duration:.2f}s\n"
                       f"  stdout: {_clip(result.stdout, 2000)!r}\n"
                       f"  stderr: {_clip(result.stderr, 2000)!r}\n")
        self.log.flush()

    @staticmethod
    def skip(reason):
        raise Skip(reason)

    def require_isolation(self, server=None):
        server = server or self.server
        if server.runtime == "process":
            if os.geteuid() != 0:
                raise Skip("server runs the 'process' runtime (no namespaces here): no isolation")
            fail("server chose the 'process' runtime although we run as root: "
                 "boxes are not isolated (expected 'runtime: namespace')")

    # Running
    def main(self):
        selected = sys.argv[1:]
        tests = [t for t in self.tests if not selected or t.__name__ in selected]
        passed = failed = skipped = 0
        print(f"suite {self.name}: {len(tests)} tests, temp dir {self.dir}", flush=True)
        if not self.bin or not os.access(self.bin, os.X_OK):
            print(f"FAIL setup: BOXD_BIN is not an executable file ({os.environ.get('BOXD_BIN')!r})")
            print(f"0 passed, {len(tests)} failed")
            sys.exit(1)
        for fn in tests:
            started = time.monotonic()
            try:
                fn(self)
            except Skip as e:
                skipped += 1
                print(f"SKIP {fn.__name__}: {e}", flush=True)
                continue
            except Failure as e:
                failed += 1
                print(f"FAIL {fn.__name__} ({time.monotonic() - started:.1f}s)\n{e}", flush=True)
                continue
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__} ({time.monotonic() - started:.1f}s)\n"
                      f"{traceback.format_exc()}", flush=True)
                continue
            passed += 1
            print(f"ok   {fn.__name__} ({time.monotonic() - started:.1f}s)", flush=True)
        self.teardown()
        if failed:
            print(f"kept {self.dir} (server logs in */server.log, every command in commands.log)")
        else:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        if skipped:
            print(f"{skipped} skipped")
        print(f"{passed} passed, {failed} failed", flush=True)
        if skipped and not passed and not failed:
            sys.exit(SKIP_EXIT)  # the whole suite cannot run here: ctest shows SKIP
        sys.exit(1 if failed else 0)

    def teardown(self):
        # Destroy what the users created, while their server still runs.
        for cli in self.clis:
            server = cli.server
            if server is None or not server.running() or not cli.created:
                continue
            for name in cli.created:
                try:
                    cli.run("box", "destroy", name, "--yes", timeout=20)
                except Failure:
                    pass
        for server in self.servers:
            try:
                server.stop()
            except Failure as e:
                print(f"note: {server.name}: {e}")
            except Exception:
                pass
        self._sweep()

    def _sweep(self):
        """Kills leftover processes that belong to this suite's temp dir
        (box inits of a killed server, say), then unmounts what is mounted
        there (the disk images of a server killed with -9), so nothing
        outlives the run."""
        self._kill_leftovers()
        marker = str(self.dir) + "/"
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        for point in sorted({p for p in points if p.startswith(marker)}, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def _kill_leftovers(self):
        marker = str(self.dir).encode()
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                cwd = os.readlink(f"/proc/{pid}/cwd").encode()
            except OSError:
                continue
            if marker in cmdline or cwd.startswith(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
