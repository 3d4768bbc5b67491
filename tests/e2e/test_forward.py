"""Reaching into a box (issue 13): `box forward` relays local TCP connections
to ports inside the box over Exec streams (byte-exact, concurrent, half-close
both ways, one failed connection does not stop the others, Ctrl-C ends it),
through the python3 relay and the uploaded boxd helper; `--stdio` carries the
real OpenSSH client (ssh, scp, rsync) to an sshd that `box ssh` started in the
box; `ssh-config --write` keeps exactly one block. Prints the throughput and
connection setup times it measured (never asserted)."""

import hashlib
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Failure, Suite, eventually, expect, expect_equal, fail  # noqa: E402

suite = Suite(__file__)
_vm = []
MIB = 1 << 20
TCP_PORT = 9000
RESULTS = "/tmp/fwd-results"

# The box's test server: one thread per connection; the first line says what to do.
#   BULK GROUP ID SIZE PARTIES: wait until PARTIES connections of GROUP arrived,
#     send SIZE bytes of pattern(ID, "down") then shutdown(SHUT_WR), meanwhile
#     read to EOF and write "<count> <sha256>" of what came to RESULTS/GROUP-ID.
#   HALF1: read to EOF, then answer "got <count> <sha256>" and close.
#   HALF2: send "bye", shutdown(SHUT_WR), read to EOF, store it in RESULTS/half2.
SERVER = r'''
import hashlib, os, socket, sys, threading
results = sys.argv[2]
os.makedirs(results, exist_ok=True)
barriers, lock = {}, threading.Lock()
def pattern(seed, size):
    base = hashlib.sha256(seed.encode()).digest() * (1 << 15)
    for i in range(size >> 20):
        yield i.to_bytes(8, "little") + base[8:]
def read_line(c):
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        if not b: break
        line += b
    return line.decode().split()
def drain(c):
    h, n = hashlib.sha256(), 0
    while True:
        d = c.recv(1 << 20)
        if not d: return n, h.hexdigest()
        h.update(d); n += len(d)
def handle(c):
    words = read_line(c)
    if words[0] == "BULK":
        group, ident, size, parties = words[1], words[2], int(words[3]), int(words[4])
        with lock:
            b = barriers.setdefault(group, threading.Barrier(parties, timeout=120))
        try:
            b.wait()
        except threading.BrokenBarrierError:
            open(f"{results}/{group}-{ident}", "w").write("barrier broken\n"); c.close(); return
        def send():
            for block in pattern(f"{ident}-down", size): c.sendall(block)
            c.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        n, sha = drain(c)
        t.join()
        open(f"{results}/{group}-{ident}", "w").write(f"{n} {sha}\n")
    elif words[0] == "HALF1":
        n, sha = drain(c)
        c.sendall(f"got {n} {sha}\n".encode())
    elif words[0] == "HALF2":
        c.sendall(b"bye\n"); c.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            d = c.recv(65536)
            if not d: break
            data += d
        open(f"{results}/half2", "wb").write(data)
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
'''


def vm(t):
    if not _vm:
        box = t.alice.create_box(t.box_name("fwd"))
        t.alice.run("box", "exec", box, "--", "cat > /tmp/fwdserver.py", input=SERVER).expect_ok()
        t.alice.sh(box, f"(setsid nohup /usr/bin/python3 /tmp/fwdserver.py {TCP_PORT} {RESULTS} "
                        f">/tmp/fwdserver.log 2>&1 </dev/null &)")
        t.alice.serve_http(box, 8000, "hello through forward")
        _vm.append(box)
    return _vm[0]


def pattern(seed, size):
    base = hashlib.sha256(seed.encode()).digest() * (1 << 15)
    for i in range(size >> 20):
        yield i.to_bytes(8, "little") + base[8:]


def pattern_sha(seed, size):
    h = hashlib.sha256()
    for block in pattern(seed, size):
        h.update(block)
    return h.hexdigest()


