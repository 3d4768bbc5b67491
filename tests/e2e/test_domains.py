"""Domains (issue 4 point 6): `boxd domain bind|list|unbind`; the local
HTTP proxy routes a bound domain's Host header to its box's default proxy."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, dead_port, eventually, expect, expect_equal, http_get  # noqa: E402

suite = Suite(__file__)


@suite.test
def bind_routes_and_unbind_stops(t):
    vm = t.alice.create_box(t.box_name("dom"))
    port = dead_port()
    t.alice.run("box", "proxy", "set-port", vm, "--port", port).expect_ok()
    t.alice.serve_http(vm, port, "domain-server")
    doc = t.alice.run("domain", "bind", "App.Example.com", vm, "--json").expect_ok().json()
    expect_equal((doc.get("domain"), doc.get("vm_name"), doc.get("status")),
                 ("app.example.com", vm, "active"), "bind --json")
    eventually(lambda: http_get(t.server.proxy_url, "app.example.com", "/index.txt")
               == (200, "domain-server\n"), timeout=15, what="the domain answering")

    listed = t.alice.run("domain", "list", "--json").expect_ok().json()
    expect_equal([(d["domain"], d["vm_name"]) for d in listed], [("app.example.com", vm)], "list")
    t.alice.run("domain", "list", "-q").expect_ok().expect_stdout("app.example.com\n")
    box = t.alice.get(vm)
    expect_equal([d["domain"] for d in box.get("custom_domains", [])], ["app.example.com"],
                 "box get custom_domains")

    t.alice.run("domain", "unbind", "app.example.com").expect_ok()
    status, _ = http_get(t.server.proxy_url, "app.example.com", "/index.txt")
    expect_equal(status, 404, "an unbound domain no longer routes")
    expect_equal(t.alice.run("domain", "list", "--json").expect_ok().json(), [], "after unbind")


@suite.test
def syntax_duplicates_and_ownership(t):
    vm = t.alice.create_box(t.box_name("own"))
    for bad in ("nodot", "bad_char.com", "lead-.com", "a..b.com", "x" * 64 + ".com"):
        t.alice.run("domain", "bind", bad, vm).expect_exit(5)
    t.alice.run("domain", "bind", "mine.example.org", vm).expect_ok()
    t.alice.run("domain", "bind", "mine.example.org", vm).expect_exit(5).expect_error_line(
        "domain 'mine.example.org' is already bound")
    bob_vm = t.bob.create_box(t.box_name("bob"))
    t.bob.run("domain", "bind", "mine.example.org", bob_vm).expect_exit(5)
    t.bob.run("domain", "unbind", "mine.example.org").expect_exit(4)
    expect_equal(t.bob.run("domain", "list", "--json").expect_ok().json(), [], "bob's domains")
    t.bob.run("domain", "bind", "other.example.org", vm).expect_exit(4)
    t.alice.run("domain", "bind", "x.example.org", "no-such-box").expect_exit(4)


@suite.test
def bindings_survive_a_restart_and_go_with_their_box(t):
    vm = t.alice.create_box(t.box_name("keep"))
    t.alice.run("domain", "bind", "kept.example.net", vm).expect_ok()
    t.server.restart()
    listed = t.alice.run("domain", "list", "--json").expect_ok().json()
    expect("kept.example.net" in [d["domain"] for d in listed], f"after restart: {listed!r}")
    t.alice.run("box", "destroy", "--yes", vm, timeout=30).expect_ok()
    t.alice.created.remove(vm)
    listed = t.alice.run("domain", "list", "--json").expect_ok().json()
    expect("kept.example.net" not in [d["domain"] for d in listed], "binding outlived its box")
    vm2 = t.alice.create_box(t.box_name("again"))
    t.alice.run("domain", "bind", "kept.example.net", vm2).expect_ok()


suite.main()
