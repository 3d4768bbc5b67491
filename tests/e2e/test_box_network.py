"""A network namespace per box (issue 10 point 3), namespace runtime.

Each box has its own loopback and an address on a bridge its server creates
(bxd-<hash of the state dir>); the HTTP proxy connects to that address, so
two boxes serve port 8080 at once. A box reaches neither the host's loopback
(its 127.0.0.1 is its own) nor this host through the bridge, nor a box that
shares no network with it; boxes on one network reach each other by name.
Destroy and a graceful stop leave no veth, bridge or iptables chain behind.

Only loopback and the server's own bridges carry traffic here: outbound NAT
is checked by its rules, never by sending anything off this machine."""

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal, http_get  # noqa: E402

suite = Suite(__file__)

PROBE = ("/usr/bin/python3 -c 'import socket,sys\n"
         "s=socket.socket(); s.settimeout(2)\n"
         "try:\n"
         "    s.connect((sys.argv[1], int(sys.argv[2]))); print(\"connected\")\n"
         "except Exception as e:\n"
         "    print(\"failed\", type(e).__name__)' ")


def probe(cli, vm, host, port):
    """'connected' or 'failed <why>': a TCP connect from inside the box."""
    return cli.sh(vm, PROBE + f"{host} {port}").strip()


def fetch(cli, vm, url):
    """The body of url fetched from inside the box, or 'failed ...'."""
    return cli.sh(vm, "/usr/bin/python3 -c 'import sys,urllib.request\n"
                      "try:\n"
                      "    print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())\n"
                      "except Exception as e:\n"
                      "    print(\"failed\", type(e).__name__)' " + url).strip()


def net_hash(server):
    doc = json.loads((server.state_dir / "network.json").read_text())
    return doc["bridge"][len("bxd-"):]


def host_link_names():
    out = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0].split("@")[0] for line in out.splitlines() if line.strip()}


def iptables_rules():
    rules = []
    for table in ("filter", "nat"):
        rules += subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True,
                                text=True, check=True).stdout.splitlines()
    return rules


def ours(items, h):
    return sorted(i for i in items if h in i)


def box_address(cli, vm):
    out = cli.sh(vm, "ip -4 -o addr show dev eth0")
    return out.split()[3].split("/")[0]


@suite.test
def two_boxes_serve_8080_each_at_its_own_url(t):
    t.require_isolation()
    a = t.alice.create_box(t.box_name("web"))
    b = t.alice.create_box(t.box_name("web"))
    t.alice.serve_http(a, 8080, f"hello from {a}")
    t.alice.serve_http(b, 8080, f"hello from {b}")
    for vm in (a, b):
        eventually(lambda vm=vm: http_get(t.server.proxy_url, f"{vm}.alice.localhost", "/index.txt")
                   == (200, f"hello from {vm}\n"), timeout=15, what=f"{vm}'s own page")
    # proxy expose and a custom domain go to the box's own address too.
    t.alice.serve_http(b, 9000, f"exposed {b}")
    t.alice.run("box", "proxy", "expose", b, "9000").expect_ok()
    eventually(lambda: http_get(t.server.proxy_url, f"port-9000.{b}.alice.localhost", "/index.txt")
               == (200, f"exposed {b}\n"), timeout=15, what="the exposed port")
    t.alice.run("domain", "bind", f"{a}.example.test", a).expect_ok()
    expect_equal(http_get(t.server.proxy_url, f"{a}.example.test", "/index.txt"),
                 (200, f"hello from {a}\n"), "domain -> box a")


