"""boxd local as a systemd service: the unit file passes `systemd-analyze
verify`, and `boxd doctor` recognises a server run by it (systemd itself is
stood in for by a `systemctl` on PATH that reports the unit active with a
real `boxd local serve` as its main process)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import ALICE_KEY, Suite, eventually, expect, fail

suite = Suite(__file__)
ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "systemd" / "boxd-local.service"


def verify(t, text, name):
    """systemd-analyze verify on `text` as a unit, ExecStart at the built
    binary, man: links against the repository's man page."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        suite.skip("no systemd-analyze here (scripts/setup installs systemd)")
    unit_dir = t.dir / name
    man_dir = t.dir / "man" / "man1"
    unit_dir.mkdir(parents=True, exist_ok=True)
    man_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "man" / "boxd.1", man_dir / "boxd.1")
    path = unit_dir / "boxd-local.service"
    path.write_text(text.replace("/usr/bin/boxd ", f"{t.bin} "))
    env = dict(os.environ, MANPATH=str(t.dir / "man"))
    return subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, env=env,
                          timeout=60)


@suite.test
def the_unit_file_verifies(t):
    text = UNIT.read_text()
    expect("ExecStart=/usr/bin/boxd local serve --state-dir /var/lib/boxd-local " in text,
           "the unit does not run boxd local serve on /var/lib/boxd-local")
    for line in ("Restart=on-failure", "KillMode=mixed", "StateDirectory=boxd-local",
                 "EnvironmentFile=-/etc/boxd-local/keys.env"):
        expect(f"\n{line}\n" in text, f"the unit lacks {line}")
    good = verify(t, text, "good")
    expect(good.returncode == 0 and not good.stderr.strip(),
           f"systemd-analyze verify failed ({good.returncode}): {good.stderr}")
    # The check can fail: a misspelt directive is reported.
    bad = verify(t, text.replace("Restart=on-failure", "Restart=on-failure\nRestartEvery=2"), "bad")
    expect("RestartEvery" in bad.stderr, f"a bad directive went unnoticed: {bad.stderr!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_systemctl(t, state, pid):
    bin_dir = t.dir / f"fake-bin-{state}"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "systemctl"
    script.write_text("#!/bin/sh\n"
                      "case \"$*\" in *boxd-local.service*) ;; *) exit 1;; esac\n"
                      f"echo MainPID={pid}\necho ActiveState={state}\n")
    script.chmod(0o755)
    return str(bin_dir)


@suite.test
def doctor_recognises_the_service(t):
    ports = [free_port() for _ in range(3)]
    state = t.dir / "service-state"
    argv = [t.bin, "local", "serve", "--state-dir", str(state), "--port", str(ports[0]),
            "--http-port", str(ports[1]), "--proxy-port", str(ports[2])]
    env = dict(t.clean_env(), BOXD_LOCAL_API_KEYS=f"{ALICE_KEY}=alice")
    log = open(t.dir / "service.log", "wb")
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                              env=env, start_new_session=True)
    try:
        eventually(lambda: b"ready" in server.stdout.readline(), timeout=30, what="server ready")
        cli = t.cli("alice", server=False)
        cli.extra_env.update({"BOXD_API_URL": f"http://127.0.0.1:{ports[0]}",
                              "BOXD_EXCHANGE_URL": f"http://127.0.0.1:{ports[1]}/api/v1/auth/token"})
        path = os.environ.get("PATH", "/usr/bin:/bin")
        active = cli.run("doctor", env={"PATH": fake_systemctl(t, "active", server.pid) + ":" + path})
        expect(f"boxd-local.service (systemd), pid {server.pid}, state dir {state}" in active.stdout,
               active.describe("doctor does not name the systemd service"))
        expect(active.code == 0, active.describe("doctor failed against the service"))
        inactive = cli.run("doctor", env={"PATH": fake_systemctl(t, "inactive", server.pid) + ":" + path})
        expect("(systemd)" not in inactive.stdout and "foreground" in inactive.stdout,
               inactive.describe("doctor names an inactive service"))
        other = cli.run("doctor", "--json", env={"PATH": fake_systemctl(t, "active", os.getpid()) + ":" + path})
        checks = {c["check"]: c["detail"] for c in other.json()["checks"]}
        expect("(systemd)" not in checks.get("local_server", "(systemd)"),
               other.describe("a service whose main process is not boxd local serve was named"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    expect(server.returncode == 0, f"the server exited with {server.returncode} on SIGTERM")


suite.main()
