"""The HTTP endpoints under abuse (issue 12, points 2 and 3): the key exchange
and the box proxy keep serving through slow clients (header timeout), refuse
connections past their limit with 503 while gRPC keeps working, refuse
request smuggling (400), oversized heads (431) and bodies (413); box URLs
name their owner, so two users' boxes of the same name never meet; a proxy
cannot point at the server's own ports."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import (ALICE_KEY, Suite, dead_port, eventually, expect,  # noqa: E402
                      expect_equal, exchange_token, http_get)

suite = Suite(__file__)

HEADER_TIMEOUT = 3  # --http-header-timeout of the suite's servers
BODY_TIMEOUT = 3  # --http-body-timeout of the suite's servers
MAX_CONNECTIONS = 4  # --http-max-connections of the "small" server


def port_of(url):
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def limits_server(t):
    """A server with a short header timeout (shared by most tests)."""
    if not hasattr(t, "limits"):
        t.limits = t.new_server("limits", args=["--http-header-timeout", str(HEADER_TIMEOUT),
                                                "--http-body-timeout", str(BODY_TIMEOUT)])
        t.limits_alice = t.cli("alice", server=t.limits)
        t.limits_bob = t.cli("bob", server=t.limits)
    return t.limits


def raw(port, data, timeout=10.0, then=b"", pause=0.0):
    """Sends `data` on a new connection (and `then` after `pause` seconds),
    and reads until the server closes it (or `timeout`). Returns (status,
    whole response bytes); status 0 when no HTTP answer came."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if then:
                time.sleep(pause)
                s.sendall(then)
        except OSError:
            pass
        reply = read_to_end(s, timeout)
    return status_of(reply), reply


def read_to_end(s, timeout):
    reply = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        reply += chunk
    return reply


def status_of(reply):
    parts = reply.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        return 0
    return int(parts[1])


class Slowloris:
    """`count` connections that send a request head a few bytes at a time and
    never finish it. Records when each was closed by the server."""

    def __init__(self, port, count, request_line):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5)
                        for _ in range(count)]
        self.started = time.monotonic()
        self.closed_after = [None] * count
        self.replies = [b""] * count
        for s in self.sockets:
            s.sendall(request_line + b"Host: slow\r\n")
        self.stop = False
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        while not self.stop and any(c is None for c in self.closed_after):
            for i, s in enumerate(self.sockets):
                if self.closed_after[i] is not None:
                    continue
                try:
                    s.sendall(b"X-Slow: y\r\n")  # one more header line, never the blank line
                    s.setblocking(False)
                    try:
                        chunk = s.recv(65536)
                        self.replies[i] += chunk
                        if not chunk:
                            self.closed_after[i] = time.monotonic() - self.started
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
                except OSError:
                    self.closed_after[i] = time.monotonic() - self.started
            time.sleep(0.25)

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        for s in self.sockets:
            s.close()


@suite.test
def slow_heads_do_not_block_key_exchange_and_are_cut(t):
    server = limits_server(t)
    port = port_of(server.exchange_url)
    slow = Slowloris(port, 12, b"POST /api/v1/auth/token HTTP/1.1\r\n")
    try:
        time.sleep(0.5)
        started = time.monotonic()
        token = exchange_token(server.exchange_url, ALICE_KEY)
        took = time.monotonic() - started
        expect(token.count(".") == 2, f"a JWT from the exchange: {token[:20]!r}...")
        expect(took < 2.0, f"key exchange beside 12 slow clients took {took:.2f}s")
        eventually(lambda: all(c is not None for c in slow.closed_after),
                   timeout=HEADER_TIMEOUT + 5, what="every slow connection closed")
        latest = max(slow.closed_after)
        expect(latest < HEADER_TIMEOUT + 2.5,
               f"slow connections cut after {slow.closed_after} s "
               f"(header timeout {HEADER_TIMEOUT} s)")
        expect(min(slow.closed_after) >= HEADER_TIMEOUT - 0.5,
               f"not cut before the timeout: {slow.closed_after}")
        expect(all(status_of(r) == 408 for r in slow.replies),
               f"each slow client told 408: {[r[:40] for r in slow.replies]}")
    finally:
        slow.close()


