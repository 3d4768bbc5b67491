"""Networks (issue 4 point 7): `boxd network create|list` (bookkeeping in
boxd local: provisioning, then ready after about a second) and the default
network that `whoami` reports."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def networks(cli):
    return {n["network_id"]: n for n in cli.run("network", "list", "--json").expect_ok().json()}


@suite.test
def create_then_settle_to_ready(t):
    net_id = t.alice.run("network", "create", "backend").expect_ok().stdout.strip()
    expect(net_id, "network create prints the id")
    first = networks(t.alice)[net_id]
    expect_equal(first["name"], "backend", "name")
    expect(first["subnet"].endswith("/24") and first["subnet"].startswith("10."),
           f"subnet is a CIDR: {first!r}")
    expect(first["status"] in ("provisioning", "ready"), f"status: {first!r}")
    eventually(lambda: networks(t.alice)[net_id]["status"] == "ready", timeout=5,
               what="the network settling to ready")


@suite.test
def unnamed_json_and_unique_subnets(t):
    doc = t.alice.run("network", "create", "--json").expect_ok().json()
    expect(doc.get("network_id"), f"create --json: {doc!r}")
    all_nets = list(networks(t.alice).values()) + list(networks(t.bob).values())
    subnets = [n["subnet"] for n in all_nets]
    expect_equal(len(subnets), len(set(subnets)), f"subnets are unique: {subnets!r}")
    t.alice.run("network", "create", "backend2").expect_ok()
    t.alice.run("network", "create", "backend2").expect_exit(5)
    t.alice.run("network", "create", "Bad_Name").expect_exit(2)


@suite.test
def whoami_reports_the_default_network(t):
    who = t.alice.run("whoami", "--json").expect_ok().json()
    expect_equal(who.get("user_id"), "alice", "user_id")
    default = who.get("default_network_id")
    expect(default in networks(t.alice), f"default network {default!r} is listed")
    expect_equal(networks(t.alice)[default]["name"], "default", "its name")
    expect(default not in networks(t.bob), "bob does not see alice's default network")
    text = t.alice.run("whoami").expect_ok().stdout
    expect(default in text, f"whoami shows the default network: {text!r}")
    cfg = t.alice.run("config", "--json").expect_ok().json()
    expect_equal((cfg.get("default_image"), cfg.get("zone")), ("host", "localhost"), "config")


@suite.test
def networks_survive_a_restart(t):
    net_id = t.alice.run("network", "create", "kept").expect_ok().stdout.strip()
    t.server.restart()
    kept = networks(t.alice).get(net_id)
    expect(kept and kept["name"] == "kept", f"after restart: {kept!r}")
    # A new network is "provisioning" for its first second, then "ready".
    eventually(lambda: networks(t.alice).get(net_id, {}).get("status") == "ready", 10,
               what="the kept network ready after the restart")


suite.main()
