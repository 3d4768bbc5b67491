"""The security suite's harness: tests/e2e/boxdtest.py (imported, not
copied) plus what an attack replay needs on the host side.

Every tests/security/test_*.py replays attacks against a real `boxd local
serve` (as root, namespace runtime) with two users, alice and bob, and FAILS
when an attack works. A test asserts that the attack's concrete effect did
not happen (a host secret did not come out, a host file kept its hash, a
host process is still alive, a host sysctl kept its value), never merely
that a command exited nonzero.

Attacks run with the most privilege a tenant can get inside a box: the box
user, and root inside the box when the box offers a way there (`sudo -n`, or
the issue's own attack: an upload over /etc/passwd that empties root's
password, then the setuid-root `su`). Root inside a box is allowed; it must
be a user-namespace root that the host does not trust.

Everything created on the host (files, processes, sockets) is named with a
random token, removed at the end of the suite (and by the test itself where
it matters at once), and never touches anything off this machine.
"""

import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
import boxdtest  # noqa: E402
from boxdtest import (ALICE_KEY, BOB_KEY, Failure, Suite, dead_port, eventually, host_pids_with_argv,  # noqa: E402,F401
                      exchange_token, expect, expect_equal, fail, http_get)

SKIP_EXIT = 77  # ctest SKIP_RETURN_CODE: the suite cannot run here (not root)


def token(prefix="boxd-sec"):
    """A random marker that cannot appear anywhere by chance."""
    return f"{prefix}-{uuid.uuid4().hex}"


def q(text):
    return shlex.quote(str(text))


class SecuritySuite(Suite):
    """A boxdtest Suite that also undoes what its tests did on the host."""

    def __init__(self, file):
        super().__init__(file)
        self.cleanups = []
        self._attackers = {}

    def fixture(self, store, build):
        """Builds a shared fixture once: `store` (a dict) is filled by
        build(store); a failure is remembered and re-raised for every later
        test, so a box that cannot be created costs one timeout, not one per
        test."""
        if "error" in store:
            fail(f"fixture failed earlier: {store['error']}")
        if not store.get("ready"):
            try:
                build(store)
            except Exception as e:
                store["error"] = str(e).splitlines()[0] if str(e) else repr(e)
                raise
            store["ready"] = True
        return store

    def at_end(self, fn):
        self.cleanups.append(fn)
        return fn

    def teardown(self):
        try:
            super().teardown()
        finally:
            for fn in reversed(self.cleanups):
                try:
                    fn()
                except Exception as e:  # cleanup is best effort, but say so
                    print(f"note: cleanup failed: {e!r}")

    def main(self):
        if os.geteuid() != 0:
            print(f"suite {self.name}: SKIP: the security suite needs root "
                  "(a real server with the namespace runtime)")
            sys.exit(SKIP_EXIT)
        super().main()

    def use_server_with_state_in_var_lib(self):
        """Makes the suite's server one whose state dir is where an installed
        server keeps it (/var/lib/<token>/state, parent mode 0700), not in the
        suite's temp dir under /tmp (which every box replaces by its own /tmp,
        so a test there would pass without any defence)."""
        if getattr(self, "_var_lib_server", None) is not None:
            return self._var_lib_server
        expect(self._server is None, "the suite's server is already in use")
        base = Path("/var/lib") / token()
        base.mkdir(mode=0o700)
        server = self.new_server("server", start=False)
        server.state_dir = base / "state"
        self._server = server
        self._var_lib_server = server

        def remove():
            self.kill_host_processes_mentioning(str(base))
            with open("/proc/self/mountinfo") as f:
                mounted = [line.split()[4] for line in f if line.split()[4].startswith(str(base))]
            if mounted:
                print(f"note: left {base} in place: still mounted there: {mounted[:3]}")
                return
            shutil.rmtree(base, ignore_errors=True)

        self.at_end(remove)
        return server

    def kill_host_processes_mentioning(self, text):
        """Kills (by pid) host processes whose command line contains `text`."""
        marker = text.encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker not in f.read():
                        continue
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                continue

    # -- host side ------------------------------------------------------------

    def host_file(self, path, content, mode=0o600, uid=0, gid=0, dir_mode=0o755):
        """Creates a host file (and missing parents), removed at the end."""
        path = Path(path)
        made = []
        parent = path.parent
        while not parent.exists():
            made.append(parent)
            parent = parent.parent
        for d in reversed(made):
            d.mkdir(mode=dir_mode)
            os.chmod(d, dir_mode)
        if isinstance(content, str):
            content = content.encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chown(path, uid, gid)
        os.chmod(path, mode)

        def remove():
            path.unlink(missing_ok=True)
            for d in made:
                for leftover in d.iterdir() if d.exists() else []:
                    if leftover.is_file() or leftover.is_symlink():
                        leftover.unlink()
                if d.exists():
                    d.rmdir()

        self.at_end(remove)
        return path

    def host_process(self, argv):
        """Starts a host process in its own session; killed at the end."""
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

        self.at_end(stop)
        return proc

    def host_sleep(self):
        """A host `sleep` with a unique argument (found again by argv)."""
        seconds = f"{3000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6:06d}"
        return self.host_process(["sleep", seconds]), seconds

    def kill_host_processes_with_argv(self, argv):
        """Kills (by pid) every host process whose argv is exactly `argv`."""
        pids = host_pids_with_argv(argv)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def host_loop_disk(self):
        """A host block device the box must not read: a read-only loop device
        over a small ext4 image holding a secret file (detached at the end).
        Returns (major, minor, sha256 of its first 4 MiB, file name, secret)."""
        import hashlib
        src = self.dir / "loop-src"
        src.mkdir()
        name, secret = "secret.txt", token("loop-secret")
        (src / name).write_text(secret + "\n")
        image = self.dir / "loop.img"
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(src), str(image), "8M"], check=True,
                       capture_output=True, timeout=60)
        device = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                                check=True, capture_output=True, text=True,
                                timeout=30).stdout.strip()
        self.at_end(lambda: subprocess.run(["losetup", "-d", device], capture_output=True,
                                           timeout=30))
        rdev = os.stat(device).st_rdev
        with open(image, "rb") as f:
            digest = hashlib.sha256(f.read(4 << 20)).hexdigest()
        return os.major(rdev), os.minor(rdev), digest, name, secret

    # -- inside a box ---------------------------------------------------------

    def attacker(self, cli, vm):
        """The most privileged shells a tenant gets in `vm` (see Attacker)."""
        key = (id(cli), vm)
        if key not in self._attackers:
            self._attackers[key] = Attacker(self, cli, vm)
        return self._attackers[key]


