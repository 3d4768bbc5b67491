// Warm middles (runtime_support.hpp): the middle process of a box spawn
// (see runtime_spawn.cpp), forked ahead of time and already in the box's
// cgroups, so that an exec skips the fork and the cgroup migration (slow on
// a cgroup v2 host: box_cgroup.hpp). It waits for one
// go message with the command's fds, the command's arguments laid out in
// memory shared with the server, then starts the command exactly as a cold
// middle does (enter_box_and_clone).
//
// The warm middle is forked from the multi-threaded server: like every
// child of fork() here it only makes async-signal-safe calls.
#include "local/runtime_spawn_internal.hpp"
#include "local/runtime_support.hpp"

#include "common/error.hpp"
#include "common/fd.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace boxd::local {
namespace {

using spawn::ChildArgs;
using spawn::enter_box_and_clone;
using spawn::ForkedArgs;
using spawn::k_max_passed_fds;
using spawn::make_spawned;
using spawn::prepare_stdio;
using spawn::receive_fds;
using spawn::retire_middle;
using spawn::send_fds;
using spawn::SpawnFds;
using spawn::wait_for_start;
using spawn::window_size;

constexpr std::size_t k_warm_region_bytes = 512 * 1024;
constexpr std::size_t k_warm_max_ns = 8;

enum WarmFdRole : int { k_fd_report, k_fd_stdin, k_fd_stdout, k_fd_stderr, k_fd_socket, k_fd_exec };

// The start of the memory a warm middle shares with the server (MAP_SHARED,
// at the same address in both): the namespace fds it inherited, then the
// command's ForkedArgs, written by the server before the go message, whose
// pointers point further into the region. The go message carries the fds
// the command needs; roles[i] says what the i-th one is.
struct WarmRegion {
  int ns_fds[k_warm_max_ns];
  std::size_t ns_count;
  int userns_fd;
  ForkedArgs args;
  int roles[k_max_passed_fds];
};

// What the forked warm middle reads (prepared before fork).
struct WarmChild {
  int control;
  WarmRegion* region;
  const int* cgroup_fds;
  std::size_t cgroup_count;
  const int* keep;  // sorted: control, namespaces, cgroups
  std::size_t keep_count;
  pid_t parent;
};

// Async-signal-safe: closes every fd from 3 up but the sorted `keep` ones,
// so that a middle that waits does not hold other commands' pipes open.
void close_all_but(const int* keep, std::size_t count) {
  unsigned next = 3;
  for (std::size_t i = 0; i < count; ++i) {
    const auto fd = static_cast<unsigned>(keep[i]);
    if (fd > next) {
      syscall(SYS_close_range, next, fd - 1, 0U);
    }
    next = std::max(next, fd + 1);
  }
  syscall(SYS_close_range, next, ~0U, 0U);
}

// Async-signal-safe: the child of fork_warm_middle(). Joins the box's
// cgroups (the slow part, done before anyone waits), then waits for the go
// message and starts the command as a cold middle would.
[[noreturn]] void run_warm_middle(const WarmChild& w) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != w.parent) {
    _exit(0);
  }
  close_all_but(w.keep, w.keep_count);
  for (std::size_t i = 0; i < w.cgroup_count; ++i) {
    if (write(w.cgroup_fds[i], "0", 1) < 0) {
      _exit(1);  // the exec's send fails and it starts cold, reporting why
    }
    close(w.cgroup_fds[i]);
  }
  int fds[k_max_passed_fds];
  const int count = receive_fds(w.control, fds);
  if (count <= 0) {
    _exit(0);
  }
  close(w.control);
  ForkedArgs& a = w.region->args;
  for (int i = 0; i < count; ++i) {
    switch (w.region->roles[i]) {
      case k_fd_report:
        a.command.report_fd = fds[i];
        break;
      case k_fd_stdin:
      case k_fd_stdout:
      case k_fd_stderr:
        a.command.stdio[w.region->roles[i] - k_fd_stdin] = fds[i];
        break;
      case k_fd_socket:
        a.fd_socket = fds[i];
        break;
      default:
        a.command.exec_fd = fds[i];
        break;
    }
  }
  enter_box_and_clone(a);
}

// Lays strings and pointer arrays out in a warm middle's region.
class RegionWriter {
 public:
  RegionWriter(char* begin, std::size_t size) : m_next(begin), m_end(begin + size) {}

  const char* string(const std::string& text) {
    char* at = take(text.size() + 1, 1);
    if (at != nullptr) {
      std::memcpy(at, text.c_str(), text.size() + 1);
    }
    return at;
  }

  char* const* strings(const std::vector<std::string>& list) {
    auto** array =
        reinterpret_cast<char**>(take((list.size() + 1) * sizeof(char*), alignof(char*)));
    if (array == nullptr) {
      return nullptr;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      array[i] = const_cast<char*>(string(list[i]));
    }
    array[list.size()] = nullptr;
    return array;
  }

  [[nodiscard]] bool ok() const { return m_ok; }

