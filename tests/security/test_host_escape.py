"""Security: nothing of the host is reachable from inside a box (issue 12,
"host root from a box", and the classic container escapes: setuid programs,
device nodes, mounts, /proc/1/root, /proc/sys, sysrq, signals and ptrace of
host processes, abstract unix sockets, the server's ports, host secrets).

Each test replays one attack as the box user and as root inside the box
(when the box has a way there) and fails when the attack's effect shows."""

import os
import re
import sys
import subprocess
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import (ALICE_KEY, BOB_KEY, AbstractListener, SecuritySuite, eventually,  # noqa: E402
                     expect, expect_absent,
                     expect_equal, fail, host_addresses, host_pids_with_argv, host_uids, port_of,
                     proc_status, q, root_device, token, user_ns)

suite = SecuritySuite(__file__)
_world = {}


def world(t):
    """Host secrets planted BEFORE the box exists, then alice's box and the
    attacker's shells in it (shared by the tests of this file)."""
    return t.fixture(_world, lambda w: build_world(t, w))


def build_world(t, w):
    t.use_server_with_state_in_var_lib()
    t.require_isolation()
    tag = token()
    w["etc_secret"] = (f"/etc/{tag}.secret", token("etc-secret"))
    w["varlib_secret"] = (f"/var/lib/{tag}/secret", token("varlib-secret"))
    w["root_secret"] = (f"/root/{tag}/secret", token("root-secret"))
    w["home_secret"] = (f"/home/{tag}/readme", token("home-secret"))
    w["uid1000_secret"] = (f"/var/tmp/{tag}/mine", token("uid1000-secret"))
    for key in ("etc_secret", "varlib_secret", "root_secret"):
        path, content = w[key]
        t.host_file(path, content, mode=0o600)
    # World-readable on purpose: /home and /root of the host must be absent.
    t.host_file(w["home_secret"][0], w["home_secret"][1], mode=0o644)
    t.host_file(w["uid1000_secret"][0], w["uid1000_secret"][1], mode=0o600, uid=1000, gid=1000)
    w["loop"] = t.host_loop_disk()
    w["vm"] = t.alice.create_box(t.box_name("target"))
    w["attacker"] = t.attacker(t.alice, w["vm"])
    print(f"     ({w['attacker'].describe()})", flush=True)


def secrets(w, *keys):
    return [w[k] for k in keys]


# -- host root ------------------------------------------------------------------

def box_process_on_host(t, runner, argv):
    """Starts `argv` in the box through `runner`; returns its host pid."""
    runner(f"setsid {' '.join(q(a) for a in argv)} </dev/null >/dev/null 2>&1 &")
    pids = eventually(lambda: host_pids_with_argv(argv), 10, 0.1,
                      f"the box's {argv!r} visible on the host")
    t.at_end(lambda: t.kill_host_processes_with_argv(argv))
    return pids[0]


@suite.test
def box_processes_run_as_unprivileged_host_uids(t):
    w = world(t)
    a = w["attacker"]
    host_ns = user_ns("self")  # this test runs as root in the host's user namespace
    argv = ["sleep", f"{4000 + os.getpid() % 1000}.111"]
    pid = box_process_on_host(t, a.user, argv)
    uids = host_uids(pid)
    expect(not set(uids) & {0, 1000},
           f"ATTACK WORKED: the box user's process {pid} runs as host uids {uids} "
           "(must be an unprivileged range of the box's own, neither 0 nor 1000)")
    expect(user_ns(pid) != host_ns, f"the box user's process {pid} is in the host's user namespace")
    if a.has_root:
        argv = ["sleep", f"{4000 + os.getpid() % 1000}.222"]
        pid = box_process_on_host(t, a.root, argv)
        uids = host_uids(pid)
        expect(0 not in uids, f"ATTACK WORKED: root of the box ({a.root_how}) is host uid 0: "
                              f"process {pid} has host uids {uids}")
        expect(user_ns(pid) != host_ns,
               f"ATTACK WORKED: root of the box ({a.root_how}) is in the host's user namespace")


def parse_id_map(text):
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            rows.append(tuple(int(p) for p in parts))
    return rows


