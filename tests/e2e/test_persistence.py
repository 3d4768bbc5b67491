"""Server state survives a kill -9 and a graceful restart on the same state
dir: boxes keep their status and their files, and exec works (issue 2)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def statuses(cli):
    return {vm.get("name"): vm.get("status")
            for vm in cli.run("box", "list", "--json").expect_ok().json()}


def survives(t, graceful):
    server = t.new_server("graceful" if graceful else "crash")
    cli = t.cli("alice", server=server)
    kind = "graceful" if graceful else "kill9"
    running = cli.create_box(f"{kind}-running")
    stopped = cli.create_box(f"{kind}-stopped")
    cli.sh(running, f"echo kept-{kind} > /home/boxd/kept.txt")
    cli.sh(stopped, f"echo also-{kind} > /home/boxd/kept.txt")
    cli.run("box", "stop", stopped).expect_ok()
    before = statuses(cli)

    server.restart(graceful=graceful)

    after = statuses(cli)
    expect_equal(after.get(running), "running", f"status of {running} after the restart")
    expect_equal(after.get(stopped), "stopped", f"status of {stopped} after the restart")
    expect_equal(sorted(after), sorted(before), "boxes listed after the restart")
    cli.exec(running, "cat", "kept.txt").expect_ok().expect_stdout(f"kept-{kind}\n")
    cli.run("box", "start", stopped, timeout=60).expect_ok()
    eventually(lambda: cli.status(stopped) == "running", 20, what=f"{stopped} running")
    cli.exec(stopped, "cat", "/home/boxd/kept.txt").expect_ok().expect_stdout(f"also-{kind}\n")
    # New work after the restart still persists.
    cli.create_box(f"{kind}-after")
    server.restart(graceful=graceful)
    expect_equal(statuses(cli).get(f"{kind}-after"), "running", "box created after the restart")


@suite.test
def state_survives_kill_9(t):
    survives(t, graceful=False)


@suite.test
def state_survives_a_graceful_restart(t):
    survives(t, graceful=True)


@suite.test
def restart_with_a_fresh_cli_still_authenticates(t):
    # A CLI with no cached token, after the server restarted: the exchange
    # and the JWT check work against the persisted state.
    server = t.new_server("auth-restart")
    t.cli("alice", server=server).create_box("auth-restart")
    server.restart(graceful=False)
    cli = t.cli("alice", server=server)
    expect_equal(statuses(cli).get("auth-restart"), "running", "status seen by a fresh CLI")


@suite.test
def a_second_server_on_the_same_state_dir_is_refused(t):
    server = t.new_server("second")
    proc = subprocess.run(server.argv(), capture_output=True, text=True, timeout=30,
                          env=t.clean_env())
    expect_equal(proc.returncode, 5, f"exit code of the second server (stderr: {proc.stderr!r})")
    expect(f"error: another boxd local server is using {server.state_dir}" in proc.stderr,
           f"the reason on stderr: {proc.stderr!r}")
    # The first one is untouched.
    t.cli("alice", server=server).run("box", "list").expect_ok()


suite.main()
