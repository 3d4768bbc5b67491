"""`boxd box logs VM [-f]`: the box's console output from its first boot on;
-f follows reboots and ends when the box is destroyed (issue 4, point 2)."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


class Follower:
    """`boxd box logs -f VM` in the background, its stdout collected."""

    def __init__(self, t, vm):
        self.proc = subprocess.Popen([t.bin, "box", "logs", "-f", vm], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=t.alice.env(), cwd=t.alice.home)
        self.out = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            block = self.proc.stdout.read1(65536)
            if not block:
                return
            self.out += block

    def text(self):
        return self.out.decode(errors="replace")

    def wait(self, timeout):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.reader.join(5)
        return code

    def stderr(self):
        return self.proc.stderr.read().decode(errors="replace")


@suite.test
def logs_show_the_boot(t):
    vm = t.alice.create_box(t.box_name("logs"))
    out = t.alice.run("box", "logs", vm).expect_ok().stdout
    expect(f"boxd: booting box {vm}" in out, f"boot line in {out!r}")
    expect("boxd: ready" in out, f"ready line in {out!r}")


@suite.test
def unknown_box_is_not_found(t):
    t.alice.run("box", "logs", "no-such-box").expect_exit(4) \
        .expect_error_line("VM 'no-such-box' not found")


@suite.test
def follow_sees_a_reboot_and_ends_when_the_box_is_destroyed(t):
    vm = t.alice.create_box(t.box_name("follow"))
    follower = Follower(t, vm)
    eventually(lambda: "boxd: ready" in follower.text(), 10, what="first boot in the log")
    t.alice.run("box", "reboot", vm, timeout=60).expect_ok()
    eventually(lambda: follower.text().count(f"boxd: booting box {vm}") >= 2, 15,
               what="second boot seen by logs -f")
    expect(follower.proc.poll() is None, "logs -f ended during a reboot")
    t.alice.run("box", "destroy", "--yes", vm, timeout=60).expect_ok()
    t.alice.created.remove(vm)
    code = follower.wait(10)
    expect_equal(code, 0, f"logs -f exit after the destroy (stderr {follower.stderr()!r})")


@suite.test
def follow_ends_when_the_box_stops(t):
    vm = t.alice.create_box(t.box_name("stops"))
    follower = Follower(t, vm)
    eventually(lambda: "boxd: ready" in follower.text(), 10, what="boot in the log")
    t.alice.run("box", "stop", vm, timeout=60).expect_ok()
    expect_equal(follower.wait(10), 0, "logs -f exit after a stop")
    expect("boxd: box stopped" in follower.text(), "the stop line was sent before the end")


@suite.test
def ctrl_c_exits_130(t):
    vm = t.alice.create_box(t.box_name("ctrlc"))
    follower = Follower(t, vm)
    eventually(lambda: "boxd: ready" in follower.text(), 10, what="boot in the log")
    time.sleep(0.3)
    follower.proc.send_signal(signal.SIGINT)
    expect_equal(follower.wait(10), 130, "exit status after SIGINT")


suite.main()
