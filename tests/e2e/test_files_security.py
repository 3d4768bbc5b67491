"""File operations run as the box's user inside the box (issue 12, points 1
and 4): `box cp` reads and writes exactly what user boxd could, never a host
file, refuses special files, lands uploads atomically and cleans up after a
killed upload; disks have per-user quotas and sane sizes; no error message
names a host path."""

import glob
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, eventually, expect, expect_equal  # noqa: E402

suite = Suite(__file__)
_box = []
TEMP_PREFIX = ".boxd-upload-"


def box(t):
    if not _box:
        t.require_isolation()
        _box.append(t.alice.create_box(t.box_name("sec")))
    return _box[0]


def temps_in(t, vm, directory="/home/boxd"):
    out = t.alice.sh(vm, f"ls -A {directory}")
    return [name for name in out.split() if name.startswith(TEMP_PREFIX)]


def host_home_of(t, vm):
    """The box's /home/boxd as the host sees it (the test runs as root)."""
    box_id = t.alice.get(vm)["vm_id"]
    homes = glob.glob(str(t.server.state_dir / "boxes" / box_id / "disk" / "home" / "boxd"))
    expect(len(homes) == 1, f"the box's home on the host ({homes})")
    return homes[0]


def start_big_upload(t, vm, target, mib=600):
    """Starts `box cp` of a big file in the background; returns the process
    once its temp file exists in the box."""
    big = t.dir / "big-upload.bin"
    if not big.exists():
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(mib):
                f.write(block)
    proc = subprocess.Popen([t.bin, "box", "cp", str(big), f"{vm}:{target}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=t.alice.env(), cwd=t.alice.home,
                            start_new_session=True)
    eventually(lambda: temps_in(t, vm), timeout=30, what="the upload's temp file in the box")
    return proc


@suite.test
def host_secrets_cannot_be_read(t):
    vm = box(t)
    result = t.alice.run("box", "cp", f"{vm}:/etc/shadow", "-").expect_exit(3)
    result.expect_stderr_contains("permission denied")
    expect_equal(result.stdout_bytes, b"", "nothing of /etc/shadow on stdout")
    # Through a symlink made in the box: the same answer, as the box's user.
    t.alice.sh(vm, "ln -sfn /etc/shadow ~/shadow-link")
    t.alice.run("box", "cp", f"{vm}:shadow-link", "-").expect_exit(3) \
        .expect_stderr_contains("permission denied")
    # A symlink to a host file the box does not have leads nowhere.
    secret = t.dir / "host-secret.txt"
    secret.write_text("host secret\n")
    t.alice.sh(vm, f"ln -sfn {secret} ~/host-link")
    result = t.alice.run("box", "cp", f"{vm}:host-link", "-").expect_exit(4)
    expect(b"host secret" not in result.stdout_bytes, "a host file came out through a symlink")
    # What the box's user may read comes out.
    result = t.alice.run("box", "cp", f"{vm}:/etc/hostname", "-").expect_ok()
    expect_equal(result.stdout, f"{vm}\n", "the box's /etc/hostname")


@suite.test
def symlinks_cannot_write_host_files(t):
    vm = box(t)
    src = t.dir / "payload.txt"
    src.write_text("payload\n")
    target = t.dir / "host-target.txt"
    t.alice.sh(vm, f"ln -sfn {target} ~/write-link")
    t.alice.run("box", "cp", src, f"{vm}:write-link").expect_ok()
    expect(not target.exists(), "an upload through a symlink created a host file")
    # The link itself was replaced by the file, in the box.
    expect_equal(t.alice.sh(vm, "stat -c %F ~/write-link; cat ~/write-link"),
                 "regular file\npayload\n", "the box's file")
    # The box's /etc belongs to root: the box's user cannot write there.
    t.alice.sh(vm, "ln -sfn /etc/passwd ~/passwd-link")
    before = t.alice.sh(vm, "cat /etc/passwd")
    t.alice.run("box", "cp", src, f"{vm}:/etc/passwd").expect_exit(3) \
        .expect_stderr_contains("permission denied")
    expect_equal(t.alice.sh(vm, "cat /etc/passwd"), before, "/etc/passwd untouched")


@suite.test
def special_files_are_refused(t):
    vm = box(t)
    src = t.dir / "to-null.txt"
    src.write_text("not a device\n")
    t.alice.run("box", "cp", src, f"{vm}:/dev/null").expect_exit(5) \
        .expect_stderr_contains("not a regular file")
    expect_equal(t.alice.sh(vm, "stat -c %F /dev/null"), "character special file\n",
                 "/dev/null is still a device")
    t.alice.run("box", "cp", f"{vm}:/dev/zero", t.dir / "zero").expect_exit(5) \
        .expect_stderr_contains("not a regular file")
    t.alice.sh(vm, "rm -f ~/fifo && mkfifo ~/fifo")
    t.alice.run("box", "cp", f"{vm}:fifo", t.dir / "fifo-out", timeout=20).expect_exit(5)
    t.alice.run("box", "cp", src, f"{vm}:fifo", timeout=20).expect_exit(5)
    expect_equal(t.alice.sh(vm, "stat -c %F ~/fifo"), "fifo\n", "the FIFO is still a FIFO")


@suite.test
def a_root_owned_file_cannot_be_overwritten(t):
    vm = box(t)
    home = host_home_of(t, vm)
    path = os.path.join(home, "owned-by-root")
    with open(path, "w") as f:
        f.write("root's\n")
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)
    src = t.dir / "mine.txt"
    src.write_text("mine\n")
    t.alice.run("box", "cp", src, f"{vm}:owned-by-root").expect_exit(3) \
        .expect_stderr_contains("permission denied")
    expect_equal(t.alice.sh(vm, "cat owned-by-root"), "root's\n", "the root-owned file is intact")
    expect_equal(temps_in(t, vm), [], "temp files left")
    # The box user's own file is replaced, keeping its mode.
    t.alice.sh(vm, "echo old > mine.txt && chmod 600 mine.txt")
    t.alice.run("box", "cp", src, f"{vm}:mine.txt").expect_ok()
    expect_equal(t.alice.sh(vm, "stat -c '%a %U' mine.txt; cat mine.txt"), "600 boxd\nmine\n",
                 "replaced, mode kept")


