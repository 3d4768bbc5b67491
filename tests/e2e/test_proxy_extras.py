"""Proxy extras (issue 4, "the rest of the SDK", points 2 and 5): `boxd box
proxy expose` (ExposePort) and `boxd box proxy bot-protection`
(SetBotProtection), both enforced by the local HTTP proxy; and keep-alive
connections whose requests are each routed by their own Host header."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import (Suite, dead_port, eventually, expect, expect_equal,  # noqa: E402
                      http_get)

suite = Suite(__file__)


def proxy_port(t):
    return int(t.server.proxy_url.rsplit(":", 1)[1])


def curl(*args, timeout=40):
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True,
                          text=True, timeout=timeout)


@suite.test
def exposed_port_is_reachable_and_listed(t):
    vm = t.alice.create_box(t.box_name("exp"))
    port = dead_port()
    t.alice.serve_http(vm, port, f"exposed-{vm}")
    doc = t.alice.run("box", "proxy", "expose", vm, str(port), "--json").expect_ok().json()
    expect_equal((doc.get("vm_name"), doc.get("vm_port"), doc.get("protocol")),
                 (vm, port, "tcp"), "ExposePortResponse")
    expect_equal(doc.get("public_port"), proxy_port(t), "public_port is the proxy's port")
    host = doc.get("dns")
    expect_equal(host, f"port-{port}.{vm}.alice.localhost", "dns")
    eventually(lambda: http_get(t.server.proxy_url, host, "/index.txt") ==
               (200, f"exposed-{vm}\n"), timeout=15, what="the exposed port answering")
    names = [p["name"] for p in t.alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()]
    expect(f"port-{port}" in names, f"exposed port listed: {names!r}")
    t.alice.run("box", "proxy", "expose", vm, str(port)).expect_ok() \
        .expect_stdout(f"port-{port}.{vm}.alice.localhost:{proxy_port(t)}\n")  # again: same answer
    t.alice.run("box", "proxy", "expose", vm, str(port), "--protocol", "udp").expect_exit(5)
    t.alice.run("box", "proxy", "expose", vm, "0").expect_exit(2)
    t.alice.run("box", "proxy", "expose", "no-such-box", "80").expect_exit(4)


@suite.test
def bot_protection_refuses_automated_clients(t):
    vm = t.alice.create_box(t.box_name("bot"))
    port = dead_port()
    t.alice.serve_http(vm, port, "human")
    t.alice.run("box", "proxy", "set-port", vm, "--port", str(port)).expect_ok()
    url = f"http://{vm}.alice.localhost:{proxy_port(t)}/index.txt"
    resolve = f"{vm}.alice.localhost:{proxy_port(t)}:127.0.0.1"
    eventually(lambda: curl("--resolve", resolve, url).stdout == "human\n", timeout=15,
               what="the box answering through the proxy")
    t.alice.run("box", "proxy", "bot-protection", vm, "on").expect_ok()
    proxies = t.alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()
    expect(all(p.get("bot_protection") is True for p in proxies), f"listed as on: {proxies!r}")
    expect_equal(t.alice.get(vm).get("bot_protection"), True, "get shows it")
    code = curl("--resolve", resolve, "-o", "/dev/null", "-w", "%{http_code}", url).stdout
    expect_equal(code, "403", "curl's User-Agent refused")
    browser = curl("--resolve", resolve, "-A", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                   url).stdout
    expect_equal(browser, "human\n", "a browser passes")
    t.alice.run("box", "proxy", "bot-protection", vm, "off").expect_ok()
    expect_equal(curl("--resolve", resolve, url).stdout, "human\n", "off again")
    t.alice.run("box", "proxy", "bot-protection", vm, "maybe").expect_exit(2)
    t.bob.run("box", "proxy", "bot-protection", vm, "on").expect_exit(4)


KEEP_ALIVE_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(n) if n else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()  # the blank line after the (no) trailers
                    break
                got += self.rfile.read(size)
                self.rfile.readline()
        body = (sys.argv[2] + " " + self.command + " " + str(len(got)) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


def serve_keep_alive(t, vm, port):
    t.alice.run("box", "cp", "-", f"{vm}:ka.py", input=KEEP_ALIVE_SERVER).expect_ok()
    t.alice.sh(vm, f"(setsid nohup /usr/bin/python3 ka.py {port} {vm} >/dev/null 2>&1 < /dev/null &)")


@suite.test
def keep_alive_requests_are_routed_by_their_own_host(t):
    a = t.alice.create_box(t.box_name("ka"))
    b = t.alice.create_box(t.box_name("kb"))
    pa, pb = dead_port(), dead_port()
    serve_keep_alive(t, a, pa)
    serve_keep_alive(t, b, pb)
    t.alice.run("box", "proxy", "set-port", a, "--port", str(pa)).expect_ok()
    t.alice.run("box", "proxy", "set-port", b, "--port", str(pb)).expect_ok()
    eventually(lambda: http_get(t.server.proxy_url, f"{a}.alice.localhost")[0] == 200 and
               http_get(t.server.proxy_url, f"{b}.alice.localhost")[0] == 200,
               timeout=15, what="both boxes answering")
    # One curl, one TCP connection (kept alive: same URL host, HTTP/1.1 on
    # both sides), three requests whose Host headers say a, b, a.
    url = t.server.proxy_url + "/"
    out = curl("-v", url, "-H", f"Host: {a}.alice.localhost", "--next", url, "-H",
               f"Host: {b}.alice.localhost", "--next", url, "-H", f"Host: {a}.alice.localhost")
    expect_equal(out.stdout, f"{a} GET 0\n{b} GET 0\n{a} GET 0\n",
                 f"each request answered by its own box (curl said: {out.stderr[-1500:]})")
    expect(out.stderr.count("Connected to") == 1 and "Re-using existing connection" in out.stderr,
           f"one connection, reused (curl said: {out.stderr[-1500:]})")
    # Request bodies (Content-Length, then chunked) keep the framing right.
    out = curl("-v", url, "-H", f"Host: {a}.alice.localhost", "--data", "x=12345", "--next", url,
               "-H", f"Host: {b}.alice.localhost", "-H", "Transfer-Encoding: chunked", "--data",
               "abc", "--next", url, "-H", f"Host: {a}.alice.localhost")
    expect_equal(out.stdout, f"{a} POST 7\n{b} POST 3\n{a} GET 0\n",
                 f"bodies on one connection (curl said: {out.stderr[-1500:]})")
    expect(out.stderr.count("Connected to") == 1, f"one connection: {out.stderr[-1500:]}")


HEADER_ECHO_SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "".join(k.lower() + ": " + v + "\\n" for k, v in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


@suite.test
def forwarding_headers_are_the_proxys_own(t):
    # A client that forges where it comes from: an app in the box that
    # trusts the last X-Forwarded-For (or Forwarded, X-Real-IP) would take
    # the forged address. The box must see the proxy's word only.
    vm = t.alice.create_box(t.box_name("fwd"))
    port = dead_port()
    t.alice.run("box", "cp", "-", f"{vm}:hdr.py", input=HEADER_ECHO_SERVER).expect_ok()
    t.alice.sh(vm, f"(setsid nohup /usr/bin/python3 hdr.py {port} >/dev/null 2>&1 < /dev/null &)")
    t.alice.run("box", "proxy", "set-port", vm, "--port", str(port)).expect_ok()
    host = f"{vm}.alice.localhost"
    eventually(lambda: http_get(t.server.proxy_url, host)[0] == 200, timeout=15,
               what="the box answering through the proxy")
    forged = ["X-Forwarded-For: 6.6.6.6", "x-forwarded-for: 7.7.7.7", "X-Forwarded-Proto: https",
              "X-Forwarded-Host: evil.example", "X-Forwarded-Port: 443",
              "Forwarded: for=6.6.6.6;proto=https", "X-Real-IP: 6.6.6.6"]
    args = [t.server.proxy_url + "/", "-H", f"Host: {host}"]
    for header in forged:
        args += ["-H", header]
    out = curl(*args)
    seen = [line for line in out.stdout.splitlines()
            if line.startswith(("x-forwarded-", "forwarded:", "x-real-ip:"))]
    expect_equal(sorted(seen), ["x-forwarded-for: 127.0.0.1", "x-forwarded-proto: http"],
                 f"the forwarding headers the box saw (all of them: {out.stdout!r}, "
                 f"curl said {out.stderr[-300:]!r})")


suite.main()
