"""Box settings (issue 4, "the rest of the SDK", point 2): `boxd box resize`,
`boxd box set-auto-suspend`, `boxd box set-auto-hibernate` and `boxd box
wake`. The idle timeouts are enforced by boxd local: an idle box really
suspends (its processes freeze) or hibernates (stops), and traffic keeps it
awake."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)

GiB = 1 << 30


@suite.test
def resize_changes_what_get_shows(t):
    vm = t.alice.create_box(t.box_name("rsz"))
    doc = t.alice.run("box", "resize", vm, "--vcpu", "4", "--memory", "16G", "--json") \
        .expect_ok().json()
    expect_equal((doc.get("vcpu"), doc.get("memory_bytes"), doc.get("rebooted")),
                 (4, 16 * GiB, False), "ResizeVmResponse")
    box = t.alice.get(vm)
    expect_equal((box.get("vcpu"), box.get("memory_bytes")), (4, 16 * GiB), "get after resize")
    t.alice.run("box", "resize", vm, "--memory", "4G").expect_ok()
    box = t.alice.get(vm)
    expect_equal((box.get("vcpu"), box.get("memory_bytes")), (4, 4 * GiB), "vcpu unchanged")
    expect_equal(box.get("status"), "running", "the box still runs")
    t.alice.run("box", "resize", vm).expect_exit(2)
    t.alice.run("box", "resize", vm, "--memory", "lots").expect_exit(2)
    t.alice.run("box", "resize", vm, "--memory", "1M").expect_exit(2) \
        .expect_stderr_contains("at least 64MiB")  # the rule of box create too
    t.alice.run("box", "resize", "no-such-box", "--vcpu", "2").expect_exit(4) \
        .expect_error_line("VM 'no-such-box' not found")
    t.bob.run("box", "resize", vm, "--vcpu", "2").expect_exit(4)
    t.server.restart()
    expect_equal(t.alice.get(vm).get("vcpu"), 4, "the size survives a restart")


@suite.test
def idle_box_auto_suspends_and_traffic_keeps_it_awake(t):
    vm = t.alice.create_box(t.box_name("idle"))
    t.alice.run("box", "set-auto-suspend", vm, "3").expect_ok()
    expect_equal(t.alice.get(vm).get("auto_suspend_timeout_secs"), 3, "stored timeout")
    # An exec running longer than the timeout is traffic: no suspend under it.
    t.alice.exec(vm, "sleep", "5", timeout=30).expect_ok()
    expect_equal(t.alice.status(vm), "running", "running right after a 5 s exec")
    eventually(lambda: t.alice.status(vm) == "suspended", timeout=10,
               what="the idle box suspended")
    t.alice.exec(vm, "true").expect_exit(255).expect_stderr_contains(f"VM '{vm}' is suspended")
    t.alice.run("box", "resume", vm).expect_ok()
    t.alice.run("box", "set-auto-suspend", vm, "0").expect_ok()
    time.sleep(4.5)
    expect_equal(t.alice.status(vm), "running", "0 turns auto-suspend off")
    expect_equal(t.alice.get(vm).get("auto_suspend_timeout_secs"), 0, "stored 0")


@suite.test
def idle_box_hibernates_and_wakes(t):
    vm = t.alice.create_box(t.box_name("hib"))
    t.alice.sh(vm, "echo kept > ~/k")
    t.alice.run("box", "set-auto-hibernate", vm, "2", "--json").expect_ok().expect_stdout("{}\n")
    expect_equal(t.alice.get(vm).get("auto_hibernate_timeout_secs"), 2, "stored timeout")
    eventually(lambda: t.alice.status(vm) == "hibernated", timeout=10,
               what="the idle box hibernated")
    t.alice.exec(vm, "true").expect_exit(255).expect_stderr_contains(f"VM '{vm}' is hibernated")
    t.alice.run("box", "set-auto-hibernate", vm, "0").expect_ok()
    t.alice.run("box", "wake", vm).expect_ok()
    expect_equal(t.alice.status(vm), "running", "running after wake")
    expect_equal(t.alice.sh(vm, "cat ~/k"), "kept\n", "the disk survived hibernation")
    t.alice.run("box", "wake", vm).expect_ok()  # already running: fine
    t.alice.run("box", "wake", "no-such-box").expect_exit(4)
    t.alice.run("box", "set-auto-suspend", "no-such-box", "5").expect_exit(4)
    t.alice.run("box", "set-auto-suspend", vm, "soon").expect_exit(2)


suite.main()
