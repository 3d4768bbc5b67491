"""Every fixed message of docs/wire-contract.md section 8 reaches the client
with its documented gRPC code, whatever the RPC (issue 11: one error path on
the server). The code is read where the client sees it: the CLI's -vv line
per RPC (`debug: rpc rpc=GetVm code=NOT_FOUND ...`), or, for what the CLI
cannot send (no token, a name it refuses itself), a direct gRPC call with
/usr/bin/python3's grpcio and a hand-encoded request."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import ALICE_KEY, Suite, exchange_token, expect, grpc_or_skip  # noqa: E402

suite = Suite(__file__)


def codes_of(result, rpc):
    """The codes the CLI's -vv lines report for `rpc`, in call order."""
    return re.findall(rf"\brpc rpc={rpc} code=(\w+)", result.stderr)


def expect_code(result, rpc, code, message):
    """The CLI failed with `error: message` (exec adds ` (ErrorClass)`), and
    its last `rpc` call got `code`."""
    expect(result.code != 0, result.describe("expected a failure"))
    line = f"error: {message}"
    expect(any(got == line or got.startswith(line + " (") for got in result.stderr.splitlines()),
           result.describe(f"expected the line '{line}'"))
    codes = codes_of(result, rpc)
    expect(codes and codes[-1] == code,
           result.describe(f"expected {rpc} to end with {code}, the -vv lines say {codes}"))
    return result


def string_field(number, text):
    """One protobuf length-delimited field (what a request of strings is made of)."""
    data = text.encode()
    assert len(data) < 128
    return bytes([(number << 3) | 2, len(data)]) + data


def raw_call(t, method, payload=b"", token=None):
    """(code name, details) of a unary BoxdApi call sent as raw bytes."""
    grpc = grpc_or_skip()
    if not t.server.info:
        t.server.start()
    target = t.server.api_url.split("://", 1)[-1]
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(f"/boxd.api.v1.BoxdApi/{method}")
        try:
            call(payload, metadata=metadata, timeout=15)
            return "OK", ""
        except grpc.RpcError as e:
            return e.code().name, e.details()


@suite.test
def authentication_failures_are_unauthenticated(t):
    expect(raw_call(t, "ListVms") == ("UNAUTHENTICATED", "missing authorization"),
           f"no token: {raw_call(t, 'ListVms')}")
    got = raw_call(t, "ListVms", token="not-a-jwt")
    expect(got == ("UNAUTHENTICATED", "invalid or expired token"), f"bad token: {got}")
    # Exec (a bidirectional stream) answers the same.
    cli = t.cli("alice")
    cli.extra_env = {"BOXD_TOKEN": "not-a-jwt"}
    result = cli.run("-vv", "box", "exec", "any-box", "--", "true")
    expect_code(result, "Exec", "UNAUTHENTICATED", "invalid or expired token")


@suite.test
def a_bad_box_name_is_invalid_argument(t):
    if not t.server.info:
        t.server.start()
    token = exchange_token(t.server.exchange_url, ALICE_KEY)
    code, details = raw_call(t, "CreateVm", string_field(1, "Bad_Name"), token=token)
    expect(code == "INVALID_ARGUMENT" and details.startswith("invalid VM name 'Bad_Name': "),
           f"CreateVm Bad_Name: {code} {details!r}")


@suite.test
def a_missing_box_is_not_found_on_every_rpc(t):
    message = "VM 'no-such-box' not found"
    expect_code(t.alice.run("-vv", "box", "get", "no-such-box"), "GetVm", "NOT_FOUND", message)
    expect_code(t.alice.run("-vv", "box", "stop", "no-such-box"), "StopVm", "NOT_FOUND", message)
    expect_code(t.alice.run("-vv", "box", "exec", "no-such-box", "--", "true"), "Exec",
                "NOT_FOUND", message)
    src = t.dir / "small.txt"
    src.write_text("x\n")
    expect_code(t.alice.run("-vv", "box", "cp", src, "no-such-box:small.txt"),
                "UploadFileStream", "NOT_FOUND", message)


@suite.test
def a_stopped_box_is_failed_precondition_for_exec_and_files(t):
    vm = t.alice.create_box(t.box_name("stopped"))
    t.alice.sh(vm, "echo kept > /home/boxd/kept.txt")
    t.alice.run("box", "stop", vm).expect_ok()
    message = f"VM '{vm}' is stopped"
    expect_code(t.alice.run("-vv", "box", "exec", vm, "--", "true"), "Exec",
                "FAILED_PRECONDITION", message)
    src = t.dir / "up.txt"
    src.write_text("up\n")
    expect_code(t.alice.run("-vv", "box", "cp", src, f"{vm}:up.txt"), "UploadFileStream",
                "FAILED_PRECONDITION", message)
    expect_code(t.alice.run("-vv", "box", "cp", f"{vm}:kept.txt", t.dir / "down.txt"),
                "DownloadFileStream", "FAILED_PRECONDITION", message)
    expect_code(t.alice.run("-vv", "box", "suspend", vm), "SuspendVm", "FAILED_PRECONDITION",
                message)


@suite.test
def a_suspended_box_is_failed_precondition_for_exec(t):
    vm = t.alice.create_box(t.box_name("nap"))
    t.alice.run("box", "suspend", vm).expect_ok()
    expect_code(t.alice.run("-vv", "box", "exec", vm, "--", "true"), "Exec",
                "FAILED_PRECONDITION", f"VM '{vm}' is suspended")
    t.alice.run("box", "resume", vm).expect_ok()


@suite.test
def a_taken_name_is_already_exists(t):
    vm = t.alice.create_box(t.box_name("dup"))
    expect_code(t.alice.run("-vv", "box", "create", vm), "CreateVm", "ALREADY_EXISTS",
                f"VM name '{vm}' already exists")


@suite.test
def the_box_quota_is_resource_exhausted(t):
    server = t.new_server("quota", args=["--max-boxes", "1"])
    cli = t.cli("alice", server=server)
    cli.create_box("only-one")
    expect_code(cli.run("-vv", "box", "create", "one-too-many"), "CreateVm",
                "RESOURCE_EXHAUSTED", "quota exceeded: at most 1 boxes")


@suite.test
def other_missing_resources_are_not_found(t):
    vm = t.alice.create_box(t.box_name("owner"))
    run = t.alice.run
    expect_code(run("-vv", "disk", "destroy", "--yes", "nope"), "DestroyDisk", "NOT_FOUND",
                "disk 'nope' not found")
    expect_code(run("-vv", "template", "delete", "nope"), "DeleteTemplate", "NOT_FOUND",
                "template 'nope' not found")
    expect_code(run("-vv", "snapshot", "get", "nope"), "GetSnapshot", "NOT_FOUND",
                "snapshot 'nope' not found")
    expect_code(run("-vv", "domain", "unbind", "nope.example.com"), "UnbindDomain", "NOT_FOUND",
                "domain 'nope.example.com' not found")
    expect_code(run("-vv", "token", "revoke", "nope"), "RevokeToken", "NOT_FOUND",
                "token 'nope' not found")
    expect_code(run("-vv", "box", "proxy", "delete", vm, "nope"), "DeleteProxy", "NOT_FOUND",
                f"proxy 'nope' not found on VM '{vm}'")


suite.main()
