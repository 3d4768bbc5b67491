"""boxd benchmarks: boxd against its peers and the raw limit, on one machine.

    tests/bench/run [--quick] [--only REGEX] [--json PATH] [--boxd PATH]
                    [--scale N [--scale-batch B]]

How it works:
- One temp dir holds everything: a `boxd local serve --port 0` on its own
  state dir (its stdout contract lines give the URLs), one box "vm", an
  OpenSSH server on a free loopback port with its own host key, config and
  authorized_keys, and Python stubs generated from our proto for the
  Python-SDK-style baseline (tests/bench/py_get.py, one fresh process per
  call: key exchange over HTTP, channel, GetVm).
- Every measurement runs a few warm-up rounds (not recorded), then N rounds;
  the table shows median, min and max, and the ratio to each baseline
  measured in the same run ("x1.8" = boxd is 1.8 times as fast, "x0.5" =
  half as fast; for times the ratio is baseline/boxd, for rates boxd/baseline).
- Every boxd client process is reaped with wait4(), so its peak RSS
  (ru_maxrss) comes from the kernel. Linux carries ru_maxrss over from the
  spawning process's memory at exec time, so the harness never holds big
  buffers (its own peak is in the JSON as harness_peak_rss_kib and must stay
  below boxd's figures for them to mean anything); the server's CPU time per GiB streamed
  is the utime+stime delta of its /proc/<pid>/stat over a transfer, and its
  minor page faults per GiB (JSON only: server_minor_faults_per_gib) the
  minflt delta.
- Box creation (box.create): `box create NAME` one at a time, timed until
  the CLI returns (the box is running then); each is destroyed, untimed,
  before the next. Its baseline (box.create.walk) alternates with it on a
  server started with BOXD_LOCAL_MASK_INDEX=0, whose every boot walks the
  host's directories for what to mask instead of taking the server's list,
  and (box.create.dir) on a server started with BOXD_LOCAL_BOX_DISK_IMAGES=0,
  whose box disks are plain directories rather than ext4 images on loop
  devices (what the disk's size limit costs a create).
- Interactive echo: a PTY (pty.fork) runs `boxd box exec -t vm -- 'stty raw
  -echo; exec cat'` (readline-like: the remote program echoes each byte
  itself); each keystroke is written to the PTY master and timed until the
  same byte comes back.
- Many boxes (--scale N, off by default: 1,000 boxes take ~5 minutes more):
  a third server of its own (--max-boxes N+5, a --bridge-subnet big enough
  for N, e.g. a free /22 for 1,000; a Linux bridge takes at most 1,024 ports,
  so N <= 1020) gets N idle boxes, B concurrent `box create` processes at a
  time (default 25). Rows: scale.create (ms per box, one sample per batch;
  total_s and batch_s in the JSON), scale.server_rss (VmRSS of the server
  with N boxes; rss_mib_at has 0, N/4, N/2, N), scale.list and
  scale.list.json (`box list` at N, median of 10; median_ms_at has N/4, N/2,
  N), scale.destroy (all destroyed, B processes). Targets at N >= 1000:
  server RSS < 200 MiB, `box list` <= 20 ms. Every scale box is destroyed
  at the end, also after a failure, Ctrl-C or SIGTERM (the clean-up ignores
  further signals; stopping the server stops what is left). With
  `--only scale` only the scale rows run (setup still starts the other
  servers).
- Nothing here fails on a time: targets are reported as met / NOT MET. The
  run exits nonzero only when something broke (a command failed). It is not
  a ctest suite (ctest globs tests/e2e/test_*.py only).

What can go wrong: the machine is shared, so concurrent builds inflate
figures (the load average is recorded in the JSON); throughput runs write
1 GiB files under the temp dir (disk space; the dir is removed at the end
unless --keep); sshd needs root for its privilege separation (/run/sshd).

Python 3 stdlib only (plus python3-grpcio in the baseline's own process).
"""

import argparse
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import pwd
from pathlib import Path

GIB = 1 << 30
MIB = 1 << 20
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KEY = "bxd_bench00000000000000000000000000000000"


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# processes


def page_reporting_order():
    """The guest's free page reporting (virtio-balloon): freed blocks of
    2^order pages go back to the host, and touching them again costs a host
    fault per page, which the 1 GiB copy rows pay (FINDINGS "Round nine").
    Above 10 (MAX_ORDER) nothing is reported. None where there is no such
    module."""
    try:
        return int(Path("/sys/module/page_reporting/parameters/page_reporting_order").read_text())
    except (OSError, ValueError):
        return None


def run_timed(argv, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
              cwd=None, feed=None, timeout=600):
    """Runs argv; returns (seconds, peak RSS KiB of argv's process, exit code).
    feed: argv of a producer whose stdout becomes argv's stdin (a pipeline
    `feed | argv`, timed as a whole)."""
    started = time.perf_counter()
    producer = None
    if feed is not None:
        producer = subprocess.Popen(feed, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        stdin = producer.stdout
    stderr_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr_file,
                            cwd=cwd, start_new_session=True)
    if producer is not None:
        producer.stdout.close()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.0005 if time.perf_counter() - started < 0.2 else 0.005)
    if producer is not None:
        producer.wait()
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        stderr_file.seek(0)
        tail = stderr_file.read().decode(errors="replace")[-1500:]
        raise BenchError(f"{' '.join(map(str, argv))} exited {code}: {tail}")
    return elapsed, usage.ru_maxrss, code


def proc_cpu_seconds(pid):
    """utime+stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_minor_faults(pid):
    """Minor page faults of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[7])  # minflt (field 10)


