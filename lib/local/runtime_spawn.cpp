// Spawning an exec'd command, with pipes or a PTY, optionally inside a box.
//
// The server is multi-threaded (gRPC), so between fork() and execve() the
// child may only make async-signal-safe calls: no malloc, no locks, no C++.
// Everything (argv, envp, paths, fds, the PTY) is therefore prepared in the
// parent, and the child only does syscalls.
//
// Plain case (process runtime): fork(); the child becomes the command.
//
// Box case (namespace runtime): setns(CLONE_NEWPID) only affects the
// caller's future children, so one fork is not enough. The child ("middle")
// writes itself into the box's cgroups, setns()es into the box's ipc, uts, pid
// and mnt namespaces (fds opened by the parent before fork), then makes the
// command with a raw clone(CLONE_PARENT | SIGCHLD): the grandchild is born in
// the box's PID namespace but its parent is the server, so the server can
// wait for it and pidfd_open() it like any child. The middle writes the
// grandchild's host pid (clone's return value: the middle itself still lives
// in the host PID namespace) to a report pipe and exits; the server reaps it.
//
// The report pipe is close-on-exec. The command writes {stage, errno} to it
// if a step before execve fails; a successful execve closes it, so the
// parent reads until EOF and knows whether the command really started.
//
// The command always runs setsid(): it leads its own process group, so
// kill_group() reaches everything it started. With a PTY, the slave becomes
// its controlling terminal (TIOCSCTTY) and fds 0/1/2; the master (ours) is
// both stdin_fd and stdout_fd. Our fds are close-on-exec and non-blocking.
//
// Exit: waitid(P_PIDFD) on a pidfd, which cannot be fooled by pid reuse and
// doubles as exit_fd() (readable once the process has exited). The server
// must not set SIGCHLD to SIG_IGN, or the kernel would reap our children.
// Every command stays in a registry until reaped: an ExecProcess destroyed
// before its command exited kills the command's group and leaves the zombie
// to reap_orphans(), so nothing blocks; and stop() calls reap_orphans() while
// a box's init dies, because a PID namespace's init does not finish dying
// until every process of the namespace has been reaped, including our
// commands (the status is kept for their ExecProcess).
//
// The warm middles (a box's middle process forked ahead of time, already in
// its cgroups) are in runtime_warm.cpp; what both files use is in
// runtime_spawn_internal.hpp.
#include "local/runtime_spawn_internal.hpp"
#include "local/runtime_support.hpp"

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/sanitizer.hpp"
#include "common/unique_fd.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace boxd::local::spawn {
namespace {

struct Report {
  int stage = 0;  // 0 = "pid" record from the middle process, else a failed step
  int error = 0;  // errno of the failed step
  int pid = 0;
};

enum Stage : int {
  k_stage_pid = 0,
  k_stage_cgroup = 1,
  k_stage_setns = 2,
  k_stage_clone = 3,
  k_stage_setsid = 4,
  k_stage_ctty = 5,
  k_stage_dup = 6,
  k_stage_chdir = 7,
  k_stage_ids = 8,
  k_stage_exec = 9,
  k_stage_pty = 10,
};

const char* stage_name(int stage) {
  switch (stage) {
    case k_stage_cgroup:
      return "joining the box cgroup";
    case k_stage_setns:
      return "entering the box namespaces";
    case k_stage_clone:
      return "forking inside the box";
    case k_stage_setsid:
      return "setsid";
    case k_stage_ctty:
      return "setting the controlling terminal";
    case k_stage_dup:
      return "setting up stdio";
    case k_stage_chdir:
      return "changing to the working directory";
    case k_stage_ids:
      return "switching user";
    case k_stage_exec:
      return "executing the command";
    case k_stage_pty:
      return "opening a terminal inside the box";
    default:
      return "starting the command";
  }
}

void write_report(int fd, int stage, int error, int pid) {
  Report report{stage, error, pid};
  ssize_t ignored = write(fd, &report, sizeof report);
  (void)ignored;
}

[[noreturn]] void child_fail(int report_fd, int stage) {
  write_report(report_fd, stage, errno, 0);
  _exit(127);
}

// Async-signal-safe, before the ids change (it needs CAP_SETPCAP):
// no_new_privs and an empty bounding set.
bool drop_bounding_set() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    return false;
  }
  for (int cap = 0; cap < 64; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      return false;
    }
  }
  return true;
}