class Forward:
    """A running `boxd box forward` (or any long-running boxd command)."""

    def __init__(self, t, *args, cli=None):
        self.cli = cli or t.alice
        self.argv = [t.bin, "box", "forward", *args]
        self.err_path = t.dir / f"forward-{time.monotonic_ns()}.err"
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err, env=self.cli.env(), start_new_session=True)
        self.ports = []
        deadline = time.monotonic() + 120
        while len(self.ports) < sum(1 for a in args if a[0].isdigit() or a[0] == "["):
            line = self.proc.stdout.readline().decode()
            if not line:
                self.stop()
                fail(f"{shlex.join(self.argv[1:])} ended before listening: {self.stderr()}")
            if line.startswith("Forwarding "):
                self.ports.append(int(line.split()[1].rsplit(":", 1)[1]))
            if time.monotonic() > deadline:
                fail("forward did not print its ports")

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            fail(f"forward did not end within 20 s of signal {sig}")
        self.err.close()
        return code


def connect(port, timeout=120):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s):
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d


def bulk(port, group, ident, size, parties, timing=None):
    """One BULK connection; returns the sha256 and count of what came back."""
    s = connect(port)
    started = time.monotonic()
    s.sendall(f"BULK {group} {ident} {size} {parties}\n".encode())
    got = {}

    def reader():
        h, n = hashlib.sha256(), 0
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        got["n"], got["sha"] = n, h.hexdigest()

    r = threading.Thread(target=reader)
    r.start()
    for block in pattern(f"{ident}-up", size):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    r.join()
    s.close()
    if timing is not None:
        timing.append(time.monotonic() - started)
    return got


def check_bulk_result(t, box, group, ident, size, got):
    expect_equal(got.get("n"), size, f"bytes the box sent on connection {ident}")
    expect_equal(got.get("sha"), pattern_sha(f"{ident}-down", size), f"sha256 box->local, {ident}")
    path = f"{RESULTS}/{group}-{ident}"
    stored = eventually(lambda: t.alice.sh(box, f"cat {path} 2>/dev/null || true").split(),
                        timeout=60, what=f"the box's record of connection {ident}")
    expect_equal(stored, [str(size), pattern_sha(f"{ident}-up", size)],
                 f"count and sha256 local->box on connection {ident} (the box saw EOF)")


@suite.test
def http_answers_and_a_failed_connection_leaves_the_others_alone(t):
    box = vm(t)
    fwd = Forward(t, box, "0:8000", "0:8009")
    try:
        status, body = 0, ""
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd.ports[0]}/index.txt", timeout=30) as r:
            status, body = r.status, r.read().decode()
        expect_equal((status, body.strip()), (200, "hello through forward"), "HTTP answer")
        # Nothing listens on 8009 in the box: that connection fails, is reported...
        s = connect(fwd.ports[1])
        try:
            data = recv_all(s)
        except ConnectionResetError:
            data = b""
        expect_equal(data, b"", "bytes from a refused box port")
        eventually(lambda: "refused" in fwd.stderr().lower(), timeout=20,
                   what="the refused connection reported on stderr")
        expect("connection from 127.0.0.1:" in fwd.stderr(), f"report names the peer: {fwd.stderr()}")
        # ... and the others go on.
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd.ports[0]}/index.txt", timeout=30) as r:
            expect_equal(r.read().decode().strip(), "hello through forward", "HTTP answer after")
    finally:
        code = fwd.stop()
    expect_equal(code, 130, "exit status after Ctrl-C")
    with socket.socket() as s:
        expect(s.connect_ex(("127.0.0.1", fwd.ports[0])) != 0, "the port is closed after Ctrl-C")


@suite.test
def twenty_connections_carry_100_mib_each_way_byte_exact(t):
    box = vm(t)
    fwd = Forward(t, box, f"0:{TCP_PORT}")
    size, parties = 100 * MIB, 20
    results, timings, errors = {}, [], []

    def one(i):
        try:
            results[i] = bulk(fwd.ports[0], "c20", i, size, parties, timings)
        except Exception as e:  # reported below with the others
            errors.append(f"connection {i}: {e!r}")

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(parties)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=900)
    elapsed = time.monotonic() - started
    expect(not errors, "; ".join(errors) + "\nforward stderr: " + fwd.stderr())
    # Our download can end before the box has read all of our upload: wait
    # for the box's records before Ctrl-C cancels what is still in flight.
    for i in range(parties):
        check_bulk_result(t, box, "c20", i, size, results.get(i, {}))
    code = fwd.stop()
    expect_equal(code, 130, "exit status after Ctrl-C")
    print(f"  measured: 20 concurrent connections x 100 MiB each way in {elapsed:.1f} s "
          f"({2 * parties * size / MIB / elapsed:.0f} MiB/s total, both directions)")


