"""`boxd whoami` SSH key fingerprints (issue 4, "the rest of the SDK",
point 3): boxd local reads a user's public keys from
<state_dir>/ssh_keys/<user> (authorized_keys format) and answers with
OpenSSH's SHA256 fingerprints, exactly what `ssh-keygen -lf` prints."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def new_key(t, name, kind):
    path = t.dir / name
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@test", "-f",
                    str(path)], check=True)
    line = (t.dir / f"{name}.pub").read_text()
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(t.dir / f"{name}.pub")],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
    return line, fingerprint


@suite.test
def fingerprints_match_ssh_keygen(t):
    if shutil.which("ssh-keygen") is None:
        suite.skip("ssh-keygen is not installed")
    expect_equal(t.alice.run("whoami", "--json").expect_ok().json().get("fingerprints"), [],
                 "no keys yet")
    ed, ed_fp = new_key(t, "ed", "ed25519")
    rsa, rsa_fp = new_key(t, "rsa", "rsa")
    keys = t.server.state_dir / "ssh_keys"
    keys.mkdir(exist_ok=True)
    (keys / "alice").write_text("# alice's keys\n\n" + ed + 'from="127.0.0.1" ' + rsa +
                                "ssh-ed25519 not-base64!!\n")
    doc = t.alice.run("whoami", "--json").expect_ok().json()
    expect_equal(doc.get("fingerprints"), [ed_fp, rsa_fp], "fingerprints, as ssh-keygen -lf")
    expect(ed_fp.startswith("SHA256:") and not ed_fp.endswith("="), ed_fp)
    t.alice.run("whoami").expect_ok().expect_stdout_contains(ed_fp)
    expect_equal(t.bob.run("whoami", "--json").expect_ok().json().get("fingerprints"), [],
                 "bob has none")


suite.main()
