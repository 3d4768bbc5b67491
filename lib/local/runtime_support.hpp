// Internal helpers shared by the box runtimes (not part of the server's
// interface): process spawning with pipes or a PTY, /proc inspection, safe
// tree removal and running a helper command.
#pragma once

#include "common/unique_fd.hpp"
#include "local/runtime.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace boxd::local {

// Everything the child needs, prepared before fork (after fork only
// async-signal-safe calls are allowed: the server is multi-threaded).
struct SpawnPlan {
  std::string path;  // absolute path passed to execve
  // >= 0: execveat(exec_fd, "", AT_EMPTY_PATH) instead (boxd itself, opened
  // on the host before entering a box whose root may not contain it).
  int exec_fd = -1;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string cwd;               // chdir target ("" = keep)
  bool tty = false;
  unsigned cols = 80;
  unsigned rows = 24;
  int uid = -1;  // >= 0: setgroups({gid}), setgid, setuid
  // After the ids: no_new_privs, an empty bounding set and no capabilities
  // (uid 0 keeps none either, even across execve).
  bool drop_capabilities = false;
  int gid = -1;
  // Namespace fds to setns() into (opened by the caller, closed by it). When
  // non-empty the command runs as a grandchild created with CLONE_PARENT so
  // that it lands inside the target PID namespace yet stays our child.
  std::vector<int> ns_fds;
  // The box's user namespace (also in ns_fds, last): joined after the PTY
  // is made, which then belongs to host uid pty_uid (the box user's host id).
  int userns_fd = -1;
  int pty_uid = -1;
  // How to join each of the box's cgroups (BoxCgroup::open_procs: v1
  // `tasks`, v2 cgroup.procs): "0" is written to every one, by a process of
  // one thread, before the command starts (it joins them all).
  std::vector<int> cgroup_procs_fds;
};

// Starts the command; throws boxd::Error when it could not be started,
// and refuses (k_suid_dumpable_refusal) a plan with a uid while
// fs.suid_dumpable is 1 (runtime_spawn.cpp says why).
std::unique_ptr<ExecProcess> spawn_process(const SpawnPlan& plan);

// fs.suid_dumpable (0, 1 or 2): what the kernel sets the dumpable flag of a
// process's memory to when the process changes its ids; -1 when unreadable.
int suid_dumpable();
inline constexpr const char* k_suid_dumpable_refusal =
    "exec refused: this host's fs.suid_dumpable is 1, which would let the box user read the "
    "server's memory while a command starts; set it to 0 or 2 (sysctl -w fs.suid_dumpable=0)";

// A middle process forked ahead of an exec into a box. Joining a box's
// cgroups is the slow step of a start: moving a process into a cgroup waits
// for an RCU grace period (8 ms on a quiet 2-core machine, while every other
// step of an exec takes well under a millisecond). A warm middle has joined
// them already and holds the box's namespace fds; it waits for one command
// and starts it exactly as spawn_process() would (same namespaces, same
// checks, the command our child). An unused one is killed and reaped when
// destroyed; it exits by itself when the thread that forked it ends.
class WarmMiddle {
 public:
  WarmMiddle(int pid, int control, void* region);
  ~WarmMiddle();
  WarmMiddle(const WarmMiddle&) = delete;
  WarmMiddle& operator=(const WarmMiddle&) = delete;
  [[nodiscard]] int pid() const { return m_pid; }

 private:
  friend std::unique_ptr<ExecProcess> spawn_process_warm(const SpawnPlan& plan,
                                                         std::unique_ptr<WarmMiddle> warm);
  int m_pid;
  int m_control;   // our end of a SOCK_SEQPACKET pair: the go message and its fds
  void* m_region;  // shared with the middle: the command's arguments
};

// Forks a warm middle for the box whose namespaces and cgroups `box` names
// (ns_fds, userns_fd, cgroup_procs_fds; the caller keeps and closes them).
// Call it from a thread that outlives the middle (PR_SET_PDEATHSIG follows
// the forking thread). Throws boxd::Error.
std::unique_ptr<WarmMiddle> fork_warm_middle(const SpawnPlan& box);

// spawn_process() for the box `warm` was made for (the plan's own ns and
// cgroup fields are not used); consumes `warm`. nullptr when the middle
// cannot take the command (it is gone, or the command line does not fit its
// region): then use spawn_process(). Throws like spawn_process().
std::unique_ptr<ExecProcess> spawn_process_warm(const SpawnPlan& plan,
                                                std::unique_ptr<WarmMiddle> warm);

// True for a spawned command not yet reaped (its status belongs to its
// ExecProcess: never waitpid() it elsewhere).
bool is_spawned_child(int pid);

// The process-group id of a spawned process (its pid: it runs setsid()).
int spawned_pgid(const ExecProcess& process);