def measure(t, box, relay):
    """Throughput of one connection (100 MiB each way at once) and the setup
    time of a connection (connect -> first byte of a tiny answer)."""
    fwd = Forward(t, box, f"0:{TCP_PORT}", "--relay", relay)
    try:
        timing = []
        got = bulk(fwd.ports[0], f"one-{relay}", 0, 100 * MIB, 1, timing)
        check_bulk_result(t, box, f"one-{relay}", 0, 100 * MIB, got)
        setups = []
        for _ in range(10):
            started = time.monotonic()
            s = connect(fwd.ports[0])
            s.sendall(b"HALF1\n")
            s.shutdown(socket.SHUT_WR)
            answer = recv_all(s)
            s.close()
            setups.append(time.monotonic() - started)
            expect(answer.startswith(b"got 0 "), f"HALF1 answer: {answer!r}")
    finally:
        fwd.stop()
    print(f"  measured ({relay} relay): one connection, 100 MiB each way at once in "
          f"{timing[0]:.2f} s ({200 / timing[0]:.0f} MiB/s both directions together); "
          f"connection setup + tiny round trip: median {statistics.median(setups) * 1000:.0f} ms, "
          f"max {max(setups) * 1000:.0f} ms")


def half_close_both_ways(t, box, relay):
    fwd = Forward(t, box, f"0:{TCP_PORT}", "--relay", relay)
    try:
        # Local half-close reaches the box, which can still answer.
        s = connect(fwd.ports[0])
        payload = os.urandom(3 * MIB + 17)
        s.sendall(b"HALF1\n" + payload)
        s.shutdown(socket.SHUT_WR)
        answer = recv_all(s).decode()
        s.close()
        expect_equal(answer, f"got {len(payload)} {hashlib.sha256(payload).hexdigest()}\n",
                     "the box's answer after our half-close")
        # The box's half-close reaches us, and we can still send.
        s = connect(fwd.ports[0])
        s.sendall(b"HALF2\n")
        expect_equal(recv_all(s), b"bye\n", "bytes before the box's half-close")
        s.sendall(b"sent after the box half-closed\n")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        expect_equal(recv_all(s), b"", "nothing more from the box")
        s.close()
        eventually(lambda: t.alice.sh(box, f"cat {RESULTS}/half2 2>/dev/null || true") ==
                   "sent after the box half-closed\n", timeout=20, what="the box got our late bytes")
        t.alice.sh(box, f"rm -f {RESULTS}/half2")
    finally:
        fwd.stop()


@suite.test
def half_close_travels_both_ways_through_the_python3_relay(t):
    half_close_both_ways(t, vm(t), "python3")
    measure(t, vm(t), "python3")


