"""Enforced limits and honest degradation (issue 10, points 4 and 5): a box's
--memory, --vcpu and the server's --box-pids-max are cgroup limits the
kernel enforces (read back here from the host's cgroup files), resize
changes them at once, stop and destroy leave no cgroup behind, and the
server, `boxd local status` and `boxd doctor` say which isolation layers
are in force and which are not (the process runtime: none, and no box claims
a limit)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)

MiB = 1 << 20


def host_has_controller(controller):
    """True when this host offers the cgroup controller (v1 mount or v2)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4:
                continue
            if fields[2] == "cgroup" and controller in fields[3].split(","):
                return True
            if fields[2] == "cgroup2":
                try:
                    text = Path(fields[1], "cgroup.controllers").read_text()
                except OSError:
                    continue
                if controller in text.split():
                    return True
    return False


def require_layer(t, server, layer, controller):
    """The server must enforce `layer` when the host has `controller`; a host
    without it is the honest degradation this suite also checks (skip)."""
    t.require_isolation(server)
    off = server.info.get("isolation_off", "")
    if not host_has_controller(controller):
        expect(layer in off, f"the host has no {controller} controller, yet the server does "
                             f"not list '{layer}' as off: {off!r}")
        t.skip(f"this host has no {controller} cgroup controller")
    expect(layer not in off, f"the host has a {controller} controller, but the server "
                             f"reports '{layer}' off: {off!r} (see its log)")


def cgroup_dirs(vm_id):
    """The box's cgroup directories on the host, one per hierarchy used."""
    root = Path("/sys/fs/cgroup")
    return sorted(d / "boxd-local" / vm_id for d in [root, *root.iterdir()]
                  if (d / "boxd-local" / vm_id).is_dir())


def cgroup_value(vm_id, *names):
    """The first of these cgroup files that exists for the box, stripped."""
    for d in cgroup_dirs(vm_id):
        for name in names:
            if (d / name).exists():
                return (d / name).read_text().strip()
    raise AssertionError(f"no {names} in the cgroups of {vm_id}: {cgroup_dirs(vm_id)}")


def memory_limit(vm_id):
    return int(cgroup_value(vm_id, "memory.max", "memory.limit_in_bytes"))


HOG = "head -c {size} /dev/zero | tail > /dev/null"  # tail keeps the one "line" in memory


@suite.test
def memory_past_the_limit_kills_the_hog_and_everything_else_goes_on(t):
    require_layer(t, t.server, "memory limit", "memory")
    vm = t.alice.create_box(t.box_name("mem"), "--memory", "256M")
    doc = t.alice.get(vm)
    expect_equal(doc["enforced"]["memory_bytes"], 256 * MiB, "GetVm enforced.memory_bytes")
    expect_equal(memory_limit(doc["vm_id"]), 256 * MiB, "the host's cgroup file")
    shown = t.alice.run("box", "get", vm).expect_ok()
    expect("memory 256MiB" in shown.stdout, shown.describe("`box get` shows no enforced memory"))

    started = time.monotonic()
    hog = t.alice.exec(vm, HOG.format(size="600M"), timeout=60)
    hog.expect_exit(137)  # SIGKILL from the kernel's OOM killer, inside the box's cgroup
    expect(time.monotonic() - started < 30, hog.describe("the OOM kill took over 30 s"))
    expect_equal(t.alice.sh(vm, "echo alive"), "alive\n", "the box after its OOM kill")
    t.alice.exec(vm, HOG.format(size="100M")).expect_ok()
    expect_equal(t.alice.status(vm), "running", "status after the OOM kill")
    other = t.alice.create_box(t.box_name("other"))
    expect_equal(t.alice.sh(other, "echo other"), "other\n", "another box")
    expect(vm in t.alice.list_names(), "ListVms after the OOM kill")


