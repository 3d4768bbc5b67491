"""Root inside a box is a user-namespace root (issue 10): `sudo` works for
user boxd, box root maps to an unprivileged host id range of the box's own,
the root file system is an overlay whose writes stay in the box (apt-get
install of a local .deb), and what the host keeps private stays out."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal, host_pids_with_argv  # noqa: E402

suite = Suite(__file__)
RUN_ID = uuid.uuid4().hex[:10]
# Host secrets made before any box boots (masks are taken at boot).
ROOT_SECRET = Path(f"/etc/boxd-e2e-secret-{RUN_ID}")
ROOT_SECRET_DIR = Path(f"/var/lib/boxd-e2e-private-{RUN_ID}")
USER_SECRET = Path(f"/var/tmp/boxd-e2e-u1000-{RUN_ID}")
SECRET_TEXT = f"host-secret-{RUN_ID}"
_boxes = {}


def make_host_secrets():
    if ROOT_SECRET.exists():
        return
    ROOT_SECRET.write_text(SECRET_TEXT + "\n")
    os.chmod(ROOT_SECRET, 0o600)
    ROOT_SECRET_DIR.mkdir(mode=0o700, exist_ok=True)
    (ROOT_SECRET_DIR / "data").write_text(SECRET_TEXT + "\n")
    os.chmod(ROOT_SECRET_DIR / "data", 0o644)  # readable, but its directory is not
    USER_SECRET.write_text(SECRET_TEXT + "\n")
    os.chown(USER_SECRET, 1000, 1000)
    os.chmod(USER_SECRET, 0o600)


def remove_host_secrets():
    for path in (ROOT_SECRET, USER_SECRET):
        path.unlink(missing_ok=True)
    shutil.rmtree(ROOT_SECRET_DIR, ignore_errors=True)


def box(t, key):
    t.require_isolation()
    if key not in _boxes:
        make_host_secrets()
        _boxes[key] = t.alice.create_box(t.box_name(f"root-{key}"))
    return _boxes[key]


def host_uid_of(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def build_deb(workdir, name, marker):
    root = Path(workdir) / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share" / name).mkdir(parents=True)
    (root / "usr/share" / name / "marker").write_text(marker + "\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: boxd tests <t@example.invalid>\n"
        f"Description: boxd e2e test package\n")
    deb = Path(workdir) / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True,
                   stdout=subprocess.DEVNULL)
    return deb


@suite.test
def sudo_gives_box_root_without_a_password(t):
    a = box(t, "a")
    t.alice.exec(a, "id", "-u").expect_ok().expect_stdout("1000\n")
    t.alice.exec(a, "sudo", "-n", "id", "-u").expect_ok().expect_stdout("0\n")
    t.alice.exec(a, "sudo", "-n", "whoami").expect_ok().expect_stdout("root\n")


@suite.test
def box_ids_map_to_a_range_of_their_own(t):
    a = box(t, "a")
    b = box(t, "b")
    maps = {}
    for name in (a, b):
        text = t.alice.exec(name, "cat", "/proc/self/uid_map").expect_ok().stdout.split()
        expect(len(text) == 3 and text[0] == "0" and text[2] == "65536",
               f"box {name} uid_map {text}: box ids 0..65535 mapped")
        base = int(text[1])
        expect(base >= 65536, f"box {name} root is host uid {base}: not an unprivileged range")
        maps[name] = base
    expect(maps[a] != maps[b], f"boxes {a} and {b} share the id range {maps[a]}")
    # Seen from the host: the box's processes run as the range's ids.
    marker = str(int(RUN_ID[:6], 16) % 9000 + 1000) + ".5"
    t.alice.sh(a, f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & "
                  f"sudo -n setsid sleep {marker}1 </dev/null >/dev/null 2>&1 &")
    pids = eventually(lambda: (host_pids_with_argv(["sleep", marker + "1"])
                               and host_pids_with_argv(["sleep", marker])),
                      5, 0.1, "the box's sleeps seen from the host")
    user_pid = host_pids_with_argv(["sleep", marker])
    root_pid = host_pids_with_argv(["sleep", marker + "1"])
    expect(pids and user_pid and root_pid, "both sleeps found on the host")
    expect_equal(host_uid_of(user_pid[0]), maps[a] + 1000, "host uid of box user boxd")
    expect_equal(host_uid_of(root_pid[0]), maps[a], "host uid of box root")
    t.alice.sh(a, "sudo -n pkill -x sleep; true")


@suite.test
def root_capabilities_are_a_namespace_roots_only(t):
    a = box(t, "a")
    # Box root cannot mount, change the hostname or write kernel settings.
    t.alice.exec(a, "sudo", "-n", "mount", "-t", "tmpfs", "x", "/mnt").expect_failure()
    t.alice.exec(a, "sudo", "-n", "hostname", "evil").expect_failure()
    t.alice.exec(a, "uname", "-n").expect_ok().expect_stdout(f"{a}\n")
    host_name = Path("/proc/sys/kernel/hostname").read_text()
    t.alice.exec(a, "sudo -n sh -c 'echo evil > /proc/sys/kernel/hostname'").expect_failure()
    expect_equal(Path("/proc/sys/kernel/hostname").read_text(), host_name, "host hostname")
    # No device nodes of the host's disks.
    t.alice.exec(a, "sudo", "-n", "mknod", "/tmp/disk", "b", "8", "0").expect_failure()
    t.alice.exec(a, "sudo", "-n", "test", "-e", "/tmp/disk").expect_exit(1)
    # Masked kernel files.
    t.alice.exec(a, "sudo -n sh -c 'test -s /proc/kcore || test ! -e /proc/kcore'").expect_ok()
    t.alice.exec(a, "sudo -n sh -c 'echo c > /proc/sysrq-trigger'").expect_failure()


@suite.test
def writes_to_the_root_stay_in_the_box_and_persist(t):
    a = box(t, "a")
    b = box(t, "b")
    motd = f"motd-{RUN_ID}"
    host_motd = Path("/etc/motd").read_bytes() if Path("/etc/motd").exists() else None
    t.alice.exec(a, f"sudo -n sh -c 'echo {motd} > /etc/motd'").expect_ok()
    t.alice.exec(a, "cat", "/etc/motd").expect_ok().expect_stdout(motd + "\n")
    expect(motd not in t.alice.exec(b, "cat /etc/motd 2>/dev/null; true").stdout,
           f"box {b} sees box {a}'s /etc/motd")
    now = Path("/etc/motd").read_bytes() if Path("/etc/motd").exists() else None
    expect_equal(now, host_motd, "the host's /etc/motd")
    t.alice.run("box", "stop", a).expect_ok()
    t.alice.run("box", "start", a).expect_ok()
    t.alice.exec(a, "cat", "/etc/motd").expect_ok().expect_stdout(motd + "\n")
    fork = t.alice.run("box", "fork", a, t.box_name("root-fork")).expect_ok()
    forked = [vm for vm in t.alice.list_names() if vm.startswith("root-fork")]
    expect(forked, fork.describe("the fork is listed"))
    t.alice.exec(forked[0], "cat", "/etc/motd").expect_ok().expect_stdout(motd + "\n")
    t.alice.exec(forked[0], "sudo", "-n", "true").expect_ok()
    # The fork has its own id range and owns its files: box root can edit them.
    t.alice.exec(forked[0], "sudo -n sh -c 'echo fork >> /etc/motd'").expect_ok()
    t.alice.exec(forked[0], "stat", "-c", "%u:%g", "/home/boxd").expect_ok().expect_stdout("1000:1000\n")


@suite.test
def apt_get_install_of_a_local_deb_changes_one_box(t):
    a = box(t, "a")
    b = box(t, "b")
    name = f"boxd-e2e-pkg-{RUN_ID}"
    with tempfile.TemporaryDirectory() as work:
        deb = build_deb(work, name, f"installed-{RUN_ID}")
        t.alice.run("box", "cp", str(deb), f"{a}:/tmp/{name}.deb").expect_ok()
    r = t.alice.exec(a, "sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install",
                     "-y", "-q", f"/tmp/{name}.deb", timeout=120)
    r.expect_ok()
    t.alice.exec(a, "cat", f"/usr/share/{name}/marker").expect_ok().expect_stdout(
        f"installed-{RUN_ID}\n")
    t.alice.exec(a, "dpkg", "-s", name).expect_ok()
    t.alice.exec(b, "dpkg", "-s", name).expect_failure()
    t.alice.exec(b, "test", "-e", f"/usr/share/{name}").expect_exit(1)
    expect(not Path(f"/usr/share/{name}").exists(), "the package's files appeared on the host")
    host = subprocess.run(["dpkg", "-s", name], capture_output=True)
    expect(host.returncode != 0, "the package is installed on the host")


@suite.test
def host_private_files_stay_out(t):
    a = box(t, "a")
    # A root-only host file, a file in a root-only directory, /etc/shadow
    # and the SSH host keys: box root reads nothing of them.
    for path in (ROOT_SECRET, ROOT_SECRET_DIR / "data"):
        r = t.alice.exec(a, "sudo", "-n", "cat", str(path))
        expect(SECRET_TEXT not in r.stdout, r.describe(f"box root read the host's {path}"))
    host_shadow = Path("/etc/shadow").read_text()
    r = t.alice.exec(a, "sudo", "-n", "cat", "/etc/shadow")
    expect(r.stdout != host_shadow, r.describe("box root read the host's /etc/shadow"))
    for line in host_shadow.splitlines():
        fields = line.split(":")
        if len(fields) > 1 and fields[1] not in ("*", "!", "!*", "x", ""):
            expect(line not in r.stdout, r.describe("a host password hash is in the box's shadow"))
    for key in Path("/etc/ssh").glob("ssh_host_*_key"):
        r = t.alice.exec(a, "sudo", "-n", "cat", str(key))
        expect("PRIVATE KEY" not in r.stdout, r.describe(f"box root read the host key {key}"))
    # Box uid 1000 is not host uid 1000.
    r = t.alice.exec(a, "cat", str(USER_SECRET))
    expect(SECRET_TEXT not in r.stdout, r.describe("box user read host uid 1000's 0600 file"))
    # The server's state dir is not in the box.
    r = t.alice.exec(a, "sudo", "-n", "ls", "-A", str(t.server.state_dir))
    expect(r.stdout.strip() == "", r.describe("the state dir's contents are visible in the box"))


@suite.test
def destroy_gives_the_id_range_back(t):
    t.require_isolation()
    name = t.alice.create_box(t.box_name("root-gone"))
    base = int(t.alice.exec(name, "cat", "/proc/self/uid_map").expect_ok().stdout.split()[1])
    registry = Path("/var/lib/boxd-local/idmap")
    slot = registry / str((base - (1 << 30)) // 65536)
    expect(slot.is_dir(), f"{slot} records the box's range")
    owner = (slot / "owner").read_text()
    t.alice.run("box", "destroy", name, "--yes").expect_ok()

    # The registry is machine-wide: another server (a suite running beside
    # this one) may take the freed slot at once, so "given back" means the
    # slot no longer names this box.
    def held_by_box():
        try:
            return (slot / "owner").read_text() == owner
        except FileNotFoundError:
            return False
    expect(not held_by_box(), f"{slot} is still held by the box after destroy")


atexit.register(remove_host_secrets)
suite.main()
