// Internal to the spawn of an exec'd command: what runtime_spawn.cpp (the
// cold path) and runtime_warm.cpp (the warm middles) both use. Not part of
// the runtimes' interface (runtime_support.hpp has that). After fork() the
// child may only make async-signal-safe calls: the functions marked so
// below are the ones it may call.
#pragma once

#include "common/fd.hpp"
#include "local/runtime_support.hpp"

#include <sys/ioctl.h>
#include <sys/types.h>
#include <cstddef>
#include <memory>
#include <vector>

namespace boxd::local::spawn {

// Async-signal-safe: everything was prepared by the parent.
struct ChildArgs {
  const char* path;
  int exec_fd;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];  // fds to become 0, 1, 2
  bool tty;
  int uid;
  int gid;
  bool drop_capabilities;
  int report_fd;
};

// What the forked child reads: plain values prepared before fork().
struct ForkedArgs {
  ChildArgs command;
  const int* ns_fds;
  std::size_t ns_count;
  const int* cgroup_fds;
  std::size_t cgroup_count;
  int userns_fd;
  int pty_uid;
  int fd_socket;  // -1 unless the PTY is made in the box
  struct winsize initial_size;
  bool in_box;
  char* command_stack_top;  // nullptr: enter_box_and_clone maps one
};

// The fds of one spawn. Ours end up in the SpawnedProcess (with a PTY,
// `in` is the master, our stdin and stdout); the child's ends are closed in
// the parent once it has forked.
struct SpawnFds {
  UniqueFd in;
  UniqueFd out;
  UniqueFd err;
  std::vector<UniqueFd> child;
  int child_stdio[3] = {-1, -1, -1};  // what becomes the command's 0, 1, 2
  // A PTY in a box: the middle process hands us the master over this pair.
  UniqueFd socket_ours;
  UniqueFd socket_child;
};

// The most fds one message passes (a warm middle's go message).
constexpr std::size_t k_max_passed_fds = 6;

// Async-signal-safe: one byte with `count` fds (SCM_RIGHTS).
bool send_fds(int socket, const int* fds, std::size_t count);

// Async-signal-safe: the fds of one message (at most k_max_passed_fds); their
// count, or -1 on EOF or error.
int receive_fds(int socket, int* fds);

// The PTY's first size (80x24 where the plan says 0).
struct winsize window_size(const SpawnPlan& plan);

// Pipes, or a PTY of the host, or the socket over which the PTY of the
// box's own devpts will come (pty_in_box). Throws boxd::Error.
SpawnFds prepare_stdio(const SpawnPlan& plan, bool pty_in_box);

// Async-signal-safe, in a middle process that has joined the box's cgroups:
// enters the box's namespaces and makes the command with
// clone(CLONE_PARENT), reporting its pid.
[[noreturn]] void enter_box_and_clone(ForkedArgs& a);

// After fork(): the pid of the command once it has really started, or
// throws boxd::Error (Internal) naming the step that failed. In a box,
// reaps the middle process `child` and receives the PTY master into fds.in.
int wait_for_start(pid_t child, bool in_box, Pipe& report, SpawnFds& fds);

// The ExecProcess of a started command: registered until reaped, our fds
// nonblocking.
std::unique_ptr<ExecProcess> make_spawned(int command_pid, const SpawnPlan& plan, SpawnFds& fds);

// A middle process after SIGKILL: reaped at once, or soon by reap_orphans().
void retire_middle(int pid);

// Throws boxd::Error (Internal, k_suid_dumpable_refusal) when the plan
// changes ids (uid >= 0) while fs.suid_dumpable is 1: the change would make
// the memory the command shares with the server dumpable by the box user
// until its execve.
void refuse_id_change_if_dumpable(const SpawnPlan& plan);

// Makes this process non-dumpable, once. A middle and its command share
// the server's memory (or, warm or under ASan, a copy of it) until the
// command's execve, after the command took the box user's ids: while its
// memory is dumpable, a box process of the same uid could ptrace it in that
// window and read or write the server. execve gives the command memory of
// its own, dumpable as usual. Cores of the server are lost with it.
void make_undumpable();

}  // namespace boxd::local::spawn
