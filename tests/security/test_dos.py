"""Security: one tenant cannot deny service to the others (issue 12, "denial
of service" and "limits"): slow HTTP clients, memory past --memory, a
(bounded) fork bomb, disks beyond the file system or beyond a quota.

Every attack here is bounded by the test itself (a fixed count, a timeout)
and cleaned up by pid, so a server without the defence fails the test
without harming the host."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import (SecuritySuite, SlowClients, exchange_token, expect, expect_equal,  # noqa: E402
                     fail, host_pids_with_argv, http_get, port_of, proc_status, timed, token)

suite = SecuritySuite(__file__)

SLOW_CLIENTS = 12
MANY_CLIENTS = 300        # more connections than any sane per-endpoint limit
FORK_BOMB_MAX = 3000      # processes the bomb tries at most (the host's pid_max is 32768 here)
MEMORY_LIMIT = "128M"
MEMORY_TRY_MIB = 768      # what the box tries to allocate past its --memory
RESPONSIVE_SECS = 5.0


def exchange_works(t):
    """(ok, seconds, detail) of one key exchange with a short timeout."""
    started = time.monotonic()
    try:
        exchange_token(t.server.exchange_url, t.alice.key)
        return True, time.monotonic() - started, ""
    except Exception as e:  # timeout, refused, HTTP error: all count as blocked
        return False, time.monotonic() - started, repr(e)


def grpc_works(t):
    result, secs = timed(lambda: t.alice.run("box", "list", "--json", timeout=30))
    return result.code == 0 and secs < RESPONSIVE_SECS * 2, secs, result


@suite.test
def slow_connections_do_not_block_the_key_exchange(t):
    t.require_isolation()
    port = port_of(t.server.exchange_url)
    slow = SlowClients("127.0.0.1", port, SLOW_CLIENTS,
                       b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x", drip=True)
    try:
        time.sleep(2.5)
        ok, secs, detail = exchange_works(t)
        expect(ok and secs < RESPONSIVE_SECS,
               f"ATTACK WORKED: with {SLOW_CLIENTS} connections that never finish their "
               f"headers, a key exchange {'took' if ok else 'failed after'} {secs:.1f}s {detail}")
        ok, secs, result = grpc_works(t)
        expect(ok, result.describe(f"gRPC not serving during the attack ({secs:.1f}s)"))
    finally:
        slow.close()


@suite.test
def slow_connections_do_not_block_the_proxy(t):
    t.require_isolation()
    port = port_of(t.server.proxy_url)
    slow = SlowClients("127.0.0.1", port, SLOW_CLIENTS, b"GET / HTTP/1.1\r\nHost: x", drip=True)
    try:
        time.sleep(2.5)
        (status, _body), secs = timed(lambda: http_get(t.server.proxy_url,
                                                       f"{token('nobody')}.localhost", "/",
                                                       timeout=RESPONSIVE_SECS * 2))
        expect(status != 0 and secs < RESPONSIVE_SECS,
               f"ATTACK WORKED: with {SLOW_CLIENTS} slow connections the proxy answered "
               f"{status or 'nothing'} after {secs:.1f}s")
    finally:
        slow.close()


def server_threads(t):
    return int(proc_status(t.server.proc.pid)["Threads"])


@suite.test
def many_connections_get_an_answer_and_bounded_threads(t):
    # Past a bounded number of connections the server must answer (503 is
    # fine) instead of queueing forever, and never start a thread for each.
    t.require_isolation()
    results = []
    for what, url, partial in (
            ("proxy", t.server.proxy_url, b"GET / HTTP/1.1\r\nHost: x"),
            ("key exchange", t.server.exchange_url.split("/api/")[0],
             b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x")):
        before = server_threads(t)
        slow = SlowClients("127.0.0.1", port_of(url), MANY_CLIENTS, partial)
        try:
            time.sleep(1.0)
            grown = server_threads(t) - before
            (status, _), secs = timed(lambda: http_get(url, "localhost", "/healthz",
                                                       timeout=RESPONSIVE_SECS * 2))
            ok, grpc_secs, result = grpc_works(t)
            results.append(f"{what}: +{grown} threads for {MANY_CLIENTS} connections; a new "
                           f"request got {status or 'nothing'} in {secs:.1f}s; gRPC "
                           f"{'ok' if ok else 'NOT ok'} in {grpc_secs:.1f}s")
            expect(ok, result.describe(f"gRPC not serving while {MANY_CLIENTS} connections "
                                       f"hold the {what}"))
            expect(status != 0 and secs < RESPONSIVE_SECS,
                   f"ATTACK WORKED: {results[-1]}")
            expect(grown < MANY_CLIENTS * 3 // 4, f"ATTACK WORKED: {results[-1]} (a thread "
                                                  "per connection, unbounded)")
        finally:
            slow.close()
    print("     (" + "; ".join(results) + ")", flush=True)


@suite.test
def memory_past_the_limit_is_contained(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("hog"), "--memory", MEMORY_LIMIT)
    script = ("python3 -c \"\n"
              "import sys\n"
              "blocks = []\n"
              f"for i in range({MEMORY_TRY_MIB // 16}):\n"
              "    b = bytearray(16 << 20)\n"
              "    b[::4096] = b'x' * len(b[::4096])\n"
              "    blocks.append(b)\n"
              "    print('MiB', (i + 1) * 16, flush=True)\n"
              "print('ALLOCATED ALL', flush=True)\n\"")
    result = t.alice.exec(vm, script, timeout=120)
    reached = [int(line.split()[1]) for line in result.stdout.splitlines()
               if line.startswith("MiB ")]
    expect("ALLOCATED ALL" not in result.stdout,
           result.describe(f"ATTACK WORKED: a box with --memory {MEMORY_LIMIT} allocated and "
                           f"touched {MEMORY_TRY_MIB} MiB"))
    expect(not reached or reached[-1] <= 256,
           result.describe(f"a box with --memory {MEMORY_LIMIT} touched {reached[-1]} MiB"))
    ok, secs, listed = grpc_works(t)
    expect(ok, listed.describe(f"the server does not serve after the box hit its memory "
                               f"limit ({secs:.1f}s)"))
    t.alice.exec(vm, "true", timeout=30).expect_ok()
    print(f"     (stopped at {reached[-1] if reached else 0} MiB, exit {result.code})",
          flush=True)


@suite.test
def bounded_fork_bomb_hits_pids_max(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("bomb"))
    seconds = f"{5000 + os.getpid() % 1000}.{int(time.time()) % 1000:03d}"
    argv = ["sleep", seconds]
    t.at_end(lambda: t.kill_host_processes_with_argv(argv))
    # Children sleep; the parent stops at the first failed fork or at the cap.
    script = ("python3 -c \"\n"
              "import os, subprocess, time\n"
              "n = 0\n"
              f"for i in range({FORK_BOMB_MAX}):\n"
              "    try:\n"
              f"        subprocess.Popen(['sleep', '{seconds}'])\n"
              "        n += 1\n"
              "    except OSError as e:\n"
              "        print('FORK FAILED', e.errno, flush=True)\n"
              "        break\n"
              "print('STARTED', n, flush=True)\n\"")
    probe = {}

    def watch():
        time.sleep(3)
        probe["grpc"] = grpc_works(t)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = t.alice.exec(vm, f"timeout 90 sh -c {shell_quote(script)}", timeout=120)
    finally:
        watcher.join()
        leftover = t.kill_host_processes_with_argv(argv)
    started = [int(line.split()[1]) for line in result.stdout.splitlines()
               if line.startswith("STARTED")]
    print(f"     (started {started[0] if started else '?'} of {FORK_BOMB_MAX}, killed "
          f"{len(leftover)} on the host)", flush=True)
    expect(started, result.describe("the bomb did not report"))
    expect(started[0] < FORK_BOMB_MAX,
           result.describe(f"ATTACK WORKED: a box started {started[0]} processes "
                           "(no pids limit stopped it)"))
    ok, secs, listed = probe.get("grpc", (False, 0, None))
    expect(ok, f"the server did not serve during the fork bomb ({secs:.1f}s)")
    time.sleep(0.5)
    expect_equal(host_pids_with_argv(argv), [], "bomb processes left on the host")


def shell_quote(text):
    import shlex
    return shlex.quote(text)


def filesystem_bytes(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize


def disk_names(cli):
    return [d.get("name") for d in cli.run("disk", "list", "--json").expect_ok().json()]


@suite.test
def disk_sizes_beyond_the_filesystem_are_refused(t):
    t.require_isolation()
    fs_bytes = filesystem_bytes(t.server.state_dir)
    huge_gib = fs_bytes * 4 // (1 << 30)
    name = t.box_name("huge")
    result = t.alice.run("disk", "create", name, "--size", f"{huge_gib}G", timeout=60)
    try:
        expect(name not in disk_names(t.alice),
               result.describe(f"ATTACK WORKED: a {huge_gib} GiB disk was accepted on a "
                               f"{fs_bytes >> 30} GiB file system"))
        expect(result.code != 0, result.describe("disk create of an impossible size exited 0"))
    finally:
        t.alice.run("disk", "destroy", name, "--yes", timeout=60)


def create_until_refused(cli, prefix, size, tries, made):
    """Creates disks until one is refused (its Result) or `tries` were made (None)."""
    for _ in range(tries):
        name = f"{prefix}-{len(made)}-{os.getpid()}"
        result = cli.run("disk", "create", name, "--size", size, timeout=120)
        if result.code != 0:
            return result
        made.append(name)
    return None


@suite.test
def disk_bytes_beyond_the_filesystem_are_refused(t):
    # Disks of a third of the file system each: a quota (or the file system
    # check) must stop the user's total before it exceeds the file system.
    t.require_isolation()
    fs_gib = filesystem_bytes(t.server.state_dir) >> 30
    third_gib = max(1, fs_gib // 3)
    made = []
    try:
        refused = create_until_refused(t.bob, "third", f"{third_gib}G", 6, made)
        total = len(made) * third_gib
        expect(refused is not None and total <= fs_gib,
               f"ATTACK WORKED: {len(made)} disks of {third_gib} GiB ({total} GiB) accepted for "
               f"one user on a {fs_gib} GiB file system")
        print(f"     ({len(made)} of {third_gib} GiB accepted; refused with exit {refused.code}: "
              f"{refused.stderr.strip()!r})", flush=True)
    finally:
        for name in made:
            t.bob.run("disk", "destroy", name, "--yes", timeout=60)


@suite.test
def disk_count_beyond_a_quota_is_refused(t):
    t.require_isolation()
    made = []
    try:
        refused = create_until_refused(t.alice, "many", "8M", 60, made)
        expect(refused is not None,
               f"ATTACK WORKED: {len(made)} disks accepted for one user, no quota refused one")
        expect_equal(refused.code, 6, f"exit code of the refused disk create (a quota: "
                                      f"RESOURCE_EXHAUSTED; stderr {refused.stderr!r})")
        print(f"     ({len(made)} disks accepted before the quota)", flush=True)
    finally:
        for name in made:
            t.alice.run("disk", "destroy", name, "--yes", timeout=60)

@suite.test
def a_fifo_at_etc_hosts_does_not_hang_the_server(t):
    """Root in a box replaces its /etc/hosts with a FIFO. When a box joins or
    leaves a network the server rewrites every member's /etc/hosts with its
    network lock held: an open without O_NONBLOCK waited for a reader
    forever, and every later box create, stop and the server's shutdown with
    it. Now the FIFO is refused and the others go on."""
    t.require_isolation()
    cli = t.alice
    net = "fifo-net"
    cli.run("network", "create", net).expect_ok()
    victim = cli.create_box(t.box_name("fifo"), "--network", net)
    attacker = t.attacker(cli, victim)
    if not attacker.has_root:
        t.skip("no root in the box: its /etc/hosts is not the tenant's to replace")
    made = attacker.root("rm -f /etc/hosts && mkfifo /etc/hosts && stat -c %F /etc/hosts")
    expect(made.code == 0 and "fifo" in made.stdout, made.describe("a FIFO at /etc/hosts"))
    peer, secs = timed(lambda: cli.run("box", "create", t.box_name("peer"), "--network", net,
                                       timeout=45))
    expect(peer.code == 0, peer.describe(f"ATTACK WORKED: a box joining the FIFO box's network "
                                         f"did not get created ({secs:.1f}s)"))
    ok, secs, result = grpc_works(t)
    expect(ok, result.describe(f"ATTACK WORKED: the server stopped serving ({secs:.1f}s)"))
    other, secs = timed(lambda: cli.run("box", "create", t.box_name("other"), timeout=45))
    expect(other.code == 0, other.describe(f"ATTACK WORKED: box create hangs ({secs:.1f}s)"))


suite.main()