// Reaps every exited exec'd command without waiting (the status is kept for
// its ExecProcess); also the ones whose ExecProcess is gone.
void reap_orphans();

// /proc/<pid>/stat: start time (field 22) and state (field 3).
struct ProcStat {
  std::uint64_t start_time = 0;
  char state = '?';
};
std::optional<ProcStat> read_proc_stat(int pid);

// The namespace link of a process ("user:[4026531837]"), "" when it is gone.
std::string ns_link(int pid, const char* ns);

// A path field of /proc/mounts or /proc/self/mountinfo, with the \ooo
// escapes of space, tab, newline and backslash undone.
std::string unescape_mount_path(const std::string& text);

// The fields of a /proc/<pid>/mountinfo line that mount lookups use
// (escapes undone).
struct MountInfoLine {
  std::uint64_t id = 0;  // the mount id (statx's STATX_MNT_ID)
  std::string device;    // "major:minor"
  std::string root;      // the mounted path within its file system
  std::string point;     // where it is mounted
};
std::vector<MountInfoLine> read_mountinfo(const std::string& path);

// True when the absolute `path` is `dir` or below it ("/" holds every path).
bool path_under(const std::string& path, const std::string& dir);

// True when pid runs with the given start time and is not a zombie.
bool process_matches(int pid, std::uint64_t start_time);

// Opens a file inside a running box as the box sees it: `relative` (no
// leading "/") resolved beneath the root of the box's init `pid`, so no
// symlink, ".." or magic link leads out of the box; never follows a final
// symlink; O_NONBLOCK, so a FIFO or a leased file the box planted cannot
// make the caller wait. Only a regular file is returned. `flags` adds to
// that (O_RDONLY, O_WRONLY | O_TRUNC, O_CREAT with `mode`). Invalid when the
// box is gone, the pid is another process, its root is the server's own (an
// init before its pivot_root), or the file is not a regular one; errno is
// openat2's when that failed (ENOENT: no such file).
UniqueFd open_box_file(int pid, std::uint64_t start_time, const char* relative, int flags,
                       unsigned mode = 0);

// At most max_bytes of a file in a running box (open_box_file); nullopt
// when it cannot be opened as a regular file.
std::optional<std::string> read_box_file(int pid, std::uint64_t start_time, const char* relative,
                                         std::size_t max_bytes);

// Whether processes (box inits) still run, cheaply enough to ask for 1,000
// boxes in one `box list`: the first check of a process reads its
// /proc/<pid>/stat (start time and state, as process_matches) and opens a
// pidfd on it; later checks poll that pidfd (one syscall, no file), which
// turns readable once the process has exited. A process seen to have
// exited is reaped if it is our child (waitpid on a zombie, waitid
// P_PIDFD) and forgotten. Pidfds take at most half of RLIMIT_NOFILE; past
// that, or without pidfds (old kernel), every check reads /proc.
// Thread-safe.
class ProcessWatch {
 public:
  ProcessWatch() = default;
  ~ProcessWatch();
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  bool alive(int pid, std::uint64_t start_time);
  // Closes the pidfd of pid, if any (after stop).
  void forget(int pid);
  // How many processes have a pidfd (tests).
  std::size_t watched() const;

 private:
  struct Entry {
    std::uint64_t start_time = 0;
    int fd = -1;
  };
  mutable std::mutex m_mutex;
  std::map<int, Entry> m_entries;
};

// Removes a directory tree without following symlinks and without crossing
// into another file system (a mount point inside aborts with an error).
void remove_tree(const std::filesystem::path& root);

// Runs argv (argv[0] is an absolute path) and waits; returns the exit status
// (128+N for a signal) and the first few KB of stderr, or with want_output
// the whole of stdout instead (stderr then goes to /dev/null).
struct CommandResult {
  int status = 0;
  std::string error_output;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv, bool want_output = false);

// The names of this host's network links that start with prefix (/sys/class/net).
std::vector<std::string> links_with_prefix(const std::string& prefix);

// Appends a line to the box's console log (best effort).
void append_console(const std::filesystem::path& box_dir, const std::string& line);

// errno-based boxd::Error (ErrorClass::Internal).
[[noreturn]] void throw_errno(const std::string& what);

// Makes a std::vector<std::string> into a NULL-terminated char* array whose
// pointers stay valid while `strings` lives.
std::vector<char*> c_strings(std::vector<std::string>& strings);

// An fd of the boxd binary ($BOXD_SELF_EXE, else /proc/self/exe) for
// SpawnPlan::exec_fd; the caller closes it. Throws boxd::Error.
int open_self_exe();

std::unique_ptr<Runtime> make_process_runtime();
std::unique_ptr<Runtime> make_namespace_runtime(const RuntimeOptions& options);
// True when this process can create the namespaces and mount an overlay.
bool namespace_runtime_supported(std::string* why);

}  // namespace boxd::local
