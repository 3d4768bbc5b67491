"""Security: the server's own file operations (`box cp`) give a tenant no
more than the box user has (issue 12, "host root from a box" and "host files
through cp"): no host file comes out, none is written, not through symlinks
or hardlinks made in the box, not over a setuid program or into the shared
root's /etc, and /dev/null stays a device."""

import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import (Failure, SecuritySuite, expect, expect_absent, expect_equal,  # noqa: E402
                     fail, file_identity, q, token)

suite = SecuritySuite(__file__)
_world = {}


def world(t):
    """Host secrets and victims planted BEFORE the box exists, then the box."""
    return t.fixture(_world, lambda w: build_world(t, w))


def build_world(t, w):
    t.use_server_with_state_in_var_lib()
    t.require_isolation()
    tag = token()
    w["dir"] = f"/var/tmp/{tag}"
    w["etc_secret"] = (f"/etc/{tag}.secret", token("etc-secret"))
    w["root_secret"] = (f"/root/{tag}/secret", token("root-secret"))
    w["shared_secret"] = (f"{w['dir']}/secret", token("shared-secret"))
    w["victim"] = (f"{w['dir']}/victim", token("victim"))
    w["uid1000"] = (f"{w['dir']}/mine", token("uid1000-secret"))
    t.host_file(*w["etc_secret"], mode=0o600)
    t.host_file(*w["root_secret"], mode=0o600)
    t.host_file(*w["shared_secret"], mode=0o600, dir_mode=0o1777)
    t.host_file(*w["victim"], mode=0o644)
    t.host_file(*w["uid1000"], mode=0o600, uid=1000, gid=1000)
    w["vm"] = t.alice.create_box(t.box_name("files"))


def download(t, vm, path):
    return t.alice.run("box", "cp", f"{vm}:{path}", "-", timeout=30)


def upload(t, vm, content, path):
    return t.alice.run("box", "cp", "-", f"{vm}:{path}", input=content, timeout=30)


def jwt_secret(t):
    return (t.server.state_dir / "jwt_secret").read_text().strip()


@suite.test
def cp_download_of_etc_shadow_is_not_the_hosts(t):
    w = world(t)
    host = open("/etc/shadow").read()
    result = download(t, w["vm"], "/etc/shadow")
    if result.stdout == host:
        fail(result.describe("ATTACK WORKED: `box cp web:/etc/shadow -` printed the host's "
                             "/etc/shadow"))
    hashed = [line for line in host.splitlines()
              if len(line.split(":")) > 2 and line.split(":")[1] not in ("", "*", "!", "!*", "x")]
    for line in hashed:
        expect(line not in result.stdout,
               result.describe(f"ATTACK WORKED: a password hash of the host's /etc/shadow "
                               f"({line.split(':')[0]}) came out through cp"))


@suite.test
def cp_download_of_host_secrets_gives_nothing(t):
    w = world(t)
    targets = [w["etc_secret"], w["root_secret"], w["shared_secret"], w["uid1000"],
               (str(t.server.state_dir / "jwt_secret"), jwt_secret(t))]
    for name in sorted(os.listdir("/etc/ssh")):
        if name.startswith("ssh_host_") and name.endswith("_key"):
            body = [line for line in open(f"/etc/ssh/{name}").read().splitlines()
                    if line and not line.startswith("-----")]
            targets.append((f"/etc/ssh/{name}", body[0]))
    for path, secret in targets:
        result = download(t, w["vm"], path)
        expect_absent([("box cp", result)], secret, f"the host's {path} through `box cp`")


@suite.test
def cp_through_symlinks_reads_no_host_file(t):
    w = world(t)
    vm = w["vm"]
    targets = [w["etc_secret"], w["root_secret"], w["shared_secret"], w["uid1000"],
               (str(t.server.state_dir / "jwt_secret"), jwt_secret(t))]
    links = ""
    for i, (path, _secret) in enumerate(targets):
        links += f"ln -sfn {q(path)} /home/boxd/sec-link-{i}; "
        links += f"ln -sfn /proc/1/root{q(path)} /home/boxd/sec-proc-link-{i}; "
    t.alice.sh(vm, links)
    for i, (path, secret) in enumerate(targets):
        for link in (f"sec-link-{i}", f"sec-proc-link-{i}"):
            result = download(t, vm, link)
            expect_absent([("box cp", result)], secret,
                          f"the host's {path} through a symlink {link} made in the box")


