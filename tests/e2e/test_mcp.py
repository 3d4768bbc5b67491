"""boxd for AI agents (issue 14): `boxd mcp` driven by the official MCP
TypeScript SDK (@modelcontextprotocol/sdk, pinned in tests/mcp/, installed by
scripts/setup) through tests/mcp/driver.mjs, against a real `boxd local`:
initialize and version negotiation, the tools and their schemas, create, exec
(stdin, env, workdir, exit codes, timeout, progress, cancellation that kills
the remote command, the output cap), files byte-exact (binary too), the
safety switches (--read-only, --allow-boxes, --max-boxes), destroy, and
`boxd mcp config`."""

import base64
import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import ALICE_KEY, Failure, Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
MCP_DIR = Path(__file__).resolve().parent.parent / "mcp"
DRIVER = MCP_DIR / "driver.mjs"
PROTOCOL = "2025-11-25"
TOOLS = {"box_list", "box_get", "box_create", "box_exec", "box_read_file", "box_write_file",
         "box_list_dir", "box_fork", "box_snapshot", "box_stop", "box_start", "box_destroy",
         "box_logs", "box_forward"}
READ_ONLY = {"box_list", "box_get", "box_read_file", "box_list_dir", "box_logs"}
DESTRUCTIVE = {"box_destroy", "box_stop", "box_exec", "box_write_file"}


