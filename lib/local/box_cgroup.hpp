// The cgroups of a box (namespace runtime): limits, freezing, killing.
//
// A box has one cgroup, named by its id under a `boxd-local` parent, in
// every hierarchy the host offers for what we use: memory, cpu and pids
// limits and the freezer. Where cgroup v2 has a controller (its root's
// cgroup.controllers lists it) the box's v2 cgroup gets it (memory.max +
// memory.swap.max, cpu.max, pids.max, cgroup.freeze); else the v1 hierarchy
// of that controller is used (memory.limit_in_bytes + memory.memsw, cpu.cfs_
// quota_us / cfs_period_us, pids.max, freezer.state). A host with neither
// has that layer off, and layers() says so (the server reports it); nothing
// claims a limit the kernel does not enforce: enforced() reads the values
// back from the kernel's files (once per box: the values are kept until
// the next apply() or remove(), so listing 1,000 boxes reads no file).
//
// Freezing prefers the hierarchy of the limits (v2 on a v2 host), else the
// v1 freezer, else cgroup.freeze of a mounted v2; without any, SIGSTOP and
// SIGCONT to every process in the box's PID namespace. $BOXD_FREEZER=
// signals|v1|v2 forces one (to test each).
//
// The init joins every cgroup of the box before it execs (prepare() gives
// the fds); every exec'd command joins them too (open_procs()): it is the
// server's child, not the init's. A process joins a v1 hierarchy by writing
// "0" to its `tasks` file: that moves the calling thread alone (all of a
// process of one thread) and, unlike any write to cgroup.procs or of a pid,
// without the host-wide lock every fork takes, whose writer waits for an
// RCU grace period (4-15 ms here) and stalls every fork on the host
// meanwhile. A v2 cgroup has no such file: cgroup.procs. Names are per box id (random
// UUIDs), so servers with different state dirs never share a cgroup; stop
// and destroy remove them (remove()). Safe for a restarted server: every
// call derives the paths from the id; the only thing kept in memory is what
// enforced() read, which a restarted server reads again.
#pragma once

#include "local/runtime.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace boxd::local {

// ---- pure helpers (unit-tested) ----

// One cgroup file system of /proc/self/mounts: a v1 hierarchy with its
// controllers (only the ones named in its mount options), or the v2 one.
struct CgroupMount {
  std::filesystem::path path;
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: from the options; v2: empty
};
std::vector<CgroupMount> parse_cgroup_mounts(const std::string& proc_mounts);

constexpr std::uint64_t k_cpu_period_us = 100000;

// A limit as written to the kernel (0 = no limit): "max" or the number (v2
// memory.max, pids.max, v1 pids.max), "-1" for v1 memory and cpu quota.
std::string v2_limit_text(std::uint64_t value);
std::string v1_limit_text(std::uint64_t value);
// cpu.max for `vcpu` cores: "200000 100000", "max 100000" for 0.
std::string v2_cpu_max_text(std::uint32_t vcpu);

// A limit as read from the kernel: "max", v1's "unlimited" (>= 2^62) and
// anything unreadable are 0 (no limit).
std::uint64_t parse_limit_text(const std::string& text);
// cpu.max ("200000 100000") or a v1 quota and period: the cores' worth of
// CPU time allowed (0 = unlimited).
double parse_cpu_max_text(const std::string& text);
double vcpu_of_quota(long long quota_us, long long period_us);

// ---- the box's cgroups ----

class BoxCgroup {
 public:
  // Looks at the host's cgroups (once, in the constructor).
  BoxCgroup();

  // How the init joins the box's cgroups: it writes "0" to each of `self`
  // (v1 `tasks`) before it execs; the server writes its pid to each of
  // `by_pid` (v2 cgroup.procs) meanwhile. The caller closes them all.
  struct InitJoin {
    std::vector<int> self;
    std::vector<int> by_pid;
  };
  // Creates the box's cgroups (killing what a previous boot left in them),
  // thaws them and applies `limits`; returns the fds the init joins them
  // by. Throws boxd::Error when a limit cannot be set.
  InitJoin prepare(const std::string& id, const BoxLimits& limits);
  // Fresh fds to join each cgroup of the box by writing "0" to it, from a
  // process of one thread (an exec'd command's middle): v1 `tasks`, v2
  // cgroup.procs.
  std::vector<int> open_procs(const std::string& id) const;
  // Sets the limits now (resize of a running box). Throws boxd::Error (no
  // host path in it) when the kernel refuses, e.g. memory below what the
  // box uses under cgroup v1.
  void apply(const std::string& id, const BoxLimits& limits) const;
  // What the kernel enforces for the box now (0 = nothing of that kind):
  // read from the kernel's files on the first call after prepare(), apply()
  // or remove(), then remembered (no file is read while nothing changed).
  EnforcedLimits enforced(const std::string& id) const;

  void freeze(const std::string& id, int init_pid) const;
  void thaw(const std::string& id, int init_pid) const;
  bool frozen(const std::string& id, int init_pid) const;
  // Thaws and SIGKILLs every member, waits (up to 5 s) for them to leave.
  void kill_all(const std::string& id) const;
  // kill_all, then removes the box's cgroup from every hierarchy.
  void remove(const std::string& id) const;

  // "memory limit", "cpu limit", "pids limit", "freezer": in force or why not.
  std::vector<IsolationLayer> layers() const;

 private:
  struct Hierarchy {
    std::filesystem::path base;  // <mount>/boxd-local
    bool v2 = false;
  };
  // Which hierarchy serves what (index into m_hierarchies, -1 = none).
  struct Use {
    int index = -1;
    std::string why;  // when index == -1
  };

  int add_hierarchy(const CgroupMount& mount);
  Use pick_limit(const std::vector<CgroupMount>& mounts, const std::string& controller);
  void pick_freezer(const std::vector<CgroupMount>& mounts);
  std::filesystem::path dir(int index, const std::string& id) const;
  std::filesystem::path join_file(std::size_t index, const std::string& id) const;
  std::vector<int> members(const std::string& id) const;
  bool has_freezer_cgroup(const std::string& id) const;
  void apply_memory(const std::string& id, std::uint64_t bytes) const;
  void apply_cpu(const std::string& id, std::uint32_t vcpu) const;
  void apply_pids(const std::string& id, std::uint64_t pids) const;
  EnforcedLimits read_enforced(const std::string& id) const;
  void forget_enforced(const std::string& id) const;

  std::vector<Hierarchy> m_hierarchies;
  Use m_memory;
  Use m_cpu;
  Use m_pids;
  Use m_freezer;
  // enforced() per box id, as read back from the kernel; the lock is held
  // while reading, so a value read before an apply() never outlives it.
  mutable std::mutex m_enforced_mutex;
  mutable std::map<std::string, EnforcedLimits> m_enforced;
};

}  // namespace boxd::local
