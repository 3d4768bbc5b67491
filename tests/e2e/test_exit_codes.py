"""Exit codes of the table in docs/design.md (section 5), one per error class (issue 2)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, dead_port, expect  # noqa: E402

suite = Suite(__file__)


def offline(t):
    """A CLI whose API and exchange URLs both point at closed loopback ports:
    any network call it makes fails with a connection error (exit 8)."""
    cli = t.cli("alice", server=False)
    port = dead_port()
    cli.extra_env = {
        "BOXD_API_URL": f"http://127.0.0.1:{port}",
        "BOXD_EXCHANGE_URL": f"http://127.0.0.1:{port}/api/v1/auth/token",
    }
    return cli


@suite.test
def success_is_0(t):
    t.alice.run("box", "list").expect_exit(0)
    offline(t).run("version").expect_exit(0)
    offline(t).run("--help").expect_exit(0).expect_stdout_contains("box")


@suite.test
def wrong_key_is_3(t):
    cli = t.cli("alice", key="bxd_wrong00000000000000000000000000000000000")
    cli.run("box", "list").expect_exit(3).expect_stderr_contains("error: ")


@suite.test
def missing_box_is_4(t):
    t.alice.run("box", "get", "no-such-box").expect_exit(4).expect_error_line(
        "VM 'no-such-box' not found")
    t.alice.run("box", "stop", "no-such-box").expect_exit(4)
    t.alice.run("box", "destroy", "no-such-box", "--yes").expect_exit(4)


@suite.test
def duplicate_name_is_5(t):
    name = t.alice.create_box(t.box_name("dup"))
    t.alice.run("box", "create", name).expect_exit(5).expect_error_line(
        f"VM name '{name}' already exists")


@suite.test
def quota_is_6(t):
    server = t.new_server("quota", args=["--max-boxes", "1"])
    cli = t.cli("alice", server=server)
    cli.create_box("only-one")
    cli.run("box", "create", "one-too-many").expect_exit(6).expect_error_line(
        "quota exceeded: at most 1 boxes")
    expect("one-too-many" not in cli.list_names(), "the refused box was created anyway")


@suite.test
def dead_api_port_is_8(t):
    cli = t.cli("alice")
    cli.extra_env = {"BOXD_API_URL": f"http://127.0.0.1:{dead_port()}"}
    started = time.monotonic()
    result = cli.run("box", "list").expect_exit(8)
    expect(time.monotonic() - started < 15, result.describe("a refused connection took > 15 s"))
    expect(result.stderr.startswith("error: "), result.describe("no 'error:' line"))


@suite.test
def dead_exchange_port_is_8(t):
    offline(t).run("box", "list").expect_exit(8).expect_stderr_contains("error: ")


@suite.test
def bad_flag_is_2_with_usage_on_stderr(t):
    result = t.alice.run("box", "list", "--no-such-flag").expect_exit(2)
    expect(result.stdout == "", result.describe("usage errors must not print on stdout"))
    expect("--no-such-flag" in result.stderr, result.describe("stderr does not name the bad flag"))
    expect("usage" in result.stderr.lower() or "--help" in result.stderr,
           result.describe("stderr carries no usage hint"))
    t.alice.run("box", "no-such-command").expect_exit(2)


@suite.test
def bad_name_is_2_without_the_network(t):
    cli = offline(t)
    for bad in ("Bad_Name", "-leading", "trailing-", "a" * 64, "dots.are.out"):
        result = cli.run("box", "create", bad).expect_exit(2)
        expect(result.stderr.startswith("error: "), result.describe("no 'error:' line"))


@suite.test
def bad_size_is_2_without_the_network(t):
    cli = offline(t)
    for bad in ("4X", "lots", "-1G", "1.5.5G"):
        cli.run("box", "create", "sized", "--memory", bad).expect_exit(2)


@suite.test
def the_table_is_documented_in_help(t):
    # docs/design.md, section 5: the table is printed by `boxd help exit-codes`.
    result = t.cli("alice", server=False).run("help", "exit-codes").expect_ok()
    for code, word in ((2, "usage"), (3, "Authentication"), (4, "NotFound"), (8, "Connection"),
                       (124, "timeout"), (255, "")):
        expect(str(code) in result.stdout and word.lower() in result.stdout.lower(),
               result.describe(f"exit code {code} ({word}) is missing from the help"))


suite.main()
