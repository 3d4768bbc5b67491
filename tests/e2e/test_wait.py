"""box wait, box create --wait, and the `boxd machine` alias with the
official CLI's verbs (issue 13)."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def in_background(fn, delay):
    """Runs fn() after `delay` seconds on a thread; join() the result."""
    def run():
        time.sleep(delay)
        fn()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


@suite.test
def create_wait_returns_a_box_that_runs_commands(t):
    name = t.box_name("ready")
    created = t.alice.run("box", "create", name, "--wait", "--wait-timeout", "60", timeout=90)
    t.alice.created.append(name)
    created.expect_ok().expect_stdout(name + "\n").expect_stderr_contains(f"Box '{name}' is ready")
    t.alice.exec(name, "echo", "hi").expect_ok().expect_stdout("hi\n")
    doc = t.alice.run("box", "wait", name, "--for", "ready", "--json").expect_ok().json()
    expect_equal(sorted(doc), ["elapsed_ms", "for", "name", "status"], "wait --json keys")
    expect_equal((doc["name"], doc["for"], doc["status"]), (name, "ready", "running"), "wait --json")
    expect(isinstance(doc["elapsed_ms"], int), f"elapsed_ms: {doc!r}")
    t.alice.run("box", "wait", name, "--for", "running", "-q").expect_ok().expect_stdout("")


@suite.test
def ready_on_a_stopped_box_times_out_with_7(t):
    name = t.alice.create_box(t.box_name("stopped"))
    t.alice.run("box", "stop", name).expect_ok()
    started = time.monotonic()
    result = t.alice.run("box", "wait", name, "--for", "ready", "--timeout", "1")
    elapsed = time.monotonic() - started
    result.expect_exit(7).expect_error_line(f"box '{name}' not ready after 1 s (status: stopped)")
    expect(1.0 <= elapsed < 15, result.describe(f"took {elapsed:.1f}s for a 1 s timeout"))
    t.alice.run("box", "wait", name, "--for", "running", "--timeout", "0.5").expect_exit(7)
    t.alice.run("box", "wait", name, "--for", "stopped", "--timeout", "1").expect_ok()


@suite.test
def wait_follows_a_stop_and_a_destroy(t):
    name = t.alice.create_box(t.box_name("follow"))
    stopper = in_background(lambda: t.alice.run("box", "stop", name).expect_ok(), 1.0)
    started = time.monotonic()
    t.alice.run("box", "wait", name, "--for", "stopped", "--timeout", "30").expect_ok()
    stopper.join()
    expect(time.monotonic() - started >= 0.9, "wait --for stopped returned before the stop")
    expect_equal(t.alice.status(name), "stopped", "status after wait --for stopped")
    starter = in_background(lambda: t.alice.run("box", "start", name).expect_ok(), 1.0)
    t.alice.run("box", "wait", name, "--timeout", "30").expect_ok()  # --for ready is the default
    starter.join()
    t.alice.exec(name, "true").expect_ok()
    t.alice.run("box", "wait", name, "--for", "deleted", "--timeout", "1").expect_exit(7)
    destroyer = in_background(
        lambda: t.alice.run("box", "destroy", name, "--yes").expect_ok(), 1.0)
    t.alice.run("box", "wait", name, "--for", "deleted", "--timeout", "30").expect_ok()
    destroyer.join()
    t.alice.created.remove(name)
    expect(name not in t.alice.list_names(), "box listed after wait --for deleted")


@suite.test
def wait_on_a_missing_box(t):
    t.alice.run("box", "wait", "no-such-box").expect_exit(4).expect_error_line(
        "VM 'no-such-box' not found")
    t.alice.run("box", "wait", "no-such-box", "--for", "deleted").expect_ok()
    t.alice.run("box", "wait", "x", "--for", "sleeping").expect_exit(2)
    t.alice.run("box", "wait", "x", "--timeout", "-1").expect_exit(2)


@suite.test
def machine_new_pause_remove_with_official_verbs(t):
    name = t.box_name("machine")
    doc = t.alice.run("machine", "new", name, "--json", timeout=60).expect_ok().json()
    t.alice.created.append(name)
    expect_equal(doc.get("name"), name, "machine new --json name")
    expect(name in [vm["name"] for vm in t.alice.run("machine", "list", "--json").expect_ok().json()],
           "machine list does not show the new box")
    t.alice.run("machine", "exec", name, "--", "echo", "ok").expect_ok().expect_stdout("ok\n")
    t.alice.run("machine", "pause", name).expect_ok()
    expect_equal(t.alice.status(name), "suspended", "status after machine pause")
    t.alice.run("machine", "resume", name).expect_ok()
    t.alice.run("machine", "remove", name, "-y").expect_ok()
    t.alice.created.remove(name)
    expect(name not in t.alice.list_names(), "box listed after machine remove")
    # The box verbs work under machine too, and remove takes --confirm.
    other = t.box_name("machine")
    t.alice.run("machine", "create", other, timeout=60).expect_ok().expect_stdout(other + "\n")
    t.alice.created.append(other)
    t.alice.run("machine", "remove", other, "--confirm").expect_ok()
    t.alice.created.remove(other)
    t.alice.run("machine", "remove", "no-such-box", "-y").expect_exit(4)
    t.alice.run("machine", "remove", "whatever").expect_exit(2)  # stdin is not a terminal


@suite.test
def machine_is_one_entry_in_help_and_man_and_completes_like_box(t):
    cli = t.cli("alice", server=False)
    top = cli.run("--help").expect_ok()
    expect_equal(len([line for line in top.lines() if line.strip().startswith("machine ")]), 1,
                 "lines for machine in boxd --help")
    man = cli.run("__man").expect_ok().stdout
    sections = [line for line in man.splitlines() if line.startswith('.SS "boxd machine')]
    expect_equal(sections, ['.SS "boxd machine COMMAND"'],
                 "man sections for machine (its commands are the box ones)")
    expect('.SS "boxd box wait' in man and '.SS "boxd box jobs logs' in man,
           "the man page lacks box wait / box jobs logs")
    help_machine = cli.run("machine", "--help").expect_ok()
    for verb in ("new", "remove", "pause", "exec", "jobs", "wait"):
        expect(any(line.strip().startswith(verb) for line in help_machine.lines()),
               help_machine.describe(f"machine --help does not list {verb}"))
    bash = cli.run("completion", "bash").expect_ok().stdout
    fish = cli.run("completion", "fish").expect_ok().stdout
    for script, what in ((bash, "bash"), (fish, "fish")):
        for word in ("machine", "new", "pause", "jobs", "wait", "detach"):
            expect(word in script, f"{what} completion does not know '{word}'")


suite.main()