@suite.test
def the_boxd_relay_is_uploaded_once_checked_by_hash_and_relays_the_same(t):
    box = vm(t)
    t.alice.sh(box, "rm -rf ~/.cache/boxd/relay")
    fwd = Forward(t, box, f"0:{TCP_PORT}", "--relay", "boxd")
    fwd.stop()
    expect("uploading the relay helper" in fwd.stderr(), f"first use uploads: {fwd.stderr()}")
    with open(t.bin, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest() if hasattr(hashlib, "file_digest") \
            else hashlib.sha256(f.read()).hexdigest()
    listing = t.alice.sh(box, "cd ~/.cache/boxd/relay && ls -a && sha256sum boxd-*")
    names = [n for n in listing.split() if n.startswith("boxd-")]
    expect(len(set(names)) == 1 and names[0].endswith(digest[:16]),
           f"one helper named by version and hash {digest[:16]}: {listing}")
    expect(f"{digest}  boxd-" in listing, f"the helper is this binary byte for byte: {listing}")
    expect(".tmp" not in listing, f"no temp file left: {listing}")
    half_close_both_ways(t, box, "boxd")
    measure(t, box, "boxd")
    again = Forward(t, box, f"0:{TCP_PORT}", "--relay", "boxd")
    again.stop()
    expect("uploading" not in again.stderr(), f"second use does not upload: {again.stderr()}")
    # A cached helper changed since (here: truncated) is uploaded again.
    t.alice.sh(box, "cd ~/.cache/boxd/relay && truncate -s 1000 boxd-*")
    third = Forward(t, box, f"0:{TCP_PORT}", "--relay", "boxd")
    third.stop()
    expect("uploading the relay helper" in third.stderr(), f"a changed helper: {third.stderr()}")
    expect(f"{digest}  boxd-" in t.alice.sh(box, "cd ~/.cache/boxd/relay && sha256sum boxd-*"),
           "the helper is whole again")


@suite.test
def bad_forward_specs_are_usage_errors(t):
    box = vm(t)
    for spec, message in (("70000:80", "invalid port '70000'"), ("8080:0", "invalid port '0'"),
                          ("::1:8080:80", "brackets"), ("x:y", "invalid port")):
        t.alice.run("box", "forward", box, spec).expect_exit(2).expect_stderr_contains(message)
    t.alice.run("box", "forward", "--stdio", box, "1:2").expect_exit(2)
    # No sshd yet in this box (the ssh test comes later): a clear error and hint.
    t.alice.run("box", "forward", "--stdio", f"{box}.boxd", "22", input="").expect_exit(8) \
        .expect_stderr_contains("refused").expect_stderr_contains(f"boxd box ssh {box}")
    t.alice.run("box", "forward", "nosuchbox", "0:80").expect_failure() \
        .expect_stderr_contains("not found")


def ssh_base(t, key):
    """Options for the real ssh client that owe nothing to ~/.ssh/config."""
    proxy = f"{shlex.quote(t.bin)} box forward --stdio %h 22"
    return ["-F", "/dev/null", "-i", str(key), "-o", f"ProxyCommand={proxy}",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]


def run_tool(t, argv, timeout=120, cwd=None):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=t.alice.env(), timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        fail(f"$ {shlex.join(argv)}\nexit {proc.returncode}\nstdout: {proc.stdout[-2000:]!r}\n"
             f"stderr: {proc.stderr[-2000:]!r}")
    return proc.stdout.decode(errors="replace")


def ssh_key(t):
    key = t.alice.home / ".ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(mode=0o700, exist_ok=True)
        run_tool(t, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    return key


def make_tree(root):
    files = {}
    for i in range(12):
        rel = f"d{i % 3}/sub{i % 2}/file {i}.bin"
        data = os.urandom(1000 + i * 40000)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = hashlib.sha256(data).hexdigest()
    (root / "empty").touch()
    files["empty"] = hashlib.sha256(b"").hexdigest()
    return files


def box_tree(t, box, directory):
    out = t.alice.sh(box, f"cd {directory} && find . -type f -print0 | xargs -0 sha256sum")
    tree = {}
    for line in out.splitlines():
        digest, rel = line.split("  ", 1)
        tree[rel[2:]] = digest
    return tree


@suite.test
def openssh_runs_a_command_and_scp_and_rsync_copy_a_tree_through_stdio(t):
    for tool in ("ssh", "scp", "rsync", "ssh-keygen"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            suite.skip(f"{tool} is not installed here (scripts/setup installs it)")
    box = vm(t)
    key = ssh_key(t)
    # box ssh sets up sshd and the key, then runs the real ssh.
    r = t.alice.run("box", "ssh", box, "--", "echo", "via-box-ssh", "$(id -un)", timeout=120)
    r.expect_ok()
    expect_equal(r.stdout.strip(), "via-box-ssh boxd", "remote command output")
    expect("started sshd" in r.stderr and "added" in r.stderr, f"what box ssh changed: {r.stderr}")
    again = t.alice.run("box", "ssh", box, "--", "true", timeout=120).expect_ok()
    expect("started sshd" not in again.stderr and "added" not in again.stderr,
           f"a second box ssh changes nothing: {again.stderr}")
    # Plain OpenSSH with the ProxyCommand, by box name with the .boxd suffix.
    base = ssh_base(t, key)
    out = run_tool(t, ["ssh", *base, f"boxd@{box}.boxd", "uname -n; printf 'in\\nout' | wc -l"])
    expect_equal(out.split(), [box, "1"], "ssh command output")
    code = subprocess.run(["ssh", *base, f"boxd@{box}.boxd", "exit 7"], env=t.alice.env(),
                          capture_output=True, timeout=120).returncode
    expect_equal(code, 7, "ssh passes the remote exit status")
    src = t.dir / "tree"
    files = make_tree(src)
    run_tool(t, ["scp", "-q", "-r", *base, str(src), f"boxd@{box}.boxd:/home/boxd/scp-tree"])
    expect_equal(box_tree(t, box, "/home/boxd/scp-tree"), files, "tree copied by scp")
    ssh_cmd = shlex.join(["ssh", *base])
    run_tool(t, ["rsync", "-a", "-e", ssh_cmd, f"{src}/", f"boxd@{box}.boxd:rsync-tree/"])
    expect_equal(box_tree(t, box, "/home/boxd/rsync-tree"), files, "tree copied by rsync")
    back = t.dir / "back"
    run_tool(t, ["rsync", "-a", "-e", ssh_cmd, f"boxd@{box}.boxd:rsync-tree/", f"{back}/"])
    got = {str(p.relative_to(back)): hashlib.sha256(p.read_bytes()).hexdigest()
           for p in back.rglob("*") if p.is_file()}
    expect_equal(got, files, "tree copied back by rsync")


@suite.test
def ssh_config_write_twice_leaves_one_block_that_ssh_uses(t):
    cli = t.alice
    config = cli.home / ".ssh" / "config"
    config.parent.mkdir(mode=0o700, exist_ok=True)
    mine = "Host other\n  User someone\n  Port 2200\n"
    config.write_text(mine)
    config.chmod(0o640)
    printed = cli.run("ssh-config").expect_ok().stdout
    expect("Host *.boxd" in printed and "box forward --stdio %h 22" in printed,
           f"printed entry: {printed}")
    first = cli.run("ssh-config", "--write").expect_ok()
    expect("wrote" in first.stderr, f"first write reports: {first.stderr}")
    second = cli.run("ssh-config", "--write").expect_ok()
    expect("up to date" in second.stderr, f"second write reports: {second.stderr}")
    text = config.read_text()
    expect_equal(text.count("# >>> boxd ssh-config"), 1, "begin markers")
    expect_equal(text.count("Host *.boxd"), 1, "Host *.boxd entries")
    expect(text.startswith(mine), f"the user's entries are kept as they were: {text!r}")
    expect_equal((cli.home / ".ssh" / "config.boxd.bak").read_text(), mine, "backup")
    expect_equal(oct(config.stat().st_mode & 0o777), oct(0o640), "mode of the config kept")
    doc = cli.run("ssh-config", "--write", "--json").expect_ok().json()
    expect_equal(doc["changed"], False, "changed on the third write")
    if subprocess.run(["sh", "-c", "command -v ssh"], capture_output=True).returncode:
        suite.skip("ssh is not installed here")
    box = vm(t)
    key = ssh_key(t)
    cli.run("box", "ssh", box, "--", "true", timeout=120).expect_ok()
    # Real ssh reads the written file (not ~ of the passwd entry: -F).
    out = run_tool(t, ["ssh", "-F", str(config), "-i", str(key), "-o", "BatchMode=yes",
                       f"{box}.boxd", "echo by-name-$(id -un)"])
    expect_equal(out.strip(), "by-name-boxd", "ssh web.boxd through the written entry")
    cli.run("ssh-config", "--remove").expect_ok()
    expect_equal(config.read_text().count("boxd ssh-config"), 0, "block removed")
    expect(config.read_text().startswith(mine), "the user's entries survive --remove")


suite.main()