@suite.test
def box_has_its_own_loopback_address_hostname_and_hosts(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("id"))
    subnet = t.server.info.get("bridge_subnet", "")
    expect(subnet.count(".") == 3 and "/" in subnet, f"server reports bridge_subnet: {subnet!r}")
    address = box_address(t.alice, vm)
    prefix = subnet.split("/")[0].rsplit(".", 1)[0] + "."
    expect(address.startswith(prefix), f"eth0 {address} in the bridge subnet {subnet}")
    expect_equal(t.alice.sh(vm, "hostname").strip(), vm, "hostname")
    expect_equal(t.alice.sh(vm, f"getent hosts {vm}").split()[0], address, "own name -> own address")
    links = t.alice.sh(vm, "ls /sys/class/net").split()
    expect_equal(sorted(links), ["eth0", "lo"], "interfaces inside the box")
    # Its loopback is its own: a listener there answers the box, not the host.
    t.alice.serve_http(vm, 8123, "inside")
    eventually(lambda: probe(t.alice, vm, "127.0.0.1", 8123) == "connected", timeout=10,
               what="the box's own loopback listener")
    with socket.socket() as s:
        expect(s.connect_ex(("127.0.0.1", 8123)) != 0, "the box's port is not on the host's loopback")


@suite.test
def box_cannot_reach_the_host_loopback_or_the_server(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("jail"))
    accepted = []
    listeners = []
    for bind in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, 0))
        s.listen(8)
        listeners.append(s)

        def accept_loop(s=s):
            while True:
                try:
                    conn, peer = s.accept()
                except OSError:
                    return
                accepted.append(peer)
                conn.close()
        threading.Thread(target=accept_loop, daemon=True).start()
    try:
        loop_port = listeners[0].getsockname()[1]
        any_port = listeners[1].getsockname()[1]
        grpc_port = int(t.server.api_url.rsplit(":", 1)[1])
        http_port = int(t.server.exchange_url.split(":")[2].split("/")[0])
        gateway = t.server.info["bridge_subnet"].split("/")[0].rsplit(".", 1)[0] + ".1"
        for host, port in [("127.0.0.1", grpc_port), ("127.0.0.1", http_port),
                           ("127.0.0.1", loop_port), (gateway, grpc_port),
                           (gateway, any_port), (gateway, loop_port)]:
            got = probe(t.alice, vm, host, port)
            expect(got.startswith("failed"), f"box connecting to {host}:{port}: {got}")
        expect_equal(accepted, [], "connections the host's listeners accepted from the box")
        # Control: the host itself reaches its listener (the probe can succeed).
        with socket.create_connection(("127.0.0.1", any_port), timeout=2):
            pass
        eventually(lambda: len(accepted) == 1, timeout=5, what="the host's own connection")
    finally:
        for s in listeners:
            s.close()


@suite.test
def boxes_on_one_network_talk_by_name_others_cannot(t):
    t.require_isolation()
    net = t.box_name("backend")
    t.alice.run("network", "create", net).expect_ok()
    n1 = t.alice.create_box(t.box_name("n"), "--network", net)
    n2 = t.alice.create_box(t.box_name("n"), "--network", net)
    loner = t.alice.create_box(t.box_name("loner"))
    expect_equal(t.alice.get(n1).get("networks"), [net], "box get shows the network")
    t.alice.serve_http(n2, 7000, f"service of {n2}")
    eventually(lambda: fetch(t.alice, n1, f"http://{n2}:7000/index.txt") == f"service of {n2}",
               timeout=15, what=f"{n1} fetching http://{n2}:7000 by name")
    expect_equal(fetch(t.alice, n2, f"http://{n1}:7000/index.txt").split()[0], "failed",
                 "nothing listens on n1 (the probe can fail)")
    peer_address = t.alice.sh(n1, f"getent hosts {n2}").split()[0]
    n2_bridge = box_address(t.alice, n2)
    # The loner knows no name and reaches n2 at none of its addresses. The
    # network's subnet has no host route: without the server's DROP the probe
    # would leave this machine by the default route, so check that first.
    subnet = next(n["subnet"] for n in t.alice.run("network", "list", "--json").expect_ok().json()
                  if n["name"] == net)
    expect(peer_address.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0],
           f"n2's network address {peer_address} in the network's subnet {subnet}")
    h = net_hash(t.server)
    drops = [r for r in iptables_rules()
             if r.startswith(f"-A BOXD-{h}-FWD") and f"-d {subnet}" in r and r.endswith("-j DROP")]
    expect(drops, f"a DROP for {subnet} from the bridge: {ours(iptables_rules(), h)}")
    t.alice.exec(loner, f"getent hosts {n2}").expect_exit(2)
    for address in (peer_address, n2_bridge):
        got = probe(t.alice, loner, address, 7000)
        expect(got.startswith("failed"), f"{loner} -> {n2} at {address}: {got}")
    # n1 reaches n2 only on the network, not through the server bridge.
    got = probe(t.alice, n1, n2_bridge, 7000)
    expect(got.startswith("failed"), f"{n1} -> {n2}'s bridge address {n2_bridge}: {got}")
    # /etc/hosts follows the members: n2 stopped -> gone, started -> back.
    t.alice.run("box", "stop", n2).expect_ok()
    t.alice.exec(n1, f"getent hosts {n2}").expect_exit(2)
    t.alice.run("box", "start", n2).expect_ok()
    expect(t.alice.sh(n1, f"getent hosts {n2}").split()[0].count(".") == 3, "n2 listed again")
    t.alice.run("box", "create", t.box_name("x"), "--network", "no-such-net").expect_exit(4)
    t.bob.run("box", "create", t.box_name("x"), "--network", net).expect_exit(4)