@suite.test
def cp_through_symlinks_writes_no_host_file(t):
    w = world(t)
    vm = w["vm"]
    victim_path, _ = w["victim"]
    before = file_identity(victim_path)
    state_file = t.server.state_dir / "state.json"  # the server rewrites it: check the payload
    watched = [victim_path, "/etc/passwd", str(t.server.state_dir / "jwt_secret")]
    identities = {p: file_identity(p) for p in watched}
    new_host = f"/etc/{token()}"
    host_dir = t.dir / "host-only-dir"
    host_dir.mkdir()
    payload = token("payload")
    links = {"sec-w-victim": victim_path, "sec-w-passwd": "/etc/passwd", "sec-w-new": new_host,
             "sec-w-dir": str(host_dir), "sec-w-proc": f"/proc/1/root{victim_path}"}
    if state_file.exists():
        links["sec-w-state"] = str(state_file)
        links["sec-w-jwt"] = str(t.server.state_dir / "jwt_secret")
    t.alice.sh(vm, "; ".join(f"ln -sfn {q(target)} /home/boxd/{name}"
                             for name, target in links.items()))
    for name in links:
        upload(t, vm, payload, name)
    upload(t, vm, payload, "sec-w-dir/dropped")
    for path, identity in identities.items():
        expect_equal(file_identity(path), identity,
                     f"ATTACK WORKED? host file {path} (type, mode, owner, hash) after uploads "
                     "through symlinks made in the box")
    expect(not os.path.exists(new_host), f"ATTACK WORKED: {new_host} created on the host")
    expect(payload not in state_file.read_text(), f"ATTACK WORKED: the server's {state_file} "
                                                  "was written through a symlink")
    expect(not any(host_dir.iterdir()), f"ATTACK WORKED: a file was dropped into the host's "
                                        f"{host_dir} through a symlink")
    expect_equal(file_identity(victim_path), before, "the victim file")


def setuid_root_programs():
    found = []
    for path in ("/usr/bin/passwd", "/usr/bin/su", "/usr/bin/chsh", "/usr/bin/newgrp",
                 "/usr/bin/mount", "/usr/bin/gpasswd"):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_uid == 0 and st.st_mode & stat.S_ISUID:
            found.append(path)
    return found


@suite.test
def upload_over_a_setuid_program_gives_no_root(t):
    # The payload is the host's own `id` binary: if the upload keeps the
    # target's setuid-root bit, running it prints euid 0.
    w = world(t)
    vm = w["vm"]
    programs = setuid_root_programs()
    expect(programs, "the host has no setuid-root program to attack")
    identities = {p: file_identity(p) for p in programs}
    payload = open(shutil.which("id"), "rb").read()
    for path in programs:
        upload(t, vm, payload, path)
        result = t.alice.exec(vm, f"{path} -u 2>&1; stat -c '%u %a' {path}")
        lines = result.stdout.splitlines()
        expect(not (lines and lines[0] == "0"),
               result.describe(f"ATTACK WORKED: an upload over {path} left a setuid-root "
                               "program that runs the uploader's code as root"))
    for path, identity in identities.items():
        expect_equal(file_identity(path), identity, f"ATTACK WORKED? the host's {path}")


@suite.test
def upload_into_the_shared_etc_does_not_touch_the_host(t):
    w = world(t)
    vm = w["vm"]
    watched = ["/etc/passwd", "/etc/shadow", "/etc/hostname"]
    if os.path.exists("/etc/sudoers"):
        watched.append("/etc/sudoers")
    identities = {p: file_identity(p) for p in watched}
    new_host = f"/etc/{token()}"
    payload = token("payload")
    for path in watched + [new_host]:
        upload(t, vm, payload, path)
    for path, identity in identities.items():
        expect_equal(file_identity(path), identity, f"ATTACK WORKED? the host's {path}")
    expect(not os.path.exists(new_host), f"ATTACK WORKED: {new_host} created on the host")


