"""Security: what the host keeps private stays out of boxes booted after it
became private, however it became so (issue 15's boot work: the server keeps
the mask list current with fanotify instead of walking the host at every
boot, lib/local/mask_index.hpp).

Each test changes the host the way a host user or admin would, after the
server has indexed it (a box has booted), then boots a new box and reads the
file there as the box user (uid 1000 inside, the owner of host uid 1000's
files through the idmapped lower layers) and as root in the box. It fails
when the secret shows: the list missed the change."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import SecuritySuite, expect, expect_absent, expect_equal, token  # noqa: E402

suite = SecuritySuite(__file__)
_world = {}


def world(t):
    return t.fixture(_world, lambda w: build_world(t, w))


def build_world(t, w):
    t.use_server_with_state_in_var_lib()
    t.require_isolation()
    w["tag"] = token()
    w["dir"] = f"/var/tmp/{w['tag']}"
    os.mkdir(w["dir"], 0o755)
    os.chmod(w["dir"], 0o755)
    t.at_end(lambda: subprocess.run(["rm", "-rf", "--one-file-system", w["dir"]], check=False))
    w["first"] = t.alice.create_box(t.box_name("first"))  # the server's list exists now


def new_box_reads(t, path, prefix):
    """A box booted now: every way it reads `path` ([(who, Result)])."""
    vm = t.alice.create_box(t.box_name(prefix))
    attacker = t.attacker(t.alice, vm)
    return attacker.every(f"cat {path} 2>&1; ls -la {os.path.dirname(path)} 2>&1")


def host_secret(t, path, uid=1000, mode=0o600):
    secret = token("secret")
    t.host_file(path, secret + "\n", mode=mode, uid=uid, gid=uid)
    return secret


@suite.test
def a_private_file_made_after_the_server_started_is_masked(t):
    w = world(t)
    mine = f"{w['dir']}/late/mine"
    secret = host_secret(t, mine)
    etc = f"/etc/{w['tag']}.late"
    root_secret = host_secret(t, etc, uid=0)
    results = new_box_reads(t, mine, "late")
    expect_absent(results, secret, f"host uid 1000's 0600 {mine}, made after the server started")
    expect_absent(new_box_reads(t, etc, "late-etc"), root_secret,
                  f"host root's 0600 {etc}, made after the server started")


@suite.test
def a_file_made_private_right_before_a_boot_is_masked(t):
    w = world(t)
    path = f"{w['dir']}/was-public"
    secret = host_secret(t, path, mode=0o644)
    seen = new_box_reads(t, path, "before")
    expect(any(secret in r.stdout for _, r in seen),
           "a world-readable host file is readable in a box (the test's premise)")
    os.chmod(path, 0o600)  # and the very next boot
    expect_absent(new_box_reads(t, path, "after"), secret,
                  f"{path}, made 0600 right before the box booted")


@suite.test
def a_private_tree_moved_in_from_elsewhere_is_masked(t):
    w = world(t)
    outside = f"/root/{w['tag']}-tree"  # not a directory boxes see, same file system
    os.makedirs(f"{outside}/sub", mode=0o755)
    t.at_end(lambda: subprocess.run(["rm", "-rf", outside], check=False))
    secret = host_secret(t, f"{outside}/sub/key")
    new_box_reads(t, f"{w['dir']}/tree/sub/key", "pre-move")
    os.rename(outside, f"{w['dir']}/tree")
    path = f"{w['dir']}/tree/sub/key"
    expect_absent(new_box_reads(t, path, "moved"), secret, f"{path}, moved in from {outside}")


@suite.test
def a_private_file_under_usr_is_masked(t):
    w = world(t)
    path = f"/usr/local/share/{w['tag']}/key"
    secret = host_secret(t, path)
    expect_absent(new_box_reads(t, path, "usr"), secret, f"host uid 1000's 0600 {path}")


def mount_tmpfs(t, where):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "boxd-sec", where], check=True)
    t.at_end(lambda: subprocess.run(["umount", "-l", where], check=False))


@suite.test
def a_file_a_mount_covers_is_masked(t):
    """A box's lower layer is a clone of the host directory's mount alone:
    where the host has a file system mounted, the box sees the directory
    underneath, private files included (the walk at boot skipped it)."""
    w = world(t)
    under = f"{w['dir']}/covered"
    secret = host_secret(t, f"{under}/sub/key")  # sub: only the lower layer shows it
    mount_tmpfs(t, under)
    expect_absent(new_box_reads(t, f"{under}/sub/key", "covered"), secret,
                  f"{under}/sub/key, under a tmpfs mounted on the host")


@suite.test
def a_file_system_mounted_on_a_directory_boxes_see_is_listed(t):
    """fanotify says nothing of mounts: a file system mounted on a directory
    the server has listed (a child of /var/lib here) must be walked before
    the next boot. The server compares its mount table at every boot, and
    the init walks a directory whose device and inode are not the list's:
    this passes with either (the unit test checks the first alone)."""
    w = world(t)
    top = f"/var/lib/{w['tag']}-mnt"
    os.mkdir(top, 0o755)
    t.at_end(lambda: subprocess.run(["rmdir", top], check=False))
    new_box_reads(t, f"{top}/key", "before-mount")  # the list has it, empty
    mount_tmpfs(t, top)
    secret = host_secret(t, f"{top}/key")
    expect_absent(new_box_reads(t, f"{top}/key", "mounted"), secret,
                  f"{top}/key, on a tmpfs mounted there after the server listed {top}")


@suite.test
def a_private_directory_box_roots_overlay_shows_nothing(t):
    """The directories a box overlays one by one (each child of /var/lib
    here: the server's state is below it) and those it only walks through on
    the way to the state dir: when one is private on the host, what is in it
    stays out, even a world-readable file (others cannot reach it on the
    host)."""
    w = world(t)
    top = f"/var/lib/{w['tag']}-private"
    secret = host_secret(t, f"{top}/inside", uid=0, mode=0o644)
    os.chmod(top, 0o700)
    base = t.server.state_dir.parent  # 0700, holds the server's state dir
    beside = host_secret(t, f"{base}/beside", uid=0, mode=0o644)
    expect_absent(new_box_reads(t, f"{top}/inside", "private-top"), secret,
                  f"{top}/inside, in a 0700 directory of host root")
    expect_absent(new_box_reads(t, f"{base}/beside", "private-above"), beside,
                  f"{base}/beside, next to the server's state in a 0700 directory")


@suite.test
def a_private_file_deeper_than_path_max_is_masked_and_boxes_boot(t):
    """A host tree deeper than PATH_MAX (4096 bytes of path) with a private
    file at the bottom: a box still boots (the init could not create a mask
    that deep and failed the boot), and the file stays out."""
    w = world(t)
    part = "d" * 200
    top = f"{w['dir']}/deep"
    os.mkdir(top, 0o755)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(22):
        os.mkdir(part, 0o755, dir_fd=fd)
        child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    secret = token("deep-secret")
    key = os.open("key", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(key, (secret + "\n").encode())
    os.fchown(key, 1000, 1000)
    os.close(key)
    os.close(fd)
    vm = t.alice.create_box(t.box_name("deep"))
    script = f"cd {top} && for i in $(seq 22); do cd {part} || exit 9; done; cat key 2>&1"
    expect_absent(t.attacker(t.alice, vm).every(script), secret,
                  f"a 0600 file of host uid 1000 {22 * 201} bytes below {top}")


@suite.test
def a_file_made_private_through_a_hard_link_elsewhere_is_masked(t):
    w = world(t)
    path = f"{w['dir']}/shared"
    secret = host_secret(t, path, mode=0o644)
    link = f"/root/{w['tag']}-link"
    os.link(path, link)
    t.at_end(lambda: os.path.exists(link) and os.unlink(link))
    new_box_reads(t, path, "linked")
    os.chmod(link, 0o600)
    expect_equal(os.stat(path).st_mode & 0o777, 0o600, "the other link's mode")
    expect_absent(new_box_reads(t, path, "link-private"), secret,
                  f"{path}, made 0600 through its hard link {link}")


suite.main()
