"""The first things a new user runs into (issue 16): a mistyped command or
flag names what was wrong and suggests the close names (exit 2, nothing on
stdout), and the local environment says "no local server is running" when
none is, instead of "not logged in", and names the endpoint that refused."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, dead_port, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def usage_error(cli, *args):
    result = cli.run(*args).expect_exit(2)
    expect_equal(result.stdout, "", "stdout of a usage error")
    return result


@suite.test
def mistyped_command_is_named_with_a_suggestion(t):
    cli = t.cli("alice", server=False)
    r = usage_error(cli, "box", "craete", "x")
    lines = r.stderr.splitlines()
    expect_equal(lines[:3], ["error: unknown command 'craete' for 'boxd box'",
                             "hint: did you mean 'create'?",
                             "Run 'boxd box --help' for usage."], "stderr")
    r = usage_error(cli, "snapshot", "lsit")
    r.expect_stderr_contains("error: unknown command 'lsit' for 'boxd snapshot'")
    r.expect_stderr_contains("hint: did you mean 'list'?")
    r = usage_error(cli, "bxo", "list")
    r.expect_stderr_contains("error: unknown command 'bxo' for 'boxd'")
    r.expect_stderr_contains("hint: did you mean 'box'?")
    # Deeper groups too, and aliases count as names.
    r = usage_error(cli, "box", "proxy", "delet")
    r.expect_stderr_contains("unknown command 'delet' for 'boxd box proxy'")
    r.expect_stderr_contains("'delete'")


@suite.test
def unknown_command_without_a_close_name_lists_the_group(t):
    cli = t.cli("alice", server=False)
    r = usage_error(cli, "box", "frobnicate")
    expect(r.stderr.startswith("error: unknown command 'frobnicate' for 'boxd box'\n"),
           r.describe("first line"))
    expect("hint:" not in r.stderr, r.describe("no suggestion expected"))
    r.expect_stderr_contains("Usage: boxd box")
    r.expect_stderr_contains("create")


@suite.test
def mistyped_flag_is_named_with_a_suggestion(t):
    cli = t.cli("alice", server=False)
    r = usage_error(cli, "box", "list", "--jsno")
    r.expect_stderr_contains("error: unknown flag '--jsno' for 'boxd box list'")
    r.expect_stderr_contains("hint: did you mean '--json'?")
    # A leaf's own flag, given with a value.
    r = usage_error(cli, "box", "create", "web", "--memroy=1G")
    r.expect_stderr_contains("error: unknown flag '--memroy' for 'boxd box create'")
    r.expect_stderr_contains("hint: did you mean '--memory'?")
    # A global flag mistyped after the command.
    r = usage_error(cli, "box", "list", "--profle", "dev")
    r.expect_stderr_contains("hint: did you mean '--profile'?")
    # A single letter only suggests its other case.
    r = usage_error(cli, "box", "list", "-Q")
    r.expect_stderr_contains("hint: did you mean '-q'?")
    r = usage_error(cli, "box", "exec", "--tiemout", "5", "vm", "--", "true")
    r.expect_stderr_contains("hint: did you mean '--timeout'?")


@suite.test
def an_extra_argument_is_still_a_plain_usage_error(t):
    cli = t.cli("alice", server=False)
    r = usage_error(cli, "box", "get", "a", "b")
    r.expect_stderr_contains("not expected: b")
    expect("unknown command" not in r.stderr, r.describe("b is not a command"))


def local_cli(t, api_port, exchange_port, key=""):
    cli = t.cli("alice", server=False, key=key)
    cli.extra_env.update({
        "BOXD_ENVIRONMENT": "local",
        "BOXD_API_URL": f"127.0.0.1:{api_port}",
        "BOXD_EXCHANGE_URL": f"http://127.0.0.1:{exchange_port}/api/v1/auth/token",
    })
    return cli


@suite.test
def local_without_a_server_says_so(t):
    port = dead_port()
    cli = local_cli(t, port, dead_port())
    r = cli.run("box", "list").expect_exit(8)
    r.expect_error_line(f"no local server is running at 127.0.0.1:{port} (connection refused)")
    r.expect_stderr_contains("hint: start one with 'boxd local start'")
    expect("not logged in" not in r.stderr, r.describe("the hint is the server, not the login"))


@suite.test
def local_with_credentials_names_the_endpoint_that_refused(t):
    api, exchange = dead_port(), dead_port()
    cli = local_cli(t, api, exchange, key="bxd_alice000000000000000000000000000000000")
    r = cli.run("box", "list").expect_exit(8)
    r.expect_error_line(f"cannot reach the key exchange at http://127.0.0.1:{exchange}"
                        "/api/v1/auth/token: connection refused")
    r.expect_stderr_contains("hint: is the local server running? start it with 'boxd local start'")
    r.expect_not_in_output("bxd_alice000000000000000000000000000000000", "API key")
    # With a token (no exchange), the gRPC endpoint is the one named.
    cli.extra_env["BOXD_TOKEN"] = "some.jwt.token"
    r = cli.run("box", "list").expect_exit(8)
    r.expect_error_line(f"cannot connect to 127.0.0.1:{api}: connection refused")
    r.expect_stderr_contains("'boxd local start'")


@suite.test
def local_server_up_but_not_logged_in_says_which_server(t):
    server = t.server
    api_port = server.api_url.rsplit(":", 1)[1]
    exchange_port = server.exchange_url.split(":")[2].split("/")[0]
    cli = local_cli(t, api_port, exchange_port)
    r = cli.run("box", "list").expect_exit(3)
    r.expect_error_line(f"not logged in to the local server at 127.0.0.1:{api_port}")
    r.expect_stderr_contains("boxd local start")
    # Logged in (the key in the environment), the same setup works.
    cli.key = "bxd_alice000000000000000000000000000000000"
    cli.run("box", "list").expect_ok()


suite.main()