@suite.test
def nat_rules_and_cleanup_on_destroy_and_stop(t):
    server = t.new_server("cleanup")
    t.require_isolation(server)
    cli = t.cli("alice", server=server)
    links_before = host_link_names()
    h = net_hash(server)
    expect(f"bxd-{h}" in host_link_names(), "the server's bridge exists")
    subnet = server.info["bridge_subnet"]
    rules = iptables_rules()
    for rule in (f"-A POSTROUTING -s {subnet} -j BOXD-{h}-NAT",
                 f"-A BOXD-{h}-NAT ! -d {subnet} -j MASQUERADE",
                 f"-A INPUT -i bxd-{h} -j BOXD-{h}-IN",
                 f"-A BOXD-{h}-IN -j DROP"):
        expect(rule in rules, f"iptables has {rule!r}: {ours(rules, h)}")
    expect_equal(open("/proc/sys/net/ipv4/ip_forward").read().strip(), "1", "ip_forward")
    net = "cleanup-net"
    cli.run("network", "create", net).expect_ok()
    a = cli.create_box("clean-a", "--network", net)
    b = cli.create_box("clean-b", "--network", net)
    with_boxes = ours(host_link_names(), h)
    expect(len(with_boxes) == 6, f"bridge, network bridge and 2 veths per box: {with_boxes}")
    cli.run("box", "destroy", a, "--yes").expect_ok()
    eventually(lambda: len(ours(host_link_names(), h)) == 4, timeout=10,
               what=f"a's veths gone after destroy: {ours(host_link_names(), h)}")
    cli.run("box", "destroy", b, "--yes").expect_ok()
    eventually(lambda: ours(host_link_names(), h) == [f"bxd-{h}"], timeout=10,
               what=f"only the bridge left: {ours(host_link_names(), h)}")
    cli.create_box("clean-c", "--network", net)
    server.stop()  # SIGTERM: what `boxd local stop` sends
    expect_equal(ours(host_link_names(), h), [], "links of this server after stop")
    expect_equal(ours(iptables_rules(), h), [], "iptables rules and chains after stop")
    expect_equal(ours(host_link_names() - links_before, h), [], "nothing new left")


@suite.test
def kill9_restart_adopts_the_box_network(t):
    server = t.new_server("adopt")
    t.require_isolation(server)
    cli = t.cli("alice", server=server)
    net = "adopt-net"
    cli.run("network", "create", net).expect_ok()
    a = cli.create_box("adopt-a", "--network", net)
    b = cli.create_box("adopt-b", "--network", net)
    cli.serve_http(a, 8080, "survivor")
    cli.serve_http(b, 7000, "peer")
    address = box_address(cli, a)
    h = net_hash(server)
    eventually(lambda: http_get(server.proxy_url, f"{a}.alice.localhost", "/index.txt")[0] == 200,
               timeout=15, what="a answering")
    server.kill9()
    server.start()
    expect_equal(cli.status(a), "running", "adopted")
    expect_equal(box_address(cli, a), address, "same address")
    expect_equal(http_get(server.proxy_url, f"{a}.alice.localhost", "/index.txt"), (200, "survivor\n"),
                 "proxy reaches the adopted box")
    expect_equal(fetch(cli, a, f"http://{b}:7000/index.txt"), "peer", "the network still works")
    c = cli.create_box("adopt-c")
    expect(box_address(cli, c) not in (address, box_address(cli, b)), "a new box gets a free address")
    server.stop()
    expect_equal(ours(host_link_names(), h), [], "links after stop")
    expect_equal(ours(iptables_rules(), h), [], "iptables after stop")


