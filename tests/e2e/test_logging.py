"""The server's log (levels, fields, text and JSON, rotation, `boxd local
logs`) and the CLI's -v/-vv/-vvv, and that neither ever shows a secret."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import (ALICE_KEY, BOB_KEY, Suite, eventually, exchange_token, expect,
                      expect_equal, fail)

suite = Suite(__file__)

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info |warn |error) \S")
CLI_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (trace|debug|info|warn|error): ")


def server_lines(server):
    """The log's event lines (the harness writes its own '==== start' lines)."""
    return [line for line in server.log_path.read_text(errors="replace").splitlines()
            if not line.startswith("==== ")]


def fields_of(line):
    """key=value fields of a text line (values may be "quoted")."""
    return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


def events(server, message):
    return [line for line in server_lines(server) if re.search(rf"Z \w+ +{re.escape(message)}( |$)", line)]


def find_secrets(texts, secrets):
    """[(secret name, where)] for every secret found in any text."""
    found = []
    for where, text in texts.items():
        for name, secret in secrets.items():
            if secret and secret in text:
                found.append((name, where))
    return found


@suite.test
def debug_level_logs_every_rpc_with_its_fields(t):
    server = t.new_server("debug", args=["--log-level", "debug"])
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("dbg"))
    cli.run("box", "get", vm).expect_ok()
    cli.run("box", "get", "no-such-box").expect_exit(4)
    lines = server_lines(server)
    for line in lines:
        expect(TEXT_LINE.match(line), f"a log line without timestamp and level: {line!r}")
    rpcs = [fields_of(line) for line in events(server, "rpc")]
    gets = [f for f in rpcs if f.get("rpc") == "GetVm" and f.get("box") == vm]
    expect(gets, f"no 'rpc rpc=GetVm box={vm}' line in:\n" + "\n".join(lines[-30:]))
    ok = gets[0]
    expect_equal((ok.get("user"), ok.get("code")), ("alice", "OK"), "user and code of GetVm")
    expect(ok.get("ms", "").isdigit(), f"no duration in ms: {ok}")
    expect(ok.get("peer", "").startswith(("ipv4:127.0.0.1:", "ipv6:")), f"no peer: {ok}")
    missing = [f for f in rpcs if f.get("box") == "no-such-box"]
    expect(missing and missing[0].get("code") == "NOT_FOUND", f"no NOT_FOUND rpc line: {missing}")
    expect(any(f.get("rpc") == "CreateVm" and f.get("box") == vm for f in rpcs),
           "no CreateVm line naming the box")
    created = [fields_of(line) for line in events(server, "box running")]
    expect(any(f.get("box") == vm and f.get("user") == "alice" for f in created),
           "no info 'box running' event with user and box")
    expect(events(server, "serving"), "no 'serving' event at start")


@suite.test
def info_level_shows_refusals_and_lifecycle_but_no_rpc_lines(t):
    server = t.new_server("info", args=["--max-boxes", "1"])
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("inf"))
    cli.run("box", "create", t.box_name("over")).expect_exit(6)
    bad = t.cli("alice", server=server, key="bxd_wrong0000000000000000000000000000000")
    bad.run("box", "list").expect_exit(3)
    forged = t.cli("alice", server=server, key="")
    forged.run("box", "list", env={"BOXD_TOKEN": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}).expect_exit(3)
    cli.run("box", "destroy", vm, "--yes").expect_ok()
    expect(not events(server, "rpc"), "rpc lines at the default level (info)")
    quota = [fields_of(line) for line in events(server, "quota refused")]
    expect(quota and quota[0].get("user") == "alice" and quota[0].get("code") == "RESOURCE_EXHAUSTED",
           f"no 'quota refused' event for alice: {quota}")
    refused = [fields_of(line) for line in events(server, "auth refused")]
    expect(any(f.get("endpoint") == '"key exchange"' and f.get("peer") for f in refused),
           f"no 'auth refused' event of the key exchange with the peer: {refused}")
    expect(any(f.get("rpc") == "ListVms" and f.get("code") == "UNAUTHENTICATED" for f in refused),
           f"no 'auth refused' event of the forged token's call: {refused}")
    for message in ("box creating", "box running", "box destroyed", "token issued"):
        expect(events(server, message), f"no info event '{message}'")


