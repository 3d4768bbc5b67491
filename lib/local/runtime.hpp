// The box runtime: how boxd local turns a box record into running processes.
//
// Two implementations behind one interface:
//  - "namespace" (default when root): each box is an init process in its own
//    mount, PID, UTS, IPC and network namespaces (box_network.hpp: an
//    address on the server's bridge), with an overlay root whose lower
//    layers are the host's directories (read-only) and whose upper layer is
//    the box's persistent disk directory; hostname = box name; processes run
//    as user boxd (uid 1000) in /home/boxd. Suspend freezes the box's cgroup.
//  - "process": plain directories, no isolation (for machines without the
//    privileges for namespaces). Announced at startup. There is no init:
//    boot() returns init_pid = 0, and alive() with init_pid = 0 is true from
//    boot() until stop() (for a box this runtime object never booted, e.g.
//    after a server restart: true while the box dir exists). Suspend/resume
//    SIGSTOP/SIGCONT the process groups of the box's exec'd commands.
//
// Requirements on the caller: SIGCHLD must not be SIG_IGN (exec'd commands
// and box inits are our children and are reaped by the runtime). The box
// init re-executes the boxd binary: /proc/self/exe, or $BOXD_SELF_EXE when
// set (tests whose binary is not boxd point it at boxd).
//
// The server owns all bookkeeping (records, statuses, persistence); the
// runtime only acts on disk and processes and reports what it finds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boxd::local {

// What the runtime needs to know about a box. `dir` is the box's own
// directory under the state dir (the runtime keeps its disk there).
// Resource limits the runtime enforces (0 = no limit of that kind).
struct BoxLimits {
  std::uint64_t memory_bytes = 0;  // --memory
  std::uint32_t vcpu = 0;          // --vcpu (CPU time of that many cores)
  std::uint64_t pids = 0;          // processes and threads
};

// What the host enforces for a running box, read back from the kernel
// (0 = no limit of that kind in force).
struct EnforcedLimits {
  std::uint64_t memory_bytes = 0;
  double vcpu = 0;  // cores' worth of CPU time
  std::uint64_t pids = 0;
};

// A user network the box joins (box create --network NAME).
struct BoxNetworkRef {
  std::string id;
  std::string name;
  std::string subnet;  // the network's CIDR (its boxes get addresses there)
};

// Files Boxes keeps in a box's dir (BoxSpec::dir) around a disk copy
// (fork, a box from a snapshot) so that a server that stops in the middle
// leaves the next one a trace:
// - k_disk_copy_marker in the new box's dir, written (durably) before its
//   record and removed once its disk is whole: a box that still has it is
//   never booted (its boot fails, recovery marks it Failed), since a
//   runtime would give it a fresh empty disk (or a partial one);
// - k_frozen_for_copy_marker in the source box's dir while Boxes holds it
//   frozen for the copy: a restarted server thaws a running box that has
//   it, and only such a box (a job its user stopped stays stopped).
constexpr const char* k_disk_copy_marker = "disk-copy-unfinished";
constexpr const char* k_frozen_for_copy_marker = "frozen-for-copy";

struct BoxSpec {
  std::string id;
  std::string name;
  std::filesystem::path dir;
  std::vector<std::pair<std::string, std::string>> env;  // box-level env (CreateVm env)
  BoxLimits limits;
  std::vector<BoxNetworkRef> networks;
  // The disk's size: where images work, the box can write no more than
  // this. create() makes a disk of it (0: 10 GiB); copy_disk() grows the
  // copy to it when it is larger than the source (0: the source's size).
  std::uint64_t disk_bytes = 0;
};

// One layer of isolation and whether this runtime has it in force here.
struct IsolationLayer {
  std::string name;  // "user namespace", "network namespace", "memory limit", ...
  bool enforced = false;
  std::string detail;  // how, or why not
};