class Attacker:
    """Runs attack scripts in a box as the box user and, where the box offers
    a way, as root inside the box: `sudo -n` (a box's documented root), else
    the issue's escalation (upload a /etc/passwd with an empty root password
    through `box cp`, then the host's setuid-root `su`)."""

    def __init__(self, suite, cli, vm):
        self.suite = suite
        self.cli = cli
        self.vm = vm
        self.root_how = None
        self.root_prefix = None
        self._escalate()

    def _escalate(self):
        probe = self.cli.exec(self.vm, "sudo -n id -u 2>/dev/null", timeout=30)
        if probe.code == 0 and probe.stdout.strip() == "0":
            self.root_how, self.root_prefix = "sudo -n", "sudo -n sh -c"
            return
        passwd = self.cli.exec(self.vm, "cat /etc/passwd").stdout
        lines = []
        for line in passwd.splitlines():
            fields = line.split(":")
            if fields and fields[0] == "root" and len(fields) > 2:
                fields[1] = ""
            lines.append(":".join(fields))
        if passwd:
            self.cli.run("box", "cp", "-", f"{self.vm}:/etc/passwd",
                         input="\n".join(lines) + "\n", timeout=30)
            probe = self.cli.exec(self.vm, "su root -c 'id -u' 2>/dev/null </dev/null",
                                  timeout=30)
            if probe.code == 0 and probe.stdout.strip() == "0":
                self.root_how, self.root_prefix = "cp over /etc/passwd + su", "su root -c"

    @property
    def has_root(self):
        return self.root_prefix is not None

    def user(self, script, timeout=60, **kwargs):
        """`script` as the box user (uid 1000 inside)."""
        return self.cli.exec(self.vm, script, timeout=timeout, **kwargs)

    def root(self, script, timeout=60, **kwargs):
        """`script` as root inside the box, or None if the box has no root."""
        if not self.has_root:
            return None
        return self.cli.exec(self.vm, f"{self.root_prefix} {q(script)} </dev/null",
                             timeout=timeout, **kwargs)

    def best(self, script, timeout=60, **kwargs):
        """`script` with the most privilege the box gives: root if reachable."""
        result = self.root(script, timeout=timeout, **kwargs)
        return result if result is not None else self.user(script, timeout=timeout, **kwargs)

    def every(self, script, timeout=60):
        """[(who, Result)] for the box user and root (when reachable)."""
        out = [("box user", self.user(script, timeout=timeout))]
        as_root = self.root(script, timeout=timeout)
        if as_root is not None:
            out.append((f"root via {self.root_how}", as_root))
        return out

    def describe(self):
        return f"root in the box: {self.root_how or 'none reachable'}"


