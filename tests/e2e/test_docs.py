"""Completions, man page and help topics are generated from the command tree
and committed; these tests fail when the committed copies are stale, when man
warns about the page, or when bash completion stops completing (issue 5)."""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run scripts/gen-docs to regenerate"


def generated(t, *args):
    return t.cli("alice", server=False).run(*args).expect_ok().stdout


@suite.test
def committed_completions_are_current(t):
    for shell, path in (("bash", "completions/boxd.bash"), ("zsh", "completions/_boxd"),
                        ("fish", "completions/boxd.fish")):
        committed = (ROOT / path).read_text()
        expect(committed == generated(t, "completion", shell), f"{path} is stale: {REGENERATE}")


@suite.test
def committed_man_page_is_current_and_renders_without_warnings(t):
    page = ROOT / "man" / "boxd.1"
    expect(page.read_text() == generated(t, "__man"), f"man/boxd.1 is stale: {REGENERATE}")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, env=env,
                       timeout=60)
    expect_equal(p.returncode, 0, f"man exit code (stderr {p.stderr!r})")
    expect_equal(p.stderr.decode(), "", "man warnings")
    text = p.stdout.decode()
    for section in ("SYNOPSIS", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT",
                    "FILES", "EXAMPLES"):
        expect(section in text, f"man page lacks {section}")
    expect("boxd box exec" in text, "man page lacks box exec")


def bash_complete(t, words):
    script = generated(t, "completion", "bash")
    line = " ".join(f"'{w}'" for w in words)
    program = (script + "\nCOMP_WORDS=(" + line + "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ));"
               " _boxd; printf '%s\\n' \"${COMPREPLY[@]}\"; complete -p boxd >&2\n")
    env = t.alice.env()
    # As installed: `boxd` is found on PATH.
    env["PATH"] = os.path.dirname(t.bin) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(["bash", "--norc", "--noprofile"], input=program.encode(),
                       capture_output=True, timeout=30, env=env)
    expect_equal(p.returncode, 0, f"bash exit (stderr {p.stderr!r})")
    expect(b"complete -F _boxd boxd" in p.stderr, "the script does not register _boxd")
    return sorted(x for x in p.stdout.decode().splitlines() if x)


@suite.test
def bash_completes_commands_flags_values_and_box_names(t):
    expect_equal(bash_complete(t, ["boxd", "bo"]), ["box"], "boxd bo<TAB>")
    expect("exec" in bash_complete(t, ["boxd", "box", "e"]), "boxd box e<TAB>")
    expect_equal(bash_complete(t, ["boxd", "--environment", "st"]), ["staging"], "--environment st")
    expect_equal(bash_complete(t, ["boxd", "box", "create", "--restart-policy", ""]),
                 ["always", "never"], "--restart-policy values")
    expect("--timeout" in bash_complete(t, ["boxd", "box", "exec", "--ti"]), "box exec --ti")
    expect_equal(bash_complete(t, ["boxd", "box", "exec", "vm", "--", "l"]), [],
                 "nothing after --")
    name = t.alice.create_box(t.box_name("complete"))
    expect(name in bash_complete(t, ["boxd", "box", "exec", ""]), "box names from the API")
    expect(name in bash_complete(t, ["boxd", "box", "get", name[:4]]), "box name prefix")
    # Each positional completes what it is: nothing after exec's box (the
    # remote command), more names for the commands that take several.
    expect_equal(bash_complete(t, ["boxd", "box", "exec", name, ""]), [], "box exec VM <TAB>")
    expect_equal(bash_complete(t, ["boxd", "box", "exec", "-e", "A=1", name, ""]), [],
                 "box exec -e A=1 VM <TAB>")
    expect_equal(bash_complete(t, ["boxd", "box", "get", name, ""]), [], "box get VM <TAB>")
    expect_equal(bash_complete(t, ["boxd", "box", "fork", name, ""]), [], "box fork VM <TAB>")
    expect(name in bash_complete(t, ["boxd", "box", "destroy", "other", ""]),
           "box destroy takes several names")
    expect(name in bash_complete(t, ["boxd", "disk", "attach", "d", ""]),
           "disk attach DISK <TAB> completes the box")


@suite.test
def completion_is_silent_when_the_api_is_unreachable(t):
    cli = t.cli("alice", server=False)
    cli.extra_env["BOXD_API_URL"] = "http://127.0.0.1:1"
    cli.extra_env["BOXD_EXCHANGE_URL"] = "http://127.0.0.1:1/api/v1/auth/token"
    r = cli.run("__complete", "vms")
    expect_equal(r.stdout, "", "stdout")
    expect_equal(r.stderr, "", "stderr")


@suite.test
def help_topics_list_exit_codes_and_environment(t):
    cli = t.cli("alice", server=False)
    codes = cli.run("help", "exit-codes").expect_ok().stdout
    for code in ("0", "2", "3", "4", "5", "6", "7", "8", "124", "130", "255"):
        expect(f"  {code} " in codes, f"exit code {code} missing from help exit-codes")
    env = cli.run("help", "environment").expect_ok().stdout
    for name in ("BOXD_API_KEY", "BOXD_TOKEN", "BOXD_ENVIRONMENT", "BOXD_API_URL",
                 "BOXD_EXCHANGE_URL", "BOXD_PROFILE", "BOXD_CONFIG_DIR", "NO_COLOR"):
        expect(name in env, f"{name} missing from help environment")


suite.main()