@suite.test
def fork_bomb_stops_at_pids_max_and_the_host_stays_fine(t):
    server = t.new_server("pids", args=["--box-pids-max", "100"])
    require_layer(t, server, "pids limit", "pids")
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("bomb"))
    bystander = cli.create_box(t.box_name("calm"))
    vm_id = cli.get(vm)["vm_id"]
    expect_equal(cgroup_value(vm_id, "pids.max"), "100", "the host's pids.max")
    expect_equal(cli.get(vm)["enforced"]["pids"], 100, "GetVm enforced.pids")
    # A bounded bomb: start 1000 sleepers; sh (dash) gives up at the first
    # fork that fails.
    bomb = ("n=0; while [ $n -lt 1000 ]; do sleep 120 >/dev/null 2>&1 & n=$((n+1)); done; "
            "echo finished")
    result = cli.exec(vm, bomb, timeout=90)
    expect("finished" not in result.stdout, result.describe("1000 processes started in the box"))
    current = int(cgroup_value(vm_id, "pids.current"))
    expect(50 <= current <= 100, f"pids.current of the full box is {current}, expected 50..100")
    # The host and the other box are fine meanwhile.
    started = time.monotonic()
    subprocess.run(["/bin/true"], check=True, timeout=10)
    expect_equal(cli.sh(bystander, "echo fine"), "fine\n", "the other box")
    expect(time.monotonic() - started < 20, "the host or the other box was slow to respond")
    cli.run("box", "list").expect_ok()
    cli.run("box", "destroy", vm, "--yes").expect_ok()
    cli.created.remove(vm)
    expect_equal(cgroup_dirs(vm_id), [], "cgroups left after destroy")


@suite.test
def resize_applies_at_once_to_the_running_box(t):
    require_layer(t, t.server, "memory limit", "memory")
    vm = t.alice.create_box(t.box_name("rsz"), "--memory", "256M", "--vcpu", "2")
    vm_id = t.alice.get(vm)["vm_id"]
    t.alice.exec(vm, HOG.format(size="400M"), timeout=60).expect_exit(137)
    t.alice.run("box", "resize", vm, "--memory", "768M").expect_ok()
    expect_equal(memory_limit(vm_id), 768 * MiB, "the host's cgroup file right after resize")
    expect_equal(t.alice.get(vm)["enforced"]["memory_bytes"], 768 * MiB, "GetVm after resize")
    t.alice.exec(vm, HOG.format(size="400M"), timeout=60).expect_ok()  # the box has room now

    if host_has_controller("cpu"):
        expect_equal(t.alice.get(vm)["enforced"]["vcpu"], 2, "enforced vcpu at create")
        t.alice.run("box", "resize", vm, "--vcpu", "1").expect_ok()
        expect_equal(t.alice.get(vm)["enforced"]["vcpu"], 1, "enforced vcpu after resize")
        quota = cgroup_value(vm_id, "cpu.max", "cpu.cfs_quota_us").split()[0]
        expect_equal(quota, "100000", "the host's cpu quota (1 vcpu per 100 ms)")

    # The same minimum everywhere: 64M.
    t.alice.run("box", "resize", vm, "--memory", "1").expect_exit(2) \
        .expect_stderr_contains("at least 64MiB")
    t.alice.run("box", "create", "tiny", "--memory", "1").expect_exit(2) \
        .expect_stderr_contains("at least 64MiB")
    t.alice.run("template", "create", "tiny", "--memory", "1").expect_exit(2)
    t.alice.run("box", "resize", vm, "--memory", "64M").expect_ok()
    expect_equal(memory_limit(vm_id), 64 * MiB, "64M is accepted and enforced")
    expect_equal(t.alice.sh(vm, "echo small"), "small\n", "a 64M box runs commands")


