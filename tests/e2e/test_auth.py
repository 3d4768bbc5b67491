"""Authentication: per-user ownership, the JWT cache, BOXD_TOKEN, auth
login/status/logout, wrong tokens (issue 2)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import (ALICE_KEY, ExchangeCounter, Suite, dead_port, exchange_token,  # noqa: E402
                      expect, expect_equal, file_mode)

suite = Suite(__file__)


@suite.test
def another_users_box_is_not_found(t):
    name = t.alice.create_box(t.box_name("alices"))
    t.bob.run("box", "get", name).expect_exit(4).expect_error_line(f"VM '{name}' not found")
    expect(name not in t.bob.list_names(), f"bob's list shows alice's box {name}")
    t.bob.run("box", "destroy", name, "--yes").expect_exit(4)
    t.bob.run("box", "stop", name).expect_exit(4)
    t.bob.exec(name, "true").expect_exit(255).expect_stderr_contains(f"VM '{name}' not found")
    expect_equal(t.alice.status(name), "running", "alice's box after bob's attempts")
    # Names are per owner: bob may use the same name.
    t.bob.create_box(name)
    t.bob.sh(name, "echo bobs > whose.txt")
    t.alice.exec(name, "test", "-e", "whose.txt").expect_exit(1)


@suite.test
def whoami_names_the_user(t):
    expect_equal(t.alice.run("whoami", "--json").expect_ok().json().get("user_id"), "alice",
                 "alice's whoami user_id")
    expect_equal(t.bob.run("whoami", "--json").expect_ok().json().get("user_id"), "bob",
                 "bob's whoami user_id")
    t.alice.run("whoami").expect_ok().expect_stdout_contains("alice")


@suite.test
def jwt_is_cached_and_exchanged_once(t):
    relay = ExchangeCounter(t.server.exchange_url)
    try:
        cli = t.cli("alice")
        cli.extra_env = {"BOXD_EXCHANGE_URL": relay.url}
        cli.run("box", "list").expect_ok()
        cli.run("box", "list").expect_ok()
        expect_equal(relay.posts, 1, "key exchanges for two calls")
        cache = cli.token_cache_path(relay.url)
        expect(cache.is_file(), f"no JWT cache at {cache} (contract 3); cache dir holds "
                                f"{sorted(str(p) for p in cli.cache_home.rglob('*'))}")
        expect_equal(oct(file_mode(cache)), oct(0o600), f"mode of {cache}")
        doc = json.loads(cache.read_text())
        expect(doc.get("token") and isinstance(doc.get("expires_at"), int),
               f"cache file lacks token/expires_at: {sorted(doc)}")
        expect(ALICE_KEY not in cache.read_text(), "the API key is stored in the JWT cache")
    finally:
        relay.close()
    # Same exchange URL, nothing listening there now: the cached JWT carries the call.
    cli.run("box", "list").expect_ok()
    expect_equal(relay.posts, 1, "key exchanges after the relay closed")


@suite.test
def boxd_token_is_used_as_is(t):
    name = t.alice.create_box(t.box_name("tok"))
    token = exchange_token(t.server.exchange_url, ALICE_KEY)
    cli = t.cli("alice", key="")
    cli.extra_env = {"BOXD_TOKEN": token,
                     "BOXD_EXCHANGE_URL": f"http://127.0.0.1:{dead_port()}/api/v1/auth/token"}
    expect(name in cli.list_names(), f"BOXD_TOKEN does not act as alice (no {name})")
    cli.run("--verbose", "box", "get", name).expect_ok().expect_not_in_output(token, "token")


@suite.test
def wrong_token_is_3(t):
    cli = t.cli("alice", key="")
    cli.extra_env = {"BOXD_TOKEN": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.bm90LXNpZ25lZA"}
    cli.run("box", "list").expect_exit(3).expect_error_line("invalid or expired token")
    cli.extra_env = {"BOXD_TOKEN": "not-a-jwt"}
    cli.run("box", "list").expect_exit(3)


@suite.test
def login_stores_the_key_privately_and_never_shows_it(t):
    cli = t.cli("alice", key="")
    cli.extra_env = {"BOXD_ENVIRONMENT": "local"}
    login = cli.run("auth", "login", input=ALICE_KEY + "\n").expect_ok()
    login.expect_not_in_output(ALICE_KEY, "API key")
    credentials = cli.config_dir / "credentials.json"
    expect(credentials.is_file(), f"auth login wrote no {credentials}")
    expect_equal(oct(file_mode(credentials)), oct(0o600), "mode of credentials.json")
    expect_equal(oct(file_mode(cli.config_dir)), oct(0o700), "mode of the config dir")
    stored = json.loads(credentials.read_text())
    expect_equal(stored.get("local", {}).get("api_key"), ALICE_KEY,
                 "credentials.json entry for environment 'local' (contract 3)")

    status = cli.run("auth", "status").expect_ok().expect_not_in_output(ALICE_KEY, "API key")
    expect("alice" in status.stdout + status.stderr, status.describe("auth status does not say who"))
    listed = cli.run("--verbose", "box", "list").expect_ok().expect_not_in_output(ALICE_KEY, "API key")
    expect(ALICE_KEY not in listed.stderr, listed.describe("key in --verbose output"))

    cli.run("auth", "logout").expect_ok().expect_not_in_output(ALICE_KEY, "API key")
    remaining = credentials.read_text() if credentials.exists() else ""
    expect(ALICE_KEY not in remaining, "auth logout left the key in credentials.json")
    cli.run("box", "list").expect_exit(3)


@suite.test
def wrong_key_from_login_is_refused_later(t):
    cli = t.cli("alice", key="")
    cli.extra_env = {"BOXD_ENVIRONMENT": "local"}
    wrong = "bxd_nobody0000000000000000000000000000000000"
    login = cli.run("auth", "login", input=wrong + "\n")
    login.expect_not_in_output(wrong, "API key")
    cli.run("box", "list").expect_exit(3).expect_not_in_output(wrong, "API key")


suite.main()
