"""`boxd disk`: directories bind-mounted into boxes; one box at a time,
read-only on request, outliving boxes (issue 4, point 5)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


def disk_doc(t, name):
    for d in t.alice.run("disk", "list", "--json").expect_ok().json():
        if d.get("name") == name:
            return d
    return None


@suite.test
def create_list_and_json(t):
    t.require_isolation()
    t.alice.run("disk", "create", "d-list", "--size", "2G").expect_ok().expect_stdout("d-list\n")
    doc = disk_doc(t, "d-list")
    expect(doc is not None, "the disk is listed")
    expect_equal(doc.get("size_bytes"), 2 << 30, "size_bytes is a number")
    expect_equal(doc.get("status"), "ready", "status")
    expect_equal(doc.get("attachments"), [], "attachments")
    expect(isinstance(doc.get("disk_id"), str) and doc["disk_id"], "disk_id")
    t.alice.run("disk", "create", "d-list", "--size", "1G").expect_exit(5) \
        .expect_error_line("disk name 'd-list' already exists")
    t.alice.run("disk", "create", "Bad_Name").expect_exit(5)
    t.alice.run("disk", "create", "d-x", "--size", "lots").expect_exit(2)
    rows = t.alice.run("disk", "list").expect_ok().lines()
    expect(any(r.split("\t")[0] == "d-list" for r in rows), f"TSV row for d-list in {rows!r}")
    # Another user does not see it.
    expect_equal(t.bob.run("disk", "list", "--json").expect_ok().json(), [], "bob's disks")
    t.alice.run("disk", "destroy", "d-list").expect_exit(2)  # no --yes, stdin not a terminal
    t.alice.run("disk", "destroy", "--yes", "d-list").expect_ok()
    expect(disk_doc(t, "d-list") is None, "destroyed disk gone from the list")
    t.alice.run("disk", "destroy", "--yes", "d-list").expect_exit(4) \
        .expect_error_line("disk 'd-list' not found")


@suite.test
def data_moves_between_boxes_and_outlives_them(t):
    t.require_isolation()
    a = t.alice.create_box(t.box_name("disk-a"))
    b = t.alice.create_box(t.box_name("disk-b"))
    t.alice.run("disk", "create", "shared", "--size", "1G").expect_ok()
    doc = t.alice.run("disk", "attach", "shared", a, "--mount", "/data", "--json").expect_ok().json()
    expect_equal(doc.get("status"), "attached", "status after attach")
    expect_equal(doc.get("attachments")[0].get("mount_path"), "/data", "mount path")
    expect_equal(doc.get("attachments")[0].get("mount_mode"), "rw", "mount mode")
    t.alice.sh(a, "echo from-a > /data/note && whoami > /data/who")
    expect_equal(t.alice.sh(a, "cat /data/who"), "boxd\n", "boxd can write the disk")
    # One box at a time; no destroy while attached.
    t.alice.run("disk", "attach", "shared", b, "--mount", "/data").expect_exit(5) \
        .expect_stderr_contains(f"already attached to VM '{a}'")
    t.alice.run("disk", "destroy", "--yes", "shared").expect_exit(5) \
        .expect_stderr_contains("detach it first")
    t.alice.run("disk", "detach", "shared", a).expect_ok()
    t.alice.exec(a, "test", "-e", "/data/note").expect_exit(1)
    t.alice.run("disk", "attach", "shared", b, "--mount", "/mnt/shared").expect_ok()
    expect_equal(t.alice.sh(b, "cat /mnt/shared/note"), "from-a\n", "data seen from the second box")
    # The attachment comes back after a reboot.
    t.alice.run("box", "reboot", b, timeout=60).expect_ok()
    expect_equal(t.alice.sh(b, "cat /mnt/shared/note"), "from-a\n", "disk mounted again at boot")
    # Disks outlive boxes: destroying the box detaches the disk.
    t.alice.run("box", "destroy", "--yes", b, timeout=60).expect_ok()
    t.alice.created.remove(b)
    doc = disk_doc(t, "shared")
    expect_equal(doc.get("status"), "ready", "status after its box was destroyed")
    t.alice.run("disk", "attach", "shared", a, "--mount", "/again").expect_ok()
    expect_equal(t.alice.sh(a, "cat /again/note"), "from-a\n", "data after the box was destroyed")
    t.alice.run("disk", "detach", "shared", a).expect_ok()
    t.alice.run("disk", "detach", "shared", a).expect_exit(5)


@suite.test
def read_only_mount_refuses_writes(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("disk-ro"))
    t.alice.run("disk", "create", "ro-disk").expect_ok()
    t.alice.run("disk", "attach", "ro-disk", vm, "--mount", "/rw").expect_ok()
    t.alice.sh(vm, "echo seeded > /rw/seed")
    t.alice.run("disk", "detach", "ro-disk", vm).expect_ok()
    doc = t.alice.run("disk", "attach", "ro-disk", vm, "--mount", "/ro", "--read-only", "--json") \
        .expect_ok().json()
    expect_equal(doc["attachments"][0]["mount_mode"], "ro", "mount mode")
    expect_equal(t.alice.sh(vm, "cat /ro/seed"), "seeded\n", "readable")
    result = t.alice.exec(vm, "sh", "-c", "echo x > /ro/new")
    expect(result.code != 0, "a write to a read-only disk succeeded")
    expect("Read-only file system" in result.stderr, f"EROFS in {result.stderr!r}")
    t.alice.run("disk", "detach", "ro-disk", vm).expect_ok()


@suite.test
def attach_to_a_stopped_box_mounts_at_boot(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("disk-stopped"))
    t.alice.run("disk", "create", "later").expect_ok()
    t.alice.run("box", "stop", vm, timeout=60).expect_ok()
    t.alice.run("disk", "attach", "later", vm, "--mount", "data").expect_ok()
    t.alice.run("box", "start", vm, timeout=60).expect_ok()
    t.alice.sh(vm, "echo hi > /home/boxd/data/f")
    expect_equal(t.alice.sh(vm, "mount | grep -c /home/boxd/data"), "1\n", "mounted once")


@suite.test
def errors(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("disk-err"))
    t.alice.run("disk", "attach", "nope", vm, "--mount", "/x").expect_exit(4) \
        .expect_error_line("disk 'nope' not found")
    t.alice.run("disk", "create", "e-disk").expect_ok()
    t.alice.run("disk", "attach", "e-disk", "no-vm", "--mount", "/x").expect_exit(4) \
        .expect_error_line("VM 'no-vm' not found")
    t.alice.run("disk", "attach", "e-disk", vm, "--mount", "/").expect_exit(5)
    t.alice.run("disk", "attach", "e-disk", vm, "--mount", "/a/../../b").expect_exit(5)
    t.bob.run("disk", "attach", "e-disk", vm, "--mount", "/x").expect_exit(4)


suite.main()