@suite.test
def bridge_subnet_flag_is_used_and_checked(t):
    subnet = "10.97.213.0/24"
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    expect("10.97.213." not in routes, f"{subnet} is free on this host: {routes}")
    server = t.new_server("flag", args=("--bridge-subnet", subnet))
    t.require_isolation(server)
    expect_equal(server.info.get("bridge_subnet"), subnet, "bridge_subnet line")
    cli = t.cli("alice", server=server)
    vm = cli.create_box("flagged")
    expect(box_address(cli, vm).startswith("10.97.213."), "box address in the flag's subnet")
    for bad, why in (("10.100.0.0/24", "user networks"), ("10.97.213.1/24", "host bits"),
                     ("nonsense", "invalid subnet"), (subnet, "overlaps")):
        state = t.dir / f"bad-{bad.replace('/', '_')}"
        out = cli.run("local", "serve", "--port", "0", "--state-dir", str(state),
                      "--bridge-subnet", bad, timeout=20)
        out.expect_exit(2)
        expect(why in out.stderr, f"{bad}: error says {why!r}: {out.stderr!r}")
    server.stop()
    # A /24 holds 253 boxes: a larger --max-boxes is said at start, not at box 254.
    small = t.new_server("max-small", args=("--max-boxes", "300"))
    expect("--max-boxes 300 is more than the bridge subnet" in small.log_path.read_text(),
           "a warning at start about --max-boxes past the /24")
    small.stop()
    fits = t.new_server("max-fits", args=("--max-boxes", "253"))
    expect("more than the bridge subnet" not in fits.log_path.read_text(),
           "no warning when --max-boxes fits")
    fits.stop()


def init_count(server):
    """Box init processes of this server (their argv names its state dir)."""
    count = 0
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"__box-init" in argv and any(str(server.state_dir).encode() in a for a in argv):
            count += 1
    return count


@suite.test
def a_boot_whose_network_fails_leaves_nothing_behind(t):
    """The network is set up while the init builds its root: when it fails
    (no address left in a /29: 5 boxes), the create fails with the quota's
    exit code and the init, its cgroups, its links and its directory go."""
    subnet = "10.97.214.0/29"
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    expect("10.97.214." not in routes, f"{subnet} is free on this host: {routes}")
    server = t.new_server("full", args=("--bridge-subnet", subnet))
    t.require_isolation(server)
    h = net_hash(server)
    cli = t.cli("alice", server=server)
    boxes = [cli.create_box(f"full-{i}") for i in range(5)]
    links = ours(host_link_names(), h)
    box_dirs = sorted(p.name for p in (server.state_dir / "boxes").iterdir())
    expect_equal(init_count(server), 5, "inits of the 5 boxes")
    for attempt in range(2):
        name = f"full-x{attempt}"
        out = cli.run("box", "create", name, timeout=60)
        out.expect_exit(6)
        expect("no free address left" in out.stderr, f"says why: {out.stderr!r}")
        expect_equal(init_count(server), 5, "no init left of the failed boot")
        expect_equal(ours(host_link_names(), h), links, "no link left of the failed boot")
        expect_equal(sorted(p.name for p in (server.state_dir / "boxes").iterdir()), box_dirs,
                     "no box directory left of the failed boot")
        log = server.log_path.read_text()
        ids = re.findall(rf"box creating user=alice box={name} id=(\S+)", log)
        expect_equal(len(ids), 1, f"the server logged the failed box's id: {log[-2000:]}")
        expect_equal(list(Path("/sys/fs/cgroup").glob(f"*/boxd-local/{ids[0]}")), [],
                     "no cgroup left of the failed boot")
        expect("full-x" not in cli.run("box", "list").expect_ok().stdout, "the failed box is not listed")
    cli.run("box", "destroy", boxes[0], "--yes").expect_ok()
    again = cli.create_box("full-again")
    expect(box_address(cli, again).startswith("10.97.214."), "a freed address is used again")
    server.stop()