def proc_hwm_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def proc_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_bridge_subnet(boxes):
    """A private IPv4 prefix for `boxes` boxes (plus the gateway) in
    10.64.0.0-10.99.255.255 (where the server picks its /24s) that no route of
    this host overlaps, e.g. 10.88.0.0/22 for 1,000."""
    prefix = 24
    while prefix > 16 and (1 << (32 - prefix)) - 3 < boxes:
        prefix -= 1
    routes = []
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        dest = line.split()[0] if line.split() else ""
        if dest in ("default", "local", "broadcast", "unreachable", "blackhole"):
            dest = line.split()[1] if len(line.split()) > 1 else ""
        net, _, length = dest.partition("/")
        try:
            parts = [int(x) for x in net.split(".")]
            base = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
            bits = int(length) if length else 32
        except (ValueError, IndexError):
            continue
        if bits == 0:
            continue  # the default route
        routes.append((base & ~((1 << (32 - bits)) - 1) & 0xFFFFFFFF, bits))
    size = 1 << (32 - prefix)
    for base in range(10 << 24 | 64 << 16, 10 << 24 | 100 << 16, size):
        if all(not (base < r + (1 << (32 - b)) and r < base + size) for r, b in routes):
            return f"{base >> 24}.{base >> 16 & 255}.{base >> 8 & 255}.0/{prefix}"
    raise BenchError(f"no free /{prefix} in 10.64.0.0-10.99.255.255 for {boxes} boxes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


# --------------------------------------------------------------------------
# the systems under test


class BoxdServer:
    def __init__(self, binary, dir_, extra_env=None, max_boxes=10, extra_args=()):
        self.binary = binary
        self.extra_env = extra_env or {}
        self.max_boxes = max_boxes
        self.extra_args = list(extra_args)
        self.dir = dir_
        self.proc = None
        self.info = {}

    def start(self):
        home = self.dir / "server-home"
        home.mkdir(parents=True, exist_ok=True)
        env = clean_env(home)
        env.update(self.extra_env)
        stdout_path = self.dir / "server.stdout"
        argv = [self.binary, "local", "serve", "--port", "0", "--state-dir",
                str(self.dir / "state"), "--api-key", f"{KEY}=bench", "--max-boxes",
                str(self.max_boxes), *self.extra_args]
        with open(stdout_path, "wb") as out, open(self.dir / "server.log", "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=env, cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            info, ready = {}, False
            for line in stdout_path.read_text(errors="replace").splitlines():
                if line.strip() == "ready":
                    ready = True
                    break
                key, sep, value = line.partition(": ")
                if sep:
                    info[key.strip()] = value.strip()
            if ready:
                self.info = info
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "server.log").read_text(errors="replace")[-1500:]
                raise BenchError(f"boxd local serve did not get ready:\n{tail}")
            time.sleep(0.02)

    def stop(self, timeout=20):
        """SIGTERM stops every box the server runs (one after another), then
        the server; SIGKILL after `timeout` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def clean_env(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOXD_")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
                "NO_COLOR": "1", "LC_ALL": "C"})
    return env


class SshServer:
    """sshd on a free loopback port, everything in its own dir."""

    def __init__(self, dir_):
        self.dir = dir_
        self.proc = None
        self.port = 0
        self.user = pwd.getpwuid(os.getuid()).pw_name

    def start(self):
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.path.exists(sshd) or not shutil.which("ssh"):
            raise BenchError("openssh-server/openssh-client missing (scripts/setup installs them)")
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.dir / name)], check=True)
        shutil.copy(self.dir / "user_key.pub", self.dir / "authorized_keys")
        if os.getuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.port = free_port()
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1",
            f"HostKey {self.dir / 'host_key'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            f"PidFile {self.dir / 'sshd.pid'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp", "MaxStartups 100:30:200", "MaxSessions 100",
            "LogLevel ERROR", "PrintMotd no", "PrintLastLog no", "",
        ]))
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "sshd.log", "ab"),
                                     start_new_session=True)
        wait_port(self.port)
        run_timed(self.ssh("true"))  # accepts the host key once

    def options(self):
        return ["-F", "/dev/null", "-i", str(self.dir / "user_key"),
                "-o", f"UserKnownHostsFile={self.dir / 'known_hosts'}",
                "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes",
                "-o", "LogLevel=ERROR"]

    def ssh(self, *command, tty=False):
        return ["ssh", *self.options(), *(["-tt"] if tty else []), "-p", str(self.port),
                f"{self.user}@127.0.0.1", *command]

    def scp(self, source, destination):
        return ["scp", "-q", *self.options(), "-P", str(self.port), source, destination]

    def remote(self, path):
        return f"{self.user}@127.0.0.1:{path}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --------------------------------------------------------------------------
# measurements


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.binary = args.boxd
        self.quick = args.quick
        self.size = args.size_mib * MIB
        self.results = {}
        self.order = []
        self.server = BoxdServer(self.binary, work / "boxd")
        # The baseline for warm exec middles: a second server that starts
        # every exec cold (BOXD_LOCAL_WARM_EXEC=0), started on first use.
        self.cold_server = BoxdServer(self.binary, work / "boxd-cold",
                                      {"BOXD_LOCAL_WARM_EXEC": "0"})
        # The baseline for the server's mask list: a server whose every boot
        # walks the host's directories (BOXD_LOCAL_MASK_INDEX=0), used by
        # box_create() only.
        self.walk_server = BoxdServer(self.binary, work / "boxd-walk",
                                      {"BOXD_LOCAL_MASK_INDEX": "0"})
        # The baseline for box disks as ext4 images: a server whose box
        # disks are plain directories (BOXD_LOCAL_BOX_DISK_IMAGES=0, no size
        # limit), used by box_create() only.
        self.dir_server = BoxdServer(self.binary, work / "boxd-dir",
                                     {"BOXD_LOCAL_BOX_DISK_IMAGES": "0"})
        self.sshd = SshServer(work / "ssh")
        # --scale N: a third server holding N idle boxes (its own bridge subnet
        # big enough for them), started by scale() only.
        self.scale_server = None
        self.scale_names = []
        self.cli_home = work / "cli-home"
        self.cli_home.mkdir()
        self.stubs = work / "pystubs"
        self.reps_fast = 5 if self.quick else 20
        self.reps_slow = 2 if self.quick else 3
        self.only = re.compile(args.only) if args.only else None

    # --- plumbing

    def env(self, cache_home=None, server=None):
        server = server or self.server
        env = clean_env(self.cli_home)
        env["BOXD_CONFIG_DIR"] = str(self.cli_home / "boxd-config")
        env["BOXD_API_URL"] = server.info["api_url"]
        env["BOXD_EXCHANGE_URL"] = server.info["exchange_url"]
        env["BOXD_API_KEY"] = KEY
        if cache_home is not None:
            env["XDG_CACHE_HOME"] = str(cache_home)
        return env

    def boxd(self, *args):
        return [self.binary, *args]

    def cold_env(self):
        """The env of the cold-exec server (started, with its box, on first use)."""
        if self.cold_server.proc is None:
            self.cold_server.start()
            cache = self.work / "cold-cache"
            cache.mkdir()
            self.cold_cache = cache
            run_timed(self.boxd("box", "create", "vm"),
                      env=self.env(cache, self.cold_server), timeout=120)
        return self.env(self.cold_cache, self.cold_server)

    def wanted(self, key):
        return self.only is None or bool(self.only.search(key))

    def record(self, key, label, unit, samples, better, rss_kib=None, extra=None):
        entry = {
            "label": label, "unit": unit, "better": better, "samples": samples,
            "median": statistics.median(samples), "min": min(samples), "max": max(samples),
        }
        if rss_kib:
            entry["boxd_peak_rss_kib"] = max(rss_kib)
        entry.update(extra or {})
        self.results[key] = entry
        self.order.append(key)
        log(f"{label}: median {fmt(entry['median'], unit)} "
            f"(min {fmt(entry['min'], unit)}, max {fmt(entry['max'], unit)})"
            + (f", boxd peak RSS {max(rss_kib) / 1024:.1f} MiB" if rss_kib else ""))

    def latency(self, key, label, make_argv, reps=None, warmup=3, env=None, boxd=True,
                prepare=None):
        """Times whole processes; `prepare(i)` runs before each (untimed)."""
        if not self.wanted(key):
            return
        reps = reps or self.reps_fast
        samples, rss = [], []
        for i in range(warmup + reps):
            e = prepare(i) if prepare else env
            seconds, maxrss, _ = run_timed(make_argv(), env=e if e is not None else env)
            if i >= warmup:
                samples.append(seconds * 1000)
                rss.append(maxrss)
        self.record(key, label, "ms", samples, "lower", rss if boxd else None)

    def throughput(self, key, label, run_once, boxd=True, reps=None, server_cpu=False):
        """run_once(size) -> (seconds, peak RSS KiB or 0); one small warm-up."""
        if not self.wanted(key):
            return
        reps = reps or self.reps_slow
        run_once(min(self.size, 64 * MIB))
        samples, rss, cpu, faults = [], [], [], []
        for _ in range(reps):
            pid = self.server.proc.pid
            before = proc_cpu_seconds(pid) if server_cpu else 0
            faults_before = proc_minor_faults(pid) if server_cpu else 0
            seconds, maxrss = run_once(self.size)
            if server_cpu:
                cpu.append((proc_cpu_seconds(pid) - before) / (self.size / GIB))
                faults.append((proc_minor_faults(pid) - faults_before) / (self.size / GIB))
            samples.append(self.size / MIB / seconds)
            rss.append(maxrss)
        extra = {"bytes": self.size}
        if cpu:
            extra["server_cpu_s_per_gib"] = statistics.median(cpu)
            extra["server_minor_faults_per_gib"] = statistics.median(faults)
        self.record(key, label, "MiB/s", samples, "higher", rss if boxd else None, extra)

    # --- setup

    def setup(self):
        log(f"work dir {self.work}")
        self.server.start()
        log(f"boxd local serve ready (runtime {self.server.info.get('runtime', '?')}, "
            f"pid {self.server.proc.pid})")
        run_timed(self.boxd("box", "create", "vm"), env=self.env(), timeout=120)
        self.sshd.start()
        log(f"sshd on 127.0.0.1:{self.sshd.port}")
        self.generate_stubs()
        self.data = self.work / "data.bin"
        block = os.urandom(MIB)
        with open(self.data, "wb") as f:
            for _ in range(self.size // MIB):
                f.write(block)

    def generate_stubs(self):
        self.stubs.mkdir()
        proto_root = ROOT / "proto"
        proto = "boxd/api/v1/api.proto"
        try:
            import grpc_tools  # noqa: F401
            argv = [sys.executable, "-m", "grpc_tools.protoc"]
            plugin = []
        except ImportError:
            plugin_path = shutil.which("grpc_python_plugin")
            if not shutil.which("protoc") or not plugin_path:
                raise BenchError("need grpc_tools, or protoc + grpc_python_plugin "
                                 "(protobuf-compiler, protobuf-compiler-grpc)")
            argv = ["protoc"]
            plugin = [f"--plugin=protoc-gen-grpc_python={plugin_path}"]
        subprocess.run([*argv, *plugin, f"-I{proto_root}", f"--python_out={self.stubs}",
                        f"--grpc_python_out={self.stubs}", proto], check=True)
        for package in (self.stubs / "boxd", self.stubs / "boxd/api", self.stubs / "boxd/api/v1"):
            (package / "__init__.py").touch()

    def teardown(self):
        # A second Ctrl-C or SIGTERM must not cut the clean-up short (boxes of
        # the scale server would be left running).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        try:
            if self.server.proc is not None and self.server.proc.poll() is None:
                self.results_server_hwm = proc_hwm_kib(self.server.proc.pid)
        except OSError:
            pass
        self.sshd.stop()
        self.server.stop()
        self.cold_server.stop()
        self.walk_server.stop()
        self.dir_server.stop()
        self.scale_cleanup()

    # --- the measurements

    def run_all(self):
        env = self.env()
        # start-up
        self.latency("startup.version", "boxd version", lambda: self.boxd("version"),
                     reps=self.reps_fast * 2, warmup=5, env=env)
        self.latency("startup.help", "boxd --help", lambda: self.boxd("--help"),
                     reps=self.reps_fast * 2, warmup=5, env=env)
        # one unary call
        run_timed(self.boxd("box", "get", "vm"), env=env)  # fills the token cache
        self.latency("get.cached", "box get (cached token)", lambda: self.boxd("box", "get", "vm"),
                     env=env)
        fresh_dir = self.work / "fresh-caches"

        def fresh(i):
            cache = fresh_dir / str(i)
            cache.mkdir(parents=True)
            return self.env(cache_home=cache)
        self.latency("get.fresh", "box get (fresh exchange)", lambda: self.boxd("box", "get", "vm"),
                     prepare=fresh)
        self.latency("py.get", "python3 grpcio GetVm (fresh process)",
                     lambda: ["/usr/bin/python3", str(HERE / "py_get.py"), str(self.stubs), "vm"],
                     env=env, boxd=False, reps=max(5, self.reps_fast // 2), warmup=2)
        # exec round trip
        self.latency("exec.true", "box exec vm -- true",
                     lambda: self.boxd("box", "exec", "vm", "--", "true"), env=env)
        if self.wanted("exec.true.cold"):
            self.latency("exec.true.cold", "box exec vm -- true (every exec cold)",
                         lambda: self.boxd("box", "exec", "vm", "--", "true"),
                         env=self.cold_env())
        # After an idle second (untimed), where a cold start pays the cgroup
        # move's RCU grace period and a warm middle should not.
        def idle(make_env):
            def prepare(_):
                time.sleep(1)
                return make_env()
            return prepare
        self.latency("exec.idle", "box exec vm -- true after 1 s idle",
                     lambda: self.boxd("box", "exec", "vm", "--", "true"), reps=8, warmup=1,
                     prepare=idle(lambda: env))
        if self.wanted("exec.idle.cold"):
            cold = self.cold_env()
            self.latency("exec.idle.cold", "box exec vm -- true after 1 s idle (every exec cold)",
                         lambda: self.boxd("box", "exec", "vm", "--", "true"), reps=8, warmup=1,
                         prepare=idle(lambda: cold))
        self.latency("ssh.true", "ssh 127.0.0.1 true", lambda: self.sshd.ssh("true"), boxd=False)
        self.box_create(env)
        # streams
        self.streams(env)
        # interactive
        self.echo("echo.boxd", "box exec -t (PTY echo)",
                  self.boxd("box", "exec", "-t", "vm", "--",
                            "stty raw -echo; printf READY; exec cat"), env, boxd=True)
        self.echo("echo.ssh", "ssh -tt (PTY echo)",
                  self.sshd.ssh("stty raw -echo; printf READY; exec cat", tty=True),
                  clean_env(self.cli_home), boxd=False)
        # many at once
        self.concurrent(env)
        self.concurrent(self.cold_env, key="exec.concurrent.cold", label=", every exec cold")
        # raw limits
        self.throughput("raw.tcp", "loopback TCP (2 processes)", self.tcp_once, boxd=False)
        self.throughput("raw.cat", "cat pipe (head into cat)",
                        lambda n: (run_timed(["sh", "-c", f"head -c {n} /dev/zero | cat"])[0], 0),
                        boxd=False)
        if self.args.scale:
            self.scale(self.args.scale, self.args.scale_batch)

    def streams(self, env):
        zero = lambda n: ["head", "-c", str(n), "/dev/zero"]  # noqa: E731
        self.throughput("exec.out", "box exec: 1 GiB out (stdout)", lambda n: run_timed(
            self.boxd("box", "exec", "vm", "--", *zero(n)), env=env)[:2], server_cpu=True)
        self.throughput("exec.in", "box exec: 1 GiB in (stdin)", lambda n: run_timed(
            self.boxd("box", "exec", "vm", "--", "cat > /dev/null"), env=env, feed=zero(n))[:2],
            server_cpu=True)
        self.throughput("ssh.out", "ssh: 1 GiB out (stdout)", lambda n: run_timed(
            self.sshd.ssh(*zero(n)))[:2], boxd=False)
        self.throughput("ssh.in", "ssh: 1 GiB in (stdin)", lambda n: run_timed(
            self.sshd.ssh("cat > /dev/null"), feed=zero(n))[:2], boxd=False)
        data = str(self.data)
        # Transfers of less than the full size copy a prefix of the data file.
        def source(n):
            if n == self.size:
                return data
            part = self.work / f"data-{n}.bin"
            if not part.exists():
                with open(self.data, "rb") as f, open(part, "wb") as out:
                    for _ in range(n // MIB):  # small pieces: see the note on RSS
                        out.write(f.read(MIB))
            return str(part)
        down = self.work / "down.bin"
        scp_dir = self.work / "scp-remote"
        scp_dir.mkdir(exist_ok=True)

        def cp_up(n):
            return run_timed(self.boxd("box", "cp", source(n), "vm:bench.bin"), env=env)[:2]

        def cp_down(n):
            run_timed(self.boxd("box", "cp", source(n), "vm:bench.bin"), env=env)
            down.unlink(missing_ok=True)
            return run_timed(self.boxd("box", "cp", "vm:bench.bin", str(down)), env=env)[:2]

        def scp_up(n):
            return run_timed(self.sshd.scp(source(n), self.sshd.remote(scp_dir / "up.bin")))[:2]

        def scp_down(n):
            shutil.copy(source(n), scp_dir / "down-src.bin")
            down.unlink(missing_ok=True)
            return run_timed(self.sshd.scp(self.sshd.remote(scp_dir / "down-src.bin"),
                                           str(down)))[:2]
        # File copies write the disk: a round can find the previous one still
        # being written back, so these rows take more rounds (FINDINGS,
        # "Round seven": 3 rounds of cp up spread from 341 to 887 MiB/s).
        file_reps = self.reps_slow + 2
        self.throughput("cp.up", "box cp: 1 GiB up", cp_up, server_cpu=True, reps=file_reps)
        self.throughput("cp.down", "box cp: 1 GiB down", cp_down, reps=file_reps)
        self.throughput("scp.up", "scp: 1 GiB up", scp_up, boxd=False, reps=file_reps)
        self.throughput("scp.down", "scp: 1 GiB down", scp_down, boxd=False, reps=file_reps)
        # cp.down's server CPU: measured around the download alone.
        if self.wanted("cp.down"):
            run_timed(self.boxd("box", "cp", data, "vm:bench.bin"), env=env)
            down.unlink(missing_ok=True)
            before = proc_cpu_seconds(self.server.proc.pid)
            run_timed(self.boxd("box", "cp", "vm:bench.bin", str(down)), env=env)
            self.results["cp.down"]["server_cpu_s_per_gib"] = (
                (proc_cpu_seconds(self.server.proc.pid) - before) / (self.size / GIB))
            down.unlink(missing_ok=True)

    def box_create(self, env, reps=15, warmup=2):
        """box.create: `box create NAME` timed from the CLI's start until it
        returns (the server answers once the box runs: boot, cgroups, network);
        each box is destroyed untimed before the next, so the server holds
        only `vm` and the one being created. box.create.walk: the same on a
        server whose every boot walks the host's directories for masks (no
        mask list), alternating with the first. box.create.dir: the same on
        a server whose box disks are plain directories instead of ext4
        images (the cost of the disk's size limit)."""
        runs = []
        if self.wanted("box.create"):
            runs.append(("box.create", "box create (boot), one at a time", env))
        for key, label, server, cache in (
                ("box.create.walk", "box create (boot), every boot walks the host (no mask list)",
                 self.walk_server, "walk-cache"),
                ("box.create.dir", "box create (boot), disk a plain directory (size not enforced)",
                 self.dir_server, "dir-cache")):
            if not self.wanted(key):
                continue
            if server.proc is None:
                server.start()
            (self.work / cache).mkdir(exist_ok=True)
            runs.append((key, label, self.env(self.work / cache, server)))
        samples = {key: [] for key, _, _ in runs}
        rss = {key: [] for key, _, _ in runs}
        for i in range(warmup + reps):
            for key, _, run_env in runs:
                name = f"bench-create-{i:03d}"
                seconds, maxrss, _ = run_timed(self.boxd("box", "create", name), env=run_env,
                                               timeout=120)
                run_timed(self.boxd("box", "destroy", "-y", name), env=run_env, timeout=120)
                if i >= warmup:
                    samples[key].append(seconds * 1000)
                    rss[key].append(maxrss)
        for key, label, _ in runs:
            self.record(key, label, "ms", samples[key], "lower", rss[key])

    # --- many boxes on one server (--scale N)

    def scale(self, count, batch):
        """N boxes created `batch` at a time (concurrent `box create`s) on a
        server of their own, all idle; the server's RSS and `box list` at a
        quarter, half and all of them; then every box destroyed."""
        if not any(self.wanted(k) for k in ("scale.create", "scale.server_rss", "scale.list",
                                            "scale.list.json", "scale.destroy")):
            return
        if count > 1020:
            raise BenchError("--scale: a Linux bridge has at most 1024 ports (one per box)")
        subnet = free_bridge_subnet(count)
        # Each box's disk (10G by default) counts against --max-disk-bytes.
        self.scale_server = BoxdServer(self.binary, self.work / "boxd-scale", max_boxes=count + 5,
                                       extra_args=["--bridge-subnet", subnet, "--max-disk-bytes",
                                                   f"{(count + 5) * 10}G"])
        self.scale_server.start()
        pid = self.scale_server.proc.pid
        env = self.env(server=self.scale_server)
        log(f"scale: {count} boxes, {batch} at a time, bridge {subnet}, server pid {pid}")
        rss_at = {0: proc_rss_kib(pid) / 1024}
        list_at, json_at = {}, {}
        checkpoints = sorted({count // 4, count // 2, count} - {0})
        per_box_ms, batch_s = [], []
        started = time.perf_counter()
        made = 0
        while made < count:
            names = [f"scale-{i:04d}" for i in range(made, min(made + batch, count))]
            t0 = time.perf_counter()
            procs = [subprocess.Popen(self.boxd("box", "create", name), env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for name in names]
            self.scale_names += names  # destroyed at the end even if some failed
            failures = []
            for name, p in zip(names, procs):
                err = p.communicate()[1].decode(errors="replace")
                if p.returncode != 0:
                    failures.append(f"{name}: exit {p.returncode}: {err[-300:]}")
            seconds = time.perf_counter() - t0
            if failures:
                raise BenchError(f"scale: {len(failures)} of {len(names)} box creates failed at "
                                 f"{made} boxes; first: {failures[0]}")
            made += len(names)
            batch_s.append(seconds)
            per_box_ms.append(seconds * 1000 / len(names))
            if any(made - len(names) < mark <= made for mark in checkpoints):
                rss_at[made] = proc_rss_kib(pid) / 1024
                list_at[made] = self.scale_list_ms(env, [])
                json_at[made] = self.scale_list_ms(env, ["--json"])
                log(f"scale: {made} boxes, server RSS {rss_at[made]:.1f} MiB, box list "
                    f"{list_at[made]:.1f} ms, --json {json_at[made]:.1f} ms, "
                    f"load {os.getloadavg()[0]:.1f}")
        total = time.perf_counter() - started
        counts = {"boxes": count, "batch": batch, "bridge_subnet": subnet}
        self.record("scale.create", f"box create x{count}, {batch} at a time (per box)", "ms",
                    per_box_ms, "lower",
                    extra={**counts, "total_s": total, "batch_s": batch_s})
        rss = [proc_rss_kib(pid) / 1024 for _ in range(3)]
        self.record("scale.server_rss", f"server RSS with {count} idle boxes", "MiB", rss, "lower",
                    extra={**counts, "rss_mib_at": rss_at})
        self.latency("scale.list", f"box list of {count} boxes",
                     lambda: self.boxd("box", "list"), env=env, reps=10, warmup=2)
        self.latency("scale.list.json", f"box list --json of {count} boxes",
                     lambda: self.boxd("box", "list", "--json"), env=env, reps=10, warmup=2)
        for key, at in (("scale.list", list_at), ("scale.list.json", json_at)):
            if key in self.results:
                self.results[key].update({**counts, "median_ms_at": at})
        started = time.perf_counter()
        self.scale_destroy(env, batch)
        if self.wanted("scale.destroy"):
            seconds = time.perf_counter() - started
            self.record("scale.destroy", f"box destroy x{count}, {batch} processes (per box)",
                        "ms", [seconds * 1000 / count], "lower", extra={**counts, "total_s": seconds})

    def scale_list_ms(self, env, args, reps=10):
        samples = [run_timed(self.boxd("box", "list", *args), env=env)[0] * 1000
                   for _ in range(reps + 2)]
        return statistics.median(samples[2:])

    def scale_destroy(self, env, processes):
        """Destroys the scale boxes: `processes` concurrent `box destroy -y`,
        each with its share of the names."""
        names, self.scale_names = self.scale_names, []
        if not names:
            return
        chunks = [names[i::processes] for i in range(processes)]
        procs = [subprocess.Popen(self.boxd("box", "destroy", "-y", *chunk), env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for chunk in chunks if chunk]
        for p in procs:
            p.wait()

    def scale_cleanup(self):
        """Whatever happened (a failure, Ctrl-C, SIGTERM): no box of the scale
        server outlives the run. Destroys what is left, then SIGTERM stops the
        server, which stops any box still running (one by one, hence the long
        wait)."""
        server = self.scale_server
        if server is None or server.proc is None:
            return
        try:
            if server.proc.poll() is None and self.scale_names:
                log(f"scale: destroying {len(self.scale_names)} boxes")
                self.scale_destroy(self.env(server=server), 25)
        finally:
            server.stop(timeout=600)
            left = subprocess.run(["pgrep", "-f", f"__box-init .* {server.dir / 'state'}"],
                                  capture_output=True, text=True).stdout.split()
            if left:
                log(f"WARNING: {len(left)} box inits of the scale server still run: {left[:5]}")

    def tcp_once(self, n):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.perf_counter()
        child = os.fork()
        if child == 0:
            try:
                listener.close()
                s = socket.create_connection(("127.0.0.1", port))
                buf = b"\0" * MIB
                left = n
                while left > 0:
                    s.sendall(buf if left >= MIB else buf[:left])
                    left -= MIB
                s.close()
            finally:
                os._exit(0)
        conn, _ = listener.accept()
        listener.close()
        buf = bytearray(MIB)
        view = memoryview(buf)
        got = 0
        while True:
            k = conn.recv_into(view)
            if k == 0:
                break
            got += k
        conn.close()
        os.waitpid(child, 0)
        elapsed = time.perf_counter() - started
        if got != n:
            raise BenchError(f"tcp: received {got} of {n} bytes")
        return elapsed, 0

    def echo(self, key, label, argv, env, boxd):
        if not self.wanted(key):
            return
        keystrokes = 300 if self.quick else 1000
        sessions = 1 if self.quick else 3
        p50s, p99s, rss, all_ms = [], [], [], []
        for _ in range(sessions):
            ms, maxrss = self.echo_session(argv, env, keystrokes)
            all_ms += ms
            ordered = sorted(ms)
            p50s.append(ordered[len(ordered) // 2])
            p99s.append(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])
            rss.append(maxrss)
        extra = {"keystrokes_per_session": keystrokes, "sessions": sessions,
                 "max_ms": max(all_ms)}
        self.record(key + ".p50", label + " p50", "ms", p50s, "lower", rss if boxd else None, extra)
        self.record(key + ".p99", label + " p99", "ms", p99s, "lower", rss if boxd else None, extra)

    @staticmethod
    def echo_session(argv, env, keystrokes, warmup=50):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)

        def read_until(predicate, timeout):
            data = b""
            deadline = time.monotonic() + timeout
            while not predicate(data):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise BenchError(f"PTY session: timed out (got {data[-200:]!r})")
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise BenchError(f"PTY session ended early (got {data[-200:]!r})")
                data += chunk
            return data
        try:
            read_until(lambda d: b"READY" in d, 30)
            ms = []
            letters = b"abcdefghijklmnopqrstuvwxyz"
            for i in range(warmup + keystrokes):
                byte = letters[i % len(letters):i % len(letters) + 1]
                started = time.perf_counter()
                os.write(fd, byte)
                read_until(lambda d, b=byte: b in d, 10)
                if i >= warmup:
                    ms.append((time.perf_counter() - started) * 1000)
            os.write(fd, b"\r~.")  # the escape sequence ends both boxd and ssh sessions
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                done, status, usage = os.wait4(pid, os.WNOHANG)
                if done == pid:
                    return ms, usage.ru_maxrss
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        os.read(fd, 4096)
                    except OSError:
                        pass
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            return ms, usage.ru_maxrss
        finally:
            os.close(fd)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass

    def concurrent(self, env, sessions=200, key="exec.concurrent", label=""):
        if not self.wanted(key):
            return
        env = env() if callable(env) else env
        samples, rss = [], []
        for _ in range(1 if self.quick else self.reps_slow):
            started = time.perf_counter()
            procs = [subprocess.Popen(self.boxd("box", "exec", "vm", "--", "true"), env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for _ in range(sessions)]
            failures = []
            for p in procs:
                _, status, usage = os.wait4(p.pid, 0)
                p.returncode = os.waitstatus_to_exitcode(status)
                rss.append(usage.ru_maxrss)
                if p.returncode != 0:
                    failures.append(f"exit {p.returncode}: {p.stderr.read().decode()[-300:]}")
                p.stderr.close()
            samples.append((time.perf_counter() - started) * 1000)
            if failures:
                raise BenchError(f"{len(failures)} of {sessions} concurrent execs failed; "
                                 f"first: {failures[0]}")
        self.record(key, f"{sessions} concurrent box exec (all ok){label}", "ms", samples, "lower",
                    rss, {"sessions": sessions})


# --------------------------------------------------------------------------
# report

BASELINES = {
    "get.cached": ["py.get"],
    "get.fresh": ["py.get"],
    "exec.true": ["exec.true.cold", "ssh.true"],
    "exec.idle": ["exec.idle.cold"],
    "exec.concurrent": ["exec.concurrent.cold"],
    "box.create": ["box.create.walk", "box.create.dir"],
    "exec.out": ["ssh.out", "raw.tcp", "raw.cat"],
    "exec.in": ["ssh.in", "raw.tcp", "raw.cat"],
    "cp.up": ["scp.up", "raw.tcp"],
    "cp.down": ["scp.down", "raw.tcp"],
    "echo.boxd.p50": ["echo.ssh.p50"],
    "echo.boxd.p99": ["echo.ssh.p99"],
}


def fmt(value, unit):
    if unit == "ms":
        return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"
    return f"{value:.0f} {unit}"


def ratio(results, key, base):
    a, b = results[key], results[base]
    if a["better"] == "lower":
        return b["median"] / a["median"]
    return a["median"] / b["median"]


def targets(results):
    """(target text, met, measured text) for each target that was measured."""
    out = []

    def have(*keys):
        return all(k in results for k in keys)

    def med(k):
        return results[k]["median"]
    if have("startup.version"):
        out.append(("boxd version < 5 ms", med("startup.version") < 5, fmt(med("startup.version"), "ms")))
    if have("get.cached"):
        out.append(("box get (cached) <= 5 ms", med("get.cached") <= 5, fmt(med("get.cached"), "ms")))
    if have("get.cached", "py.get"):
        r = ratio(results, "get.cached", "py.get")
        out.append(("box get (cached) >= 10x faster than Python fresh process", r >= 10, f"x{r:.1f}"))
    if have("exec.true"):
        out.append(("box exec vm -- true <= 10 ms", med("exec.true") <= 10, fmt(med("exec.true"), "ms")))
    if have("box.create"):
        out.append(("box create <= 20 ms", med("box.create") <= 20, fmt(med("box.create"), "ms")))
    if have("exec.concurrent"):
        out.append(("200 concurrent box exec <= 1 s", med("exec.concurrent") <= 1000,
                    fmt(med("exec.concurrent"), "ms")))
    if have("exec.true", "ssh.true"):
        r = ratio(results, "exec.true", "ssh.true")
        out.append(("box exec true faster than ssh true", r > 1, f"x{r:.2f}"))
    for key in ("exec.out", "exec.in", "cp.up", "cp.down"):
        if have(key):
            out.append((f"{results[key]['label']} >= 1 GiB/s", med(key) >= 1024,
                        fmt(med(key), "MiB/s")))
        if have(key, "raw.tcp"):
            r = ratio(results, key, "raw.tcp")
            out.append((f"{results[key]['label']} >= half of loopback TCP", r >= 0.5, f"x{r:.2f}"))
    if have("scale.server_rss") and results["scale.server_rss"].get("boxes", 0) >= 1000:
        out.append(("server RSS at 1000 boxes < 200 MiB", med("scale.server_rss") < 200,
                    f"{med('scale.server_rss'):.0f} MiB"))
    if have("scale.list") and results["scale.list"].get("boxes", 0) >= 1000:
        out.append(("box list of 1000 <= 20 ms", med("scale.list") <= 20,
                    fmt(med("scale.list"), "ms")))
    if have("echo.boxd.p99"):
        out.append(("interactive echo p99 < 5 ms", med("echo.boxd.p99") < 5,
                    fmt(med("echo.boxd.p99"), "ms")))
    peaks = [(k, r["boxd_peak_rss_kib"]) for k, r in results.items() if "boxd_peak_rss_kib" in r]
    if peaks:
        worst_key, worst = max(peaks, key=lambda p: p[1])
        out.append(("boxd peak RSS < 32 MiB in every case", worst < 32 * 1024,
                    f"max {worst / 1024:.1f} MiB ({results[worst_key]['label']})"))
    return out


def table(results, order):
    rows = [("measurement", "median", "min", "max", "boxd RSS", "server CPU", "vs baselines")]
    for key in order:
        r = results[key]
        rss = f"{r['boxd_peak_rss_kib'] / 1024:.1f} MiB" if "boxd_peak_rss_kib" in r else ""
        cpu = f"{r['server_cpu_s_per_gib']:.2f} s/GiB" if "server_cpu_s_per_gib" in r else ""
        versus = ", ".join(f"x{ratio(results, key, b):.2f} {results[b]['label']}"
                           for b in BASELINES.get(key, []) if b in results)
        rows.append((r["label"], fmt(r["median"], r["unit"]), fmt(r["min"], r["unit"]),
                     fmt(r["max"], r["unit"]), rss, cpu, versus))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def build(args):
    """Builds the binary users get, build/release-static/boxd (fully static, by
    packaging/build-static: incremental, its static dependencies are built
    once). Static linking matters here: a dynamic boxd spends ~9 ms of every
    start in the loader (88 shared libraries). If the build fails (someone's
    half-edited file) and an older binary exists, that one is measured, with a
    warning."""
    if args.boxd:
        return
    args.boxd = str(ROOT / "build" / "release-static" / "boxd")
    if args.no_build and os.path.exists(args.boxd):
        return
    log(f"building {args.boxd} (packaging/build-static)")
    try:
        subprocess.run([str(ROOT / "packaging" / "build-static")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        if not os.path.exists(args.boxd):
            raise
        log(f"WARNING: the build failed; measuring the existing {args.boxd}")


def main():
    parser = argparse.ArgumentParser(description="boxd benchmarks (see tests/bench/bench.py)")
    parser.add_argument("--quick", action="store_true", help="64 MiB transfers, fewer rounds")
    parser.add_argument("--boxd", help="the boxd binary to measure (default: build/release-static/boxd, "
                                       "built first by packaging/build-static)")
    parser.add_argument("--no-build", action="store_true",
                        help="do not rebuild build/release-static/boxd when it exists")
    parser.add_argument("--size-mib", type=int, help="transfer size (default 1024, quick 64)")
    parser.add_argument("--only", help="run only measurements whose key matches this regex")
    parser.add_argument("--json", help="where to write the JSON results "
                                       "(default build/bench.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="also create N idle boxes on a server of their own (off by default; "
                             "1000 takes ~5 min): scale.* rows")
    parser.add_argument("--scale-batch", type=int, default=25, metavar="B",
                        help="--scale: concurrent box creates per batch (default 25)")
    args = parser.parse_args()
    if args.size_mib is None:
        args.size_mib = 64 if args.quick else 1024
    build(args)
    args.boxd = str(Path(args.boxd).resolve())
    json_path = Path(args.json or ROOT / "build" / "bench.json")
    work = Path(tempfile.mkdtemp(prefix="boxd-bench-"))
    bench = Bench(args, work)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    started = time.monotonic()
    load_before = os.getloadavg()
    error = None
    try:
        bench.setup()
        bench.run_all()
    except (BenchError, subprocess.CalledProcessError) as e:
        error = str(e)
        log(f"FAILED: {error}")
    finally:
        bench.teardown()
        if args.keep or error:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    version = subprocess.run([args.boxd, "version"], capture_output=True, text=True).stdout.strip()
    reporting = page_reporting_order()
    report = {
        "boxd": args.boxd, "boxd_version": version, "quick": args.quick,
        "transfer_bytes": args.size_mib * MIB, "cpus": os.cpu_count(),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "seconds": round(time.monotonic() - started, 1),
        "page_reporting_order": reporting,
        "server_peak_rss_kib": getattr(bench, "results_server_hwm", None),
        "harness_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "results": bench.results,
        "targets": [{"target": t, "met": m, "measured": v} for t, m, v in targets(bench.results)],
        "error": error,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    size_note = f"{args.size_mib} MiB transfers" if args.size_mib != 1024 else "1 GiB transfers"
    print(f"boxd benchmarks: {version}, {os.cpu_count()} CPUs, {size_note}, "
          f"load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}, "
          f"{report['seconds']:.0f} s")
    if reporting is not None:
        print(f"free page reporting to the VM's host: page_reporting_order {reporting}"
              + (" (off)" if reporting > 10 else " (on: copy rows pay the host's faults)"))
    print("ratios: xN = boxd is N times as fast as the baseline (median vs median)\n")
    print(table(bench.results, bench.order))
    print(f"\n(boxd RSS = ru_maxrss of the client; the harness itself peaked at "
          f"{report['harness_peak_rss_kib'] / 1024:.1f} MiB, a floor for those figures)")
    if report["server_peak_rss_kib"]:
        print(f"\nboxd local serve peak RSS: {report['server_peak_rss_kib'] / 1024:.1f} MiB")
    print("\ntargets:")
    for target, met, measured in targets(bench.results):
        print(f"  {'met    ' if met else 'NOT MET'}  {target}: {measured}")
    print(f"\nJSON: {json_path}")
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
