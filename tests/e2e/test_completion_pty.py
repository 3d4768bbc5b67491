"""Bash completion as a person gets it (issue 16): an interactive bash on a
pseudo-terminal sources the generated script and real TAB keys go through
readline, which runs `boxd __complete` against the suite's server. After
each completion the test reads back the edited line itself: Ctrl-A, then
`L ` in front of it and Enter, where L prints its arguments base64-encoded,
so the terminal's redrawing cannot blur what is on the line."""

import base64
import fcntl
import os
import re
import select
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Failure, Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)

PROMPT = b"READY> "


class BashPty:
    """`bash --norc -i` with a pty as its terminal, `boxd` on PATH."""

    def __init__(self, t, cli):
        self.master, slave = os.openpty()
        env = cli.env()
        env["PATH"] = os.path.dirname(t.bin) + os.pathsep + env.get("PATH", "")
        env["TERM"] = "dumb"
        env["INPUTRC"] = "/dev/null"

        def make_controlling_tty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile", "-i"], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, cwd=cli.home,
                                     start_new_session=True, preexec_fn=make_controlling_tty)
        os.close(slave)
        self.output = b""
        script = cli.run("completion", "bash").expect_ok().stdout
        path = cli.dir / "boxd.bash"
        path.write_text(script)
        self.type(f"PS1='READY> '; source {path}; "
                  "L() { printf 'LINE=%s.' \"$(printf '%s\\n' \"$@\" | base64 -w0)\"; }\r")
        self.read_until(PROMPT)

    def type(self, text):
        os.write(self.master, text.encode())

    def read_until(self, needle, timeout=15.0, start=None, after=b""):
        """Reads until `needle` shows up (after `after`, when given) past `start`."""
        deadline = time.monotonic() + timeout
        start = len(self.output) if start is None else start

        def found():
            at = self.output.find(after, start)
            return at >= 0 and needle in self.output[at + len(after):]

        while not found():
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise Failure(f"bash did not print {needle!r} within {timeout:.0f}s; "
                              f"terminal so far: {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    pass
        return self.output[start:]

    def complete(self, typed, tabs=2):
        """Types `typed` and TABs, then reads the line back: (words, terminal output)."""
        start = len(self.output)
        self.type(typed + "\t" * tabs + "\x01L \r")
        # (The prompt is also redrawn while the line is edited: wait for L's output.)
        self.read_until(b"." + PROMPT, start=start, after=b"LINE=")
        seen = self.output[start:]
        match = re.search(rb"LINE=([A-Za-z0-9+/=]*)\.", seen)
        if not match:
            raise Failure(f"no LINE= after {typed!r}: {seen!r}")
        words = base64.b64decode(match.group(1)).decode().splitlines()
        return words, seen.decode(errors="replace")

    def close(self):
        self.type("exit\r")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


@suite.test
def tab_after_exec_box_name_completes_nothing(t):
    first = t.alice.create_box(t.box_name("ptya"))
    other = t.alice.create_box(t.box_name("ptyb"))
    bash = BashPty(t, t.alice)
    try:
        # The box position completes the name (from the API, through readline).
        words, _ = bash.complete("boxd box exec pty" + "a", tabs=1)
        expect_equal(words, ["boxd", "box", "exec", first], "boxd box exec ptya<TAB>")
        # After the box: the remote command; TAB TAB neither inserts nor lists names.
        words, seen = bash.complete(f"boxd box exec {first} ")
        expect_equal(words, ["boxd", "box", "exec", first], f"boxd box exec {first} <TAB><TAB>")
        expect(other not in seen, f"TAB TAB after the box name listed box names: {seen!r}")
        # Commands that take several boxes keep completing them.
        words, _ = bash.complete(f"boxd box stop {first} ptyb", tabs=1)
        expect_equal(words, ["boxd", "box", "stop", first, other], "box stop A ptyb<TAB>")
        # With a flag and its value before the box, the count still holds.
        words, seen = bash.complete(f"boxd box exec -w /tmp {first} ")
        expect_equal(words, ["boxd", "box", "exec", "-w", "/tmp", first], "exec -w /tmp VM <TAB>")
        expect(other not in seen, f"names listed after exec -w /tmp VM: {seen!r}")
    finally:
        bash.close()


suite.main()