 private:
  char* take(std::size_t bytes, std::size_t align) {
    const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(m_next) % align;
    char* at = m_next + (misaligned == 0 ? 0 : align - misaligned);
    if (!m_ok || at > m_end || static_cast<std::size_t>(m_end - at) < bytes) {
      m_ok = false;
      return nullptr;
    }
    m_next = at + bytes;
    return at;
  }

  char* m_next;
  char* m_end;
  bool m_ok = true;
};

// The command's arguments in the region (false when they do not fit).
bool write_command(WarmRegion& region, const SpawnPlan& plan) {
  RegionWriter out(reinterpret_cast<char*>(&region) + sizeof(WarmRegion),
                   k_warm_region_bytes - sizeof(WarmRegion));
  const char* path = out.string(plan.path);
  char* const* argv = out.strings(plan.argv);
  char* const* envp = out.strings(plan.env);
  const char* cwd = out.string(plan.cwd);
  if (!out.ok()) {
    return false;
  }
  region.args = ForkedArgs{ChildArgs{path,
                                     -1,
                                     argv,
                                     envp,
                                     cwd,
                                     {-1, -1, -1},
                                     plan.tty,
                                     plan.uid,
                                     plan.gid,
                                     plan.drop_capabilities,
                                     -1},
                           region.ns_fds,
                           region.ns_count,
                           nullptr,
                           0,
                           region.userns_fd,
                           plan.pty_uid >= 0 ? plan.pty_uid : plan.uid,
                           -1,
                           window_size(plan),
                           true,
                           nullptr};  // the middle maps its command's stack
  return true;
}

}  // namespace

WarmMiddle::WarmMiddle(int pid, int control, void* region)
    : m_pid(pid), m_control(control), m_region(region) {}

WarmMiddle::~WarmMiddle() {
  if (m_control >= 0) {
    close(m_control);
  }
  if (m_pid > 0) {
    kill(m_pid, SIGKILL);
    retire_middle(m_pid);
  }
  munmap(m_region, k_warm_region_bytes);
}

std::unique_ptr<WarmMiddle> fork_warm_middle(const SpawnPlan& box) {
  spawn::make_undumpable();
  if (box.ns_fds.size() > k_warm_max_ns) {
    throw Error(ErrorClass::Internal, "too many namespaces for a warm middle");
  }
  void* memory =
      mmap(nullptr, k_warm_region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw_errno("mmap");
  }
  auto* region = new (memory) WarmRegion{};
  std::copy(box.ns_fds.begin(), box.ns_fds.end(), region->ns_fds);
  region->ns_count = box.ns_fds.size();
  region->userns_fd = box.userns_fd;
  int pair[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    munmap(memory, k_warm_region_bytes);
    throw_errno("socketpair");
  }
  std::vector<int> keep = box.ns_fds;
  keep.insert(keep.end(), box.cgroup_procs_fds.begin(), box.cgroup_procs_fds.end());
  keep.push_back(pair[1]);
  std::sort(keep.begin(), keep.end());
  const WarmChild child{
      pair[1],     region,  box.cgroup_procs_fds.data(), box.cgroup_procs_fds.size(), keep.data(),
      keep.size(), getpid()};
  const pid_t pid = fork();
  if (pid == 0) {
    run_warm_middle(child);
  }
  const int fork_errno = errno;
  close(pair[1]);
  if (pid < 0) {
    close(pair[0]);
    munmap(memory, k_warm_region_bytes);
    errno = fork_errno;
    throw_errno("fork");
  }
  return std::make_unique<WarmMiddle>(pid, pair[0], memory);
}

std::unique_ptr<ExecProcess> spawn_process_warm(const SpawnPlan& plan,
                                                std::unique_ptr<WarmMiddle> warm) {
  spawn::refuse_id_change_if_dumpable(plan);
  reap_orphans();
  auto& region = *static_cast<WarmRegion*>(warm->m_region);
  if (!write_command(region, plan)) {
    return nullptr;
  }
  SpawnFds fds = prepare_stdio(plan, plan.tty);
  Pipe report;
  int pass[k_max_passed_fds];
  std::size_t count = 0;
  auto add = [&](int fd, WarmFdRole role) {
    if (fd >= 0) {
      region.roles[count] = role;
      pass[count++] = fd;
    }
  };
  add(report.write_fd(), k_fd_report);
  add(fds.child_stdio[0], k_fd_stdin);
  add(fds.child_stdio[1], k_fd_stdout);
  add(fds.child_stdio[2], k_fd_stderr);
  add(fds.socket_child.get(), k_fd_socket);
  add(plan.exec_fd, k_fd_exec);
  if (!send_fds(warm->m_control, pass, count)) {
    return nullptr;
  }
  fds.child.clear();
  fds.socket_child.reset();
  report.write_end().reset();
  const int middle = std::exchange(warm->m_pid, 0);
  const int command_pid = wait_for_start(middle, true, report, fds);
  return make_spawned(command_pid, plan, fds);
}

}  // namespace boxd::local
