"""Named profiles (issue 5, point 4): `config profiles` lists the profiles of
$BOXD_CONFIG_DIR/config.json with the active one marked (--profile >
BOXD_PROFILE > default_profile), as a table, TSV, names or JSON; a profile
carries its own endpoints and its own credentials; `boxd config` alone is
still GetConfig; a credentials.json others can read gives a warning."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal, file_mode  # noqa: E402

suite = Suite(__file__)


def profile_cli(t, key=""):
    """A CLI with no URLs or key in its environment: only profiles say where to go."""
    cli = t.cli("alice", key=key)
    cli.unset.update({"BOXD_API_URL", "BOXD_EXCHANGE_URL"})
    cli.config_dir.mkdir(parents=True, exist_ok=True)
    server = t.server
    (cli.config_dir / "config.json").write_text(json.dumps({
        "profiles": {
            "dev": {"environment": "local", "api_url": server.api_url,
                    "exchange_url": server.exchange_url},
            "other": {"environment": "local", "api_url": server.api_url,
                      "exchange_url": server.exchange_url},
            "prod": {"environment": "production"},
        },
        "default_profile": "prod",
    }))
    return cli


def active_rows(result):
    """TSV rows -> {name: active}"""
    rows = [line.split("\t") for line in result.lines()]
    for row in rows:
        expect_equal(len(row), 5, f"columns in {row!r}")
    return {row[0]: row[4] for row in rows}


@suite.test
def lists_profiles_and_marks_the_active_one(t):
    cli = profile_cli(t)
    r = cli.run("config", "profiles").expect_ok()
    expect_equal(active_rows(r), {"dev": "no", "other": "no", "prod": "yes"}, "default_profile")
    expect("dev\tlocal\t" + t.server.api_url + "\t" in r.stdout, r.describe("dev row"))
    r = cli.run("--profile", "dev", "config", "profiles").expect_ok()
    expect_equal(active_rows(r), {"dev": "yes", "other": "no", "prod": "no"}, "--profile")
    r = cli.run("config", "profiles", env={"BOXD_PROFILE": "other"}).expect_ok()
    expect_equal(active_rows(r), {"dev": "no", "other": "yes", "prod": "no"}, "BOXD_PROFILE")
    # The flag beats the environment variable.
    r = cli.run("config", "profiles", "--profile", "dev", env={"BOXD_PROFILE": "other"}).expect_ok()
    expect_equal(active_rows(r)["dev"], "yes", "--profile over BOXD_PROFILE")


@suite.test
def json_and_names(t):
    cli = profile_cli(t)
    doc = cli.run("--profile", "dev", "config", "profiles", "--json").expect_ok().json()
    by_name = {p["name"]: p for p in doc}
    expect_equal(sorted(by_name), ["dev", "other", "prod"], "names")
    expect_equal(by_name["dev"]["active"], True, "dev active")
    expect_equal(by_name["prod"]["default"], True, "prod default")
    expect_equal(by_name["prod"]["active"], False, "prod not active")
    expect_equal(by_name["dev"]["api_url"], t.server.api_url, "api_url")
    expect_equal(by_name["prod"]["api_url"], "", "unset api_url")
    names = cli.run("config", "profiles", "-q").expect_ok().lines()
    expect_equal(sorted(names), ["dev", "other", "prod"], "-q")


@suite.test
def no_config_file_is_an_empty_list(t):
    cli = t.cli("alice")
    r = cli.run("config", "profiles").expect_ok()
    expect_equal(r.stdout, "", "stdout")
    r.expect_stderr_contains("No profiles in")
    expect_equal(cli.run("config", "profiles", "--json").expect_ok().json(), [], "json")


@suite.test
def unknown_profile(t):
    cli = profile_cli(t)
    r = cli.run("--profile", "nope", "config", "profiles").expect_ok()
    r.expect_stderr_contains("unknown profile 'nope'")
    expect(all(v == "no" for v in active_rows(r).values()), r.describe("nothing active"))
    cli.run("--profile", "nope", "whoami").expect_exit(2).expect_stderr_contains(
        "unknown profile 'nope' (valid profiles: dev, other, prod)")


@suite.test
def a_profile_has_its_endpoints_and_its_credentials(t):
    cli = profile_cli(t)
    cli.run("--profile", "dev", "auth", "login", input=t.alice.key + "\n").expect_ok()
    creds = json.loads((cli.config_dir / "credentials.json").read_text())
    expect_equal(list(creds), ["dev"], "credentials keyed by profile")
    expect_equal(file_mode(cli.config_dir / "credentials.json"), 0o600, "mode")
    who = cli.run("--profile", "dev", "whoami", "--json").expect_ok().json()
    expect_equal(who["user_id"], "alice", "whoami through the profile")
    r = cli.run("whoami", env={"BOXD_PROFILE": "dev"}).expect_ok()
    r.expect_stdout_contains("alice")
    # Same endpoints, but nothing stored for this profile.
    cli.run("--profile", "other", "whoami").expect_exit(3).expect_stderr_contains("not logged in")
    # `boxd config` alone is still the server's defaults.
    doc = cli.run("--profile", "dev", "config", "--json").expect_ok().json()
    expect("default_image" in doc, f"config --json: {doc}")


@suite.test
def loose_credentials_permissions_warn(t):
    cli = profile_cli(t)
    cli.run("--profile", "dev", "auth", "login", input=t.alice.key + "\n").expect_ok()
    path = cli.config_dir / "credentials.json"
    r = cli.run("--profile", "dev", "whoami").expect_ok()
    expect("permissions" not in r.stderr, r.describe("warning at 0600"))
    os.chmod(path, 0o644)
    r = cli.run("--profile", "dev", "whoami").expect_ok()
    r.expect_stderr_contains(f"warning: permissions 0644 for '{path}' are too open")
    r.expect_stderr_contains(f"chmod 600 {path}")
    r.expect_not_in_output(t.alice.key, "API key")
    r = cli.run("--profile", "dev", "doctor").expect_exit(0)
    expect(any(line.startswith("warn") and "permissions" in line for line in r.lines()),
           r.describe("doctor's permissions line"))
    # A key from the environment does not read the file: no warning.
    r = cli.run("--profile", "dev", "whoami", env={"BOXD_API_KEY": t.alice.key}).expect_ok()
    expect("permissions" not in r.stderr, r.describe("warning with BOXD_API_KEY"))
    os.chmod(path, 0o600)
    r = cli.run("--profile", "dev", "whoami").expect_ok()
    expect("permissions" not in r.stderr, r.describe("warning after chmod 600"))


suite.main()