@suite.test
def json_format_is_one_object_a_line(t):
    server = t.new_server("json", args=["--log-format", "json", "--log-level", "debug"])
    cli = t.cli("alice", server=server)
    vm = cli.create_box(t.box_name("js"))
    cli.run("box", "exec", vm, "--", "true").expect_ok()
    docs = []
    for line in server_lines(server):
        try:
            docs.append(json.loads(line))
        except ValueError:
            fail(f"not a JSON line: {line!r}")
    for doc in docs:
        expect(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", doc.get("ts", "")), f"ts: {doc}")
        expect(doc.get("level") in ("trace", "debug", "info", "warn", "error"), f"level: {doc}")
        expect(isinstance(doc.get("msg"), str), f"msg: {doc}")
    execs = [d for d in docs if d["msg"] == "rpc" and d.get("rpc") == "Exec"]
    expect(execs and execs[0].get("box") == vm and execs[0].get("user") == "alice",
           f"no Exec rpc object with box and user: {execs}")
    expect(isinstance(execs[0].get("ms"), int), f"ms is not a number: {execs[0]}")


@suite.test
def cli_verbosity_levels_go_to_stderr_only(t):
    cli = t.cli("alice")
    vm = cli.create_box(t.box_name("cli"))
    quiet = cli.run("box", "get", vm, "--json").expect_ok()
    v1 = cli.run("-v", "box", "get", vm, "--json").expect_ok()
    expect_equal(json.loads(v1.stdout)["name"], json.loads(quiet.stdout)["name"], "stdout with -v")
    expect("info: environment" in v1.stderr, v1.describe("-v shows no info line"))
    expect("debug:" not in v1.stderr, v1.describe("-v shows debug lines"))
    shutil.rmtree(cli.cache_home / "boxd" / "tokens")  # the next call exchanges the key
    v2 = cli.run("-vv", "box", "get", vm, "--json").expect_ok()
    expect_equal(json.loads(v2.stdout)["name"], vm, "stdout with -vv")
    for line in v2.stderr.splitlines():
        expect(CLI_LINE.match(line), v2.describe(f"a stderr line that is not a log line: {line!r}"))
    for needle in ("debug: api_url ", "debug: channel target=", "transport=", "debug: token cache miss",
                   "debug: token exchanged", "debug: rpc rpc=GetVm code=OK ms="):
        expect(needle in v2.stderr, v2.describe(f"-vv shows no '{needle}'"))
    again = cli.run("-vv", "box", "get", "no-such-box").expect_exit(4)
    expect("debug: token cache hit" in again.stderr, again.describe("no cache hit line"))
    expect("rpc rpc=GetVm code=NOT_FOUND" in again.stderr, again.describe("no failed rpc line"))
    v3 = cli.run("-vvv", "box", "get", vm).expect_ok()
    expect("trace: grpc: " in v3.stderr, v3.describe("-vvv shows none of gRPC's own tracing"))


@suite.test
def no_secret_in_a_debug_run(t):
    """Keys, tokens, env values and file contents of a representative run
    must appear in neither the server's debug log nor the CLI's -vv/-vvv."""
    server = t.new_server("secrets", args=["--log-level", "debug"])
    alice = t.cli("alice", server=server)
    bob = t.cli("bob", server=server)
    env_value = "envsecret-6d1f0c2a9b"
    exec_value = "execsecret-41c9e7d2"
    file_content = "filesecret-90ab77e1c3"
    stderr = {}

    def run(cli, *args, **kw):
        result = cli.run(*args, **kw)
        stderr[f"{cli.user} {' '.join(map(str, args))}"] = result.stderr + result.stdout
        return result

    vm = t.box_name("sec")
    run(alice, "-vv", "box", "create", vm, "--env", f"SECRET={env_value}").expect_ok()
    alice.created.append(vm)
    run(alice, "-vv", "box", "exec", vm, "-e", f"OTHER={exec_value}", "--",
        "sh", "-c", 'test "$SECRET" = "$0"', env_value).expect_ok()
    src = t.dir / "secret.txt"
    src.write_text(file_content)
    run(alice, "-vv", "box", "cp", str(src), f"{vm}:secret.txt").expect_ok()
    run(alice, "-vvv", "box", "cp", f"{vm}:secret.txt", str(t.dir / "back.txt")).expect_ok()
    made = run(alice, "-vv", "token", "create", "--expires-in", "600").expect_ok()
    created_token = made.stdout.strip()
    del stderr[next(k for k in stderr if "token create" in k)]  # its stdout is the token itself
    stderr["alice token create (stderr)"] = made.stderr
    tokened = t.cli("alice", server=server, key="")
    run(tokened, "-vvv", "box", "list", env={"BOXD_TOKEN": created_token}).expect_ok()
    run(bob, "-vv", "box", "list").expect_ok()
    run(bob, "-vv", "box", "get", vm).expect_exit(4)
    wrong = t.cli("alice", server=server, key="bxd_wrongkey7777777777777777777777777777")
    run(wrong, "-vv", "box", "list").expect_exit(3)
    exchanged = exchange_token(server.exchange_url, ALICE_KEY)
    secrets = {"alice's key": ALICE_KEY, "bob's key": BOB_KEY, "wrong key": wrong.key,
               "created token": created_token, "exchanged token": exchanged,
               "env value": env_value, "exec env value": exec_value, "file content": file_content}
    for cli in (alice, bob):
        for cache in (cli.cache_home / "boxd" / "tokens").glob("*.json"):
            secrets[f"{cli.user}'s cached token"] = json.loads(cache.read_text())["token"]
    for name, secret in list(secrets.items()):
        if "key" in name or "token" in name:  # gRPC's tracers dump metadata as hex bytes
            secrets[f"{name} (hex)"] = " ".join(f"{b:02x}" for b in secret.encode()[:24])
    texts = {"server log": "\n".join(server_lines(server)), **stderr}
    # The server takes uploads as raw bytes; the line still names the box.
    expect(f"rpc rpc=UploadFileStream user=alice box={vm}" in texts["server log"],
           "the server's log has no debug line of the upload naming its box")
    # The check itself can fail: a planted secret is found.
    planted = find_secrets({"planted": texts["server log"] + f" x={exchanged}"}, secrets)
    expect_equal(planted, [("exchanged token", "planted")], "the planted secret's finding")
    found = find_secrets(texts, secrets)
    expect(not found, f"secrets in the logs: {found}")


def start_background(t, cli, state, *flags):
    result = cli.run("local", "start", "--state-dir", str(state), "--port", "0", "--no-login",
                     "--api-key", f"{ALICE_KEY}=alice", *flags, timeout=60).expect_ok()
    status = cli.run("local", "status", "--state-dir", str(state), "--json").expect_ok().json()
    cli.extra_env.update({"BOXD_API_URL": status["api_url"],
                          "BOXD_EXCHANGE_URL": status["exchange_url"]})
    return result


@suite.test
def local_start_rotates_its_log_and_local_logs_follows_it(t):
    cli = t.cli("alice", server=False, key=ALICE_KEY)
    state = cli.home / ".local" / "share" / "boxd-local"  # the default: doctor looks there
    start_background(t, cli, state, "--log-level", "debug", "--log-max-size", "4K",
                     "--log-max-files", "1")
    followed_path = cli.home / "followed.log"
    followed_file = open(followed_path, "wb")
    follower = subprocess.Popen([t.bin, "local", "logs", "-f", "--state-dir", str(state)],
                                stdout=followed_file, stderr=subprocess.PIPE, env=cli.env(),
                                start_new_session=True)
    try:
        for i in range(60):
            cli.run("box", "get", f"marker-{i}").expect_exit(4)
        logs = sorted(p.name for p in state.glob("server*.log"))
        expect_equal(logs, ["server.1.log", "server.log"], "log files after rotation")
        for name in logs:
            size = (state / name).stat().st_size
            expect(size <= 4096 + 512, f"{name} is {size} bytes, past --log-max-size 4K")
        eventually(lambda: (state / "server.log").read_text().count("marker-59") > 0,
                   what="the last call logged")
        eventually(lambda: "box=marker-59 " in followed_path.read_text(errors="replace"),
                   what="the follower shows the last call")
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.communicate(timeout=10)
        followed_file.close()
    followed = followed_path.read_text(errors="replace")
    # Every call made while following appears once, in order, across rotations.
    seen = [int(m) for m in re.findall(r"box=marker-(\d+) ", followed)]
    expect_equal(seen, list(range(60)), "marker calls seen by 'local logs -f'")

    shown = cli.run("local", "logs", "--state-dir", str(state)).expect_ok()
    kept = [int(m) for m in re.findall(r"box=marker-(\d+) ", shown.stdout)]
    expect(kept and kept == sorted(kept) and kept[-1] == 59,
           shown.describe("'local logs' does not end with the last calls, oldest first"))
    expect(len(kept) < 60, "two files of 4K should not hold all 60 calls")
    cli.run("box", "list", env={"BOXD_API_KEY": "bxd_wrongkey5555555555555555555555555555"}).expect_exit(3)
    info = cli.run("local", "logs", "--state-dir", str(state), "--level", "info").expect_ok()
    expect("auth refused" in info.stdout and " debug " not in info.stdout and
           "rpc rpc=" not in info.stdout, info.describe("--level info shows debug lines (or nothing)"))
    recent = cli.run("local", "logs", "--state-dir", str(state), "--since", "10m").expect_ok()
    expect("marker-59" in recent.stdout, recent.describe("--since 10m lost the last call"))
    cli.run("box", "get", "after-pause").expect_exit(4)
    time.sleep(6)
    cli.run("box", "get", "latest-call").expect_exit(4)
    newest = cli.run("local", "logs", "--state-dir", str(state), "--since", "4s").expect_ok()
    expect("latest-call" in newest.stdout and "after-pause" not in newest.stdout,
           newest.describe("--since 4s does not cut at four seconds"))
    cli.run("local", "logs", "--state-dir", str(state), "--since", "soon").expect_exit(2)
    doctor = cli.run("doctor").expect_ok()
    expect(f"local_server boxd local start, pid " in doctor.stdout and str(state) in doctor.stdout,
           doctor.describe("doctor does not name the background server"))
    cli.run("local", "stop", "--state-dir", str(state)).expect_ok()
    expect("stopped" in (state / "server.log").read_text(), "no 'stopped' event at the end")


@suite.test
def local_logs_without_a_log_says_so(t):
    cli = t.cli("alice", server=False)
    result = cli.run("local", "logs", "--state-dir", str(t.dir / "never-started")).expect_exit(4)
    result.expect_error_line(f"no server log at {t.dir / 'never-started' / 'server.log'}")


@suite.test
def bad_log_flags_are_usage_errors(t):
    cli = t.cli("alice", server=False)
    state = str(t.dir / "bad-flags")
    cli.run("local", "serve", "--state-dir", state, "--log-level", "loud").expect_exit(2)
    cli.run("local", "serve", "--state-dir", state, "--log-format", "xml").expect_exit(2)
    cli.run("local", "serve", "--state-dir", state, "--log-max-size", "12").expect_exit(2)


suite.main()