def clock_ticks_now():
    """Now, in the unit of /proc/<pid>/stat's start time (ticks since boot)."""
    return int(float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK"))


def servers_started_since(ticks):
    """Pids of `boxd local serve` processes started at or after `ticks`."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            start = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[19])
        except (OSError, ValueError, IndexError):
            continue
        if b"local" in argv and b"serve" in argv and start >= ticks - 1:
            pids.append(int(entry))
    return pids


@suite.test
def a_killed_servers_network_goes_when_its_state_dir_does(t):
    """A server killed with SIGKILL leaves its bridge and chains; its next start
    on the same state dir takes them over. When that state dir is deleted
    there is no next start: the next server to start on this host removes
    them, and leaves alone those of a killed server whose state dir is still
    there, and every server's that runs. Chains with no bridge at all (left
    by servers before bridges were tagged) go too."""
    gone = t.new_server("reap-gone")
    t.require_isolation(gone)
    kept = t.new_server("reap-kept")
    live = t.new_server("reap-live")
    hashes = {name: net_hash(s) for name, s in (("gone", gone), ("kept", kept), ("live", live))}
    tag = (Path("/sys/class/net") / f"bxd-{hashes['gone']}" / "ifalias").read_text()
    expect(f"pid={gone.proc.pid} " in tag and f"state={gone.state_dir.resolve()}" in tag,
           f"the bridge names its server: {tag!r}")
    gone.kill9()
    kept.kill9()
    shutil.rmtree(gone.state_dir)
    # A chain set of an untagged era: no bridge, jumps from INPUT and POSTROUTING.
    legacy = "%06x" % random.randrange(1 << 24)
    subprocess.run(["iptables", "-w", "-N", f"BOXD-{legacy}-IN"], check=True)
    subprocess.run(["iptables", "-w", "-A", "INPUT", "-i", f"bxd-{legacy}", "-j",
                    f"BOXD-{legacy}-IN"], check=True)
    subprocess.run(["iptables", "-w", "-t", "nat", "-N", f"BOXD-{legacy}-NAT"], check=True)
    subprocess.run(["iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", "10.63.250.0/24",
                    "-j", f"BOXD-{legacy}-NAT"], check=True)
    for name in ("gone", "kept"):
        expect(ours(iptables_rules(), hashes[name]), f"{name}: chains left by SIGKILL")
    since = clock_ticks_now() - os.sysconf("SC_CLK_TCK")  # one that was still starting counts
    reaper = t.new_server("reap-reaper")
    links, rules = host_link_names(), iptables_rules()
    expect_equal(ours(links, hashes["gone"]), [], "links of the server whose state dir is gone")
    expect_equal(ours(rules, hashes["gone"]), [], "its iptables rules and chains")
    expect_equal(ours(rules, legacy), [], "chains with no bridge, and the jumps to them")
    for name in ("kept", "live"):
        expect(f"bxd-{hashes[name]}" in links, f"{name}: bridge stays")
        expect(any(f"-N BOXD-{hashes[name]}-FWD" == r for r in rules), f"{name}: chains stay")
    # Every server reaps at its start: a server of a test running in
    # parallel may have done it first (then the reaper has nothing to say).
    others = [pid for pid in servers_started_since(since)
              if pid not in (reaper.proc.pid, live.proc.pid)]
    if not others:
        expect("removed the network leftovers" in reaper.log_path.read_text(),
               "the reaping server says what it removed")
    kept.start()  # its next start takes them over; a graceful stop then removes them
    kept.stop()
    expect_equal(ours(host_link_names(), hashes["kept"]), [], "kept's links after its stop")
    expect_equal(ours(iptables_rules(), hashes["kept"]), [], "kept's chains after its stop")


suite.main()