@suite.test
def upload_to_dev_null_keeps_the_device(t):
    w = world(t)
    vm = w["vm"]
    host_before = file_identity("/dev/null")
    upload(t, vm, token("payload"), "/dev/null")
    kind = t.alice.exec(vm, "stat -c %F /dev/null").stdout.strip()
    expect_equal(kind, "character special file", "ATTACK WORKED? /dev/null in the box after an "
                                                  "upload to it")
    expect_equal(file_identity("/dev/null"), host_before, "the host's /dev/null")
    after = t.alice.exec(vm, "echo gone > /dev/null && cat /dev/null | wc -c")
    expect_equal(after.stdout.strip(), "0", "bytes read back from the box's /dev/null")


@suite.test
def hardlinks_to_host_files_leak_and_change_nothing(t):
    w = world(t)
    vm = w["vm"]
    d = w["dir"]
    secret_path, secret = w["shared_secret"]
    victim_path, _ = w["victim"]
    before = file_identity(victim_path)
    t.alice.exec(vm, f"ln {secret_path} {d}/h-secret; ln {victim_path} {d}/h-victim; "
                     f"ln {secret_path} /home/boxd/h-secret; ln {victim_path} /home/boxd/h-victim; "
                     f"ln /etc/shadow {d}/h-shadow; true")
    for link in (f"{d}/h-secret", "/home/boxd/h-secret"):
        result = download(t, vm, link)
        expect_absent([("box cp", result)], secret, f"the host's {secret_path} through a "
                                                    f"hardlink {link} made in the box")
    attempt = t.alice.exec(vm, f"cat {d}/h-secret /home/boxd/h-secret 2>&1")
    expect_absent([("box user", attempt)], secret, "the host's secret through a hardlink")
    payload = token("payload")
    upload(t, vm, payload, f"{d}/h-victim")
    upload(t, vm, payload, "/home/boxd/h-victim")
    t.alice.exec(vm, f"echo {payload} >> {d}/h-victim; echo {payload} >> /home/boxd/h-victim")
    expect_equal(file_identity(victim_path), before,
                 f"ATTACK WORKED? the host's {victim_path} after writes through hardlinks")


def box_and_disk(t, name):
    """A new box of alice's and a new 16 MiB disk of hers (destroyed at
    the end), not attached yet."""
    world(t)
    vm = t.alice.create_box(t.box_name(name))
    disk = t.box_name(f"{name}-disk")
    t.alice.run("disk", "create", disk, "--size", "16M").expect_ok()
    t.at_end(lambda: t.alice.run("disk", "destroy", disk, "--yes", timeout=60))
    return vm, disk