// Async-signal-safe, after the ids change: empty ambient, permitted,
// effective and inheritable sets (uid 0 keeps none either).
bool drop_all_capabilities() {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct header {
    _LINUX_CAPABILITY_VERSION_3, 0
  };
  struct __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &header, data) == 0;
}

[[noreturn]] void become_command(const ChildArgs& args) {
  // Default handlers first, then nothing blocked: no server handler runs
  // in the command (its middle blocks every signal before making it).
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      signal(sig, SIG_DFL);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (setsid() < 0) {
    child_fail(args.report_fd, k_stage_setsid);
  }
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = fcntl(args.stdio[i], F_DUPFD_CLOEXEC, 10);
    if (high[i] < 0) {
      child_fail(args.report_fd, k_stage_dup);
    }
  }
  if (args.tty && ioctl(high[0], TIOCSCTTY, 0) < 0) {
    child_fail(args.report_fd, k_stage_ctty);
  }
  for (int i = 0; i < 3; ++i) {
    if (dup2(high[i], i) < 0) {
      child_fail(args.report_fd, k_stage_dup);
    }
  }
  if (args.cwd[0] != '\0' && chdir(args.cwd) < 0) {
    // A missing home is not fatal: fall back to /.
    if (chdir("/") < 0) {
      child_fail(args.report_fd, k_stage_chdir);
    }
  }
  if (args.drop_capabilities && !drop_bounding_set()) {
    child_fail(args.report_fd, k_stage_ids);
  }
  if (args.uid >= 0) {
    // Raw system calls, for this task only: in a box the command shares its
    // middle's memory until execve (enter_box_and_clone), where glibc's
    // wrappers would act on the threads glibc believes that memory has.
    gid_t groups[1] = {static_cast<gid_t>(args.gid)};
    const bool switched = syscall(SYS_setgroups, 1, groups) == 0 &&
                          syscall(SYS_setgid, args.gid) == 0 && syscall(SYS_setuid, args.uid) == 0;
    // A change of ids sets the dumpable flag of the memory this task shares
    // with its middle (the server's, or a warm middle's copy of it) to
    // fs.suid_dumpable: back to 0 at once, also when a step failed.
    // spawn_process refuses to get here while that sysctl is 1
    // (refuse_id_change_if_dumpable), so the flag is never 1 meanwhile.
    syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (!switched) {
      child_fail(args.report_fd, k_stage_ids);
    }
  }
  if (args.drop_capabilities && !drop_all_capabilities()) {
    child_fail(args.report_fd, k_stage_ids);
  }
  // Nothing of the server's leaks into the command, whoever opened it.
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  if (args.exec_fd >= 0) {
    syscall(SYS_execveat, args.exec_fd, "", args.argv, args.envp, AT_EMPTY_PATH);
  } else {
    execve(args.path, args.argv, args.envp);
  }
  child_fail(args.report_fd, k_stage_exec);
}
}  // namespace

// Async-signal-safe: one byte with `count` fds (SCM_RIGHTS).
bool send_fds(int socket, const int* fds, std::size_t count) {
  char byte = 'g';
  struct iovec iov {
    &byte, 1
  };
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_passed_fds)] = {};
  struct msghdr message {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || count > k_max_passed_fds) {
    return false;
  }
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * count);
  std::memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
  return sendmsg(socket, &message, MSG_NOSIGNAL) == 1;
}

