"""Security: the server's own file operations (`box cp`) give a tenant no
more than the box user has (issue 12, "host root from a box" and "host files
through cp"): no host file comes out, none is written, not through symlinks
or hardlinks made in the box, not over a setuid program or into the shared
root's /etc, and /dev/null stays a device."""

import os
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import (SecuritySuite, expect, expect_absent, expect_equal, fail,  # noqa: E402
                     file_identity, q, token)

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


suite.main()