// A running box's handle, persisted by the server so that a restarted server
// (even after kill -9) can adopt a box whose init is still alive.
struct BoxHandle {
  int init_pid = 0;                   // host pid of the box's init (0 = none)
  std::uint64_t init_start_time = 0;  // /proc/<pid>/stat field 22, guards pid reuse
};

struct ExecSpec {
  std::string command;  // run as /bin/sh -c COMMAND; empty = login shell
  bool tty = false;
  unsigned cols = 80;
  unsigned rows = 24;
  std::string term;  // TERM for the PTY case ("" = xterm-256color)
};

struct ExitStatus {
  int exit_code = 0;  // exit code, or 128+signal when killed by a signal
  int signal = 0;     // the signal number, 0 when it exited normally
};

// One running exec. The fds are non-blocking and owned by this object.
class ExecProcess {
 public:
  virtual ~ExecProcess() = default;
  // Write end of the command's stdin (the PTY master in tty mode); -1 once closed.
  virtual int stdin_fd() const = 0;
  // Read end of stdout (the PTY master in tty mode).
  virtual int stdout_fd() const = 0;
  // Read end of stderr; -1 in tty mode (the PTY merges it into stdout).
  virtual int stderr_fd() const = 0;
  // Half-close: EOF on the command's stdin. In tty mode the PTY master must
  // stay open for output, so this writes the terminal's EOF character (^D).
  virtual void close_stdin() = 0;
  virtual void resize(unsigned cols, unsigned rows) = 0;
  // Signals the command's whole process group.
  virtual void kill_group(int signal) = 0;
  // Non-blocking: the status once the main process has exited.
  virtual std::optional<ExitStatus> poll_exit() = 0;
  // Blocks until the main process has exited.
  virtual ExitStatus wait_exit() = 0;
  // An fd that becomes readable when the main process exits (a pidfd), or -1.
  virtual int exit_fd() const = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string kind() const = 0;  // "namespace" | "process"

  // Prepares the box's disk (empty upper layer, /home/boxd, passwd entry...).
  virtual void create(const BoxSpec& box) = 0;
  // Copies src's disk into dst's dir (fork). src may be running.
  virtual void copy_disk(const BoxSpec& src, const BoxSpec& dst) = 0;
  // Starts the box; returns when it is ready to exec. Appends the boot's
  // console output to `dir/console.log`.
  virtual BoxHandle boot(const BoxSpec& box) = 0;
  // True when the handle's init is still alive (pid and start time match).
  virtual bool alive(const BoxSpec& box, const BoxHandle& handle) = 0;
  // Kills every process of the box. Safe on a dead handle.
  virtual void stop(const BoxSpec& box, const BoxHandle& handle) = 0;
  // Freezes / thaws every process of the box.
  virtual void suspend(const BoxSpec& box, const BoxHandle& handle) = 0;
  virtual void resume(const BoxSpec& box, const BoxHandle& handle) = 0;
  // Removes the box's directory (after stop).
  virtual void destroy(const BoxSpec& box) = 0;
  // Lets go of what a box that does not run holds on the host (its disk
  // image's mount and loop device); stop() and a failed boot() do it, the
  // server's shutdown does it for every box that was not running.
  virtual void release(const BoxSpec& /*box*/) {}
  // Starts a command inside the running box. Throws a FaultError
  // (fault.hpp: FailedPrecondition, "VM 'NAME' is stopped" / "... is
  // suspended") when the box is not running or is frozen, a boxd::Error
  // (Internal) when the command cannot start.
  virtual std::unique_ptr<ExecProcess> exec(const BoxSpec& box, const BoxHandle& handle,
                                            const ExecSpec& spec) = 0;

