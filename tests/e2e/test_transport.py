"""TLS or plaintext HTTP/2 (issue 16). The presets and a bare loopback
host:port are "auto": the client sends a TLS hello, uses TLS when the server
answers in TLS and h2c otherwise, caches the answer per endpoint, and shows
what it chose and why in -v and `boxd doctor`; an explicit https:// is never
downgraded. Run against two real servers: `boxd local serve` with a
self-signed certificate made here (--tls-cert) and one without TLS. The
client trusts the certificate through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
_tls = []


def certificate(t):
    cert, key = t.dir / "cert.pem", t.dir / "key.pem"
    if not cert.exists():
        if shutil.which("openssl") is None:
            t.skip("no openssl CLI to make a test certificate (scripts/setup installs it)")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
    return cert, key


def tls_server(t):
    if not _tls:
        cert, key = certificate(t)
        _tls.append(t.new_server("tls", args=["--tls-cert", str(cert), "--tls-key", str(key)]))
    server = _tls[0]
    expect(server.api_url.startswith("https://"), f"TLS server api_url {server.api_url}")
    return server


def host_port(server):
    return server.api_url.split("://", 1)[1]


def auto_cli(t, server, trust=True, url=None):
    """A CLI whose API URL is the server's bare loopback host:port (auto)."""
    cli = t.cli("alice", server=server)
    cli.extra_env["BOXD_API_URL"] = url or host_port(server)
    if trust:
        cli.extra_env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(certificate(t)[0])
    return cli


def cached(cli):
    path = cli.cache_home / "boxd" / "transport.json"
    return json.loads(path.read_text()) if path.exists() else {}


@suite.test
def auto_chooses_tls_for_a_tls_server_and_caches_it(t):
    server = tls_server(t)
    cli = auto_cli(t, server)
    target = host_port(server)
    r = cli.run("-v", "box", "list").expect_ok()
    r.expect_stderr_contains(f"info: api_url {target} (transport auto, by loopback host:port)")
    r.expect_stderr_contains(f"info: transport {target}: auto (loopback host:port): TLS, "
                             "probed just now: the server answered a TLS hello with a TLS "
                             "handshake")
    expect_equal(cached(cli).get(target, {}).get("transport"), "tls", "cached transport")
    # The warm path: the cached answer, no probe.
    r = cli.run("-v", "box", "list").expect_ok()
    r.expect_stderr_contains(f"info: transport {target}: auto (loopback host:port): TLS, cached")
    expect("probed" not in r.stderr, r.describe("a cached answer must not probe again"))


@suite.test
def auto_chooses_h2c_for_a_plaintext_server(t):
    server = t.server
    cli = auto_cli(t, server, trust=False)
    target = host_port(server)
    r = cli.run("-v", "box", "list").expect_ok()
    r.expect_stderr_contains(f"info: transport {target}: auto (loopback host:port): plaintext "
                             "(h2c), probed just now: the server ")
    expect_equal(cached(cli).get(target, {}).get("transport"), "plaintext", "cached transport")
    cli.run("-v", "box", "list").expect_ok().expect_stderr_contains("plaintext (h2c), cached")


@suite.test
def doctor_shows_the_choice_and_why(t):
    for server, word in ((tls_server(t), "TLS"), (t.server, "plaintext (h2c)")):
        cli = auto_cli(t, server)
        r = cli.run("doctor", "--json")
        checks = {c["check"]: c for c in r.json()["checks"]}
        expect_equal(checks["api_url"]["status"], "ok", "api_url check")
        expect("transport auto" in checks["api_url"]["detail"], r.describe("api_url detail"))
        tls = checks["tls"]
        expect_equal(tls["status"], "ok", f"tls check against the {word} server")
        expect(tls["detail"].startswith(f"{word} HTTP/2 channel up"), r.describe("tls detail"))
        expect("auto (loopback host:port)" in tls["detail"] and "probed just now" in tls["detail"],
               r.describe("tls detail says auto and why"))
        expect_equal(checks["whoami"]["status"], "ok", "whoami over the chosen transport")