@suite.test
def a_failed_upload_leaves_the_old_file_and_no_temp_file(t):
    vm = box(t)
    t.alice.sh(vm, "echo old > ~/atomic.bin")
    proc = start_big_upload(t, vm, "atomic.bin")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    eventually(lambda: not temps_in(t, vm), timeout=20, what="the temp file removed")
    expect_equal(t.alice.sh(vm, "cat ~/atomic.bin"), "old\n", "the old file is intact")


@suite.test
def a_server_killed_during_an_upload_leaves_no_temp_file(t):
    vm = box(t)
    t.alice.sh(vm, "echo old > ~/killed.bin")
    server = t.server
    proc = start_big_upload(t, vm, "killed.bin")
    server.kill9()
    proc.wait()
    server.start()
    eventually(lambda: not temps_in(t, vm), timeout=20, what="the temp file removed")
    expect_equal(t.alice.sh(vm, "cat ~/killed.bin"), "old\n", "the old file is intact")


@suite.test
def stale_temp_files_are_removed_by_the_next_upload(t):
    vm = box(t)
    # A helper killed outright (pid gone) left one; pid 1 (the box's init) is alive.
    stale = f"{TEMP_PREFIX}999999-0123456789ab"
    live = f"{TEMP_PREFIX}1-0123456789ab"
    t.alice.sh(vm, f"mkdir -p ~/up && touch ~/up/{stale} ~/up/{live}")
    src = t.dir / "fresh.txt"
    src.write_text("fresh\n")
    t.alice.run("box", "cp", src, f"{vm}:up/fresh.txt").expect_ok()
    expect_equal(sorted(temps_in(t, vm, "/home/boxd/up")), [live], "temp files after the upload")