  // Files (files.hpp, box_file.hpp). Runs boxd itself as
  // `boxd ARGS...` inside the running box, the way exec() runs a command
  // (namespace: the same namespaces and cgroup, as in-box uid/gid
  // `box_uid`, no capabilities; process: as the server's user), with pipes
  // for stdin/stdout/stderr. The binary is opened on the host first, so the
  // box's root need not contain it. Throws like exec().
  virtual std::unique_ptr<ExecProcess> run_self(const BoxSpec& box, const BoxHandle& handle,
                                                const std::vector<std::string>& args,
                                                int box_uid) = 0;
  // The directory the file helper resolves paths beneath: namespace: "/"
  // (the box's own root, seen from inside); process: the box's home tree.
  virtual std::string files_root(const BoxSpec& box) const = 0;
  // The path the file helper is given for `path_in_box` (absolute and
  // normalised, as the box's user sees it): namespace: the same; process:
  // relative to the box's home tree, which is its files_root
  // ("/home/boxd/x" -> "/x").
  virtual std::string helper_path(const std::string& path_in_box) const = 0;
  // Disks (disks.cpp): bind-mounts the host directory `source` at
  // `target` (absolute, inside the box; created first when missing, by the
  // file helper as the box's user or the box's root without capabilities)
  // in the running box, read-only if asked; unmount_disk undoes it: every
  // mount of `source` in the box goes, wherever the box moved it (a no-op
  // when there is none; an error when one stays). The process runtime has no mount namespace: it
  // throws (Fault::FailedPrecondition).
  virtual void mount_disk(const BoxSpec& box, const BoxHandle& handle,
                          const std::filesystem::path& source, const std::string& target,
                          bool read_only) = 0;
  virtual void unmount_disk(const BoxSpec& box, const BoxHandle& handle,
                            const std::filesystem::path& source, const std::string& target) = 0;
  // The host uid and gid a new disk's top directory belongs to, so that the
  // box's user can write it; nullopt: the server's own (process runtime).
  virtual std::optional<int> disk_owner() const { return std::nullopt; }

  // The address (IPv4 literal) where the box's own ports are reached from
  // the host: the HTTP proxy, domains and exposed ports connect there.
  virtual std::string address(const BoxSpec& /*box*/, const BoxHandle& /*handle*/) {
    return "127.0.0.1";
  }
  // Applies box.limits to the running box at once (boot applies them too).
  virtual void apply_limits(const BoxSpec& /*box*/, const BoxHandle& /*handle*/) {}
  // The limits in force for the running box now (all 0 when none or stopped).
  virtual EnforcedLimits enforced_limits(const BoxSpec& /*box*/, const BoxHandle& /*handle*/) {
    return {};
  }
  // Whether an exec'd command is running in the box now: a process of the
  // box's PID namespace (that of handle.init_pid) whose parent chain reaches
  // this server rather than the box's init (daemons a command left behind
  // are reparented to the init and do not count). The idle watcher
  // (idle.hpp) counts it as traffic. Reads /proc; false without an init.
  virtual bool exec_in_flight(const BoxSpec& box, const BoxHandle& handle) const;
  // Every isolation layer and whether it is in force (boxd local status,
  // boxd doctor, the server's start-up lines).
  virtual std::vector<IsolationLayer> isolation() const { return {}; }
  // The subnet of the boxes' bridge ("" = boxes use the host's network).
  virtual std::string bridge_subnet() const { return ""; }
  // What the server's start-up lines warn about this runtime ("" = nothing).
  virtual std::string startup_warning() const { return ""; }
};

// Server-wide settings of a runtime. state_dir names what the runtime
// creates host-wide (bridge, veths, iptables chains: box_network.hpp); empty
// = boxes keep the host's network (unit tests).
struct RuntimeOptions {
  std::filesystem::path state_dir;
  std::string bridge_subnet;  // --bridge-subnet; empty = picked
};

// kind: "namespace", "process" or "auto" (namespace when possible).
// Throws boxd::Error when the requested kind cannot work here.
std::unique_ptr<Runtime> make_runtime(const std::string& kind, const RuntimeOptions& options = {});

// The hidden entry point of a box's init process: boxd re-executes itself as
// `boxd local __box-init ...` inside the new namespaces. Returns an exit code.
int box_init_main(int argc, char** argv);

}  // namespace boxd::local