@suite.test
def a_detached_disk_leaves_the_box_even_after_the_box_moved_it(t):
    # The box renames the directory above the disk's mount point (the mount
    # moves along); detach unmounted by the old path, found nothing there and
    # said "Detached": the box kept the disk, read-write, and after `disk
    # destroy` kept writing into a deleted image (outside every quota, a
    # loop device leaked); with disks as plain directories, destroy then
    # walked a tree the box could still change (found by review).
    vm, disk = box_and_disk(t, "moved")
    t.alice.run("disk", "attach", disk, vm, "--mount", "/home/boxd/p/d").expect_ok()
    info = t.alice.exec(vm, "grep ' /home/boxd/p/d ' /proc/self/mountinfo").stdout
    expect("nosuid" in info and "nodev" in info,
           f"the disk's mount in the box is nosuid,nodev: {info!r}")
    t.alice.exec(vm, "mv /home/boxd/p /home/boxd/q && echo before > /home/boxd/q/d/f").expect_ok()
    t.alice.run("disk", "detach", disk, vm).expect_ok()
    still = t.alice.exec(vm, "grep -c ' /home/boxd/q/d ' /proc/self/mountinfo; "
                             "echo after > /home/boxd/q/d/g 2>/dev/null; true")
    expect(still.stdout.split()[0:1] == ["0"],
           f"ATTACK WORKED: after detach the disk is still mounted in the box at its new "
           f"place: {still.stdout!r}")
    # What the box wrote there after the detach is not on the disk.
    t.alice.run("disk", "attach", disk, vm, "--mount", "/home/boxd/check").expect_ok()
    seen = t.alice.exec(vm, "ls /home/boxd/check").stdout.split()
    expect("f" in seen and "g" not in seen,
           f"ATTACK WORKED? the disk after detach has {seen!r} (f before, g after the detach)")
    t.alice.run("disk", "detach", disk, vm).expect_ok()
    t.alice.run("disk", "destroy", disk, "--yes").expect_ok()
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    leaked = [line for line in loops.splitlines()
              if str(t.server.state_dir) in line and "(deleted)" in line]
    expect(not leaked, f"ATTACK WORKED: loop devices of destroyed disks still in use: {leaked!r}")


@suite.test
def detach_cannot_be_aimed_at_the_masks_over_proc(t):
    # Detach unmounted by path, following symlinks in the path's parents:
    # with the disk at ~/x/<name> and ~/x replaced by a symlink to /proc,
    # it unmounted the mask over /proc/<name> instead (a review found it).
    vm, disk = box_and_disk(t, "masks")
    masked = [line.split()[4] for line in
              t.alice.exec(vm, "cat /proc/self/mountinfo").stdout.splitlines()
              if len(line.split()) > 4 and line.split()[4].startswith("/proc/")
              and line.split()[4].count("/") == 2]
    if not masked:
        fail(f"box {vm} has no mount over a /proc file to aim at (its mountinfo lists none)")
    target = masked[0]
    name = target.rsplit("/", 1)[1]
    t.alice.run("disk", "attach", disk, vm, "--mount", f"/home/boxd/x/{name}").expect_ok()
    t.alice.exec(vm, "mv /home/boxd/x /home/boxd/x2 && ln -s /proc /home/boxd/x").expect_ok()
    t.alice.run("disk", "detach", disk, vm).expect_ok()
    after = t.alice.exec(vm, "cat /proc/self/mountinfo").stdout
    expect(f" {target} " in after,
           f"ATTACK WORKED: detach unmounted the mask over {target} (a symlink in the path)")
    expect(f" /home/boxd/x2/{name} " not in after, "the disk left the box (at its moved place)")


@suite.test
def a_read_only_disk_is_read_only(t):
    vm, disk = box_and_disk(t, "ro")
    t.alice.run("disk", "attach", disk, vm, "--mount", "/home/boxd/ro").expect_ok()
    t.alice.exec(vm, "echo seed > /home/boxd/ro/seed").expect_ok()
    t.alice.run("disk", "detach", disk, vm).expect_ok()
    t.alice.run("disk", "attach", disk, vm, "--mount", "/home/boxd/ro", "--read-only").expect_ok()
    attempt = t.alice.exec(vm, "cat /home/boxd/ro/seed; echo x > /home/boxd/ro/new && echo WROTE; "
                               "sudo -n sh -c 'echo x > /home/boxd/ro/new2' && echo ROOT-WROTE; "
                               "sudo -n mount -o remount,rw /home/boxd/ro && echo REMOUNTED")
    expect("seed" in attempt.stdout, f"the read-only disk shows its files: {attempt.stdout!r}")
    for word in ("WROTE", "ROOT-WROTE", "REMOUNTED"):
        expect(word not in attempt.stdout.split(),
               f"ATTACK WORKED: a read-only disk: {word} ({attempt.stdout!r})")
    t.alice.run("disk", "detach", disk, vm).expect_ok()


