"""Interactive box exec under a real pseudo-terminal (issue 3): raw mode on
during the session and the original termios back afterwards on every exit
path, the window size and its changes seen remotely, keystrokes relayed as
typed (Ctrl-C reaches the remote side), and the ~. escape."""

import fcntl
import hashlib
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Failure, Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
_vm = []


def vm(t):
    if not _vm:
        _vm.append(t.alice.create_box(t.box_name("tty")))
    return _vm[0]


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtySession:
    """boxd running with a pseudo-terminal as stdin, stdout and stderr and as
    its controlling terminal, the way a person at a terminal runs it. We keep
    the slave side open too, to read its termios while boxd runs."""

    def __init__(self, cli, *args, rows=24, cols=80):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        # A cooked terminal as a shell leaves it.
        self.original = termios.tcgetattr(self.slave)
        self.output = b""
        self.cli = cli
        argv = [cli.suite.bin, *[str(a) for a in args]]

        def make_controlling_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                     env=cli.env(), cwd=cli.home, start_new_session=True,
                                     preexec_fn=make_controlling_tty)
        cli.suite.log.write(f"[{cli.user}] $ (pty) boxd {' '.join(map(str, args))}\n")

    def read_until(self, needle, timeout=15.0):
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        start = 0
        while needle not in self.output[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"did not see {needle!r} within {timeout:.0f}s; "
                              f"terminal output so far: {self.output[-1500:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                self.output += chunk
        return self.output

    def drain(self, seconds=0.3):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return

    def type(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def is_raw(self):
        lflag = termios.tcgetattr(self.slave)[3]
        return not (lflag & termios.ICANON) and not (lflag & termios.ECHO) and not (lflag & termios.ISIG)

    def restored(self):
        return termios.tcgetattr(self.slave) == self.original

    def wait(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() >= deadline:
                self.proc.kill()
                self.proc.wait()
                raise Failure(f"boxd did not exit within {timeout:.0f}s; "
                              f"terminal output: {self.output[-1500:]!r}")
            self.drain(0.05)
        self.drain(0.1)
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)

    def expect_restored(self, how):
        expect(self.restored(), f"terminal not restored after {how}: "
               f"{termios.tcgetattr(self.slave)!r} != {self.original!r}")


def shell_session(t, rows=24, cols=80):
    """An interactive `sh` in the box, ready for input."""
    s = PtySession(t.alice, "box", "exec", vm(t), "--", "sh", rows=rows, cols=cols)
    s.read_until("$ ")  # the remote shell is up and reading its terminal
    s.type("echo READY-$((40+2))\r")
    s.read_until("READY-42")
    return s


@suite.test
def typed_line_reaches_the_remote_shell_and_its_echo_comes_back(t):
    s = shell_session(t)
    try:
        expect(s.is_raw(), "the local terminal is not raw during the session")
        s.type("echo hel''lo-$((6*7))\r")
        out = s.read_until("hello-42")
        # The remote PTY echoes what we typed (raw locally, so the echo is remote).
        expect(b"echo hel''lo" in out, f"remote echo of the typed line missing: {out[-500:]!r}")
        s.type("exit 7\r")
        expect_equal(s.wait(), 7, "boxd exit code = remote exit code")
        s.expect_restored("a nonzero remote exit")
    finally:
        s.close()


@suite.test
def keys_typed_before_the_session_is_up_are_not_lost(t):
    # Typed at once, while boxd is still connecting: the bytes wait in the local
    # terminal's input queue and must survive the switch to raw mode.
    s = PtySession(t.alice, "box", "exec", vm(t), "--", "sh", "-c",
                   "sleep 1; read line; echo \"got:$line:$((6*7))\"")
    try:
        s.type("early-bird\r")
        s.read_until("got:early-bird:42")
        expect_equal(s.wait(), 0, "exit code")
        s.expect_restored("a session with typeahead")
    finally:
        s.close()


@suite.test
def normal_exit_restores_the_terminal(t):
    s = shell_session(t)
    try:
        s.type("exit\r")
        expect_equal(s.wait(), 0, "exit code")
        s.expect_restored("a normal exit")
    finally:
        s.close()


@suite.test
def window_size_is_sent_first_and_follows_resizes(t):
    s = shell_session(t, rows=33, cols=101)
    try:
        s.type("stty size\r")
        s.read_until("33 101")
        set_size(s.slave, 40, 120)  # the kernel sends SIGWINCH to boxd

        def resized():
            s.type("stty size\r")
            try:
                s.read_until("40 120", timeout=1.0)
                return True
            except Failure:
                return False

        eventually(resized, 15, 0, "the new size inside the box")
        s.type("exit\r")
        s.wait()
    finally:
        s.close()


@suite.test
def keystrokes_pastes_and_resizes_arrive_whole_and_in_order(t):
    # The server writes a small chunk (a keystroke) to the box's PTY from the
    # gRPC thread that received it, and hands anything else (a big paste, a
    # resize, what the PTY cannot take now) to the session's pump thread. The
    # remote side sleeps first, so the PTY fills and writes stop part-way:
    # nothing may be lost, doubled or reordered between the two paths.
    letters = b"abcdefghijklmnopqrstuvwxyz0123456789"
    sent = bytearray()

    def chunk(n, seed):
        return bytes(letters[(seed * 7 + i * 13) % len(letters)] for i in range(n))

    script = ("stty raw -echo; printf READY; sleep 1; head -c {n} | sha256sum; "
              "printf 'SIZE:'; stty size")
    plan = []
    for round_ in range(3):
        plan += [chunk(1, round_ * 1000 + i) for i in range(150)]
        # Small enough for the keystroke path, too many for the PTY to hold.
        plan += [chunk(3000, round_ * 1000 + i) for i in range(30)]
        plan.append(chunk(30000 if round_ == 0 else 5000, round_))
        plan.append(("size", 30 + round_, 90 + round_))
    total = sum(len(p) for p in plan if isinstance(p, bytes))
    s = PtySession(t.alice, "box", "exec", "-t", vm(t), "--", script.format(n=total))
    try:
        s.read_until("READY")
        for step in plan:
            if isinstance(step, tuple):
                set_size(s.slave, step[1], step[2])
                continue
            s.type(step)
            sent += step
            if len(step) <= 3000:
                time.sleep(0.001)  # one chunk at a time, not a burst
        out = s.read_until("SIZE:", timeout=30)
        digest = hashlib.sha256(bytes(sent)).hexdigest()
        expect(digest.encode() in out,
               f"what the box read differs from what was typed ({total} bytes, "
               f"sha256 {digest}); terminal: {out[-400:]!r}")
        expect_equal(s.wait(), 0, "exit code")
        expect(b"SIZE:32 92" in s.output, f"the last resize did not arrive: {s.output[-200:]!r}")
    finally:
        s.close()


@suite.test
def ctrl_c_reaches_the_remote_side_as_a_byte(t):
    s = shell_session(t)
    try:
        s.type("sleep 300; echo AFTER-$((1+1))\r")
        time.sleep(0.5)
        s.type(b"\x03")  # interrupts the remote sleep, not boxd
        s.type("echo ALIVE-$((2+3))\r")
        s.read_until("ALIVE-5")
        expect(s.proc.poll() is None, "boxd exited on Ctrl-C instead of relaying it")
        expect(b"AFTER-2" not in s.output, "the remote sleep was not interrupted")
        s.type(b"\x04")  # Ctrl-D at the prompt: EOF ends the remote shell
        expect_equal(s.wait(), 0, "exit after Ctrl-D")
        s.expect_restored("Ctrl-D")
    finally:
        s.close()


@suite.test
def escape_sequence_ends_a_hung_session(t):
    s = PtySession(t.alice, "box", "exec", vm(t), "--", "sh", "-c", "echo HUNG-$((3*3)); sleep 1000")
    try:
        s.read_until("HUNG-9")
        s.type("\r~.")
        code = s.wait(10)
        expect(code != 0, f"~. should end boxd with a nonzero code, got {code}")
        s.expect_restored("~.")
    finally:
        s.close()
    leftover = t.alice.exec(vm(t), "ps", "-eo", "args").expect_ok().stdout
    expect("sleep 1000" not in leftover, f"the remote command survived ~.: {leftover!r}")


@suite.test
def escape_char_none_disables_it(t):
    s = PtySession(t.alice, "box", "exec", "--escape-char", "none", vm(t), "--", "sh")
    try:
        s.read_until("$ ")
        s.type("echo R-$((1))\r")
        s.read_until("R-1")
        s.type("\r~.\r")
        s.type("echo STILL-$((4+4))\r")
        s.read_until("STILL-8")
        expect(s.proc.poll() is None, "~. ended the session although escapes were disabled")
        s.type("exit\r")
        s.wait()
    finally:
        s.close()


def signal_restores(t, sig):
    s = shell_session(t)
    try:
        expect(s.is_raw(), "not raw during the session")
        s.proc.send_signal(sig)
        s.wait(10)
        s.expect_restored(signal.Signals(sig).name)
    finally:
        s.close()


@suite.test
def sigterm_restores_the_terminal(t):
    signal_restores(t, signal.SIGTERM)


@suite.test
def sighup_restores_the_terminal(t):
    signal_restores(t, signal.SIGHUP)


@suite.test
def sigquit_restores_the_terminal(t):
    signal_restores(t, signal.SIGQUIT)


@suite.test
def sigint_restores_the_terminal(t):
    signal_restores(t, signal.SIGINT)


@suite.test
def server_killed_mid_session_restores_the_terminal(t):
    server = t.new_server("doomed")
    cli = t.cli("alice", server=server)
    name = cli.create_box(t.box_name("doomed"))
    s = PtySession(cli, "box", "exec", name, "--", "sh")
    try:
        s.read_until("$ ")
        s.type("echo UP-$((5+5))\r")
        s.read_until("UP-10")
        server.kill9()
        code = s.wait(15)
        expect_equal(code, 255, "boxd's own failure (lost server) exits 255")
        s.expect_restored("the server was killed")
        expect(b"error:" in s.output, f"no error message after losing the server: {s.output[-500:]!r}")
    finally:
        s.close()


@suite.test
def server_error_restores_the_terminal(t):
    s = PtySession(t.alice, "box", "exec", "no-such-box-tty", "--", "sh")
    try:
        code = s.wait(10)
        expect_equal(code, 255, "exec's own failure exits 255")
        s.expect_restored("a server error")
        expect(b"not found" in s.output, f"missing the server's message: {s.output!r}")
    finally:
        s.close()


@suite.test
def auto_tty_needs_all_three_streams_to_be_terminals(t):
    # stdout piped: no PTY, so `tty` in the box says "not a tty" and there is no \r.
    master, slave = os.openpty()
    try:
        p = subprocess.run([t.bin, "box", "exec", vm(t), "--", "tty"], stdin=slave,
                           stdout=subprocess.PIPE, stderr=slave, env=t.alice.env(), timeout=30)
        expect("not a tty" in p.stdout.decode(), f"expected no PTY with stdout piped: {p.stdout!r}")
        expect(b"\r" not in p.stdout, "CR in piped output")
    finally:
        os.close(master)
        os.close(slave)
    # -t forces a PTY even with pipes.
    forced = t.alice.run("box", "exec", "-t", vm(t), "--", "tty")
    expect(forced.stdout.startswith("/dev/pts/"), forced.describe("-t should force a PTY"))
    t.alice.run("box", "exec", "--tty=never", vm(t), "--", "tty").expect_stdout_contains("not a tty")


suite.main()