// Async-signal-safe: the fds of one message (at most k_max_passed_fds); their
// count, or -1 on EOF or error.
int receive_fds(int socket, int* fds) {
  char byte = 0;
  struct iovec iov {
    &byte, 1
  };
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_passed_fds)] = {};
  struct msghdr message {};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n = 0;
  do {
    n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  struct cmsghdr* header = n == 1 ? CMSG_FIRSTHDR(&message) : nullptr;
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) {
    return -1;
  }
  const auto count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  std::memcpy(fds, CMSG_DATA(header), count * sizeof(int));
  return static_cast<int>(count);
}

namespace {

int pidfd_open(int pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) {
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
}

ExitStatus status_from_siginfo(const siginfo_t& info) {
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exit_code = info.si_status;
  } else {
    status.signal = info.si_status;
    status.exit_code = 128 + info.si_status;
  }
  return status;
}

// The exit state of one spawned command, shared by its ExecProcess and the
// registry of unreaped children (so that stop() can reap a box's commands:
// a dying PID namespace's init waits until every process of the namespace
// has been reaped, and ours are reaped only by us).
struct ChildState {
  int pid = 0;
  int pidfd = -1;
  std::mutex mutex;
  std::optional<ExitStatus> status;

  ~ChildState() {
    if (pidfd >= 0) {
      close(pidfd);
    }
  }

  std::optional<ExitStatus> poll() {
    std::lock_guard lock(mutex);
    if (status) {
      return status;
    }
    siginfo_t info{};
    int rc = 0;
    if (pidfd >= 0) {
      rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                  WEXITED | WNOHANG);
    } else {
      rc = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
    }
    if (rc == 0 && info.si_pid != 0) {
      status = status_from_siginfo(info);
    } else if (rc < 0 && errno == ECHILD) {
      status = ExitStatus{255, 0};  // reaped elsewhere: nothing more can be known
    }
    return status;
  }
};

std::mutex g_children_mutex;
std::vector<std::shared_ptr<ChildState>> g_children;  // not yet reaped

class SpawnedProcess final : public ExecProcess {
 public:
  SpawnedProcess(std::shared_ptr<ChildState> state, int in, int out, int err, bool tty)
      : m_state(std::move(state)), m_stdin(in), m_stdout(out), m_stderr(err), m_tty(tty) {}

  ~SpawnedProcess() override {
    if (!poll_exit()) {
      kill(-m_state->pid, SIGKILL);
      kill(m_state->pid, SIGKILL);
    }
    close_fd(m_stdin);
    if (m_stdout != m_stdin) {
      close_fd(m_stdout);
    } else {
      m_stdout = -1;
    }
    close_fd(m_stderr);
    reap_orphans();  // the zombie stays registered until it is reaped
  }

  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;

  int stdin_fd() const override { return m_stdin; }
  int stdout_fd() const override { return m_stdout; }
  int stderr_fd() const override { return m_stderr; }
  int exit_fd() const override { return m_state->pidfd; }
  int pid() const { return m_state->pid; }

  void close_stdin() override {
    if (m_tty) {
      if (m_stdout < 0) {
        return;
      }
      struct termios attrs {};
      char eof = 4;  // ^D
      if (tcgetattr(m_stdout, &attrs) == 0 && attrs.c_cc[VEOF] != 0) {
        eof = static_cast<char>(attrs.c_cc[VEOF]);
      }
      ssize_t ignored = write(m_stdout, &eof, 1);
      (void)ignored;
      return;
    }
    close_fd(m_stdin);
  }

  void resize(unsigned cols, unsigned rows) override {
    if (!m_tty || m_stdout < 0) {
      return;
    }
    struct winsize size {};
    size.ws_col = static_cast<unsigned short>(cols);
    size.ws_row = static_cast<unsigned short>(rows);
    ioctl(m_stdout, TIOCSWINSZ, &size);
  }

