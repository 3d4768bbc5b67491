"""Progress and notices on stderr (issue 5, point 5), under a real PTY: the
spinner of box create / box fork appears on a terminal and is erased, and
nothing of it reaches a pipe; the update notice (a server advertising a newer
CLI in x-boxd-cli-latest) is printed once a day on a terminal, and never when
stderr is not a terminal, with --json, with CI or BOXD_NO_UPDATE_NOTIFIER
set, or when the advertised version is not newer."""

import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Failure, Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
NOTICE = "notice: boxd 99.1.0 is available"
_newer = []


def newer_server(t):
    """A server that advertises CLI 99.1.0 on every response."""
    if not _newer:
        _newer.append(t.new_server("newer", args=["--advertise-cli-latest", "99.1.0"]))
    return _newer[0]


def run_pty(cli, *args, env=None, unset=(), timeout=60.0):
    """Runs boxd with a pseudo-terminal as stdin, stdout and stderr (and
    controlling terminal). Returns (exit code, everything the terminal got)."""
    master, slave = os.openpty()
    full_env = cli.env()
    full_env.update(env or {})
    for name in unset:
        full_env.pop(name, None)

    def make_controlling_tty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([cli.suite.bin, *map(str, args)], stdin=slave, stdout=slave,
                            stderr=slave, env=full_env, cwd=cli.home, start_new_session=True,
                            preexec_fn=make_controlling_tty)
    os.close(slave)
    cli.suite.log.write(f"[{cli.user}] $ (pty) boxd {' '.join(map(str, args))}\n")
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise Failure(f"boxd {args} did not finish; terminal: {output[-1500:]!r}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave fd closed (boxd exited)
                    chunk = b""
                if not chunk and proc.poll() is not None:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
    code = proc.wait()
    cli.suite.log.write(f"  exit {code}, terminal: {output[-2000:]!r}\n")
    return code, output.decode("utf-8", "replace")


def state_file(cli):
    return cli.cache_home / "boxd" / "update-check.json"


def cli_of(t, server, user="alice"):
    cli = t.cli(user, server=server)
    cli.unset.update({"CI", "BOXD_NO_UPDATE_NOTIFIER"})
    return cli


@suite.test
def spinner_on_a_terminal_for_create_and_fork(t):
    cli = cli_of(t, t.server)
    name = t.box_name("spin")
    code, screen = run_pty(cli, "box", "create", name)
    expect_equal(code, 0, f"exit of create; terminal: {screen!r}")
    cli.created.append(name)
    expect("\r| Creating box..." in screen, f"no spinner on the terminal: {screen!r}")
    expect("\r\x1b[K" in screen, f"spinner line not erased: {screen!r}")
    # Erased before the result is printed.
    expect(screen.rindex("\x1b[K") < screen.index(f"{name}\r\n"), f"order: {screen!r}")
    fork = name + "-f"
    code, screen = run_pty(cli, "box", "fork", name, fork)
    expect_equal(code, 0, f"exit of fork; terminal: {screen!r}")
    cli.created.append(fork)
    expect(f"\r| Forking '{name}'..." in screen, f"no spinner for fork: {screen!r}")
    expect("\r\x1b[K" in screen, f"fork spinner not erased: {screen!r}")


@suite.test
def no_spinner_when_piped(t):
    cli = cli_of(t, t.server)
    name = t.box_name("nospin")
    r = cli.run("box", "create", name).expect_ok()
    cli.created.append(name)
    expect_equal(r.stdout, name + "\n", "stdout")
    expect("Creating box..." not in r.stderr and "\r" not in r.stderr and "\x1b" not in r.stderr,
           r.describe("spinner output on a pipe"))
    r = cli.run("box", "fork", name, name + "-f").expect_ok()
    cli.created.append(name + "-f")
    expect("Forking" not in r.stderr and "\r" not in r.stderr, r.describe("fork spinner on a pipe"))


@suite.test
def spinner_erased_on_failure(t):
    cli = cli_of(t, t.server)
    code, screen = run_pty(cli, "box", "fork", "no-such-box")
    expect_equal(code, 4, f"exit; terminal: {screen!r}")
    expect(screen.index("\r\x1b[K") < screen.index("error: VM 'no-such-box' not found"),
           f"spinner not erased before the error: {screen!r}")


@suite.test
def update_notice_once_a_day_on_a_terminal(t):
    server = newer_server(t)
    cli = cli_of(t, server)
    code, screen = run_pty(cli, "whoami")
    expect_equal(code, 0, f"exit; terminal: {screen!r}")
    expect(NOTICE in screen, f"no notice on the terminal: {screen!r}")
    expect_equal(screen.count("notice:"), 1, "notices")
    state = json.loads(state_file(cli).read_text())
    expect_equal(state.get("latest"), "99.1.0", "state")
    # Again within the day: nothing.
    code, screen = run_pty(cli, "whoami")
    expect_equal(code, 0, "exit")
    expect("notice:" not in screen, f"a second notice within the day: {screen!r}")
    # A day later (the state says so): once more.
    state["last_notice_at"] -= 25 * 3600
    state_file(cli).write_text(json.dumps(state))
    code, screen = run_pty(cli, "box", "list")
    expect(NOTICE in screen, f"no notice a day later: {screen!r}")
    # Also after a failed command.
    state = json.loads(state_file(cli).read_text())
    state["last_notice_at"] -= 25 * 3600
    state_file(cli).write_text(json.dumps(state))
    code, screen = run_pty(cli, "box", "get", "no-such-box")
    expect_equal(code, 4, "exit")
    expect(NOTICE in screen, f"no notice after a failed call: {screen!r}")


@suite.test
def no_notice_when_it_would_get_in_the_way(t):
    server = newer_server(t)
    cases = [
        ("piped stderr", None, {}),
        ("--json", ["whoami", "--json"], {}),
        ("CI", ["whoami"], {"CI": "true"}),
        ("BOXD_NO_UPDATE_NOTIFIER", ["whoami"], {"BOXD_NO_UPDATE_NOTIFIER": "1"}),
    ]
    for what, args, env in cases:
        cli = cli_of(t, server)
        if args is None:
            r = cli.run("whoami").expect_ok()
            expect("notice" not in r.stderr, r.describe(f"notice with {what}"))
        else:
            code, screen = run_pty(cli, *args, env=env)
            expect_equal(code, 0, f"exit with {what}")
            expect("notice" not in screen, f"notice with {what}: {screen!r}")
        expect(not state_file(cli).exists(), f"state written with {what}")


@suite.test
def no_notice_when_not_newer(t):
    older = t.new_server("older", args=["--advertise-cli-latest", "0.0.1"])
    cli = cli_of(t, older)
    code, screen = run_pty(cli, "whoami")
    expect_equal(code, 0, "exit")
    expect("notice" not in screen, f"notice for an older version: {screen!r}")
    # The suite's plain server sends no header at all.
    code, screen = run_pty(cli_of(t, t.server), "whoami")
    expect("notice" not in screen, f"notice without the header: {screen!r}")


suite.main()
