"""box exec without a terminal: exit codes, argv quoting, env/cwd, split
streams, stdin, --json, signals and --timeout (issue 2)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
_vm = []


def vm(t):
    """One box shared by the suite (exec does not change it)."""
    if not _vm:
        _vm.append(t.alice.create_box(t.box_name("exec")))
    return _vm[0]


@suite.test
def exit_code_propagates(t):
    box = vm(t)
    t.alice.exec(box, "sh", "-c", "exit 3").expect_exit(3)
    t.alice.exec(box, "sh", "-c", "exit 42").expect_exit(42)
    t.alice.exec(box, "true").expect_exit(0)
    t.alice.exec(box, "no-such-binary-boxd").expect_exit(127)


@suite.test
def several_words_arrive_as_the_same_argv(t):
    box = vm(t)
    t.alice.exec(box, "printf", "%s\\n", "a b", "c'd").expect_ok().expect_stdout("a b\nc'd\n")
    t.alice.exec(box, "printf", "[%s]", "", "$HOME", "*", "x;y", '"q"').expect_ok() \
        .expect_stdout('[][$HOME][*][x;y]["q"]')


@suite.test
def one_word_runs_as_a_shell_string(t):
    box = vm(t)
    t.alice.exec(box, "echo a | wc -l").expect_ok().expect_stdout("1\n")
    t.alice.exec(box, "echo $((6 * 7)) && exit 5").expect_exit(5).expect_stdout("42\n")


@suite.test
def env_and_workdir_options(t):
    box = vm(t)
    t.alice.run("box", "exec", box, "-e", "GREETING=hello world", "-e", "Q=it's",
                "--", "sh", "-c", 'printf "%s|%s" "$GREETING" "$Q"').expect_ok() \
        .expect_stdout("hello world|it's")
    t.alice.run("box", "exec", box, "-w", "/tmp", "--", "pwd").expect_ok().expect_stdout("/tmp\n")
    t.alice.run("box", "exec", box, "-w", "/no/such/dir", "--", "pwd").expect_failure()


@suite.test
def stdout_and_stderr_stay_split(t):
    result = t.alice.exec(vm(t), "sh", "-c", "echo out; echo err >&2").expect_ok()
    result.expect_stdout("out\n").expect_stderr_contains("err")
    expect("\r" not in result.stdout, result.describe("CR in non-PTY output"))


@suite.test
def piped_stdin_is_relayed_and_closed(t):
    box = vm(t)
    t.alice.exec(box, "cat", input="x\n").expect_ok().expect_stdout("x\n")
    payload = "".join(f"line {i}\n" for i in range(20000))
    t.alice.exec(box, "wc", "-l", input=payload).expect_ok().expect_stdout("20000\n")


@suite.test
def no_stdin_flag_closes_stdin_at_once(t):
    started = time.monotonic()
    result = t.alice.run("box", "exec", vm(t), "-n", "--", "cat", hold_stdin=True, timeout=15)
    result.expect_ok().expect_stdout("")
    expect(time.monotonic() - started < 10, result.describe("-n did not close stdin promptly"))


@suite.test
def json_collects_the_result(t):
    result = t.alice.run("box", "exec", vm(t), "--json", "--",
                         "sh", "-c", "echo out; echo err >&2; exit 3").expect_exit(3)
    doc = result.json()
    expect_equal(sorted(doc), ["duration_ms", "exit_code", "signal", "stderr", "stdout"],
                 "exec --json keys")
    expect_equal(doc["stdout"], "out\n", "stdout")
    expect_equal(doc["stderr"], "err\n", "stderr")
    expect_equal(doc["exit_code"], 3, "exit_code")
    expect(not doc["signal"], f"signal must be empty for a normal exit: {doc!r}")
    expect(isinstance(doc["duration_ms"], (int, float)), f"duration_ms not a number: {doc!r}")


@suite.test
def killed_by_signal_is_128_plus_n(t):
    result = t.alice.exec(vm(t), "sh", "-c", "kill -TERM $$").expect_exit(143)
    expect("term" in result.stderr.lower(), result.describe("stderr does not name the signal"))
    t.alice.exec(vm(t), "sh", "-c", "kill -KILL $$").expect_exit(137)


@suite.test
def timeout_kills_the_command_and_exits_124(t):
    box = vm(t)
    started = time.monotonic()
    result = t.alice.run("box", "exec", box, "--timeout", "1", "--", "sleep", "31", timeout=20)
    result.expect_exit(124)
    expect(time.monotonic() - started < 6, result.describe("--timeout 1 took too long"))

    def no_sleep_left():
        ps = t.alice.exec(box, "ps", "-eo", "args").expect_ok()
        return "sleep 31" not in ps.stdout
    eventually(no_sleep_left, 5, 0.3, "the timed-out 'sleep 31' is gone from the box")


suite.main()