@suite.test
def setuid_root_gives_no_host_root(t):
    w = world(t)
    a = w["attacker"]
    result = a.best("id -u; echo ==; cat /proc/self/uid_map; echo ==; "
                    "grep -E '^Cap(Eff|Bnd):' /proc/self/status")
    uid, uid_map, caps = (result.stdout.split("==\n") + ["", "", ""])[:3]
    rows = parse_id_map(uid_map)
    expect(rows, result.describe("no uid_map read in the box"))
    for inside, outside, count in rows:
        if outside <= 0 < outside + count:
            fail(result.describe(f"ATTACK WORKED: host uid 0 is mapped into the box "
                                 f"(uid_map row {inside} {outside} {count}; {a.describe()})"))
        if outside <= 1000 < outside + count:
            fail(result.describe(f"host uid 1000 is mapped into the box (uid_map row "
                                 f"{inside} {outside} {count}): box users are host users"))
    if uid.strip() == "0":
        effective = re.search(r"CapEff:\s*([0-9a-f]+)", caps)
        expect(effective, result.describe("no CapEff line"))
        # Full capabilities are fine only inside a user namespace of the box's own (checked above).
        print(f"     (root reached via {a.root_how}: CapEff {effective.group(1)}, "
              f"uid_map {rows})", flush=True)


# -- devices and mounts --------------------------------------------------------------

