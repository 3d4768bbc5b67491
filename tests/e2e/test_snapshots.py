"""Snapshots (issue 4, "the rest of the SDK", point 1): `boxd snapshot
create|list|get|delete` and `boxd box create NAME --from-snapshot S`. A
snapshot is a real copy of the box's disk taken with the box frozen; a box
created from it boots with that data, and snapshots survive a restart."""

import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)


@suite.test
def restore_brings_back_the_snapshotted_data(t):
    vm = t.alice.create_box(t.box_name("snap"))
    t.alice.sh(vm, "echo original > ~/note && touch ~/gone")
    doc = t.alice.run("snapshot", "create", vm, "before", "--json", timeout=60).expect_ok().json()
    expect_equal((doc.get("name"), doc.get("version"), doc.get("status")), ("before", 1, "ready"),
                 "CreateSnapshotResponse")
    expect(doc.get("snapshot_id"), f"no snapshot_id in {doc!r}")
    expect_equal(t.alice.status(vm), "running", "the box runs again after the snapshot")

    t.alice.sh(vm, "echo changed > ~/note && rm -f ~/gone && touch ~/later")
    copy = t.box_name("from-snap")
    created = t.alice.run("box", "create", copy, "--from-snapshot", "before", "--json",
                          timeout=60).expect_ok().json()
    t.alice.created.append(copy)
    expect_equal((created.get("name"), created.get("status")), (copy, "running"), "created box")
    expect_equal(t.alice.sh(copy, "cat ~/note"), "original\n", "the snapshot's content")
    t.alice.exec(copy, "test", "-e", "/home/boxd/later").expect_exit(1)
    t.alice.exec(copy, "test", "-e", "/home/boxd/gone").expect_ok()
    expect_equal(t.alice.sh(copy, "hostname"), copy + "\n", "the new box has its own name")
    expect_equal(t.alice.sh(vm, "cat ~/note"), "changed\n", "the original box keeps its change")
    box = t.alice.get(copy)
    expect_equal(box.get("source"), "snapshot/before", "source")
    expect_equal(box["source_info"].get("kind"), "snapshot", "source_info.kind")

    info = t.alice.run("snapshot", "get", "before", "--json").expect_ok().json()
    expect_equal(info.get("use_count"), 1, "use_count after one box")
    expect_equal(info.get("source_vm"), vm, "source_vm")
    expect(info.get("size_bytes", 0) > 0, f"size_bytes: {info!r}")
    expect(isinstance(info.get("created_at"), int) and info["created_at"] > 0, "created_at")


def home_size_mib(cli, vm):
    """The size of the file system the box's /home is on, in MiB (df)."""
    out = cli.sh(vm, "df -Pk /home | tail -1").split()
    return int(out[1]) // 1024


@suite.test
def a_copy_keeps_its_disk_size_and_may_grow_it(t):
    # The box's disk is an image of --disk's size (as root: namespace
    # runtime); fork and --from-snapshot copy it, may ask for more, never less.
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("sized"), "--disk", "64M")
    expect_equal(t.alice.get(vm).get("disk_bytes"), 64 << 20, "disk_bytes of the box")
    size = home_size_mib(t.alice, vm)
    expect(40 <= size <= 64, f"/home of a --disk 64M box is {size} MiB")
    t.alice.sh(vm, "echo kept > ~/note")
    t.alice.run("snapshot", "create", vm, "sized", timeout=60).expect_ok()
    bigger = t.box_name("bigger")
    t.alice.run("box", "create", bigger, "--from-snapshot", "sized", "--disk", "128M",
                timeout=60).expect_ok()
    t.alice.created.append(bigger)
    expect_equal(t.alice.sh(bigger, "cat ~/note").strip(), "kept", "data of the grown copy")
    grown = home_size_mib(t.alice, bigger)
    expect(100 <= grown <= 128, f"/home of the copy grown to 128M is {grown} MiB")
    t.alice.run("box", "create", t.box_name("smaller"), "--from-snapshot", "sized", "--disk",
                "32M", timeout=60).expect_exit(5).expect_error_line(
        "disk size 32MiB is smaller than the source's 64MiB: a copied disk can grow, not shrink")
    fork = t.box_name("sized-fork")
    t.alice.run("box", "fork", vm, fork, timeout=60).expect_ok()
    t.alice.created.append(fork)
    expect_equal(home_size_mib(t.alice, fork), size, "/home size of the fork")
    # The copy's identity files are written at its first boot.
    expect_equal(t.alice.sh(fork, "cat /etc/hostname").strip(), fork, "/etc/hostname of the fork")
    hosts = t.alice.sh(bigger, "cat /etc/hosts")
    expect(f"\t{bigger}\n" in hosts and vm not in hosts, f"/etc/hosts of the restored box: {hosts!r}")
    expect_equal(t.alice.get(fork).get("disk_bytes"), 64 << 20, "disk_bytes of the fork")


