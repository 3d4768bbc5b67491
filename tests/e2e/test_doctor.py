"""boxd doctor (issue 5, point 6): against a real `boxd local serve` every
check passes and the exit is 0; each broken layer makes its own line FAIL
and the exit nonzero (dead port, TLS against a plaintext server, a bad key,
an expired token, no credential, an unknown profile)."""

import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, dead_port, expect, expect_equal  # noqa: E402

suite = Suite(__file__)

CHECKS = ["config", "api_url", "exchange_url", "credential", "local_server", "dns", "tcp", "tls",
          "exchange", "token", "clock", "whoami", "schema"]


def lines_by_check(result):
    """{check: (status, detail)} from the table: 'STATUS CHECK DETAIL'."""
    checks = {}
    for line in result.lines():
        status, name, detail = (line.split(None, 2) + ["", ""])[:3]
        checks[name] = (status, detail)
    return checks


def expect_line(result, check, status, text=""):
    checks = lines_by_check(result)
    expect(check in checks, result.describe(f"no '{check}' line"))
    got_status, detail = checks[check]
    expect(got_status == status,
           result.describe(f"'{check}' is {got_status!r}, expected {status!r}"))
    expect(text in detail, result.describe(f"'{check}' line lacks {text!r}"))


def unsigned_jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@suite.test
def every_check_passes_against_boxd_local(t):
    r = t.alice.run("doctor").expect_exit(0)
    checks = lines_by_check(r)
    expect_equal(list(checks), CHECKS, "checks in order")
    for name, (status, detail) in checks.items():
        expect(status == "ok", r.describe(f"'{name}' is not ok: {status} {detail}"))
    expect_line(r, "api_url", "ok", f"{t.server.api_url} (env BOXD_API_URL), plaintext")
    expect_line(r, "credential", "ok", "API key (env BOXD_API_KEY)")
    expect_line(r, "local_server", "ok", "a foreground 'boxd local serve'")
    expect_line(r, "whoami", "ok", "user alice")
    expect_line(r, "schema", "ok", "match the compiled contract")
    r.expect_not_in_output(t.alice.key, "API key")


@suite.test
def json_report(t):
    doc = t.alice.run("doctor", "--json").expect_exit(0).json()
    expect_equal(doc["ok"], True, "ok")
    expect_equal([c["check"] for c in doc["checks"]], CHECKS, "checks")
    expect(all(c["status"] == "ok" for c in doc["checks"]), f"not all ok: {doc}")


@suite.test
def dead_port_fails_tcp(t):
    port = dead_port()
    r = t.alice.run("doctor", "--timeout", "2",
                    env={"BOXD_API_URL": f"http://127.0.0.1:{port}"}).expect_exit(8)
    expect_line(r, "dns", "ok", "127.0.0.1")
    expect_line(r, "tcp", "FAIL", f"cannot connect to 127.0.0.1:{port}")
    expect_line(r, "tls", "skip")
    expect_line(r, "whoami", "skip")
    expect_line(r, "schema", "skip")
    # The key exchange is a different endpoint and still works.
    expect_line(r, "exchange", "ok")
    fails = [line for line in r.lines() if line.startswith("FAIL")]
    expect_equal(len(fails), 1, "FAIL lines")


@suite.test
def tls_against_a_plaintext_server_fails_the_tls_line(t):
    url = t.server.api_url.replace("http://", "https://")
    r = t.alice.run("doctor", "--timeout", "2", env={"BOXD_API_URL": url}).expect_exit(8)
    expect_line(r, "api_url", "ok", "TLS")
    expect_line(r, "tcp", "ok")
    expect_line(r, "tls", "FAIL", "no TLS HTTP/2 connection")
    expect_line(r, "schema", "skip")


@suite.test
def wrong_key_fails_the_exchange(t):
    bad = "bxd_wrong00000000000000000000000000000000"
    r = t.alice.run("doctor", env={"BOXD_API_KEY": bad}).expect_exit(3)
    expect_line(r, "exchange", "FAIL")
    expect_line(r, "whoami", "skip")
    expect_line(r, "schema", "ok")  # reflection needs no credentials
    r.expect_not_in_output(bad, "API key")


@suite.test
def expired_token_fails_the_token_line(t):
    now = int(time.time())
    token = unsigned_jwt({"sub": "alice", "jti": "x", "iat": now - 7200, "exp": now - 3600})
    r = t.alice.run("doctor", env={"BOXD_TOKEN": token}).expect_exit(3)
    expect_line(r, "credential", "ok", "token (env BOXD_TOKEN)")
    expect_line(r, "exchange", "skip", "a token is configured")
    expect_line(r, "token", "FAIL", "expired 1h 0m ago")
    expect_line(r, "clock", "skip")
    r.expect_not_in_output(token, "token")


@suite.test
def a_valid_token_passes_without_an_exchange(t):
    from boxdtest import exchange_token
    token = exchange_token(t.server.exchange_url, t.alice.key)
    r = t.alice.run("doctor", env={"BOXD_TOKEN": token}).expect_exit(0)
    expect_line(r, "exchange", "skip")
    expect_line(r, "token", "ok", "expires in")
    expect_line(r, "whoami", "ok", "user alice")


@suite.test
def no_credential_fails(t):
    cli = t.cli("alice", key="")
    r = cli.run("doctor").expect_exit(3)
    expect_line(r, "credential", "FAIL", "boxd auth login")
    expect_line(r, "whoami", "skip")


@suite.test
def configuration_from_a_profile_is_reported(t):
    cli = t.cli("alice")
    cli.config_dir.mkdir(parents=True, exist_ok=True)
    (cli.config_dir / "config.json").write_text(json.dumps({"profiles": {"dev": {
        "environment": "local", "api_url": t.server.api_url,
        "exchange_url": t.server.exchange_url}}}))
    cli.unset.update({"BOXD_API_URL", "BOXD_EXCHANGE_URL"})
    r = cli.run("doctor", env={"BOXD_PROFILE": "dev"}).expect_exit(0)
    expect_line(r, "config", "ok", "environment local (profile), profile dev (env BOXD_PROFILE)")
    expect_line(r, "api_url", "ok", f"{t.server.api_url} (profile)")
    expect_line(r, "exchange_url", "ok", "(profile)")
    r = cli.run("doctor", env={"BOXD_PROFILE": "nope"}).expect_exit(2)
    expect_line(r, "config", "FAIL", "unknown profile 'nope'")


suite.main()