def node():
    path = shutil.which("node") or "/usr/bin/node"
    if not os.access(path, os.X_OK):
        raise Failure("node is not installed: run scripts/setup")
    if not (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        raise Failure(f"the MCP SDK is not installed in {MCP_DIR}: run scripts/setup")
    return path


class Mcp:
    """One SDK client session (tests/mcp/driver.mjs) talking to `boxd mcp FLAGS`."""

    def __init__(self, t, cli, *flags):
        self.t = t
        self.log_path = t.dir / f"mcp-{len(list(t.dir.glob('mcp-*.log')))}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([node(), str(DRIVER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=cli.env(),
                                     cwd=cli.home, start_new_session=True)
        self.buffer = b""
        self.info = self.send({"op": "connect", "command": t.bin,
                               "args": ["-v", "mcp", *flags]})

    def send(self, doc, timeout=90):
        self.proc.stdin.write((json.dumps(doc) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise Failure(f"no answer to {doc.get('op')} within {timeout}s "
                              f"(log: {self.stderr()[-2000:]})")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise Failure(f"the driver exited (log: {self.stderr()[-2000:]})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        answer = json.loads(line)
        expect_equal(answer.get("transport_errors"), [], "transport errors (stray stdout?)")
        if doc["op"] != "call":
            expect(answer.get("ok"), f"{doc['op']} failed: {answer}")
        return answer

    def stderr(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def call(self, tool, **args):
        """The raw driver answer of one tools/call."""
        return self.send({"op": "call", "tool": tool, "args": args})

    def ok(self, tool, **args):
        """Calls the tool, expects success, returns its structured result."""
        answer = self.call(tool, **args)
        result = answer.get("result") or {}
        if not answer.get("ok") or result.get("isError"):
            raise Failure(f"{tool} {args!r} failed: {answer}")
        structured = result["structuredContent"]
        expect_equal(json.loads(result["content"][0]["text"]), structured,
                     f"{tool}: the text content is the structured result")
        return structured

    def refused(self, tool, **args):
        """Calls the tool, expects an error result; returns its text."""
        answer = self.call(tool, **args)
        result = answer.get("result") or {}
        expect(answer.get("ok") and result.get("isError") is True,
               f"{tool} {args!r} should fail: {answer}")
        expect("structuredContent" not in result, "an error has no structured result")
        return result["content"][0]["text"]

    def close(self):
        try:
            self.send({"op": "close"})
            self.proc.stdin.close()
            self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()
        expect(ALICE_KEY not in self.log_path.read_text(errors="replace"),
               "the API key appears in the server's log")


_session = {}


def session(t):
    """The suite's default session (no switches) and its box."""
    if "mcp" not in _session:
        mcp = Mcp(t, t.alice)
        name = t.box_name("agent")
        doc = mcp.ok("box_create", name=name)
        t.alice.created.append(name)
        _session.update(mcp=mcp, box=doc["name"])
    return _session["mcp"], _session["box"]


def remote_processes(t, box):
    return t.alice.exec(box, "ps", "-eo", "args").expect_ok().stdout


@suite.test
def initialize_negotiates_the_current_protocol(t):
    mcp = Mcp(t, t.alice)
    try:
        expect_equal(mcp.info["protocol_version"], PROTOCOL, "negotiated protocol")
        expect_equal(mcp.info["server"]["name"], "boxd", "server name")
        expect("tools" in mcp.info["capabilities"], f"capabilities: {mcp.info['capabilities']}")
        expect("box_exec" in mcp.info["instructions"], "instructions name the tools")
    finally:
        mcp.close()


@suite.test
def older_and_unknown_revisions_and_junk_lines(t):
    """Raw JSON-RPC (no SDK): an older revision is echoed, an unknown one gets
    ours; a bad line gets a parse error; stdout carries only JSON-RPC lines."""
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"}}},
        "this is not json",
        {"jsonrpc": "2.0", "id": 2, "method": "initialize",
         "params": {"protocolVersion": "1999-01-01", "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "no/such/method"},
        {"jsonrpc": "2.0", "id": 4, "method": "ping"},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "nope"}},
        {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
         "params": {"name": "box_list", "arguments": {}}},
    ]
    text = "".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines)
    out = subprocess.run([t.bin, "mcp"], input=text.encode(), capture_output=True,
                         env=t.alice.env(), timeout=30)
    expect_equal(out.returncode, 0, f"exit at EOF (stderr {out.stderr!r})")
    replies = [json.loads(line) for line in out.stdout.decode().splitlines()]
    expect(all(r.get("jsonrpc") == "2.0" for r in replies), f"replies: {replies}")
    by_id = {json.dumps(r.get("id")): r for r in replies}
    expect_equal(by_id["1"]["result"]["protocolVersion"], "2025-06-18", "older revision echoed")
    expect_equal(by_id["null"]["error"]["code"], -32700, "parse error")
    expect_equal(by_id["2"]["result"]["protocolVersion"], PROTOCOL, "unknown revision: ours")
    expect_equal(by_id["3"]["error"]["code"], -32601, "unknown method")
    expect_equal(by_id["4"]["result"], {}, "ping")
    expect_equal(by_id["5"]["error"]["code"], -32602, "unknown tool")
    expect_equal(by_id["6"]["result"]["isError"], False, "a call in flight at EOF still answers")
    expect_equal(len(replies), 7, "one reply per request")


@suite.test
def tools_are_listed_with_schemas_and_annotations(t):
    mcp, _box = session(t)
    tools = {tool["name"]: tool for tool in mcp.send({"op": "list_tools"})["tools"]}
    expect_equal(set(tools), TOOLS, "tool names")
    for name, tool in tools.items():
        expect_equal(tool["inputSchema"]["type"], "object", f"{name} input schema")
        expect_equal(tool["outputSchema"]["type"], "object", f"{name} output schema")
        hints = tool["annotations"]
        expect_equal(hints["readOnlyHint"], name in READ_ONLY, f"{name} readOnlyHint")
        expect_equal(hints["destructiveHint"], name in DESTRUCTIVE, f"{name} destructiveHint")
    exec_in = tools["box_exec"]["inputSchema"]
    expect(set(exec_in["properties"]) >= {"box", "command", "stdin", "env", "workdir", "timeout"},
           f"box_exec inputs: {exec_in['properties']}")
    expect_equal(sorted(exec_in["required"]), ["box", "command"], "box_exec required")
    exec_out = tools["box_exec"]["outputSchema"]["properties"]
    expect(set(exec_out) >= {"stdout", "stderr", "exit_code", "truncated", "output_limit_bytes"},
           f"box_exec outputs: {exec_out}")
    expect(set(tools["box_create"]["inputSchema"]["properties"]) >=
           {"name", "template", "snapshot", "vcpu", "memory"}, "box_create inputs")


@suite.test
def create_then_exec_with_stdin_env_and_workdir(t):
    mcp, box = session(t)
    expect_equal(t.alice.status(box), "running", "the box box_create made")
    listed = [b["name"] for b in mcp.ok("box_list")["boxes"]]
    expect(box in listed, f"box_list: {listed}")
    doc = mcp.ok("box_exec", box=box, command="cat; echo to-stderr >&2", stdin="hello\nworld\n")
    expect_equal(doc["stdout"], "hello\nworld\n", "stdout")
    expect_equal(doc["stderr"], "to-stderr\n", "stderr")
    expect_equal(doc["exit_code"], 0, "exit code")
    expect_equal(doc["truncated"], False, "truncated")
    doc = mcp.ok("box_exec", box=box, command='echo "$GREETING"; pwd',
                 env={"GREETING": "it's a 'box'"}, workdir="/tmp")
    expect_equal(doc["stdout"], "it's a 'box'\n/tmp\n", "env and workdir")


@suite.test
def non_zero_exit_and_signals_are_results_not_errors(t):
    mcp, box = session(t)
    doc = mcp.ok("box_exec", box=box, command="echo partial; exit 3")
    expect_equal((doc["exit_code"], doc["stdout"], doc["signal"]), (3, "partial\n", None), "exit 3")
    doc = mcp.ok("box_exec", box=box, command="kill -9 $$")
    expect_equal((doc["exit_code"], doc["signal"]), (137, "SIGKILL"), "killed by SIGKILL")
    text = mcp.refused("box_exec", box="no-such-box", command="true")
    expect("not found" in text, f"missing box: {text}")
    text = mcp.refused("box_exec", box=box)
    expect("'command' is required" in text, f"missing command: {text}")


@suite.test
def files_round_trip_byte_exact(t):
    mcp, box = session(t)
    text = "héllo ✓\nline 2\n"
    expect_equal(mcp.ok("box_write_file", box=box, path="a.txt", content=text)["bytes_written"], len(text.encode()), "bytes written")
    doc = mcp.ok("box_read_file", box=box, path="a.txt")
    expect_equal((doc["encoding"], doc["content"]), ("utf-8", text), "text read back")
    blob = bytes(range(256)) * 64 + os.urandom(50_000)
    mcp.ok("box_write_file", box=box, path="/tmp/blob.bin",
           content_base64=base64.b64encode(blob).decode())
    doc = mcp.ok("box_read_file", box=box, path="/tmp/blob.bin")
    expect_equal(doc["encoding"], "base64", "binary comes as base64")
    expect(base64.b64decode(doc["content_base64"]) == blob, "binary read back byte for byte")
    expect_equal((doc["size"], doc["truncated"]), (len(blob), False), "size")
    remote = t.alice.sh(box, "sha256sum /tmp/blob.bin").split()[0]
    expect_equal(remote, hashlib.sha256(blob).hexdigest(), "the file in the box")
    entries = {e["name"]: e for e in mcp.ok("box_list_dir", box=box, path="/tmp")["entries"]}
    expect_equal(entries["blob.bin"]["size_bytes"], len(blob), "list_dir size")
    expect_equal(entries["blob.bin"]["is_dir"], False, "list_dir is_dir")
    text = mcp.refused("box_write_file", box=box, path="x", content_base64="***")
    expect("base64" in text, f"bad base64: {text}")


@suite.test
def exec_timeout_kills_the_command(t):
    mcp, box = session(t)
    started = time.monotonic()
    doc = mcp.ok("box_exec", box=box, command="echo before; sleep 1004", timeout=1)
    expect_equal((doc["exit_code"], doc["timed_out"]), (124, True), "timeout result")
    expect_equal(doc["stdout"], "before\n", "output before the timeout")
    expect(time.monotonic() - started < 15, "the timeout took too long")
    eventually(lambda: "sleep 1004" not in remote_processes(t, box), timeout=10,
               what="the timed-out command is gone from the box")


@suite.test
def progress_carries_output_as_it_arrives(t):
    mcp, box = session(t)
    answer = mcp.send({"op": "call", "tool": "box_exec", "progress": True,
                       "args": {"box": box,
                                "command": "for i in 1 2 3; do echo line$i; sleep 0.4; done"}})
    expect(answer.get("ok"), f"call failed: {answer}")
    progress = answer["progress"]
    text = "".join(p.get("message", "") for p in progress)
    expect_equal(text, "line1\nline2\nline3\n", "output in progress notifications")
    values = [p["progress"] for p in progress]
    expect(values == sorted(values) and len(set(values)) == len(values),
           f"progress grows: {values}")
    expect(len(progress) >= 3, f"one notification per chunk as it arrives: {progress}")


@suite.test
def cancelling_an_exec_kills_the_remote_command(t):
    mcp, box = session(t)
    answer = mcp.send({"op": "call", "tool": "box_exec", "cancel_on": "started",
                       "args": {"box": box, "command": "echo started; sleep 1005; echo late"}})
    expect(not answer["ok"] and answer["aborted"], f"the call was cancelled: {answer}")
    expect(answer["ms"] < 20000, f"cancel took {answer['ms']} ms")
    eventually(lambda: "sleep 1005" not in remote_processes(t, box), timeout=10,
               what="the remote command is gone after the cancellation")
    expect_equal(mcp.ok("box_exec", box=box, command="echo still-serving")["stdout"],
                 "still-serving\n", "the server goes on after a cancellation")


@suite.test
def a_client_that_goes_away_leaves_no_command_running(t):
    _, box = session(t)
    p = subprocess.Popen([t.bin, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=t.alice.env())
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "box_exec", "arguments": {"box": box, "command": "sleep 1006"}}}
    p.stdin.write((json.dumps(call) + "\n").encode())
    p.stdin.flush()
    eventually(lambda: "sleep 1006" in remote_processes(t, box), timeout=10,
               what="the command runs")
    p.stdin.close()  # EOF: 5 s to finish, then cancelled
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure("boxd mcp did not exit after EOF on stdin")
    expect_equal(p.returncode, 0, "exit status after EOF")
    expect_equal(p.stdout.read(), b"", "no answer for the cancelled call")
    eventually(lambda: "sleep 1006" not in remote_processes(t, box), timeout=10,
               what="the command is gone once the client went away")


@suite.test
def large_output_is_capped_with_the_cap_stated(t):
    mcp = Mcp(t, t.alice, "--max-output", "1K")
    try:
        _, box = session(t)
        full = "".join(f"{i}\n" for i in range(1, 2001))
        doc = mcp.ok("box_exec", box=box, command="seq 1 2000")
        expect_equal((doc["truncated"], doc["output_limit_bytes"]), (True, 1024), "cap stated")
        expect_equal(doc["stdout_bytes"], len(full), "whole size reported")
        expect(len(doc["stdout"]) <= 1024 and full.endswith(doc["stdout"]),
               f"the end is kept: {doc['stdout'][:40]!r}...")
        mcp.ok("box_write_file", box=box, path="big.txt", content=full)
        doc = mcp.ok("box_read_file", box=box, path="big.txt")
        expect_equal((doc["truncated"], doc["bytes"]), (True, 1024), "file read capped")
        expect(full.startswith(doc["content"]), "a capped read is the file's start")
        rest = mcp.ok("box_read_file", box=box, path="big.txt", offset=1024)
        expect_equal(doc["content"] + rest["content"], full[:2048], "offset reads on")
    finally:
        mcp.close()


@suite.test
def read_only_refuses_changes(t):
    _, box = session(t)
    mcp = Mcp(t, t.alice, "--read-only")
    try:
        tools = {tool["name"] for tool in mcp.send({"op": "list_tools"})["tools"]}
        expect_equal(tools, READ_ONLY, "tools offered with --read-only")
        text = mcp.refused("box_destroy", box=box)
        expect("--read-only" in text, f"the refusal says why: {text}")
        mcp.refused("box_exec", box=box, command="touch /tmp/x")
        expect_equal(t.alice.status(box), "running", "the box survived")
        expect_equal(mcp.ok("box_get", box=box)["name"], box, "reading still works")
    finally:
        mcp.close()


@suite.test
def allow_boxes_hides_the_others(t):
    other = t.alice.create_box(t.box_name("other"))
    mcp = Mcp(t, t.alice, "--allow-boxes", "agent-*")
    try:
        _, box = session(t)
        listed = [b["name"] for b in mcp.ok("box_list")["boxes"]]
        expect(box in listed and other not in listed, f"box_list: {listed}")
        for tool, args in (("box_get", {}), ("box_exec", {"command": "true"}),
                           ("box_destroy", {}), ("box_read_file", {"path": "/etc/hostname"})):
            text = mcp.refused(tool, box=other, **args)
            expect(f"VM '{other}' not found" in text, f"{tool} on a hidden box: {text}")
        vm_id = t.alice.get(other)["vm_id"]
        text = mcp.refused("box_get", box=vm_id)
        expect("not found" in text, f"a hidden box by id: {text}")
        t.alice.run("snapshot", "create", other, "other-snap").expect_ok()
        text = mcp.refused("box_create", name="agent-from-other", snapshot="other-snap")
        expect("snapshot 'other-snap' not found" in text, f"a hidden box's snapshot: {text}")
        text = mcp.refused("box_create", name="other-new")
        expect("agent-*" in text, f"a new box must match: {text}")
        text = mcp.refused("box_create")
        expect("'name' is required" in text, f"a new box must be named: {text}")
        expect_equal(t.alice.status(other), "running", "the hidden box was not touched")
    finally:
        mcp.close()


@suite.test
def max_boxes_limits_creation_and_destroy_frees_a_slot(t):
    mcp = Mcp(t, t.alice, "--max-boxes", "1", "--allow-boxes", "cap-*")
    try:
        first = mcp.ok("box_create", name="cap-1")["name"]
        t.alice.created.append(first)
        text = mcp.refused("box_create", name="cap-2")
        expect("--max-boxes" in text and "QuotaExceededError" in text, f"over the cap: {text}")
        text = mcp.refused("box_fork", box=first, name="cap-3")
        expect("--max-boxes" in text, f"a fork counts: {text}")
        expect_equal(mcp.ok("box_destroy", box=first), {"box": first, "destroyed": True}, "destroy")
        expect(t.alice.run("box", "get", first).code != 0, "the destroyed box is gone")
        second = mcp.ok("box_create", name="cap-2")["name"]
        t.alice.created.append(second)
        expect_equal(mcp.ok("box_get", box=second)["status"], "running", "the new box")
    finally:
        mcp.close()


@suite.test
def lifecycle_fork_snapshot_logs_forward(t):
    mcp, box = session(t)
    fork = mcp.ok("box_fork", box=box, name=t.box_name("agent-fork"))["name"]
    t.alice.created.append(fork)
    stopped = mcp.ok("box_stop", box=fork)
    expect_equal(stopped["status"], "stopped", "box_stop")
    expect_equal(mcp.ok("box_start", box=fork)["status"], "running", "box_start")
    snap = mcp.ok("box_snapshot", box=box, name=t.box_name("snap"))
    expect(snap["snapshot_id"], f"snapshot: {snap}")
    logs = mcp.ok("box_logs", box=box)
    expect_equal(logs["output_limit_bytes"], 256 * 1024, "log cap stated")
    fwd = mcp.ok("box_forward", box=box, port=8080)
    expect(fwd["url"].startswith("http") and box in fwd["url"], f"forward: {fwd}")
    expect_equal(mcp.ok("box_forward", box=box, port=8080)["url"], fwd["url"], "reused")
    expect_equal(mcp.ok("box_destroy", box=fork)["destroyed"], True, "destroy the fork")
    expect(t.alice.run("box", "get", fork).code != 0, "the fork is gone")


@suite.test
def destroy_and_close(t):
    mcp, box = session(t)
    expect_equal(mcp.ok("box_destroy", box=box), {"box": box, "destroyed": True}, "destroy")
    expect(box not in t.alice.list_names(), "the box is gone")
    text = mcp.refused("box_get", box=box)
    expect("not found" in text, f"after destroy: {text}")
    mcp.close()
    _session.clear()


@suite.test
def config_prints_snippets_and_writes_only_with_write(t):
    cli = t.cli("alice")
    out = cli.run("mcp", "config", "cursor").expect_ok()
    doc = json.loads(out.stdout)
    where = ["--api-url", cli.server.api_url, "--exchange-url", cli.server.exchange_url]
    expect_equal(doc["mcpServers"]["boxd"], {"command": t.bin, "args": [*where, "mcp"]},
                 "cursor snippet: where boxd connects (BOXD_API_URL...), never the key")
    expect(".cursor/mcp.json" in out.stderr, f"says where: {out.stderr!r}")
    cli.unset.update({"BOXD_API_URL", "BOXD_EXCHANGE_URL"})
    out = cli.run("--profile", "work", "mcp", "config", "claude-code").expect_ok()
    expect_equal(json.loads(out.stdout)["mcpServers"]["boxd"],
                 {"type": "stdio", "command": t.bin, "args": ["--profile", "work", "mcp"]},
                 "claude-code snippet")
    expect(not (cli.home / ".mcp.json").exists(), "nothing written without --write")
    cursor_file = cli.home / ".cursor" / "mcp.json"
    expect(not cursor_file.exists(), "nothing written without --write")
    out = cli.run("mcp", "config", "vscode", "--read-only").expect_ok()
    expect_equal(json.loads(out.stdout)["servers"]["boxd"],
                 {"type": "stdio", "command": t.bin, "args": ["mcp", "--read-only"]}, "vscode")
    out = cli.run("mcp", "config", "codex", "--max-boxes", "2").expect_ok()
    expect(out.stdout.startswith('[mcp_servers."boxd"]') and '"--max-boxes", "2"' in out.stdout,
           f"codex TOML: {out.stdout!r}")
    cursor_file.parent.mkdir()
    cursor_file.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "keep": 1}))
    cli.run("mcp", "config", "cursor", "--allow-boxes", "agent-*", "--write").expect_ok()
    written = json.loads(cursor_file.read_text())
    expect_equal(written["mcpServers"]["other"], {"command": "x"}, "other servers kept")
    expect_equal(written["keep"], 1, "other keys kept")
    expect_equal(written["mcpServers"]["boxd"]["args"], ["mcp", "--allow-boxes", "agent-*"],
                 "written entry")
    expect(ALICE_KEY not in cursor_file.read_text(), "no key in the client's file")
    cursor_file.write_text("{not json")
    cli.run("mcp", "config", "cursor", "--write").expect_failure()
    expect_equal(cursor_file.read_text(), "{not json", "a file it cannot parse is left alone")
    cli.run("mcp", "config", "emacs").expect_exit(2)


suite.main()