@suite.test
def a_fork_of_a_disk_from_before_images_gets_an_image(t):
    # A server from before disk images kept box disks as plain directories,
    # and an upgraded server keeps them so; a fork or a box made from their
    # snapshot gets an image of its size (or a fork would keep a disk
    # without a limit for ever).
    t.require_isolation()
    server = t.new_server("legacy", start=False)
    server.env = {"BOXD_LOCAL_BOX_DISK_IMAGES": "0"}
    server.start()
    cli = t.cli("alice", server=server)
    old = cli.create_box(t.box_name("old"), "--disk", "64M")
    cli.sh(old, "echo kept > ~/note")
    expect(home_size_mib(cli, old) > 1024, "the old box's disk is the host's file system")
    cli.run("snapshot", "create", old, "old-snap", timeout=60).expect_ok()
    server.stop()
    server.env = {}
    server.start()
    expect(home_size_mib(cli, old) > 1024, "an old box keeps its directory")
    fork = t.box_name("old-fork")
    cli.run("box", "fork", old, fork, timeout=60).expect_ok()
    cli.created.append(fork)
    restored = t.box_name("old-restored")
    cli.run("box", "create", restored, "--from-snapshot", "old-snap", timeout=60).expect_ok()
    cli.created.append(restored)
    for vm in (fork, restored):
        size = home_size_mib(cli, vm)
        expect(40 <= size <= 64, f"/home of {vm} is {size} MiB, not its 64M image")
        expect_equal(cli.sh(vm, "cat ~/note").strip(), "kept", f"data of {vm}")
        expect_equal(cli.sh(vm, "cat /etc/hostname").strip(), vm, f"/etc/hostname of {vm}")