@suite.test
def non_utf8_file_names_both_ways(t):
    vm = box(t)
    tree = t.dir / "names"
    tree.mkdir()
    name = b"caf\xe9.txt"
    with open(os.path.join(os.fsencode(tree), name), "wb") as f:
        f.write(b"latin-1\n")
    t.alice.run("box", "cp", "-r", tree, f"{vm}:names").expect_ok()
    expect_equal(t.alice.sh(vm, "cat names/caf$(printf '\\351').txt"), "latin-1\n",
                 "the file in the box")
    back = t.dir / "names-back"
    t.alice.run("box", "cp", "-r", f"{vm}:names", back).expect_ok()
    with open(os.path.join(os.fsencode(back), name), "rb") as f:
        expect_equal(f.read(), b"latin-1\n", "the file back")


@suite.test
def disk_quotas_count_and_bytes(t):
    server = t.new_server("quota", args=["--max-disks", "2", "--max-disk-bytes", "1G"])
    cli = t.cli("alice", server=server)
    cli.run("disk", "create", "q1", "--size", "512M").expect_ok()
    cli.run("disk", "create", "q2", "--size", "600M").expect_exit(6) \
        .expect_stderr_contains("quota exceeded")
    cli.run("disk", "create", "q2", "--size", "256M").expect_ok()
    cli.run("disk", "create", "q3", "--size", "8M").expect_exit(6) \
        .expect_stderr_contains("at most 2 disks")
    # Other users have their own quota.
    t.cli("bob", server=server).run("disk", "create", "b1", "--size", "512M").expect_ok()
    # One size over the limit, whatever takes it.
    cli.run("disk", "destroy", "q2", "--yes").expect_ok()
    cli.run("disk", "create", "big", "--size", "2G").expect_exit(6)
    cli.run("template", "create", "tbig", "--disk", "2G").expect_exit(6)
    cli.run("template", "create", "tok", "--disk", "512M").expect_ok()
    cli.run("disk", "create", "tiny", "--size", "1M").expect_exit(5) \
        .expect_stderr_contains("too small")


@suite.test
def a_disk_larger_than_the_free_space_is_refused(t):
    server = t.new_server("huge", args=["--max-disk-bytes", "1000T"])
    cli = t.cli("alice", server=server)
    result = cli.run("disk", "create", "huge", "--size", "500T").expect_exit(6)
    result.expect_stderr_contains("free")
    expect_equal(cli.run("disk", "list", "--json").expect_ok().json(), [], "disks")


@suite.test
def errors_never_name_host_paths(t):
    # A state dir the namespace runtime refuses (':' in its path): the boot
    # error used to quote the path.
    server = t.new_server("colon", start=False)
    server.state_dir = server.dir / "st:ate"
    server.start()
    cli = t.cli("alice", server=server)
    t.require_isolation(server)
    result = cli.run("box", "create", t.box_name("colon"), timeout=60).expect_failure()
    expect(str(server.state_dir) not in result.stderr and "st:ate" not in result.stderr,
           f"a host path in the error: {result.stderr!r}")
    # Every file error of the main server, too.
    vm = box(t)
    state = str(t.server.state_dir)
    for args in (("box", "cp", f"{vm}:/etc/shadow", "-"), ("box", "cp", f"{vm}:/no/such", "-"),
                 ("box", "cp", f"{vm}:/dev/null", "-"), ("box", "cp", f"{vm}:../../x", "-"),
                 ("disk", "create", "huge", "--size", "900T")):
        result = t.alice.run(*args).expect_failure()
        expect(state not in result.stderr, f"{args}: a host path in {result.stderr!r}")


suite.main()
