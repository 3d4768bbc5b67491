"""Proxies (issue 4 point 3): `boxd box proxy list|create|set-port|delete`
and the local server's HTTP proxy routing <box>.<user>.localhost and
<proxy>.<box>.<user>.localhost by Host header to the box's address and port.

Boxes share the host's network namespace, so every test uses ports nobody
else uses (dead_port())."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import (Suite, dead_port, eventually, expect, expect_equal,  # noqa: E402
                      http_get)

suite = Suite(__file__)


def proxy_port(t):
    return int(t.server.proxy_url.rsplit(":", 1)[1])


def answers(t, host, text, path="/index.txt"):
    """Waits until the proxy answers `host` with 200 and `text`."""
    return eventually(lambda: http_get(t.server.proxy_url, host, path) == (200, text + "\n"),
                      timeout=15, what=f"{host}{path} answering {text!r} through the proxy")


@suite.test
def serve_prints_the_proxy_url(t):
    url = t.server.proxy_url
    expect(url.startswith("http://127.0.0.1:"), f"proxy_url: {url!r}")
    status, body = http_get(url, "nobody-here.localhost")
    expect_equal(status, 404, f"unknown host status (body {body!r})")


@suite.test
def every_box_has_a_default_proxy(t):
    vm = t.alice.create_box(t.box_name("def"))
    proxies = t.alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()
    expect(isinstance(proxies, list) and len(proxies) == 1, f"proxies: {proxies!r}")
    p = proxies[0]
    expect_equal(p.get("name"), "", "default proxy name")
    expect_equal(p.get("is_default"), True, "is_default")
    expect_equal(p.get("port_mode"), "auto", "port_mode")
    expect_equal(p.get("effective_port"), 8080, "effective_port")
    expect_equal(p.get("vm_name"), vm, "vm_name")
    expect_equal(p.get("domain"), f"{vm}.alice.localhost:{proxy_port(t)}", "domain")
    url = t.alice.get(vm).get("url")
    expect_equal(url, f"http://{vm}.alice.localhost:{proxy_port(t)}", "box get url")


@suite.test
def default_proxy_routes_and_follows_set_port(t):
    vm = t.alice.create_box(t.box_name("route"))
    first, second = dead_port(), dead_port()
    t.alice.run("box", "proxy", "set-port", vm, "--port", first).expect_ok()
    t.alice.serve_http(vm, first, "first-server")
    answers(t, f"{vm}.alice.localhost:{proxy_port(t)}", "first-server")
    answers(t, f"{vm}.alice.localhost", "first-server")

    t.alice.serve_http(vm, second, "second-server")
    doc = t.alice.run("box", "proxy", "set-port", vm, "--port", second, "--json").expect_ok().json()
    expect_equal(doc.get("effective_port"), second, "set-port --json effective_port")
    expect_equal(doc.get("port_mode"), "locked", "set-port --json port_mode")
    answers(t, f"{vm}.alice.localhost", "second-server")

    doc = t.alice.run("box", "proxy", "set-port", vm, "--port", "auto", "--json").expect_ok().json()
    expect_equal((doc.get("port_mode"), doc.get("effective_port")), ("auto", 8080), "after auto")


@suite.test
def named_proxy_routes_until_deleted(t):
    vm = t.alice.create_box(t.box_name("named"))
    port = dead_port()
    t.alice.serve_http(vm, port, "named-server")
    url = t.alice.run("box", "proxy", "create", vm, "api", "--port", port).expect_ok().stdout.strip()
    expect_equal(url, f"http://api.{vm}.alice.localhost:{proxy_port(t)}", "create prints the URL")
    answers(t, f"api.{vm}.alice.localhost", "named-server")
    names = [p["name"] for p in t.alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()]
    expect_equal(names, ["", "api"], "proxy names")

    t.alice.run("box", "proxy", "delete", vm, "api").expect_ok()
    status, _ = http_get(t.server.proxy_url, f"api.{vm}.alice.localhost", "/index.txt")
    expect_equal(status, 404, "a deleted proxy no longer answers")


@suite.test
def upstream_down_is_a_502(t):
    vm = t.alice.create_box(t.box_name("down"))
    t.alice.run("box", "proxy", "set-port", vm, "--port", dead_port()).expect_ok()
    status, body = http_get(t.server.proxy_url, f"{vm}.alice.localhost")
    expect_equal(status, 502, f"status with nothing listening (body {body!r})")
    expect(body.strip(), "a 502 carries a short text")


@suite.test
def large_bodies_stream_through(t):
    vm = t.alice.create_box(t.box_name("big"))
    port = dead_port()
    t.alice.run("box", "proxy", "set-port", vm, "--port", port).expect_ok()
    t.alice.serve_http(vm, port, "big")
    t.alice.sh(vm, f"head -c 20000000 /dev/zero | tr '\\0' x > /tmp/www-{port}/big.bin")
    status, body = eventually(
        lambda: (lambda r: r if r[0] == 200 else None)(
            http_get(t.server.proxy_url, f"{vm}.alice.localhost", "/big.bin", timeout=30)),
        timeout=15, what="big.bin through the proxy")
    expect_equal(len(body), 20000000, "bytes received through the proxy")


@suite.test
def mistakes_are_refused(t):
    vm = t.alice.create_box(t.box_name("err"))
    t.alice.run("box", "proxy", "create", vm, "web", "--port", "9").expect_ok()
    t.alice.run("box", "proxy", "create", vm, "web", "--port", "10").expect_exit(5)
    t.alice.run("box", "proxy", "delete", vm, "nope").expect_exit(4)
    t.alice.run("box", "proxy", "set-port", vm, "web", "--port", "auto").expect_exit(2)
    t.alice.run("box", "proxy", "set-port", vm, "--port", "70000").expect_exit(2)
    t.alice.run("box", "proxy", "list", "no-such-box").expect_exit(4).expect_error_line(
        "VM 'no-such-box' not found")
    t.bob.run("box", "proxy", "list", vm).expect_exit(4)
    t.bob.run("box", "proxy", "create", vm, "x", "--port", "11").expect_exit(4)


@suite.test
def proxies_survive_a_restart(t):
    vm = t.alice.create_box(t.box_name("keep"))
    t.alice.run("box", "proxy", "create", vm, "kept", "--port", "4321").expect_ok()
    t.alice.run("box", "proxy", "set-port", vm, "--port", "4322").expect_ok()
    t.server.restart()
    proxies = t.alice.run("box", "proxy", "list", vm, "--json").expect_ok().json()
    ports = {p["name"]: (p["effective_port"], p["port_mode"]) for p in proxies}
    expect_equal(ports, {"": (4322, "locked"), "kept": (4321, "locked")}, "proxies after restart")
    listed = t.alice.run("box", "proxy", "list", "--json").expect_ok().json()
    expect(any(p["vm_name"] == vm for p in listed), "list without VM shows every box's proxies")


suite.main()