@suite.test
def a_fork_cut_short_by_a_crash_fails_and_its_source_runs_on(t):
    # kill -9 of the server while a fork copies the disk image. After the
    # restart the fork must be failed, not a box booted on a fresh empty
    # disk in place of the copy; the source, frozen for the copy, must run
    # again (it was adopted frozen, so every exec in it hung).
    t.require_isolation()
    server = t.new_server("forkcrash")
    cli = t.cli("alice", server=server)
    src = cli.create_box(t.box_name("big"), "--disk", "2G")
    cli.sh(src, "head -c 1500M /dev/urandom > ~/big && echo kept > ~/note", timeout=120)
    fork = t.box_name("big-fork")
    proc = subprocess.Popen([t.bin, "box", "fork", src, fork], env=cli.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pattern = str(server.state_dir / "boxes" / "*" / "disk.img.partial")
    deadline = time.monotonic() + 60
    while not glob.glob(pattern) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    expect(glob.glob(pattern), "the fork's copy was never seen in progress")
    server.kill9()
    proc.wait(30)
    server.start()
    cli.created.append(fork)
    expect_equal(cli.status(fork), "failed", "a fork whose copy did not finish")
    cli.run("box", "start", fork, timeout=60).expect_failure()
    expect_equal(cli.status(src), "running", "the source")
    expect_equal(cli.run("box", "exec", src, "--", "cat", "/home/boxd/note",
                         timeout=20).expect_ok().stdout, "kept\n", "the source's data")
    # The source can be forked again, and that copy is whole.
    again = t.box_name("big-fork2")
    cli.run("box", "fork", src, again, timeout=120).expect_ok()
    cli.created.append(again)
    expect_equal(cli.sh(again, "cat ~/note"), "kept\n", "a later fork's data")


@suite.test
def same_name_bumps_the_version_and_replaces_the_data(t):
    vm = t.alice.create_box(t.box_name("ver"))
    t.alice.sh(vm, "echo one > ~/v")
    first = t.alice.run("snapshot", "create", vm, "--json", timeout=60).expect_ok().json()
    expect_equal((first.get("name"), first.get("version")), (vm, 1), "default name = the box's")
    t.alice.sh(vm, "echo two > ~/v")
    second = t.alice.run("snapshot", "create", vm, vm, "--json", timeout=60).expect_ok().json()
    expect_equal(second.get("version"), 2, "version bumped")
    expect_equal(second.get("snapshot_id"), first.get("snapshot_id"), "same id")
    copy = t.box_name("ver-copy")
    t.alice.run("box", "create", copy, "--from-snapshot", second["snapshot_id"],
                timeout=60).expect_ok()
    t.alice.created.append(copy)
    expect_equal(t.alice.sh(copy, "cat ~/v"), "two\n", "the newest version's data")


@suite.test
def list_get_delete_and_not_found(t):
    vm = t.alice.create_box(t.box_name("lst"))
    other = t.alice.create_box(t.box_name("lst2"))
    t.alice.run("snapshot", "create", vm, "s-one", timeout=60).expect_ok().expect_stdout("s-one\n")
    t.alice.run("snapshot", "create", other, "s-two", timeout=60).expect_ok()
    names = [s["name"] for s in t.alice.run("snapshot", "list", "--json").expect_ok().json()]
    expect({"s-one", "s-two"} <= set(names), f"listed snapshots: {names!r}")
    t.alice.run("snapshot", "list", vm, "-q").expect_ok().expect_stdout("s-one\n")
    rows = t.alice.run("snapshot", "list").expect_ok().lines()
    expect(any(r.split("\t")[0] == "s-two" for r in rows), f"TSV rows: {rows!r}")
    expect_equal(t.bob.run("snapshot", "list", "--json").expect_ok().json(), [],
                 "another user's snapshots")
    t.bob.run("snapshot", "get", "s-one").expect_exit(4).expect_error_line(
        "snapshot 's-one' not found")
    t.bob.run("box", "create", t.box_name("x"), "--from-snapshot", "s-one").expect_exit(4)

    t.alice.run("snapshot", "delete", "s-one").expect_ok()
    t.alice.run("snapshot", "get", "s-one").expect_exit(4).expect_error_line(
        "snapshot 's-one' not found")
    t.alice.run("snapshot", "delete", "s-one").expect_exit(4)
    t.alice.run("box", "create", t.box_name("x"), "--from-snapshot", "s-one").expect_exit(4) \
        .expect_error_line("snapshot 's-one' not found")
    t.alice.run("snapshot", "create", "no-such-box").expect_exit(4).expect_error_line(
        "VM 'no-such-box' not found")
    t.alice.run("snapshot", "create", vm, "Bad_Name").expect_exit(2)
    t.alice.run("box", "create", t.box_name("x"), "--from-snapshot", "s-two",
                "--template", "t").expect_exit(2)
    ids = sorted(s["snapshot_id"] for s in t.alice.run("snapshot", "list", "--json").expect_ok().json())
    dirs = sorted(p.name for p in (t.server.state_dir / "snapshots").iterdir())
    expect_equal(dirs, ids, "one directory per snapshot, none left by the deleted one")


@suite.test
def stopped_box_and_restart(t):
    vm = t.alice.create_box(t.box_name("stp"))
    t.alice.sh(vm, "echo kept > ~/k")
    t.alice.run("box", "stop", vm).expect_ok()
    t.alice.run("snapshot", "create", vm, "cold", timeout=60).expect_ok()
    expect_equal(t.alice.status(vm), "stopped", "a stopped box stays stopped")
    t.server.restart()
    info = t.alice.run("snapshot", "get", "cold", "--json").expect_ok().json()
    expect_equal(info.get("version"), 1, "snapshot after restart")
    copy = t.box_name("cold-copy")
    t.alice.run("box", "create", copy, "--from-snapshot", "cold", "--memory", "4G",
                timeout=60).expect_ok()
    t.alice.created.append(copy)
    expect_equal(t.alice.sh(copy, "cat ~/k"), "kept\n", "data after a restart")
    expect_equal(t.alice.get(copy).get("memory_bytes"), 4 << 30, "--memory overrides")


suite.main()