def host_root_fingerprint():
    """(hex, offset, length) identifying the host's root device: its ext4
    UUID (16 bytes at 1024+0x68), else its first 4 KiB; None when the host
    itself cannot read it (a VM sandbox that denies raw disk access)."""
    import stat as st_mod
    major, minor = root_device()
    wanted = os.makedev(major, minor)
    node = suite.dir / "host-root-device"
    if not node.exists():
        os.mknod(node, 0o600 | st_mod.S_IFBLK, wanted)
    try:
        with open(node, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[1024 + 0x38:1024 + 0x3A] == b"\x53\xef":
        return head[1024 + 0x68:1024 + 0x78].hex(), 1024 + 0x68, 16
    return head.hex(), 0, 4096


def read_device_script(major, minor, offset, length):
    """Makes a node for major:minor in every writable place of the box and
    prints the hex of `length` bytes at `offset` read through it."""
    script = ""
    for d in ("/tmp", "/home/boxd", "/dev", "/dev/shm", "/run", "/var/tmp"):
        node = f"{d}/.boxd-sec-dev"
        script += (f"rm -f {node}; mknod {node} b {major} {minor} 2>&1 && "
                   f"python3 -c \"import sys, hashlib; f=open('{node}','rb'); f.seek({offset}); "
                   f"d=f.read({length}); print('READ', d.hex()[:64], hashlib.sha256(d).hexdigest())\" "
                   f"2>&1; rm -f {node}; ")
    return script


@suite.test
def mknod_of_a_host_disk_reads_nothing(t):
    w = world(t)
    major, minor, digest, _name, _secret = w["loop"]
    for who, result in w["attacker"].every(read_device_script(major, minor, 0, 4 << 20)):
        if digest in result.stdout:
            fail(result.describe(f"ATTACK WORKED: {who} read a host block device ({major}:{minor}, "
                                 "a loop device) through a device node made in the box"))
    fingerprint = host_root_fingerprint()
    if fingerprint is None:
        print("     (the host cannot read its own root device here; attacked the loop device only)",
              flush=True)
        return
    hexed, offset, length = fingerprint
    major, minor = root_device()
    for who, result in w["attacker"].every(read_device_script(major, minor, offset, length)):
        if hexed[:64] in result.stdout:
            fail(result.describe(f"ATTACK WORKED: {who} read the host's root disk "
                                 f"({major}:{minor}) through a device node made in the box"))


@suite.test
def mounting_proc_shows_no_host_process(t):
    w = world(t)
    proc, seconds = t.host_sleep()
    script = ("mkdir -p /tmp/.sec-proc && mount -t proc proc /tmp/.sec-proc 2>&1; "
              "cat /tmp/.sec-proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; "
              "umount /tmp/.sec-proc 2>/dev/null")
    for who, result in w["attacker"].every(script):
        if f"sleep {seconds}" in result.stdout:
            fail(result.describe(f"ATTACK WORKED: {who} mounted a proc that shows host "
                                 f"process {proc.pid}"))
    expect(proc.poll() is None, "the host's sleep died")


@suite.test
def mounting_a_host_disk_reveals_nothing(t):
    w = world(t)
    major, minor, _digest, name, secret = w["loop"]
    script = ""
    for (maj, mnr) in ((major, minor), root_device()):
        script += (f"rm -f /dev/.sec-disk; mknod /dev/.sec-disk b {maj} {mnr} 2>&1; "
                   "mkdir -p /tmp/.sec-disk && mount -o ro /dev/.sec-disk /tmp/.sec-disk 2>&1 && "
                   f"cat /tmp/.sec-disk/{name} /tmp/.sec-disk{w['root_secret'][0]} 2>&1; "
                   "umount /tmp/.sec-disk 2>/dev/null; rm -f /dev/.sec-disk; ")
    results = w["attacker"].every(script)
    expect_absent(results, secret, f"a host disk ({major}:{minor}) mounted in the box")
    expect_absent(results, w["root_secret"][1], "the host's root disk mounted in the box")


@suite.test
def bind_mounts_reveal_no_host_path(t):
    w = world(t)
    path, secret = w["root_secret"]
    script = ""
    for source in ("/", "/proc/1/root", "/proc/self/root", "/proc/1/cwd"):
        script += (f"mkdir -p /tmp/.sec-bind && mount --bind {source} /tmp/.sec-bind 2>&1 && "
                   f"cat /tmp/.sec-bind{path} 2>&1; umount /tmp/.sec-bind 2>/dev/null; ")
    expect_absent(w["attacker"].every(script), secret,
                  f"a bind mount in the box reached the host's {path}")


@suite.test
def cgroup_v1_release_agent_is_out_of_reach(t):
    # CVE-2022-0492: mount a v1 cgroup hierarchy, write release_agent, and the
    # kernel runs that program as host root. Opening it for writing (without
    # writing) is the concrete capability.
    w = world(t)
    script = ("for c in rdma pids memory cpu devices freezer; do d=/tmp/.sec-cg-$c; "
              "mkdir -p $d; if mount -t cgroup -o $c cgroup $d 2>/dev/null; then "
              "python3 -c \"open('$d/release_agent','r+'); print('WRITABLE', '$c')\" 2>&1; "
              "umount $d; fi; done")
    for who, result in w["attacker"].every(script):
        if "WRITABLE" in result.stdout:
            fail(result.describe(f"ATTACK WORKED: {who} can write a cgroup release_agent "
                                 "(a program the host kernel runs as host root)"))


# -- /proc -----------------------------------------------------------------------

@suite.test
def the_init_keeps_no_descriptor_of_the_server(t):
    """The server hands the init its user namespace (fd 4) and a ready pipe
    (fd 3); once the box runs, the init (box root's PID 1) holds neither:
    only /dev/null and its console."""
    w = world(t)
    state = str(t.server.state_dir.resolve())
    inits = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"__box-init" in argv and w["vm"].encode() in argv and \
                any(a.startswith(state.encode()) for a in argv):
            inits.append(entry)
    expect_equal(len(inits), 1, f"the init of {w['vm']}")
    fds = {int(fd): os.readlink(f"/proc/{inits[0]}/fd/{fd}")
           for fd in os.listdir(f"/proc/{inits[0]}/fd")}
    expect_equal(sorted(fds), [0, 1, 2], f"the init's descriptors: {fds}")
    expect_equal(fds[0], "/dev/null", "the init's stdin")


@suite.test
def proc_1_root_leads_to_the_box_not_the_host(t):
    w = world(t)
    path, secret = w["root_secret"]
    state = t.server.state_dir / "jwt_secret"
    jwt_secret = state.read_text().strip()
    script = (f"for p in /proc/[0-9]*; do cat $p/root{path} $p/root{state} 2>/dev/null; done; "
              f"cat /proc/1/root{path} /proc/self/root{path} 2>&1")
    results = w["attacker"].every(script)
    expect_absent(results, secret, f"the host's {path} through /proc/<pid>/root")
    expect_absent(results, jwt_secret, "the server's JWT secret through /proc/<pid>/root")


@suite.test
def proc_sys_writes_do_not_reach_the_host(t):
    w = world(t)
    targets = {"/proc/sys/kernel/hostname": token("evilhost")[:40],
               "/proc/sys/kernel/core_pattern": f"core.{token('evil')}"}
    before = {p: open(p).read() for p in targets}
    try:
        script = "; ".join(f"echo {q(v)} > {p} 2>&1" for p, v in targets.items())
        results = w["attacker"].every(script)
        for p in targets:
            after = open(p).read()
            if after != before[p]:
                fail(f"ATTACK WORKED: {p} of the host changed from {before[p]!r} to {after!r} "
                     f"(written from the box; {w['attacker'].describe()})\n"
                     + "\n".join(r.describe(who) for who, r in results))
    finally:
        for p, value in before.items():
            if open(p).read() != value:
                with open(p, "w") as f:
                    f.write(value)


def sysrq_help_count():
    out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    return out.count("sysrq: HELP")


@suite.test
def sysrq_trigger_has_no_effect_on_the_host(t):
    # 'h' only prints the help to the kernel log: harmless, and visible.
    if not os.path.exists("/proc/sysrq-trigger"):
        t.skip("this host's kernel has no /proc/sysrq-trigger (no CONFIG_MAGIC_SYSRQ)")
    w = world(t)
    before = sysrq_help_count()
    results = w["attacker"].every("echo h > /proc/sysrq-trigger 2>&1")
    after = sysrq_help_count()
    if after != before:
        fail(f"ATTACK WORKED: /proc/sysrq-trigger written from the box reached the host's "
             f"kernel ({after - before} new 'sysrq: HELP' lines in dmesg)\n"
             + "\n".join(r.describe(who) for who, r in results))


# -- host processes and sockets ----------------------------------------------------------

@suite.test
def host_processes_cannot_be_killed_or_traced(t):
    w = world(t)
    proc, seconds = t.host_sleep()
    pid = proc.pid
    # The marker is split in two variables so that this script's own
    # command line (visible in the box's /proc) does not match it.
    script = (f"kill -STOP {pid} 2>&1; kill -9 {pid} 2>&1; "
              f"python3 -c \"import ctypes; l=ctypes.CDLL(None, use_errno=True); "
              f"print('PTRACE', l.ptrace(16, {pid}, 0, 0))\" 2>&1; "
              f"a=sleep; b={seconds}; "
              f"for p in /proc/[0-9]*; do if [ \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" = "
              f"\"$a $b \" ]; then echo FOUND ${{p#/proc/}}; "
              f"kill -9 ${{p#/proc/}} 2>&1; fi; done")
    results = w["attacker"].every(script)
    status = proc_status(pid) if proc.poll() is None else None
    detail = "\n".join(r.describe(who) for who, r in results)
    expect(status is not None, f"ATTACK WORKED: the host process {pid} was killed from the box\n"
                               f"{detail}")
    expect_equal(status.get("TracerPid"), "0", f"TracerPid of host process {pid}\n{detail}")
    expect(status["State"][0] not in "Tt",
           f"ATTACK WORKED: host process {pid} was stopped from the box ({status['State']})\n"
           f"{detail}")
    for who, result in results:
        expect("FOUND" not in result.stdout,
               result.describe(f"ATTACK WORKED: {who} sees host process {pid} in /proc"))


def status_or_none(pid):
    """proc_status, or None once the process is gone."""
    try:
        return proc_status(pid)
    except OSError:
        return None


def host_children(pid):
    """Host pids whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            status = status_or_none(int(entry))
            if status is not None and status.get("PPid") == str(pid):
                out.append(int(entry))
    return out


def read_proc(pid, name):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return None


def memory_cgroup(pid):
    """The memory controller's cgroup of `pid` (v1), else its v2 cgroup."""
    lines = (read_proc(pid, "cgroup") or b"").decode().splitlines()
    for wanted in (":memory:", "0::"):
        for line in lines:
            if wanted in line:
                return line.split(":", 2)[2]
    return None


def warm_middles(server_pid, box_pid):
    """The server's waiting warm middles in the box's cgroups: forked, not
    exec'd (the server's own command line), in the box's memory cgroup."""
    argv, cgroup = read_proc(server_pid, "cmdline"), memory_cgroup(box_pid)
    return [p for p in host_children(server_pid)
            if read_proc(p, "cmdline") == argv and cgroup and memory_cgroup(p) == cgroup]


def attack_warm_middle(t, runner, box_pid, server_pid):
    """Runs the attack through `runner` (itself an exec, so it uses up the
    middle that waited before it): the script waits until the host has
    written the pid of the middle made for the NEXT exec into the box's
    /tmp, then signals, traces and looks for it. Returns (middle pid, result)."""
    target = f"/tmp/{token('middle')}"
    script = (f"for i in $(seq 100); do [ -s {target} ] && break; sleep 0.1; done; "
              f"pid=$(cat {target}); echo TARGET $pid; "
              f"kill -STOP $pid 2>&1; kill -9 $pid 2>&1; "
              f"python3 -c \"import ctypes; l=ctypes.CDLL(None, use_errno=True); "
              f"print('PTRACE', l.ptrace(16, $pid, 0, 0))\" 2>&1; "
              f"ls /proc/$pid/root/ 2>&1 | head -3; "
              # The server's command line, split so this script does not match itself.
              f"a=local; b=serve; for p in /proc/[0-9]*; do "
              f"case \"$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)\" in *\"$a $b\"*) "
              f"echo FOUND ${{p#/proc/}}; kill -9 ${{p#/proc/}} 2>&1;; esac; done")
    # The middle this attack's own exec takes must be waiting before it
    # starts: one made meanwhile would count as "fresh", and a slow exec (a
    # loaded machine) could then take that one, as if the attack had killed it.
    def settled():
        first = set(warm_middles(server_pid, box_pid))
        time.sleep(0.3)
        return first if first and first == set(warm_middles(server_pid, box_pid)) else None
    before = eventually(settled, 10, 0.05, "a warm middle waiting before the attack")
    result = {}
    attack = threading.Thread(target=lambda: result.update(r=runner(script)))
    attack.start()
    try:
        fresh = eventually(lambda: [p for p in warm_middles(server_pid, box_pid) if p not in before],
                           10, 0.05, "a new warm middle for the box after the attack's exec")
        with open(f"/proc/{box_pid}/root{target}", "w") as f:
            f.write(f"{fresh[0]}\n")
    finally:
        attack.join(90)
    return fresh[0], result.get("r")


@suite.test
def warm_exec_middle_is_out_of_reach(t):
    """The warm middle (lib/local/warm_pool.hpp) waits as host root in the
    box's cgroups but in none of its namespaces. Told its host pid, neither
    the box user nor root in the box can stop, kill or trace it, see it in
    /proc or reach the host's root through it; the next exec starts through
    it as before."""
    w = world(t)
    a = w["attacker"]
    server_pid = t.server.proc.pid
    argv = ["sleep", f"{4000 + os.getpid() % 1000}.444"]
    box_pid = box_process_on_host(t, a.user, argv)
    eventually(lambda: warm_middles(server_pid, box_pid), 10, 0.05,
               "the box's warm middle on the host (BOXD_LOCAL_WARM_EXEC off?)")
    runners = [("box user", a.user)] + ([(f"root via {a.root_how}", a.root)] if a.has_root else [])
    for who, runner in runners:
        middle, result = attack_warm_middle(t, runner, box_pid, server_pid)
        expect(result is not None and f"TARGET {middle}" in result.stdout,
               f"{who}: the attack script did not get the middle's pid\n"
               f"{result.describe(who) if result else 'no result'}")
        detail = result.describe(who)
        status = status_or_none(middle)
        expect(status is not None, f"ATTACK WORKED: {who} killed the warm middle {middle}\n{detail}")
        expect_equal(status.get("TracerPid"), "0", f"TracerPid of the warm middle {middle}\n{detail}")
        expect(status["State"][0] not in "TtZ",
               f"ATTACK WORKED: {who} stopped the warm middle {middle} ({status['State']})\n{detail}")
        expect("FOUND" not in result.stdout,
               f"ATTACK WORKED: {who} sees a server process in the box's /proc\n{detail}")
        expect(middle in warm_middles(server_pid, box_pid),
               f"the warm middle {middle} no longer waits after the attack\n{detail}")
        # It still works: the next exec goes through it (it is used up).
        check = a.user("id -u")
        expect_equal(check.stdout.strip(), "1000", check.describe("exec after the attack"))
        eventually(lambda: status_or_none(middle) is None or middle not in warm_middles(server_pid, box_pid),
                   10, 0.05, f"the next exec to use the warm middle {middle}")


@suite.test
def server_argv_and_other_tenants_keys_are_invisible(t):
    # The server runs with --api-key KEY=USER: bob's key must not reach alice's box.
    w = world(t)
    script = ("cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; "
              "ps -eo args 2>/dev/null")
    results = w["attacker"].every(script)
    from sectest import BOB_KEY
    expect_absent(results, BOB_KEY, "bob's API key (from the server's argv)")


# Reads the command line of each process the moment it appears (the pids
# right after /proc/sys/kernel/ns_last_pid), for `seconds`; appends those
# that look like the server's to `out`. A command the server starts in the
# box is in the box's pid namespace before its execve, while it still runs
# on the server's memory image: its cmdline is the server's.
ARGV_SPY = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(int argc, char **argv) {
  time_t end = time(NULL) + atoi(argv[1]);
  FILE *out = fopen(argv[2], "a");
  long seen = 0;
  while (time(NULL) < end) {
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
    long last = 0;
    if (!f) return 2;
    if (fscanf(f, "%ld", &last) != 1) last = 0;
    fclose(f);
    for (long pid = last + 1; pid <= last + 3; pid++) {
      char path[64], buf[8192];
      snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
      FILE *c = fopen(path, "r");
      if (!c) continue;
      size_t n = fread(buf, 1, sizeof buf - 1, c);
      fclose(c);
      for (size_t i = 0; i < n; i++) if (buf[i] == 0) buf[i] = ' ';
      buf[n] = 0;
      if (strstr(buf, "serve") || strstr(buf, "api-key")) {
        fprintf(out, "%ld %s\n", pid, buf);
        fflush(out);
        seen++;
      }
    }
  }
  fprintf(out, "SEEN %ld\n", seen);
  fclose(out);
  return 0;
}
"""


@suite.test
def server_argv_holds_no_key_even_while_a_command_starts(t):
    # The server ran with --api-key KEY=USER on its command line, and every
    # exec or file helper it starts in a box shows the server's command line
    # in /proc until its execve (a review caught bob's key from alice's box
    # on the first exec). The keys must be gone from that memory.
    w = world(t)
    cmdline = Path(f"/proc/{t.server.proc.pid}/cmdline").read_bytes().decode(errors="replace")
    for user, key in (("alice", ALICE_KEY), ("bob", BOB_KEY)):
        expect(key not in cmdline,
               f"ATTACK WORKED: {user}'s API key is in the server's /proc cmdline: {cmdline!r}")
    expect("--api-key" in cmdline, f"the server was started with --api-key: {cmdline!r}")
    spy_c = t.dir / "argv-spy.c"
    spy = t.dir / "argv-spy"
    spy_c.write_text(ARGV_SPY)
    subprocess.run(["cc", "-O2", "-o", str(spy), str(spy_c)], check=True, timeout=60)
    t.alice.run("box", "cp", str(spy), f"{w['vm']}:/tmp/argv-spy").expect_ok()
    w["attacker"].user("chmod 755 /tmp/argv-spy && rm -f /tmp/argv-hits && "
                       "(setsid /tmp/argv-spy 25 /tmp/argv-hits </dev/null >/dev/null 2>&1 &)")
    time.sleep(0.5)
    for i in range(40):
        t.alice.exec(w["vm"], "true")
        if i % 10 == 0:
            t.alice.run("box", "cp", "-", f"{w['vm']}:/tmp/argv-spy-{i}", input="x")
    hits = eventually(lambda: (lambda r: r.stdout if "SEEN" in r.stdout else None)(
        w["attacker"].user("cat /tmp/argv-hits 2>/dev/null")), 40, 0.5, "the spy's report")
    for user, key in (("alice", ALICE_KEY), ("bob", BOB_KEY)):
        expect(key not in hits, f"ATTACK WORKED: {user}'s API key read from a starting "
                                f"command's /proc cmdline in alice's box:\n{hits[-2000:]}")
    caught = sum(1 for line in hits.splitlines() if "api-key" in line)
    print(f"     (the spy read the server's command line {caught} times, keys wiped)", flush=True)


@suite.test
def abstract_unix_socket_of_the_host_is_unreachable(t):
    w = world(t)
    listener = AbstractListener(t)
    script = (f"python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.settimeout(3); "
              f"s.connect('\\0{listener.name}'); print('GOT', s.recv(200))\" 2>&1")
    results = w["attacker"].every(script)
    for who, result in results:
        if listener.banner in result.stdout:
            fail(result.describe(f"ATTACK WORKED: {who} connected to a host abstract socket"))
    expect_equal(listener.accepted, 0, "connections the host's abstract socket accepted "
                                       "from the box")


@suite.test
def server_ports_are_unreachable_from_the_box(t):
    w = world(t)
    ports = {"gRPC": port_of(t.server.api_url), "key exchange": port_of(t.server.exchange_url)}
    if "proxy_url" in t.server.info:
        ports["HTTP proxy"] = port_of(t.server.proxy_url)
    targets = [(address, port) for address in host_addresses() for port in ports.values()]
    script = ("python3 - <<'EOF'\n"
              "import socket, threading\n"
              f"targets = {targets!r}\n"
              "def probe(a, p):\n"
              "    fam = socket.AF_INET6 if ':' in a else socket.AF_INET\n"
              "    s = socket.socket(fam)\n"
              "    s.settimeout(2)\n"
              "    try:\n"
              "        s.connect((a, p)); print('OPEN', a, p, flush=True)\n"
              "    except OSError as e:\n"
              "        print('closed', a, p, e.__class__.__name__, flush=True)\n"
              "    finally:\n"
              "        s.close()\n"
              "ts = [threading.Thread(target=probe, args=x) for x in targets]\n"
              "[x.start() for x in ts]; [x.join() for x in ts]\n"
              "EOF")
    result = w["attacker"].user(script)
    opened = [line for line in result.stdout.splitlines() if line.startswith("OPEN")]
    names = {v: k for k, v in ports.items()}
    if opened:
        which = ", ".join(f"{names[int(l.split()[2])]} at {l.split()[1]}" for l in opened)
        fail(result.describe(f"ATTACK WORKED: the box connects to the server's ports: {which}"))
    expect(result.stdout.count("closed") == len(targets),
           result.describe(f"expected {len(targets)} probe results"))


# -- host secrets --------------------------------------------------------------------

@suite.test
def host_root_only_files_are_unreadable(t):
    w = world(t)
    for path, secret in secrets(w, "etc_secret", "varlib_secret"):
        expect_absent(w["attacker"].every(f"cat {path} 2>&1"),
                      secret, f"a host file mode 0600 root ({path}) read in the box")


@suite.test
def server_state_dir_is_invisible(t):
    w = world(t)
    state = t.server.state_dir
    jwt_secret = (state / "jwt_secret").read_text().strip()
    results = w["attacker"].every(f"cat {state}/jwt_secret {state}/*.json 2>&1")
    expect_absent(results, jwt_secret, "the server's JWT signing secret")
    # Listings with errors discarded: a file name on stdout means it is visible.
    for who, result in w["attacker"].every(f"ls -A {state} 2>/dev/null; "
                                          f"find {state} -maxdepth 2 2>/dev/null | head -20"):
        expect("jwt_secret" not in result.stdout and "state.json" not in result.stdout,
               result.describe(f"ATTACK WORKED: {who} lists the server's state dir"))


@suite.test
def host_home_and_root_are_invisible(t):
    w = world(t)
    for path, secret in secrets(w, "home_secret", "root_secret"):
        top = "/" + path.split("/")[1]
        name = path.split("/")[2]
        expect_absent(w["attacker"].every(f"cat {path} 2>&1"), secret, f"the host's {path}")
        expect_absent(w["attacker"].every(f"ls -a {top} 2>/dev/null"), name,
                      f"the host's {top} listing")


@suite.test
def host_ssh_host_keys_are_unreadable(t):
    w = world(t)
    keys = sorted(p for p in os.listdir("/etc/ssh") if p.startswith("ssh_host_") and
                  p.endswith("_key"))
    expect(keys, "this host has no SSH host keys to attack (/etc/ssh/ssh_host_*_key)")
    for name in keys:
        body = [line for line in open(f"/etc/ssh/{name}").read().splitlines()
                if line and not line.startswith("-----")]
        expect(body, f"/etc/ssh/{name} has no key body")
        expect_absent(w["attacker"].every(f"cat /etc/ssh/{name} 2>&1"), body[0],
                      f"the host's SSH host key /etc/ssh/{name}")


@suite.test
def box_uid_1000_cannot_read_host_uid_1000_files(t):
    w = world(t)
    path, secret = w["uid1000_secret"]
    result = w["attacker"].user(f"id -u; cat {path} 2>&1")
    expect(result.stdout.startswith("1000\n"), result.describe("the box user is not uid 1000"))
    expect_absent([("box uid 1000", result)], secret,
                  f"a host file owned by host uid 1000, mode 0600 ({path})")


suite.main()