def expect_absent(results, secret, what):
    """None of the [(who, Result)] shows `secret` on stdout or stderr."""
    for who, result in results:
        if secret in result.stdout or secret in result.stderr:
            fail(result.describe(f"ATTACK WORKED: {what} (as {who})"))


# -- host inspection ------------------------------------------------------------


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def host_uids(pid):
    return [int(x) for x in proc_status(pid)["Uid"].split()]


def user_ns(pid="self"):
    return os.readlink(f"/proc/{pid}/ns/user")


def sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def file_identity(path):
    """What must not change on the host: content hash, type, mode, owner."""
    st = os.lstat(path)
    digest = sha256(path) if stat.S_ISREG(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, st.st_uid, st.st_gid,
            st.st_rdev, digest)


def root_device():
    """(major, minor) of the host's root file system's block device."""
    st = os.stat("/")
    return os.major(st.st_dev), os.minor(st.st_dev)


def host_addresses():
    """Every address of this host (v4 and global v6): loopback, the host's
    own, and bridges the server created. Connecting to one stays local."""
    addresses = {"127.0.0.1"}
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
            address = parts[3].split("/")[0]
            if address.startswith("fe80"):
                continue  # link-local needs a scope; not a route to a server port
            addresses.add(address)
    return sorted(addresses)


def port_of(url):
    return int(url.rstrip("/").rsplit(":", 1)[1].split("/")[0])


# 127.0.0.1, ::ffff:127.0.0.1 and ::1 as /proc/net/tcp{,6} print them.
_LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F",
                 "00000000000000000000000001000000"}


def tcp_connections(port):
    """Every TCP connection (not listener) of this network namespace with
    loopback:`port` at either end, as (local, remote) from /proc/net/tcp{,6}.
    Closed ones stay in TIME_WAIT for a minute, so a connection made and
    closed between two calls still shows up as new."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "0A":
                continue
            ends = [end.rsplit(":", 1) for end in (local, remote)]
            if any(int(p, 16) == port and address in _LOOPBACK_HEX for address, p in ends):
                found.add((local, remote))
    return found


class AbstractListener:
    """A host listener on an abstract unix socket that counts connections
    and greets each with a banner."""

    def __init__(self, suite):
        self.name = token("boxd-sec-abstract")
        self.banner = token("host-banner")
        self.accepted = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + self.name)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        suite.at_end(self.close)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            try:
                conn.sendall(self.banner.encode() + b"\n")
            finally:
                conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


class SlowClients:
    """N TCP connections that send part of a request head and then nothing
    (or, with drip, one more header byte per second: slowloris), never the
    blank line that ends the head."""

    def __init__(self, host, port, count, partial, drip=False):
        self.socks = []
        self.stopping = threading.Event()
        for _ in range(count):
            s = socket.create_connection((host, port), timeout=5)
            try:
                s.sendall(partial)
            except OSError:
                pass  # refused at once (a 503 and a close): still counts as an attempt
            self.socks.append(s)
        self.thread = None
        if drip:
            self.thread = threading.Thread(target=self._drip, daemon=True)
            self.thread.start()

    def _drip(self):
        line = b"\r\nX-Slow: " + b"a" * 4096
        i = 0
        while not self.stopping.wait(1.0):
            for s in list(self.socks):
                try:
                    s.send(line[i % len(line):i % len(line) + 1])
                except OSError:
                    pass
            i += 1

    def close(self):
        self.stopping.set()
        if self.thread:
            self.thread.join(3)
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []


def timed(fn):
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started