@suite.test
def explicit_https_is_never_downgraded(t):
    server = t.server  # plaintext only
    cli = auto_cli(t, server, url="https://" + host_port(server))
    r = cli.run("-v", "box", "list").expect_exit(8)
    r.expect_stderr_contains(f"info: transport {host_port(server)}: TLS, as https:// says")
    r.expect_stderr_contains(f"error: cannot connect to https://{host_port(server)}")
    r.expect_stderr_contains("hint: the server does not speak TLS")
    expect_equal(cached(cli), {}, "an explicit scheme caches nothing")
    # And http:// to the TLS server stays plaintext (and fails).
    tls = tls_server(t)
    cli = auto_cli(t, tls, url="http://" + host_port(tls))
    cli.run("box", "list").expect_exit(8)
    # https:// to the TLS server works when the certificate is trusted.
    auto_cli(t, tls, url="https://" + host_port(tls)).run("box", "list").expect_ok()


@suite.test
def an_untrusted_certificate_fails_instead_of_downgrading(t):
    server = tls_server(t)
    cli = auto_cli(t, server, trust=False)
    r = cli.run("box", "list").expect_exit(8)
    r.expect_stderr_contains("hint: the server's TLS certificate is not trusted here")
    expect_equal(cached(cli).get(host_port(server), {}).get("transport"), "tls",
                 "the server speaks TLS even if its certificate is not trusted")


@suite.test
def a_stale_cached_answer_is_asked_again_and_the_call_retried(t):
    server = tls_server(t)
    cli = auto_cli(t, server)
    target = host_port(server)
    path = cli.cache_home / "boxd" / "transport.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # As if the server had spoken h2c when it was asked a minute ago.
    path.write_text(json.dumps({target: {"transport": "plaintext",
                                         "checked_at": int(time.time()) - 60, "reason": "old"}}))
    r = cli.run("-v", "box", "list").expect_ok()
    r.expect_stderr_contains("plaintext (h2c), cached 1m ago: old")
    r.expect_stderr_contains("TLS, probed just now")
    expect_equal(cached(cli)[target]["transport"], "tls", "cache after the retry")


@suite.test
def host_names_resolve_with_either_dns_resolver(t):
    # gRPC's c-ares resolver (its default) and its getaddrinfo one
    # (GRPC_DNS_RESOLVER=native); the static binary registers its own set of
    # gRPC plugins (cmd/static/grpc_plugins.cpp). TLS by name checks the
    # certificate's DNS name too.
    port = host_port(t.server).rsplit(":", 1)[1]
    tls_port = host_port(tls_server(t)).rsplit(":", 1)[1]
    for resolver in ("ares", "native"):
        for url, server in ((f"http://localhost:{port}", t.server),
                            (f"https://localhost:{tls_port}", tls_server(t))):
            cli = auto_cli(t, server, url=url)
            cli.extra_env["GRPC_DNS_RESOLVER"] = resolver
            cli.run("box", "list").expect_ok()


def connection_socket_inode(port, peer_port):
    """The inode of the server's end of the connection from peer_port to the
    gRPC port (the listening socket is the server's own accept loop's, not
    gRPC's: a connection's socket is what gRPC polls)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if (int(fields[1].rsplit(":", 1)[1], 16) == port
                        and int(fields[2].rsplit(":", 1)[1], 16) == peer_port
                        and fields[3] == "01"):
                    return fields[9]
    return None


def server_holds(pid, inode):
    """Whether the server has a descriptor of the socket `inode` (and some
    epoll set of its watches it)."""
    target = f"socket:[{inode}]"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                break
        except OSError:
            pass
    else:
        return False
    return bool(epoll_sets_watching(pid, inode))


def epoll_sets_watching(pid, inode):
    """The server's epoll fds that watch the socket `inode`."""
    fds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    listener = [fd for fd, target in fds.items() if target == f"socket:[{inode}]"]
    expect(len(listener) == 1, f"the server's fd of the connection's socket: {listener}")
    sets = set()
    for fd, target in fds.items():
        if target == "anon_inode:[eventpoll]":
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                if any(line.split()[:2] == ["tfd:", listener[0]] for line in f):
                    sets.add(int(fd))
    return sets


