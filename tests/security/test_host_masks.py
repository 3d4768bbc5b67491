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


@suite.test
def what_a_mount_hid_is_masked_once_it_is_unmounted(t):
    w = world(t)
    # Made outside what boxes see, covered by a tmpfs, then moved in: the
    # server's list learns the tree only as it is with the mount in place.
    outside = f"/root/{w['tag']}-mounted"
    secret = host_secret(t, f"{outside}/sub/key")
    t.at_end(lambda: subprocess.run(["rm", "-rf", "--one-file-system", outside], check=False))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "boxd-sec", f"{outside}/sub"],
                   check=True)
    tree = f"{w['dir']}/mounted"
    os.rename(outside, tree)
    mounted = [True]

    def unmount():
        if mounted[0]:
            subprocess.run(["umount", "-l", f"{tree}/sub"], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", tree], check=False)

    t.at_end(unmount)
    new_box_reads(t, f"{tree}/sub/key", "mounted")  # the list, with the tmpfs in place
    subprocess.run(["umount", f"{tree}/sub"], check=True)
    mounted[0] = False
    expect_absent(new_box_reads(t, f"{tree}/sub/key", "unmounted"), secret,
                  f"{tree}/sub/key, under a mount when the server listed it")


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