  void kill_group(int sig) override {
    if (kill(-m_state->pid, sig) < 0 && !poll_exit()) {
      kill(m_state->pid, sig);
    }
  }

  std::optional<ExitStatus> poll_exit() override { return m_state->poll(); }

  ExitStatus wait_exit() override {
    while (true) {
      if (auto status = poll_exit()) {
        return *status;
      }
      if (m_state->pidfd >= 0) {
        struct pollfd pfd {
          m_state->pidfd, POLLIN, 0
        };
        poll(&pfd, 1, 1000);
      } else {
        usleep(10000);
      }
    }
  }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) {
      close(fd);
      fd = -1;
    }
  }

  std::shared_ptr<ChildState> m_state;
  int m_stdin;
  int m_stdout;
  int m_stderr;
  bool m_tty;
};

}  // namespace

struct winsize window_size(const SpawnPlan& plan) {
  struct winsize size {};
  size.ws_col = static_cast<unsigned short>(plan.cols == 0 ? 80 : plan.cols);
  size.ws_row = static_cast<unsigned short>(plan.rows == 0 ? 24 : plan.rows);
  return size;
}

// Pipes, or a PTY of the host (plain case), or the socket over which the
// PTY of the box's own devpts will come (so that tty(1), ttyname() and tmux
// work there).
SpawnFds prepare_stdio(const SpawnPlan& plan, bool pty_in_box) {
  SpawnFds fds;
  if (pty_in_box) {
    int pair[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
      throw_errno("socketpair");
    }
    fds.socket_ours.reset(pair[0]);
    fds.socket_child.reset(pair[1]);
  } else if (plan.tty) {
    fds.in.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!fds.in.valid()) {
      throw_errno("posix_openpt");
    }
    if (grantpt(fds.in.get()) < 0 || unlockpt(fds.in.get()) < 0) {
      throw_errno("unlockpt");
    }
    UniqueFd slave(ioctl(fds.in.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave.valid()) {
      throw_errno("opening the PTY slave");
    }
    const struct winsize size = window_size(plan);
    ioctl(fds.in.get(), TIOCSWINSZ, &size);
    fds.child_stdio[0] = fds.child_stdio[1] = fds.child_stdio[2] = slave.get();
    fds.child.push_back(std::move(slave));
  } else {
    Pipe in;
    Pipe out;
    Pipe err;
    fds.child_stdio[0] = in.read_fd();
    fds.child_stdio[1] = out.write_fd();
    fds.child_stdio[2] = err.write_fd();
    fds.in = std::move(in.write_end());
    fds.out = std::move(out.read_end());
    fds.err = std::move(err.read_end());
    fds.child.push_back(std::move(in.read_end()));
    fds.child.push_back(std::move(out.write_end()));
    fds.child.push_back(std::move(err.write_end()));
  }
  return fds;
}

namespace {

// Async-signal-safe, in the middle process after setns(): opens a PTY of
// the box's devpts, owned by the box user's host uid, sends the master to
// the server and makes the slave the command's stdio.
void open_pty_in_box(ForkedArgs& a) {
  const int report = a.command.report_fd;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  int unlock = 0;
  if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0) {
    child_fail(report, k_stage_pty);
  }
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    child_fail(report, k_stage_pty);
  }
  ioctl(master, TIOCSWINSZ, &a.initial_size);
  if (a.pty_uid >= 0 && fchown(slave, static_cast<uid_t>(a.pty_uid), static_cast<gid_t>(-1)) < 0) {
    child_fail(report, k_stage_pty);
  }
  if (!send_fds(a.fd_socket, &master, 1)) {
    child_fail(report, k_stage_pty);
  }
  close(master);
  a.command.stdio[0] = a.command.stdio[1] = a.command.stdio[2] = slave;
}

// The stack of a child that shares its parent's memory until its execve
// (it needs a few KiB; sanitizer builds need more), above a guard page.
constexpr std::size_t k_command_stack = 512 * 1024;