def init_pids_of(vm_id):
    """Host pids of the box init processes of `vm_id` (argv names its dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"__box-init" in argv and any(vm_id.encode() in a for a in argv):
            pids.append(int(entry))
    return pids


@suite.test
def the_init_is_in_every_cgroup_of_its_box_when_create_returns(t):
    """The init joins the box's cgroups: a v1 one by itself before it execs
    (writing "0" to `tasks`), a v2 one by the server while the init builds
    the root; create (and start) must not return before that."""
    server = t.new_server("init-cgroups")
    t.require_isolation(server)
    cli = t.cli("alice", server=server)
    for round_ in range(3):
        vm = cli.create_box(t.box_name("cg"))
        vm_id = cli.get(vm)["vm_id"]
        dirs = cgroup_dirs(vm_id)
        expect(dirs, f"the running box {vm_id} has no cgroup under /sys/fs/cgroup")
        pids = init_pids_of(vm_id)
        expect_equal(len(pids), 1, f"box init processes of {vm_id}")
        for d in dirs:
            procs = (d / "cgroup.procs").read_text().split()
            expect(str(pids[0]) in procs,
                   f"the init {pids[0]} is not in {d} (round {round_}): {procs}")
        own = Path(f"/proc/{pids[0]}/cgroup").read_text()
        for d in dirs:
            expect(f"/boxd-local/{vm_id}" in own, f"/proc/{pids[0]}/cgroup: {own}")


@suite.test
def stop_destroy_and_server_stop_leave_no_cgroup(t):
    server = t.new_server("cleanup")
    t.require_isolation(server)
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("clean"))
    vm_id = cli.get(vm)["vm_id"]
    expect(cgroup_dirs(vm_id), f"the running box {vm_id} has no cgroup under /sys/fs/cgroup")
    cli.run("box", "stop", vm).expect_ok()
    expect_equal(cgroup_dirs(vm_id), [], "cgroups left after stop")
    expect_equal(cli.get(vm).get("enforced"), None, "a stopped box claims no enforced limits")
    cli.run("box", "start", vm).expect_ok()
    expect(cgroup_dirs(vm_id), "start made no cgroup")
    server.stop()
    expect_equal(cgroup_dirs(vm_id), [], "cgroups left after the server stopped")
    server.start()
    expect_equal(cli.status(vm), "running", "the box runs again after the restart")
    cli.run("box", "destroy", vm, "--yes").expect_ok()
    cli.created.remove(vm)
    expect_equal(cgroup_dirs(vm_id), [], "cgroups left after destroy")


@suite.test
def status_and_doctor_list_every_isolation_layer(t):
    t.require_isolation(t.server)
    expect("isolation_off" in t.server.info, f"no 'isolation_off:' ready line: {t.server.info}")
    # `boxd local status` of a background server shows every layer.
    state = t.dir / "bg-state"
    cli = t.cli("alice", server=False)
    cli.run("local", "start", "--state-dir", str(state), "--port", "0", "--no-login",
            timeout=90).expect_ok()
    try:
        text = cli.run("local", "status", "--state-dir", str(state)).expect_ok()
        for layer in ("mount namespace", "pid namespace", "memory limit", "cpu limit",
                      "pids limit", "freezer"):
            expect(any(layer in line and line.split()[0] in ("on", "off")
                       for line in text.lines()), text.describe(f"no line for '{layer}'"))
        doc = cli.run("local", "status", "--state-dir", str(state), "--json").expect_ok().json()
        layers = {layer["name"]: layer for layer in doc.get("isolation", [])}
        expect(layers.get("pid namespace", {}).get("enforced") is True,
               f"pid namespace not in force: {doc}")
        if host_has_controller("memory"):
            expect(layers.get("memory limit", {}).get("enforced") is True,
                   f"memory limit not in force: {doc}")
    finally:
        cli.run("local", "stop", "--state-dir", str(state), timeout=60)
    # `boxd doctor` in the local environment.
    t.alice.extra_env = {"BOXD_ENVIRONMENT": "local"}
    try:
        r = t.alice.run("doctor")
    finally:
        t.alice.extra_env = {}
    line = [ln for ln in r.lines() if ln.split()[1:2] == ["isolation"]]
    expect(line, r.describe("doctor has no 'isolation' line in the local environment"))
    expect("pid namespace" in line[0], r.describe("the isolation line does not name the layers"))


@suite.test
def the_process_runtime_claims_no_isolation(t):
    server = t.new_server("process", args=["--runtime", "process"])
    off = server.info.get("isolation_off", "")
    for layer in ("memory limit", "cpu limit", "pids limit", "pid namespace"):
        expect(layer in off, f"the process runtime does not list '{layer}' as off: {off!r}")
    log = server.log_path.read_text(errors="replace")
    expect(re.search(r"Z warn +no memory limit: runtime 'process'", log),
           f"no start-up warning about the memory limit in the log:\n{log[-2000:]}")
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("plain"), "--memory", "256M")
    enforced = cli.get(vm)["enforced"]
    expect_equal((enforced["memory_bytes"], enforced["vcpu"], enforced["pids"]), (0, 0, 0),
                 "limits enforced by the process runtime")
    shown = cli.run("box", "get", vm).expect_ok()
    expect("no limits" in shown.stdout, shown.describe("`box get` must say no limits"))
    cli.extra_env = {"BOXD_ENVIRONMENT": "local"}
    r = cli.run("doctor")
    line = [ln for ln in r.lines() if ln.split()[1:2] == ["isolation"]]
    expect(line and line[0].startswith("warn"), r.describe("doctor does not warn"))
    expect("memory limit" in line[0], r.describe("the warning does not name the memory limit"))


suite.main()