def server_memory_kib(t, field):
    for line in open(f"/proc/{t.server.proc.pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def server_threads_waiting_on_a_fifo(t):
    waiting = []
    for task in os.listdir(f"/proc/{t.server.proc.pid}/task"):
        try:
            with open(f"/proc/{t.server.proc.pid}/task/{task}/wchan") as f:
                wchan = f.read()
        except OSError:
            continue
        if "fifo" in wchan or "wait_for_partner" in wchan:
            waiting.append((task, wchan))
    return waiting


@suite.test
def exec_reads_no_host_file_through_the_boxs_passwd(t):
    # Every exec looks up the box user's shell in the box's /etc/passwd. The
    # server read it as host root by its path in the box's upper layer, so
    # box root could point it at a host file (its last field came back as
    # $SHELL), a FIFO (the exec hung for good, and the server's shutdown
    # with it) or /dev/zero (the server grew by GiBs). Found by review.
    w = world(t)
    vm = t.alice.create_box(t.box_name("passwd"))
    attacker = t.attacker(t.alice, vm)
    if not attacker.has_root:
        fail(f"no root in box {vm}: this attack needs box root ({attacker.describe()})")
    secret = token("shell-secret")
    secret_path = f"{w['dir']}/passwd-like"
    t.host_file(secret_path, f"boxd:x:1000:1000::/home/boxd:{secret}\n", mode=0o600)
    # Once /etc/passwd is a FIFO, sudo itself hangs on it; so a root script
    # started now makes each change when the test (as the box user) asks.
    steps = [("link", f"ln -sf {secret_path} /etc/passwd"),
             ("fifo", "rm -f /etc/passwd && mkfifo /etc/passwd"),
             ("zero", "rm -f /etc/passwd && ln -s /dev/zero /etc/passwd"),
             ("restore", "rm -f /etc/passwd && cp /tmp/passwd.saved /etc/passwd")]
    script = "cp /etc/passwd /tmp/passwd.saved; " + "; ".join(
        f"while [ ! -e /tmp/ask-{name} ]; do sleep 0.05; done; {change}; touch /tmp/did-{name}"
        for name, change in steps)
    attacker.root(f"(setsid sh -c {q(script)} </dev/null >/dev/null 2>&1 &)")

    def change(name):
        t.alice.exec(vm, f"touch /tmp/ask-{name}", timeout=30)
        done = t.alice.exec(vm, f"for i in $(seq 100); do [ -e /tmp/did-{name} ] && exit 0; "
                                f"sleep 0.05; done; exit 1", timeout=30)
        expect_equal(done.code, 0, f"box root made the change '{name}'")

    problems = []
    change("link")
    shell = t.alice.exec(vm, "echo SHELL=$SHELL", timeout=30)
    if secret in shell.stdout + shell.stderr:
        problems.append(f"the host's {secret_path} came back as $SHELL ({shell.stdout.strip()!r})")
    change("fifo")
    try:
        fifo = t.alice.exec(vm, "echo through-the-fifo", timeout=20)
        if fifo.code != 0 or "through-the-fifo" not in fifo.stdout:
            problems.append(f"an exec with a FIFO at /etc/passwd did not run (exit {fifo.code})")
    except Failure as e:
        problems.append(f"an exec with a FIFO at /etc/passwd hung ({str(e).splitlines()[0]})")
    stuck = server_threads_waiting_on_a_fifo(t)
    if stuck:
        problems.append(f"server threads waiting on the box's FIFO: {stuck!r}")
    if not problems:
        before = server_memory_kib(t, "VmHWM")
        change("zero")
        zero = t.alice.exec(vm, "echo through-dev-zero", timeout=30)
        grown = server_memory_kib(t, "VmHWM") - before
        if zero.code != 0 or grown > 64 * 1024:
            problems.append(f"an exec with /etc/passwd -> /dev/zero: exit {zero.code}, the "
                            f"server's peak memory grew by {grown // 1024} MiB")
        change("restore")
    expect(not problems, "ATTACK WORKED: " + "; ".join(problems))


suite.main()