def thread_states(pid, epoll_fds):
    """(threads blocked in epoll_wait on one of epoll_fds, gRPC callback
    threads, those of them asleep in clock_nanosleep)."""
    polling = callback = asleep = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                fields = f.read().split()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        # epoll_wait, epoll_pwait, epoll_pwait2 (x86-64), blocked with the set as argument 1
        if len(fields) > 1 and fields[0] in ("232", "281", "441") and \
                int(fields[1], 16) in epoll_fds:
            polling += 1
        if name == "nexting_thread":  # gRPC 1.51's callback-queue threads
            callback += 1
            asleep += 1 if fields and fields[0] == "230" else 0
    return polling, callback, asleep


@suite.test
def an_idle_server_always_has_a_thread_reading_its_sockets(t):
    """gRPC 1.51 serves the callback method Exec from threads that wait 1 s for
    work and then sleep 100 ms, and in such a server the sync methods' queues
    do not poll at all: an idle server read no socket for 100 ms of every
    1.1 s, and a call arriving then waited (box get, box exec: 10 -> 80-110 ms).
    Sampled for 3 s after an idle second and a half: a thread must be waiting
    on the epoll set that holds an open connection's socket at every sample
    but brief hand-overs, and never may all the callback threads be asleep at
    once."""
    if not sys.platform.startswith("linux"):
        t.skip("reads the server's threads from /proc")
    server = t.server
    t.alice.run("box", "list").expect_ok()
    pid = server.proc.pid
    port = int(host_port(server).rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port))
    try:
        sample_idle_server(pid, port, client)
    finally:
        client.close()


def sample_idle_server(pid, port, client):
    inode = None
    for _ in range(250):  # the accept loop hands it to gRPC, which polls it
        inode = connection_socket_inode(port, client.getsockname()[1])
        if inode is not None and server_holds(pid, inode):
            break
        time.sleep(0.02)
    expect(inode is not None, "the server's end of a gRPC connection in /proc/net/tcp*")
    epoll_fds = epoll_sets_watching(pid, inode)
    expect(epoll_fds, "an epoll set of the server watches a connection's socket")
    time.sleep(1.5)
    samples, unpolled, all_asleep, callback_seen = 0, 0.0, 0.0, 0
    since_polled = since_awake = None
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        now = time.monotonic()
        samples += 1
        polling, callback, asleep = thread_states(pid, epoll_fds)
        callback_seen = max(callback_seen, callback)
        if polling:
            since_polled = None
        else:
            since_polled = since_polled or now
            unpolled = max(unpolled, now - since_polled)
        if callback and asleep == callback:
            since_awake = since_awake or now
            all_asleep = max(all_asleep, now - since_awake)
        else:
            since_awake = None
        time.sleep(0.003)
    expect(samples >= 100, f"only {samples} samples in 3 s")
    expect(callback_seen >= 1, "gRPC's callback threads (nexting_thread) in the server: "
                               "a gRPC upgrade renamed them? then update this test")
    # A hand-over between two pollers lasts microseconds; the sleeps were 100 ms.
    expect(unpolled < 0.04, f"for {unpolled * 1000:.0f} ms no thread of the idle server was "
                            f"reading its sockets ({samples} samples)")
    expect(all_asleep < 0.04, f"for {all_asleep * 1000:.0f} ms every callback thread of the idle "
                              f"server slept ({samples} samples): an Exec would have waited")

suite.main()