@suite.test
def slow_heads_do_not_block_the_proxy(t):
    server = limits_server(t)
    alice = t.limits_alice
    vm = alice.create_box(t.box_name("slow"))
    port = dead_port()
    alice.serve_http(vm, port, "still-served")
    alice.run("box", "proxy", "set-port", vm, "--port", str(port)).expect_ok()
    host = f"{vm}.alice.localhost"
    eventually(lambda: http_get(server.proxy_url, host, "/index.txt") == (200, "still-served\n"),
               timeout=15, what="the box answering through the proxy")
    slow = Slowloris(port_of(server.proxy_url), 12, b"GET / HTTP/1.1\r\n")
    try:
        time.sleep(0.5)
        started = time.monotonic()
        expect_equal(http_get(server.proxy_url, host, "/index.txt"), (200, "still-served\n"),
                     "a normal request beside 12 slow ones")
        expect(time.monotonic() - started < 2.0, "answered at once")
        eventually(lambda: all(c is not None for c in slow.closed_after),
                   timeout=HEADER_TIMEOUT + 5, what="every slow proxy connection closed")
    finally:
        slow.close()


@suite.test
def connections_past_the_limit_get_503_while_grpc_serves(t):
    server = t.new_server("small", args=["--http-max-connections", str(MAX_CONNECTIONS),
                                         "--http-header-timeout", "20"])
    alice = t.cli("alice", server=server)
    alice.run("box", "list").expect_ok()  # exchanges the key now: its token is cached
    for url in (server.exchange_url, server.proxy_url):
        held = [socket.create_connection(("127.0.0.1", port_of(url)), timeout=5)
                for _ in range(MAX_CONNECTIONS)]
        try:
            time.sleep(0.5)  # accepted, each holding a connection thread
            status, reply = raw(port_of(url),
                                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
            expect_equal(status, 503, f"connection {MAX_CONNECTIONS + 1} to {url}: {reply[:200]!r}")
            expect(b"too many connections" in reply, f"a clear reason: {reply!r}")
            alice.run("box", "list").expect_ok()  # gRPC unaffected
            alice.run("whoami").expect_ok()
        finally:
            for s in held:
                s.close()
    status, reply = eventually(
        lambda: (lambda r: r if r[0] == 200 else None)(
            raw(port_of(server.exchange_url), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")),
        timeout=5, what="the exchange serving again once the slots are free")
    expect(reply.endswith(b"ok"), f"healthz: {reply!r}")


SMUGGLING = {
    "CL+TE": b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n",
    "TE+CL": b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "two CLs": b"Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc",
    "equal CLs": b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "TE with space": b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "TE not chunked": b"Transfer-Encoding: gzip, chunked, identity\r\n\r\nabc",
    "obs-fold": b"Content-Length: 3\r\nX-Folded: a\r\n b\r\n\r\nabc",
    "bad chunk size": b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "chunk size overflow":
        b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "chunk without CRLF": b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n",
}


@suite.test
def smuggling_attempts_get_400(t):
    server = limits_server(t)
    alice = t.limits_alice
    vm = alice.create_box(t.box_name("smug"))
    port = dead_port()
    alice.serve_http(vm, port, "smug")
    alice.run("box", "proxy", "set-port", vm, "--port", str(port)).expect_ok()
    host = f"{vm}.alice.localhost".encode()
    eventually(lambda: http_get(server.proxy_url, host.decode(), "/index.txt")[0] == 200,
               timeout=15, what="the box answering through the proxy")
    targets = {"proxy": (port_of(server.proxy_url), b"POST /index.txt HTTP/1.1\r\nHost: " + host),
               "exchange": (port_of(server.exchange_url),
                            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x")}
    for where, (target, start) in targets.items():
        for name, rest in SMUGGLING.items():
            status, reply = raw(target, start + b"\r\n" + rest, timeout=5)
            expect_equal(status, 400, f"{name} to the {where}: {reply[:300]!r}")
            expect(reply.count(b"HTTP/1.") == 1, f"one answer only for {name} ({where}): {reply!r}")
    # The box's server answers a POST at once (501) and closes, before the
    # body: a malformed body is still a 400 from the proxy, never silence.
    proxy, start = targets["proxy"]
    head, body = SMUGGLING["chunk without CRLF"].split(b"\r\n\r\n", 1)
    status, reply = raw(proxy, start + b"\r\n" + head + b"\r\n\r\n", timeout=5, then=body,
                        pause=0.5)
    expect_equal(status, 400, f"a bad chunk after the box answered: {reply[:300]!r}")
    expect(reply.count(b"HTTP/1.") == 1, f"one answer only: {reply!r}")


@suite.test
def oversized_heads_get_431_and_bodies_413(t):
    server = limits_server(t)
    big = b"X-Big: " + b"a" * 40000 + b"\r\n"
    for url in (server.exchange_url, server.proxy_url):
        status, reply = raw(port_of(url), b"GET / HTTP/1.1\r\nHost: x.alice.localhost\r\n" + big +
                            b"\r\n")
        expect_equal(status, 431, f"a 40 KB header to {url}: {reply[:200]!r}")
    exchange = port_of(server.exchange_url)
    start = b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
    status, reply = raw(exchange, start + b"Content-Length: 100000\r\n\r\n" + b"{" * 1000)
    expect_equal(status, 413, f"a declared 100 KB body: {reply[:200]!r}")
    chunk = b"%x\r\n" % 50000 + b" " * 50000 + b"\r\n"
    status, reply = raw(exchange, start + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 +
                        b"0\r\n\r\n")
    expect_equal(status, 413, f"a chunked 100 KB body: {reply[:200]!r}")
    status, reply = raw(exchange, start + b"Content-Length: 10\r\n\r\n{", timeout=BODY_TIMEOUT + 5)
    expect_equal(status, 408, f"a body that never comes: {reply[:200]!r}")


@suite.test
def same_box_name_of_two_users_gets_two_urls(t):
    server = limits_server(t)
    alice, bob = t.limits_alice, t.limits_bob
    name = t.box_name("same")
    alice.create_box(name)
    bob.create_box(name)
    pa, pb = dead_port(), dead_port()
    alice.serve_http(name, pa, "alice-box")
    bob.serve_http(name, pb, "bob-box")
    alice.run("box", "proxy", "set-port", name, "--port", str(pa)).expect_ok()
    bob.run("box", "proxy", "set-port", name, "--port", str(pb)).expect_ok()
    proxy_port = port_of(server.proxy_url)
    url_a, url_b = alice.get(name).get("url"), bob.get(name).get("url")
    expect_equal(url_a, f"http://{name}.alice.localhost:{proxy_port}", "alice's URL")
    expect_equal(url_b, f"http://{name}.bob.localhost:{proxy_port}", "bob's URL")
    listed = bob.run("box", "proxy", "list", name, "--json").expect_ok().json()
    expect_equal(listed[0].get("domain"), f"{name}.bob.localhost:{proxy_port}", "bob's proxy list")
    host_a, host_b = f"{name}.alice.localhost", f"{name}.bob.localhost"
    eventually(lambda: http_get(server.proxy_url, host_a, "/index.txt") == (200, "alice-box\n"),
               timeout=15, what="alice's URL answering with alice's box")
    eventually(lambda: http_get(server.proxy_url, host_b, "/index.txt") == (200, "bob-box\n"),
               timeout=15, what="bob's URL answering with bob's box")
    status, _ = http_get(server.proxy_url, f"{name}.localhost", "/index.txt")
    expect_equal(status, 404, "the box name alone names no box")

    alice.run("box", "stop", name).expect_ok()
    status, body = http_get(server.proxy_url, host_a, "/index.txt")
    expect(status == 503 and "bob-box" not in body,
           f"alice's stopped box: {status} {body!r} (never bob's box)")
    expect_equal(http_get(server.proxy_url, host_b, "/index.txt"), (200, "bob-box\n"),
                 "bob's URL still bob's")
    bob.run("box", "stop", name).expect_ok()
    alice.run("box", "start", name).expect_ok()
    status, body = http_get(server.proxy_url, host_a, "/index.txt")
    expect("bob-box" not in body and status != 200,
           f"alice's box (its server gone after the restart): {status} {body!r}")
    status, body = http_get(server.proxy_url, host_b, "/index.txt")
    expect_equal(status, 503, f"bob's stopped box, while alice's runs: {body!r}")


@suite.test
def proxies_cannot_point_at_the_servers_own_ports(t):
    """While a box's address is the host's loopback (public_ip 127.x: no
    network namespace), the server's own ports are refused up front; with an
    address of its own, such a port is the box's and never reaches the
    server."""
    server = limits_server(t)
    alice = t.limits_alice
    vm = alice.create_box(t.box_name("own"))
    loopback = str(alice.get(vm).get("public_ip", "")).startswith("127.")
    host = f"{vm}.alice.localhost"
    for what, url in (("gRPC", server.api_url), ("key exchange", server.exchange_url),
                      ("HTTP proxy", server.proxy_url)):
        port = str(port_of(url))
        if loopback:
            alice.run("box", "proxy", "set-port", vm, "--port", port).expect_exit(5) \
                .expect_stderr_contains(f"own port ({what})")
            alice.run("box", "proxy", "create", vm, "own", "--port", port).expect_exit(5)
            alice.run("box", "proxy", "expose", vm, port).expect_exit(5)
        else:
            alice.run("box", "proxy", "set-port", vm, "--port", port).expect_ok()
        status, body = http_get(server.proxy_url, host, "/healthz")
        expect(body != "ok" and status != 200,
               f"port {port} ({what}) through the proxy reached the server: {status} {body!r}")
    if loopback:
        names = [p["name"] for p in
                 alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()]
        expect_equal(names, [""], "nothing was created")


suite.main()
