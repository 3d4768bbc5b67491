"""Tokens (issue 4 point 8): `boxd token create|list|revoke`; a created token
works as --token / BOXD_TOKEN; a revoked or expired one is refused (exit 3)."""

import base64
import json as jsonlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def token_cli(t, token):
    """A CLI with no API key, only BOXD_TOKEN."""
    cli = t.cli("alice", key="")
    cli.extra_env["BOXD_TOKEN"] = token
    return cli


@suite.test
def create_prints_a_working_token_once(t):
    result = t.alice.run("token", "create", "--expires-in", "600").expect_ok()
    token = result.stdout.strip()
    expect_equal(len(token.split(".")), 3, "stdout is one JWT")
    expect(token not in result.stderr, "the token is printed on stdout only")
    who = token_cli(t, token).run("whoami", "--json").expect_ok().json()
    expect_equal(who.get("user_id"), "alice", "whoami with BOXD_TOKEN")
    flag = t.cli("alice", key="").run("--token", token, "whoami", "--json").expect_ok().json()
    expect_equal(flag.get("user_id"), "alice", "whoami with --token")

    listed = t.alice.run("token", "list", "--json").expect_ok().json()
    expect(listed, "token list shows the token")
    for info in listed:
        expect_equal(sorted(info), ["created_at", "expires_at", "jti"], "token list fields")
        expect(isinstance(info["expires_at"], int), "expires_at is a JSON number")
    plain = t.alice.run("token", "list").expect_ok()
    plain.expect_not_in_output(token, "raw token")


@suite.test
def revoked_token_is_refused(t):
    doc = t.alice.run("token", "create", "--json").expect_ok().json()
    token = doc["token"]
    expect(isinstance(doc.get("expires_at"), int), f"create --json: {doc!r}")
    user = token_cli(t, token)
    user.run("whoami").expect_ok()
    before = {x["jti"] for x in t.alice.run("token", "list", "--json").expect_ok().json()}
    payload = token.split(".")[1]
    jti = jsonlib.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    expect(jti in before, f"the new jti {jti} is listed")
    t.alice.run("token", "revoke", jti).expect_ok()
    user.run("whoami").expect_exit(3)
    after = {x["jti"] for x in t.alice.run("token", "list", "--json").expect_ok().json()}
    expect(jti not in after, "a revoked token is no longer listed")
    t.alice.run("token", "revoke", "no-such-jti").expect_exit(4)
    t.bob.run("token", "revoke", next(iter(after), "x")).expect_exit(4)


@suite.test
def expired_token_is_refused(t):
    token = t.alice.run("token", "create", "--expires-in", "1").expect_ok().stdout.strip()
    time.sleep(2.2)
    token_cli(t, token).run("whoami").expect_exit(3)


@suite.test
def bad_flags_are_usage_errors(t):
    t.alice.run("token", "create", "--expires-in", "soon").expect_exit(2)
    t.alice.run("token", "revoke").expect_exit(2)


suite.main()