// AddressSanitizer cannot follow instrumented code onto a stack it did not
// make (it warns, then misreports), so the sanitizer build forks instead:
// the same steps, with a copy of the memory.
constexpr bool k_share_memory = !k_address_sanitizer;

// The top of a new stack for such a child, or nullptr.
char* map_child_stack() {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* base = mmap(nullptr, page + k_command_stack, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    return nullptr;
  }
  mprotect(base, page, PROT_NONE);
  return static_cast<char*>(base) + page + k_command_stack;
}

[[maybe_unused]] int become_command_entry(void* args) {
  become_command(*static_cast<const ChildArgs*>(args));
}

}  // namespace

// Async-signal-safe, in a middle process that has joined the box's cgroups:
// enters the box's namespaces and makes the command with
// clone(CLONE_PARENT), reporting its pid.
[[noreturn]] void enter_box_and_clone(ForkedArgs& a) {
  const int report = a.command.report_fd;
  for (std::size_t i = 0; i < a.ns_count; ++i) {
    if (a.ns_fds[i] != a.userns_fd && setns(a.ns_fds[i], 0) < 0) {
      child_fail(report, k_stage_setns);
    }
  }
  if (a.fd_socket >= 0) {
    open_pty_in_box(a);
  }
  if (a.userns_fd >= 0 && setns(a.userns_fd, CLONE_NEWUSER) < 0) {
    child_fail(report, k_stage_setns);
  }
  // The command shares this middle's memory until its execve (CLONE_VM |
  // CLONE_VFORK, as posix_spawn does; this middle waits meanwhile), on a
  // stack of its own: no copy of the page tables the middle inherited from
  // the server, which was the largest part of an exec's cost on the server
  // (tests/bench/FINDINGS.md). CLONE_PARENT: the command is the server's
  // child. A command that fails before its execve reports first; the
  // server then reads this pid record after it (wait_for_start).
  // A cold middle shares the server's memory too: its command's stack
  // comes from the server (spawn_process), as mapping one here would leave
  // it in the server; a warm middle maps its own.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  int grandchild = -1;
  if constexpr (k_share_memory) {
    char* stack = a.command_stack_top != nullptr ? a.command_stack_top : map_child_stack();
    if (stack == nullptr) {
      child_fail(report, k_stage_clone);
    }
    grandchild = clone(become_command_entry, stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD,
                       &a.command);
  } else {
    grandchild = static_cast<int>(syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (grandchild == 0) {
      become_command(a.command);
    }
  }
  if (grandchild < 0) {
    child_fail(report, k_stage_clone);
  }
  write_report(report, k_stage_pid, 0, grandchild);
  _exit(0);
}

namespace {

// Async-signal-safe: the child of fork(). Joins the box's cgroups, then
// becomes the command (plain case) or enters the box's namespaces and makes
// the command (box case).
[[noreturn]] void run_forked_child(ForkedArgs& a) {
  for (std::size_t i = 0; i < a.cgroup_count; ++i) {
    if (write(a.cgroup_fds[i], "0", 1) < 0) {
      child_fail(a.command.report_fd, k_stage_cgroup);
    }
  }
  if (!a.in_box) {
    become_command(a.command);
  }
  enter_box_and_clone(a);
}

[[maybe_unused]] int forked_child_entry(void* args) {
  run_forked_child(*static_cast<ForkedArgs*>(args));
}

// The stacks of one server thread's middle and command while they share
// its memory (spawn_process): mapped on the thread's first spawn and reused,
// as the thread waits while they run.
struct ChildStacks {
  char* middle = map_child_stack();
  char* command = map_child_stack();
};

void wait_for_pid(int pid) {
  int ignored_status = 0;
  while (waitpid(pid, &ignored_status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

// After fork(): the pid of the command once it has really started (its
// execve closed the report pipe), or throws boxd::Error (Internal) naming
// the step that failed, the command killed and reaped. In a box, reaps the
// middle process and receives the PTY master into fds.in.
int wait_for_start(pid_t child, bool in_box, Pipe& report, SpawnFds& fds) {
  int command_pid = in_box ? 0 : child;
  Report record;
  std::optional<Report> failure;
  if (in_box) {
    Report first{};
    if (read_all(report.read_fd(), &first, sizeof first) && first.stage == k_stage_pid) {
      command_pid = first.pid;
      if (fds.socket_ours.valid()) {
        int master[k_max_passed_fds];
        fds.in.reset(receive_fds(fds.socket_ours.get(), master) == 1 ? master[0] : -1);
        if (!fds.in.valid()) {
          failure = Report{k_stage_pty, EPROTO, 0};
        }
      }
    } else if (first.stage != k_stage_pid) {
      // The command (or the middle) failed. A command fails before its
      // execve, so the middle's pid record follows: read it to reap it.
      failure = first;
      Report pid_record{};
      if (read_all(report.read_fd(), &pid_record, sizeof pid_record) &&
          pid_record.stage == k_stage_pid) {
        command_pid = pid_record.pid;
      }
    }
    wait_for_pid(child);
  }
  if (!failure && command_pid > 0 && read_all(report.read_fd(), &record, sizeof record)) {
    failure = record;
  }
  if (!failure && command_pid > 0) {
    return command_pid;
  }
  if (command_pid > 0) {
    kill(command_pid, SIGKILL);
    wait_for_pid(command_pid);
  }
  std::string message = "exec failed while ";
  message += failure ? stage_name(failure->stage) : "starting the command";
  if (failure && failure->error != 0) {
    message += ": ";
    message += std::strerror(failure->error);
  }
  throw Error(ErrorClass::Internal, message);
}

// The ExecProcess of a started command: registered until reaped, our fds
// nonblocking.
std::unique_ptr<ExecProcess> make_spawned(int command_pid, const SpawnPlan& plan, SpawnFds& fds) {
  auto state = std::make_shared<ChildState>();
  state->pid = command_pid;
  state->pidfd = pidfd_open(command_pid);
  {
    std::lock_guard lock(g_children_mutex);
    g_children.push_back(state);
  }
  for (const UniqueFd* fd : {&fds.in, &fds.out, &fds.err}) {
    if (fd->valid()) {
      set_nonblocking(fd->get());
    }
  }
  const int in = fds.in.release();
  const int out = plan.tty ? in : fds.out.release();
  return std::make_unique<SpawnedProcess>(std::move(state), in, out, fds.err.release(), plan.tty);
}

// A middle process after SIGKILL (runtime_warm.cpp): reaped at once, or
// soon by reap_orphans().
void retire_middle(int pid) {
  auto state = std::make_shared<ChildState>();
  state->pid = pid;
  state->pidfd = pidfd_open(pid);
  if (state->pidfd >= 0) {
    struct pollfd pfd {
      state->pidfd, POLLIN, 0
    };
    poll(&pfd, 1, 1000);
  }
  if (!state->poll()) {
    std::lock_guard lock(g_children_mutex);
    g_children.push_back(std::move(state));
  }
}

// A command that takes the box user's ids does so while it shares the
// server's memory (or a warm middle's copy of it). With fs.suid_dumpable 1
// that memory would be dumpable, owned by the box user, from the id change
// until the command's prctl or execve: a box process of that uid could
// ptrace the command or open its /proc/<pid>/mem, which stays the server's
// memory after the command's execve. 0 and 2 keep it from the box user.
void refuse_id_change_if_dumpable(const SpawnPlan& plan) {
  if (plan.uid >= 0 && suid_dumpable() == 1) {
    throw Error(ErrorClass::Internal, k_suid_dumpable_refusal);
  }
}

void make_undumpable() {
  static const bool done = [] {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
      throw_errno("prctl(PR_SET_DUMPABLE)");
    }
    return true;
  }();
  (void)done;
}

}  // namespace boxd::local::spawn

namespace boxd::local {

int suid_dumpable() {
  const UniqueFd fd(open("/proc/sys/fs/suid_dumpable", O_RDONLY | O_CLOEXEC));
  char value[4] = {};
  if (!fd.valid() || read(fd.get(), value, sizeof value - 1) < 1) {
    return -1;
  }
  return value[0] >= '0' && value[0] <= '9' ? value[0] - '0' : -1;
}

int open_self_exe() {
  const char* override_exe = getenv("BOXD_SELF_EXE");
  const char* exe =
      override_exe != nullptr && override_exe[0] != '\0' ? override_exe : "/proc/self/exe";
  int fd = open(exe, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno("opening the boxd binary");
  }
  return fd;
}

void reap_orphans() {
  std::lock_guard lock(spawn::g_children_mutex);
  std::erase_if(spawn::g_children, [](const std::shared_ptr<spawn::ChildState>& child) {
    return child->poll().has_value();
  });
}

bool is_spawned_child(int pid) {
  std::lock_guard lock(spawn::g_children_mutex);
  return std::any_of(
      spawn::g_children.begin(), spawn::g_children.end(),
      [pid](const std::shared_ptr<spawn::ChildState>& child) { return child->pid == pid; });
}

int spawned_pgid(const ExecProcess& process) {
  const auto* spawned = dynamic_cast<const spawn::SpawnedProcess*>(&process);
  return spawned != nullptr ? spawned->pid() : 0;
}

std::unique_ptr<ExecProcess> spawn_process(const SpawnPlan& plan) {
  spawn::make_undumpable();
  spawn::refuse_id_change_if_dumpable(plan);
  reap_orphans();
  auto argv_strings = plan.argv;
  auto env_strings = plan.env;
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);
  const bool in_box = !plan.ns_fds.empty();
  spawn::SpawnFds fds = spawn::prepare_stdio(plan, plan.tty && in_box);
  Pipe report;

  spawn::ForkedArgs args{
      spawn::ChildArgs{plan.path.c_str(),
                       plan.exec_fd,
                       argv.data(),
                       envp.data(),
                       plan.cwd.c_str(),
                       {fds.child_stdio[0], fds.child_stdio[1], fds.child_stdio[2]},
                       plan.tty,
                       plan.uid,
                       plan.gid,
                       plan.drop_capabilities,
                       report.write_fd()},
      plan.ns_fds.data(),
      plan.ns_fds.size(),
      plan.cgroup_procs_fds.data(),
      plan.cgroup_procs_fds.size(),
      plan.userns_fd,
      plan.pty_uid >= 0 ? plan.pty_uid : plan.uid,
      fds.socket_child.get(),
      spawn::window_size(plan),
      in_box,
      nullptr};

  // The middle shares this thread's memory until its command's execve
  // (CLONE_VM | CLONE_VFORK, as posix_spawn does; this thread waits
  // meanwhile): no copy of the server's page tables, no copy-on-write
  // faults in the server afterwards (tests/bench/FINDINGS.md). Every
  // signal stays blocked until the command has reset its handlers.
  thread_local const spawn::ChildStacks stacks;
  if (stacks.middle == nullptr || stacks.command == nullptr) {
    throw_errno("mmap");
  }
  args.command_stack_top = stacks.command;
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t child = -1;
  if constexpr (spawn::k_share_memory) {
    child =
        clone(spawn::forked_child_entry, stacks.middle, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  } else {
    child = fork();
    if (child == 0) {
      spawn::run_forked_child(args);
    }
  }
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  fds.child.clear();
  fds.socket_child.reset();
  report.write_end().reset();
  if (child < 0) {
    errno = fork_errno;
    throw_errno("clone");
  }
  const int command_pid = spawn::wait_for_start(child, in_box, report, fds);
  return spawn::make_spawned(command_pid, plan, fds);
}

}  // namespace boxd::local
